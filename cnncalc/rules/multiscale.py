"""Multiscale (pooling) attention, MViT's: the attention layer with ``grid``, ``pool_q`` and ``pool_kv``.

The N x C tokens are class tokens followed by the positions of a T x H x W ``grid``. The q/k/v projection runs
on all N tokens (C*3E weights, as plain attention); then each pooled tensor (q with ``pool_q``, k and v with
``pool_kv``) has the tokens of its grid pooled by a depthwise Conv3d over the head width d = E/heads, kernel
``pool_kernel`` (padding kernel//2, stride the key's value, no bias: d*prod(K) params, heads*d*prod(out)*prod(K)
MACs), the class tokens set apart and joined again, and a LayerNorm over d (2d params). Scores and weighted
sum are then heads*Nq*Nk*d MACs each, with Nq, Nk the tokens of the pooled q and k; the output projection
runs on the Nq query tokens, which are the layer's output. ``residual_pool`` adds the pooled q to the
weighted sum (MViT V2: elementwise, no MACs). ``position: decomposed`` is MViT V2's relative position:
tables of (2*max(q, k)-1) x d for each of T, H and W (params), and the queries multiplied by the rows they
gather, heads*Tq*Hq*Wq*d*(Tk + Hk + Wk) MACs (the einsums and the matmul PyTorch counts). ``gathered: [t, h,
w]`` names the tables torch.export stores as the rows it gathers from them, q x k x d for each axis named, in
place of the (2*max(q, k)-1) x d table: the params the graph holds (reader.py notes it).
"""

from ..numbers import Tokens, is_tokens, plural
from .keys import written_as
from .registry import Cost
from .windows import elements, product_text

AXES = "thw"


@written_as("thw", {"anyOf": [{"type": "array", "items": {"enum": list(AXES)}, "maxItems": 3}, {"type": "string"}],
                    "description": "axes of the grid, t, h and w: [t], [t, h, w]"})
def check_axes(layer, key, value):
    """Axes of the grid: a list of t, h and w, or the letters written together (thw)."""
    letters = list(value) if isinstance(value, (list, tuple)) else list(str(value).replace(",", "").replace(" ", "")) \
        if isinstance(value, str) else None
    if letters is None or not letters or any(letter not in AXES for letter in letters) \
            or len(set(letters)) != len(letters):
        raise layer.error(f"{key} takes axes of the grid: a list of t, h and w, not {value!r}", key)
    return tuple(axis for axis in AXES if axis in letters)


def _triple(layer, key, value):
    values = value if isinstance(value, tuple) else (value,) * 3
    if len(values) != 3:
        raise layer.error(f"{key} takes one number or [t, h, w], not {list(values)}", key)
    return values


