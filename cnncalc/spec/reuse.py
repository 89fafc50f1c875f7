"""Reusing layers already written: ``from: layers.*.skip`` (one layer of every copy of a repeat) and
``use: resnet50, until: layer4`` (another spec or a built-in as a backbone, cut after a named layer or block).

Both are parts of the expander (cnncalc.spec.expander.Expander), kept here to keep it short.
"""

import os

from .language import INHERITED_WORDS, MAX_LAYERS, MAX_REPEAT, NETWORK_INPUT, REFERENCE_KEYS

# keys a `use:` item takes
USE_KEYS = ("name", "use", "until", "from") + INHERITED_WORDS
# how deep specs may use specs that use specs (a spec using itself is refused at once)
MAX_USE_DEPTH = 4
_USING = []  # the spec files being expanded for a `use:`, outermost first


def every_copy(expander, pattern, scope, prefix, variables, line, full):
    """``layers.*.skip``: that layer in every copy of the repeated ``layers`` (0, 1, ... as far as they go), as
    full names; ``layers.*``: the output of every copy (WaveNet's sum of skips)."""
    head, _, tail = pattern.partition(".*")
    if not head or "*" in head or (tail and not tail.startswith(".")) or "*" in tail:
        raise expander.fail(f"'from': '{pattern}' must be NAME.* or NAME.*.LAYER, NAME a repeated layer or block",
                            line, full)
    names = []
    while len(names) <= MAX_REPEAT:
        found = expander.resolve_layer(f"{head}.{len(names)}{tail}", scope, prefix, variables)
        if found is None:
            break
        expander.count_expanded(line, full)  # a name found is a step of the expansion's bounded work
        names.append(found)
    if not names:
        raise expander.fail(f"'from': '{pattern}' names no layer ('{head}.0{tail}' is not an earlier layer; "
                            f"'{head}' must be repeated)", line, full)
    return names


def _spec_path(expander, use, line, full):
    from .. import builtins

    if not isinstance(use, str) or not use:
        raise expander.fail(f"'use' must name a built-in model or a spec file, not {use!r}", line, full)
    if builtins.builtin_name(use) == use:
        return builtins.path_of(use)
    if not use.lower().endswith((".yaml", ".yml")):
        from ..errors import did_you_mean

        raise expander.fail(f"use: '{use}' is neither a built-in model nor a .yaml/.yml spec file"
                            f"{did_you_mean(use, builtins.names())}", line, full)
    here = os.path.dirname(expander.file) if expander.file and os.path.isfile(expander.file) else None
    path = os.path.join(here, use) if here and not os.path.isabs(use) else use
    if not os.path.isfile(path):
        raise expander.fail(f"use: no spec file '{use}'" + (" next to this spec" if here else ""), line, full)
    return path


def _load(expander, path, line, full):
    from . import load

    key = os.path.abspath(path)
    if key in _USING:
        raise expander.fail(f"use: '{path}' uses itself (through {len(_USING)} spec(s))", line, full)
    if len(_USING) >= MAX_USE_DEPTH:
        raise expander.fail(f"use: specs nest more than {MAX_USE_DEPTH} deep", line, full)
    _USING.append(key)
    try:
        return load(path)
    finally:
        _USING.pop()


def _cut(layers, until, expander, line, full, use):
    """The layers up to the last one named ``until`` or inside the block ``until``."""
    if until is None:
        return layers
    if not isinstance(until, str):
        raise expander.fail(f"'until' must name a layer or block of {use}, not {until!r}", line, full)
    last = None
    for index, decl in enumerate(layers):
        if decl.name == until or decl.name.startswith(until + "."):
            last = index
    if last is None:
        from ..errors import did_you_mean

        groups = sorted({decl.name.split(".")[0] for decl in layers})
        raise expander.fail(f"until: {use} has no layer or block '{until}'{did_you_mean(until, groups)}", line,
                            full)
    return layers[:last + 1]


def expand_use(expander, item, prefix, scope, variables, previous, declared):
    """``{name: backbone, use: resnet50, until: layer4}``: the layers of another spec (or built-in) up to
    ``until``, named ``backbone.conv1``..., reading this item's input; the output is the last of them, and
    ``backbone.layer2`` names the last layer of that block (its output), for an FPN's or a U-Net's taps."""
    from .expander import LayerDecl

    line = item.line
    for key in item:
        if key not in USE_KEYS:
            raise expander.fail(f"a 'use' item takes {', '.join(USE_KEYS)}, not '{key}'", item.line_of(key),
                                item.get("name"))
    use = item["use"]
    local = str(item.get("name") or use)
    full = f"{prefix}.{local}" if prefix else local
    inputs = expander.resolve_from(item, scope, prefix, variables, previous, declared, full)
    if len(inputs) != 1:
        raise expander.fail(f"a used spec takes one input, got {len(inputs)}", item.line_of("from"), full)
    path = _spec_path(expander, use, item.line_of("use"), full)
    cache = vars(expander).setdefault("used_specs", {})  # a spec used twice is read once
    if path not in cache:
        cache[path] = _load(expander, path, item.line_of("use"), full)
    other = cache[path]
    expander.count_expanded(line, full, cost=len(other.layers))  # reading it is work, whatever is kept
    layers = _cut(other.layers, item.get("until"), expander, item.line_of("until"), full, use)
    flags = dict(expander.inherited)
    for word in INHERITED_WORDS:
        if word in item:
            flag = expander.value(item[word], variables, item, word, full)
            if not isinstance(flag, bool):
                raise expander.fail(f"'{word}' must be true or false, not {flag!r}", item.line_of(word), full)
            flags[word] = flags[word] or flag

    def renamed(name):
        return inputs[0] if name == NETWORK_INPUT else f"{full}.{name}"

    for decl in layers:
        name = renamed(decl.name)
        if name in expander.names:
            raise expander.fail(f"duplicate layer name '{name}' (first at line {expander.names[name]})", line, full)
        if len(expander.layers) >= MAX_LAYERS:
            raise expander.fail(f"the network expands to more than {MAX_LAYERS:,} layers", line, full)
        expander.count_expanded(line, name)
        keys = {k: renamed(v) if k in REFERENCE_KEYS and isinstance(v, str) else v for k, v in decl.keys.items()}
        expander.names[name] = line
        expander.layers.append(LayerDecl(name, decl.type, keys, [renamed(s) for s in decl.inputs], decl.file,
                                         decl.line, decl.key_lines, decl.block,
                                         train_only=decl.train_only or flags["train_only"],
                                         frozen=decl.frozen or flags["frozen"]))
    for decl in layers:  # a block of the used spec names its last layer: backbone.layer2
        parts = decl.name.split(".")
        for end in range(1, len(parts)):
            group = f"{full}.{'.'.join(parts[:end])}"
            if group not in expander.names:
                expander.aliases[group] = renamed(decl.name)
    output = renamed(layers[-1].name)
    scope[local] = output
    expander.aliases[full] = output
    return output
