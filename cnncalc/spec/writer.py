"""Write a parsed spec back as YAML (what `cnncalc import` prints), folding repeated structure into blocks.

A layer list read from a graph repeats itself: ResNet's basic blocks, MobileNet's inverted residuals.
:func:`to_yaml` looks for runs of layers that share a name prefix (``layer1.0.*``), take one input and
give one output, and writes the runs that have the same structure as one block with arguments for
the keys that differ (``filters``, ``stride``...), used once per run, or with ``repeat`` where the
copies follow one another (``layer1.0``, ``layer1.1``). The result is parsed again and kept only if it
expands to exactly the layers of the flat list; otherwise the flat list is written.
"""

import re

from . import LAYER_WORDS, NETWORK_INPUT, parse_text
from .language import INHERITED_WORDS
from ..numbers import is_tokens


MAX_BLOCK_DEPTH = 6  # name parts before a block's own layers that are tried (each try parses the spec once)


def to_yaml(spec, header=(), blocks=True):
    """``spec`` as YAML text: one flow mapping per layer, `from` only where it is not the layer before;
    ``header`` lines go first as comments. With ``blocks``, repeated structure is written as blocks."""
    flat = _document(spec, header, [(_layer_item(decl), decl.name) for decl in spec.layers], {})
    if not blocks:
        return _read_back(flat, spec)
    best = flat
    # every depth a block can sit at: `layer1.0` (1-2), and under wrappers, `net.backbone.layer1.0` (4)
    deepest = max((decl.name.count(".") for decl in spec.layers), default=0)
    for depth in range(1, min(deepest, MAX_BLOCK_DEPTH) + 1):
        found = _with_blocks(spec, depth)
        if found is None:
            continue
        text = _document(spec, header, *found)
        if text.count("\n") < best.count("\n") and _same_layers(spec, text):
            best = text
    return _read_back(best, spec)


def _read_back(text, spec):
    """``text`` if the spec reader takes it, within every limit (its size, values, names, steps); else the
    reader's refusal, so that nothing is written that cnncalc would then refuse (a Concat of 300,000 inputs
    whose names fill more than 16 MiB)."""
    from ..errors import SpecError
    from .loader import MAX_FILE_BYTES

    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise SpecError(f"as a spec it would be {size:,} bytes, more than the {MAX_FILE_BYTES:,} a spec may be; "
                        f"nothing written", file=spec.file)
    try:
        parse_text(text, file=spec.file)
    except SpecError as err:
        raise SpecError(f"as a spec it would not be read back ({err.message}); nothing written",
                        file=spec.file) from None
    return text


def _flow(value):
    """``value`` in YAML's flow style, as PyYAML writes it; lists, mappings, whole numbers and plain words are
    written here (PyYAML's emitter took 12 s for a Concat's 300,000 sources), anything else by PyYAML."""
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(key)}: {_flow(item)}" for key, item in value.items()) + "}"
    if not isinstance(value, bool):  # a value read from YAML (WrittenFloat, a block argument's LayerWord) as plain
        for plain in (int, float, str):
            if isinstance(value, plain) and type(value) is not plain:
                return _flow(plain(value))
    if type(value) is int:
        return str(value)
    if type(value) is str and _PLAIN_WORD.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=2**30).strip()
    return text[:-3].strip() if text.endswith("\n...") else text


# a word PyYAML writes as it is (no quotes) in a flow collection, unless YAML would read it as something else
_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "nan", "inf"}


def _layer_item(decl, local=None, inputs=None):
    item = {"name": local or decl.name, "type": decl.type}
    item["from"] = list(decl.inputs if inputs is None else inputs)
    item.update(decl.keys)
    item.update(dict.fromkeys(_flags(decl), True))
    return item


def _flags(decl):
    """The flags (train_only, frozen) set on ``decl``, written back on the layer itself."""
    return tuple(word for word in INHERITED_WORDS if getattr(decl, word))


