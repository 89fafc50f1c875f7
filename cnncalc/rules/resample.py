"""Resampling: upsample, pixel (un)shuffle, crop and zero pad."""

import math

from .keys import (check_channel_pad, check_choice, check_offset, check_pad, check_reference,
                   check_scale, check_size)
from .registry import REQUIRED, Cost, rule
from .windows import axis_names, elements, need_map, per_axis, per_side, show_shape

# Input points one interpolated output element reads (its elementwise work); the modes by map rank.
INTERPOLATION_POINTS = {"nearest": 1, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
INTERPOLATION_RANKS = {"nearest": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}


def _target_sizes(layer, shape):
    """The spatial sizes asked for by ``size`` or ``like`` (one of them, or neither: None)."""
    given = [key for key in ("size", "like") if layer.p.get(key) is not None]
    if len(given) > 1:
        raise layer.error(f"give one of {' or '.join(given)}, not both", given[1])
    if not given:
        return None
    if given[0] == "like":
        other = layer.p["like"]
        if len(other) != len(shape):
            raise layer.error(f"like: the layer it names gives {show_shape(other)}, which is not a map of the "
                              f"rank of the input {show_shape(shape)}", "like")
        return tuple(other[1:])
    return per_axis(layer, "size", layer.p["size"], shape)


def _resampling_window(before, after):
    """Receptive-field step of a resampling by after/before per axis: a window of 1 with a fractional stride."""
    from fractions import Fraction  # here: imported only for a resampling (3 ms of every run otherwise)

    return tuple((1, Fraction(b, a), 1) for b, a in zip(before, after))


@rule("upsample", keys={"scale": (check_scale, None), "size": (check_size, None), "like": (check_reference, None),
                        "mode": (check_choice(*INTERPOLATION_POINTS), "nearest")})
def upsample(layer, shape):
    """Resize (PyTorch's Upsample / interpolate) by ``scale`` (default 2; output floor(W*scale), computed
    in double as PyTorch does), to ``size``, or to the size of the layer ``like`` names. No params, no MACs,
    lecture flop 0; elementwise work: the input points each output element reads (nearest 1, linear 2,
    bilinear 4, trilinear 8, bicubic 16)."""
    mode = layer.p["mode"]
    need_map(layer, shape, INTERPOLATION_RANKS[mode])
    target = _target_sizes(layer, shape)
    if target is not None and layer.p["scale"] is not None:
        raise layer.error("give scale, size or like, not two of them", "scale")
    if target is None:
        factors = per_axis(layer, "scale", 2 if layer.p["scale"] is None else layer.p["scale"], shape)
        target = tuple(n * f if isinstance(f, int) else math.floor(n * float(f)) for n, f in zip(shape[1:], factors))
        for name, n, factor, size in zip(axis_names(shape), shape[1:], factors, target):
            if size < 1:
                raise layer.error(f"scale {factor} makes {name} {size}", "scale")
            if layer.explaining:
                layer.notes.append(("size", f"output {name} = floor({n}*{factor}) = {size}"))
    out = (shape[0],) + tuple(target)
    work = INTERPOLATION_POINTS[mode] * elements(out)
    cost = Cost(out, elementwise=work, window=_resampling_window(shape[1:], target))
    if layer.explaining:
        cost.explain.append(("flops", f"{mode} interpolation: {INTERPOLATION_POINTS[mode]} input point(s) per output "
                                      f"element = {work:,} elementwise ops (0 MACs, lecture flop 0)"))
    return cost


@rule("pixelshuffle", "pixelunshuffle", keys={"factor": (check_size, REQUIRED)})
def pixel_shuffle(layer, shape):
    """Pixel shuffle (ESPCN): C*r^2 x H x W -> C x rH x rW; pixel unshuffle the reverse. On 2-D maps, and on 3-D
    maps (T x H x W) with one factor per axis: ``factor: [1, 2, 2]`` merges each 2 x 2 patch of every frame into
    4C channels (the 3-D Swin's patch merging)."""
    need_map(layer, shape, (2, 3))
    factors = per_axis(layer, "factor", layer.p["factor"], shape)
    channels, sizes, r = shape[0], shape[1:], math.prod(factors)
    if layer.type == "pixelshuffle":
        if channels % r:
            raise layer.error(f"the {channels} channels must be a multiple of {_factor_text(factors)} = {r}", "factor")
        out = (channels // r,) + tuple(n * f for n, f in zip(sizes, factors))
        window = _resampling_window((1,) * len(factors), factors)
    else:
        if any(n % f for n, f in zip(sizes, factors)):
            raise layer.error(f"factor {_factor_text(factors, 'x')} must divide the map {show_shape(sizes)}",
                              "factor")
        out = (channels * r,) + tuple(n // f for n, f in zip(sizes, factors))
        window = tuple((f, f, 1) for f in factors)
    return Cost(out, window=window)


def _factor_text(factors, joiner="*"):
    """A pixel shuffle's factors as written: one number r when every axis has it (r^2 in 2-D), else each."""
    if len(set(factors)) == 1 and joiner == "x":
        return str(factors[0])
    if len(set(factors)) == 1:
        return f"factor^{len(factors)}"
    return joiner.join(str(f) for f in factors)


@rule("crop", keys={"size": (check_size, None), "like": (check_reference, None), "offset": (check_offset, None)})
def crop(layer, shape):
    """Crop the map to ``size`` or to the size of the layer ``like`` names (U-Net's skip): centred, starting at
    (W - size)//2 on each axis, unless ``offset`` gives the start. No params."""
    need_map(layer, shape)
    target = _target_sizes(layer, shape)
    if target is None:
        raise layer.error("crop needs 'size' or 'like'", None)
    offset = layer.p["offset"]
    starts = per_axis(layer, "offset", offset, shape) if offset is not None else None
    for index, (name, n, size) in enumerate(zip(axis_names(shape), shape[1:], target)):
        start = (n - size) // 2 if starts is None else starts[index]
        if size + start > n:
            where = f"from {start} " if start else ""
            raise layer.error(f"cannot crop {name} {n} to {size} {where}(it is smaller)",
                              "like" if layer.p["like"] is not None else "size")
        if layer.explaining:
            layer.notes.append(("size", f"output {name} = {size}: {name} {n} cropped from {start} to {start + size}"))
    return Cost((shape[0],) + tuple(target))


@rule("pad", keys={"pad": (check_pad, 0), "channels": (check_channel_pad, 0)})
def zero_pad(layer, shape):
    """Zero padding: ``pad`` on the spatial axes (as conv's pad), ``channels`` zero channels (ResNet's option A
    shortcut). No params."""
    need_map(layer, shape)
    if layer.p["pad"] in ("same", "valid"):
        raise layer.error("pad takes numbers here (same/valid are for windowed layers)", "pad")
    sides = per_side(layer, "pad", layer.p["pad"], shape)
    before, after = layer.p["channels"]
    out = (shape[0] + before + after,) + tuple(n + b + a for n, (b, a) in zip(shape[1:], sides))
    cost = Cost(out)
    cost.pad = sides
    return cost


@rule("subsample", keys={"stride": (check_size, REQUIRED), "offset": (check_offset, 0)})
def subsample(layer, shape):
    """Every ``stride``-th position from ``offset`` (``x[..., ::2, ::2]``: ResNet's option A shortcut):
    ceil((W - offset)/stride) per axis; no params, no work (it reads, it does not compute)."""
    need_map(layer, shape)
    strides = per_axis(layer, "stride", layer.p["stride"], shape)
    offsets = per_axis(layer, "offset", layer.p["offset"], shape)
    for size, offset in zip(shape[1:], offsets):
        if offset >= size:
            raise layer.error(f"offset {offset} is past the map's {size} positions", "offset")
    out = (shape[0],) + tuple(-(-(size - o) // s) for size, o, s in zip(shape[1:], offsets, strides))
    cost = Cost(out, window=tuple((1, s, 1) for s in strides))
    if layer.explaining:
        cost.explain += [("size", f"{axis} = ceil((W - offset)/stride) = ceil(({size} - {o})/{s}) = {n}")
                         for axis, size, o, s, n in zip(axis_names(shape), shape[1:], offsets, strides, out[1:])]
    return cost
