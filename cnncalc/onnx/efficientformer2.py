"""EfficientFormerV2's Attention2d in ONNX, read into the regions of :mod:`.attention`.

q, k and v are three 1x1 convs (each with its BatchNorm; the dynamo exporter folds it into the conv) of the
same N x C x H x W map, each reshaped into N x heads x d x HW: the Reshape of the first starts a region from
the map (the conv and its BatchNorm taken back from the spec into it), the others join it. v is also read by
``v_local``, a depthwise k x k conv (and BatchNorm) whose result is added to the heads' weighted sums: its
layers, emitted just before v's Reshape, join the region too, and the Add of the two closes it as one
``attention`` layer with ``proj: false`` and ``v_local: k`` (the GELU and the output conv after it are
ordinary layers). The scores are mixed across the heads by a 1x1 Conv heads -> heads before and after the
softmax (``talking_heads: true``, counted as :mod:`.cait` counts CaiT's), and biased by a learned value a head
for each offset on the map (``position: offsets``; the dynamo exporter folds it: ``position: folded``).

Attention2dDownsample computes q from LocalGlobalQuery: a depthwise 3x3 conv with bias of stride s plus an
average pool of kernel 1 and stride s of the map, added, then q's conv. Those three layers, the last before q's
conv, join the region too, which then reads the map itself (``queries: local``, ``stride: s``); its v_local has
stride s, its scores are M x N (the M queries over the map's N positions), and its output is the map of the
queries.
"""

from .tensors import Value, elements

OPERATORS = ("Conv", "Add")


def _item(reader, name):
    return reader.by_name.get(name)


def _projection(reader, layer):
    """([the conv, its bn], the map the conv reads) of a 1x1 conv's output (with its BatchNorm), or None."""
    item = _item(reader, layer)
    names = [layer]
    if item is not None and item["type"] == "bn" and not item.get("act"):
        before = reader.values.get(reader.emitted_from[layer][0])
        item = _item(reader, before.layer) if before is not None and before.own else None
        names.insert(0, before.layer if item is not None else None)
    if item is None or item["type"] != "conv" or item.get("kernel") != 1 or item.get("act") or item.get("pad", 0) \
            or any(item.get(key, 1) != 1 for key in ("stride", "groups", "dilation")):
        return None
    return names, reader.emitted_from[names[0]][0]


def _local_query(reader, source):
    """(stride, [the dwconv, the avgpool, the add], the map they read) when the tensor ``source`` is
    LocalGlobalQuery's: a depthwise 3x3 conv with bias of stride s (padding 1) plus an average pool of kernel 1 and
    stride s of the same map, the last three layers before the q projection; None when not."""
    value = reader.values.get(source)
    add = _item(reader, value.layer) if value is not None and value.own else None
    if add is None or add["type"] != "add" or add.get("act") or len(reader.emitted_from[add["name"]]) != 2:
        return None
    parts = [reader.values.get(name) for name in reader.emitted_from[add["name"]]]
    items = [_item(reader, part.layer) if part is not None and part.own else None for part in parts]
    kinds = {item["type"]: item for item in items if item is not None}
    conv, pool = kinds.get("dwconv"), kinds.get("avgpool")
    if conv is None or pool is None or conv.get("act") or conv.get("kernel") != 3 or conv.get("pad", 0) != 1 \
            or conv.get("stride", 1) < 2 or pool.get("kernel") != 1 or pool.get("stride") != conv["stride"] \
            or pool.get("pad", 0) or conv.get("filters") not in (None, conv.get("groups")) \
            or reader.emitted_from[conv["name"]] != reader.emitted_from[pool["name"]]:
        return None
    return conv["stride"], [conv["name"], pool["name"], add["name"]], reader.emitted_from[conv["name"]][0]


def position_keys(reader, region, keys, heads):
    """``position`` of attention whose M queries come from every s-th position of the map: ``offsets`` (a
    learned bias a head for each of the N key positions' offsets, gathered by an M x N index) or ``folded``
    (torch.export's heads x M x N constant); return its params."""
    from .biases import source_kind

    if region.folded:
        keys["position"] = "folded"
        return region.folded
    learned = sum(elements(reader.consts[name].dims) for name in sorted(region.tables - region.logits)
                  if source_kind(reader, region.start, name, {}) == "param")
    if learned:
        keys["position"] = "offsets"
    return learned if learned in (0, heads * region.keys_count) else -1


def _local(reader, name, after, channels, stride):
    """(kernel, names of its layers) when the layers ``after`` are v_local on the tensor ``name``: a depthwise
    k x k conv of ``stride``, padded by k // 2 (and its BatchNorm); None when not."""
    conv = after[0] if after else None
    if conv is None or conv["type"] != "dwconv" or reader.emitted_from[conv["name"]] != [name] or conv.get("act") \
            or conv.get("filters", channels) != channels or conv.get("groups", channels) != channels \
            or conv.get("stride", 1) != stride or conv.get("dilation", 1) != 1 \
            or not isinstance(conv.get("kernel"), int) or conv.get("pad", 0) != conv["kernel"] // 2 \
            or not conv["kernel"] % 2:
        return None
    if len(after) == 2 and (after[1]["type"] != "bn" or after[1].get("act")
                            or reader.emitted_from[after[1]["name"]][0] not in _outputs(reader, conv["name"])):
        return None
    return (conv["kernel"], [item["name"] for item in after]) if len(after) <= 2 else None


