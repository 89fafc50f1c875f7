"""Walk an ONNX graph node by node, building the spec's layer items and sizing each tensor as it goes.

:class:`GraphReader` holds what the walk knows: the constants (initializers, Constant nodes and shape
arithmetic on them), the computed tensors (which layer gives each, its shape), who reads each tensor, and
the layer items made so far. Each operator's mapping to a layer is a function in the table of
:mod:`cnncalc.onnx.ops`; the reader gives those functions the means to emit layers and to read their
inputs. Layers are sized with the rules themselves, so the reader's shapes and the report's cannot
disagree.
"""

import bisect
import os

from . import attention
from . import loops
from .. import rules
from ..conventions import FOLDED_BN
from ..errors import SpecError, one_line, shown, shown_names
from ..numbers import is_tokens
from ..spec.loader import file_stem
from .names import dynamo_scope, readers_scope, shortened, torch_scope
from .ops import FUNCTIONAL, OPERATORS, SUPPORTED
from .pending import Constants
from .tensors import Const, Value, attributes, laid_out, shape_text
from ..spec import NETWORK_INPUT, LayerDecl, parse
from ..spec.language import MAX_LAYERS, MAX_NAME_CHARS, MAX_SOURCE_CHARS


# room left in a layer name for the count that tells apart nodes named alike (`conv_12345`)
_COUNT_ROOM = 8
# operators whose output shape depends on the data: a model with one is refused at the first
# (a Loop whose trip count, an If whose condition, is a constant is unrolled: see loops.py)
DATA_DEPENDENT = ("NonZero", "TopK", "RoiAlign", "NonMaxSuppression", "Unique", "Scan")
_NO_INPUTS = []  # a Constant node's (its inputs are not read: it has none)
# the nodes the walk visits whatever they read: a Loop's or If's body reads names it does not list
_ALWAYS_WALKED = frozenset(("CastLike",) + loops.OPERATORS)


