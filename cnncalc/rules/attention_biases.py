"""Attention's biases as BEiT and EVA-02 hold them (the rest of the layer: :mod:`.attention`).

- ``k_bias``: the key projection's bias. ``learned`` (the default: q, k and v each a learned bias, 3E in all);
  ``buffer``: only q's and v's are learned, k's are E zeros the module holds as a buffer (timm's BEiT:
  ``q_bias``, ``v_bias`` parameters and a ``k_bias`` buffer, concatenated into the one q/k/v Linear's bias), so
  the biases are 2E params and E buffers; ``none``: k has no bias at all (EVA-02's three Linears, k's without a
  bias): 2E params.
- ``class_token: true`` with ``position: relative`` on tokens: the first token is a class token and the other
  N - 1 a W x W grid of patches; the relative position bias table holds (2W-1)^2 offsets between two patches
  plus 3 entries (class to patch, patch to class, class to class) for each head, and its index one entry for
  each of the N x N pairs of tokens (a buffer), as timm's BEiT builds them.
"""

import math

from ..numbers import is_tokens
from .keys import check_choice, check_flag

K_BIASES = ("learned", "buffer", "none")
ROPES = ("none", "table", "shared")
# the attention layer's keys defined here
KEYS = {"k_bias": (check_choice(*K_BIASES), "learned"), "class_token": (check_flag, False),
        "rope": (check_choice(*ROPES), "none")}


def check_k_bias(layer):
    """``k_bias`` other than learned needs q/k/v biases to speak of."""
    if layer.p["k_bias"] != "learned" and not layer.p["qkv_bias"]:
        raise layer.error(f"k_bias: {layer.p['k_bias']} is about the q/k/v biases, but the layer has qkv_bias: "
                          f"false", "k_bias")


def biases(layer, shape, projected, key_dim, proj_biases):
    """(biases, position table params, buffers, explain lines) of an attention layer as far as this module's keys
    say: the q/k/v projection's biases, ``projected`` (q, k and v together) learned, or without k's heads *
    ``key_dim`` (held as a buffer of zeros, or absent), plus the output projection's ``proj_biases``; the relative
    table of a class token and a grid (:func:`class_relative`); the buffers of a rotary position embedding
    (:func:`rotary`). The keys of this module checked first."""
    check_k_bias(layer)
    check_class_token(layer, is_tokens(shape))
    params, buffers, lines = _biases(layer, projected, layer.p["heads"] * key_dim)
    table = (0, 0, []) if layer.p["position"] != "relative" or not is_tokens(shape) else class_relative(
        layer, shape, layer.p["heads"])
    more, rope_lines = rotary(layer, shape, key_dim)
    return params + proj_biases, table[0], buffers + table[1] + more, lines + table[2] + rope_lines


def _biases(layer, projected, key_width):
    p = layer.p
    if not p["qkv_bias"]:
        return 0, 0, []
    if p["k_bias"] == "learned":
        return projected, 0, []
    if p["k_bias"] == "none":
        return projected - key_width, 0, [("params", f"k has no bias: the q and v biases = {projected - key_width:,}"
                                                     f" params")]
    return projected - key_width, key_width, [
        ("params", f"k's bias: {key_width} zeros held as a buffer (q's and v's learned, {projected - key_width:,} "
                   f"params; buffers: {key_width})")]


def bias_text(p, e, dim):
    """The q/k/v biases term of the params line, as a formula and in numbers."""
    if p["k_bias"] == "learned":
        return f"3*{e}", f"3*{dim}"
    return f"2*{e}", f"2*{dim}"


def token_positions(layer):
    """The ``position`` values attention on tokens takes: ``relative`` too with ``class_token: true``."""
    return ("none", "offsets", "folded") + (("relative",) if layer.p["class_token"] else ())


def class_relative(layer, shape, heads):
    """(params, buffers, explain lines) of a relative position bias on N tokens, a class token and a W x W grid:
    ((2W-1)^2 + 3) * heads params, the index N*N buffers."""
    count = shape[0]
    side = math.isqrt(max(count - 1, 0))
    if side < 1 or side * side != count - 1:
        raise layer.error(f"class_token: true needs a class token and a square grid of patches (N - 1 = W^2), but "
                          f"N - 1 = {count - 1}", "class_token")
    entries = (2 * side - 1) ** 2 + 3
    return entries * heads, count * count, [(
        "params", f"relative position bias table (a class token and {side}x{side} patches) = ((2W-1)^2 + 3) * heads "
                  f"= ((2*{side}-1)^2 + 3)*{heads} = {entries * heads:,} params (the 3: class to patch, patch to "
                  f"class, class to class; buffers: the index into it, N*N = {count}*{count} = {count * count:,})")]


def check_class_token(layer, tokens):
    """``class_token: true`` is about a relative position bias or RoPE on tokens."""
    if layer.p["class_token"] and (not tokens or (layer.p["position"] != "relative" and layer.p["rope"] == "none")):
        raise layer.error("class_token: true needs position: relative or rope on tokens (N x D)", "class_token")
    if layer.p["rope"] != "none" and not tokens:
        raise layer.error("rope needs tokens (N x D)", "rope")


def rotary(layer, shape, key_dim):
    """(buffers, explain lines) of a rotary position embedding (RoPE, EVA-02's): q and k of each token (but the
    class token with ``class_token: true``) times a constant sin/cos table, no params, no MACs; ``rope: table``:
    this layer holds the table, P positions x 2k (the sin and the cos of each of q's and k's k features a head),
    as buffers; ``shared``: it uses the table another layer holds."""
    if layer.p["rope"] == "none":
        return 0, []
    rows = shape[0] - (1 if layer.p["class_token"] else 0)
    text = (f"rotary position embedding (RoPE): q and k of the {rows} "
            f"{'patch tokens' if layer.p['class_token'] else 'tokens'} times a constant sin/cos table, no params "
            f"and no MACs (elementwise)")
    if layer.p["rope"] == "shared":
        return 0, [("params", text + "; the table is held by another layer")]
    return rows * 2 * key_dim, [("params", text + f"; buffers: the table, positions * 2k = {rows}*2*{key_dim} = "
                                                  f"{rows * 2 * key_dim:,}")]
