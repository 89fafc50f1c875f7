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

The pieces: :mod:`.language` (words and limits), :mod:`.params` (params and ``--set``),
:mod:`.blocks` (the ``blocks:`` section) and :mod:`.expander` (blocks and repeats into layers, and
what a layer name means where it is written).
"""

from ..errors import SpecError, UsageError, did_you_mean, one_line, shown
from .expander import Expander
from .loader import Located, file_stem, load_yaml, read_text
from ..numbers import MAX_SIZE, Tokens, as_shape, is_whole_number  # noqa: F401 (MAX_SIZE: spec.MAX_SIZE)
from ..shapes import read_spec_input
from .blocks import read_blocks
from .language import (IGNORED_TOP_LEVEL_PREFIX, MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_NAME_CHARS, MAX_REPEAT,
                            MAX_SOURCE_CHARS, NETWORK_INPUT, SPEC_MARKERS, TOP_LEVEL_KEYS, TOP_LEVEL_SHAPES,
                            check_text, kind_of, whole_or_same)
from .params import dependency_order, names_read, read_params, setting_problem

# Not used here; other modules import them from cnncalc.spec, the spec language's public face.
from .layers import LayerDecl  # noqa: F401
from .language import BLOCK_KEYS, LAYER_WORDS, REFERENCE_KEYS  # noqa: F401
from .params import parse_settings  # noqa: F401


class Spec:
    """A parsed, expanded spec: ready to become a graph.

    ``input`` is the spec's own input; ``params`` the value of every param in this expansion and
    ``overrides`` the ones given (``--set``); ``reads_shapes`` whether a block read its input's shape,
    so that another input needs another expansion (:meth:`expanded`).
    """

    def __init__(self, name, input, layers, file=None, source=None, blocks=(), params=None, overrides=None,
                 template=None, reads_shapes=False, expanded_input=None):
        self.name = name
        self.input = as_shape(input)
        self.layers = layers
        self.file = file
        self.source = source
        self.blocks = tuple(blocks)
        self.params = dict(params or {})
        self.overrides = dict(overrides or {})
        self.template = template
        self.reads_shapes = reads_shapes
        self.expanded_input = self.input if expanded_input is None else as_shape(expanded_input)

    def input_params(self):
        """The params the spec's ``input:`` is written with (``[3, image, image]``: image)."""
        return self.template.input_params() if self.template is not None else set()

    def expanded(self, input=None, params=None, shapes=None):
        """The same document expanded again: at ``input``, with ``params`` over this spec's overrides."""
        if self.template is None:
            if params:
                raise UsageError(f"{self.name} was built without its document; params cannot be set")
            return self
        settings = {**self.overrides, **(params or {})}
        return self.template.expand(settings, self.expanded_input if input is None else input, shapes)


def load(path_or_name, params=None, input=None, shapes=None):
    """Load a YAML spec from a file path or a built-in model name (see :meth:`Template.expand` for the rest).

    ONNX models are read one stage up (report.load_spec), since their reader needs the rules' shapes.
    """
    from .. import builtins

    path = builtins.resolve(path_or_name)
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
        raise SpecError(f"a spec must be a mapping with 'input' and 'layers', not a {kind_of(document)}", file=file,
                        line=getattr(document, "line", 1))
    if not any(key in document for key in SPEC_MARKERS):
        # some other YAML file (a config, /proc/self/status): its keys are not quoted back
        raise SpecError("not a cnncalc spec (a YAML mapping without 'input' or 'layers'; nothing of it is shown)",
                        file=file)
    line_of = document.line_of
    for key in document:
        if key not in TOP_LEVEL_KEYS and not (isinstance(key, str) and key.startswith(IGNORED_TOP_LEVEL_PREFIX)):
            raise SpecError(f"unknown top-level key '{shown(key)}'{did_you_mean(key, TOP_LEVEL_KEYS)} (keys starting "
                            f"with '{IGNORED_TOP_LEVEL_PREFIX}' are ignored)", file=file, line=line_of(key))
    for key in ("input", "layers"):
        if key not in document:
            raise SpecError(f"the spec has no '{key}'", file=file, line=getattr(document, "line", None))
    name = document.get("name", None)
    if name is None:
        name = file_stem(file) if file else "network"
    if not isinstance(name, (str, int, float)) or isinstance(name, bool):
        raise SpecError("'name' must be text", file=file, line=line_of("name"))
    if document.get("name") is not None:
        check_text(str(name), "name", MAX_NAME_CHARS, file, line_of("name"))
    else:
        name = one_line(name)[:MAX_NAME_CHARS]  # from the file name, which the spec does not choose
    if document.get("source") is not None:
        check_text(str(document["source"]), "source", MAX_SOURCE_CHARS, file, line_of("source"))
    blocks = read_blocks(document.get("blocks"), file, line_of("blocks"))
    params = read_params(document.get("params"), file, line_of("params"))
    return Template(document, file, str(name), blocks, params)


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
            problem = setting_problem(value)
            if problem:
                raise UsageError(f"param {name}: {problem}")
        raw = {**self.params, **overrides}
        order = dependency_order(raw, lambda n: names_read(raw[n], raw), "params", self.file, self.params.line_of)
        expander = Expander(self.file, self.blocks, {})
        values = {}
        for name in order:
            values[name] = expander.value(raw[name], values, self.params, name, "params")
        return values

    def input_params(self):
        """The params the document's ``input:`` reads."""
        return names_read(self.document["input"], self.params)

    def input_shape(self, values):
        """The spec's ``input``, whose sizes may be expressions over the params (``[3, res, res]``, ``{tokens:
        [n, width]}``)."""
        raw, line = self.document["input"], self.document.line_of("input")
        tokens = isinstance(raw, dict) and list(raw) == ["tokens"]
        sizes = raw["tokens"] if tokens else raw
        if isinstance(sizes, list) and values:
            expander = Expander(self.file, self.blocks, {})
            sizes = [whole_or_same(expander.value(v, values, self.document, "input", None)) for v in sizes]
            raw = {"tokens": sizes} if tokens else sizes
        return read_spec_input(raw, file=self.file, line=line)

    def expand(self, params=None, input=None, shapes=None):
        """The layers for ``params`` (name -> value over the defaults) at ``input`` (default: the spec's).

        ``shapes(decl, in_shapes) -> shape`` is needed only when a block reads ``in_channels``,
        ``in_size`` or ``in_shape``.
        """
        values = self.settings(params)
        spec_input = self.input_shape(values)
        input_shape = spec_input if input is None else as_shape(input)
        layers, line = self.document["layers"], self.document.line_of("layers")
        _refuse_certain_bombs(layers, self.blocks, set(values), self.file)
        expander = Expander(self.file, self.blocks, values, input_shape, shapes)
        expander.expand_list(layers, prefix="", scope={NETWORK_INPUT: NETWORK_INPUT},
                             variables={**values, **TOP_LEVEL_SHAPES}, line=line, stack=())
        if not expander.layers:
            raise SpecError("the spec has no layers", file=self.file, line=line)
        return Spec(self.name, spec_input, expander.layers, file=self.file, source=self.source, blocks=self.blocks,
                    params=values, overrides=params, template=self, reads_shapes=expander.reads_shapes,
                    expanded_input=input_shape)


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
        if not is_whole_number(repeat) or not 1 <= repeat <= MAX_REPEAT:
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


def _located(value):
    """Plain dicts (an inline spec written in Python) as Located mappings without line numbers."""
    if isinstance(value, Located):
        return value  # read from YAML: every mapping inside is Located already
    if isinstance(value, dict):
        return Located({key: _located(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_located(item) for item in value]
    return value


