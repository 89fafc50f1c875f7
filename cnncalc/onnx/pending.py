"""The constants of an ONNX graph, each computed when it is first asked for.

A tracer's graph is mostly constants: Swin-T from TorchScript has 7,000 Constant nodes and shape arithmetic
on them for 600 nodes on the image. The walk (:class:`~cnncalc.onnx.graph.GraphReader`) does not evaluate a
node of constant inputs when it reaches it: it notes which node gives each of its outputs, and
:class:`Constants` evaluates the node (and the pending nodes it reads, in graph order) the first time a
layer, a pattern or another constant asks for one of them. Half of Swin's constant nodes are never asked
for: they compute the indices of the ScatterND that writes its shifted-window mask, whose dims are those of
the tensor it writes into (:data:`DIMS_FROM_FIRST`).
"""

from ..errors import SpecError

# operators whose folded result (dims, no value: there is no handler for them) needs only their first input:
# the indices and updates of a scatter are never evaluated (the initializers they are computed from are
# still their result's sources, found by name: see Constants.sources_of)
DIMS_FROM_FIRST = ("ScatterND", "ScatterElements")
_MALFORMED = (IndexError, KeyError, ValueError, TypeError, ArithmeticError)


class Constants(dict):
    """Tensor name -> :class:`~cnncalc.onnx.tensors.Const`, where a name whose node is pending counts as
    present (``in``) and is evaluated by ``[]`` and ``get``."""

    __slots__ = ("reader", "pending")

    def __init__(self, reader):
        super().__init__()
        self.reader = reader
        self.pending = {}  # output name -> the index of the node giving it, not evaluated yet

    def __contains__(self, name):
        return dict.__contains__(self, name) or name in self.pending

    def __missing__(self, name):
        if name in self.pending:
            self.resolve(name)
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def get(self, name, default=None):
        found = dict.get(self, name)
        if found is None and name in self.pending:
            self.resolve(name)
            found = dict.get(self, name)
        return default if found is None else found

    def defer(self, index, inputs, outputs):
        """Note node ``index`` (constant inputs ``inputs``) as giving ``outputs`` when asked; its inputs
        must be there already (an error names the first missing one now, as an evaluated node would)."""
        pending = self.pending
        for name in inputs:
            if name and name not in pending and not dict.__contains__(self, name):
                reader = self.reader
                raise reader.fail(reader.nodes[index], f"input '{_shown(name)}' is not computed by any earlier node")
        if outputs and dict.__contains__(self, outputs[0]):
            return  # already read by a pattern looking ahead (GraphReader.ahead)
        for name in outputs:
            pending[name] = index

    def resolve(self, name):
        """Evaluate the pending node giving ``name``, after the pending nodes it reads, in graph order (a
        node is evaluated after every node it reads: they come before it in the graph)."""
        reader, pending = self.reader, self.pending
        op_types, inputs_of, outputs_of = reader.op_types, reader.inputs_of, reader.outputs_of
        needed, stack = set(), [pending[name]]
        while stack:
            at = stack.pop()
            if at in needed:
                continue
            needed.add(at)
            inputs = inputs_of[at]
            if op_types[at] in DIMS_FROM_FIRST:
                inputs = inputs[:1]
            for source in inputs:
                if source in pending:
                    stack.append(pending[source])
        for at in sorted(needed):
            for output in outputs_of[at]:
                pending.pop(output, None)
            node = reader.nodes[at]
            if node.domain not in ("", "ai.onnx"):  # read here: a constant no layer asks for is never read
                raise reader.unsupported(node, f"operator {_shown(node.domain)}.{_shown(op_types[at])} is not a "
                                               f"standard ONNX operator")
            try:
                if op_types[at] == "Constant":
                    reader.constant(node)
                else:
                    reader.fold_constants(node, inputs_of[at], op_types[at], outputs_of[at])
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


def _shown(name):
    from ..errors import shown

    return shown(name)
