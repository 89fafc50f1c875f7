"""Maps held as windows in ONNX: Swin's windows (2-D and the Video Swin's 3-D) and PatchMerging, MaxViT's block
and grid partitions, MobileViT's patches.

Swin holds its map channels-last (N x H x W x C, the Video Swin's N x T x H x W x C); its attention in windows
starts at the Pad, the Slices of a roll or the Reshape into windows (:func:`swin_windows`, which opens an attention
region of :mod:`.attention`), and the window's size on each axis is read off that Reshape (:func:`window_sides`).
PatchMerging's four Slices by 2 (of H and W) concatenated on the channels are a ``pixelunshuffle``.

torchvision's MaxViT attends within p x p windows of an N x C x H x W map (block attention, p = 7) and
across a 7 x 7 grid of positions H/7 apart (grid attention: windows of p = H/7, then the window and
position axes swapped). The exporters write the partition as

    Reshape N x C x H/p x p x W/p x p -> Transpose [0, 2, 4, 3, 5, 1] -> Reshape N x (H/p*W/p) x p*p x C
    (-> Transpose [0, 2, 1, 3], the grid's swap)

and its inverse (Reshape N x H/p x W/p x p x p x C -> Transpose [0, 5, 1, 3, 2, 4] -> Reshape N x C x H x W;
torch.export goes from one partition to the next without the map between). timm's MobileViT unfolds a map
into p x p patches the same way in other steps (Reshape N*C*H/p x p x W/p x p -> Transpose [0, 2, 1, 3] ->
Reshape N x C x (H/p*W/p) x p*p -> Transpose [0, 3, 2, 1] -> Reshape N*p*p x (H/p*W/p) x C, and back): each
of its p*p sequences holds one pixel of every patch, the grid's windows of H/p x W/p positions. A partition
moves values, it computes nothing: the partitioned tensor is the map held channels-last in another order
(the layout :class:`Partitioned`), so LayerNorm, Linear, GELU and Add on its last axis are the spec's
``layernorm``, ``linear``, ``gelu`` and ``add`` on the map, and attention within its windows is
``attention`` with ``window: p`` (the grid's windows of 7 x 7 positions have the same counts; MobileViT's
of H/p x W/p, ``window: H/p``). The steps between the map and its partition are tensors no layer gives
(a ``view`` gate): read by anything else, they are refused.
"""

import math

from .tensors import Value, channels_last


