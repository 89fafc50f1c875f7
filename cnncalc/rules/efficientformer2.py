"""The attention keys of EfficientFormerV2 (see :mod:`.attention`): ``v_local`` and the BatchNorms of an
attention without an output projection.

``v_local: k`` (EfficientFormerV2's Attention2d): a depthwise k x k conv with bias on v (the E-wide map of the
values, padded to keep its size), its result added to the heads' weighted sums: params ``k*k*E + E``, MACs
``N*E*k*k``; with ``norm: bn`` a BatchNorm after it (``2E`` params, ``2E`` buffers: its running mean and
variance). ``norm: bn`` with ``proj: false`` counts the BatchNorms after q, k and v alone (there is no output
projection to normalise).
"""

from ..numbers import is_tokens
from .keys import check_count

KEYS = {"v_local": (check_count, None)}


def norm_line(projected, normed, proj):
    """The explain line of the BatchNorms after the projections (``normed`` features in all)."""
    where = "the q/k/v and the output projections" if proj else "the q/k/v projections (no output projection)"
    return ("params", f"BatchNorm after {where} = 2*{normed} = {2 * normed:,} params (buffers: their running mean "
                      f"and variance, {2 * normed:,})")


def v_local(layer, shape, count, dim, params, macs, buffers, extra):
    """(params, MACs, buffers, explain lines) with those of ``v_local`` (on ``count`` positions of v, ``dim``
    wide) added, when the layer has it."""
    kernel = layer.p["v_local"]
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
