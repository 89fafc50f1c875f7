"""LeViT's attention in ONNX: projections that are LinearNorms (a Linear and a BatchNorm over the tokens'
features, read as ``linear`` and ``bn`` by :func:`.tokens.folded_batch_norm`) and a Hardswish before the
output projection.

The Reshape into heads of such a ``bn`` starts a region that takes the linear and the bn back into itself;
the output projection's BatchNorm (on the tokens folded to N x D) and the activation before that projection
are steps of the region. The ``attention`` it becomes has ``norm: bn`` and ``proj_act``.
"""

from .tensors import Value, elements

OPERATORS = ("BatchNormalization", "HardSwish")


def start(reader, node, attrs):
    """Whether ``node`` -- a Reshape into heads of a ``bn`` that normalises a ``linear``'s tokens -- starts a
    region with both layers in it."""
    from . import attention as base

    value = reader.values.get(node.input[0]) if node.op_type == "Reshape" and node.input else None
    if value is None or value.gate is not None or not value.tokens or value.layout is not None:
        return False
    target = reader.consts.get(node.input[1]) if len(node.input) > 1 else None
    target = target.array() if target is not None else None
    norm = reader.by_name.get(value.layer)
    if (target is None or len(target.reshape(-1)) < 4 or norm is None or norm["type"] != "bn" or norm.get("act")
            or len(reader.items) < 2 or reader.items[-1] is not norm
            or reader.readers.get(node.input[0], []) != [reader.index]):
        return False
    projected = reader.emitted_from[value.layer][0]
    projection = reader.values.get(projected)
    item = reader.by_name.get(projection.layer) if projection is not None else None
    if item is None or item["type"] != "linear" or reader.items[-2] is not item or item.get("act") \
            or item.get("over", "width") != "width" or not all(_folds(reader, at) for at in reader.readers[projected]):
        return False
    linear, batch_norm = reader.costs[projection.layer], reader.costs[value.layer]
    reader.retract(value.layer)
    reader.retract(projection.layer)
    sources = reader.emitted_from[projection.layer]
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
    if not region.batch_norms:
        return 0
    if region.batch_norms != [projected, out]:
        raise reader.unsupported(node, f"an attention whose projections are batch-normalised over "
                                       f"{region.batch_norms} features (cnncalc reads a BatchNorm after the q/k/v "
                                       f"projection, {projected} wide, and after the output projection, {out})")
    keys["norm"] = "bn"
    return 2 * (projected + out)
