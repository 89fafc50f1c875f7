"""The constants of an ONNX graph, each computed when it is first asked for.

A tracer's graph is mostly constants: Swin-T from TorchScript has 7,000 Constant nodes and shape arithmetic
on them for 600 nodes on the image. The walk (:class:`~cnncalc.onnx.graph.GraphReader`) does not evaluate a
node of constant inputs when it reaches it: it notes which node gives each of its outputs, and
:class:`Constants` evaluates the node (and the pending nodes it reads, in graph order) the first time a
layer, a pattern or another constant asks for one of them. Half of Swin's constant nodes are never asked
for: they compute the indices of the ScatterND that writes its shifted-window mask, whose dims are those of
the tensor it writes into (:data:`DIMS_FROM_FIRST`).
"""

import math

from . import constants as onnx_constants
from . import small
from ..errors import SpecError, shown
from .tensors import MAX_VALUE_ELEMENTS, Const, attributes

prod = math.prod
_evaluated = dict.get

# operators whose folded result (dims, no value: there is no handler for them) needs only their first input:
# the indices and updates of a scatter are never evaluated (the initializers they are computed from are
# still their result's sources, found by name: see Constants.sources_of)
DIMS_FROM_FIRST = ("ScatterND", "ScatterElements")
_MALFORMED = (IndexError, KeyError, ValueError, TypeError, ArithmeticError)
_NO_SOURCES = frozenset()
_STORED = ("Cast", "DequantizeLinear", "QuantizeLinear", "Reshape", "Transpose", "Squeeze", "Unsqueeze")
_SHARED_BYTES = 1024  # a Constant tensor of at most this many bytes is read once per distinct value


def _after_constant(raw):
    """The bytes of a serialized Constant node after its operator (its attributes, doc string, domain): what
    its value depends on; None unless the node is laid out as protobuf writes it: one output, a name, then
    the operator (each of fewer than 128 bytes: their sizes one byte each)."""
    try:
        at = raw[1] + 2
        if raw[0] != 0x12 or at > 129:
            return None
        if raw[at] == 0x1a:  # the name
            size = raw[at + 1]
            if size > 127:
                return None
            at += size + 2
    except IndexError:
        return None
    return raw[at + 10:] if raw.startswith(b"\x22\x08Constant", at) else None


class _Origin:
    """The text naming the node that made a Const of unknown contents, made when an error prints it (a
    weight transposed or a scatter's result, a thousand of them in a video Swin, are never named)."""

    __slots__ = ("node", "op")

    def __init__(self, node, op):
        self.node, self.op = node, op

    def __str__(self):
        return f"node '{shown(self.node.name)}' ({shown(self.op)})"


