"""ONNX operators on the shape and layout of tensors: flatten, reshape, channel shuffle, zero pad, concat,
add, resize, and those that pass their input on (Split and Slice: slices.py).

Each operator function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes.
"""

import math

from .tensors import Const, Value, attributes, number, pair, shape_text
from ..rules import RULES
from ..spec import NETWORK_INPUT
from . import affine, branches, cait, small, tokens
from .positions import group_norm, of_computed, relayout


def pass_through(reader, node, attrs):
    """Identity, Cast, Dropout at inference, Quantize/DequantizeLinear: the input, passed on."""
    reader.set_output(node, reader.value(node, node.input[0]).passed_on())


def shape(reader, node, attrs):
    dims = reader.value(node, node.input[0], any_layout=True).shape
    start, end = attrs.get("start", 0), attrs.get("end", len(dims))
    reader.consts[node.output[0]] = reader.consts.shape(tuple(dims[start:end]))


def size(reader, node, attrs):
    array = small.array(math.prod(reader.value(node, node.input[0], any_layout=True).shape), dtype="int64")
    reader.consts[node.output[0]] = Const(array.shape, value=array)


def flatten(reader, node, attrs):
    dims = reader.value(node, node.input[0], any_layout=True).shape
    if attrs.get("axis", 1) == 2 and tokens.folded_batch_norm(reader, node, dims):
        return
    dims = reader.value(node, node.input[0]).shape
    if attrs.get("axis", 1) % len(dims) != 1:
        raise reader.unsupported(node, f"Flatten at axis {attrs.get('axis')} (cnncalc flattens each sample: "
                                       f"axis 1)")
    reader.set_output(node, reader.emit(node, "flatten", [node.input[0]]))


def squeeze(reader, node, attrs):
    dims = reader.value(node, node.input[0]).shape
    if len(node.input) > 1 and node.input[1]:
        axes = reader.known(node, node.input[1], "the axes").reshape(-1).tolist()
    else:
        axes = attrs.get("axes", [i for i, d in enumerate(dims) if d == 1 and i])
    rank = len(dims)
    if rank >= 3 and sorted(a % rank for a in axes) == list(range(2, rank)) and set(dims[2:]) == {1}:
        return reader.set_output(node, reader.emit(node, "flatten", [node.input[0]]))
    raise reader.unsupported(node, f"Squeeze of {shape_text(dims)} at axes {axes} (cnncalc reads N x C x 1 x 1 "
                                   f"squeezed to N x C as a flatten)")


def reshape(reader, node, attrs):
    source = node.input[0]
    pending = reader.values.get(source)
    if pending is not None and pending.gate and pending.gate[0] == "shuffled":
        return _end_shuffle(reader, node, pending)
    if pending is not None and pending.gate and pending.gate[0] == "weighted":  # branch weights (ResNeSt)
        target = reader.known(node, node.input[1], "the Reshape target shape").reshape(-1).tolist()
        shaped = _reshaped(pending.shape, target, 0)
        if shaped is None or not branches.reshape(reader, node, pending.shape, shaped):
            raise reader.unsupported(node, f"a Reshape of branch weights {shape_text(pending.shape)} to {target}")
        return
    dims = reader.value(node, source, any_layout=True).shape
    target = reader.known(node, node.input[1], "the Reshape target shape").reshape(-1).tolist()
    target = _reshaped(dims, target, attrs.get("allowzero", 0))
    if target is None:
        raise reader.unsupported(node, f"a Reshape of {shape_text(dims)} to "
                                       f"{shape_text(reader.consts[node.input[1]].value.tolist())}")
    if target == dims:
        return reader.set_output(node, reader.values[source].passed_on())
    if len(target) == 2 and target[0] == dims[0]:
        return reader.set_output(node, reader.emit(node, "flatten", [source]))
    if len(target) == 2 and len(dims) == 3 and target == (dims[0] * dims[1], dims[2]) \
            and tokens.folded_batch_norm(reader, node, dims):
        return
    if len(target) == 1 and dims[0] == 1 and _as_strided(reader, node):
        return
    if (tokens.reshape(reader, node, dims, target) or group_norm(reader, node, dims, target)
            or branches.reshape(reader, node, dims, target)
            or _start_shuffle(reader, node, dims, target)):
        return
    raise reader.unsupported(node, f"a Reshape of {shape_text(dims)} to {shape_text(target)} (cnncalc reads a "
                                   f"Reshape that flattens each sample, or a channel shuffle)")


