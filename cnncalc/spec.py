"""The spec language: read a YAML spec and expand its blocks and repeats into layers.

Stage one of the pipeline (spec -> graph -> rules -> report). The output is a
:class:`Spec` whose ``layers`` are :class:`LayerDecl` in source order, each with its
full hierarchical name (``layer1.0.conv1``), its inputs resolved to full names, its
keys with block arguments and params substituted, and the file and line it came from.

What a layer's keys mean is the rules' business; this module only knows the words of the
language itself: name, type, from, if, repeat, first, train_only, and the top-level
``blocks`` and ``params`` sections.

Reading is two steps: :func:`read` checks the document into a :class:`Template` (top-level
keys, blocks, params), and :meth:`Template.expand` turns it into layers for one setting of the
params (``--set width=1.2``) and one input. A Spec keeps its template, so the same document can
be expanded again at another input or setting.

Names. A ``from:`` word is looked up where it is written, by :meth:`_Expander.resolve_layer`
(the one place that turns a word into a layer): a layer of the same list (block-local names),
then a dotted name below one of them (``layer1.0.conv1``, ``enc4.conv2``: the names the report
prints), then a block argument. A word a *caller* passes as an argument (``skip: enc4``) is
resolved in the caller's scope at the use, so it means the caller's ``enc4`` even when the block
has its own layer called ``enc4``; a word written as an argument's *default* names a layer of the
block itself (``skip: input``).

Shapes at expansion time. Inside a block, ``in_channels``, ``in_size`` and ``in_shape`` read the
shape of the block's input. The expander does not know any rule: the caller passes a shape
function ``shapes(decl, in_shapes) -> shape`` (report.analyze passes one built on rules.apply),
and the expander calls it on demand, in order, for the layers expanded so far (each layer at most
once). Only blocks whose text mentions one of those names ask for a shape, so a spec that does
not use them costs nothing more; data still flows one way (spec -> graph -> rules).
"""

import re
import unicodedata

from .errors import SpecError, UsageError, did_you_mean, one_line
from .expr import MAX_EXPRESSION_LENGTH, MAX_MAGNITUDE, ExpressionError, Undefined, evaluate, names_in
from .loader import Located, load_yaml, read_text

MAX_LAYERS = 100_000  # 250,000 let a 3 KB spec take 1.4 GB to report; the largest real CNNs have a few thousand
MAX_REPEAT = 10_000
MAX_BLOCK_DEPTH = 16
# Params are copied into every block use's variables, so their number is bounded too.
MAX_PARAMS = 1_000
# Largest size (channels, height, width, units, kernel...) a spec may write; int32's maximum.
MAX_SIZE = 2**31 - 1

# Besides these, any top-level key starting with "x-" is accepted and ignored (a place for anchors),
# as is `defaults`.
TOP_LEVEL_KEYS = ("name", "source", "description", "input", "layers", "blocks", "params", "defaults")
IGNORED_TOP_LEVEL_PREFIX = "x-"
BLOCK_KEYS = ("args", "layers", "output", "description")
LAYER_WORDS = ("name", "type", "from", "if", "repeat", "first", "train_only", "frozen")
# a document that has neither is not a spec at all, and nothing of it is quoted in errors
SPEC_MARKERS = ("input", "layers")
# What a name (layer, network) may hold: printable characters (str.isprintable: no control characters,
# newlines, format characters such as U+202E or zero-width spaces, no separators but the plain space),
# at most MAX_NAME_CHARS; a layer's dotted name after expansion at most MAX_FULL_NAME_CHARS; `source`
# text the same characters, at most MAX_SOURCE_CHARS. Whatever else a name holds (`|`, `<`, `=`, `$`)
# is escaped by each output format.
MAX_NAME_CHARS = 100
MAX_FULL_NAME_CHARS = 200
MAX_SOURCE_CHARS = 1000
# true/false words that a block use passes on to every layer inside it
INHERITED_WORDS = ("train_only", "frozen")
NETWORK_INPUT = "input"
# Layer keys that name another layer, resolved like `from` (earlier layers, the same scope) to full names;
# the rule gets that layer's output shape, which is not an input (no memory, no receptive field).
REFERENCE_KEYS = ("like",)
# Read-only names inside a block: the shape of the block's input.
SHAPE_NAMES = ("in_channels", "in_size", "in_shape")
_MENTIONS_SHAPE = re.compile(r"\bin_(channels|size|shape)\b")
# a reference to a layer below another: enc4.conv2, layer1.0.conv1 (never an expression)
_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.\w+)+$")
_TRUTH_WORDS = {"true": True, "True": True, "false": False, "False": False}
_TOP_LEVEL_SHAPES = {name: Undefined("is only defined inside a block (it reads the shape of the block's input)")
                     for name in SHAPE_NAMES}


