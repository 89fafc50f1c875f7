"""LeViT's attention in ONNX: projections that are LinearNorms (a Linear and a BatchNorm over the tokens'
features, read as ``linear`` and ``bn`` by :func:`.tokens.folded_batch_norm`) and a Hardswish before the
output projection.

The Reshape into heads of such a ``bn`` starts a region that takes the linear and the bn back into itself;
the output projection's BatchNorm (on the tokens folded to N x D) and the activation before that projection
are steps of the region. The ``attention`` it becomes has ``norm: bn`` and ``proj_act``.
"""

import math

from .tensors import Value, elements

OPERATORS = ("BatchNormalization", "HardSwish")


def start(reader, node, attrs):
    """Whether ``node`` -- a Reshape into heads of a ``bn`` that normalises a ``linear``'s tokens -- starts a
    region with both layers in it."""
    value = reader.values.get(node.input[0]) if node.op_type == "Reshape" and node.input else None
    if value is None or value.gate is not None or not value.tokens or value.layout is not None:
        return False
    from . import attention as base

    target = reader.consts.get(node.input[1]) if len(node.input) > 1 else None
    target = target.array() if target is not None else None
    norm = reader.by_name.get(value.layer)
    if (target is None or len(target.reshape(-1)) < 4 or norm is None or norm["type"] != "bn" or norm.get("act")
            or len(reader.items) < 2 or reader.items[-1] is not norm
            or not reader.read_here_alone(node.input[0])):
        return False
    projected = reader.emitted_from[value.layer][0]
    projection = reader.values.get(projected)
    item = reader.by_name.get(projection.layer) if projection is not None else None
    if item is None or item["type"] != "linear" or reader.items[-2] is not item or item.get("act") \
            or item.get("over", "width") != "width" or not all(_folds(reader, at) for at in reader.readers[projected]):
        return False
    linear, batch_norm = reader.costs[projection.layer], reader.costs[value.layer]
    sources = reader.emitted_from[projection.layer]
    joined, stride = _join(reader, node, sources)
    if sources[0] in reader.__dict__.get("subsampled", {}) and joined is None:
        return False
    reader.retract(value.layer)
    reader.retract(projection.layer)
    if joined is not None:  # the queries of AttentionSubsample: q's projection joins the k/v region
        del reader.subsampled[sources[0]]
        joined.stride = stride
        joined.params += linear.params + batch_norm.params
        joined.macs += linear.macs
        joined.buffers += batch_norm.buffers
        joined.projections[0] += item["units"]
        joined.batch_norms[0] += item["units"]
        if item.get("bias", True) != bool(joined.biases):
            raise reader.unsupported(node, "an attention whose q projection has a bias and whose k/v one has not "
                                           "(or the other way)")
        if joined.biases:
            joined.biases[0] += item["units"]
        return base._step(reader, node, attrs, joined, Value(None, value.shape))
    region = base.Region(sources[0], node, reader.values[sources[0]].shape)
    region.params, region.macs, region.buffers = linear.params + batch_norm.params, linear.macs, batch_norm.buffers
    region.projections.append(item["units"])
    if item.get("bias", True):
        region.biases.append(item["units"])
    region.batch_norms.append(item["units"])
    region.names.append(reader.weights_of.get(projection.layer, ""))
    return base._step(reader, node, attrs, region, Value(None, value.shape))


def _folds(reader, at):
    """Whether the node at ``at``, reading a LinearNorm's linear, is the fold before its BatchNorm (or a
    Shape of the linear's output, for the Reshape back)."""
    node = reader.nodes[at] if at is not None else None
    if node is None or node.op_type == "Shape":
        return node is not None
    after = reader.only_reader(node.output[0])
    return node.op_type in ("Flatten", "Reshape") and after is not None and \
        reader.nodes[after].op_type == "BatchNormalization"


def step(reader, node, attrs, region, inputs, consts):
    """The Hardswish on the weighted sum before the output projection, or the BatchNorm after it."""
    from . import attention as base

    dims = inputs[0]
    if node.op_type == "HardSwish":
        if region.value_dim is None or len(region.projections) != 1 or region.proj_act is not None:
            return False
        region.proj_act = "hardswish"
        return base._set(reader, node, region, dims) or True
    if len(region.projections) != 2 or len(region.batch_norms) != 1 or len(dims) != 2 or len(node.output) != 1 \
            or any(const is None or const.dims is None or elements(const.dims) != dims[1] for const in consts[1:5]):
        return False
    region.params += 2 * dims[1]
    region.buffers += 2 * dims[1]
    region.batch_norms.append(dims[1])
    return base._set(reader, node, region, dims) or True