def _reshaped(dims, target, allowzero):
    """The shape a Reshape of ``dims`` to ``target`` gives (0 copies, -1 infers), or None if invalid."""
    target = [dims[i] if v == 0 and not allowzero and i < len(dims) else v for i, v in enumerate(target)]
    total = math.prod(dims)
    if target.count(-1) > 1:
        return None
    if -1 in target:
        known = math.prod(v for v in target if v != -1)
        if not known or total % known:
            return None
        target[target.index(-1)] = total // known
    if math.prod(target) != total:
        return None
    return tuple(int(v) for v in target)


def reshaped_like(node, attrs, dims, consts):
    """The dims a Reshape, Squeeze, Unsqueeze, Gather (of a constant index) or Flatten gives ``dims``, with
    ``consts`` its inputs that are constants (None where not); None when they cannot be told."""
    op = node.op_type
    if op == "Flatten":
        axis = attrs.get("axis", 1) % len(dims)
        return (math.prod(dims[:axis]), math.prod(dims[axis:]))
    if op == "Reshape":
        array = consts[1].array() if consts[1] is not None else None
        return None if array is None else _reshaped(dims, array.reshape(-1).tolist(), attrs.get("allowzero", 0))
    if op == "Gather":
        array = consts[1].array() if consts[1] is not None else None
        if array is None:
            return None
        axis = attrs.get("axis", 0) % len(dims)
        return dims[:axis] + tuple(array.shape) + dims[axis + 1:]
    given = consts[1].array() if len(consts) > 1 and consts[1] is not None else None
    axes = given.reshape(-1).tolist() if given is not None else attrs.get("axes")
    if op == "Squeeze":
        axes = [a % len(dims) for a in (axes if axes is not None else [i for i, d in enumerate(dims) if d == 1])]
        return tuple(d for i, d in enumerate(dims) if i not in axes)
    if axes is None:
        return None
    shape = list(dims)
    for axis in sorted(a % (len(dims) + len(axes)) for a in axes):
        shape.insert(axis, 1)
    return tuple(shape)


def _as_strided(reader, node):
    """torch.export writes an adaptive pool's output view (as_strided) as a Reshape to [-1] and a Gather of
    constant indices: when that Gather alone reads it, the pair is read as one reshape (see gather)."""
    at = reader.only_reader(node.output[0])
    if at is None or reader.nodes[at].op_type != "Gather" or reader.nodes[at].input[0] != node.output[0]:
        return False
    reader.set_output(node, Value(None, (math.prod(reader.values[node.input[0]].shape),),
                                  gate=("flat", node.input[0])))
    return True


def unsqueeze(reader, node, attrs):
    if not branches.unsqueeze(reader, node, attrs):
        reader.value(node, node.input[0])
        raise reader.unsupported(node, "an Unsqueeze of a computed tensor (cnncalc reads the Unsqueeze that stacks "
                                       "the branches of a selective-kernel block)")


def reduce_sum(reader, node, attrs):
    if not branches.reduce_sum(reader, node, attrs):
        reader.value(node, node.input[0])
        raise reader.unsupported(node, "a ReduceSum of a computed tensor (cnncalc reads the sum over stacked "
                                       "branches)")


def gather(reader, node, attrs):
    """The Gather of an as_strided view: every element in order, so a reshape of the tensor before the
    Reshape to [-1]; passed on when it gives that tensor's shape back, a flatten when N x features."""
    if tokens.take_token(reader, node, attrs):
        return
    pending = reader.values.get(node.input[0])
    if pending is None or pending.gate is None or pending.gate[0] != "flat":
        reader.value(node, node.input[0])
        raise reader.unsupported(node, "a Gather from a computed tensor (cnncalc reads the Gather of an "
                                       "as_strided view)")
    source = pending.gate[1]
    indices = reader.known(node, node.input[1], "the Gather indices")
    original = reader.value(node, source).shape
    if attrs.get("axis", 0) != 0 or indices.reshape(-1).tolist() != list(range(math.prod(original))):
        raise reader.unsupported(node, "an as_strided view that does not take every element in order")
    if tuple(indices.shape) == original:
        return reader.set_output(node, reader.values[source].passed_on())
    if len(indices.shape) == 2 and indices.shape[0] == original[0]:
        return reader.set_output(node, reader.emit(node, "flatten", [source]))
    raise reader.unsupported(node, f"an as_strided view of {shape_text(original)} as "
                                   f"{shape_text(indices.shape)}")