class LayerDecl:
    """One layer of the expanded network, before any rule has looked at it."""

    __slots__ = ("name", "type", "keys", "inputs", "file", "line", "key_lines", "block", "train_only", "frozen")

    def __init__(self, name, type, keys, inputs, file, line, key_lines, block, train_only=False, frozen=False):
        self.name = name
        self.type = type
        self.keys = keys
        self.inputs = inputs
        self.file = file
        self.line = line
        self.key_lines = key_lines
        self.block = block
        # part of a branch that runs only in training (GoogLeNet's auxiliary classifiers)
        self.train_only = train_only
        # its params are not trained (frozen: true): counted apart as non-trainable
        self.frozen = frozen

    def error(self, message, key=None):
        """A SpecError located at this layer (and at ``key``'s line when known)."""
        line = self.key_lines.get(key, self.line) if key else self.line
        return SpecError(message, file=self.file, line=line, layer=self.name, key=key)


class Spec:
    """A parsed, expanded spec: ready to become a graph.

    ``input`` is the spec's own input; ``params`` the value of every param in this expansion and
    ``overrides`` the ones given (``--set``); ``reads_shapes`` whether a block read its input's shape,
    so that another input needs another expansion (:meth:`expanded`).
    """

    def __init__(self, name, input, layers, file=None, source=None, blocks=(), params=None, overrides=None,
                 template=None, reads_shapes=False, expanded_input=None):
        self.name = name
        self.input = tuple(input)
        self.layers = layers
        self.file = file
        self.source = source
        self.blocks = tuple(blocks)
        self.params = dict(params or {})
        self.overrides = dict(overrides or {})
        self.template = template
        self.reads_shapes = reads_shapes
        self.expanded_input = self.input if expanded_input is None else tuple(expanded_input)

    def expanded(self, input=None, params=None, shapes=None):
        """The same document expanded again: at ``input``, with ``params`` over this spec's overrides."""
        if self.template is None:
            if params:
                raise UsageError(f"{self.name} was built without its document; params cannot be set")
            return self
        settings = {**self.overrides, **(params or {})}
        return self.template.expand(settings, self.expanded_input if input is None else input, shapes)


def load(path_or_name, params=None, input=None, shapes=None, onnx_input=None):
    """Load a spec from a file path or a built-in model name (see :meth:`Template.expand` for the rest).

    An .onnx file is read as its layers; ``onnx_input`` is a function from the model's own input
    (C, H, W; None where dynamic) to the input to read it at.
    """
    from . import builtins

    path = builtins.resolve(path_or_name)
    if str(path).lower().endswith(".onnx"):
        from .onnx_reader import load as load_onnx

        if params:
            raise SpecError(f"an ONNX model has no params to set (given: {', '.join(map(str, params))})", file=path)
        return load_onnx(path, input=onnx_input)
    return parse_text(read_text(path), file=builtins.display_name(path), params=params, input=input, shapes=shapes)


def parse_text(text, file=None, params=None, input=None, shapes=None):
    return parse(load_yaml(text, file, markers=SPEC_MARKERS), file, params=params, input=input, shapes=shapes)


def parse(document, file=None, params=None, input=None, shapes=None):
    """Check a spec document (already read from YAML, or a plain dict) and expand it."""
    return read(document, file).expand(params, input, shapes)


def read(document, file=None):
    """Check a spec document's top level, blocks and params, without expanding anything."""
    document = _located(document)
    if document is None:
        raise SpecError("the spec is empty", file=file)
    if not isinstance(document, dict):
        raise SpecError(f"a spec must be a mapping with 'input' and 'layers', not a {_kind(document)}", file=file,
                        line=getattr(document, "line", 1))
    if not any(key in document for key in SPEC_MARKERS):
        # some other YAML file (a config, /proc/self/status): its keys are not quoted back
        raise SpecError("not a cnncalc spec (a YAML mapping without 'input' or 'layers'; nothing of it is shown)",
                        file=file)
    line_of = document.line_of
    for key in document:
        if key not in TOP_LEVEL_KEYS and not (isinstance(key, str) and key.startswith(IGNORED_TOP_LEVEL_PREFIX)):
            raise SpecError(f"unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS)} (keys starting "
                            f"with '{IGNORED_TOP_LEVEL_PREFIX}' are ignored)", file=file, line=line_of(key))
    for key in ("input", "layers"):
        if key not in document:
            raise SpecError(f"the spec has no '{key}'", file=file, line=getattr(document, "line", None))
    name = document.get("name", None)
    if name is None:
        name = _stem(file) if file else "network"
    if not isinstance(name, (str, int, float)) or isinstance(name, bool):
        raise SpecError("'name' must be text", file=file, line=line_of("name"))
    if document.get("name") is not None:
        check_text(str(name), "name", MAX_NAME_CHARS, file, line_of("name"))
    else:
        name = one_line(name)[:MAX_NAME_CHARS]  # from the file name, which the spec does not choose
    if document.get("source") is not None:
        check_text(str(document["source"]), "source", MAX_SOURCE_CHARS, file, line_of("source"))
    blocks = _read_blocks(document.get("blocks"), file, line_of("blocks"))
    params = _read_params(document.get("params"), file, line_of("params"))
    return Template(document, file, str(name), blocks, params)


