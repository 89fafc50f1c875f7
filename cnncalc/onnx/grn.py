"""ConvNeXt V2's global response norm, as both exporters write it, read as one ``grn`` layer.

timm's GlobalResponseNorm: ``Gx = ||x||_2`` over the positions of each channel, ``Nx = Gx / (mean of Gx over the
channels + eps)``, out ``= x + addcmul(beta, gamma, x * Nx)``. Both exporters write ReduceL2 (over H and W; its
axes an attribute from TorchScript, an input from torch.export), ReduceMean over the channels, Add of eps, Div,
Mul by x, Mul by gamma (TorchScript then a Mul by addcmul's literal 1), Add of beta, Add of x; the constants on
either side. gamma and beta are one value per channel: the module's own (reshaped to C x 1 x 1 by TorchScript),
or the copies torch.export stores under names of its own (``tmp``, ``view``), which count the same C each. On a
channels-first map (timm's ``conv_mlp``, convnextv2_atto) or a channels-last one (its Linear MLP).
"""

from . import affine
from .derived import copy_of, torchscript_folded
from .names import dynamo_scope, torch_scope
from .positions import _next, _other
from .tensors import attributes, channels_last


def _axes(reader, node, attrs):
    if len(node.input) > 1 and node.input[1]:
        array = reader.ahead(node.input[1])
        array = array.array() if array is not None else None
        return None if array is None else sorted(int(a) for a in array.reshape(-1).tolist())
    return sorted(attrs.get("axes") or ())


def _learned_vector(reader, value, name):
    """Whether constant ``name`` is one learned value per channel of ``value`` (the module's, or a copy of it
    torch.export stored)."""
    const = reader.ahead(name) if name else None
    return const is not None and affine.per_channel(value, const.dims) and (
        affine.learned(reader, name) or copy_of(reader, name) is not None or torchscript_folded(reader, name))


def _match(reader, node, attrs, value):
    """(the pattern's node indices, the last one giving its output; gamma), or None when ``node`` does not start
    a GRN."""
    rank, source = len(value.shape), node.input[0]
    channel = value.channel_axis
    positions = [axis for axis in range(1, rank) if axis != channel]
    if attrs.get("keepdims", 1) != 1 or [a % rank for a in _axes(reader, node, attrs)] != positions:
        return None
    norm = node.output[0]
    readers = reader.readers.get(norm, [])
    if len(readers) != 2 or None in readers:
        return None
    mean, div = sorted(readers, key=lambda at: reader.op_types[at] != "ReduceMean")
    mean_node = reader.nodes[mean]
    mean_attrs = attributes(mean_node)
    if reader.op_types[mean] != "ReduceMean" or reader.op_types[div] != "Div" or mean_attrs.get("keepdims", 1) != 1 \
            or [a % rank for a in _axes(reader, mean_node, mean_attrs)] != [channel]:
        return None
    eps = _next(reader, mean_node.output[0], "Add")
    if eps is None or tuple(reader.nodes[div].input) != (norm, reader.nodes[eps].output[0]):
        return None
    other = _other(reader.nodes[eps], mean_node.output[0])
    if other is None or not affine.literal_scalar(reader, other):
        return None
    times_x = _next(reader, reader.nodes[div].output[0], "Mul")
    if times_x is None or _other(reader.nodes[times_x], reader.nodes[div].output[0]) != source:
        return None
    times_gamma = _next(reader, reader.nodes[times_x].output[0], "Mul")
    gamma = times_gamma is not None and _other(reader.nodes[times_gamma], reader.nodes[times_x].output[0])
    if not gamma or not _learned_vector(reader, value, gamma):
        return None
    used, at = [], times_gamma
    one = _next(reader, reader.nodes[at].output[0], "Mul")  # addcmul's value, 1
    if one is not None:
        factor = _other(reader.nodes[one], reader.nodes[at].output[0])
        const = reader.ahead(factor) if factor else None
        array = const.array() if const is not None and affine.literal_scalar(reader, factor) else None
        if array is None or float(array.reshape(-1)[0]) != 1.0:
            return None
        used, at = [one], one
    plus_beta = _next(reader, reader.nodes[at].output[0], "Add")
    beta = plus_beta is not None and _other(reader.nodes[plus_beta], reader.nodes[at].output[0])
    if not beta or not _learned_vector(reader, value, beta):
        return None
    plus_x = _next(reader, reader.nodes[plus_beta].output[0], "Add")
    if plus_x is None or _other(reader.nodes[plus_x], reader.nodes[plus_beta].output[0]) != source:
        return None
    return [reader.index, mean, eps, div, times_x, times_gamma] + used + [plus_beta, plus_x], gamma


def reduce_l2(reader, node, attrs):
    """ReduceL2: read only as the start of a global response norm."""
    value = reader.value(node, node.input[0], any_layout=True)
    rank = len(value.shape)
    found = None
    if not value.tokens and value.layout in (None, channels_last(rank)) and rank >= 3:
        found = _match(reader, node, attrs, value)
    if found is None:
        raise reader.unsupported(node, "a ReduceL2 outside a global response norm (cnncalc reads ReduceL2 only in "
                                       "ConvNeXt V2's GRN: the L2 norm over the positions, divided by its mean over "
                                       "the channels, gamma * (x * Nx) + beta + x)")
    nodes, gamma = found
    scope = torch_scope(node.name) or dynamo_scope(node)
    result = reader.emit(node, "grn", [node.input[0]], weight=gamma, layout=value.layout, any_layout=True,
                         base=scope[0] if scope and scope[0] else None)
    reader.skip.update(nodes)
    reader.values[reader.outputs_of[nodes[-1]][0]] = result