class GraphReader:
    def __init__(self, model, file, input, path=None):
        self.model = model
        self.path = path  # the model file, to read small tensors kept in its external data file
        self.graph = model.graph
        self.file = file
        self.input_override = input
        self.consts = Constants(self)  # evaluated when first asked for (see pending.py)
        self.values = {}
        self.items = []  # spec layer items (dicts), in order
        self.costs = {}  # layer name -> its Cost
        self.regions = []  # attention regions not closed yet (see attention.py)
        self.followed = set()  # every attention region followed
        self.initializers = {}  # name -> TensorProto (dims and type; data never read here)
        self.emitted_from = {}  # layer name -> the tensors it reads
        self.weights_of = {}  # layer name -> the initializer named as its weight
        self.by_name = {}  # layer name -> item
        self.names = set()
        self.last_count = {}  # base name -> the last count given it, so n nodes named alike cost O(n)
        self.skip = set()  # node indices already folded into a layer
        self.folded_from = None  # what torch.export folded each derived initializer from (see derived.origins)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)

    # --- errors ---------------------------------------------------------------------------------

    def fail(self, node, message):
        label = f"node '{shown(node.name)}'" if node.name else \
            f"a node giving '{shown(node.output[0]) if node.output else '?'}'"
        return SpecError(f"{label} ({shown(node.op_type)}): {message}", file=self.file)

    def unsupported(self, node, message=None):
        known = message or (f"operator {shown(node.op_type)} is not supported (cnncalc reads {', '.join(SUPPORTED)})"
                            if node.op_type not in SUPPORTED else "this use of it is not supported")
        return self.fail(node, known)

    # --- the whole model ------------------------------------------------------------------------

    def spec(self):
        graph = self.graph
        folder = os.path.dirname(os.path.abspath(self.path)) if self.path else None
        for tensor in graph.initializer:
            self.consts[tensor.name] = Const(tensor.dims, proto=tensor, folder=folder, sources=(tensor.name,))
            self.initializers[tensor.name] = tensor
        for sparse in graph.sparse_initializer:
            self.consts[sparse.values.name or sparse.indices.name] = Const(sparse.dims)
        shape = self.read_input()
        self.prepare(graph.node)
        dependent = next((index for index, op in enumerate(self.op_types) if op in DATA_DEPENDENT), None)
        if dependent is not None:
            raise self.fail(self.nodes[dependent], loops.DATA_DEPENDENT)
        skip, values, consts, nodes = self.skip, self.values.keys(), self.consts, self.nodes
        for index in self.walked:
            if index in skip:
                continue
            op, inputs, outputs = self.op_types[index], self.inputs_of[index], self.outputs_of[index]
            if values.isdisjoint(inputs) and op not in _ALWAYS_WALKED:  # a constant: evaluated when asked for
                consts.defer(index, inputs, outputs)
                continue
            self.index = index
            node = nodes[index]
            try:
                self.visit(node, op, inputs, outputs)
            except (IndexError, KeyError, ValueError, TypeError, ArithmeticError) as err:
                # a node missing an input or attribute the operator requires: the file is malformed
                raise self.fail(node, f"malformed node ({type(err).__name__}: {str(err)[:80]})") from None
        self.index = len(nodes)  # every node passed
        for output in graph.output:
            value = self.values.get(output.name)
            if attention.is_region(value) and not value.gate[1].closed:
                attention.close(self, value.gate[1].start, output.name)
        attention.check_closed(self)
        if not self.items:
            raise SpecError("the model has no layers cnncalc counts (only constants and reshapes)", file=self.file)
        # made from the file's name and its producer fields, not written as a spec's name: shown escaped
        document = {"name": one_line(file_stem(self.file))[:MAX_NAME_CHARS] or "model",
                    "source": one_line(self.source())[:MAX_SOURCE_CHARS], "input": list(shape[1:]),
                    "layers": [self.written(i, item) for i, item in enumerate(self.items)]}
        return parse(document, file=self.file)

    def release(self):
        """Drop what the walk holds (its constants refer back to it: a cycle only the collector would free)."""
        self.consts.clear()
        self.consts.pending.clear()
        self.consts.reader = None
        self.__dict__.clear()

    def source(self):
        model = self.model
        producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
        made = f"{producer}, " if producer else ""
        text = f"ONNX model {os.path.basename(self.file)} ({made}opset {self.opset})"
        folded = sum(1 for node, op in zip(self.nodes, self.op_types) if op == "Conv" and any(
            entry.key == "pkg.onnxscript.rewriter.rule_name" and "FuseBatchNormIntoConv" in entry.value
            for entry in node.metadata_props))
        if folded:
            text += f"; {FOLDED_BN}, at {folded} conv{'s' if folded > 1 else ''}"
        return text

    def written(self, position, item):
        """The item as a spec layer: `from` only where it is not the layer before."""
        item = dict(item)
        sources = item.pop("_from")
        previous = self.items[position - 1]["name"] if position else NETWORK_INPUT
        if sources != [previous]:
            item["from"] = sources[0] if len(sources) == 1 else sources
        # the order a person reads: name, type, from, then the keys
        head = {key: item.pop(key) for key in ("name", "type", "from") if key in item}
        return {**head, **item}

    def read_input(self):
        graph = self.graph
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            names = shown_names(i.name for i in inputs) or "none"
            raise SpecError(f"cnncalc reads models with one input; this one has {len(inputs)} ({names})",
                            file=self.file)
        tensor = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in tensor.type.tensor_type.shape.dim]
        if len(dims) not in (2, 3, 4, 5):
            dims_text = "x".join("?" if d is None else str(d) for d in dims) or "no shape"
            raise SpecError(f"the input '{shown(tensor.name)}' is {dims_text}; cnncalc reads N x C x H x W images "
                            f"(N x C x D x H x W clips, N x C x L signals, or N x features)", file=self.file)
        batch, native = dims[0] or 1, tuple(dims[1:])
        if native[0] is None:
            raise SpecError(f"the input '{shown(tensor.name)}' has a dynamic channel count", file=self.file)
        chosen = native if self.input_override is None else tuple(self.input_override(native))
        if None in chosen:
            dims_text = "x".join("?" if d is None else str(d) for d in ("N",) + native)
            raise SpecError(f"the input '{shown(tensor.name)}' has a dynamic size ({dims_text}); give the size with --input, "
                            f"e.g. --input {native[0]}x224x224", file=self.file)
        if len(chosen) != len(native) or chosen[0] != native[0]:
            raise SpecError(f"--input {'x'.join(map(str, chosen))} does not fit the model's input "
                            f"{'x'.join('?' if d is None else str(d) for d in native)}", file=self.file)
        shape = (batch,) + chosen
        self.values[tensor.name] = Value(NETWORK_INPUT, shape)
        self.values_by_layer = {NETWORK_INPUT: shape[1:]}  # what a `like:` key can name
        self.native_input = native  # as exported (a size the tracer wrote as a constant is this one)
        return shape

    def prepare(self, nodes):
        """Each node's operator, inputs and outputs; who reads each tensor; which nodes the walk visits
        (:attr:`walked`) and which are pending constants; how many nodes each scope names."""
        self.readers = readers = {}
        # each node's operator, inputs and outputs, read once from the protobuf message
        # (protobuf makes an object for each field read: a microsecond a field, 20,000 nodes in a video Swin;
        # a list of inputs and of outputs by slicing, each field in one pass over the nodes)
        self.nodes = nodes = list(nodes)
        self.op_types = op_types = [node.op_type for node in nodes]
        self.outputs_of = outputs_of = [node.output[:] for node in nodes]
        self.inputs_of = inputs_of = [node.input[:] if op != "Constant" else _NO_INPUTS
                                      for node, op in zip(nodes, op_types)]
        self.scope_count = {}
        folders = {}  # '/layer1/layer1.0/conv1' -> how many nodes are named in it: each read as a scope once
        # tensor name -> the index of the node giving it
        self.makers = makers = {name: index for index, outputs in enumerate(outputs_of) for name in outputs}
        self.stored = frozenset(self.consts)  # the initializers (sparse ones too)
        # the nodes the walk visits, in graph order: those reading the network's input or what such a node gives
        # (a Shape of it among them), and every Loop, If, sequence and CastLike node (a Loop's body reads names
        # it does not list); every other node computes constants, pending until asked for (see pending.py), and
        # one computed from a Shape the walk visits once the walk has passed it (later)
        self.walked = walked = []
        self.index = -1  # the node being visited
        reached = set(self.values)  # the network's input, and what is computed from it
        sized = set()  # what is computed from constants and a computed tensor's shape (a Shape of it)
        pending, later = self.consts.pending, self.consts.later
        pending.update(makers)  # all but the outputs of the nodes walked or passed, taken out below
        sizes = []  # the Shape and Size nodes
        found = readers.get
        for index, (op, inputs, outputs) in enumerate(zip(op_types, inputs_of, outputs_of)):
            if op == "Constant":  # a third of a TorchScript graph: read only when asked for
                continue
            if not reached.isdisjoint(inputs) or op in _ALWAYS_WALKED:
                walked.append(index)
                (sized if op == "Shape" or op == "Size" else reached).update(outputs)
                for name in outputs:
                    pending.pop(name, None)
            elif not sized.isdisjoint(inputs):
                sized.update(outputs)
                for name in outputs:
                    later[name] = pending.pop(name, index)
            if inputs and op != "Shape" and op != "Size":  # they read a tensor's size, not its values
                for name in inputs:
                    known = found(name)
                    if known is None:
                        readers[name] = [index]
                    else:
                        known.append(index)
            elif inputs:
                sizes.append(index)
        readers.pop("", None)  # an optional input left out
        # a name no node, initializer or input gives: the walk visits the first node reading one, and says which
        given = self.stored | {i.name for i in self.graph.input}
        astray = [at for name in readers.keys() - makers.keys() - given for at in readers[name]]
        astray += [at for at in sizes if inputs_of[at][0] not in makers and inputs_of[at][0] not in given]
        if astray and min(astray) not in walked:
            bisect.insort(walked, min(astray))
        for node, op in zip(nodes, op_types):
            if op in ("Constant", "Identity"):
                continue  # not counted: their scopes are not read
            name = node.name
            cut = name.rfind("/")
            if cut > 0 and cut < len(name) - 1 and name[0] == "/":
                folders[name[:cut]] = folders.get(name[:cut], 0) + 1
                continue
            scope = torch_scope(name) or dynamo_scope(node)
            if scope is not None:
                self.scope_count[scope[0]] = self.scope_count.get(scope[0], 0) + 1
        for output in self.graph.output:
            readers.setdefault(output.name, []).append(None)
        for folder, count in folders.items():  # the scope of '/layer1/layer1.0/conv1/Conv' is its folder's
            path = torch_scope(folder + "/_")[0]
            self.scope_count[path] = self.scope_count.get(path, 0) + count

    # --- naming -----------------------------------------------------------------------------------

    def layer_name(self, node, weight=None, suffix="", op_name=None, fixed=None):
        scope = torch_scope(node.name) or dynamo_scope(node) or readers_scope(node, [
            self.nodes[at] for name in node.output for at in self.readers.get(name, []) if at is not None])
        if fixed:
            base = fixed
        elif scope is not None:
            path, op = scope
            op = op_name or op
            if not path:
                base = op.lower()
            elif self.scope_count.get(path, 0) == 1 and node.op_type not in FUNCTIONAL:
                base = path
            else:
                base = f"{path}.{op.lower()}"
        elif weight and weight.endswith(".weight") and len(weight) > 7:
            base = weight[:-7]
        elif node.name:
            base = node.name[5:] if node.name.startswith("node_") else node.name
        else:
            base = node.op_type.lower()
        base = ".".join(part for part in base.replace("/", ".").replace(":", ".").split(".") if part) or "layer"
        base = shortened(base + suffix, MAX_NAME_CHARS - _COUNT_ROOM)
        if base == NETWORK_INPUT:
            base = "input_"
        name, count = base, self.last_count.get(base, 1)
        if count > 1:
            name = f"{base}_{count}"
        while name in self.names:
            count += 1
            name = f"{base}_{count}"
        self.names.add(name)
        self.last_count[base] = count
        return name

    # --- what the operator functions use ----------------------------------------------------------

    def emit(self, node, type_name, sources, keys=None, weight=None, suffix="", op_name=None, layout=None,
             any_layout=False, base=None):
        """Add a layer reading ``sources`` (tensor names); size it with its rule; return its Value, whose
        ONNX dims are held in ``layout`` (None: the spec's order; a channels-last layout for a layer that
        acts on the channels at each position, as Linear and LayerNorm on a permuted tensor)."""
        if len(self.items) >= MAX_LAYERS:
            raise SpecError(f"the model has more than {MAX_LAYERS:,} layers", file=self.file)
        inputs = [self.value(node, source, any_layout=any_layout or layout is not None) for source in sources]
        name = self.layer_name(node, weight, suffix, op_name, base)
        item = {"name": name, "type": type_name, **(keys or {}), "_from": [v.layer for v in inputs]}
        decl = LayerDecl(name, type_name, {k: v for k, v in item.items() if k not in ("name", "type", "_from")},
                         item["_from"], self.file, None, {}, None)
        batch = inputs[0].spec[0]  # not the ONNX dims' first: MobileViT's patches merge the batch into it
        references = {key: self.values_by_layer[item[key]] for key in ("like",) if key in item}
        try:
            cost = rules.apply(decl, [v.rule_shape() for v in inputs], references=references)
        except SpecError as err:
            raise self.fail(node, err.message) from None
        self.items.append(item)
        self.by_name[name] = item
        self.costs[name] = cost
        self.emitted_from[name] = list(sources)
        self.weights_of[name] = weight
        spec = (batch,) + tuple(cost.shape)
        if is_tokens(cost.shape):  # tokens, or tokens transposed (MLP-Mixer's token mixing)
            return Value(name, laid_out(spec, layout), tokens=True, layout=layout)
        if layout is not None and len(layout) != len(spec):
            raise self.unsupported(node, f"its output {shape_text(spec[1:])} cannot be held channels-last")
        return Value(name, laid_out(spec, layout), layout=layout)

    def retract(self, name):
        """Take back the last layer emitted (a projection an attention region takes into itself)."""
        item = self.items.pop()
        assert item["name"] == name
        del self.by_name[name]

    def value(self, node, name, any_layout=False):
        """The computed tensor ``name``; a channels-last or token tensor only when ``any_layout`` (the
        operator functions that read the channels where they are say so)."""
        found = self.values.get(name)
        if found is None:
            if name in self.consts:
                raise self.unsupported(node, f"input '{shown(name)}' is a constant where cnncalc expects a computed "
                                             f"tensor")
            raise self.fail(node, f"input '{shown(name)}' is not computed by any earlier node")
        if found.gate is not None:
            what = {"shuffle": "a channel shuffle", "shuffled": "a channel shuffle", "pad": "a Pad",
                    "view": "a map split into windows (MaxViT's partition)"}.get(
                found.gate[0], "an activation")
            raise self.unsupported(node, f"input '{shown(name)}' is part of {what} cnncalc could not place")
        if (found.layout is not None or found.tokens) and not any_layout:
            # a layout may say what it holds (MobileViT v2's patches)
            what = "tokens" if found.tokens else getattr(found.layout, "what", "a channels-last tensor")
            raise self.unsupported(node, f"input '{shown(name)}' is {shape_text(found.shape[1:])}, {what} (the channels "
                                         f"on axis {found.channel_axis}), where cnncalc reads this operator on "
                                         f"N x C x ... only")
        return found

    def const(self, node, name, what="a constant"):
        found = self.consts.get(name)
        if found is None:
            raise self.unsupported(node, f"input '{shown(name)}' must be {what} (an initializer or Constant)")
        return found

    def known(self, node, name, what):
        """The value of a small constant input, or a clear error."""
        const = self.const(node, name, what)
        array = const.array()
        if array is None:
            where = ("in an external data file" if const.proto is not None else
                     f"computed by {const.origin}" if const.origin else "unknown")
            raise self.unsupported(node, f"{what} '{shown(name)}' is needed by value, but its contents are {where}")
        return array

    def ahead(self, name, depth=8):
        """A constant a pattern looks at before the walk reached it: the Constant node giving it, or the
        arithmetic on constants giving it (a weight unsqueezed to C x 1 x 1), is read now; None when it is
        not a constant."""
        if name not in self.consts and name in self.makers and depth:
            at = self.makers[name]
            maker, op, inputs = self.nodes[at], self.op_types[at], self.inputs_of[at]
            if op == "Constant":
                self.consts.constant(maker)
            elif op != "Shape" and all(not source or self.ahead(source, depth - 1) is not None for source in inputs):
                self.consts.fold(maker, inputs, op, self.outputs_of[at])
        return self.consts.get(name)

    def set_output(self, node, value, position=0):
        self.values[node.output[position]] = value

    def reader_ops(self, name):
        """The operators of the nodes that read tensor ``name`` (its reading as a graph output left out)."""
        return [self.op_types[at] for at in self.readers.get(name, []) if at is not None]

    def read_here_alone(self, name):
        """Whether the node being visited is the one node that reads tensor ``name``."""
        return self.readers.get(name, []) == [self.index]

    def only_reader(self, name):
        """The node index that alone reads tensor ``name`` (not a graph output), else None."""
        readers = self.readers.get(name, [])
        return readers[0] if len(readers) == 1 else None

    # --- visiting nodes ---------------------------------------------------------------------------

    def visit(self, node, op=None, names=None, outputs=None):
        """Read ``node``; ``op``, ``names`` (its inputs) and ``outputs`` as read by :meth:`prepare`."""
        op = op or node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise self.unsupported(node, f"operator {shown(node.domain)}.{shown(op)} is not a standard ONNX operator")
        names = node.input if names is None else names
        if op in loops.OPERATORS:
            return loops.visit(self, node, op, names)
        if op == "CastLike":  # a cast to the type of its second input: only the first matters
            if names[0] in self.consts:
                self.consts[node.output[0]] = self.consts[names[0]]
                return
            return self.set_output(node, self.value(node, names[0]).passed_on())
        values = self.values
        if not any(name in values for name in names if name):
            # constants: the walk leaves the graph's own to be evaluated when asked for, so this is a node of a
            # Loop's body, walked once a turn: evaluated now, with this turn's counter
            outputs = node.output if outputs is None else outputs
            return self.consts.constant(node) if op == "Constant" else self.consts.fold(node, names, op, outputs)
        attrs = attributes(node)  # read once (no reader changes them)
        if attention.visit(self, node, attrs):
            return
        handler = OPERATORS.get(op)
        if handler is None:
            raise self.unsupported(node)
        return handler(self, node, attrs)
