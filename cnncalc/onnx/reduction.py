"""Spatial-reduction attention in ONNX (PVT's, Twins-SVT's global sub-sampled attention), read into the regions of
:mod:`.attention`, whichever exporter wrote it.

The q projection of the tokens starts a region as any attention's does (a Reshape into heads). The keys and
values come from the same tokens by another path: Transpose [0, 2, 1] and a Reshape to the N x C x H x W map, a
Conv of kernel = stride = r, a Reshape and Transpose back to tokens, a LayerNormalization, then the k/v
projection (with r = 1 only that projection). :func:`join` takes the first node of that path into the region
(it reads the region's source, not a region tensor), :func:`step` the Conv and the LayerNormalization; the
rest are the region's own steps. The ``attention`` layer it becomes has ``reduce: r`` (and ``grid: [H, W]`` for
tokens of a map that is not square), and its params and MACs are checked against the region's as any
attention's are. Also here: tokens held transposed (N x D x T after a Transpose [0, 2, 1]) reshaped to the
N x D x H x W map, ``untokens`` (PVT's MLP runs a depthwise conv on its hidden tokens that way).
"""

import math

from .tensors import elements

OPERATORS = ("Conv", "LayerNormalization")


def _waiting(reader, name):
    """The open region whose source is ``name`` and that has only its q projection so far, else None."""
    return next((r for r in reader.followed if r.source == name and not r.closed and r.head_dim is None
                 and len(r.projections) == 1 and r.kind is None
                 and not r.reduction and not r.joined), None)


def _reader_op(reader, name, op):
    """The node that alone reads ``name`` if it is an ``op``, else None."""
    at = reader.only_reader(name)
    return reader.nodes[at] if at is not None and reader.nodes[at].op_type == op else None


def join(reader, node, attrs):
    """A node reading the tokens a region's q projection read that starts its keys and values: the Transpose to
    the map of the reduction conv, or the k/v projection itself (r = 1); it joins the region."""
    if node.op_type not in ("Transpose", "MatMul") or not node.input:
        return False
    region = _waiting(reader, node.input[0])
    if region is None:
        return False
    from .attention import _step

    source = reader.values[region.source]
    dims = source.shape
    if len(dims) != 3 or source.layout is not None:
        return False
    if node.op_type == "MatMul":  # the k/v projection of the tokens themselves: C x 2E
        weight = reader.ahead(node.input[1]) if len(node.input) > 1 else None
        if weight is None or weight.dims != (dims[2], 2 * region.projections[0]):
            return False
    else:
        reshape = _reader_op(reader, node.output[0], "Reshape")
        conv = _reader_op(reader, reshape.output[0], "Conv") if reshape is not None else None
        if list(attrs.get("perm", [])) != [0, 2, 1] or conv is None:
            return False
    region.joined = True
    return _step(reader, node, attrs, region, source)


def step(reader, node, attrs, region, inputs, consts):
    """The reduction Conv (kernel = stride = r, C -> C) of a region's keys and values, or the LayerNormalization
    after it; False when ``node`` is neither."""
    from .attention import _set

    dims = inputs[0]
    if not region.joined or dims is None or region.head_dim is not None:
        return False
    reduction = region.reduction
    if node.op_type == "LayerNormalization":
        scale, bias = (consts[i] if len(consts) > i else None for i in (1, 2))
        if reduction is None or reduction["norm"] or attrs.get("axis", -1) % len(dims) != len(dims) - 1 \
                or scale is None or not scale.stored or elements(scale.dims) != dims[-1] \
                or bias is None or elements(bias.dims) != dims[-1]:
            return False
        reduction["norm"] = True
        region.params += 2 * dims[-1]
        return _set(reader, node, region, dims) or True
    weight = consts[1] if len(consts) > 1 else None
    kernel, stride = tuple(attrs.get("kernel_shape", ())), tuple(attrs.get("strides", (1, 1)))
    if reduction is not None or len(dims) != 4 or weight is None or not weight.dims \
            or weight.dims != (dims[1], dims[1]) + kernel or len(kernel) != 2 or kernel[0] != kernel[1] \
            or stride != kernel or any(attrs.get("pads", [0] * 4)) or attrs.get("group", 1) != 1 \
            or any(d != 1 for d in attrs.get("dilations", [1, 1])) or attrs.get("auto_pad", "NOTSET") != "NOTSET":
        return False
    bias = consts[2] if len(consts) > 2 and node.input[2] else None
    if bias is None or not bias.stored or elements(bias.dims) != dims[1]:
        return False
    out = tuple(side // kernel[0] for side in dims[2:])
    region.reduction = {"ratio": kernel[0], "sides": tuple(dims[2:]), "norm": False}
    region.params += elements(weight.dims) + dims[1]
    region.macs += dims[0] * dims[1] * math.prod(out) * elements(weight.dims[1:])
    return _set(reader, node, region, dims[:2] + out) or True


def layer_keys(reader, node, region, keys, tokens):
    """``reduce`` (and ``grid``) of a region whose keys and values were reduced; returns the params of the conv and
    its LayerNorm (0 for any other region)."""
    reduction = region.reduction
    if reduction is None:
        return 0
    sides, ratio = reduction["sides"], reduction["ratio"]
    count, width = tokens.shape[1], tokens.shape[2]
    if not reduction["norm"] or not tokens.tokens or math.prod(sides) != count \
            or region.keys_count != math.prod(side // ratio for side in sides):
        raise reader.unsupported(node, f"an attention (from '{region.start.name}') whose keys and values come from "
                                       f"its tokens reduced by a {ratio}x{ratio} conv, not as cnncalc reads it (PVT's: "
                                       f"the tokens' own map, the conv, a LayerNorm, the k/v projection)")
    keys["reduce"] = ratio
    if sides[0] != sides[1]:
        keys["grid"] = list(sides)
    return width * width * ratio * ratio + width + 2 * width


def untokens(reader, node, dims, target):
    """A Reshape of tokens held transposed (N x D x T) to the N x D x H x W map: ``untokens``; False otherwise."""
    from .tokens import TRANSPOSED

    value = reader.values[node.input[0]]
    if not value.tokens or value.layout != TRANSPOSED or len(target) != 4 or target[:2] != dims[:2] \
            or target[2] * target[3] != dims[2]:
        return False
    size = target[2] if target[2] == target[3] else [target[2], target[3]]
    reader.set_output(node, reader.emit(node, "untokens", [node.input[0]], {"size": size}, any_layout=True))
    return True


def flattened(value, tokens):
    """(the region's result as the region reads it, whether it was flattened): attention in windows of a
    channels-last map (N x H x W x C, from tokens) whose result is the map's positions as N x H*W x C tokens
    (Twins-SVT's locally-grouped attention, its output projection on the tokens) is the attention on the map
    and then ``tokens``."""
    from .tensors import Value, channels_last

    if tokens.layout != channels_last(4) or len(value.shape) != 3 or len(tokens.shape) != 4 \
            or value.shape != (tokens.shape[0], tokens.shape[1] * tokens.shape[2], tokens.shape[3]):
        return value, False
    return Value(None, tokens.shape, gate=value.gate), True


def tokens_after(reader, node, name, result):
    """The ``tokens`` layer after the attention ``result`` (see :func:`flattened`); its Value."""
    reader.values[name] = result
    reader.values[name] = flat = reader.emit(node, "tokens", [name], any_layout=True)
    return flat
