"""Spatial-reduction attention (PVT's, Twins-SVT's global sub-sampled attention): the attention layer with
``reduce: r``.

The queries come from all N positions of an H x W map (tokens, or the map itself); the keys and values from
the map reduced by a conv of kernel = stride = r (C -> C, with bias: C*C*r*r + C params, C*C*r*r MACs at each
of the M = floor(H/r) * floor(W/r) positions it gives) and a LayerNorm over the C channels (2C params). So q is
projected on the N positions (N*C*E MACs), k and v on the M reduced ones (M*C*2E), the scores and the
weighted sum are heads*N*M*d each, and the output projection runs on the N positions (N*E*C): the output is
the input's shape. Params are those of plain attention (q, k and v weights C*3E, the output projection E*C,
their biases) plus the conv's and the LayerNorm's. On tokens the map is a square sqrt(N) x sqrt(N), or
``grid: [H, W]``.
"""

import math

from ..numbers import is_tokens, plural
from .registry import Cost
from .windows import elements, product_text, show_shape

# the attention keys that mean something else (windows, positions, pooling): not combined with reduce
_UNSET = (("window", None), ("shift", 0), ("position", "none"), ("cosine", False), ("key_dim", None),
          ("out", None), ("norm", "none"), ("proj_act", None), ("stride", 1), ("mask", "none"), ("over", "tokens"),
          ("proj", True), ("pool_q", None), ("pool_kv", None), ("residual_pool", False), ("gathered", None),
          ("fit", False))


def _map(layer, shape):
    """(N, H x W) of the positions attention runs on."""
    if is_tokens(shape):
        count = shape[0]
        grid = layer.p["grid"]
        if grid is None:
            side = math.isqrt(count)
            if side * side != count:
                raise layer.error(f"reduce needs the map the {count:,} tokens are: they are not a square map; give "
                                  f"grid: [H, W]", "grid")
            return count, (side, side)
        grid = grid if isinstance(grid, tuple) else (grid, grid)
        if len(grid) != 2 or elements(grid) != count:
            raise layer.error(f"grid {product_text(grid)} is not a map of the {count:,} tokens (give [H, W] with "
                              f"H*W = N)", "grid")
        return count, tuple(grid)
    if len(shape) != 3:
        raise layer.error(f"reduce needs tokens or a 2-D map (C x H x W), not {show_shape(shape)}", "reduce")
    if layer.p["grid"] is not None:
        raise layer.error("grid is the map of tokens: a map input has its own H x W", "grid")
    return elements(shape[1:]), tuple(shape[1:])


def attention(layer, shape, channels, heads):
    """The Cost of attention whose keys and values come from the map reduced by ``reduce`` (see the module)."""
    p = layer.p
    ratio = p["reduce"]
    for key, unset in _UNSET:
        if p[key] != unset:
            raise layer.error(f"{key} cannot be combined with reduce (spatial-reduction attention)", key)
    if ratio < 2:
        raise layer.error("reduce 1 is plain attention (no reduction conv): leave reduce out", "reduce")
    count, sides = _map(layer, shape)
    reduced = tuple(side // ratio for side in sides)
    if min(reduced) < 1:
        raise layer.error(f"reduce {ratio} is larger than the map {product_text(sides)}", "reduce")
    kept = elements(reduced)
    dim = p["dim"] or channels
    head_dim = dim // heads
    conv_params, norm_params = channels * channels * ratio * ratio + channels, 2 * channels
    weights = channels * 3 * dim + dim * channels
    biases = (3 * dim if p["qkv_bias"] else 0) + (channels if p["proj_bias"] else 0)
    params = weights + biases + conv_params + norm_params
    q_macs, conv_macs, kv_macs = count * channels * dim, channels * kept * channels * ratio * ratio, \
        kept * channels * 2 * dim
    scores, proj = heads * count * kept * head_dim, count * dim * channels
    macs = q_macs + conv_macs + kv_macs + 2 * scores + proj
    maps = heads * count * kept
    work = ((count * dim + kept * 2 * dim) if p["qkv_bias"] else 0) + (count * channels if p["proj_bias"] else 0) \
        + channels * kept + 5 * channels * kept + 4 * maps  # the conv's bias, the LayerNorm, scale and softmax
    cost = Cost(shape, params=params, macs=macs, elementwise=work, window="global")
    cost.scratch = (("reduced map and its LayerNorm", f"2*{kept}*{channels}", 2 * kept * channels),
                    ("Q, K, V", f"{count}*{dim} + 2*{kept}*{dim}", count * dim + 2 * kept * dim),
                    ("scores and softmax", f"2*{heads}*{count}*{kept}", 2 * maps),
                    ("weighted sum AV", f"{count}*{dim}", count * dim))
    cost.heads = heads
    cost.products = 2 * scores
    if layer.explaining:
        cost.explain += _explain(channels, dim, heads, head_dim, ratio, count, sides, reduced, kept, weights, biases,
                                 conv_params, norm_params, params, (q_macs, conv_macs, kv_macs, scores, proj, macs))
    return cost


def _explain(channels, dim, heads, head_dim, ratio, count, sides, reduced, kept, weights, biases, conv_params,
             norm_params, params, terms):
    q_macs, conv_macs, kv_macs, scores, proj, macs = terms
    e = "E" if dim != channels else "C"
    return [
        ("size", f"N = {product_text(sides)} = {count:,} positions of width C = {channels}; {plural(heads, 'head')} "
                 f"of width d = {e}/heads = {dim}/{heads} = {head_dim}"),
        ("size", f"keys and values from the map reduced by a {ratio}x{ratio} conv of stride {ratio}: "
                 f"{product_text(reduced)} = M = {kept:,} positions, then a LayerNorm"),
        ("params", f"params = Q,K,V weights 3*C*{e} + output projection {e}*C + biases = 3*{channels}*{dim} + "
                   f"{dim}*{channels} + {biases} = {weights + biases:,}"),
        ("params", f"params reduction conv C*C*r*r + C = {channels}*{channels}*{ratio}*{ratio} + {channels} = "
                   f"{conv_params:,}; its LayerNorm 2C = {norm_params}"),
        ("params", f"params = {weights + biases:,} + {conv_params:,} + {norm_params} = {params:,}"),
        ("macs", f"MACs q projection = N*C*{e} = {count}*{channels}*{dim} = {q_macs:,}"),
        ("macs", f"MACs reduction conv = C*M*C*r*r = {channels}*{kept}*{channels}*{ratio}*{ratio} = {conv_macs:,}"),
        ("macs", f"MACs k,v projections = M*C*2{e} = {kept}*{channels}*{2 * dim} = {kv_macs:,}"),
        ("macs", f"MACs scores QK^T = heads*N*M*d = {heads}*{count}*{kept}*{head_dim} = {scores:,}"),
        ("macs", f"MACs weighted sum AV = the same as QK^T = {scores:,}"),
        ("macs", f"MACs output projection = N*{e}*C = {count}*{dim}*{channels} = {proj:,}"),
        ("macs", f"MACs = {q_macs:,} + {conv_macs:,} + {kv_macs:,} + {scores:,} + {scores:,} + {proj:,} = {macs:,} "
                 f"(bias adds, the LayerNorm, the 1/sqrt(d) scale and the softmax are not MACs)"),
    ]
