"""Merges (several inputs): concat, add, mul."""

from ..numbers import Tokens, is_tokens
from .keys import check_activation
from .registry import Cost, rule
from .windows import activation_work, elements, need_map, show_shape


def _shapes_text(layer, shapes):
    return ", ".join(f"{name} gives {show_shape(s)}" for name, s in zip(layer.decl.inputs, shapes))


@rule("concat", inputs="many")
def concat(layer, shapes):
    """Concatenate along channels (the spatial sizes must agree); N x D tokens along the tokens (PyTorch's
    dim 1 both times; the widths must agree)."""
    rest = {tuple(s[1:]) for s in shapes}
    tokens = {is_tokens(s) for s in shapes}
    if len(rest) > 1 or len(tokens) > 1:
        what = "width" if True in tokens else "spatial size"
        raise layer.error(f"concat needs the same {what} on every input: {_shapes_text(layer, shapes)}", "from")
    count = sum(s[0] for s in shapes)
    return Cost(Tokens(count, shapes[0][1]) if True in tokens else (count,) + tuple(shapes[0][1:]))


@rule("add", "sub", inputs="many", keys={"act": (check_activation, None)})
def add(layer, shapes):
    """Elementwise sum (residual connection): every input must have the same shape. ``sub``: the first
    input less the second (PoolFormer's pool(x) - x): the same shape and counts."""
    if len(shapes) < 2:
        raise layer.error(f"{layer.type} needs at least two inputs in 'from'", "from")
    if layer.type == "sub" and len(shapes) != 2:
        raise layer.error("sub takes two inputs in 'from' (the first less the second)", "from")
    if len(set(shapes)) > 1:
        what = "channel" if len({s[1:] for s in shapes}) == 1 else "shape"
        raise layer.error(f"{what} mismatch at add: {_shapes_text(layer, shapes)}", "from")
    out = shapes[0]
    return Cost(out, elementwise=(len(shapes) - 1) * elements(out) + activation_work(layer, out))


@rule("mul", inputs="many")
def mul(layer, shapes):
    """Channel-wise scale (squeeze-excitation): a C x H x W map times a C x 1 x 1 (or same-shape) input; tokens
    times tokens of the same shape (a gate: SwiGLU's silu(x1) * x2)."""
    if len(shapes) != 2:
        raise layer.error(f"mul takes two inputs in 'from', got {len(shapes)}", "from")
    if is_tokens(shapes[0]) and shapes[0] == shapes[1]:
        return Cost(shapes[0], elementwise=elements(shapes[0]))
    for shape in shapes:
        need_map(layer, shape)
    big, small = sorted(shapes, key=elements, reverse=True)
    if len(big) != len(small) or big[0] != small[0] or (
            tuple(small[1:]) not in ((1,) * (len(big) - 1), tuple(big[1:]))):
        raise layer.error(f"mul needs C x H x W and C x 1 x 1 (or equal shapes): {_shapes_text(layer, shapes)}",
                          "from")
    return Cost(big, elementwise=elements(big))
