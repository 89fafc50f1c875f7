"""Learned vectors multiplied or added, one value per channel: layer scale (``gamma * x``: ``scale``), a learned
shift (``x + beta``: ``shift``) and the two together (ResMLP's Affine, ``alpha * x + beta``, which the
exporters write as Mul, a Mul by the literal 1 of ``addcmul``, Add: one ``scale`` with ``bias: true``), on
a channels-first map (a C x 1 x 1 vector), a channels-last one or tokens (a vector of the width). A literal
scalar added (MobileOne's ``0 + branch`` when a block has no scale branch) is no layer: no params, no MACs.

Each operator function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes.
"""

from . import tensors
from .tensors import elements, shape_text


def per_channel(value, dims):
    """Whether a constant of ``dims`` holds one value per channel of ``value``, on its channel axis as
    broadcasting aligns them (from the end): 384 or 1 x 1 x 384 on tokens, C x 1 x 1 on an N x C x H x W map."""
    if dims is None:
        return False
    channels = value.shape[value.channel_axis]
    axis = value.channel_axis - len(value.shape)
    return (elements(dims) == channels and len(dims) <= len(value.shape) and -axis <= len(dims)
            and dims[axis] == channels)


def learned(reader, name):
    """Whether constant ``name`` is a model's parameter as the file stores it: an initializer named after its
    module (``blocks.0.norm1.beta``), reshaped or cast at most, not a tensor the exporter wrote or derived
    (``val_3``, ``tmp``: torch.export's alpha * 1)."""
    const = reader.consts.get(name)
    return const is not None and const.stored and tensors.learned(reader, name)


def literal_scalar(reader, name):
    """Whether ``name`` is one value the exporter wrote (a Constant, ``val_3``), not a learned scalar."""
    const = reader.ahead(name)
    return const is not None and elements(const.dims) == 1 and not learned(reader, name)


def written_zeros(reader, name):
    """Whether ``name`` is zeros the exporter wrote, not a learned tensor: the bias TorchScript writes for a layer
    norm made without one (timm's LayerNorm2d with ``bias=False``: a Constant node of C zeros)."""
    const = reader.ahead(name)
    if const is None or name in reader.initializers or learned(reader, name) or const.sources:
        return False
    array = const.array()
    return array is not None and not array.any()


def bias_after(reader, node, value):
    """The learned per-channel shift added after the per-channel Mul ``node`` (through a Mul by a literal
    scalar: ``addcmul``'s value), as (the Add's index, the nodes read with it, the shift's name); None when
    the Mul's output is not read by one such Add alone."""
    out, used = node.output[0], []
    at = reader.only_reader(out)
    if at is not None and reader.op_types[at] == "Mul":
        others = [name for name in reader.inputs_of[at] if name != out]
        if len(others) != 1 or not literal_scalar(reader, others[0]):
            return None
        used.append(at)
        out = reader.outputs_of[at][0]
        at = reader.only_reader(out)
    if at is None or reader.op_types[at] != "Add":
        return None
    others = [name for name in reader.inputs_of[at] if name != out]
    if len(others) != 1 or others[0] in reader.values or reader.ahead(others[0]) is None or not learned(reader, others[0]) \
            or not per_channel(value, reader.consts[others[0]].dims):
        return None
    return at, used, others[0]


def scale(reader, node, source, factor, value):
    """A Mul by one value per channel: ``scale`` (C params), with the learned shift added after it as its
    bias (2C params, named after the shift's module: ``blocks.0.norm1`` of ``blocks.0.norm1.beta``)."""
    after = bias_after(reader, node, value)
    if after is None:
        return reader.set_output(node, reader.emit(node, "scale", [source], weight=factor, layout=value.layout,
                                                   any_layout=True))
    add, used, shift = after
    for at in used + [add]:
        reader.skip.add(at)
    module = shift.rsplit(".", 1)[0] if "." in shift else None
    result = reader.emit(node, "scale", [source], {"bias": True}, weight=factor, layout=value.layout,
                         any_layout=True, base=module)
    reader.set_output(node, result)
    for at in used + [add]:
        reader.values[reader.outputs_of[at][0]] = result


def add(reader, node):
    """An Add of a computed tensor and a constant: a literal scalar passes the tensor on, a learned vector of
    one value per channel is a ``shift``. False when the Add is of something else."""
    computed = [name for name in node.input if name in reader.values]
    if len(computed) != 1 or len(node.input) != 2:
        return False
    source = computed[0]
    constant = [name for name in node.input if name != source][0]
    const = reader.ahead(constant)
    if const is None:
        return False
    value = reader.value(node, source, any_layout=True)
    if elements(const.dims) == 1 and const.dims is not None and len(const.dims) <= len(value.shape):
        if learned(reader, constant):
            raise reader.unsupported(node, f"an Add of the learned scalar '{constant}' (cnncalc has no layer for "
                                           f"one learned value)")
        reader.set_output(node, value.passed_on())
        return True
    if not per_channel(value, const.dims):
        return False
    if not learned(reader, constant):
        raise reader.unsupported(node, f"an Add of {shape_text(value.shape)} and the constant '{constant}' "
                                       f"{shape_text(const.dims)}, one value per channel that is not a learned "
                                       f"initializer (cnncalc counts a learned shift as params: it cannot tell "
                                       f"what this one counts)")
    reader.set_output(node, reader.emit(node, "shift", [source], weight=constant, layout=value.layout,
                                        any_layout=True))
    return True
