"""The attention keys of CaiT (see :mod:`.attention`): talking heads and class attention.

``talking_heads: true`` (CaiT's TalkingHeadAttn): the scores are mixed across the heads by a Linear(heads,
heads) with bias before the softmax and another after it; each runs on every element of the attention
map, heads inputs a head: params ``2*(heads*heads + heads)``, MACs ``2*heads*(windows*heads*M*N)``, as
FlopCounterMode counts a Linear on the map held heads last.

``queries: class`` (CaiT's and XCiT's ClassAttn): only the first token, the class token, queries; k and v
come from all N tokens: q is projected on 1 token, the scores are 1 x N a head, and the output is that one
token, 1 x out.
"""

from ..numbers import plural


def talking_heads(heads, maps):
    """(params, MACs, elementwise work, explain lines, memory label, maps written) of the two Linears mixing a
    map of ``maps`` elements (every head's scores) across the ``heads``: each writes a map as large."""
    params = 2 * (heads * heads + heads)
    macs = 2 * maps * heads
    lines = [("params", f"talking heads: Linear(heads, heads) with bias before and after the softmax = "
                        f"2*({heads}*{heads} + {heads}) = {params:,} params"),
             ("macs", f"MACs talking heads = 2 * (elements of the attention map) * heads = 2*{maps:,}*{heads} = "
                      f"{macs:,} (each score mixed with the other heads' at the same position)")]
    return params, macs, 2 * maps, lines, " and the two mixes", 2


def class_lines(channels, dim, out, heads, key_dim, head_dim, count, qkv, scores, values, proj, macs):
    """The explain lines of class attention (``queries: class``) that replace self-attention's."""
    return {
        "N = ": ("size", f"N = {count:,} tokens of width C = {channels}; the queries from the class token alone "
                         f"(M = 1); {plural(heads, 'head')} of width d = {head_dim}"),
        "MACs Q,K,V": ("macs", f"MACs Q,K,V projections = 1*C*E + N*C*2E = {channels}*{dim} + {count}*{channels}*"
                               f"{2 * dim} = {qkv:,}"),
        "MACs scores": ("macs", f"MACs scores q K^T = heads*1*N*d = {heads}*{count}*{key_dim} = {scores:,}"),
        "MACs weighted sum": ("macs", f"MACs weighted sum AV = heads*1*N*d = {heads}*{count}*{head_dim} = "
                                      f"{values:,}"),
        "MACs output projection": ("macs", f"MACs output projection = 1*E*out = {dim}*{out} = {proj:,}"),
        "MACs = ": ("macs", f"MACs = {qkv:,} + {scores:,} + {values:,} + {proj:,} = {macs:,} (bias adds, the "
                            f"1/sqrt(d) scale and the softmax are not MACs; the output is the class token alone)"),
    }