def check_text(text, what, limit, file=None, line=None, layer=None):
    """The name policy (see MAX_NAME_CHARS): a SpecError unless ``text`` is printable and short enough."""
    if len(text) > limit:
        raise SpecError(f"'{what}' is {len(text):,} characters long; the limit is {limit:,}", file=file, line=line,
                        layer=layer)
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        kind = ("a line break" if bad in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" else
                "a control character" if ord(bad) < 32 or 127 <= ord(bad) < 160 else
                "an invisible or direction-changing character" if unicodedata.category(bad) == "Cf" else
                "a character that does not print")
        raise SpecError(f"'{what}' holds {kind} (U+{ord(bad):04X}); a {what} may hold only printable characters",
                        file=file, line=line, layer=layer)


class Template:
    """A checked spec document, not yet expanded: its blocks, its params and their defaults."""

    def __init__(self, document, file, name, blocks, params):
        self.document = document
        self.file = file
        self.name = name
        self.blocks = blocks
        self.params = params  # name -> default as written (Located mapping)
        source = document.get("source")
        self.source = None if source is None else str(source)

    def settings(self, overrides=None):
        """Every param's value: the defaults, with ``overrides`` (name -> value) in their place."""
        overrides = dict(overrides or {})
        for name, value in overrides.items():
            if name not in self.params:
                known = f"its params: {', '.join(self.params)}" if self.params else "it has no 'params:' section"
                raise UsageError(f"{self.name} has no param '{name}'{did_you_mean(name, self.params)} ({known})")
            problem = _setting_problem(value)
            if problem:
                raise UsageError(f"param {name}: {problem}")
        raw = {**self.params, **overrides}
        line_of = self.params.line_of if isinstance(self.params, Located) else (lambda key: None)
        order = _dependency_order(raw, lambda n: _references(raw[n], raw), "params", self.file, line_of)
        expander = _Expander(self.file, self.blocks, {})
        values = {}
        for name in order:
            values[name] = expander.value(raw[name], values, self.params, name, "params")
        return values

    def input_shape(self, values):
        """The spec's ``input``, whose sizes may be expressions over the params (``[3, res, res]``)."""
        raw, line = self.document["input"], self.document.line_of("input")
        if isinstance(raw, list) and values:
            expander = _Expander(self.file, self.blocks, {})
            raw = [_whole_or_same(expander.value(v, values, self.document, "input", None)) for v in raw]
        return parse_input(raw, file=self.file, line=line)

    def expand(self, params=None, input=None, shapes=None):
        """The layers for ``params`` (name -> value over the defaults) at ``input`` (default: the spec's).

        ``shapes(decl, in_shapes) -> shape`` is needed only when a block reads ``in_channels``,
        ``in_size`` or ``in_shape``.
        """
        values = self.settings(params)
        spec_input = self.input_shape(values)
        input_shape = spec_input if input is None else tuple(input)
        layers, line = self.document["layers"], self.document.line_of("layers")
        _refuse_certain_bombs(layers, self.blocks, set(values), self.file)
        expander = _Expander(self.file, self.blocks, values, input_shape, shapes)
        expander.expand_list(layers, prefix="", scope={NETWORK_INPUT: NETWORK_INPUT},
                             variables={**values, **_TOP_LEVEL_SHAPES}, line=line, stack=())
        if not expander.layers:
            raise SpecError("the spec has no layers", file=self.file, line=line)
        return Spec(self.name, spec_input, expander.layers, file=self.file, source=self.source, blocks=self.blocks,
                    params=values, overrides=params, template=self, reads_shapes=expander.reads_shapes,
                    expanded_input=input_shape)


def _read_params(section, file, line):
    """The ``params:`` mapping: name -> a number, true/false, a word or an expression over other params."""
    if section is None:
        return Located()
    if not isinstance(section, dict):
        raise SpecError("'params' must be a mapping of name to value (params: {width: 1.0, depth: 1.0})",
                        file=file, line=line)
    if len(section) > MAX_PARAMS:
        raise SpecError(f"'params' has {len(section):,} names; the limit is {MAX_PARAMS:,}", file=file, line=line)
    for name, value in section.items():
        where = section.line_of(name)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"params: {name!r} must be a name (letters, digits and _)", file=file, line=where)
        if name in LAYER_WORDS or name in SHAPE_NAMES:
            raise SpecError(f"params: '{name}' is a reserved word", file=file, line=where)
        problem = _setting_problem(value)
        if problem:
            raise SpecError(f"params: {name}: {problem}", file=file, line=where)
    return section


