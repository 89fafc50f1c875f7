"""XCiT in ONNX (timm's xcit.py): the tokens made a map again by its LPI (local patch interaction).

LPI holds the N x D tokens transposed (D x N: a Transpose [0, 2, 1]) and reshapes them to the D x H x W map
its depthwise convs run on: ``untokens`` with the map channels first (the convs read it as any map), the
way back (a Reshape to D x HW and the Transpose) being a map's ``tokens``. XCiT's cross-covariance attention
is read by :mod:`.attention` (``over: channels``), its class attention blocks by :mod:`.cait` (``queries:
class``) and its Fourier position encoding by :mod:`.tokens` (``posembed`` with ``fourier``).
"""

import math


def untokens(reader, node, dims, target):
    """A Reshape of tokens held transposed (N x D x T) to N x D x H x W, H*W = T: ``untokens`` to a
    channels-first map. False when it is not one."""
    from .tokens import TRANSPOSED

    value = reader.values.get(node.input[0])
    if value is None or not value.tokens or value.layout != TRANSPOSED or value.gate is not None \
            or len(dims) != 3 or len(target) != 4 or target[:2] != tuple(dims[:2]) \
            or math.prod(target[2:]) != dims[2]:
        return False
    size = target[2] if target[2] == target[3] else [target[2], target[3]]
    reader.set_output(node, reader.emit(node, "untokens", [node.input[0]], {"size": size}, any_layout=True))
    return True


def token_slice(reader, node):
    """A Slice of a range of the tokens (axis 1, step 1; XCiT's class attention block takes x[:, 0:1] and
    x[:, 1:]): ``taketoken`` with ``count``. False when it is not one."""
    from .slices import _window

    value = reader.values.get(node.input[0]) if node.input else None
    if value is None or not value.tokens or value.layout is not None or value.gate is not None or reader.opset < 10:
        return False
    what = ("the starts", "the ends", "the axes", "the steps")
    bounds = [reader.known(node, name, text).reshape(-1).tolist() if name else None
              for name, text in zip(list(node.input[1:5]) + [""] * 4, what)]
    window = _window(value.shape, *bounds)
    if list(window) != [1] or window[1][2] != 1 or window[1][0] >= window[1][1]:
        return False
    begin, stop = window[1][:2]
    keys = {"index": begin, "count": stop - begin} if begin else {"count": stop - begin}
    reader.set_output(node, reader.emit(node, "taketoken", [node.input[0]], keys, any_layout=True))
    return True
