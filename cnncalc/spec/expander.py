"""Expanding a checked spec: blocks and repeats become a flat list of :class:`LayerDecl`.

Names. A ``from:`` word is looked up where it is written, by :meth:`Expander.resolve_layer`
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

from ..errors import SpecError, did_you_mean, shown
from .expr import ExpressionError, Undefined, evaluate, size as expression_size
from .loader import Located
from .reuse import every_copy, expand_use
from ..numbers import is_whole_number
from .layers import LayerDecl, LayerWord, Reference
from .language import (DOTTED_NAME, EXPANSION_STEPS, INHERITED_WORDS, LAYER_WORDS, MAX_BLOCK_DEPTH,
                       EXPRESSION_WORK, IF_VALUES, MAX_EXPANDED, MAX_EXPRESSION_WORK, MAX_FULL_NAME_CHARS, MAX_LAYERS,
                       MAX_NAME_CHARS, MAX_REPEAT, NETWORK_INPUT, REFERENCE_KEYS, REPEAT_INDEX, TOP_LEVEL_SHAPES,
                            check_text, kind_of, whole_or_same)

_TRUTH_WORDS = {"true": True, "True": True, "false": False, "False": False}


class Expander:
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
        self.expanded = 0  # steps so far: items, repeat copies, block arguments (see MAX_EXPANDED)
        self.work = 0  # parts of expressions evaluated so far (see MAX_EXPRESSION_WORK)
        self.check_keys = getattr(shapes, "check_keys", None)  # the rules' check of a layer's keys (add_layer)

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
                                f"not {kind_of(item)}", item_lines[position - 1] if item_lines else line)
            previous = self.expand_item(item, prefix, scope, variables, previous, declared, counters, stack)
        return previous

    def expand_item(self, item, prefix, scope, variables, previous, declared, counters, stack):
        line = item.line
        self.count_expanded(line, item.get("name"))
        if "use" in item:
            return expand_use(self, item, prefix, scope, variables, previous, declared)
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
            repeat = whole_or_same(self.value(item["repeat"], variables, item, "repeat", full))
            if not is_whole_number(repeat) or not 1 <= repeat <= MAX_REPEAT:
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
        self.inherited = self.inherited_flags(item, variables, full)
        for index in range(repeat or 1):
            # a repeated item's keys read its copy's index as `i` (0, 1, ...): dilation: 2 ** i
            copy_variables = {**variables, REPEAT_INDEX: index} if repeat is not None else variables
            instance = keys if index or first is None else {**keys, **first}
            name = f"{full}.{index}" if repeat is not None else full
            source = inputs if index == 0 else [output]
            if index:
                self.count_expanded(line, name)
            if block is not None:
                caller = (scope, prefix)
                output = self.expand_block(block, instance, item, name, source, copy_variables, stack, caller)
                if name != output:
                    self.aliases[name] = output
            else:
                instance = self.resolve_references(instance, item, scope, prefix, copy_variables, declared, name)
                output = self.add_layer(type_name, instance, item, name, source, copy_variables, stack)
            if index == 0:
                after_first = len(self.layers), self.expanded, self.work
            elif index == 1:
                self.check_projected(repeat, after_first, item, full)
        self.inherited = outer
        scope[local] = output
        if full != output:
            self.aliases[full] = output
        return output

    def check_projected(self, repeat, first, item, full):
        """Refuse a repeat whose later copies would pass MAX_LAYERS, MAX_EXPANDED or MAX_EXPRESSION_WORK before
        expanding them (``first``: layers, steps, work after the first copy). Each copy after the first costs
        what the second did; nested repeats are caught at the innermost multiplication that overflows."""
        limits = ((len(self.layers), MAX_LAYERS, "the network expands to more than {:,} layers ({:,} repeats of "
                                                 "{:,} layers here)"),
                  (self.expanded, MAX_EXPANDED, "the network takes more than {:,} " + EXPANSION_STEPS +
                   " to expand ({:,} repeats of {:,} here)"),
                  (self.work, MAX_EXPRESSION_WORK, "the spec's expressions take more than {:,} " + EXPRESSION_WORK +
                   " to evaluate ({:,} repeats of {:,} here)"))
        for (now, limit, message), before in zip(limits, first):
            if now + (repeat - 2) * (now - before) > limit:
                raise self.fail(message.format(limit, repeat, now - before), item.line_of("repeat"), full)

    def count_expanded(self, line, name, cost=1):
        self.expanded += cost
        if self.expanded > MAX_EXPANDED:
            raise self.fail(f"the network takes more than {MAX_EXPANDED:,} {EXPANSION_STEPS} to expand", line,
                            name if isinstance(name, str) else None)

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
        names = []
        for source in sources:
            if isinstance(source, str) and "*" in source:
                names += every_copy(self, source, scope, prefix, variables, line, full)
            else:
                names.append(self.resolve_source(source, "from", scope, prefix, variables, declared, line, full))
        return names

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
                keys[key] = Reference(self.resolve_source(keys[key], key, scope, prefix, variables, declared,
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
            arguments = [name for name in variables if name not in TOP_LEVEL_SHAPES]
            known = f" (arguments and params: {', '.join(arguments)})" if arguments else ""
            raise self.fail(f"if: '{raw}' is not an argument or param{did_you_mean(raw, arguments)}{known}",
                            item.line_of("if"), layer)
        value = self.value(raw, variables, item, "if", layer)
        if not isinstance(value, bool):  # text such as 'false' or 'no' is not false: nothing is read as truth
            raise self.fail(f"if: {IF_VALUES}, not {kind_of(value)} {shown(repr(value))}", item.line_of("if"), layer)
        return value

    def inherited_flags(self, item, variables, full):
        """The flags (train_only, frozen...) a layer or block use passes on: the enclosing ones, or'd with its own."""
        flags = dict(self.inherited)
        for word in INHERITED_WORDS:
            if word in item:
                flag = self.value(item[word], variables, item, word, full)
                if not isinstance(flag, bool):
                    raise self.fail(f"'{word}' must be true or false, not {flag!r}", item.line_of(word), full)
                flags[word] = flags[word] or flag
        return flags

    def value(self, raw, variables, item, key, layer):
        """A key's value with block arguments and params substituted and expressions evaluated."""
        if isinstance(raw, str):
            if raw in variables:
                found = variables[raw]
                if isinstance(found, Undefined):
                    raise self.fail(f"{key}: '{raw}' {found.why}", item.line_of(key), layer)
                return found
            if raw.isidentifier() or DOTTED_NAME.match(raw):
                # a word such as `same` or `relu`, or a layer name (enc4.conv2, fpn.p5.inner even where `fpn` is a
                # param): never an expression, which has no attribute syntax
                return raw
            self.work += expression_size(raw)
            if self.work > MAX_EXPRESSION_WORK:
                raise self.fail(f"{key}: the spec's expressions take more than {MAX_EXPRESSION_WORK:,} "
                                f"{EXPRESSION_WORK} to evaluate", item.line_of(key), layer)
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
        decl = LayerDecl(name, type_name, keys, inputs, self.file, item.line, item.key_lines,
                         stack[-1] if stack else None, **self.inherited)
        if self.check_keys is not None:
            self.check_keys(decl)  # unknown keys are refused before any is evaluated: their work is not spent
        decl.keys = {k: v.name if isinstance(v, Reference) else self.value(v, variables, item, k, name)
                     for k, v in keys.items()}
        self.names[name] = item.line
        self.layers.append(decl)
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
            references = {key: shapes[decl.keys[key]] for key in REFERENCE_KEYS if decl.keys.get(key) is not None}
            shapes[decl.name] = tuple(self.infer(decl, [shapes[source] for source in decl.inputs], references))
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
                raise self.fail(f"block '{block.name}' has no argument '{shown(key)}'{did_you_mean(key, block.args)} "
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
        self.count_expanded(item.line, name, cost=len(block.args))
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
