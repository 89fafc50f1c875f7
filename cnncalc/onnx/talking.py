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
    region.talking = getattr(region, "talking", 0) + 1
    return _set(reader, node, region, a) or True


def layer_keys(region, keys):
    """``talking_heads: true`` when the region mixed its scores across the heads twice (before and after the
    softmax); return the params of those two Linears, weights and biases."""
    count = getattr(region, "talking", 0)
    if not count:
        return 0
    heads = region.heads
    keys["talking_heads"] = True
    return 2 * (heads * heads + heads) if count == 2 else -1  # -1: not two, no attention layer gives it
