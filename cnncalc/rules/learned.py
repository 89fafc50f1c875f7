"""Layers that learn a few values for elementwise work: ConvNeXt V2's global response norm, MetaFormer's StarReLU."""

from .registry import Cost, rule
from .windows import elements, need_map


@rule("grn")
def grn(layer, shape):
    """Global response norm (ConvNeXt V2): each channel's L2 norm over the map, divided by the mean of the
    channels' norms; ``gamma * (x * Nx) + beta + x``: 2C params (gamma, beta), no MACs; 6 ops per element and 3
    per channel; every output sees the whole map."""
    need_map(layer, shape)
    channels, count = shape[0], elements(shape)
    cost = Cost(shape, params=2 * channels, elementwise=6 * count + 3 * channels,
                window=tuple((size, 1, 1) for size in shape[1:]))
    if layer.explaining:
        cost.explain.append(("params", f"params = 2*C = 2*{channels} = {2 * channels:,} (gamma and beta, one of "
                                       f"each per channel); no buffers"))
        cost.explain.append(("macs", "MACs = 0 (the norms, their mean and the scaling are elementwise work: "
                                     f"6 per element and 3 per channel, 6*{count:,} + 3*{channels} = {6 * count + 3 * channels:,} ops)"))
    return cost


@rule("starrelu")
def starrelu(layer, shape):
    """StarReLU (MetaFormer): ``s * relu(x)^2 + b`` with a learned scalar scale s and bias b: 2 params, no MACs;
    4 ops per element (relu, square, scale, bias)."""
    cost = Cost(shape, params=2, elementwise=4 * elements(shape))
    if layer.explaining:
        cost.explain.append(("params", "params = 2 (the learned scale s and bias b, one value each)"))
    return cost