# --- channel shuffle: Reshape N,C,H,W -> N,g,C/g,H,W; Transpose 0,2,1,3,4; Reshape back -------------

def _start_shuffle(reader, node, dims, target):
    """Whether this Reshape starts a channel shuffle (``shuffle``, ShuffleNet).

    It leaves a pending value that only that Transpose, then a Reshape back to N,C,H,W, may read (the
    last target is often computed after the Transpose).
    """
    if len(dims) != 4 or len(target) != 5 or target[0] != dims[0] or target[3:] != dims[2:]:
        return False
    transpose_at = reader.only_reader(node.output[0])
    if transpose_at is None or reader.nodes[transpose_at].op_type != "Transpose":
        return False
    if list(attributes(reader.nodes[transpose_at]).get("perm", [])) != [0, 2, 1, 3, 4]:
        return False
    reader.set_output(node, Value(None, target, gate=("shuffle", node.input[0], target[1])))
    return True


def transpose(reader, node, attrs):
    pending = reader.values.get(node.input[0])
    if pending is not None and pending.gate and pending.gate[0] == "shuffle":
        _, source, groups = pending.gate
        dims = pending.shape
        transposed = (dims[0], dims[2], dims[1]) + dims[3:]
        return reader.set_output(node, Value(None, transposed, gate=("shuffled", source, groups)))
    if tokens.transpose(reader, node, list(attrs.get("perm", []))) or branches.transpose(
            reader, node, list(attrs.get("perm", []))):
        return
    dims = reader.value(node, node.input[0], any_layout=True).shape
    perm = list(attrs.get("perm", reversed(range(len(dims)))))
    if perm == list(range(len(dims))):
        return reader.set_output(node, reader.values[node.input[0]].passed_on())
    if relayout(reader, node, perm):
        return
    raise reader.unsupported(node, f"a Transpose {perm} (cnncalc reads a Transpose to channels-last and back, or inside a channel shuffle "
                                   f"Reshape-Transpose-Reshape)")


def _end_shuffle(reader, node, pending):
    """The Reshape that ends a channel shuffle."""
    _, source, groups = pending.gate
    original = reader.values[source].shape
    target = reader.known(node, node.input[1], "the Reshape target shape").reshape(-1).tolist()
    if _reshaped(pending.shape, target, 0) != original:
        raise reader.unsupported(node, f"a channel shuffle that does not end as {shape_text(original)}")
    reader.set_output(node, reader.emit(node, "shuffle", [source], {"groups": groups}, op_name="shuffle"))


# --- padding and merging ---------------------------------------------------------------

def pad(reader, node, attrs):
    """A zero Pad of the spatial axes (1-, 2- or 3-d) read by a Conv alone becomes part of that Conv's padding."""
    dims = reader.value(node, node.input[0]).shape
    names = list(node.input) + [""] * 3
    if reader.opset < 11:
        pads, fill = list(attrs.get("pads", [])), attrs.get("value", 0.0)
    else:
        pads = reader.known(node, names[1], "the pads").reshape(-1).tolist()
        fill = float(reader.known(node, names[2], "the pad value").reshape(-1)[0]) if names[2] else 0.0
    at = reader.only_reader(node.output[0])
    conv = reader.nodes[at] if at is not None else None
    rank = len(dims)
    if (attrs.get("mode", "constant") != "constant" or fill != 0 or names[3] or rank not in (3, 4, 5)
            or len(pads) != 2 * rank or any(pads[i] for i in (0, 1, rank, rank + 1)) or min(pads) < 0
            or conv is None or conv.op_type != "Conv" or conv.input[0] != node.output[0]):
        raise reader.unsupported(node, "a Pad other than zeros around the spatial axes before a Conv (cnncalc "
                                       "folds such a Pad into the Conv's padding)")
    padded = dims[:2] + tuple(size + pads[axis] + pads[axis + rank] for axis, size in enumerate(dims) if axis > 1)
    extra = [int(p) for p in pads[2:rank] + pads[rank + 2:]]  # the spatial axes' begins, then their ends
    reader.set_output(node, Value(None, padded, gate=("pad", node.input[0], extra)))