class Constants(dict):
    """Tensor name -> :class:`~cnncalc.onnx.tensors.Const`, where a name whose node is pending counts as
    present (``in``) and is evaluated by ``[]`` and ``get``."""

    __slots__ = ("reader", "pending", "later", "folded", "shared", "by_node", "results", "alike")

    def __init__(self, reader):
        super().__init__()
        self.reader = reader
        self.pending = {}  # output name -> the index of the node giving it, not evaluated yet
        # output name -> the index of a node the walk passes that gives it from constants and the shape of a computed
        # tensor (a Shape the walk visits): pending once the walk has passed it (see waiting)
        self.later = {}
        self.folded = 0  # elements read and made by constant folding (see constants.MAX_FOLDED_ELEMENTS)
        # one Const for each distinct small Constant tensor (its bytes) and each distinct shape (dims, stored):
        # a tracer writes the same ones thousands of times (Swin-T: 2,800 Constant nodes)
        self.shared = {}
        self.by_node = {}  # a Constant node's bytes after its operator -> its shared Const (see constant)
        # (operator, attributes, folding on, the input Consts themselves: a Const equals only itself) -> the
        # Consts it gave, the elements it cost, and the inputs: the same arithmetic in every block is evaluated once
        self.results = {}
        self.alike = {}  # (the results of constants.evaluate, outputs, stored, sources) -> the Consts made of them

    # `name in self.pending or name in self.later and self.waiting(name)` below is waiting(name) without a call
    # for a name in neither: most of the names asked for

    def __contains__(self, name):
        return dict.__contains__(self, name) or name in self.pending or name in self.later and self.waiting(name)

    def __missing__(self, name):
        if self.waiting(name):
            self.resolve(name)
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def get(self, name, default=None):
        found = dict.get(self, name)
        if found is None and (name in self.pending or name in self.later and self.waiting(name)):
            self.resolve(name)
            found = dict.get(self, name)
        return default if found is None else found

    def waiting(self, name):
        """Whether ``name`` is a constant not evaluated yet: pending, or in :attr:`later` and given by a node
        before the one the walk visits (pending from now, as the walk would have deferred it when it passed that
        node)."""
        if name in self.pending:
            return True
        at = self.later.get(name)
        if at is None or at >= self.reader.index:
            return False
        for output in self.reader.outputs_of[at]:
            if self.later.pop(output, None) is not None and not dict.__contains__(self, output):
                self.pending[output] = at
        return True

    def defer(self, index, inputs, outputs):
        """Note node ``index`` (constant inputs ``inputs``) as giving ``outputs`` when asked; its inputs
        must be there already (an error names the first missing one now, as an evaluated node would)."""
        pending = self.pending
        for name in inputs:  # given by a node before this one (they were noted pending as the graph was read)
            if name and not dict.__contains__(self, name) and pending.get(name, self.later.get(name, index)) >= index:
                reader = self.reader
                raise reader.fail(reader.nodes[index], f"input '{shown(name)}' is not computed by any earlier node")
        if outputs and dict.__contains__(self, outputs[0]):
            return  # already read by a pattern looking ahead (GraphReader.ahead)
        for name in outputs:
            pending[name] = index

    def resolve(self, name):
        """Evaluate the pending node giving ``name``, after the pending nodes it reads, in graph order (a
        node is evaluated after every node it reads: they come before it in the graph)."""
        reader, pending, later = self.reader, self.pending, self.later
        op_types, inputs_of, outputs_of = reader.op_types, reader.inputs_of, reader.outputs_of
        first = pending[name]
        inputs = inputs_of[first]
        if not any(source in pending or source in later for source in inputs):  # evaluated: it alone
            needed, stack = (first,), ()
        else:
            needed, stack = set(), [first]
        while stack:
            at = stack.pop()
            if at in needed:
                continue
            needed.add(at)
            inputs = inputs_of[at]
            if op_types[at] in DIMS_FROM_FIRST:
                inputs = inputs[:1]
            for source in inputs:
                if source in pending or source in later and self.waiting(source):
                    if pending[source] >= at:  # graph order is the order of evaluation
                        raise reader.fail(reader.nodes[at], f"input '{shown(source)}' is not computed by any "
                                                            f"earlier node")
                    stack.append(pending[source])
        for at in sorted(needed) if len(needed) > 1 else needed:
            for output in outputs_of[at]:
                pending.pop(output, None)
            node = reader.nodes[at]
            if node.domain not in ("", "ai.onnx"):  # read here: a constant no layer asks for is never read
                raise reader.unsupported(node, f"operator {shown(node.domain)}.{shown(op_types[at])} is not a "
                                               f"standard ONNX operator")
            try:
                if op_types[at] == "Constant":
                    self.constant(node, outputs_of[at])
                else:
                    self.fold(node, inputs_of[at], op_types[at], outputs_of[at])
            except SpecError:
                raise
            except _MALFORMED as err:  # named after the node evaluated, not the one that asked
                raise reader.fail(node, f"malformed node ({type(err).__name__}: {str(err)[:80]})") from None

    def sources_of(self, names):
        """The initializers the constants ``names`` are computed from, as their evaluation would give them,
        without evaluating them or the pending nodes they read: the sources of every evaluated constant they
        are computed from (a Shape reads none, a Constant has none)."""
        reader, pending = self.reader, self.pending
        op_types, inputs_of = reader.op_types, reader.inputs_of
        found, seen, stack = set(), set(), list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            const = dict.get(self, name)
            if const is not None:
                found.update(const.sources)
                continue
            at = pending.get(name)
            if at is not None and op_types[at] not in ("Shape", "Constant"):
                stack.extend(inputs_of[at])
        return frozenset(found)


    # --- evaluating a node ------------------------------------------------------------------------

    def constant(self, node, outputs=None):
        """A Constant node's output (``outputs``: its outputs as GraphReader.prepare read them)."""
        # a node of the same attributes as an earlier one (its bytes after its operator: the output and the
        # name differ) takes that one's shared Const, its tensor not read (protobuf makes an object of each
        # field read: the node's bytes cost less than its attribute's tensor)
        key = _after_constant(node.SerializeToString())
        if key is not None:
            const = self.by_node.get(key)
            if const is not None:
                dict.__setitem__(self, outputs[0] if outputs else node.output[0], const)
                return
        output = node.output[0]
        attribute = node.attribute
        if len(attribute) == 1:  # as exporters write it: one attribute, `value`
            tensor = attribute[0].t if attribute[0].name == "value" else None
        else:
            tensor = next((a.t for a in attribute if a.name == "value"), None)
        if tensor is not None:
            tensor_key = tensor.SerializeToString()
            if len(tensor_key) > _SHARED_BYTES:
                dict.__setitem__(self, output, Const(tensor.dims, proto=tensor))
                return
            # arrays and Consts are never changed by their readers: each distinct one is shared
            const = self.shared.get(tensor_key)
            if const is None:
                const = self.shared[tensor_key] = Const(tensor.dims, proto=tensor)
            if key is not None:
                self.by_node[key] = const
            dict.__setitem__(self, output, const)
            return
        values = attributes(node)
        for key, kind in (("value_int", "int64"), ("value_ints", "int64"), ("value_float", "float32"),
                          ("value_floats", "float32")):
            if key in values:
                array = small.array(values[key], dtype=kind)
                dict.__setitem__(self, output, Const(array.shape, value=array))
                return
        dict.__setitem__(self, output, Const(None, origin=f"Constant node '{shown(node.name)}'"))

    def shape(self, dims, stored=True):
        """The Const of a Shape: the int64 values ``dims`` (a tuple), one Const for each distinct one."""
        key = (dims, stored)
        const = self.shared.get(key)
        if const is None:
            value = small.array(dims, dtype="int64")
            const = self.shared[key] = Const(value.shape, value=value, stored=stored)
        return const

    def fold(self, node, names, op, outputs):
        """A node whose inputs are all constants, ``names`` (its inputs), ``op`` and ``outputs`` as
        GraphReader.prepare read them: evaluated when it is shape arithmetic (constants.evaluate), else its
        dims when they follow from its inputs'."""
        if op == "Identity" and names[0] in self:
            # the exporter shares an initializer through Identity: the same tensor under another name
            dict.__setitem__(self, outputs[0], self[names[0]])
            return
        if op in DIMS_FROM_FIRST:  # the others are not evaluated: only their sources are the result's
            inputs = [self.get(names[0]) if names[0] else None] + [None] * (len(names) - 1)
            later = self.sources_of([name for name in names[1:] if name])
        else:  # an input evaluated already is found without a Python call
            inputs = [(_evaluated(self, name) or self.get(name)) if name else None for name in names]
            later = _NO_SOURCES
        folded, absent = self.folded, False
        # the elements folding reads as arrays: those of inputs of at most MAX_VALUE_ELEMENTS (a larger one is known
        # by its dims only and costs nothing; Swin's shifted-window masks, 150,000 elements a node, spent the
        # model's budget before its last stage); a plain loop: every folded node comes here
        for const in inputs:
            if const is None:
                absent = True
                continue
            dims = const.dims
            if dims is not None:
                size = prod(dims)
                if size <= MAX_VALUE_ELEMENTS:
                    folded += size
        if absent:
            missing = [name for name, const in zip(names, inputs) if name and name not in self]
            if missing:
                raise self.reader.fail(node, f"input '{shown(missing[0])}' is not computed by any earlier node")
        if op == "Shape" and inputs[0] is not None and inputs[0].dims is not None:
            attrs = attributes(node)
            dims = inputs[0].dims
            dict.__setitem__(self, outputs[0], self.shape(dims[attrs.get("start", 0):attrs.get("end", len(dims))],
                                                          stored=False))
            return
        fold = folded <= onnx_constants.MAX_FOLDED_ELEMENTS  # read here: a test lowers it
        self.folded = folded
        if op in DIMS_FROM_FIRST:  # no handler: the dims of its first input (as constants.compute gives them),
            key, results = None, [(inputs[0].dims if inputs[0] is not None else None, None)]  # never shared
        else:
            attribute = node.attribute  # the key: the node's attributes' bytes and its input Consts (by identity)
            if attribute:
                settings = attribute[0].SerializeToString() if len(attribute) == 1 else \
                    b"".join([a.SerializeToString() for a in attribute])
            else:
                settings = b""
            key = (op, settings, fold, *inputs)
            found = self.results.get(key)
            if found is not None:  # computed before from the same Consts: the same results, the same cost
                self.folded = folded + found[1]
                consts = found[0]
                if len(outputs) == 1 and consts:
                    dict.__setitem__(self, outputs[0], consts[0])
                else:
                    for name, const in zip(outputs, consts):
                        dict.__setitem__(self, name, const)
                return
            results = onnx_constants.evaluate(node, inputs, attributes(node), self.reader.opset, fold=fold, op=op,
                                              names=names)
        made = 0
        for _, value in results:
            if value is not None:
                made += value.size
        self.folded += made
        stored = op in _STORED and inputs[0] is not None and inputs[0].stored
        sources = later.union(*[const.sources for const in inputs if const is not None and const.sources])
        # the results of the value memo (the same values from other Consts) give the same Consts: what reads
        # them finds its results in self.results, not evaluated again
        alike = (id(results), len(outputs), stored, sources)
        found = self.alike.get(alike) if key is not None else None
        if found is not None:
            consts = found[1]
            for name, const in zip(outputs, consts):
                dict.__setitem__(self, name, const)
            self.results[key] = (consts, made, inputs)
            return
        origin, consts = None, []
        for position, name in enumerate(outputs):
            dims, value = results[position] if results and position < len(results) else (None, None)
            if value is None and origin is None:
                origin = _Origin(node, op)
            const = Const(dims, value=value, origin=None if value is not None else origin, stored=stored,
                          sources=sources)
            dict.__setitem__(self, name, const)
            consts.append(const)
        if origin is None and key is not None:  # no node name in any of them: shared
            self.alike[alike] = (results, consts)
            self.results[key] = (consts, made, inputs)
