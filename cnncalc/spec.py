"""The spec language: read a YAML spec and expand its blocks and repeats into layers.

Stage one of the pipeline (spec -> graph -> rules -> report). The output is a
:class:`Spec` whose ``layers`` are :class:`LayerDecl` in source order, each with its
full hierarchical name (``layer1.0.conv1``), its inputs resolved to full names, its
keys with block arguments substituted, and the file and line it came from.

What a layer's keys mean is the rules' business; this module only knows the words of the
language itself: name, type, from, if, repeat, first, and the ``blocks`` section.
"""

from .errors import SpecError, did_you_mean
from .expr import ExpressionError, evaluate
from .loader import Located, load_yaml, read_text

MAX_LAYERS = 250_000
MAX_REPEAT = 10_000
MAX_BLOCK_DEPTH = 16
# Largest size (channels, height, width, units, kernel...) a spec may write; int32's maximum.
MAX_SIZE = 2**31 - 1

TOP_LEVEL_KEYS = ("name", "source", "description", "input", "layers", "blocks")
BLOCK_KEYS = ("args", "layers", "output", "description")
LAYER_WORDS = ("name", "type", "from", "if", "repeat", "first", "train_only")
NETWORK_INPUT = "input"
# Layer keys that name another layer, resolved like `from` (earlier layers, the same scope) to full names;
# the rule gets that layer's output shape, which is not an input (no memory, no receptive field).
REFERENCE_KEYS = ("like",)


class LayerDecl:
    """One layer of the expanded network, before any rule has looked at it."""

    __slots__ = ("name", "type", "keys", "inputs", "file", "line", "key_lines", "block", "train_only")

    def __init__(self, name, type, keys, inputs, file, line, key_lines, block, train_only=False):
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

    def error(self, message, key=None):
        """A SpecError located at this layer (and at ``key``'s line when known)."""
        line = self.key_lines.get(key, self.line) if key else self.line
        return SpecError(message, file=self.file, line=line, layer=self.name, key=key)


class Spec:
    """A parsed, expanded spec: ready to become a graph."""

    def __init__(self, name, input, layers, file=None, source=None, blocks=()):
        self.name = name
        self.input = tuple(input)
        self.layers = layers
        self.file = file
        self.source = source
        self.blocks = tuple(blocks)


def load(path_or_name):
    """Load a spec from a file path or a built-in model name."""
    from . import builtins

    path = builtins.resolve(path_or_name)
    return parse_text(read_text(path), file=builtins.display_name(path))


def parse_text(text, file=None):
    return parse(load_yaml(text, file), file)


def parse(document, file=None):
    """Check a spec document (already read from YAML, or a plain dict) and expand it."""
    document = _located(document)
    if document is None:
        raise SpecError("the spec is empty", file=file)
    if not isinstance(document, dict):
        raise SpecError(f"a spec must be a mapping with 'input' and 'layers', not a {_kind(document)}", file=file,
                        line=getattr(document, "line", 1))
    line_of = document.line_of if isinstance(document, Located) else (lambda key: None)
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            raise SpecError(f"unknown top-level key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS)}",
                            file=file, line=line_of(key))
    for key in ("input", "layers"):
        if key not in document:
            raise SpecError(f"the spec has no '{key}'", file=file, line=getattr(document, "line", None))
    input_shape = parse_input(document["input"], file=file, line=line_of("input"))
    name = document.get("name", None)
    if name is None:
        name = _stem(file) if file else "network"
    if not isinstance(name, (str, int, float)) or isinstance(name, bool):
        raise SpecError("'name' must be text", file=file, line=line_of("name"))
    blocks = _read_blocks(document.get("blocks"), file, line_of("blocks"))
    _refuse_certain_bombs(document["layers"], blocks, file)
    expander = _Expander(file, blocks)
    expander.expand_list(document["layers"], prefix="", scope={NETWORK_INPUT: NETWORK_INPUT},
                         variables={}, line=line_of("layers"), stack=())
    if not expander.layers:
        raise SpecError("the spec has no layers", file=file, line=line_of("layers"))
    source = document.get("source")
    return Spec(str(name), input_shape, expander.layers, file=file,
                source=None if source is None else str(source), blocks=blocks)