def _outputs(reader, layer):
    return [n for n, v in reader.values.items() if v.layer == layer and v.own and v.gate is None]


def start(reader, node, attrs):
    """Whether ``node``, a Reshape of a 1x1 conv's map into N x heads x d x HW, starts (q) or joins (k, v) an
    Attention2d region; False when it is not one."""
    value = reader.values.get(node.input[0]) if node.op_type == "Reshape" and len(node.input) == 2 else None
    if value is None or value.gate is not None or value.layout is not None or value.tokens or not value.own \
            or len(value.shape) != 4:
        return False
    from . import attention as base
    from .reshapes import _reshaped

    const = reader.ahead(node.input[1])
    array = const.array() if const is not None else None
    target = None if array is None else _reshaped(value.shape, array.reshape(-1).tolist(), attrs.get("allowzero", 0))
    n, c, h, w = value.shape
    found = _projection(reader, value.layer)
    if not target or len(target) != 4 or target[0] != n or target[3] != h * w or target[1] * target[2] != c \
            or target[1] < 2 or found is None or None in found[0]:
        return False
    names, source = found
    query = _local_query(reader, source)
    if query is not None:  # q from LocalGlobalQuery: those layers join, the region's source the map they read
        names, source = query[1] + names, query[2]
    at = next((i for i, item in enumerate(reader.items) if item["name"] == names[-1]), None)
    region = next((r for r in reader.regions if r.v_local == 0 and r.source == source
                   and not r.closed and r.value_dim is None), None)
    stride = (region.query_stride if region is not None else None) or 1
    local = _local(reader, node.input[0], reader.items[at + 1:], c, stride) if at is not None and \
        at + 1 < len(reader.items) else (None, [])
    if local is None or [item["name"] for item in reader.items[at + 1 - len(names):at + 1]] != names \
            or (query is not None and region is not None):
        return False
    if region is None and local[0] is not None:
        return False
    if local[0] is not None:
        tensor = _outputs(reader, local[1][-1])
        if len(tensor) != 1:
            return False
        region.local = tensor[0]
    if region is None:
        region = base.Region(source, node, reader.values[source].shape)
        region.v_local, region.local, region.norms = 0, None, 0
        region.query_stride = query[0] if query is not None else None
        region.projections.append(0)
        reader.regions.append(region)
    for layer in reversed(names + local[1]):
        cost = reader.costs[layer]
        region.params, region.macs, region.buffers = (region.params + cost.params, region.macs + cost.macs,
                                                      region.buffers + cost.buffers)
        reader.retract(layer)
    region.projections[0] += c
    region.norms += c if len(found[0]) == 2 else 0
    region.names.append(reader.weights_of.get(found[0][0], ""))
    if local[0] is not None:
        region.v_local, region.local_norm = local[0], len(local[1]) == 2
        reader.values[region.local] = Value(None, reader.values[region.local].shape, gate=("region", region))
    return base._step(reader, node, attrs, region, Value(None, value.shape))


def step(reader, node, attrs, region, inputs, consts):
    """A talking head (1x1 Conv heads -> heads of the scores) or the Add of v_local that closes the region."""
    from .attention import _set, close

    if region.v_local is None:
        return False
    dims = inputs[0]
    if node.op_type == "Add":
        other = inputs[1] if len(inputs) == 2 else None
        if dims is None or other is None or dims != other or region.local not in node.input \
                or region.value_dim is None:
            return False
        _set(reader, node, region, dims)
        close(reader, node, node.output[0])
        return True
    weight = consts[1] if len(consts) > 1 else None
    heads = region.heads
    if dims is None or len(dims) != 4 or not heads or dims[1] != heads or region.value_dim is not None \
            or weight is None or tuple(weight.dims or ()) != (heads, heads, 1, 1) or attrs.get("group", 1) != 1 \
            or any(attrs.get("pads", [0])) or any(v != 1 for key in ("strides", "dilations")
                                                  for v in attrs.get(key, [1])):
        return False
    region.macs += dims[0] * dims[2] * dims[3] * heads * heads
    region.params += elements(weight.dims)
    if len(node.input) > 2 and node.input[2] and consts[2] is not None and consts[2].dims:
        region.params += elements(consts[2].dims)
    region.talking += 1
    return _set(reader, node, region, dims) or True


def layer_keys(region, keys):
    """``norm: bn`` (the BatchNorms after q, k and v) and ``v_local``; return the params they add to the
    projections' (the BatchNorms', and v_local's conv and its BatchNorm)."""
    if region.v_local is None:
        return 0
    if not region.v_local or region.norms not in (0, region.projections[0]):
        return -1  # no v_local, or some projections normalised and not others: no attention layer gives it
    dim = region.heads * region.value_dim if region.heads and region.value_dim else 0
    keys["v_local"] = region.v_local
    if region.norms != region.local_norm * region.norms or bool(region.norms) != region.local_norm:
        return -1
    if region.norms:
        keys["norm"] = "bn"
    queries = 0
    if region.query_stride:  # LocalGlobalQuery's depthwise 3x3 conv with bias on the map's C channels
        keys["queries"], keys["stride"], queries = "local", region.query_stride, 10 * region.shape[1]
    return 2 * region.norms + region.v_local ** 2 * dim + dim + (2 * dim if region.local_norm else 0) + queries
