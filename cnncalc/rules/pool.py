"""Pooling: max/avg windows, global and adaptive pools (no params; lecture flop counts the windows)."""

from ..numbers import Tokens, is_tokens
from .keys import check_flag, check_pad, check_size
from .registry import REQUIRED, Cost, rule
from .windows import (axis_names, elements, kernel_names, need_map, per_axis, per_side, product_text, show_shape,
                      spatial_output, window_keys)

POOL_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, None), "pad": (check_pad, 0),
             "dilation": (check_size, 1), "ceil_mode": (check_flag, False), "grid": (check_size, None)}


@rule("maxpool", "avgpool", keys=POOL_KEYS, category="pool")
def pool(layer, shape):
    """Pooling: no params; lecture flop C*prod(out)*prod(K) (one op per window element).

    ``pad: same`` is TensorFlow's SAME padding (output ceil(W/S)) for both pools; a number is PyTorch's
    padding, at most half the kernel. ``grid: [T, H, W]`` pools N x D tokens: the last T*H*W of them are the
    positions of that grid (a D x T x H x W map), pooled; the tokens before them (a class token) pass as they
    are (MViT's pooled skip connection).
    """
    p = layer.p
    tokens = None
    if p["grid"] is not None:
        tokens, shape = _grid_map(layer, shape)
    channels = need_map(layer, shape)[0]
    if p["dilation"] != 1 and layer.type == "avgpool":
        raise layer.error("avgpool has no dilation", "dilation")
    kernel, stride, dilation = window_keys(layer, shape, p["stride"] or p["kernel"])
    if p["pad"] not in ("same", "valid"):
        for (before, after), k, d in zip(per_side(layer, "pad", p["pad"], shape), kernel, dilation):
            if max(before, after) * 2 > d * (k - 1) + 1:
                raise layer.error(f"pad {max(before, after)} must be at most half the kernel {k}", "pad")
    sizes, pad = spatial_output(layer, shape, kernel, stride, p["pad"], dilation, p["ceil_mode"])
    out = (channels,) + sizes
    flops = elements(out) * elements(kernel)
    result = out if tokens is None else Tokens(tokens + elements(sizes), channels)
    cost = Cost(result, flops=flops, elementwise=flops, window=tuple(zip(kernel, stride, dilation)))
    cost.kernel, cost.stride, cost.pad = kernel, stride, pad
    if layer.explaining:
        positions = "*".join(f"{name}'" for name in axis_names(shape))
        if tokens is not None:
            cost.explain.append(("output_shape", f"tokens = class tokens + pooled grid = {tokens} + "
                                                 f"{product_text(sizes)} = {result[0]:,}, of width {channels}"))
        cost.explain.append(("flops", f"flop = (C*{positions}) * ({kernel_names(shape)}) = ({product_text(out)}) * "
                                      f"({product_text(kernel)}) = {flops:,} (lecture convention; 0 MACs)"))
    return cost


def _grid_map(layer, shape):
    """(tokens before the grid, the D x T x H x W map) of N x D tokens pooled on their ``grid``."""
    if not is_tokens(shape):
        raise layer.error(f"grid pools N x D tokens, but the input is {show_shape(shape)}", "grid")
    grid = layer.p["grid"] if isinstance(layer.p["grid"], tuple) else (layer.p["grid"],)
    extra = shape[0] - elements(grid)
    if extra < 0:
        raise layer.error(f"grid {product_text(grid)} = {elements(grid):,} positions, more than the {shape[0]:,} "
                          f"tokens", "grid")
    return extra, (shape[1],) + tuple(grid)


@rule("globalavgpool", "globalmaxpool", category="global pool")
def global_pool(layer, shape):
    """Global pooling: a window over the whole map, so C x 1 x 1 and flop C*H*W."""
    need_map(layer, shape)
    rank = len(shape) - 1
    flops = elements(shape)
    cost = Cost((shape[0],) + (1,) * rank, flops=flops, elementwise=flops, window="global")
    cost.kernel, cost.stride = tuple(shape[1:]), (1,) * rank
    if layer.explaining:
        cost.explain.append(("flops", f"flop = C*{'*'.join(axis_names(shape))} = {product_text(shape)} = {flops:,} "
                                      f"(the window is the whole map)"))
    return cost


def _adaptive_windows(size, out):
    """(largest, sum) of PyTorch's adaptive windows [floor(i*n/o), ceil((i+1)*n/o)), i = 0..o-1.

    Closed forms, so a huge ``output`` costs no time: with g = gcd(n, o), o' = o/g, r = (n/g) mod o',
    the lengths sum to n + o - g, and the largest is n/o if r = 0, (n + g*(o'-1))/o if r = 1,
    else (n + g*(2*o' - r))/o (a window is longest where both of its ends are rounded outwards).
    """
    from math import gcd

    g = gcd(size, out)
    reduced, rest = out // g, (size // g) % (out // g)
    if rest == 0:
        largest = size // out
    elif rest == 1:
        largest = (size + g * (reduced - 1)) // out
    else:
        largest = (size + g * (2 * reduced - rest)) // out
    return largest, size + out - g


@rule("adaptiveavgpool", "adaptivemaxpool", keys={"output": (check_size, REQUIRED)}, category="global pool")
def adaptive_pool(layer, shape):
    """Adaptive pooling to a fixed output size (PyTorch windows); flop is the sum of its windows."""
    need_map(layer, shape)
    sizes = per_axis(layer, "output", layer.p["output"], shape)
    windows = [_adaptive_windows(n, o) for n, o in zip(shape[1:], sizes)]
    flops = shape[0] * elements(total for _, total in windows)
    window = tuple((largest, max(n // o, 1), 1) for (largest, _), n, o in zip(windows, shape[1:], sizes))
    cost = Cost((shape[0],) + sizes, flops=flops, elementwise=flops, window=window)
    cost.kernel = tuple(largest for largest, _ in windows)
    if layer.explaining:
        largest = "x".join(str(k) for k in cost.kernel)
        sums = " * ".join(f"(sum of the {name} windows)" for name in axis_names(shape))
        cost.explain.append(("flops", f"windows of {largest} at most; flop = C * {sums} = "
                                      f"{shape[0]}*{product_text(total for _, total in windows)} = {flops:,}"))
    return cost
