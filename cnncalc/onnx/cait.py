"""Talking-heads attention in ONNX (CaiT's TalkingHeadAttn), read into the regions of :mod:`.attention`.

Its scores are mixed across the heads by a heads x heads Linear before the softmax (``proj_l``) and another
after it (``proj_w``): the graph permutes the scores to ... x M x N x heads, multiplies them by a constant
heads x heads weight and adds a bias of heads. Each such product counts M*N*heads*heads MACs a window (as
FlopCounterMode counts a Linear on that tensor) and heads*heads params (the bias adds its heads through the
region's own bias step); the region closes as ``attention`` with ``talking_heads: true``.
"""

import math


def product(reader, node, region, a, weight):
    """A MatMul of the region's scores (heads last) by a constant heads x heads weight: counted here; False
    when ``node`` is not one."""
    from .attention import _set
    from .tensors import elements

    heads = region.heads
    if region.head_dim is None or region.value_dim is not None or not heads or len(a) < 3 or a[-1] != heads \
            or not weight.dims or tuple(weight.dims) != (heads, heads):
        return False
    region.macs += math.prod(a[:-1]) * heads * heads
    region.params += elements(weight.dims)
    region.talking += 1
    return _set(reader, node, region, a) or True


def layer_keys(region, keys):
    """``queries: class`` for a class attention region; ``talking_heads: true`` when the region mixed its scores
    across the heads twice (before and after the softmax): return the params of those two Linears."""
    if region.class_query:
        keys["queries"] = "class"
    count = region.talking
    if not count:
        return 0
    heads = region.heads
    keys["talking_heads"] = True
    return 2 * (heads * heads + heads) if count == 2 else -1  # -1: not two, no attention layer gives it


# --- class attention (CaiT's and XCiT's ClassAttn) -------------------------------------------------------
#
# q = Linear(x[:, 0]) (a Gather of token 0, a Gemm, an Unsqueeze back to 1 x 1 x C), k = Linear(x) and
# v = Linear(x), each reshaped into heads: the class token alone queries all N tokens. The Unsqueeze of q
# starts a region from the tokens x (the Gather and the Gemm taken back into it), the Reshapes of k and v
# into heads join it, and it closes as ``attention`` with ``queries: class``, its output the one token.

def class_query(reader, node, attrs):
    """Whether ``node`` starts a class attention region (the Unsqueeze of q) or joins one (the Reshape of k or
    v into heads); False when it is neither."""
    value = reader.values.get(node.input[0]) if node.input and node.op_type in ("Unsqueeze", "Reshape") else None
    if value is None or value.gate is not None or not value.own:
        return False
    from .attention import Region, _step
    from .tensors import Value

    item, sources = reader.by_name.get(value.layer), reader.emitted_from.get(value.layer)
    if item is None or item["type"] not in ("fc", "linear") or reader.items[-1] is not item or not sources \
            or item.get("act") or len(reader.readers.get(node.input[0], [])) != 1:
        return False
    if node.op_type == "Reshape":  # k or v of an open class region, projected from its tokens
        region = next((r for r in reader.regions if r.class_query and r.source == sources[0]),
                      None)
        if region is None or not value.tokens:
            return False
        _take(reader, region, value.layer, item)
        return _step(reader, node, attrs, region, Value(None, value.shape))
    taken = reader.values.get(sources[0])
    take = reader.by_name.get(taken.layer) if taken is not None else None
    if item["type"] != "fc" or len(value.shape) != 2 or take is None or take["type"] != "taketoken" \
            or take.get("index", 0) or len(reader.items) < 2 or reader.items[-2] is not take or not taken.own \
            or len(reader.readers.get(sources[0], [])) != 1:
        return False
    tokens = reader.emitted_from[taken.layer][0]
    region = Region(tokens, node, reader.values[tokens].shape)
    region.class_query = True
    _take(reader, region, value.layer, item)
    reader.retract(taken.layer)
    reader.regions.append(region)
    return _step(reader, node, attrs, region, Value(None, value.shape))


def _take(reader, region, layer, item):
    """The projection ``layer`` (the last emitted) taken back into ``region``: its params and MACs."""
    cost = reader.costs[layer]
    reader.retract(layer)
    region.params += cost.params
    region.macs += cost.macs
    region.projections.append(item["units"])
    if item.get("bias", True):
        region.biases.append(item["units"])
    region.names.append(reader.weights_of.get(layer, ""))


def class_residual(reader, node):
    """Add of the class token a ``classtoken`` layer prepended (the same constant) to one computed token (the
    first class attention block's residual): an ``add`` of that token, taken back from the classtoken layer
    (``taketoken`` with ``count: 1``, no params: the classtoken layer counts them). False when not one."""
    computed = [n for n in node.input if n in reader.values]
    if len(computed) != 1 or len(node.input) != 2:
        return False
    other = next(n for n in node.input if n not in reader.values)
    const, value = reader.consts.get(other), reader.values[computed[0]]
    if const is None or not value.tokens or value.layout or value.gate is not None or value.shape[1] != 1:
        return False
    for item in reversed(reader.items):
        used = reader.weights_of.get(item["name"])
        same = used == other or (const.sources and used in reader.consts
                                 and reader.consts[used].sources == const.sources)
        if item["type"] == "classtoken" and same and item.get("count", 1) == 1:
            source = next((n for n, v in reader.values.items() if v.layer == item["name"] and v.own), None)
            if source is None:
                return False
            token = reader.emit(node, "taketoken", [source], {"count": 1}, any_layout=True, suffix=".class_token")
            reader.values[node.output[0] + "#class_token"] = token
            reader.set_output(node, reader.emit(node, "add", [node.output[0] + "#class_token", computed[0]],
                                                any_layout=True))
            return True
    return False


def token_concat(reader, node, attrs):
    """Concat at axis 1 of computed tokens (CaiT's class token, computed by the class attention blocks, put
    back before the patch tokens): ``concat`` along the tokens. False when it is not one."""
    values = [reader.values.get(name) for name in node.input]
    if len(values) < 2 or any(v is None or not v.tokens or v.layout or v.gate is not None for v in values) \
            or attrs.get("axis", 1) % 3 != 1:
        return False
    reader.set_output(node, reader.emit(node, "concat", list(node.input), any_layout=True))
    return True
