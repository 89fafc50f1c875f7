"""Attention and products of activations: multi-head self-attention (ViT's, Swin's windowed one) and matmul.

MACs are the multiply-accumulates of the textbook formula, as PyTorch's FlopCounterMode / 2 counts them
(the math kernel): the Q, K, V projections, the scores QK^T, the weighted sum AV and the output projection;
bias adds, the 1/sqrt(d) scale and the softmax are elementwise work, not MACs. The layer's memory is every
tensor the formula writes, not only its output: Q, K and V, the scores and their softmax (heads x N x N per
window: the attention map), the weighted sum, and the output (docs/conventions.md says why).
"""

import math

from ..numbers import Tokens, is_tokens
from . import attention_biases as extras, attention_explain as worked, cait, multiscale, reduction
from . import efficientformer2 as effv2
from .keys import check_activation, check_choice, check_count, check_flag, check_offset, check_size
from .registry import REQUIRED, Cost, rule
from .windows import elements, per_axis, product_text, show_shape, width, with_width

# folded: the relative bias as torch.export stores it, one constant of heads x n x n per window's scores;
# offsets: a learned bias per head for each offset (|dy|, |dx|) between two positions (LeViT, EfficientFormer);
# relative_logits: the queries times a learned embedding of each offset along each axis (BoTNet's PosEmbedRel);
# continuous_folded: Swin V2's MLP as torch.export stores it, its first Linear run ahead on the coordinates: a
# constant table of (2W-1)^2 x hidden, the bias, the second Linear (its MACs only);
# decomposed: MViT V2's relative position, a table per axis of T, H, W (see multiscale)
POSITION_BIASES = ("none", "relative", "continuous", "continuous_folded", "folded", "offsets", "relative_logits",
                   "decomposed")

ATTENTION_KEYS = {
    "heads": (check_count, REQUIRED), "dim": (check_count, None), "qkv_bias": (check_flag, True),
    "proj_bias": (check_flag, True), "window": (check_size, None), "shift": (check_offset, 0),
    "position": (check_choice(*POSITION_BIASES), "none"), "cpb_hidden": (check_count, 512),
    "cosine": (check_flag, False), "key_dim": (check_count, None), "out": (check_count, None),
    "norm": (check_choice("none", "bn"), "none"), "proj_act": (check_activation, None), "stride": (check_count, 1),
    "mask": (check_choice("none", "buffer"), "none"),
    "over": (check_choice("tokens", "channels"), "tokens"),
    "proj": (check_flag, True),
    # pooling attention on the tokens of a T x H x W grid (MViT: see multiscale)
    "grid": (check_size, None), "pool_q": (check_size, None), "pool_kv": (check_size, None),
    "pool_kernel": (check_size, 3), "residual_pool": (check_flag, False), "gathered": (multiscale.check_axes, None),
    "fit": (check_flag, False), **extras.KEYS,  # k_bias, class_token, rope (BEiT, EVA-02)
    "reduce": (check_count, None),  # keys and values from the map reduced by a strided conv (PVT: see reduction)
    "talking_heads": (check_flag, False), "queries": (check_choice("all", "class", "local"), "all"),  # CaiT's: cait
    **effv2.KEYS,  # v_local (EfficientFormerV2)
}