class Partitioned(tuple):
    """The layout of an N x C x H x W map held as N x windows x positions x C (``swapped``: N x positions x
    windows x C) in windows of ``window`` x ``window``. Equal to the channels-last layout, whose rules it
    shares (the channels on the last axis); its ONNX dims and the spec's shape convert through it."""

    def __new__(cls, size, window, swapped=False, merged=False):
        # merged: MobileViT's N*positions x windows x C, the batch merged into the first axis (a rank-3 tensor:
        # its tuple, (0, 2, 1, 3), has the channels on axis 2, the last, and equals no other layout)
        layout = super().__new__(cls, (0, 2, 1, 3) if merged else channels_last(4))
        layout.size, layout.window, layout.swapped, layout.merged = tuple(size), window, swapped, merged
        return layout

    def onnx_dims(self, spec):
        batch, channels, height, width = spec
        windows, positions = (height // self.window) * (width // self.window), self.window * self.window
        first, second = (positions, windows) if self.swapped else (windows, positions)
        return (batch * first, second, channels) if self.merged else (batch, first, second, channels)

    def spec_dims(self, shape):
        if self.merged:
            height, width = self.size
            first = self.window ** 2 if self.swapped else (height // self.window) * (width // self.window)
            return (shape[0] // first, shape[-1]) + self.size
        return (shape[0], shape[-1]) + self.size


def _split(shape, target):
    """The window side p when ``target`` splits the N x C x H x W ``shape`` into N x C x H/p x p x W/p x p."""
    if len(shape) != 4 or len(target) != 6:
        return None
    n, c, h, w = shape
    if target[:2] != (n, c) or target[3] != target[5] or target[2] * target[3] != h or target[4] * target[5] != w:
        return None
    return target[3]


def visit(reader, node, attrs):
    """Whether ``node`` is a step of a partition or departition (and was read here)."""
    op = node.op_type
    if op not in ("Reshape", "Transpose") or not node.input or node.input[0] not in reader.values:
        return False
    from .reshapes import _reshaped

    value = reader.values[node.input[0]]
    target = perm = None
    if op == "Reshape":
        const = reader.ahead(node.input[1]) if len(node.input) > 1 else None
        array = const.array() if const is not None else None
        if array is None:
            return False
        target = _reshaped(value.shape, array.reshape(-1).tolist(), attrs.get("allowzero", 0))
        if target is None:
            return False
    else:
        perm = list(attrs.get("perm", reversed(range(len(value.shape)))))
    if value.gate is None and not isinstance(value.layout, Partitioned) and value.layout == channels_last(4) \
            and target and _merging(reader, node, value, target):
        return True
    if value.gate is None and value.layout is None and not value.tokens:
        window = _split(value.shape, target) if target else None
        if window is None:
            return _patches(reader, node, value, target)
        reader.set_output(node, Value(None, target, gate=("view", value, "split", window)))
        return True
    if value.gate is None and isinstance(value.layout, Partitioned) and (value.layout.merged or value.layout.swapped) \
            and _patches(reader, node, value, target, perm):
        return True
    if value.gate is None and isinstance(value.layout, Partitioned):
        layout = value.layout
        if perm == [0, 2, 1, 3]:  # the grid's swap of windows and positions
            shape = tuple(value.shape[p] for p in perm)
            reader.set_output(node, Value(value.layer, shape, own=False,
                                          layout=Partitioned(layout.size, layout.window, not layout.swapped)))
            return True
        (height, width), window = layout.size, layout.window
        if target and not layout.swapped and target == (value.shape[0], height // window, width // window, window,
                                                        window, value.shape[-1]):
            base = Value(value.layer, value.spec, own=False)
            reader.set_output(node, Value(None, target, gate=("view", base, "windows", window)))
            return True
        return False
    if value.gate is None or value.gate[0] != "view":
        return False
    _, base, state, window = value.gate
    if state in ("rows", "cells", "patches"):
        return _patches(reader, node, value, target, perm)
    n, c, h, w = base.shape
    if state == "split" and perm == [0, 2, 4, 3, 5, 1]:
        result = Value(None, tuple(value.shape[p] for p in perm), gate=("view", base, "windows", window))
    elif state == "windows" and perm == [0, 5, 1, 3, 2, 4]:
        result = Value(None, tuple(value.shape[p] for p in perm), gate=("view", base, "split", window))
    elif state == "windows" and target == (n, (h // window) * (w // window), window * window, c):
        result = Value(base.layer, target, own=False, layout=Partitioned((h, w), window))
    elif state == "split" and target == (n, c, h, w):
        result = Value(base.layer, target, own=False)
    elif state == "split" and target and _split(base.shape, target):
        result = Value(None, target, gate=("view", base, "split", _split(base.shape, target)))
    else:
        return False
    reader.set_output(node, result)
    return True


def _merging(reader, node, value, target):
    """timm's PatchMerging of a channels-last map: Reshape N x H x W x C to N x H/f x f x W/f x f x C,
    Transpose [0, 1, 3, 4, 2, 5], Reshape to N x H/f x W/f x f*f*C: ``pixelunshuffle`` by f (torchvision's
    four Slices by 2 are the same layer, the channels in another order). The first Reshape looks ahead (the
    same split starts the windows of Swin's attention); the Shape TorchScript takes of the transposed tensor
    for the last Reshape is known then."""
    from .reshapes import _reshaped
    from .tensors import attributes

    n, h, w, c = value.shape
    if len(target) != 6 or target[0] != n or target[5] != c or target[2] != target[4] or target[2] < 2 \
            or target[1] * target[2] != h or target[3] * target[4] != w:
        return False
    factor = target[2]
    at = reader.only_reader(node.output[0])
    if at is None or reader.nodes[at].op_type != "Transpose" \
            or list(attributes(reader.nodes[at]).get("perm", [])) != [0, 1, 3, 4, 2, 5]:
        return False
    back = reader.only_reader(reader.nodes[at].output[0])
    if back is None or reader.nodes[back].op_type != "Reshape" or len(reader.nodes[back].input) < 2:
        return False
    transposed = (n, h // factor, w // factor, factor, factor, c)
    shapes = _shapes_of(reader, reader.nodes[back].input[1], reader.nodes[at].output[0], transposed)
    const = reader.ahead(reader.nodes[back].input[1])
    array = const.array() if const is not None else None
    merged = (n, h // factor, w // factor, factor * factor * c)
    if array is None or _reshaped(transposed, array.reshape(-1).tolist(),
                                  attributes(reader.nodes[back]).get("allowzero", 0)) != merged:
        for i in shapes:
            del reader.consts[reader.nodes[i].output[0]]
        return False
    result = reader.emit(node, "pixelunshuffle", [node.input[0]], {"factor": factor}, layout=channels_last(4),
                         op_name="merge")
    reader.skip.update([at, back] + shapes)
    reader.values[reader.nodes[back].output[0]] = result
    return True


def _shapes_of(reader, name, tensor, dims, depth=8):
    """The Shape nodes of ``tensor`` (whose ``dims`` are known) that the shape arithmetic giving ``name``
    reads, each given its value now; their indices."""
    at = reader.makers.get(name)
    if at is None or not depth or name in reader.consts:
        return []
    maker = reader.nodes[at]
    if maker.op_type == "Shape" and maker.input[0] == tensor:
        from .small import array as small_array
        from .tensors import Const, attributes

        attrs = attributes(maker)
        value = small_array(dims[attrs.get("start", 0):attrs.get("end", len(dims))], dtype="int64")
        reader.consts[maker.output[0]] = Const(value.shape, value=value)
        return [at]
    return [i for source in maker.input if source for i in _shapes_of(reader, source, tensor, dims, depth - 1)]


def _patches(reader, node, value, target, perm=None):
    """A step of MobileViT's unfold into patches or its fold back; False when ``node`` is not one."""
    gate = value.gate
    if gate is None and value.layout is None:  # the map: N*C*H/p x p x W/p x p
        n, c, h, w = value.shape if len(value.shape) == 4 else (0, 0, 0, 0)
        if not target or len(target) != 4 or target[1] != target[3] or not target[1] or h % target[1] \
                or target != (n * c * (h // target[1]), target[1], w // target[1], target[1]) or w % target[1]:
            return False
        result = Value(None, target, gate=("view", value, "rows", target[1]))
    elif gate is None:  # the patches, held as p*p sequences of H/p*W/p positions
        layout = value.layout
        (h, w), p = layout.size, layout.window
        n, c = value.spec[:2]
        if layout.merged and target == (n, p * p, (h // p) * (w // p), c):
            result = Value(value.layer, target, own=False, layout=Partitioned((h, w), p, swapped=True))
        elif not layout.merged and target == (n * p * p, (h // p) * (w // p), c):
            result = Value(value.layer, target, own=False, layout=Partitioned((h, w), p, swapped=True, merged=True))
        elif not layout.merged and perm == [0, 3, 2, 1]:
            base = Value(value.layer, value.spec, own=False)
            result = Value(None, (n, c, (h // p) * (w // p), p * p), gate=("view", base, "patches", p))
        else:
            return False
    else:
        _, base, state, p = gate
        n, c, h, w = base.shape
        rows, cells = (n * c * (h // p), p, w // p, p), (n * c * (h // p), w // p, p, p)
        step = {("rows", "perm", (0, 2, 1, 3)): ("cells", cells), ("cells", "perm", (0, 2, 1, 3)): ("rows", rows),
                ("cells", "target", (n, c, (h // p) * (w // p), p * p)): ("patches", None),
                ("patches", "target", cells): ("cells", cells), ("rows", "target", (n, c, h, w)): ("map", None),
                ("patches", "perm", (0, 3, 2, 1)): ("partitioned", None)}
        found = step.get((state, "perm", tuple(perm)) if perm else (state, "target", target))
        if found is None:
            return False
        if found[0] == "map":
            result = Value(base.layer, target, own=False)
        elif found[0] == "partitioned":
            result = Value(base.layer, (n, p * p, (h // p) * (w // p), c), own=False,
                           layout=Partitioned((h, w), p, swapped=True))
        else:
            result = Value(None, found[1] or target, gate=("view", base, found[0], p))
    reader.set_output(node, result)
    return True


# --- Swin: windows of a channels-last map, 2-D or 3-D, and PatchMerging -------------------------------------

def swin_windows(reader, node, attrs, value):
    """Swin's attention in windows of a channels-last map starts with a Pad (or none: passed on), the
    Slices of a roll, or the Reshape into windows; PatchMerging's Slices by 2 are taken apart (the map N x H x W x
    C, or N x T x H x W x C: the 3-D Swin's windows are T x H x W, its patches merged in H and W)."""
    from .attention import Region, _step

    op = node.op_type
    consts = [reader.ahead(name) if name else None for name in node.input]
    arrays = [c.array() if c is not None else None for c in consts]
    if op == "Pad":
        if len(arrays) > 1 and arrays[1] is not None and not arrays[1].any() and len(node.input) < 4:
            reader.set_output(node, value.passed_on())
            return True
    elif op == "Slice":
        if len(arrays) < 4 or any(a is None for a in arrays[1:4]):
            return False
        steps = arrays[4].reshape(-1).tolist() if len(arrays) > 4 and arrays[4] is not None else [1]
        rank = len(value.shape)
        axes = [a % rank for a in arrays[3].reshape(-1).tolist()]
        source, starts = node.input[0], {}
        if value.gate is not None:  # the second of two Slices, one per axis
            _, source, before = value.gate
            starts = dict(before)
        if set(steps) == {2} and set(axes) <= {rank - 3, rank - 2} and not set(axes) & set(starts):
            starts.update(zip(axes, arrays[1].reshape(-1).tolist()))
            dims = list(value.shape)
            for axis in axes:
                dims[axis] = (dims[axis] - starts[axis] + 1) // 2
            reader.set_output(node, Value(None, tuple(dims), gate=("strided", source, tuple(sorted(starts.items()))),
                                          layout=value.layout))
            return True
        if set(steps) != {1} or value.gate is not None:
            return False
    else:
        target = arrays[1]
        if target is None or target.size < 5:
            return False
    region = next((r for r in reader.regions if r.source == node.input[0]), None) or Region(
        node.input[0], node, value.shape)
    if region not in reader.regions:
        reader.regions.append(region)
    return _step(reader, node, attrs, region, value)


def patch_merging(reader, node, attrs):
    """Swin's PatchMerging: the four Slices by 2 of a channels-last map concatenated on the channels:
    ``pixelunshuffle`` by 2 (the same shape and counts; the channels in another order); on a T x H x W map,
    by [1, 2, 2]."""
    pending = [reader.values.get(name) for name in node.input]
    if len(pending) != 4 or any(v is None or v.gate is None or v.gate[0] != "strided" for v in pending):
        return False
    sources = {v.gate[1] for v in pending}
    rank = len(pending[0].shape)
    starts = sorted(tuple(dict(v.gate[2]).get(axis) for axis in (rank - 3, rank - 2)) for v in pending)
    if len(sources) != 1 or starts != [(0, 0), (0, 1), (1, 0), (1, 1)] or attrs.get("axis", 0) % rank != rank - 1:
        return False
    result = reader.emit(node, "pixelunshuffle", [sources.pop()], {"factor": 2 if rank == 4 else [1, 2, 2]},
                         layout=channels_last(rank), op_name="merge")
    reader.set_output(node, result)
    return True


def window_sides(dims, target):
    """The window's size on each spatial axis when a Reshape of the padded channels-last map ``dims`` (N x H x W x
    C, N x T x H x W x C) to ``target`` splits each axis into windows (N x H/h x h x W/w x w x C ...); else None."""
    axes = len(dims) - 2
    if axes < 1 or len(target) != 2 * axes + 2 or target[0] != dims[0] or target[-1] != dims[-1]:
        return None
    sides = tuple(target[2 + 2 * i] for i in range(axes))
    if any(target[1 + 2 * i] * side != dims[1 + i] for i, side in enumerate(sides)):
        return None
    return sides


def fitted_window(sides, sizes, positions, table, heads, seen=()):
    """The window a relative table of ``table`` values (``heads`` a position offset) and an index of ``positions``
    x ``positions`` were made for, run as ``sides`` on a map of ``sizes`` (torchvision's 3-D Swin shrinks its
    window to the map where the map is not longer): as long as ``sides`` where the map is longer, at least as long
    elsewhere; None when no window fits. Several windows count the same (8 x 7 x 7 and 7 x 7 x 8 on a 4 x 7 x 7
    map): one of the windows ``seen`` in the model's earlier layers first, then the one shrunk on fewest axes."""
    choices = [[side] if side < size else [d for d in range(side, positions + 1) if positions % d == 0]
               for side, size in zip(sides, sizes)]
    found = [()]
    for options in choices:  # at most a few divisors on each of three axes
        found = [done + (d,) for done in found for d in options if positions % math.prod(done + (d,)) == 0]
    fits = [window for window in found if math.prod(window) == positions
            and math.prod(2 * w - 1 for w in window) * heads == table]
    return min(fits, key=lambda window: (window not in seen, sum(w != side for w, side in zip(window, sides))),
               default=None)
