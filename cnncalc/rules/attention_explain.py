"""The worked arithmetic of an ``attention`` layer (``--explain``): the standard lines, and the rewrites of
them for its variants (narrow keys, a wider output, strided or class queries, attention across channels,
no output projection)."""

import math

from ..numbers import is_tokens, plural
from . import attention_biases as extras
from .windows import product_text


def over_channels(lines, channels, heads, head_dim, count, scores, qkv, proj, macs):
    """The explain lines of attention across each head's channels (XCiT's cross-covariance attention)."""
    changed = {
        "N = ": ("size", f"N = {count:,} positions of width C = {channels}; {plural(heads, 'head')} of d = "
                         f"C/heads = {channels}/{heads} = {head_dim} channels, attending across the channels: "
                         f"a d x d map a head (q and k L2-normalised over the positions)"),
        "MACs scores": ("macs", f"MACs scores Q K^T = heads*d*d*N (each head's d x N queries times its N x d keys) "
                                f"= {heads}*{head_dim}*{head_dim}*{count} = {scores:,}"),
        "MACs weighted sum": ("macs", f"MACs weighted sum (the d x d map times V, d x N) = heads*d*d*N = "
                                      f"{scores:,}"),
        "MACs = ": ("macs", f"MACs = {qkv:,} + {scores:,} + {scores:,} + {proj:,} = {macs:,} (bias adds, the "
                            f"normalisation, the temperature and the softmax are not MACs)"),
    }
    return replaced(lines, changed)


def no_projection(lines, channels, dim, projected, biases, weights, qkv, scores, values, macs):
    """The explain lines of attention without an output projection (BoTNet): the heads' weighted sums, joined
    E wide, are its output."""
    changed = {
        "params = ": ("params", f"params = Q,K,V weights C*{'3E' if projected == 3 * dim else '(2*heads*k + E)'}"
                                f"{' + biases' if biases else ''} = "
                                f"{channels}*{projected}{f' + {biases:,}' if biases else ''} = {weights + biases:,} "
                                f"(no output projection: the heads' weighted sums, E = {dim} wide, are the output)"),
        "MACs = ": ("macs", f"MACs = {qkv:,} + {scores:,} + {values:,}"
                            + (f" + {macs - qkv - scores - values:,}" if macs != qkv + scores + values else "")
                            + f" = {macs:,} (bias adds, the scale and the softmax are not MACs)"),
    }
    return [line for line in replaced(lines, changed) if not line[1].startswith("MACs output projection")]


def table_text(window):
    return "*".join(f"(2*{k}-1)" for k in window)


def map_text(windows, heads, per_window, rows=None):
    rows = per_window if rows is None else rows
    return f"{windows}*{heads}*{rows}*{per_window}" if windows > 1 else f"{heads}*{rows}*{per_window}"


def subsampled(lines, stride, channels, dim, out, heads, key_dim, head_dim, count, queries, qkv, scores, values, proj,
                macs):
    """The explain lines of attention whose queries come from every ``stride``-th row and column of the grid."""
    side = math.isqrt(count)
    changed = {
        "N = ": ("size", f"N = {count:,} tokens of width C = {channels} (a {side}x{side} grid); the queries from "
                         f"one row and column in {stride}: M = ceil({side}/{stride})^2 = {queries} tokens; "
                         f"{plural(heads, 'head')}, q and k k = {key_dim} wide, v d = {head_dim}"),
        "MACs Q,K,V": ("macs", f"MACs Q,K,V projections = M*C*heads*k + N*C*(heads*k + E) = {queries}*{channels}*"
                               f"{heads * key_dim} + {count}*{channels}*{heads * key_dim + dim} = {qkv:,}"),
        "MACs scores": ("macs", f"MACs scores QK^T = heads*M*N*k = {heads}*{queries}*{count}*{key_dim} = {scores:,}"),
        "MACs weighted sum": ("macs", f"MACs weighted sum AV = heads*M*N*d = {heads}*{queries}*{count}*{head_dim} = "
                                      f"{values:,}"),
        "MACs output projection": ("macs", f"MACs output projection = M*E*out = {queries}*{dim}*{out} = {proj:,}"),
        "MACs = ": ("macs", f"MACs = {qkv:,} + {scores:,} + {values:,} + {proj:,} = {macs:,} (bias adds, the "
                            f"1/sqrt(k) scale and the softmax are not MACs)"),
    }
    return replaced(lines, changed)


