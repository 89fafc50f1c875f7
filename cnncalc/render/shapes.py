"""How shapes and per-axis sizes are spelled in tables, CSV and messages."""

def shape_text(shape):
    """The lecture's ``C x H/W``: ``64 x 56``; non-square maps as ``64 x 56x48``; flat as ``4096``;
    1-D and 3-D maps in full, ``128 x 1981`` and ``64 x 16 x 112 x 112``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{c} x {h}" if h == w else f"{c} x {h}x{w}"
    return " x ".join(str(s) for s in shape)


def full_shape(shape):
    return "x".join(str(s) for s in shape)


def layout(shape):
    """What the sizes of ``shape`` are, in the tables' words: ``C x H x W``, ``N x D`` (tokens), ``C x L``,
    ``C x D x H x W``, or ``a flat vector``."""
    from ..numbers import is_tokens

    if is_tokens(shape):
        return "N x D"
    return {1: "a flat vector", 2: "C x L", 3: "C x H x W", 4: "C x D x H x W"}.get(len(shape), "sizes")


def pair_text(sizes):
    """Per-axis sizes as one number when they agree (``3``), else ``3x5`` (``1x2x2`` in 3-D)."""
    if sizes is None:
        return ""
    return str(sizes[0]) if all(s == sizes[0] for s in sizes) else full_shape(sizes)


def pad_text(pad):
    """(before, after) per axis: ``1`` or ``1x2`` when symmetric, else every side (``1,0,2,2``)."""
    if pad is None:
        return ""
    if all(before == after for before, after in pad):
        return pair_text([before for before, _ in pad])
    return ",".join(str(side) for sides in pad for side in sides)
