"""The attention keys of EfficientFormerV2 (see :mod:`.attention`): ``v_local`` and the BatchNorms of an
attention without an output projection.

``v_local: k`` (EfficientFormerV2's Attention2d): a depthwise k x k conv with bias on v (the E-wide map of the
values, padded to keep its size), its result added to the heads' weighted sums: params ``k*k*E + E``, MACs
``N*E*k*k``; with ``norm: bn`` a BatchNorm after it (``2E`` params, ``2E`` buffers: its running mean and
variance). ``norm: bn`` with ``proj: false`` counts the BatchNorms after q, k and v alone (there is no output
projection to normalise).

``queries: local`` with ``stride: s`` (EfficientFormerV2's Attention2dDownsample, a map only): the queries come
from LocalGlobalQuery, a depthwise 3x3 conv with bias of stride s (padding 1) plus an average pool of kernel 1
and stride s, then the q projection: M = ceil(H/s)*ceil(W/s) queries over the N positions of the map; the
conv's ``9C + C`` params and ``M*C*9`` MACs count, and the output is the E x ceil(H/s) x ceil(W/s) map (v_local
then runs with stride s too).
"""

import math

from ..numbers import is_tokens
from .keys import check_count

KEYS = {"v_local": (check_count, None)}


def norm_line(projected, normed, proj):
    """The explain line of the BatchNorms after the projections (``normed`` features in all)."""
    where = "the q/k/v and the output projections" if proj else "the q/k/v projections (no output projection)"
    terms = f"({projected} + {normed - projected})" if proj else f"{normed}"
    return ("params", f"BatchNorm after {where} = 2*{terms} = {2 * normed:,} params (buffers: their running mean "
                      f"and variance, {2 * normed:,})")


def v_local(layer, shape, count, dim, params, macs, buffers, extra):
    """(params, MACs, buffers, explain lines) with those of ``v_local`` (on ``count`` positions of v, ``dim``
    wide) added, when the layer has it."""
    kernel = layer.p["v_local"]
    if layer.p["queries"] == "local":  # LocalGlobalQuery's depthwise 3x3 conv (its pool has no MACs)
        channels = shape[0]
        params, macs = params + 9 * channels + channels, macs + count * channels * 9
        extra = extra + [("params", f"local queries: a depthwise 3x3 conv with bias of stride {layer.p['stride']} "
                                    f"= 9*{channels} + {channels} = {10 * channels:,} params"),
                         ("macs", f"MACs local queries = M*C*9 = {count}*{channels}*9 = {count * channels * 9:,}")]
    if kernel is None:
        return params, macs, buffers, extra
    if is_tokens(shape):
        raise layer.error("v_local needs a map (C x H x W)", "v_local")
    norm = 2 * dim if layer.p["norm"] == "bn" else 0
    conv, local_macs = kernel * kernel * dim + dim, count * dim * kernel * kernel
    lines = [("params", f"v_local: a depthwise {kernel}x{kernel} conv with bias on v = k*k*E + E = {kernel}*{kernel}*"
                        f"{dim} + {dim}" + (f" + its BatchNorm 2*{dim}" if norm else "") + f" = {conv + norm:,} params"
                        + (f" (buffers: {norm:,})" if norm else "")),
             ("macs", f"MACs v_local = N*E*k*k = {count}*{dim}*{kernel}*{kernel} = {local_macs:,}")]
    return params + conv + norm, macs + local_macs, buffers + norm, extra + lines


def local_queries(layer, shape, count):
    """The positions the queries come from: all N, or with ``queries: local`` every stride-th row and column of the
    map, ceil(H/s)*ceil(W/s)."""
    if layer.p["queries"] != "local":
        return count
    if is_tokens(shape) or layer.p["stride"] < 2:
        raise layer.error("queries: local needs a map (C x H x W) and a stride of 2 or more", "queries")
    return math.prod(-(-size // layer.p["stride"]) for size in shape[1:])


def strided_map(layer, shape, out, result):
    """The output: ``result``, or with ``queries: local`` the out x ceil(H/s) x ceil(W/s) map of the queries."""
    if layer.p["queries"] != "local":
        return result
    return (out,) + tuple(-(-size // layer.p["stride"]) for size in shape[1:])
