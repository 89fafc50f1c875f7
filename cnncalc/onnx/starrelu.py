"""MetaFormer's StarReLU, ``s * relu(x)^2 + b`` with a learned scalar scale s and bias b, read as one
``starrelu`` layer (2 params) from Relu, Pow 2, Mul by s and Add of b, as both exporters write it (the scalars
the module's own, on either side)."""

from . import affine
from .positions import _next, _other, _scalar
from .tensors import elements


def _learned_scalar(reader, name):
    const = reader.ahead(name) if name else None
    return const is not None and elements(const.dims) == 1 and affine.learned(reader, name)


def star_relu(reader, node):
    """Whether the Relu ``node`` starts a StarReLU; if it does, the pattern is read as one ``starrelu`` layer."""
    square = _next(reader, node.output[0], "Pow")
    if square is None or reader.nodes[square].input[0] != node.output[0] or \
            _scalar(reader, reader.nodes[square].input[1]) != 2:
        return False
    times = _next(reader, reader.nodes[square].output[0], "Mul")
    scale = times is not None and _other(reader.nodes[times], reader.nodes[square].output[0])
    plus = scale and _next(reader, reader.nodes[times].output[0], "Add")
    bias = plus and _other(reader.nodes[plus], reader.nodes[times].output[0])
    if not bias or not _learned_scalar(reader, scale) or not _learned_scalar(reader, bias):
        return False
    value = reader.value(node, node.input[0], any_layout=True)
    module = scale.rsplit(".", 1)[0] if "." in scale else None
    result = reader.emit(node, "starrelu", [node.input[0]], weight=scale, layout=value.layout, any_layout=True,
                         base=module)
    reader.skip.update((square, times, plus))
    reader.values[reader.outputs_of[plus][0]] = result
    return True
