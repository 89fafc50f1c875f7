"""Selective-kernel attention in ONNX (SKNet, timm's SelectiveKernel): branches stacked on a new axis,
summed, weighted by a softmax across the branches, summed again.

The exporter writes the stack as Unsqueeze(axis 1) of each branch and a Concat on axis 1 (N x k x C x H x
W), the sums as ReduceSum over axis 1, the weights as a Reshape of N x kC x 1 x 1 to N x k x C x 1 x 1 and a
Softmax over axis 1, and their use as one Mul of the stack by the weights. None of these tensors is a map
the spec has; they are followed as pending values and become the layers they count as: a sum of the
branches is ``add``, the softmax ``softmax`` (over the kC values: no params, no MACs either way), the
weighting of branch i a ``chunk`` (i of k) of the weights and a ``mul``. Each function returns whether it
read the node.
"""

from .tensors import Value, attributes


def _gate(reader, name, kind):
    value = reader.values.get(name)
    return value.gate if value is not None and value.gate is not None and value.gate[0] == kind else None


def unsqueeze(reader, node, attrs):
    """Unsqueeze of a map at axis 1, read by a Concat on axis 1: one branch of a stack."""
    value = reader.values.get(node.input[0])
    if value is None or value.gate is not None or value.layout is not None or value.tokens:
        return False
    axes = reader.known(node, node.input[1], "the axes").reshape(-1).tolist() if len(node.input) > 1 else (
        attrs.get("axes", []))
    at = reader.only_reader(node.output[0])
    if [a % (len(value.shape) + 1) for a in axes] != [1] or at is None or reader.nodes[at].op_type != "Concat":
        return False
    shape = value.shape[:1] + (1,) + value.shape[1:]
    reader.set_output(node, Value(None, shape, gate=("branches", [node.input[0]])))
    return True


def concat(reader, node, attrs):
    """Concat on axis 1 of branches: the stack."""
    gates = [_gate(reader, name, "branches") for name in node.input]
    if not gates or None in gates or attributes(node).get("axis", 0) % 5 != 1:
        return False
    names = [name for gate in gates for name in gate[1]]
    first = reader.values[node.input[0]].shape
    shape = first[:1] + (len(names),) + first[2:]
    reader.set_output(node, Value(None, shape, gate=("branches", names)))
    return True


def reduce_sum(reader, node, attrs):
    """ReduceSum over axis 1 of a stack (keepdims 0): the sum of its branches, ``add``."""
    gate = _gate(reader, node.input[0], "branches")
    if gate is None:
        return False
    if len(node.input) > 1 and node.input[1]:
        axes = reader.known(node, node.input[1], "the axes").reshape(-1).tolist()
    else:
        axes = attrs.get("axes", [])
    if [a % 5 for a in axes] != [1] or attrs.get("keepdims", 1):
        raise reader.unsupported(node, f"a ReduceSum of stacked branches over axes {axes} (cnncalc reads the sum "
                                       f"over the branches, axis 1, without keepdims)")
    reader.set_output(node, reader.emit(node, "add", list(gate[1]), op_name="add"))
    return True


