"""Tokens (a transformer's N x D tensors): a map to tokens and back, learned class tokens and position
embeddings, and reading the tokens out (the class token, or their mean).

Token shapes are ``Tokens(N, D)`` (cnncalc.numbers): N tokens of width D, printed ``197 x 768`` as PyTorch
holds them. The layers that keep each token's width (layernorm, linear, the activations, dropout, add,
scale) take tokens as they take a map; a layer that needs a map (conv, pools) refuses them.
"""

import math

from ..numbers import Tokens, is_tokens
from .keys import check_count, check_index, check_offset, check_size
from .registry import Cost, rule
from .windows import elements, need_map, product_text, show_shape, width


def need_tokens(layer, shape):
    """``shape`` if it is N x D tokens; a layer error otherwise."""
    if not is_tokens(shape):
        kind = "a flat vector" if len(shape) == 1 else f"the map {show_shape(shape)}"
        raise layer.error(f"{layer.type} needs N x D tokens, but gets {kind} (make tokens of a map with a "
                          f"tokens layer)")
    return shape


@rule("tokens")
def tokens(layer, shape):
    """A map to tokens: C x H x W -> (H*W) x C, each position a token whose width is its C channels (ViT's
    flatten(2).transpose(1, 2) after the patch conv). No params, no work."""
    need_map(layer, shape)
    cost = Cost(Tokens(elements(shape[1:]), shape[0]))
    if layer.explaining:
        cost.explain.append(("output_shape", f"tokens N = positions = {product_text(shape[1:])} = {cost.shape[0]:,},"
                                             f" each of width D = the {shape[0]} channels"))
    return cost


@rule("untokens", keys={"size": (check_size, None)})
def untokens(layer, shape):
    """Tokens back to a map: N x D -> D x H x W with H*W = N (``size``: H or [H, W]; default a square map).
    No params, no work."""
    count, channels = need_tokens(layer, shape)
    size = layer.p["size"]
    if size is None:
        side = math.isqrt(count)
        if side * side != count:
            raise layer.error(f"{count} tokens are not a square map; give size: [H, W]")
        size = (side, side)
    elif not isinstance(size, tuple):
        size = (size, size)
    if elements(size) != count:
        raise layer.error(f"size {product_text(size)} = {elements(size):,} positions, but there are {count:,} "
                          f"tokens", "size")
    return Cost((channels,) + tuple(size))


@rule("classtoken", keys={"count": (check_count, 1)})
def class_token(layer, shape):
    """Learned class token(s) prepended: N x D -> (N + count) x D; count*D params (ViT's class_token)."""
    count, channels = need_tokens(layer, shape)
    extra = layer.p["count"]
    cost = Cost(Tokens(count + extra, channels), params=extra * channels)
    if layer.explaining:
        cost.explain += [("output_shape", f"tokens = N + count = {count} + {extra} = {count + extra:,}"),
                         ("params", f"params = count*D = {extra}*{channels} = {cost.params:,} (the learned class "
                                    f"token{'s' if extra > 1 else ''})")]
    return cost


@rule("posembed", keys={"fourier": (check_count, None), "separable": (check_size, None)})
def position_embedding(layer, shape):
    """A learned position embedding added: one parameter per input element (N*D for tokens, C*H*W for a
    map); one add per element, no MACs. ``fourier: F``: a Fourier position encoding instead (EdgeNeXt's, after
    DETR and XCiT): the sines and cosines of F frequencies of each position's y and x, computed from the
    positions alone, projected by a 1x1 conv of 2F inputs to the width D (2F*D + D params, positions*2F*D MACs:
    the conv runs on the 2F x H x W grid of features), then added. ``separable: [T, H, W]``: tokens of a clip's
    T x H x W grid (after any class tokens) whose embedding is a temporal table T x D plus a spatial one
    (H*W) x D, and one vector for each token before the grid (MViT V1): (T + H*W + class tokens) * D params."""
    count = elements(shape)
    features, grid = layer.p["fourier"], layer.p["separable"]
    if features is None and grid is None:
        cost = Cost(shape, params=count, elementwise=count)
        if layer.explaining:
            what = "N*D" if is_tokens(shape) else "C*H*W" if len(shape) == 3 else "elements"
            cost.explain.append(("params", f"params = {what} = {product_text(shape)} = {count:,} (a learned vector "
                                           f"added at every position)"))
        return cost
    if features is not None and grid is not None:
        raise layer.error("fourier and separable are two kinds of position embedding: give one", "separable")
    return _fourier(layer, shape, count, features) if features is not None else _separable(layer, shape, count, grid)


