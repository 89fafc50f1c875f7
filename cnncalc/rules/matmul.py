"""The product of two activations (``matmul``): QK^T and AV written out as layers of their own."""

from ..numbers import Tokens, is_tokens
from .keys import check_count, check_flag
from .registry import Cost, rule
from .windows import show_shape


@rule("matmul", inputs="many", keys={"transpose": (check_flag, False), "heads": (check_count, None)},
      category="attention")
def matmul(layer, shapes):
    """The product of two activations, A (M x K) times B (K x N), or B (N x K) with ``transpose: true`` (QK^T):
    an M x N output, M*N*K MACs, no params. Over a batch: two b x M x K and b x K x N inputs give b x M x N;
    ``heads: h`` splits a two-axis input into h heads along its width (PyTorch's ``view(N, h, d).transpose(0,
    1)``), so Q K^T gives the h x N x N attention map, and the map times V gives N x D, the heads joined again."""
    if len(shapes) != 2:
        raise layer.error(f"matmul takes two inputs in 'from', got {len(shapes)}", "from")
    heads, transpose = layer.p["heads"], layer.p["transpose"]
    a, b = (_per_head(layer, shape, heads, source) for shape, source in zip(shapes, layer.decl.inputs))
    if a is None or b is None:
        raise layer.error(f"matmul multiplies two matrices (N x D tokens) or two batches of them (b x M x K): "
                          f"{layer.decl.inputs[0]} gives {show_shape(shapes[0])}, {layer.decl.inputs[1]} gives "
                          f"{show_shape(shapes[1])}", "from")
    (batch_a, m, k), (batch_b, rows, columns) = a, b
    k2, n = (columns, rows) if transpose else (rows, columns)
    if batch_a != batch_b:
        raise layer.error(f"matmul needs batches of the same size: {show_shape(shapes[0])} has {batch_a}, "
                          f"{show_shape(shapes[1])} has {batch_b}" + (f" (heads {heads})" if heads else ""), "from")
    if k != k2:
        written = f"{show_shape(shapes[1])}{' transposed' if transpose else ''}"
        each = " (each head's)" if heads else ""
        raise layer.error(f"matmul needs A's columns to match B's rows{each}: {show_shape(shapes[0])} times {written}",
                          "from")
    if heads and len(shapes[1]) == 2 and not transpose:  # the map times V: the heads' outputs side by side
        out = (m, heads * n)
    else:
        out = (m, n) if batch_a == 1 and not heads and len(shapes[0]) == 2 else (batch_a, m, n)
    out = Tokens(*out) if len(out) == 2 and any(is_tokens(shape) for shape in shapes) else out
    cost = Cost(out, macs=batch_a * m * n * k, window="global")
    cost.products = cost.macs
    if layer.explaining:
        if batch_a == 1 and len(out) == 2 and not heads:
            cost.explain.append(("macs", f"MACs = M*N*K = {m}*{n}*{k} = {cost.macs:,}"))
        else:
            what = f"{heads} heads" if heads else f"a batch of {batch_a}"
            cost.explain.append(("macs", f"MACs = b*M*N*K ({what} of {m}x{k} times {k}x{n}) = "
                                         f"{batch_a}*{m}*{n}*{k} = {cost.macs:,}"))
    return cost


def _per_head(layer, shape, heads, source):
    """``shape`` as (batch, rows, columns): a batch b x M x K as it is; M x K as one matrix, or with ``heads``
    h heads of M x K/h; None for any other shape."""
    if len(shape) == 3:
        return tuple(shape)
    if len(shape) != 2:
        return None
    rows, columns = shape
    if not heads:
        return 1, rows, columns
    if columns % heads:
        raise layer.error(f"heads {heads} must divide the width of {source}, {columns} ({show_shape(shape)})", "heads")
    return heads, rows, columns // heads
