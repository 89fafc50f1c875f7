"""EfficientViT's (MIT) linear attention in ONNX: timm's LiteMLA, after its q/k/v conv and multi-scale aggregation
(convs, a Concat: read as themselves).

The map N x C x H x W is viewed as heads: Reshape N x G x 3d x H*W (C = G*3d), Transpose [0, 1, 3, 2], cut in q, k
and v on the last axis (a Split; TorchScript: three Slices whose bounds it computes from the Shape), ReLU on q
and k, v padded with a column of ones (Pad; TorchScript computes the pads), then MatMul relu(k)^T [v, 1] and
relu(q) times that (both in float: Casts), the last column split off (Slices) plus eps divides the others,
Transpose [0, 1, 3, 2] and Reshape to N x G*d x H x W. That region is followed tensor by tensor here, its
MatMuls' MACs counted (M*N*K each, over the batch axes), and it becomes one ``linearattention`` layer with
``heads: G`` when its rule gives exactly the counted MACs and the output's channels (no params: nothing in it is
learned). Anything else reading the region's tensors, or a constant in it that is not one number, is refused in
one line naming the node.
"""

import math

from . import small
from .tensors import Const, Value, attributes, elements


class Region:
    """What a linear-attention region has seen: its input map, the Reshape that started it, its counts."""

    def __init__(self, source, start, dims, heads, dim):
        self.source, self.start, self.dims = source, start, dims
        self.heads, self.dim = heads, dim
        self.macs = self.products = self.relus = self.pads = 0


