"""GELU's tanh approximation as the exporters spell it, read as one ``gelu`` activation.

0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) -- ``nn.GELU(approximate="tanh")``, the GELU of GPT-2
and of timm models configured with ``gelu_tanh`` -- has no params and no MACs, like GELU's Erf form (read
in :mod:`cnncalc.onnx.positions`). The TorchScript exporter writes x^3 as x * (x * x), torch.export at
opset 18 as Pow(x, 3) (from opset 20 it writes one Gelu node with ``approximate="tanh"``, read as any
activation). The constants may stand on either side of each Mul and Add.
"""

import math

from .activations import fold_activation
from .positions import _next, _other, _scalar

KAPPA = 0.044715
BETA = math.sqrt(2 / math.pi)


def _close(value, wanted):
    return value is not None and abs(value - wanted) <= 1e-4 * abs(wanted)


def _step(reader, at, op, constant=None, operand=None):
    """The node that alone reads the output of node ``at`` when it is an ``op`` whose other input is the
    scalar ``constant`` (or the tensor ``operand``); else None."""
    if at is None:
        return None
    output = reader.nodes[at].output[0]
    found = _next(reader, output, op)
    if found is None:
        return None
    other = _other(reader.nodes[found], output)
    if operand is not None and other != operand:
        return None
    if constant is not None and (other is None or not _close(_scalar(reader, other), constant)):
        return None
    return found


def gelu_tanh(reader, node):
    """Whether ``node`` -- Pow(x, 3), or the x * x of x * (x * x) -- starts GELU's tanh form; if it does, the
    pattern's nodes are read as one ``gelu`` of x (folded into the layer giving x when x has no other use)."""
    if node.op_type == "Pow":
        source, cube = node.input[0], reader.index
        if len(node.input) != 2 or not _close(_scalar(reader, node.input[1]), 3):
            return False
    elif node.op_type == "Mul" and len(node.input) == 2 and node.input[0] == node.input[1]:
        source = node.input[0]
        cube = _step(reader, reader.index, "Mul", operand=source)
    else:
        return False
    scaled = _step(reader, cube, "Mul", KAPPA)
    inner = _step(reader, _step(reader, scaled, "Add", operand=source), "Mul", BETA)
    plus_one = _step(reader, _step(reader, inner, "Tanh"), "Add", 1.0)
    product = _step(reader, plus_one, "Mul")
    if product is None:
        return False
    nodes = sorted({reader.index, product} | set(_chain(reader, cube, plus_one)))
    other = _other(reader.nodes[product], reader.nodes[plus_one].output[0])
    if other == source:  # x * (1 + tanh) then * 0.5
        last = _step(reader, product, "Mul", 0.5)
    elif _close(_scalar(reader, other or ""), 0.5):  # 0.5 * (1 + tanh) then * x
        last = _step(reader, product, "Mul", operand=source)
    else:  # 0.5 * x first, by its own Mul
        half = next((i for i in reader.readers.get(source, []) if i is not None and reader.nodes[i].op_type == "Mul"
                     and other in reader.nodes[i].output and reader.only_reader(other) == product), None)
        if half is None or not _close(_scalar(reader, _other(reader.nodes[half], source) or ""), 0.5):
            return False
        nodes.append(half)
        last = product
    if last is None:
        return False
    nodes.append(last)
    # the GELU is x's only use when every reader of x is one of its nodes
    alone = set(reader.readers.get(source, [])) <= set(nodes)
    result = fold_activation(reader, node, source, "gelu", alone=alone)
    reader.skip.update(nodes)
    reader.values[reader.nodes[last].output[0]] = result
    return True


def _chain(reader, first, last):
    """The nodes from ``first`` to ``last``, each the only reader of the one before."""
    at, found = first, [first]
    while at != last:
        at = reader.only_reader(reader.nodes[at].output[0])
        found.append(at)
    return found


def power(reader, node, attrs):
    """Pow of a computed tensor: read only as the start of GELU's tanh form."""
    if not gelu_tanh(reader, node):
        raise reader.unsupported(node, "a Pow of a computed tensor (cnncalc reads Pow inside LayerNorm's, GELU's and "
                                       "the squared ReLUs' written-out forms only)")