def _geometry(layer, shape):
    """(positions the projections run on, windows, positions per window, window per axis or None, padded map).

    With ``fit: true`` (torchvision's 3-D Swin) a window no shorter than the map on an axis becomes the map there,
    unshifted; the relative table and its index keep the window as written (:func:`_table_window`)."""
    if is_tokens(shape):
        for key, given in (("window", layer.p["window"] is not None), ("mask", layer.p["mask"] != "none"),
                           ("position", layer.p["position"] not in extras.token_positions(layer))):
            if given:
                raise layer.error(f"{key} needs a map (C x H x W), but the input is {shape[0]} tokens of width "
                                  f"{shape[1]}", key)
        return shape[0], 1, shape[0], None, None
    spatial = tuple(shape[1:])
    written = spatial if layer.p["window"] is None else per_axis(layer, "window", layer.p["window"], shape)
    window = tuple(min(size, k) for size, k in zip(spatial, written)) if layer.p["fit"] else written
    padded = tuple(-(-size // k) * k for size, k in zip(spatial, window))
    shift = per_axis(layer, "shift", layer.p["shift"], shape) if layer.p["shift"] else (0,) * len(spatial)
    for s, k in zip(shift, written):
        if s >= k:
            raise layer.error(f"shift {s} must be smaller than the window {k}", "shift")
    windows = elements(padded) // elements(window)
    return elements(padded), windows, elements(window), window, padded


@rule("attention", keys=ATTENTION_KEYS, weight=True, category="attention")
def attention(layer, shape):
    """Multi-head self-attention over N tokens of width C (or a map's H*W positions, or each window of them):
    params 3*C*E + E*C (+ biases), MACs N*C*3E + 2*N*N*E + N*E*C with E = dim (default C). ``over: channels``
    (XCiT's cross-covariance attention): each head's d = E/heads channels attend to one another, the scores a
    d x d map a head, so QK^T and AV count heads*d*d*N each."""
    if len(shape) == 1:
        raise layer.error(f"attention needs tokens (N x D) or a map, but gets a flat vector of {shape[0]}")
    p = layer.p
    channels, heads = width(shape), p["heads"]
    dim = p["dim"] or channels
    if dim % heads:
        raise layer.error(f"heads {heads} must divide the width {dim}", "heads")
    if p["reduce"] is not None:
        return reduction.attention(layer, shape, channels, heads)
    if p["grid"] is not None or p["position"] == "decomposed" or p["residual_pool"] or p["gathered"] \
            or p["pool_q"] is not None or p["pool_kv"] is not None:
        return multiscale.attention(layer, shape, channels, heads)
    count, windows, per_window, window, padded = _geometry(layer, shape)
    head_dim = dim // heads
    channel_wise = p["over"] == "channels"  # XCiT's cross-covariance attention: a d x d map a head
    if channel_wise:
        _check_over_channels(layer)
    key_dim = p["key_dim"] or head_dim  # the width of q and k a head (narrower than v's in LeViT, EfficientFormer)
    projected = 2 * heads * key_dim + dim  # the width of q, k and v together
    out = p["out"] or channels  # the output projection's width (wider than the input in CoAtNet's first blocks)
    if not p["proj"]:  # no output projection (BoTNet): the heads' weighted sums, E wide, are the output
        if p["out"] or p["proj_act"]:
            key = "out" if p["out"] else "proj_act"
            raise layer.error(f"{key} needs the output projection, but the layer has proj: false", key)
        out = dim
    queries = _queries(layer, shape, count)  # the tokens the queries come from (fewer with a stride: LeViT)
    rows = per_window if queries == count else queries  # query positions a window
    qkv_width = queries * heads * key_dim + count * (heads * key_dim + dim)  # the elements of Q, K and V
    qkv, scores = qkv_width * channels, windows * heads * rows * per_window * key_dim
    proj = queries * dim * out if p["proj"] else 0
    if channel_wise:  # each head's d x N queries times its keys transposed: a d x d map, N terms an entry
        scores, rows, per_window = heads * head_dim * head_dim * count, head_dim, head_dim
    values = scores // key_dim * head_dim if not channel_wise else scores
    macs = qkv + scores + values + proj
    weights = channels * projected + (dim * out if p["proj"] else 0)
    proj_bias = p["proj_bias"] and p["proj"]
    biases, table_params, buffers, extra = extras.biases(layer, shape, projected, key_dim, out if proj_bias else 0)
    params = weights + biases + table_params  # k_bias, class_token's table (BEiT); rope (EVA-02): attention_biases
    maps = windows * heads * rows * per_window  # elements of the attention map
    sides = _table_window(layer, shape, window)  # the window the table and index are made for
    table = elements(2 * k - 1 for k in sides) if window else 0
    indexed = elements(sides) if window else per_window  # positions a window the index is made for
    if p["position"] == "relative" and window:
        params += table * heads
        buffers += indexed * indexed
        formula, pairs = ("(2W-1)^2", "W^2 * W^2") if len(window) == 2 else ("(2Wt-1)*(2Wh-1)*(2Ww-1)", "n * n") \
            if len(window) == 3 else ("(2W-1)", "W * W")
        extra.append(("params", f"relative position bias table = {formula} * heads = {worked.table_text(sides)} * "
                                f"{heads} = {table * heads:,} params (buffers: the index into it, "
                                f"{pairs} = {indexed}*{indexed} = {indexed * indexed:,})"))
    elif p["position"] == "continuous":
        hidden = p["cpb_hidden"]
        mlp_params = 2 * hidden + hidden + hidden * heads
        mlp_macs = table * (2 * hidden + hidden * heads)
        params += mlp_params
        macs += mlp_macs
        buffers += per_window * per_window + len(window) * table
        extra += [("params", f"continuous position bias MLP (Linear(2, {hidden}) with bias, Linear({hidden}, heads)"
                             f" without) = 2*{hidden} + {hidden} + {hidden}*{heads} = {mlp_params:,} params (buffers:"
                             f" the coordinates table {len(window)}*{worked.table_text(window)} and the index "
                             f"{per_window}*{per_window})"),
                  ("macs", f"MACs continuous position bias MLP on the (2W-1)^2 = {table:,} offsets = {table}*(2*{hidden} "
                           f"+ {hidden}*{heads}) = {mlp_macs:,}")]
    elif p["position"] == "continuous_folded":
        hidden = p["cpb_hidden"]
        mlp_params = table * hidden + hidden + hidden * heads
        mlp_macs = table * hidden * heads
        params += mlp_params
        macs += mlp_macs
        buffers += per_window * per_window
        extra += [("params", f"continuous position bias MLP as torch.export stores it, its first Linear run ahead on "
                             f"the coordinates: the table (2W-1)^2*{hidden} + the bias {hidden} + Linear({hidden}, "
                             f"heads) = {table}*{hidden} + {hidden} + {hidden}*{heads} = {mlp_params:,} params "
                             f"(buffers: the index {per_window}*{per_window}; PyTorch counts Linear(2, {hidden})'s "
                             f"2*{hidden} instead of the table, and the coordinates as buffers)"),
                  ("macs", f"MACs continuous position bias MLP's second Linear on the (2W-1)^2 = {table:,} offsets = "
                           f"{table}*{hidden}*{heads} = {mlp_macs:,} (the first, {table}*2*{hidden} in PyTorch, was "
                           f"run by the exporter)")]
    elif p["position"] == "folded":
        params += heads * rows * per_window
        extra.append(("params", f"position bias folded by the exporter into one constant added to the scores = heads"
                                f" * {'n * n' if rows == per_window else 'M * N'} = {heads}*{rows}*{per_window} = "
                                f"{heads * rows * per_window:,} "
                                f"params (the model's relative table, (2W-1)^2 * heads, is not in the file)"))
    elif p["position"] == "offsets":
        params += heads * per_window
        buffers += rows * per_window
        pairs = f"n*n = {rows * per_window:,}" if rows == per_window else f"M*N = {rows}*{per_window} = {rows * per_window:,}"
        extra.append(("params", f"attention biases, one a head for each offset between two positions = heads * n = "
                                f"{heads}*{per_window} = {heads * per_window:,} params (buffers: the offset index of "
                                f"each pair, {pairs})"))
    elif p["position"] == "relative_logits":
        logit_params, logit_macs, lines = _relative_logits(layer, shape, window, windows, heads, per_window, key_dim)
        params, macs, extra = params + logit_params, macs + logit_macs, extra + lines
    talk = cait.talking_heads(heads, maps) if p["talking_heads"] else (0, 0, 0, [], "", 0)
    params, macs, buffers, extra = effv2.v_local(layer, shape, queries, dim, params + talk[0], macs + talk[1], buffers,
                                                 extra + talk[3])  # EfficientFormerV2's local conv on v
    if p["mask"] == "buffer":  # timm's Swin keeps the shifted windows' mask (0 or -100 a pair) as a buffer
        if p["window"] is None:
            raise layer.error("mask: buffer is the mask of attention in windows: give window", "mask")
        buffers += windows * per_window * per_window
        extra.append(("params", f"shifted windows' attention mask held as a buffer = windows * n * n = {windows}*"
                                f"{per_window}*{per_window} = {windows * per_window * per_window:,} buffers"))
    normed = projected + (out if p["proj"] else 0) if p["norm"] == "bn" else 0  # LeViT: a BatchNorm after each
    params, buffers = params + 2 * normed, buffers + 2 * normed
    extra += [effv2.norm_line(projected, normed, p["proj"])] if normed else []
    if p["cosine"]:
        params += heads
        scale = "temperature" if channel_wise else "logit scale"
        extra.append(("params", f"cosine attention: a learned {scale} per head = {heads} params"))
    scratch = (("Q, K, V", f"{queries}*{heads * key_dim} + {count}*{heads * key_dim + dim}" if queries != count else
                f"{count}*{projected}" if key_dim != head_dim else f"3*{count}*{dim}", qkv_width),
               ("scores and softmax" + talk[4], f"{2 + talk[5]}*{worked.map_text(windows, heads, per_window, rows)}",
                (2 + talk[5]) * maps),
               ("weighted sum AV", f"{queries}*{dim}", queries * dim))
    # the scale, softmax's three (and a position bias; relative logits: the height's and the width's added first)
    per_map_element = 4 + (p["position"] != "none") + (p["position"] == "relative_logits")
    work = (qkv_width if p["qkv_bias"] else 0) + (out * queries if proj_bias else 0) \
        + per_map_element * maps + (2 * (qkv_width + out * queries * p["proj"]) if normed else 0) \
        + (queries * dim if p["proj_act"] else 0) + talk[2]
    result = Tokens(queries, out) if queries != count else with_width(shape, out) if out != channels else shape
    result = effv2.strided_map(layer, shape, out, result)  # queries: local, the map's every stride-th position
    cost = Cost(result, params=params, buffers=buffers, macs=macs,
                elementwise=work, window=tuple((k, 1, 1) for k in window) if window else "global")
    cost.scratch = scratch
    cost.heads = heads
    cost.products = 2 * scores
    if window and window != tuple(shape[1:]):
        cost.kernel = window
    if layer.explaining:
        lines = worked.explain(shape, channels, dim, heads, head_dim, count, windows, per_window, window, padded,
                         qkv, scores, proj, weights, biases, params, macs, layer.p)
        if sides != window:  # fit: true, the window shrunk to the map on some axis
            lines.insert(1, ("size", f"fit: the window {product_text(sides)} runs as {product_text(window)}, the map's "
                                     f"size on each axis where the map is not longer than it (unshifted there), as "
                                     f"torchvision's 3-D Swin runs it; its table and index keep {product_text(sides)}"))
        if key_dim != head_dim:
            lines = worked.narrow_keys(lines, channels, dim, heads, key_dim, head_dim, count, projected, qkv, values, weights,
                                 biases, windows, per_window, scores, proj, macs)
        if out != channels:
            lines = worked.widened(lines, channels, dim, out, count, projected, qkv, scores, values, proj, macs, weights,
                             biases)
        if channel_wise:
            lines = worked.over_channels(lines, channels, heads, head_dim, count, scores, qkv, proj, macs)
        if p["queries"] == "class":
            lines = worked.replaced(lines, cait.class_lines(channels, dim, out, heads, key_dim, head_dim, count, qkv,
                                                         scores, values, proj, macs))
        elif queries != count:
            lines = worked.subsampled(lines, p["stride"], channels, dim, out, heads, key_dim, head_dim, count, queries, qkv,
                                scores, values, proj, macs)
        if not p["proj"]:
            lines = worked.no_projection(lines, channels, dim, projected, biases, weights, qkv, scores, values, macs)
        # in the order a student works it: the params and their total, then each MACs term and the total
        scale = "temperature" if channel_wise else "logit scale"
        parts = ", ".join(part for part, present in ((_position_text(p), p["position"] != "none"), (scale, p["cosine"]),
                                                     ("BatchNorms", p["norm"] == "bn"),
                                                     ("talking heads", p["talking_heads"])) if present)
        total = [("params", f"params = {weights + biases:,} + {params - weights - biases:,} ({parts}) = {params:,}")] \
            if params != weights + biases else []
        macs_lines = [line for line in lines if line[0] == "macs"]
        cost.explain += ([line for line in lines if line[0] != "macs"] + [e for e in extra if e[0] == "params"]
                         + total + macs_lines[:-1] + [e for e in extra if e[0] == "macs"] + macs_lines[-1:])
    return cost


def _check_over_channels(layer):
    """``over: channels`` attends across each head's d channels, not across positions: the keys that place or
    bias positions do not apply."""
    p = layer.p
    for key, unset in (("window", None), ("position", "none"), ("key_dim", None), ("stride", 1), ("queries", "all"),
                       ("talking_heads", False)):
        if p[key] != unset:
            raise layer.error(f"over: channels (attention across each head's channels) does not take {key}", key)


def _relative_logits(layer, shape, window, windows, heads, per_window, key_dim):
    """Params, MACs and explain lines of relative position logits (BoTNet's PosEmbedRel): a learned embedding
    k wide for each of the 2K-1 offsets along each axis of a K-wide map (or window), shared by the heads; each
    query is multiplied by every embedding of its axis, heads*n*k*((2H-1) + (2W-1)) MACs a window."""
    if len(window) != 2:
        raise layer.error(f"position: relative_logits needs a 2-D map (C x H x W), but the input is "
                          f"{show_shape(shape)}", "position")
    offsets = sum(2 * k - 1 for k in window)
    params = offsets * key_dim
    macs = windows * heads * per_window * key_dim * offsets
    sides = " + ".join(f"(2*{k}-1)" for k in window)
    count = f"{windows}*{heads}*{per_window}" if windows > 1 else f"{heads}*{per_window}"
    return params, macs, [
        ("params", f"relative position logits: an embedding k = {key_dim} wide for each offset along the height "
                   f"and the width, shared by the heads = ((2H-1) + (2W-1))*k = ({sides})*{key_dim} = {params:,} "
                   f"params"),
        ("macs", f"MACs relative position logits = {'windows*' if windows > 1 else ''}heads*n*k*((2H-1) + (2W-1)) "
                 f"(each query times every embedding of its row and of its column) = {count}*{key_dim}*{offsets} = "
                 f"{macs:,}")]


def _position_text(p):
    return "position logits" if p["position"] == "relative_logits" else "position bias"


def _table_window(layer, shape, window):
    """The window per axis a relative table and its index are made for: the window as written, which ``fit: true``
    shrinks only where attention runs (torchvision's 3-D Swin keeps its 8 x 7 x 7 table on a 4 x 7 x 7 map)."""
    if not window or not layer.p["fit"] or is_tokens(shape):
        return window
    return per_axis(layer, "window", layer.p["window"], shape) if layer.p["window"] is not None else window


def _queries(layer, shape, count):
    """The tokens the queries come from: all N, or with ``stride: s`` every s-th row and column of the square
    grid the N tokens are (LeViT's AttentionSubsample), ceil(sqrt(N)/s)^2 of them."""
    stride = layer.p["stride"]
    if layer.p["queries"] == "class":  # CaiT's class attention: the class token alone queries
        if not is_tokens(shape) or stride != 1:
            raise layer.error("queries: class needs tokens (N x D), the class token first, and stride 1", "queries")
        return 1
    if stride == 1 or layer.p["queries"] == "local":
        return effv2.local_queries(layer, shape, count)
    side = math.isqrt(count)
    if not is_tokens(shape) or side * side != count:
        raise layer.error(f"stride needs tokens of a square grid (N = side^2), but the input is {show_shape(shape)}",
                          "stride")
    return (-(-side // stride)) ** 2


