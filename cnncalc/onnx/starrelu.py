"""MetaFormer's StarReLU, ``s * relu(x)^2 + b`` with a learned scalar scale s and bias b, read as one
``starrelu`` layer (2 params) from Relu, the square, Mul by s and Add of b, as both exporters write it (the
scalars the module's own, on either side); its SquaredReLU, ``relu(x)^2`` (CAFormer's head), as the activation
``squaredrelu``. TorchScript writes the square as Mul(r, r), torch.export as Pow(r, 2)."""

from . import affine
from .activations import fold_activation
from .positions import _next, _other, _scalar
from .tensors import elements


def _learned_scalar(reader, name):
    const = reader.ahead(name) if name else None
    return const is not None and elements(const.dims) == 1 and affine.learned(reader, name)


def _square(reader, node):
    """The node that alone reads the Relu ``node``'s output r and squares it (Pow(r, 2) or Mul(r, r)), else None."""
    out = node.output[0]
    readers = set(reader.readers.get(out, []))
    at = readers.pop() if len(readers) == 1 else None
    if at is None:
        return None
    inputs = reader.inputs_of[at]
    if reader.op_types[at] == "Pow" and inputs[0] == out and _scalar(reader, inputs[1]) == 2:
        return at
    return at if reader.op_types[at] == "Mul" and tuple(inputs) == (out, out) else None


def star_relu(reader, node):
    """Whether the Relu ``node`` starts a StarReLU or a SquaredReLU; if it does, it is read as one layer
    (``starrelu``) or activation (``squaredrelu``, folded into the layer before where it can be)."""
    square = _square(reader, node)
    if square is None:
        return False
    squared = reader.outputs_of[square][0]
    times = _next(reader, squared, "Mul")
    scale = times is not None and _other(reader.nodes[times], squared)
    plus = scale and _next(reader, reader.nodes[times].output[0], "Add")
    bias = plus and _other(reader.nodes[plus], reader.nodes[times].output[0])
    if not bias or not _learned_scalar(reader, scale) or not _learned_scalar(reader, bias):
        reader.skip.add(square)
        reader.values[squared] = fold_activation(reader, node, node.input[0], "squaredrelu")
        return True
    value = reader.value(node, node.input[0], any_layout=True)
    module = scale.rsplit(".", 1)[0] if "." in scale else None
    result = reader.emit(node, "starrelu", [node.input[0]], weight=scale, layout=value.layout, any_layout=True,
                         base=module)
    reader.skip.update((square, times, plus))
    reader.values[reader.outputs_of[plus][0]] = result
    return True