def _document(spec, header, items, definitions):
    """The YAML text: header comments, name, source, input, blocks, layers."""
    lines = [f"# {line}" if line else "#" for line in header]
    lines.append(f"name: {_flow(spec.name)}")
    if spec.source:
        lines.append(f"source: {_flow(spec.source)}")
    shape = _flow(list(spec.input))
    lines.append(f"input: {{tokens: {shape}}}" if is_tokens(spec.input) else f"input: {shape}")
    if definitions:
        lines.append("blocks:")
        for name, (args, body) in definitions.items():
            lines.append(f"  {name}:")
            if args:
                lines.append(f"    args: {_flow({arg: None for arg in args})}")
            lines.append("    layers:")
            lines += [f"      - {_flow(item)}" for item in _chained(body, NETWORK_INPUT)]
    lines.append("layers:")
    lines += [f"  - {_flow(item)}" for item in _chained(items, NETWORK_INPUT)]
    return "\n".join(lines) + "\n"


def _chained(items, first_source):
    """Items without `from` where it names the item before (the spec's default)."""
    previous = first_source
    result = []
    for entry in items:
        item, output = entry if isinstance(entry, tuple) else (entry, entry["name"])
        item = dict(item)
        sources = item.pop("from")
        if sources != [previous]:
            item["from"] = sources[0] if len(sources) == 1 else sources
        head = {key: item.pop(key) for key in ("name", "type", "from") if key in item}
        result.append({**head, **item})
        previous = output
    return result


def _same_layers(spec, text):
    try:
        again = parse_text(text, file=spec.file)
    except Exception:  # a block the writer got wrong: keep the flat list
        return False
    signature = [(d.name, d.type, d.keys, list(d.inputs), _flags(d)) for d in spec.layers]
    return signature == [(d.name, d.type, dict(d.keys), list(d.inputs), _flags(d)) for d in again.layers]


def _runs(layers, depth):
    """Contiguous runs of layers whose names share their first ``depth`` parts (and have more parts)."""
    runs, current, key = [], [], None
    for index, decl in enumerate(layers):
        parts = decl.name.split(".")
        prefix = ".".join(parts[:depth]) if len(parts) > depth else None
        if prefix is not None and prefix == key:
            current.append(index)
            continue
        if key is not None and len(current) > 1:
            runs.append((key, current))
        key, current = prefix, [index]
    if key is not None and len(current) > 1:
        runs.append((key, current))
    return runs


def _instance(layers, prefix, indices, readers):
    """(signature, values, source) of a run that can be a block use, else None."""
    members = {layers[i].name for i in indices}
    last = layers[indices[-1]].name
    outside = {s for i in indices for s in layers[i].inputs if s not in members}
    if len(outside) != 1:
        return None
    for name in members - {last}:
        if any(reader not in members for reader in readers.get(name, ())):
            return None  # a layer outside reads inside the run: the block would hide it
    source = outside.pop()
    shape, values = [], []
    for i in indices:
        decl = layers[i]
        local = decl.name[len(prefix) + 1:]
        inputs = tuple(NETWORK_INPUT if s == source else s[len(prefix) + 1:] for s in decl.inputs)
        keys = tuple(decl.keys)
        shape.append((local, decl.type, keys, inputs, _flags(decl)))
        values.append(tuple(_frozen(decl.keys[k]) for k in keys))
    return tuple(shape), tuple(values), source