def reshape(reader, node, dims, target):
    """N x kC x 1 x 1 to N x k x C x 1 x 1, read by a Softmax over axis 1: the branches' weights. Also
    ResNeSt's forms: a map N x rC x H x W split into r branches (N x r x C x H x W, summed or weighted: r
    ``chunk`` layers), its weights N x rC x 1 x 1 as N x card x r x -1 for a Softmax across the radix
    (rSoftMax), and the reshapes of those weights on their way to the Mul."""
    pending = reader.values.get(node.input[0])
    if pending is not None and pending.gate is not None and pending.gate[0] == "weighted":
        reader.set_output(node, Value(None, target, gate=pending.gate))
        return True
    if pending is None or pending.gate is not None or pending.layout is not None or pending.tokens:
        return False
    readers = reader.reader_ops(node.output[0])
    if len(dims) == 4 and len(target) == 5 and target[0] == dims[0] and target[3:] == dims[2:] \
            and target[1] * target[2] == dims[1] and target[1] >= 2 and readers \
            and set(readers) <= {"ReduceSum", "Mul"}:
        count, parts = target[1], []
        for index in range(count):
            value = reader.emit(node, "chunk", [node.input[0]], {"chunks": count, "index": index},
                                suffix=f".{index}", op_name="radix")
            reader.values[f"{node.output[0]}#r{index}"] = value
            parts.append(f"{node.output[0]}#r{index}")
        reader.set_output(node, Value(None, target, gate=("branches", parts)))
        return True
    if len(dims) == 4 and dims[2:] == (1, 1) and len(target) == 4 and target[0] == dims[0] \
            and target[1] * target[2] * target[3] == dims[1] and target[2] >= 2 and readers == ["Transpose"]:
        at = reader.only_reader(node.output[0])
        if list(attributes(reader.nodes[at]).get("perm", [])) == [0, 2, 1, 3]:
            reader.set_output(node, Value(None, target, gate=("weights", node.input[0], target[2])))
            return True
    if len(dims) != 4 or dims[2:] != (1, 1) or len(target) != 5 or target[0] != dims[0] or target[3:] != (1, 1) \
            or target[1] * target[2] != dims[1] or target[1] < 2:
        return False
    at = reader.only_reader(node.output[0])
    if at is None or reader.nodes[at].op_type != "Softmax" or attributes(reader.nodes[at]).get("axis", 1) % 5 != 1:
        return False
    reader.set_output(node, Value(None, target, gate=("weights", node.input[0], target[1])))
    return True


def softmax(reader, node):
    """The Softmax over the branches (axis 1): ``softmax`` of the kC values."""
    gate = _gate(reader, node.input[0], "weights")
    if gate is None:
        return False
    if attributes(node).get("axis", 1) % len(reader.values[node.input[0]].shape) != 1:
        raise reader.unsupported(node, "a Softmax of branch weights over an axis other than the branches")
    value = reader.emit(node, "softmax", [gate[1]])
    reader.values[gate[1] + "#softmax"] = value
    reader.set_output(node, Value(None, reader.values[node.input[0]].shape,
                                  gate=("weighted", gate[1] + "#softmax", gate[2])))
    return True


def mul(reader, node):
    """The stack times the softmax weights: branch i times chunk i of k of the weights (``chunk``, ``mul``)."""
    stack = next((_gate(reader, name, "branches") for name in node.input if _gate(reader, name, "branches")), None)
    weights = next((_gate(reader, name, "weighted") for name in node.input if _gate(reader, name, "weighted")), None)
    if stack is None or weights is None:
        return False
    branches, (_, source, count) = stack[1], weights
    if len(branches) != count:
        raise reader.unsupported(node, f"{len(branches)} branches weighted by a softmax over {count}")
    products = []
    for index, branch in enumerate(branches):
        part = reader.emit(node, "chunk", [source], {"chunks": count, "index": index}, suffix=f".{index}",
                           op_name="weights")
        reader.values[f"{node.output[0]}#w{index}"] = part
        product = reader.emit(node, "mul", [branch, f"{node.output[0]}#w{index}"], suffix=f".{index}")
        reader.values[f"{node.output[0]}#m{index}"] = product
        products.append(f"{node.output[0]}#m{index}")
    shape = reader.values[branches[0]].shape
    reader.set_output(node, Value(None, shape[:1] + (count,) + shape[1:], gate=("branches", products)))
    return True


def transpose(reader, node, perm):
    """rSoftMax's Transpose [0, 2, 1, 3] of the weights before their Softmax."""
    gate = _gate(reader, node.input[0], "weights")
    if gate is None or perm != [0, 2, 1, 3]:
        return False
    dims = reader.values[node.input[0]].shape
    reader.set_output(node, Value(None, tuple(dims[p] for p in perm), gate=gate))
    return True
