"""Every shape a person types, read in one place (render/shapes.py writes them):

* a spec file's ``input:`` (:func:`read_spec_input`);
* ``--input`` of report, compare, plot, graph..., and an answer file's ``input:`` (:func:`read_input`,
  read against the rank and channels of the spec's own input);
* ``NAME@448`` in compare (:func:`split_input`);
* `cnncalc layer --input`, where there is no spec to go by (:func:`read_layer_input`).

The sizes themselves are read by numbers.read_sizes (ASCII digits, bounded; numbers.size_parts splits a
typed shape, which grading also uses for an answer's claimed shape).
"""

import re

from .errors import SpecError, UsageError, note
from .numbers import MAX_SIZE, Tokens, is_tokens, is_whole_number, read_sizes, shown

# the names of the spatial axes of a map of rank 1, 2 or 3
AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
INPUT_SUFFIX = re.compile(r"^\d+(x\d+){0,2}$")
# an image's channels (grey, RGB, RGBA): a non-square `layer --input` with one of these at one end only is read
# with it as the channels
IMAGE_CHANNELS = (1, 3, 4)
INPUT_ORDERS = {"hwc": "H x W x C", "chw": "C x H x W"}


def read_spec_input(value, file=None, line=None):
    """A spec file's ``input:``: ``[C, H, W]``, ``[C, L]``, ``[C, D, H, W]`` (or ``[N]`` for a flat input) as a tuple
    of positive ints; ``{tokens: [N, D]}`` as N tokens of width D."""
    if isinstance(value, dict) and list(value) == ["tokens"]:
        sizes = value["tokens"]
        if isinstance(sizes, list) and len(sizes) == 2:
            return Tokens(*read_spec_input(sizes, file, line))
        raise SpecError(f"'input: {{tokens: ...}}' must be [N, D] (N tokens of width D), not {sizes!r:.60}",
                        file=file, line=line)
    if isinstance(value, (list, tuple)) and 1 <= len(value) <= 4:
        if all(is_whole_number(v) and v >= 1 for v in value):
            if max(value) > MAX_SIZE:
                raise SpecError(f"'input' sizes must be at most {MAX_SIZE:,}, not {max(value):,}", file=file, line=line)
            return tuple(value)
    raise SpecError(f"'input' must be [C, H, W] of positive whole numbers ([C, L] for 1-D, [C, D, H, W] for 3-D, "
                    f"[N] for a flat input, {{tokens: [N, D]}} for tokens), "
                    f"not {value!r}", file=file, line=line)


def parse_input(text, spec_input):
    """``--input`` as a shape for a network whose spec input is ``spec_input`` (see :func:`read_input`)."""
    return read_input(text, spec_input)[0]


def read_input(text, spec_input, quiet=False):
    """``--input`` as given on the command line: ``(shape, batch or None, how it was read or None)``.

    The reading depends on the rank of the spec's input; see the readers in INPUT_READERS. When a
    choice was made between readings, it is said on standard error (unless ``quiet``).
    """
    sizes = _input_sizes(text)
    reader = INPUT_READERS.get(len(spec_input))
    if reader is None:
        raise UsageError(f"--input cannot override an input of {len(spec_input)} sizes")
    shape, batch, reading = reader(sizes, spec_input, text)
    if reading and not quiet:
        note(f"--input {shown_shape(text)} read as {reading}")
    if is_tokens(spec_input):
        return Tokens(*shape), batch, reading
    return tuple(shape), batch, reading


def shown_shape(text):
    """A typed shape as written back in a message: [3, 224, 224] -> 3x224x224."""
    return "x".join(map(str, text)) if isinstance(text, (list, tuple)) else str(text)


def _input_sizes(text):
    """The whole numbers of ``--input``: ``3x224x224``, ``[3, 224, 224]``, ``224``, ``1x3x224x224``."""
    if isinstance(text, (tuple, list)):
        parts = list(text)
        if not all(is_whole_number(p) for p in parts):
            raise UsageError(f"--input must be whole numbers like [3, 224, 224], not {text!r:.60}")
    elif is_whole_number(text):
        parts = [text]
    else:
        try:
            parts = read_sizes(str(text))
        except ValueError:
            raise UsageError(f"--input must look like 3x224x224, 224x320 or 224, not '{shown(text)}'") from None
    if not parts or any(p < 1 for p in parts) or len(parts) > 4:
        raise UsageError(f"--input must be 1 to 4 positive sizes (CxHxW, HxW, a side or NxCxHxW), not "
                         f"'{shown(text)}'")
    if max(parts) > MAX_SIZE:
        raise UsageError(f"--input sizes must be at most {MAX_SIZE:,}")
    return parts


def _read_flat(sizes, spec_input, text):
    """A network with a flat input ``[N]``: one number."""
    if len(sizes) != 1:
        raise UsageError(f"this network takes a flat input of {spec_input[0]}; give one number")
    return sizes, None, None