def concat(reader, node, attrs):
    if branches.concat(reader, node, attrs):
        return
    if tokens.class_token(reader, node, attrs) or cait.token_concat(reader, node, attrs):
        return
    shapes = [reader.value(node, name).shape for name in node.input]
    axis = attrs.get("axis", 1) % len(shapes[0])
    if axis != 1:
        raise reader.unsupported(node, f"a Concat at axis {axis} (cnncalc concatenates channels: axis 1)")
    reader.set_output(node, reader.emit(node, "concat", list(node.input)))


def add(reader, node, attrs):
    if (cait.class_residual(reader, node) or tokens.position_embedding(reader, node) or tokens.fourier_position(reader, node)
            or affine.add(reader, node)):
        return
    of_computed(reader, node, "add", "an Add of a constant (cnncalc reads Add of two computed tensors, and MatMul + "
                                     "constant as a fully connected layer with a bias)")


# --- resizing -------------------------------------------------------------------------------------

def resize(reader, node, attrs):
    names = list(node.input) + [""] * 4
    if reader.opset < 11:
        scales_name, sizes_name = names[1], ""
    else:
        scales_name, sizes_name = names[2], names[3]
    scales = sizes = None
    if sizes_name:
        sizes = reader.known(node, sizes_name, "the Resize sizes").reshape(-1).tolist()
    elif scales_name:
        scales = reader.known(node, scales_name, "the Resize scales").reshape(-1).tolist()
    if (scales is None or not scales) and sizes is None:
        raise reader.unsupported(node, "a Resize without scales or sizes")
    _upsample(reader, node, scales, sizes, attrs.get("mode", "nearest"))


def upsample(reader, node, attrs):
    if len(node.input) > 1 and node.input[1]:
        scales = reader.known(node, node.input[1], "the Upsample scales").reshape(-1).tolist()
    else:
        scales = attrs.get("scales")
    _upsample(reader, node, scales, None, attrs.get("mode", "nearest"))


def _upsample(reader, node, scales, sizes, mode):
    """Resize/Upsample of H and W as ``upsample``: whole scales always; other scales, output sizes and
    the interpolation mode where the upsample rule takes them (``size``, ``mode``)."""
    dims = reader.value(node, node.input[0]).shape
    factors = [out / size for out, size in zip(sizes, dims)] if sizes is not None else list(scales)
    takes = RULES["upsample"].keys
    if len(factors) != 4 or factors[:2] != [1, 1] or len(dims) != 4:
        raise reader.unsupported(node, f"a {node.op_type} of {shape_text(dims)} by {factors} (cnncalc resizes H "
                                       f"and W only)")
    keys = {}
    inputs = (reader.values_by_layer[NETWORK_INPUT], reader.native_input)
    if sizes is not None and "like" in takes and any(len(shape) == 3 and list(sizes[2:]) == list(shape[1:])
                                                     for shape in inputs):
        # a resize to the network input's size (FCN's last layer: F.interpolate(size=x.shape[-2:]), which the
        # tracer writes as the constant 224): as `like: input` it follows --input, as torch does, where a scale
        # (8) gave 504 at 500 and the constant 224
        keys["like"] = NETWORK_INPUT
    elif all(float(f).is_integer() and f >= 1 for f in factors[2:]):
        keys["scale"] = pair([int(f) for f in factors[2:]])
    elif sizes is not None and "size" in takes:
        keys["size"] = pair([int(v) for v in sizes[2:]])
    elif "size" in takes and all(f > 0 for f in factors[2:]):
        keys["scale"] = [number(f) for f in factors[2:]]
    else:
        raise reader.unsupported(node, f"a {node.op_type} of {shape_text(dims)} by {factors} (cnncalc's "
                                       f"upsample takes whole-number scales of H and W)")
    interpolation = {"linear": "bilinear", "cubic": "bicubic"}.get(mode, "nearest")
    if "mode" in takes and interpolation != "nearest":
        keys["mode"] = interpolation
    reader.set_output(node, reader.emit(node, "upsample", [node.input[0]], keys))