def _refuse_certain_bombs(items, blocks, file):
    """Fail at once when the layers surely expand past MAX_LAYERS (blocks of blocks of blocks...).

    Counts a lower bound without expanding anything, so the answer costs one pass over the text.
    """
    if not isinstance(items, list):
        return  # the expander says what is wrong with it
    total = 0
    memo = {}
    for item in items:
        total += _least_layers([item], blocks, (), memo, ())
        if total > MAX_LAYERS:
            raise SpecError(f"the network expands to more than {MAX_LAYERS:,} layers (counted before expanding "
                            f"its blocks and repeats)", file=file, line=getattr(item, "line", None))


def _least_layers(items, blocks, args, memo, stack):
    """A lower bound on how many layers ``items`` expand to (capped just above MAX_LAYERS).

    Layers under `if`, and types given by a block argument, may vanish: they count 0; a repeat
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
                memo[kind] = _least_layers(block.layers, blocks, block.args, memo, stack + (kind,))
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
    def __init__(self, name, args, layers, output, line):
        self.name = name
        self.args = args
        self.layers = layers
        self.output = output
        self.line = line


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
            if arg in LAYER_WORDS:
                raise SpecError(f"block '{name}': '{arg}' is a reserved word and cannot be an argument",
                                file=file, line=args.line_of(arg))
        output = body.get("output")
        if output is not None and not isinstance(output, str):
            raise SpecError(f"block '{name}': 'output' must name one of its layers", file=file,
                            line=body.line_of("output"))
        blocks[name] = _Block(name, args, body["layers"], output, where)
    return blocks


class _Reference:
    """A reference key's value once resolved: a full layer name, not to be read as an expression."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class _Expander:
    """Turns nested block uses and repeats into a flat list of LayerDecl."""

    def __init__(self, file, blocks):
        self.file = file
        self.blocks = blocks
        self.layers = []
        self.names = {}  # full name -> line, for duplicate detection
        self.in_train_only = False  # expanding a `train_only: true` layer or block

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
            type_name = variables[type_name]
        if not isinstance(type_name, str) or not type_name:
            raise self.fail(f"'type' must be a layer type or block name, not {type_name!r}", item.line_of("type"))
        local = item.get("name")
        if local is None:
            local = self.default_name(type_name, scope, counters, declared)
        elif not isinstance(local, (str, int)) or isinstance(local, bool) or local == "":
            raise self.fail(f"'name' must be text, not {local!r}", item.line_of("name"))
        local = str(local)
        if local == NETWORK_INPUT:
            raise self.fail(f"'{NETWORK_INPUT}' is reserved for the network input; choose another name",
                            item.line_of("name"))
        full = f"{prefix}.{local}" if prefix else local

        inputs = self.resolve_from(item, scope, previous, declared, full)
        if "if" in item and not self.value(item["if"], variables, item, "if", full):
            # A layer switched off by `if` passes its input through, so references to it still work.
            scope[local] = inputs[0]
            return inputs[0]

        repeat = None
        if "repeat" in item:
            repeat = self.value(item["repeat"], variables, item, "repeat", full)
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
        outer_train_only = self.in_train_only
        if "train_only" in item:
            flag = self.value(item["train_only"], variables, item, "train_only", full)
            if not isinstance(flag, bool):
                raise self.fail(f"'train_only' must be true or false, not {flag!r}", item.line_of("train_only"), full)
            self.in_train_only = outer_train_only or flag
        for index in range(repeat or 1):
            instance = keys if index or first is None else {**keys, **first}
            name = f"{full}.{index}" if repeat is not None else full
            source = inputs if index == 0 else [output]
            if block is None:
                instance = self.resolve_references(instance, item, scope, declared, variables, name)
            if block is not None:
                output = self.expand_block(block, instance, item, name, source, variables, stack)
            else:
                output = self.add_layer(type_name, instance, item, name, source, variables, stack)
            if index == 0:
                after_first = len(self.layers)
            elif index == 1:
                self.check_projected_size(repeat, len(self.layers) - after_first, item, full)
        self.in_train_only = outer_train_only
        scope[local] = output
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

    def resolve_from(self, item, scope, previous, declared, full):
        if "from" not in item:
            return [previous]
        sources = item["from"]
        line = item.line_of("from")
        if not isinstance(sources, list):
            sources = [sources]
        if not sources:
            raise self.fail("'from' is an empty list", line, full)
        return [self.resolve_name(source, "from", scope, declared, line, full) for source in sources]

    def resolve_name(self, source, key, scope, declared, line, full):
        """The full name of the layer that ``key`` (from, like) names in ``scope``."""
        if not isinstance(source, (str, int)) or isinstance(source, bool):
            raise self.fail(f"'{key}' must name layers, not {source!r}", line, full)
        source = str(source)
        if source in scope:
            return scope[source]
        if source in declared:
            raise self.fail(f"'{key}' names '{source}', which comes later (line {declared[source]}); "
                            f"a layer can only take the output of an earlier one (no cycles)", line, full)
        raise self.fail(f"'{key}' names an unknown layer '{source}'{did_you_mean(source, scope)}", line, full)

    def resolve_references(self, keys, item, scope, declared, variables, full):
        """``keys`` with each reference key (REFERENCE_KEYS) resolved to the full name of the layer it names."""
        if not any(key in keys for key in REFERENCE_KEYS):
            return keys
        keys = dict(keys)
        for key in REFERENCE_KEYS:
            if keys.get(key) is not None:
                name = keys[key]
                if isinstance(name, str):
                    name = variables.get(name, name)  # a block argument may carry the name
                keys[key] = _Reference(self.resolve_name(name, key, scope, declared, item.line_of(key), full))
        return keys

    def value(self, raw, variables, item, key, layer):
        """A key's value with block arguments substituted and expressions evaluated."""
        if isinstance(raw, str):
            if raw in variables:
                return variables[raw]
            if raw.isidentifier():
                return raw  # a word such as `same` or `relu`, not an expression
            try:
                return evaluate(raw, variables)
            except ExpressionError as err:
                raise self.fail(f"{key}: {err}", item.line_of(key), layer) from None
        if isinstance(raw, list):
            return [self.value(v, variables, item, key, layer) for v in raw]
        return raw

    def add_layer(self, type_name, keys, item, name, inputs, variables, stack):
        if name in self.names:
            raise self.fail(f"duplicate layer name '{name}' (first at line {self.names[name]})", item.line, name)
        if len(self.layers) >= MAX_LAYERS:
            raise self.fail(f"the network expands to more than {MAX_LAYERS:,} layers", item.line, name)
        values = {k: v.name if isinstance(v, _Reference) else self.value(v, variables, item, k, name)
                  for k, v in keys.items()}
        self.names[name] = item.line
        self.layers.append(LayerDecl(name, type_name, values, inputs, self.file, item.line,
                                     item.key_lines, stack[-1] if stack else None, self.in_train_only))
        return name

    def expand_block(self, block, keys, item, name, inputs, variables, stack):
        if block.name in stack:
            chain = " -> ".join(stack + (block.name,))
            raise self.fail(f"block '{block.name}' uses itself ({chain})", item.line, name)
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise self.fail(f"blocks nest more than {MAX_BLOCK_DEPTH} deep", item.line, name)
        if len(inputs) != 1:
            raise self.fail(f"block '{block.name}' takes one input, got {len(inputs)}", item.line_of("from"), name)
        for key in keys:
            if key not in block.args:
                known = ", ".join(block.args) or "none"
                raise self.fail(f"block '{block.name}' has no argument '{key}'{did_you_mean(key, block.args)} "
                                f"(its arguments: {known})", item.line_of(key), name)
        arguments = {}
        for arg, default in block.args.items():
            if arg in keys:
                arguments[arg] = self.value(keys[arg], variables, item, arg, name)
            elif default is None:
                raise self.fail(f"block '{block.name}' needs argument '{arg}'", item.line, name)
            else:
                arguments[arg] = default
        for arg, default in list(arguments.items()):
            if isinstance(default, str) and arg not in keys:
                # a default may refer to other arguments: `out: planes * 4`
                arguments[arg] = self.value(default, arguments, block.args, arg, name)
        scope = {NETWORK_INPUT: inputs[0]}
        last = self.expand_list(block.layers, name, scope, arguments, block.line, stack + (block.name,))
        if block.output is None:
            return last
        if block.output not in scope:
            raise self.fail(f"block '{block.name}': output '{block.output}' is not one of its layers"
                            f"{did_you_mean(block.output, scope)}", block.line, name)
        return scope[block.output]
