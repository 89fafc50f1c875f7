"""ONNX Split and Slice of the channels: ``chunk`` where the parts are torch.chunk's (ceil(C/n) wide, the last
what is left), ``slice`` (channels [start, stop]) for any other static range (DPN's x[:, :d] and x[:, d:]).

Each operator function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes.
"""

from . import xcit
from .positions import partial_shortcut
from .tensors import shape_text
from .tokens import skipped_mean


def split(reader, node, attrs):
    """Split of the channels: chunks as torch.chunk cuts them, else one ``slice`` a part (torch.split with
    sizes, as torch.export writes x[:, :d] and x[:, d:] together). Of tokens, a Split of the width (EVA-02's
    SwiGLU: fc1's output in two halves)."""
    value = reader.value(node, node.input[0], any_layout=True)
    on_tokens = value.tokens and value.layout is None and attrs.get("axis", 0) % len(value.shape) == 2
    dims = value.shape if on_tokens else reader.value(node, node.input[0]).shape
    axis, channel = attrs.get("axis", 0) % len(dims), 2 if on_tokens else 1
    parts = len(node.output)
    if len(node.input) > 1 and node.input[1]:
        sizes = reader.known(node, node.input[1], "the split sizes").reshape(-1).tolist()
    else:
        # num_outputs (opset 18): parts of ceil(C/n), the last what is left, as torch.chunk cuts them
        size = -(-dims[axis] // parts)
        sizes = attrs.get("split") or [size] * (parts - 1) + [dims[axis] - size * (parts - 1)]
    if axis != channel or len(sizes) != parts or sum(sizes) != dims[channel] or min(sizes) <= 0:
        raise reader.unsupported(node, f"a Split of {shape_text(dims)} into {sizes} at axis {axis} (cnncalc "
                                       f"reads a Split of the channels into parts of at least one channel)")
    chunked = -(-dims[channel] // parts) == sizes[0] and len(set(sizes[:-1])) == 1 and sizes[-1] <= sizes[0]
    begin = 0
    for index, size in enumerate(sizes):
        keys = {"chunks": parts, "index": index} if chunked else {"channels": [begin, begin + size]}
        value = reader.emit(node, "chunk" if chunked else "slice", [node.input[0]], keys, suffix=f".{index}",
                            any_layout=on_tokens)
        reader.set_output(node, value, index)
        begin += size


def slice_(reader, node, attrs):
    if skipped_mean(reader, node) or xcit.token_slice(reader, node):  # BEiT's head: the tokens after the class
        # token averaged; a range of tokens kept (CaiT's, XCiT's class attention)
        return
    dims = reader.value(node, node.input[0]).shape
    if reader.opset < 10:
        bounds = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        bounds = [reader.known(node, name, what).reshape(-1).tolist() if name else None
                  for name, what in zip(list(node.input[1:5]) + [""] * 4,
                                        ("the starts", "the ends", "the axes", "the steps"))]
    window = _window(dims, *bounds)
    channels = list(window) == [1] and window[1][2] == 1
    if channels:
        # a chunk when the other Slices of the tensor are chunks of as many parts (EdgeNeXt's); DPN's x[:, d:]
        # beside x[:, :d] is a slice, though it alone could be a torch.chunk part
        counts = _chunk_counts(dims[1], *window[1][:2])
        for other in _other_slices(reader, node, dims):
            counts &= _chunk_counts(dims[1], *other)
        if counts:
            count = max(counts)  # of the readings left, the narrowest parts (equal parts where they divide C)
            keys = {"chunks": count, "index": window[1][0] // -(-dims[1] // count)}
            return reader.set_output(node, reader.emit(node, "chunk", [node.input[0]], keys))
    if not window:
        return reader.set_output(node, reader.values[node.input[0]].passed_on())
    if partial_shortcut(reader, node, window, dims):
        return
    if channels and window[1][0] < window[1][1]:
        return reader.set_output(node, reader.emit(node, "slice", [node.input[0]],
                                                   {"channels": list(window[1][:2])}))
    raise reader.unsupported(node, f"a Slice of {shape_text(dims)} ({window}) (cnncalc reads a Slice of a range "
                                   f"of the channels, step 1)")


def _window(dims, starts, ends, axes, steps):
    """{axis: (begin, stop, step)} of the axes a Slice cuts (bounds clamped as ONNX does, step 1 assumed in
    the clamping; an axis taken whole is left out)."""
    axes = list(range(len(starts))) if axes is None else axes
    steps = steps or [1] * len(starts)
    window = {}
    for start, end, axis, step in zip(starts, ends, axes, steps):
        size = dims[axis % len(dims)]
        begin, stop = (max(0, min(size, v + size if v < 0 else v)) for v in (start, end))
        if (begin, stop, step) != (0, size, 1):
            window[axis % len(dims)] = (begin, stop, step)
    return window


def _other_slices(reader, node, dims):
    """The channel ranges (begin, stop) of the other Slices of ``node``'s input whose bounds are constants
    known now (read ahead of the walk); a Slice whose bounds are computed later is left out."""
    ranges = []
    for at in reader.readers.get(node.input[0], []):
        other = reader.nodes[at] if at is not None else None
        if other is None or other is node or other.op_type != "Slice" or reader.opset < 10:
            continue
        names = (list(other.input[1:5]) + [""] * 4)[:4]
        consts = [reader.ahead(name) if name else None for name in names]
        arrays = [const.array() if const is not None else None for const in consts]
        if any(name and array is None for name, array in zip(names, arrays)) or not names[0] or not names[1]:
            continue
        window = _window(dims, *[array.reshape(-1).tolist() if array is not None else None for array in arrays])
        if list(window) == [1] and window[1][2] == 1:
            ranges.append(window[1][:2])
    return ranges


def _chunk_counts(channels, begin, stop):
    """The part counts n for which channels ``begin`` to ``stop`` are one part of torch.chunk(n): parts of
    ceil(C/n), the last what is left (160 in 3: 54, 54, 52); none when the range is no such part. The last
    part can be read several ways (8 to 10 of 10: the fifth of 5, or the third of 3)."""
    width = stop - begin
    if width <= 0:
        return set()
    sizes = [width] if stop < channels else range(width, max(width, begin) + 1)
    counts = set()
    for size in sizes:
        count = -(-channels // size)
        if begin % size == 0 and -(-channels // count) == size and min(channels, begin + size) == stop:
            counts.add(count)
    return counts