def start(reader, node, attrs):
    """Whether ``node`` was read here: a step of a region, or the Reshape that starts one."""
    regions = [v.gate[1] for v in (reader.values.get(name) for name in node.input if name)
               if v is not None and v.gate is not None and v.gate[0] == "lite"]
    if regions:
        return _step(reader, node, attrs, regions[0])
    if node.op_type != "Reshape" or len(node.input) < 2 or node.input[0] not in reader.values:
        return False
    value = reader.values[node.input[0]]
    if value.gate is not None or value.layout is not None or value.tokens or len(value.shape) != 4:
        return False
    n, channels, h, w = value.shape
    target = _target(reader, node, attrs, value.shape)
    if target is None or len(target) != 4 or target[0] != n or target[3] != h * w or target[2] % 3 \
            or target[1] * target[2] != channels or not _opens(reader, node):
        return False
    region = Region(node.input[0], node, value.shape, target[1], target[2] // 3)
    reader.set_output(node, Value(None, target, gate=("lite", region)))
    return True


def _opens(reader, node):
    """Whether the Reshape is read by a Transpose [0, 1, 3, 2] alone, itself read by a Split or Slices only."""
    at = reader.only_reader(node.output[0])
    if at is None or reader.nodes[at].op_type != "Transpose" \
            or list(attributes(reader.nodes[at]).get("perm", [])) != [0, 1, 3, 2]:
        return False
    readers = reader.readers.get(reader.nodes[at].output[0], [])
    return bool(readers) and all(i is not None and reader.nodes[i].op_type in ("Split", "Slice") for i in readers)


def _target(reader, node, attrs, dims):
    from .reshapes import _reshaped

    const = reader.ahead(node.input[1])
    array = const.array() if const is not None else None
    return None if array is None else _reshaped(dims, array.reshape(-1).tolist(), attrs.get("allowzero", 0))


def _step(reader, node, attrs, region):
    op = node.op_type
    inputs = [reader.values.get(name) if name else None for name in node.input]
    dims = inputs[0].shape if inputs[0] is not None else None
    if op == "Shape":
        array = small.array(dims[attrs.get("start", 0):attrs.get("end", len(dims))], dtype="int64")
        reader.consts[node.output[0]] = Const(array.shape, value=array)
        return True
    if op in ("Cast", "Identity", "Relu"):
        region.relus += op == "Relu"
        return _set(reader, node, region, dims)
    if op == "Transpose":
        perm = list(attrs.get("perm", reversed(range(len(dims)))))
        return _set(reader, node, region, tuple(dims[i] for i in perm))
    if op == "Slice":
        starts, ends, axes, steps = (_known(reader, node, i) for i in range(1, 5))
        axes = axes if axes is not None else list(range(len(starts or ())))
        steps = steps if steps is not None else [1] * len(axes)
        if starts is None or ends is None or dims is None:
            raise _refused(reader, node, region, "its bounds are not constants")
        out = list(dims)
        for begin, end, axis, step in zip(starts, ends, axes, steps):
            out[axis % len(dims)] = len(range(dims[axis % len(dims)])[slice(begin, end, step)])
        return _set(reader, node, region, tuple(out))
    if op == "Split":
        axis = attrs.get("axis", 0) % len(dims)
        sizes = _known(reader, node, 1) or attrs.get("split")
        if sizes is None:
            parts = len(node.output)
            size = -(-dims[axis] // parts)
            sizes = [size] * (parts - 1) + [dims[axis] - size * (parts - 1)]
        for position, size in enumerate(sizes):
            reader.set_output(node, Value(None, dims[:axis] + (size,) + dims[axis + 1:], gate=("lite", region)),
                              position)
        return True
    if op == "Pad":
        pads = _known(reader, node, 1) if len(node.input) > 1 else attrs.get("pads")
        value = _known(reader, node, 2) if len(node.input) > 2 and node.input[2] else [0]
        if pads is None or attrs.get("mode", b"constant") not in (b"constant", "constant") \
                or len(pads) != 2 * len(dims) or len(node.input) > 3 or len(value) != 1:
            raise _refused(reader, node, region, "its pads are not constants")
        region.pads += 1
        return _set(reader, node, region, tuple(d + pads[i] + pads[i + len(dims)] for i, d in enumerate(dims)))
    if op == "MatMul":
        if any(v is None for v in inputs):
            raise _refused(reader, node, region, "a MatMul by a constant")
        a, b = inputs[0].shape, inputs[1].shape
        if len(a) != len(b) or a[:-2] != b[:-2] or a[-1] != b[-2]:
            raise _refused(reader, node, region, f"a MatMul of {a} by {b}")
        region.macs += math.prod(a[:-2]) * a[-2] * b[-1] * a[-1]
        return _set(reader, node, region, a[:-1] + b[-1:])
    if op in ("Add", "Div", "Mul", "Sub"):
        shapes = []
        for name, value in zip(node.input, inputs):
            if value is None:
                const = reader.ahead(name)
                if const is None or const.dims is None or elements(const.dims) != 1:
                    raise _refused(reader, node, region, "an operand that is not one number")
            else:
                shapes.append(value.shape)
        return _set(reader, node, region, _broadcast(shapes))
    if op == "Reshape":
        return _close(reader, node, attrs, region, dims)
    raise _refused(reader, node, region, f"a {op}")


def _set(reader, node, region, dims):
    reader.set_output(node, Value(None, dims, gate=("lite", region)))
    return True


def _known(reader, node, position):
    """The values of the constant input at ``position`` as a list; None when absent or unknown."""
    if len(node.input) <= position or not node.input[position]:
        return None
    const = reader.ahead(node.input[position])
    array = const.array() if const is not None else None
    return None if array is None else [int(v) if float(v).is_integer() else float(v) for v in array.reshape(-1)]


def _broadcast(shapes):
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    return tuple(max(sizes) for sizes in zip(*padded))


def _refused(reader, node, region, what):
    return reader.unsupported(node, f"{what} inside EfficientViT's linear attention (LiteMLA: the Reshape of the map "
                                    f"into heads at '{region.start.name}') cnncalc could not place")


def _close(reader, node, attrs, region, dims):
    """The Reshape back to a map: one ``linearattention`` layer, when its rule counts what the region counted."""
    n, _, h, w = region.dims
    target = _target(reader, node, attrs, dims)
    heads, dim = region.heads, region.dim
    expected = 2 * heads * h * w * dim * (dim + 1)
    if target is None or len(target) != 4 or target[0] != n or target[2:] != (h, w) or target[1] != heads * dim \
            or region.macs != expected or region.relus != 2 or region.pads != 1:
        raise _refused(reader, node, region, f"a Reshape to {target} after products of {region.macs:,} MACs "
                                             f"(linearattention with {heads} heads of {dim} counts {expected:,}, on "
                                             f"two ReLUs and one Pad)")
    result = reader.emit(region.start, "linearattention", [region.source], {"heads": heads}, op_name="attn")
    reader.set_output(node, result)
    return True