def _read_map(sizes, spec_input, text):
    """A network with a ``[C, H, W]`` input: ``224`` (a square side), ``224x320`` (H x W), ``3x224x224``
    (C x H x W), ``224x224x3`` (H x W x C: the last size is the spec's channels and the first is not), and
    either of those after a batch size (``1x3x224x224``, N x C x H x W)."""
    channels = spec_input[0]
    if len(sizes) == 1:
        return (channels, sizes[0], sizes[0]), None, None
    if len(sizes) == 2:
        return (channels,) + tuple(sizes), None, None
    batch, sizes = (sizes[0], sizes[1:]) if len(sizes) == 4 else (None, sizes)
    first, second, last = sizes
    channels_last = last == channels and first != channels
    shape = (last, first, second) if channels_last else tuple(sizes)
    order = "H x W x C" if channels_last else "C x H x W"
    if batch is None:
        reading = f"{order} = {shown_shape(shape)} (the last size is the spec's {channels} channels)" \
            if channels_last else None
    else:
        reading = f"N x {order}: batch {batch}, input {shown_shape(shape)}"
    return shape, batch, reading


def _read_other_map(sizes, spec_input, text):
    """A network with a 1-D ``[C, L]`` or 3-D ``[C, D, H, W]`` input: the full shape, the spatial sizes (the
    spec's channels kept), one side for every spatial axis, or the full shape after a batch size."""
    rank = len(spec_input) - 1
    if len(sizes) == len(spec_input) + 1:
        return tuple(sizes[1:]), sizes[0], f"N x C x {' x '.join(AXIS_NAMES[rank])}: batch {sizes[0]}, " \
                                           f"input {shown_shape(sizes[1:])}"
    if len(sizes) == len(spec_input):
        return tuple(sizes), None, None
    if len(sizes) in (1, rank):
        return (spec_input[0],) + tuple(sizes * rank if len(sizes) == 1 else sizes), None, None
    forms = {1: "CxL or L", 3: "CxDxHxW, DxHxW or a side"}[rank]
    raise UsageError(f"this network takes a {rank}-D input ({shown_shape(spec_input)}); give {forms}, not "
                     f"'{shown_shape(text)}'")


# how --input is read, by the rank of the spec's input
INPUT_READERS = {1: _read_flat, 2: _read_other_map, 3: _read_map, 4: _read_other_map}


def split_input(model):
    """``"resnet50@448"`` -> ``("resnet50", "448")``; ``("vgg16", 320)`` stays a pair; else ``(model, None)``."""
    if isinstance(model, tuple) and len(model) == 2:
        return model
    if isinstance(model, str) and "@" in model:
        base, _, size = model.rpartition("@")
        if base and INPUT_SUFFIX.match(size.lower().replace("×", "x")):
            return base, size
    return model, None


def read_layer_input(text, order=None, tokens=True):
    """`cnncalc layer --input` (no spec to go by) as a (C, H, W), (N,) or N x D tokens shape and how it was read
    (None when there was no choice): 32x32x3 (H x W x C), 3x32x32 (C x H x W), 4096 (flat), 197x768 (tokens,
    where ``tokens``: the layer takes them); ``order`` is hwc or chw."""
    try:
        sizes = read_sizes(text)
    except ValueError:
        sizes = [0]
    if not all(size >= 1 for size in sizes):
        raise UsageError(f"--input must look like 32x32x3 (H x W x C), 3x32x32 (C x H x W) or 4096, "
                         f"not '{shown(text)}'")
    if len(sizes) == 1:
        return (sizes[0],), None
    if len(sizes) == 2 and tokens:
        return Tokens(*sizes), "N x D: tokens"
    # a 3-D map (a clip), channels first as PyTorch holds it; a 1-D map (a signal) only when --order says so
    # (32x32 is more likely a one-channel image written without its channel)
    if len(sizes) == 4 or (len(sizes) == 2 and order is not None):
        if order == "hwc":
            return (sizes[-1],) + tuple(sizes[:-1]), ("L x C" if len(sizes) == 2 else "D x H x W x C")
        return tuple(sizes), ("C x L" if len(sizes) == 2 else "C x D x H x W")
    if len(sizes) != 3:
        raise UsageError(f"--input needs three sizes (H x W x C or C x H x W; an image of one channel is 1x32x32), "
                         f"four (C x D x H x W, a clip), two (N x D tokens; C x L with --order chw, a signal) or one "
                         f"(a flat vector), not '{shown(text)}'")
    a, b, c = sizes
    if order is None:
        if a == b == c:
            return (a, b, c), None
        if a == b:
            order = "hwc"
        elif b == c:
            order = "chw"
        elif (c in IMAGE_CHANNELS) != (a in IMAGE_CHANNELS):  # 32x48x3: an image's 3 channels, last
            order = "hwc" if c in IMAGE_CHANNELS else "chw"
        else:
            raise UsageError(f"--input {text} could be H x W x C or C x H x W; add --order hwc or --order chw")
    shape = (c, a, b) if order == "hwc" else (a, b, c)
    return shape, INPUT_ORDERS[order]