def explain(shape, channels, dim, heads, head_dim, count, windows, per_window, window, padded, qkv, scores, proj,
             weights, biases, params, macs, p):
    e = "E" if dim != channels else "C"
    heads_text = (f"{plural(heads, 'head')} of width d = {e}/heads = {dim}/{heads} = {head_dim}"
                  + (" (E = dim, the inner width)" if dim != channels else ""))
    if is_tokens(shape):
        lines = [("size", f"N = {count:,} tokens of width C = {channels}; {heads_text}")]
    else:
        where = (f"windows of {product_text(window)} = {per_window} positions: {windows} windows"
                 + (f" (the map padded to {product_text(padded)})" if padded != tuple(shape[1:]) else "")
                 if window != tuple(shape[1:]) else "one window, the whole map")
        lines = [("size", f"N = {product_text(padded)} = {count:,} positions of width C = {channels}; {where}; "
                          f"{heads_text}")]
        if p["shift"]:
            lines.append(("size", f"shift {p['shift']}: the windows move (torch.roll), the counts do not"))
    qkv_terms = extras.bias_text(p, e, dim)
    bias_terms = [(t, n) for t, n, on in ((*qkv_terms, p["qkv_bias"]), ("C", f"{channels}", p["proj_bias"]))
                  if on]
    lines.append(("params", f"params = Q,K,V weights 3*C*{e} + output projection {e}*C"
                            + "".join(f" + {'biases ' if i == 0 else ''}{t}" for i, (t, _) in enumerate(bias_terms))
                            + f" = 3*{channels}*{dim} + {dim}*{channels}"
                            + "".join(f" + {n}" for _, n in bias_terms) + f" = {weights + biases:,}"))
    if windows == 1:
        score_line = (f"MACs scores QK^T = heads*N*N*d = {heads}*{per_window}*{per_window}*{head_dim} = "
                      f"{scores:,}")
    else:
        score_line = (f"MACs scores QK^T = windows*heads*n*n*d (n = {per_window} positions a window) = "
                      f"{windows}*{heads}*{per_window}*{per_window}*{head_dim} = {scores:,}")
    lines += [
        ("macs", f"MACs Q,K,V projections = N*C*3{e} = {count}*{channels}*{3 * dim} = {qkv:,}"),
        ("macs", score_line),
        ("macs", f"MACs weighted sum AV = the same as QK^T = {scores:,}"),
        ("macs", f"MACs output projection = N*{e}*C = {count}*{dim}*{channels} = {proj:,}"),
    ]
    mlp = macs - (qkv + 2 * scores + proj)
    lines.append(("macs", f"MACs = {qkv:,} + {scores:,} + {scores:,} + {proj:,}" + (f" + {mlp:,}" if mlp else "")
                          + f" = {macs:,} (bias adds, the 1/sqrt(d) scale and the softmax are not MACs)"))
    return lines


def narrow_keys(lines, channels, dim, heads, key_dim, head_dim, count, projected, qkv, values, weights, biases,
                 windows, per_window, scores, proj, macs):
    """The explain lines of attention whose q and k are ``key_dim`` wide a head, v ``head_dim``."""
    pairs = map_text(windows, heads, per_window)
    changed = {
        "params = Q,K,V": ("params", f"params = Q,K weights 2*C*heads*k + V weights C*E + output projection E*C"
                                     f"{' + biases' if biases else ''} = 2*{channels}*{heads}*{key_dim} + "
                                     f"{channels}*{dim} + {dim}*{channels}{f' + {biases:,}' if biases else ''} = "
                                     f"{weights + biases:,} (k = {key_dim}: q and k narrower than v's d = {head_dim})"),
        "MACs Q,K,V": ("macs", f"MACs Q,K,V projections = N*C*(2*heads*k + E) = {count}*{channels}*{projected} = "
                               f"{qkv:,}"),
        "MACs scores": ("macs", f"MACs scores QK^T = {'windows*' if windows > 1 else ''}heads*n*n*k = "
                                f"{pairs}*{key_dim} = {scores:,}"),
        "MACs weighted sum": ("macs", f"MACs weighted sum AV = {'windows*' if windows > 1 else ''}heads*n*n*d = "
                                      f"{pairs}*{head_dim} = {values:,}"),
        "MACs = ": ("macs", f"MACs = {qkv:,} + {scores:,} + {values:,} + {proj:,} = {macs:,} (bias adds, the "
                            f"1/sqrt(k) scale and the softmax are not MACs)"),
    }
    return replaced(lines, changed)


def widened(lines, channels, dim, out, count, projected, qkv, scores, values, proj, macs, weights, biases):
    """The explain lines of attention whose output projection gives ``out`` channels, not the input's C."""
    changed = {
        "params = ": ("params", f"params = Q,K,V weights C*{projected} + output projection E*out"
                                f"{' + biases' if biases else ''} = {channels}*{projected} + {dim}*{out}"
                                f"{f' + {biases:,}' if biases else ''} = {weights + biases:,} (out = {out}: wider "
                                f"than the input's {channels})"),
        "MACs output projection": ("macs", f"MACs output projection = N*E*out = {count}*{dim}*{out} = {proj:,}"),
        "MACs = ": ("macs", f"MACs = {qkv:,} + {scores:,} + {values:,} + {proj:,} = {macs:,} (bias adds, the "
                            f"1/sqrt(d) scale and the softmax are not MACs)"),
    }
    return replaced(lines, changed)


def replaced(lines, changed):
    """The explain lines with each line that starts with a key of ``changed`` replaced by its value."""
    return [changed.get(next((key for key in changed if text.startswith(key)), ""), (kind, text))
            for kind, text in lines]
