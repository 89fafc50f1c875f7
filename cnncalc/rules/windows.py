"""Arithmetic the rules share: map checks, per-axis sizes, the windowed-layer output size (and its worked
arithmetic), and small text helpers."""

from ..numbers import Tokens, is_tokens
from .registry import elements, show_shape

# The names of the spatial axes of a map by its rank (C x L, C x H x W, C x D x H x W).
AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def need_map(layer, shape, ranks=(1, 2, 3)):
    """``shape`` if it is a feature map of one of ``ranks``; a layer error otherwise."""
    if len(shape) == 1:
        raise layer.error(f"{layer.type} needs a C x H x W input, but gets a flat vector of {shape[0]}"
                          f" (put it before the flatten/fc layers)")
    if is_tokens(shape):
        raise layer.error(f"{layer.type} works on maps, but gets {shape[0]} tokens of width {shape[1]} (turn them "
                          f"back into a map with an untokens layer first)")
    if len(shape) - 1 not in ranks:
        kinds = " or ".join(f"{r}-D" for r in ranks)
        raise layer.error(f"{layer.type} works on {kinds} maps only, not on the {len(shape) - 1}-D input "
                          f"{show_shape(shape)}")
    return shape


def width(shape):
    """The channels of a map (its first size), the width D of N x D tokens (the last), a flat vector's size."""
    return shape[-1] if is_tokens(shape) else shape[0]


def with_width(shape, channels):
    """``shape`` with its channels (a map's first size, tokens' width) set to ``channels``."""
    if is_tokens(shape):
        return Tokens(shape[0], channels)
    return (channels,) + tuple(shape[1:])


def positions(shape):
    """How many positions (tokens) carry a width-long vector: H*W for a map, N for tokens, 1 for a vector."""
    return elements(shape) // width(shape)


def axis_names(shape):
    return AXIS_NAMES.get(len(shape) - 1, AXIS_NAMES[2])


def per_axis(layer, key, value, shape):
    """A size key's value with one entry per spatial axis of ``shape`` (a single number serves every axis)."""
    rank = len(shape) - 1
    if not isinstance(value, tuple):
        return (value,) * rank
    if len(value) != rank:
        names = ", ".join(axis_names(shape))
        raise layer.error(f"{key} {list(value)} has {len(value)} entries, but the input {show_shape(shape)} is "
                          f"{rank}-D ({names}): give one number or {rank}", key)
    return value


def per_side(layer, key, value, shape):
    """A pad as (before, after) per spatial axis: one number, one per axis, or two per axis."""
    rank = len(shape) - 1
    if isinstance(value, tuple) and len(value) == 2 * rank:
        return tuple(zip(value[::2], value[1::2]))
    if isinstance(value, tuple) and len(value) != rank:
        names = ", ".join(axis_names(shape))
        raise layer.error(f"{key} {list(value)} has {len(value)} entries, but the input {show_shape(shape)} is "
                          f"{rank}-D ({names}): give one number, {rank} (one per axis) or {2 * rank} (before "
                          f"and after on each axis)", key)
    return tuple((v, v) for v in per_axis(layer, key, value, shape))


def resolve_same_pad(size, kernel, stride, dilation):
    """TensorFlow/PyTorch 'same': output ceil(size/stride); extra padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def window_axis(layer, axis, size, kernel, stride, pads, dilation, ceil_mode=False):
    """Output size along one axis; a warning when the windows leave real input (not padding) unread."""
    before, after = pads
    span = size + before + after - dilation * (kernel - 1) - 1
    if span < 0:
        effective = dilation * (kernel - 1) + 1
        pad_text = f"pad {before}" if before == after else f"pad {before}+{after}"
        raise layer.error(f"kernel {effective if dilation > 1 else kernel} exceeds the padded input "
                          f"{size + before + after} ({axis} {size}, {pad_text})")
    out = span // stride + 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + before:
            out -= 1
    if span % stride:
        layer.fits = False
    # Real input is dropped when the last window (ending at (out-1)*S + D*(K-1), padded coordinates) stops
    # before the last real element (at P + W - 1) by more than the gap the stride leaves between windows anyway
    # (a 1x1 stride-2 conv skips every other column, the last one included, by design).
    gap = max(stride - dilation * (kernel - 1) - 1, 0)
    dropped = before + size - 1 - ((out - 1) * stride + dilation * (kernel - 1)) > gap
    if layer.explaining or dropped:
        formula = window_formula(size, kernel, stride, before, after, dilation)
        if span % stride:
            rounded = "rounded up: ceil_mode" if ceil_mode else "floored"
            text = (f"{formula} = {(span + stride) / stride:g} -> {out} ({rounded}): "
                    f"{'the window does not tile the input' if dropped else 'only padding or skipped input is left'}")
            if dropped:
                layer.warnings.append(f"{axis}: {text}")
            if layer.explaining:
                layer.notes.append(("size", f"output {axis} = {text}"))
        else:
            layer.notes.append(("size", f"output {axis} = {formula} = {out}"))
    return out


def window_formula(size, kernel, stride, before, after, dilation):
    pad = f"2*{before}" if before == after else f"{before}+{after}"
    k = str(kernel) if dilation == 1 else f"{dilation}*({kernel}-1)-1"
    return f"({size} - {k} + {pad})/{stride} + 1"


def window_keys(layer, shape, stride=None):
    """kernel, stride, dilation per spatial axis of ``shape`` (``stride`` given when it defaults to the kernel)."""
    p = layer.p
    kernel = per_axis(layer, "kernel", p["kernel"], shape)
    stride = per_axis(layer, "stride", p["stride"] if stride is None else stride, shape)
    return kernel, stride, per_axis(layer, "dilation", p["dilation"], shape)


def spatial_output(layer, shape, kernel, stride, pad, dilation, ceil_mode=False):
    """The output sizes and the resolved (before, after) pads of a windowed layer, per spatial axis.

    When every axis has the same size and window the arithmetic is done (and explained) once: ``H/W``.
    """
    sizes = shape[1:]
    if pad == "valid":
        pads = ((0, 0),) * len(sizes)
    elif pad == "same":
        pads = tuple(resolve_same_pad(*axis) for axis in zip(sizes, kernel, stride, dilation))
    else:
        pads = per_side(layer, "pad", pad, shape)
    axes = list(zip(sizes, kernel, stride, pads, dilation))
    names = axis_names(shape)
    if len(axes) > 1 and all(axis == axes[0] for axis in axes):
        out = window_axis(layer, "/".join(names), *axes[0], ceil_mode)
        return (out,) * len(axes), pads
    return tuple(window_axis(layer, name, *axis, ceil_mode) for name, axis in zip(names, axes)), pads


def kernel_names(shape):
    return "*".join(f"K{name.lower()}" for name in axis_names(shape))


def activation_work(layer, shape):
    return elements(shape) if layer.p.get("act") else 0


def product_text(values):
    return "*".join(str(v) for v in values)


def weight_norm(layer, cost, magnitudes, what):
    """``weightnorm: true`` (torch.nn.utils.weight_norm, dim 0): the weight becomes a direction v and a learned
    magnitude g, one per slice along the weight's first axis (``what``): ``magnitudes`` more params."""
    if layer.p.get("weightnorm"):
        cost.params += magnitudes
        if layer.explaining:
            cost.explain.append(("params", f"weight norm: + {magnitudes:,} magnitudes g (one per {what}) = "
                                           f"{cost.params:,} params"))
    return cost