def _fourier(layer, shape, count, features):
    if len(shape) == 1:
        raise layer.error(f"fourier needs tokens or a map, but the input is a flat vector of {shape[0]}", "fourier")
    channels = width(shape)
    positions = count // channels
    inputs = 2 * features
    params, macs = inputs * channels + channels, positions * inputs * channels
    cost = Cost(shape, params=params, macs=macs, elementwise=2 * count)
    if layer.explaining:
        where = "N tokens" if is_tokens(shape) else "positions H*W"
        cost.explain += [
            ("params", f"params = the 1x1 projection of the 2F = 2*{features} = {inputs} sine and cosine features to "
                       f"D = {channels}: 2F*D + D = {inputs}*{channels} + {channels} = {params:,}"),
            ("macs", f"MACs = {where}*2F*D = {positions}*{inputs}*{channels} = {macs:,} (the projection runs on the "
                     f"features of every position; the sines and cosines are not MACs)")]
    return cost


def _separable(layer, shape, count, grid):
    tokens_count, channels = need_tokens(layer, shape)
    if not isinstance(grid, tuple) or len(grid) != 3:
        raise layer.error("separable takes the grid as [T, H, W]", "separable")
    extra = tokens_count - elements(grid)
    if extra < 0:
        raise layer.error(f"separable {product_text(grid)} = {elements(grid):,} positions, more than the "
                          f"{tokens_count:,} tokens", "separable")
    t, h, w = grid
    params = (t + h * w + extra) * channels
    cost = Cost(shape, params=params, elementwise=count)
    if layer.explaining:
        cost.explain.append(("params", f"params = (T + H*W + class tokens)*D = ({t} + {h}*{w} + {extra})*{channels} "
                                       f"= {params:,} (a temporal and a spatial table, summed at each of the "
                                       f"{elements(grid):,} positions of the grid)"))
    return cost


@rule("taketoken", keys={"index": (check_index, 0), "count": (check_count, None)})
def take_token(layer, shape):
    """One token's vector: N x D -> D (``index`` from 0; 0 is ViT's class token); with ``count: k`` the k
    tokens from ``index`` on, kept as tokens, k x D (x[:, 1:] and x[:, 0:1]: CaiT's and XCiT's class
    attention blocks). No params, no work."""
    count, channels = need_tokens(layer, shape)
    index, taken = layer.p["index"], layer.p["count"]
    if taken and index + taken > count:
        raise layer.error(f"index {index} + count {taken} must be at most the {count} tokens", "count")
    if index >= count:
        raise layer.error(f"index {index} must be below the {count} tokens", "index")
    return Cost(Tokens(taken, channels) if taken else (channels,))


@rule("meantokens", keys={"skip": (check_offset, 0)}, category="global pool")
def mean_tokens(layer, shape):
    """The mean of the tokens: N x D -> D; N*D adds, counted as a global average pool's (lecture flop N*D).
    ``skip: k`` leaves the first k tokens (class tokens) out of the mean, timm's ``x[:, 1:].mean(1)``
    (BEiT): the mean of the other N - k."""
    count, channels = need_tokens(layer, shape)
    skip = layer.p["skip"]
    if skip >= count:
        raise layer.error(f"skip {skip} must leave some of the {count} tokens", "skip")
    work = (count - skip) * width(shape)
    cost = Cost((channels,), flops=work, elementwise=work, window="global")
    if layer.explaining:
        terms = f"(N-{skip})*D = ({count}-{skip})*{channels}" if skip else f"N*D = {count}*{channels}"
        cost.explain.append(("flops", f"flop = {terms} = {work:,} (an average over the tokens"
                                      f"{f', the first {skip} left out' if skip else ''}, counted as a global "
                                      f"average pool)"))
    return cost