def _frozen(value):
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _with_blocks(spec, depth):
    """(items, definitions) with blocks for structures that occur at least twice, or None."""
    layers = spec.layers
    readers = {}
    for decl in layers:
        for source in decl.inputs:
            readers.setdefault(source, []).append(decl.name)
    instances = []
    for prefix, indices in _runs(layers, depth):
        found = _instance(layers, prefix, indices, readers)
        if found is not None:
            instances.append((prefix, indices, *found))
    by_shape = {}
    for instance in instances:
        by_shape.setdefault(instance[2], []).append(instance)
    shapes = [shape for shape, group in by_shape.items() if len(group) > 1]
    if not shapes:
        return None
    definitions, use = {}, {}
    for number, shape in enumerate(shapes, 1):
        group = by_shape[shape]
        name = f"block{number}"
        args, body, arg_of = _arguments(shape, [instance[3] for instance in group])
        definitions[name] = (args, body)
        for instance in group:
            prefix, indices, _, values, source = instance
            keys = {arg: _thawed(values[position][slot]) for (position, slot), arg in arg_of.items()}
            use[indices[0]] = (prefix, indices, name, keys, source)
    # a block use is referred to by its own name: the layers after it name it, not its last layer
    items, skip, alias = [], set(), {}
    for index, decl in enumerate(layers):
        if index in skip:
            continue
        if index in use:
            prefix, indices, name, keys, source = use[index]
            skip.update(indices)
            alias[layers[indices[-1]].name] = prefix
            items.append(({"name": prefix, "type": name, "from": [source], **keys}, prefix))
        else:
            items.append((_layer_item(decl), decl.name))
    items = _repeats(_renamed(items, alias), set(definitions), readers, alias)
    return _renamed(items, alias), definitions


def _renamed(items, alias):
    """Items whose `from` names go through ``alias`` (a block's last layer -> the block use -> its repeat)."""
    def name(source):
        while source in alias:
            source = alias[source]
        return source

    return [({**item, "from": [name(s) for s in item["from"]]}, output) for item, output in items]


def _arguments(shape, value_sets):
    """Block args for the keys whose values differ between instances (equal columns share one arg)."""
    columns = {}
    for position, (local, kind, keys, inputs, _) in enumerate(shape):
        for slot, key in enumerate(keys):
            column = tuple(values[position][slot] for values in value_sets)
            if len(set(column)) > 1:
                columns.setdefault(column, []).append((position, slot, key))
    arg_of, args, taken = {}, [], set(LAYER_WORDS)
    for column, places in columns.items():
        base = places[0][2]
        arg, count = base, 1
        while arg in taken:
            count += 1
            arg = f"{base}{count}"
        taken.add(arg)
        args.append(arg)
        for position, slot, _ in places:
            arg_of[(position, slot)] = arg
    body = []
    first = value_sets[0]
    for position, (local, kind, keys, inputs, flags) in enumerate(shape):
        item = {"name": local, "type": kind, "from": list(inputs)}
        for slot, key in enumerate(keys):
            item[key] = arg_of.get((position, slot), _thawed(first[position][slot]))
        item.update(dict.fromkeys(flags, True))
        body.append(item)
    return args, body, arg_of


def _thawed(value):
    return [_thawed(v) for v in value] if isinstance(value, tuple) else value


def _repeats(items, block_names, readers, alias):
    """Consecutive uses of one block with the same args, named P.0, P.1, ..., each reading the one
    before (and read by nothing else): one item with `repeat`, named P."""
    last_layer = {block: layer for layer, block in alias.items()}
    result = []
    index = 0
    while index < len(items):
        item, output = items[index]
        parent, _, number = item["name"].rpartition(".")
        end = index + 1
        if parent and number == "0" and item["type"] in block_names:
            while end < len(items):
                nxt, _ = items[end]
                expected = f"{parent}.{end - index}"
                same = {k: v for k, v in nxt.items() if k not in ("name", "from")} == {
                    k: v for k, v in item.items() if k not in ("name", "from")}
                before = items[end - 1][1]
                inside = all(reader.startswith(expected + ".") for reader in readers.get(last_layer.get(before), ()))
                if nxt["name"] != expected or not same or nxt["from"] != [before] or not inside:
                    break
                end += 1
        if end - index > 1:
            merged = {**item, "name": parent, "repeat": end - index}
            alias[items[end - 1][1]] = parent
            result.append((merged, parent))
        else:
            result.append((item, output))
        index = end
    return result