def attention(layer, shape, channels, heads):
    """The Cost of attention with pooling on a grid (see the module's text)."""
    p = layer.p
    if not is_tokens(shape) or p["grid"] is None:
        raise layer.error("pool_q and pool_kv need N x D tokens and their grid: [T, H, W]", "grid")
    for key, default in (("window", None), ("key_dim", None), ("cosine", False), ("norm", "none"),
                         ("proj_act", None), ("stride", 1)):
        if p[key] != default:
            raise layer.error(f"{key} cannot be combined with grid (pooling attention)", key)
    if p["position"] not in ("none", "decomposed"):
        raise layer.error(f"position {p['position']} cannot be combined with grid (pooling attention: "
                          f"position: decomposed)", "position")
    grid = _triple(layer, "grid", p["grid"])
    count = shape[0]
    extra = count - elements(grid)
    if extra < 0:
        raise layer.error(f"grid {product_text(grid)} = {elements(grid):,} positions, more than the {count:,} "
                          f"tokens", "grid")
    dim = p["dim"] or channels
    out = p["out"] or channels
    head_dim = dim // heads
    kernel = _triple(layer, "pool_kernel", p["pool_kernel"])
    pools, pool_params, pool_macs, lines = {}, 0, 0, []
    for key, copies, what in (("pool_q", 1, "q"), ("pool_kv", 2, "k and v")):
        if p[key] is None:
            pools[key] = grid
            continue
        stride = _triple(layer, key, p[key])
        sizes = tuple((g + 2 * (k // 2) - k) // s + 1 for g, k, s in zip(grid, kernel, stride))
        if min(sizes) < 1:
            raise layer.error(f"{key} {product_text(stride)} leaves no positions of the grid {product_text(grid)}", key)
        pools[key] = sizes
        params = copies * (head_dim * elements(kernel) + 2 * head_dim)
        macs = copies * heads * head_dim * elements(sizes) * elements(kernel)
        pool_params, pool_macs = pool_params + params, pool_macs + macs
        lines += [("size", f"{what} pooled: the grid {product_text(grid)} by a depthwise {product_text(kernel)} "
                           f"conv of stride {product_text(stride)}, pad {product_text(k // 2 for k in kernel)}: "
                           f"{product_text(sizes)}"),
                  ("params", f"params {what} pool{'s' if copies > 1 else ''} = {copies}*(d*{product_text(kernel)} "
                             f"conv + 2d LayerNorm) = {copies}*({head_dim}*{elements(kernel)} + 2*{head_dim}) = "
                             f"{params:,}"),
                  ("macs", f"MACs {what} pool{'s' if copies > 1 else ''} = {copies}*heads*d*{product_text(sizes)}"
                           f"*{elements(kernel)} = {copies}*{heads}*{head_dim}*{elements(sizes)}*{elements(kernel)} = "
                           f"{macs:,}")]
    queries, keys_count = extra + elements(pools["pool_q"]), extra + elements(pools["pool_kv"])
    projected = 3 * dim
    weights = channels * projected + dim * out
    biases = (projected if p["qkv_bias"] else 0) + (out if p["proj_bias"] else 0)
    qkv, scores, proj = count * channels * projected, heads * queries * keys_count * head_dim, queries * dim * out
    macs = qkv + 2 * scores + proj + pool_macs
    params = weights + biases + pool_params
    if p["gathered"] and p["position"] != "decomposed":
        raise layer.error("gathered needs position: decomposed", "gathered")
    if p["position"] == "decomposed":
        gathered = p["gathered"] or ()
        # each table (2*max(q, k)-1) x d, or the rows torch.export gathers from it for each pair, q*k*d
        tables = [q * k if axis in gathered else 2 * max(q, k) - 1
                  for axis, q, k in zip(AXES, pools["pool_q"], pools["pool_kv"])]
        table_params = sum(tables) * head_dim
        table_macs = heads * elements(pools["pool_q"]) * head_dim * sum(pools["pool_kv"])
        params, macs = params + table_params, macs + table_macs
        terms = " + ".join(f"{q}*{k}" if axis in gathered else f"{2 * max(q, k) - 1}"
                           for axis, q, k in zip(AXES, pools["pool_q"], pools["pool_kv"]))
        lines += [("params", "params relative position tables (2*max(q, k)-1)*d for T, H, W"
                             + (f" (the rows gathered for each pair, q*k*d, for {', '.join(gathered)})" if gathered
                                else "") + f" = ({terms})*{head_dim} = {table_params:,}"),
                  ("macs", f"MACs relative position = heads*Tq*Hq*Wq*d*(Tk + Hk + Wk) = {heads}*"
                           f"{product_text(pools['pool_q'])}*{head_dim}*({' + '.join(map(str, pools['pool_kv']))}) "
                           f"= {table_macs:,}")]
    maps = heads * queries * keys_count
    cost = Cost(Tokens(queries, out), params=params, macs=macs, window="global",
                elementwise=(projected * count if p["qkv_bias"] else 0) + (out * queries if p["proj_bias"] else 0)
                + (5 if p["position"] != "none" else 4) * maps + (queries * dim if p["residual_pool"] else 0))
    cost.scratch = (("Q, K, V", f"3*{count}*{dim}", 3 * count * dim),
                    ("scores and softmax", f"2*{heads}*{queries}*{keys_count}", 2 * maps),
                    ("weighted sum AV", f"{queries}*{dim}", queries * dim))
    cost.heads = heads
    cost.products = 2 * scores
    if layer.explaining:
        cost.explain += [("size", f"N = {extra} class token{'s' if extra != 1 else ''} + the grid {product_text(grid)}"
                                  f" = {count:,} tokens of width C = {channels}; {plural(heads, 'head')} of width d = "
                                  f"{dim}/{heads} = {head_dim}; queries Nq = {queries:,}, keys Nk = {keys_count:,}")]
        cost.explain += [line for line in lines if line[0] == "size"]
        if p["residual_pool"]:
            cost.explain.append(("size", "residual_pool: the pooled q added to the weighted sum (no params, no MACs)"))
        cost.explain += [("params", f"params = Q,K,V weights C*3E + output projection E*out + biases = "
                                    f"{channels}*{projected} + {dim}*{out} + {biases} = {weights + biases:,}")]
        cost.explain += [line for line in lines if line[0] == "params"]
        if params != weights + biases:
            cost.explain.append(("params", f"params = {weights + biases:,} + {params - weights - biases:,} = "
                                           f"{params:,}"))
        cost.explain += [("macs", f"MACs Q,K,V projections = N*C*3E = {count}*{channels}*{projected} = {qkv:,}"),
                         ("macs", f"MACs scores QK^T = heads*Nq*Nk*d = {heads}*{queries}*{keys_count}*{head_dim} = "
                                  f"{scores:,}"),
                         ("macs", f"MACs weighted sum AV = the same as QK^T = {scores:,}"),
                         ("macs", f"MACs output projection = Nq*E*out = {queries}*{dim}*{out} = {proj:,}")]
        cost.explain += [line for line in lines if line[0] == "macs"]
        rest = macs - qkv - 2 * scores - proj
        cost.explain.append(("macs", f"MACs = {qkv:,} + {scores:,} + {scores:,} + {proj:,} + {rest:,} = {macs:,} (bias "
                                     f"adds, the scale, the LayerNorms and the softmax are not MACs)"))
    return cost
