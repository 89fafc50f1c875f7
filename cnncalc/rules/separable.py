"""Attention whose cost is linear in the positions: separable self-attention (MobileViT v2's LinearSelfAttention,
arXiv 2206.02680) and ReLU linear attention (EfficientViT's LiteMLA, arXiv 2205.14756).

On N positions of width C: a 1x1 projection to 1 + 2C channels gives one context score a position (q), the keys
k and the values v; the scores' softmax over the positions of a sequence weights the keys, summed into one
context vector of C a sequence; relu(v) times that vector, then a 1x1 output projection C -> C. Params
C*(1+2C) + C*C (+ the biases 1+2C and C); MACs N*C*(1+2C) + N*C*C, the two projections: the weighting, the sum
and the products are elementwise (PyTorch's FlopCounterMode counts no MACs for them either). ``patch: p`` (MobileViT
v2 on a map): the map is cut into p x p patches and each of the p*p pixels of a patch is one sequence, across
the patches (the softmax over H/p*W/p positions, one context vector a pixel: p*p of them); the counts are the same.

``linearattention`` (EfficientViT): the input's channels are q, k and v of each of ``heads`` heads, d each
(C = 3*heads*d, as LiteMLA's q/k/v conv and its multi-scale aggregation give them); relu(q) (relu(k)^T [v, 1]),
the last column of the result (the normaliser) plus eps dividing the others; output heads*d channels. MACs the
two products, heads*d*(d+1)*N each (PyTorch's FlopCounterMode counts them, as bmm); no params.
"""

from ..numbers import is_tokens
from .keys import check_count, check_flag, check_size
from .registry import REQUIRED, Cost, rule
from .windows import elements, per_axis, positions, show_shape, width, with_width


@rule("separableattention", keys={"bias": (check_flag, True), "patch": (check_size, None)}, weight=True,
      category="attention")
def separable_attention(layer, shape):
    """Separable self-attention (MobileViT v2): params C*(1+2C) + C*C (+ 1+2C + C biases), MACs N*C*(1+3C)."""
    if len(shape) == 1:
        raise layer.error(f"separableattention needs tokens (N x D) or a map, but gets a flat vector of {shape[0]}")
    channels, count = width(shape), positions(shape)
    sequences = 1
    if layer.p["patch"] is not None:
        if is_tokens(shape):
            raise layer.error(f"patch needs a map (C x H x W), but the input is {shape[0]} tokens of width "
                              f"{shape[1]}", "patch")
        patch = per_axis(layer, "patch", layer.p["patch"], shape)
        if any(size % p for size, p in zip(shape[1:], patch)):
            raise layer.error(f"patch {'x'.join(map(str, patch))} does not tile the map {show_shape(shape)}", "patch")
        sequences = elements(patch)
    projected = 1 + 2 * channels
    weights = channels * projected + channels * channels
    biases = projected + channels if layer.p["bias"] else 0
    qkv, proj = count * channels * projected, count * channels * channels
    # bias adds; the softmax (3 an element); keys times scores, their sum, relu(v), times the context vector
    work = (count * (projected + channels) if layer.p["bias"] else 0) + 3 * count + 4 * count * channels
    cost = Cost(shape, params=weights + biases, macs=qkv + proj, elementwise=work, window="global")
    cost.scratch = (("q, k, v", f"{count}*{projected}", count * projected),
                    ("context scores and their softmax", f"2*{count}", 2 * count),
                    ("weighted keys and the context vectors", f"{count}*{channels} + {sequences}*{channels}",
                     count * channels + sequences * channels),
                    ("relu(v) and its product with the context", f"2*{count}*{channels}", 2 * count * channels))
    if layer.explaining:
        sides = "x".join(map(str, patch)) if sequences > 1 else ""
        where = (f"{sequences} sequences (one a pixel of the {sides} patches) of {count // sequences:,} positions"
                 if sequences > 1 else "one sequence")
        bias_text, bias_numbers = (" + biases (1+2C) + C", f" + {projected} + {channels}") if biases else ("", "")
        cost.explain += [
            ("size", f"N = {count:,} positions of width C = {channels}; {where}; one context score a position "
                     f"(softmax over its sequence), one context vector of C a sequence"),
            ("params", f"params = q,k,v projection C*(1+2C) + output projection C*C{bias_text} = {channels}*"
                       f"{projected} + {channels}*{channels}{bias_numbers} = "
                       f"{weights + biases:,}"),
            ("macs", f"MACs q,k,v projection = N*C*(1+2C) = {count}*{channels}*{projected} = {qkv:,}"),
            ("macs", f"MACs output projection = N*C*C = {count}*{channels}*{channels} = {proj:,}"),
            ("macs", f"MACs = {qkv:,} + {proj:,} = {qkv + proj:,} (the softmax, the keys weighted and summed, relu(v)"
                     f" times the context vector: elementwise, not MACs)")]
    return cost


@rule("linearattention", keys={"heads": (check_count, REQUIRED), "dim": (check_count, None)}, category="attention")
def linear_attention(layer, shape):
    """ReLU linear attention (EfficientViT's LiteMLA): q, k, v given, d each a head, as the channels; output
    heads*d. MACs 2*heads*N*d*(d+1) (k^T [v, 1] and q times it); no params."""
    if len(shape) == 1:
        raise layer.error(f"linearattention needs tokens (N x D) or a map, but gets a flat vector of {shape[0]}")
    channels, count, heads = width(shape), positions(shape), layer.p["heads"]
    dim = layer.p["dim"] or channels // (3 * heads)
    if not dim or channels != 3 * heads * dim:
        raise layer.error(f"the input's {channels} channels must be q, k and v of each head: 3 * heads * dim = "
                          f"3*{heads}*{dim} = {3 * heads * dim}", "dim" if layer.p["dim"] else "heads")
    context = heads * count * dim * (dim + 1)  # k^T [v, 1]: heads x d x (d+1), N terms an entry
    out = with_width(shape, heads * dim)
    # relu(q), relu(k); the normaliser added eps and the division
    work = 2 * heads * count * dim + heads * count + heads * count * dim
    cost = Cost(out, macs=2 * context, elementwise=work, window="global")
    cost.products = cost.macs
    cost.heads = heads
    cost.scratch = (("relu(q), relu(k) and v padded with ones", f"{heads}*{count}*(3*{dim} + 1)",
                     heads * count * (3 * dim + 1)),
                    ("k^T [v, 1]", f"{heads}*{dim}*{dim + 1}", heads * dim * (dim + 1)),
                    ("q k^T [v, 1]", f"{heads}*{count}*{dim + 1}", heads * count * (dim + 1)))
    if layer.explaining:
        cost.explain += [
            ("size", f"N = {count:,} positions; {heads} heads of d = {dim}: q, k and v are the input's {channels} "
                     f"channels, 3*d a head; v padded with a column of ones (the normaliser), d+1 = {dim + 1} wide"),
            ("macs", f"MACs relu(k)^T [v, 1] = heads*d*(d+1)*N = {heads}*{dim}*{dim + 1}*{count} = {context:,}"),
            ("macs", f"MACs relu(q) times it = heads*N*d*(d+1) = {heads}*{count}*{dim}*{dim + 1} = {context:,}"),
            ("macs", f"MACs = {context:,} + {context:,} = {2 * context:,} (relu, and the division by the last column "
                     f"plus eps, are elementwise)")]
    return cost
