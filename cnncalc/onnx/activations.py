"""ONNX activations as cnncalc activations, folded into the layer before as ``act:`` where it takes one.

Each operator function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes.
"""

import math

from .tensors import Value, elements, number, shape_text

# ONNX activation ops and the cnncalc activation each becomes
ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hardsigmoid",
               "HardSwish": "hardswish", "Elu": "elu", "Selu": "selu", "Softplus": "softplus", "Gelu": "gelu",
               "Mish": "mish"}
# layer types that take an in-place `act:`
TAKES_ACT = ("conv", "dwconv", "convtranspose", "fc", "linear", "bn", "layernorm", "add")
# x * F(x) is one activation
GATED = {"Sigmoid": "silu", "HardSigmoid": "hardswish"}


def activation(reader, node, attrs):
    from .starrelu import star_relu

    if node.op_type == "Relu" and star_relu(reader, node):
        return
    source = node.input[0]
    gate = _gate_of(reader, node)
    if gate:
        reader.set_output(node, Value(None, reader.values[source].shape, gate=gate))
        return
    reader.set_output(node, fold_activation(reader, node, source, ACTIVATIONS[node.op_type]))


def _gate_of(reader, node):
    """x * F(x): when F's only reader is a Mul whose other input is x, the activation is that product.

    (x, activation, foldable): foldable when F and the Mul are x's only readers.
    """
    if node.op_type not in GATED:
        return None
    at = reader.only_reader(node.output[0])
    if at is None:
        return None
    mul, source = reader.nodes[at], node.input[0]
    if mul.op_type != "Mul" or sorted(mul.input) != sorted([source, node.output[0]]):
        return None
    foldable = sorted(reader.readers.get(source, [])) == sorted([reader.index, at])
    return source, GATED[node.op_type], foldable


def fold_activation(reader, node, source, act, alone=None):
    """Fold ``act`` into the layer giving ``source`` when it is its only reader (or ``alone`` says so,
    for an activation spelt as several nodes); else a new layer. The output keeps the input's layout."""
    value = reader.value(node, source, any_layout=True)
    item = reader.by_name.get(value.layer)
    readers = reader.readers.get(source, [])
    if alone is None:
        alone = bool(readers) and all(r == reader.index for r in readers)
    if alone and takes_act(reader, value):
        item["act"] = act
        return value
    return reader.emit(node, act, [source], layout=value.layout, any_layout=True)


def takes_act(reader, value):
    """Whether an activation of ``value`` can be the `act:` of the layer that gives it."""
    item = reader.by_name.get(value.layer)
    return value.own and item is not None and item["type"] in TAKES_ACT and "act" not in item


def mul(reader, node, attrs):
    """x * F(x) of a gated activation, else a ``mul`` of two computed tensors (squeeze-excitation)."""
    if any(name not in reader.values for name in node.input):
        raise reader.unsupported(node, "a Mul by a constant (cnncalc reads Mul of two computed tensors: a "
                                       "squeeze-excitation gate, or x * sigmoid(x))")
    gates = [reader.values[name].gate for name in node.input if reader.values[name].gate is not None]
    if gates and gates[0][0] not in ("shuffle", "shuffled", "pad"):
        source, act, foldable = gates[0]
        value = reader.value(node, source, any_layout=True)  # on a map, tokens, or channels last (MobileViT's MLP)
        if foldable and takes_act(reader, value):
            reader.by_name[value.layer]["act"] = act
            return reader.set_output(node, value)
        return reader.set_output(node, reader.emit(node, act, [source], layout=value.layout, any_layout=True))
    tokens = all(reader.values[name].tokens and reader.values[name].layout is None for name in node.input)
    reader.set_output(node, reader.emit(node, "mul", list(node.input), any_layout=tokens))  # tokens: a GLU's gate


def clip(reader, node, attrs):
    if reader.opset < 11:
        low, high = attrs.get("min"), attrs.get("max")
    else:
        bounds = [None, None]
        for position, name in enumerate(node.input[1:3]):
            if name:
                bounds[position] = float(reader.known(node, name, "a Clip bound").reshape(-1)[0])
        low, high = bounds
    if low == 0 and high == 6:
        act = "relu6"
    elif low == 0 and (high is None or math.isinf(high)):
        act = "relu"
    else:
        raise reader.unsupported(node, f"Clip({low}, {high}) is not an activation cnncalc knows (it reads "
                                       f"Clip(0, 6) as relu6 and Clip(0, inf) as relu)")
    reader.set_output(node, fold_activation(reader, node, node.input[0], act))


def leaky_relu(reader, node, attrs):
    value = reader.emit(node, "leakyrelu", [node.input[0]], {"slope": number(attrs.get("alpha", 0.01))})
    reader.set_output(node, value)


def prelu(reader, node, attrs):
    slope = reader.const(node, node.input[1], "the PRelu slope")
    count = elements(slope.dims)
    channels = reader.value(node, node.input[0]).shape[1]
    if count not in (1, channels):
        raise reader.unsupported(node, f"a PRelu slope of {count} values (cnncalc counts 1 or one per channel)")
    reader.set_output(node, reader.emit(node, "prelu", [node.input[0]], {"shared": count == 1}))


def softmax(reader, node, attrs):
    from . import branches

    if branches.softmax(reader, node):
        return
    value = reader.value(node, node.input[0], any_layout=True)
    axis = attrs.get("axis", -1) % len(value.shape)
    if axis != value.channel_axis:
        raise reader.unsupported(node, f"a {node.op_type} over axis {axis} of {shape_text(value.shape)}, not the "
                                       f"channels (axis {value.channel_axis})")
    reader.set_output(node, reader.emit(node, "softmax", [node.input[0]], layout=value.layout, any_layout=True))