def _setting_problem(value):
    """Why ``value`` cannot be a param's value (None when it can): bounded like an expression."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if abs(value) <= MAX_MAGNITUDE else f"{value!r:.40} is outside +-10^15 (or not a number)"
    if isinstance(value, str):
        return None if len(value) <= MAX_EXPRESSION_LENGTH else \
            f"longer than {MAX_EXPRESSION_LENGTH} characters"
    return f"must be a number, true/false, a word or an expression, not {_kind(value)}"


def parse_settings(items, where="--set"):
    """``["width=1.2", "act=relu"]`` as ``{"width": 1.2, "act": "relu"}``; each value read as a YAML scalar."""
    settings = {}
    for item in items:
        name, equals, text = str(item).partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise UsageError(f"{where} takes NAME=VALUE (like width=1.2), not '{item}'")
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise UsageError(f"{where} {name}: the value is longer than {MAX_EXPRESSION_LENGTH} characters")
        try:
            value = load_yaml(text) if text.strip() else None
        except SpecError as err:
            raise UsageError(f"{where} {name}: cannot read '{text}' ({err.message})") from None
        problem = "needs a value" if value is None else _setting_problem(value)
        if problem:
            raise UsageError(f"{where} {name}: {problem}")
        settings[name] = value
    return settings


def _dependency_order(raw, references, what, file, line_of):
    """The names of ``raw`` ordered so that each comes after the names its value reads.

    Iterative depth-first search; a cycle (``a: b * 2, b: a``) is one error naming it.
    """
    order, done = [], set()
    for root in raw:
        if root in done:
            continue
        path, on_path = [root], {root}
        stack = [iter(sorted(references(root)))]
        while stack:
            for ref in stack[-1]:
                if ref in done:
                    continue
                if ref in on_path:
                    cycle = " -> ".join(path[path.index(ref):] + [ref])
                    raise SpecError(f"{what}: the values of {cycle} refer to each other in a cycle",
                                    file=file, line=line_of(ref))
                path.append(ref)
                on_path.add(ref)
                stack.append(iter(sorted(references(ref))))
                break
            else:
                stack.pop()
                name = path.pop()
                on_path.discard(name)
                done.add(name)
                order.append(name)
    return order


def _references(raw, names):
    """The names among ``names`` that a written value reads (a bare word, or an expression's names)."""
    if isinstance(raw, str):
        if raw in names:
            return {raw}
        if raw.isidentifier() or _DOTTED_NAME.match(raw):
            return set()
        return names_in(raw) & set(names)
    if isinstance(raw, list):
        return set().union(*(_references(v, names) for v in raw))
    if isinstance(raw, dict):
        return set().union(*(_references(v, names) for v in raw.values()))
    return set()


def _mentions_shape(value):
    """Whether any text inside ``value`` reads in_channels / in_size / in_shape."""
    if isinstance(value, str):
        return bool(_MENTIONS_SHAPE.search(value))
    if isinstance(value, list):
        return any(_mentions_shape(v) for v in value)
    if isinstance(value, dict):
        return any(_mentions_shape(v) for v in value.values())
    return False


def _whole_or_same(value):
    """A whole float (``224.0``) as an int; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class LayerWord(str):
    """A word a caller passed as a block argument (``skip: enc4``), with the layer it names where written.

    ``target`` is that layer's full name, or None when the word names no layer there (then it is just a
    word, such as ``relu``, and using it in ``from:`` is an error naming ``line``).
    """

    __slots__ = ("target", "line", "caller")

    def __new__(cls, word, target, line, caller):
        self = super().__new__(cls, word)
        self.target = target
        self.line = line
        self.caller = caller  # (scope, prefix) where it was given, for suggestions
        return self

    def __reduce__(self):
        return str, (str(self),)  # copied or pickled, it is the plain word


def _refuse_certain_bombs(items, blocks, param_names, file):
    """Fail at once when the layers surely expand past MAX_LAYERS (blocks of blocks of blocks...).

    Counts a lower bound without expanding anything, so the answer costs one pass over the text.
    """
    if not isinstance(items, list):
        return  # the expander says what is wrong with it
    total = 0
    memo = {}
    for item in items:
        total += _least_layers([item], blocks, param_names, memo, ())
        if total > MAX_LAYERS:
            raise SpecError(f"the network expands to more than {MAX_LAYERS:,} layers (counted before expanding "
                            f"its blocks and repeats)", file=file, line=getattr(item, "line", None))


def _least_layers(items, blocks, args, memo, stack):
    """A lower bound on how many layers ``items`` expand to (capped just above MAX_LAYERS).

    Layers under `if`, and types given by a block argument or a param, may vanish: they count 0; a repeat
    that is an expression (or invalid) counts once.
    """
    total = 0
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or "if" in item:
            continue
        repeat = item.get("repeat", 1)
        if not _is_int(repeat) or not 1 <= repeat <= MAX_REPEAT:
            repeat = 1
        kind = item.get("type")
        if not isinstance(kind, str) or kind in args:
            each = 0
        elif kind not in blocks:
            each = 1
        elif kind in stack or len(stack) >= MAX_BLOCK_DEPTH:
            each = 0  # the expander reports the recursion or the depth
        else:
            if kind not in memo:
                block = blocks[kind]
                memo[kind] = _least_layers(block.layers, blocks, set(block.args) | set(args), memo, stack + (kind,))
            each = memo[kind]
        total = min(total + repeat * each, MAX_LAYERS + 1)
    return total


def parse_input(value, file=None, line=None):
    """``[C, H, W]``, ``[C, L]``, ``[C, D, H, W]`` (or ``[N]`` for a flat input) as a tuple of positive ints."""
    if isinstance(value, (list, tuple)) and 1 <= len(value) <= 4:
        if all(_is_int(v) and v >= 1 for v in value):
            if max(value) > MAX_SIZE:
                raise SpecError(f"'input' sizes must be at most {MAX_SIZE:,}, not {max(value):,}", file=file, line=line)
            return tuple(value)
    raise SpecError(f"'input' must be [C, H, W] of positive whole numbers ([C, L] for 1-D, [C, D, H, W] for 3-D, "
                    f"[N] for a flat input), "
                    f"not {value!r}", file=file, line=line)


def _located(value):
    """Plain dicts (an inline spec written in Python) as Located mappings without line numbers."""
    if isinstance(value, Located):
        return value  # read from YAML: every mapping inside is Located already
    if isinstance(value, dict):
        return Located({key: _located(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_located(item) for item in value]
    return value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value):
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean"}.get(type(value), "value")


def _stem(file):
    import os

    return os.path.splitext(os.path.basename(str(file)))[0]


class _Block:
    def __init__(self, name, args, layers, output, line, defaults_order, reads_shapes):
        self.name = name
        self.args = args
        self.layers = layers
        self.output = output
        self.line = line
        self.defaults_order = defaults_order  # arguments in an order where each default comes after those it reads
        self.reads_shapes = reads_shapes  # its text mentions in_channels / in_size / in_shape


def _read_blocks(section, file, line):
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise SpecError("'blocks' must be a mapping of block name to definition", file=file, line=line)
    blocks = {}
    for name, body in section.items():
        where = section.line_of(name) if isinstance(section, Located) else line
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"block name {name!r} must be letters, digits and _", file=file, line=where)
        if not isinstance(body, dict):
            raise SpecError(f"block '{name}' must be a mapping with 'layers' (and 'args')", file=file, line=where)
        for key in body:
            if key not in BLOCK_KEYS:
                raise SpecError(f"block '{name}': unknown key '{key}'{did_you_mean(key, BLOCK_KEYS)}",
                                file=file, line=body.line_of(key))
        if "layers" not in body:
            raise SpecError(f"block '{name}' has no 'layers'", file=file, line=where)
        args = body.get("args") or {}
        if not isinstance(args, dict):
            raise SpecError(f"block '{name}': 'args' must be a mapping of argument to default "
                            f"(~ for a required argument)", file=file, line=body.line_of("args"))
        for arg in args:
            if not isinstance(arg, str) or not arg.isidentifier():
                raise SpecError(f"block '{name}': argument name {arg!r} must be an identifier",
                                file=file, line=args.line_of(arg))
            if arg in LAYER_WORDS or arg in SHAPE_NAMES:
                raise SpecError(f"block '{name}': '{arg}' is a reserved word and cannot be an argument",
                                file=file, line=args.line_of(arg))
        output = body.get("output")
        if output is not None and not isinstance(output, str):
            raise SpecError(f"block '{name}': 'output' must name one of its layers", file=file,
                            line=body.line_of("output"))
        # a default may read a param of its own name (`args: {width: width}`): not a cycle
        order = _dependency_order(args, lambda arg: _references(args[arg], args) - {arg}, f"block '{name}': args",
                                  file, args.line_of if isinstance(args, Located) else (lambda key: where))
        reads_shapes = _mentions_shape(body["layers"]) or _mentions_shape(list(args.values()))
        blocks[name] = _Block(name, args, body["layers"], output, where, order, reads_shapes)
    return blocks


class _Reference:
    """A reference key's value once resolved: a full layer name, not to be read as an expression."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class _Expander:
    """Turns nested block uses and repeats into a flat list of LayerDecl."""

    def __init__(self, file, blocks, params, input_shape=None, shapes=None):
        self.file = file
        self.blocks = blocks
        self.params = params
        self.layers = []
        self.names = {}  # full name of each layer -> its line, for duplicates and dotted references
        self.aliases = {}  # full name of a block use, repeat copy or switched-off layer -> the layer it stands for
        # train_only / frozen in force for what is being expanded (set here or on an enclosing block use)
        self.inherited = dict.fromkeys(INHERITED_WORDS, False)
        self.infer = shapes
        self.shapes = {NETWORK_INPUT: input_shape}  # computed on demand, in order (see shape_of)
        self.shaped = 0
        self.reads_shapes = False

    def fail(self, message, line, layer=None):
        return SpecError(message, file=self.file, line=line, layer=layer)

    def expand_list(self, items, prefix, scope, variables, line, stack):
        """Expand a list of layer items; return the full name of the last output."""
        if not isinstance(items, list):
            where = f"block '{stack[-1]}'" if stack else "the spec"
            raise self.fail(f"'layers' of {where} must be a list of layers", line)
        previous = scope[NETWORK_INPUT]
        declared = {}
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                declared.setdefault(item["name"], getattr(item, "line", line))
        counters = {}
        for position, item in enumerate(items, 1):
            if not isinstance(item, Located):
                item_lines = getattr(items, "item_lines", None)
                raise self.fail(f"layer {position} must be a mapping like {{type: conv, filters: 64, kernel: 3}}, "
                                f"not {_kind(item)}", item_lines[position - 1] if item_lines else line)
            previous = self.expand_item(item, prefix, scope, variables, previous, declared, counters, stack)
        return previous

    def expand_item(self, item, prefix, scope, variables, previous, declared, counters, stack):
        line = item.line
        if "type" not in item:
            raise self.fail("layer has no 'type'", line, layer=item.get("name"))
        type_name = item["type"]
        if isinstance(type_name, str) and type_name in variables and isinstance(variables[type_name], str):
            type_name = str(variables[type_name])
        if not isinstance(type_name, str) or not type_name:
            raise self.fail(f"'type' must be a layer type or block name, not {type_name!r}", item.line_of("type"))
        local = item.get("name")
        if local is None:
            local = self.default_name(type_name, scope, counters, declared)
        elif not isinstance(local, (str, int)) or isinstance(local, bool) or local == "":
            raise self.fail(f"'name' must be text, not {local!r}", item.line_of("name"))
        local = str(local)
        if "name" in item:
            check_text(local, "name", MAX_NAME_CHARS, self.file, item.line_of("name"))
        if local == NETWORK_INPUT:
            raise self.fail(f"'{NETWORK_INPUT}' is reserved for the network input; choose another name",
                            item.line_of("name"))
        full = f"{prefix}.{local}" if prefix else local

        inputs = self.resolve_from(item, scope, prefix, variables, previous, declared, full)
        if "if" in item and not self.condition(item, variables, full):
            # A layer switched off by `if` passes its input through, so references to it still work.
            scope[local] = self.aliases[full] = inputs[0]
            return inputs[0]

        repeat = None
        if "repeat" in item:
            repeat = _whole_or_same(self.value(item["repeat"], variables, item, "repeat", full))
            if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_REPEAT:
                raise self.fail(f"'repeat' must be a whole number from 1 to {MAX_REPEAT:,}, not {repeat!r}",
                                item.line_of("repeat"), full)
        first = item.get("first")
        if first is not None and (not isinstance(first, dict) or repeat is None):
            raise self.fail("'first' must be a mapping of keys that differ in the first repeat, and needs 'repeat'",
                            item.line_of("first"), full)

        keys = {k: v for k, v in item.items() if k not in LAYER_WORDS}
        block = self.blocks.get(type_name)
        output = None
        outer = dict(self.inherited)
        for word in INHERITED_WORDS:
            if word in item:
                flag = self.value(item[word], variables, item, word, full)
                if not isinstance(flag, bool):
                    raise self.fail(f"'{word}' must be true or false, not {flag!r}", item.line_of(word), full)
                self.inherited[word] = outer[word] or flag
        for index in range(repeat or 1):
            instance = keys if index or first is None else {**keys, **first}
            name = f"{full}.{index}" if repeat is not None else full
            source = inputs if index == 0 else [output]
            if block is not None:
                caller = (scope, prefix)
                output = self.expand_block(block, instance, item, name, source, variables, stack, caller)
                if name != output:
                    self.aliases[name] = output
            else:
                instance = self.resolve_references(instance, item, scope, prefix, variables, declared, name)
                output = self.add_layer(type_name, instance, item, name, source, variables, stack)
            if index == 0:
                after_first = len(self.layers)
            elif index == 1:
                self.check_projected_size(repeat, len(self.layers) - after_first, item, full)
        self.inherited = outer
        scope[local] = output
        if full != output:
            self.aliases[full] = output
        return output

    def check_projected_size(self, repeat, per_repeat, item, full):
        """Refuse a repeat whose later copies would pass MAX_LAYERS, before expanding them.

        Every repeat after the first has the same keys, so it expands to as many layers as the
        second did; nested repeats are caught at the innermost multiplication that overflows.
        """
        projected = len(self.layers) + (repeat - 2) * per_repeat
        if projected > MAX_LAYERS:
            raise self.fail(f"the network expands to more than {MAX_LAYERS:,} layers ({repeat:,} repeats of "
                            f"{per_repeat:,} layers here)", item.line_of("repeat"), full)

    def default_name(self, type_name, scope, counters, declared):
        while True:
            counters[type_name] = counters.get(type_name, 0) + 1
            candidate = f"{type_name}{counters[type_name]}"
            if candidate not in scope and candidate not in declared:
                return candidate

    def resolve_layer(self, word, scope, prefix, variables):
        """The full name of the layer that ``word`` names where it is written, or None.

        The one place a word becomes a layer (``from:``, block arguments): a layer of this list; a
        dotted name below one (``enc4.conv2``, ``layer1.0.conv1``); a block argument a caller passed
        (resolved in the caller's scope at the use); an argument's default word (a layer of this list).
        """
        found = scope.get(word)
        if found is not None:
            return found
        if "." in word:
            full = f"{prefix}.{word}" if prefix else word
            return full if full in self.names else self.aliases.get(full)
        value = variables.get(word)
        if isinstance(value, LayerWord):
            return value.target
        if isinstance(value, str) and value != word:
            return self.resolve_layer(value, scope, prefix, {})
        return None

    def resolve_from(self, item, scope, prefix, variables, previous, declared, full):
        if "from" not in item:
            return [previous]
        sources = item["from"]
        line = item.line_of("from")
        if not isinstance(sources, list):
            sources = [sources]
        if not sources:
            raise self.fail("'from' is an empty list", line, full)
        return [self.resolve_source(source, "from", scope, prefix, variables, declared, line, full)
                for source in sources]

    def resolve_source(self, source, key, scope, prefix, variables, declared, line, full):
        """The full name of the layer that ``source``, written in ``key`` (from, like), names; an error if none."""
        if not isinstance(source, (str, int)) or isinstance(source, bool):
            raise self.fail(f"'{key}' must name layers, not {source!r}", line, full)
        source = str(source)
        target = scope.get(source)  # the common case, kept fast for specs of 100k layers
        if target is None:
            target = self.resolve_layer(source, scope, prefix, variables)
            if target is None:
                raise self.fail(self.unknown_layer(source, scope, prefix, variables, declared, key), line, full)
        elif variables and isinstance(variables.get(source), LayerWord):
            raise self.fail(f"'{key}' names '{source}', which is both a layer here and an argument; rename one",
                            line, full)
        return target

    def resolve_references(self, keys, item, scope, prefix, variables, declared, full):
        """``keys`` with each reference key (REFERENCE_KEYS) resolved, as ``from`` is, to the full name of the
        layer it names."""
        if not any(keys.get(key) is not None for key in REFERENCE_KEYS):
            return keys
        keys = dict(keys)
        for key in REFERENCE_KEYS:
            if keys.get(key) is not None:
                keys[key] = _Reference(self.resolve_source(keys[key], key, scope, prefix, variables, declared,
                                                           item.line_of(key), full))
        return keys

    def unknown_layer(self, source, scope, prefix, variables, declared, key="from"):
        """Why ``source`` names no layer, with the closest name that would."""
        value = variables.get(source)
        if isinstance(value, LayerWord):
            close = did_you_mean(value, self.names_like(value, *value.caller))
            return (f"'{key}' names argument '{source}', but '{value}' (given at line {value.line}) is not an "
                    f"earlier layer where the block is used{close}")
        if value is not None and not isinstance(value, str):
            return f"'{key}' names '{source}', an argument or param whose value {value!r:.40} is not a layer"
        head = source.split(".", 1)[0]
        if head in declared and head not in scope:
            return (f"'{key}' names '{source}', which comes later (line {declared[head]}); "
                    f"a layer can only take the output of an earlier one (no cycles)")
        candidates = self.names_like(source, scope, prefix) + [
            word for word, v in variables.items() if isinstance(v, LayerWord)]
        return f"'{key}' names an unknown layer '{source}'{did_you_mean(source, candidates)}"

    def names_like(self, word, scope, prefix):
        """The names a word could have meant in ``scope``: its layers, and for a dotted word those below its head."""
        candidates = list(scope)
        head = word.split(".", 1)[0]
        if "." in word and head in scope:
            below = f"{prefix}.{head}." if prefix else f"{head}."
            skip = len(prefix) + 1 if prefix else 0
            candidates += [name[skip:] for names in (self.names, self.aliases) for name in names
                           if name.startswith(below)]
        return candidates

    def condition(self, item, variables, layer):
        """The value of ``if:``; a bare word must be an argument, a param or true/false (no silent typo)."""
        raw = item["if"]
        if isinstance(raw, str) and raw.isidentifier() and raw not in variables:
            if raw in _TRUTH_WORDS:
                return _TRUTH_WORDS[raw]
            arguments = [name for name in variables if name not in _TOP_LEVEL_SHAPES]
            known = f" (arguments and params: {', '.join(arguments)})" if arguments else ""
            raise self.fail(f"if: '{raw}' is not an argument or param{did_you_mean(raw, arguments)}{known}",
                            item.line_of("if"), layer)
        return self.value(raw, variables, item, "if", layer)

    def value(self, raw, variables, item, key, layer):
        """A key's value with block arguments and params substituted and expressions evaluated."""
        if isinstance(raw, str):
            if raw in variables:
                found = variables[raw]
                if isinstance(found, Undefined):
                    raise self.fail(f"{key}: '{raw}' {found.why}", item.line_of(key), layer)
                return found
            if raw.isidentifier() or (_DOTTED_NAME.match(raw) and raw.split(".", 1)[0] not in variables):
                return raw  # a word such as `same` or `relu`, or a layer name (enc4.conv2), not an expression
            try:
                return evaluate(raw, variables)
            except ExpressionError as err:
                raise self.fail(f"{key}: {err}", item.line_of(key), layer) from None
        if isinstance(raw, list):
            return [self.value(v, variables, item, key, layer) for v in raw]
        if isinstance(raw, dict):  # a mapping value such as `act: {leakyrelu: slope}`
            return {k: self.value(v, variables, item, key, layer) for k, v in raw.items()}
        return raw

    def add_layer(self, type_name, keys, item, name, inputs, variables, stack):
        if name in self.names:
            raise self.fail(f"duplicate layer name '{name}' (first at line {self.names[name]})", item.line, name)
        if len(name) > MAX_FULL_NAME_CHARS:
            raise self.fail(f"the layer's full name is {len(name):,} characters long (blocks inside blocks); the "
                            f"limit is {MAX_FULL_NAME_CHARS}", item.line, name[:60] + "...")
        if len(self.layers) >= MAX_LAYERS:
            raise self.fail(f"the network expands to more than {MAX_LAYERS:,} layers", item.line, name)
        values = {k: v.name if isinstance(v, _Reference) else self.value(v, variables, item, k, name)
                  for k, v in keys.items()}
        self.names[name] = item.line
        self.layers.append(LayerDecl(name, type_name, values, inputs, self.file, item.line,
                                     item.key_lines, stack[-1] if stack else None, **self.inherited))
        return name

    def shape_of(self, name, line, layer):
        """The output shape of an expanded layer, computing those not yet known in order (each once)."""
        shapes = self.shapes
        if name in shapes:
            return shapes[name]
        if self.infer is None:
            raise self.fail("in_channels / in_size / in_shape need layer shapes: load this spec with "
                            "cnncalc.load_spec or cnncalc.analyze", line, layer)
        while name not in shapes:
            decl = self.layers[self.shaped]
            shapes[decl.name] = tuple(self.infer(decl, [shapes[source] for source in decl.inputs]))
            self.shaped += 1
        return shapes[name]

    def shape_variables(self, source, line, layer):
        """in_channels, in_size (the first spatial size) and in_shape ([C, ...]) of a block's input."""
        self.reads_shapes = True
        shape = self.shape_of(source, line, layer)
        size = shape[1] if len(shape) > 1 else Undefined(f"is not defined: the block's input is flat ({shape[0]} "
                                                          f"values), with no spatial size")
        return {"in_channels": shape[0], "in_size": size, "in_shape": list(shape)}

    def block_arguments(self, block, keys, item, name, variables, caller):
        """The block's variables: params, the arguments given (evaluated where written) and the defaults.

        A word given by the caller (``skip: enc4``) is resolved in the caller's scope now, so ``from: skip``
        inside the block means the caller's layer. Defaults are evaluated in dependency order.
        """
        for key in keys:
            if key not in block.args:
                known = ", ".join(block.args) or "none"
                raise self.fail(f"block '{block.name}' has no argument '{key}'{did_you_mean(key, block.args)} "
                                f"(its arguments: {known})", item.line_of(key), name)
        scope, prefix = caller
        arguments = dict(self.params)
        for arg in block.args:
            if arg in keys:
                value = self.value(keys[arg], variables, item, arg, name)
                if type(value) is str:
                    value = LayerWord(value, self.resolve_layer(value, scope, prefix, {}), item.line_of(arg), caller)
                arguments[arg] = value
            elif block.args[arg] is None:
                raise self.fail(f"block '{block.name}' needs argument '{arg}'", item.line, name)
        return arguments

    def expand_block(self, block, keys, item, name, inputs, variables, stack, caller):
        if block.name in stack:
            chain = " -> ".join(stack + (block.name,))
            raise self.fail(f"block '{block.name}' uses itself ({chain})", item.line, name)
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise self.fail(f"blocks nest more than {MAX_BLOCK_DEPTH} deep", item.line, name)
        if len(inputs) != 1:
            raise self.fail(f"block '{block.name}' takes one input, got {len(inputs)}", item.line_of("from"), name)
        arguments = self.block_arguments(block, keys, item, name, variables, caller)
        if block.reads_shapes:
            arguments.update(self.shape_variables(inputs[0], item.line, name))
        for arg in block.defaults_order:
            if arg not in keys:
                arguments[arg] = self.value(block.args[arg], arguments, block.args, arg, name)
        scope = {NETWORK_INPUT: inputs[0]}
        last = self.expand_list(block.layers, name, scope, arguments, block.line, stack + (block.name,))
        if block.output is None:
            return last
        if block.output not in scope:
            raise self.fail(f"block '{block.name}': output '{block.output}' is not one of its layers"
                            f"{did_you_mean(block.output, scope)}", block.line, name)
        return scope[block.output]