def layer_keys(reader, node, region, keys, projected, out):
    """``norm`` and ``proj_act`` of the region's attention layer, with the params of its BatchNorms."""
    if region.proj_act is not None:
        keys["proj_act"] = region.proj_act
    if region.stride is not None:
        keys["stride"] = region.stride
    if not region.batch_norms:
        return 0
    if region.batch_norms != [projected, out]:
        raise reader.unsupported(node, f"an attention whose projections are batch-normalised over "
                                       f"{region.batch_norms} features (cnncalc reads a BatchNorm after the q/k/v "
                                       f"projection, {projected} wide, and after the output projection, {out})")
    keys["norm"] = "bn"
    return 2 * (projected + out)


# --- the queries of AttentionSubsample --------------------------------------------------------------

def subsample(reader, node, dims, target):
    """LeViT's Subsample: 1 x N x C tokens reshaped to their s x s grid, every k-th row and column sliced
    (a Slice per axis), reshaped to 1 x M x C; the M tokens are read only by the q projection of an
    AttentionSubsample, whose region takes them (see :func:`start`). False when it is not that."""
    from .reshapes import _reshaped

    value = reader.values.get(node.input[0])
    side = math.isqrt(dims[1]) if len(dims) == 3 else 0
    if value is None or not value.tokens or value.layout is not None or value.gate is not None or dims[0] != 1 \
            or side * side != dims[1] or tuple(target) != (1, side, side, dims[2]):
        return False
    at, steps, chain = node, {}, []
    while len(chain) < 2:
        found = reader.only_reader(at.output[0])
        if found is None or reader.nodes[found].op_type != "Slice":
            return False
        at = reader.nodes[found]
        read = [_ints(reader, name) for name in (list(at.input[1:5]) + [""] * 4)[:4]]
        if read[0] is None or read[1] is None or read[2] is None or read[3] is None or len(read[2]) != 1:
            return False
        (start,), (end,), (axis,), (step,) = read
        if axis not in (1, 2) or axis in steps or start != 0 or end < side or step < 2:
            return False
        steps[axis] = step
        chain.append(found)
    back = reader.only_reader(at.output[0])
    user = reader.only_reader(reader.nodes[back].output[0]) if back is not None else None
    if user is None or reader.nodes[user].op_type != "MatMul":  # only the q projection reads the queries
        return False
    stride = steps[1]
    rows = -(-side // stride)
    shape = _ints(reader, reader.nodes[back].input[1]) if back is not None and \
        reader.nodes[back].op_type == "Reshape" else None
    if steps[2] != stride or shape is None or _reshaped((1, rows, rows, dims[2]), shape, 0) != (1, rows * rows, dims[2]):
        return False
    reader.skip.update(chain + [back])
    result = reader.nodes[back].output[0]
    reader.values[result] = Value(value.layer, (1, rows * rows, dims[2]), own=False, tokens=True)
    reader.__dict__.setdefault("subsampled", {})[result] = (node.input[0], stride)
    reader.set_output(node, Value(None, tuple(target), gate=("subsample", node.input[0])))
    return True


def _ints(reader, name):
    const = reader.ahead(name) if name else None
    array = const.array() if const is not None else None
    return None if array is None else [int(v) for v in array.reshape(-1).tolist()]


def _join(reader, node, sources):
    """The region of the k/v projection of the tokens the query tokens ``sources[0]`` were subsampled from,
    still waiting for its queries, and the stride; (None, None) when there is none."""
    source, stride = reader.__dict__.get("subsampled", {}).get(sources[0], (None, None))
    region = next((r for r in reader.followed if r.source == source and not r.closed and r.head_dim is None
                   and r.stride is None and len(r.projections) == 1 and r.batch_norms), None)
    return region, stride


def check_subsampled(reader):
    """After the walk: subsampled tokens that joined no attention are counted nowhere: refused."""
    for name in reader.__dict__.get("subsampled", {}):
        raise reader.unsupported(reader.nodes[reader.makers[name]], "tokens subsampled on their grid (LeViT's "
                                 "Subsample) that are not the queries of an attention")
