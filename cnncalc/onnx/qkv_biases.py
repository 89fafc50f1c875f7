"""BEiT's attention in ONNX, read into the regions of :mod:`.attention`: the q/k/v projection's bias the
concatenation of q's learned bias, k's zeros (a buffer in timm's module) and v's learned bias; and the relative
position bias on a class token and a square grid of patches, gathered from a table of (2W-1)^2 + 3 rows.

Each function takes the :class:`~cnncalc.onnx.graph.GraphReader`.
"""

import math

from .tensors import attributes, elements, initializer_kind, learned


def note_k_buffer(reader, layer, name, units):
    """After a MatMul's bias Add became part of the linear ``layer``: when the bias ``name`` is the Concat of
    three equal parts -- a learned vector, constant zeros, a learned vector (timm's BEiT: ``cat(q_bias, k_bias,
    v_bias)``, k_bias a buffer of zeros the TorchScript exporter writes as a Constant) -- note the zeros' width,
    which an attention region taking the projection counts as buffers, not params."""
    at = reader.makers.get(name)
    node = reader.nodes[at] if at is not None else None
    if node is None:
        return _folded_k_buffer(reader, layer, name, units)
    if node.op_type != "Concat" or len(node.input) != 3 or units % 3 \
            or attributes(node).get("axis", 0) not in (0, -1):
        return
    parts = [reader.consts.get(part) for part in node.input]
    if any(part is None or part.dims != (units // 3,) for part in parts):
        return
    zeros = parts[1].array()
    if learned(reader, node.input[0]) and learned(reader, node.input[2]) and not learned(reader, node.input[1]) \
            and zeros is not None and not zeros.any():
        reader.__dict__.setdefault("k_buffers", {})[layer] = units // 3


def _folded_k_buffer(reader, layer, name, units):
    """The same bias as torch.export stores it: one initializer folded from three of the model's tensors (its
    record names ``q_bias``, ``k_bias`` and ``v_bias``), whose middle third is zeros and whose other two are not."""
    from .derived import origins

    const = reader.consts.get(name)
    made = origins(reader, name)
    values = const.array() if const is not None and const.stored and made and len(made) == 3 else None
    if values is None or units % 3 or const.dims != (units,):
        return
    third = units // 3
    flat = values.reshape(-1).tolist()
    if any(flat[:third]) and any(flat[2 * third:]) and not any(flat[third:2 * third]):
        reader.__dict__.setdefault("k_buffers", {})[layer] = third


def take_k_buffer(reader, layer, region):
    """A region took the q/k/v projection ``layer``: its noted k zeros are buffers (``k_bias: buffer``)."""
    width = reader.__dict__.get("k_buffers", {}).pop(layer, 0)
    if width:
        region.params -= width
        region.buffers += width
        region.k_bias = width


def k_bias_keys(region, keys):
    """``k_bias: buffer`` for a region whose projection's k bias is zeros held as a buffer; the width of the
    biases that are not params."""
    width = region.k_bias
    if width:
        keys["k_bias"] = "buffer"
    return width


def class_relative(reader, region, keys, tokens, heads):
    """The params of a relative position bias on N tokens, a class token and a W x W grid (timm's BEiT): the
    learned table the region gathered from holds ((2W-1)^2 + 3) rows of one value a head; sets ``position:
    relative, class_token: true``; 0 when the table is not that."""
    count = tokens.shape[1]
    side = math.isqrt(max(count - 1, 0))
    tables = [name for name in sorted(region.tables - region.logits)
              if initializer_kind(name, reader.initializers.get(name)) == "param"]
    entries = (2 * side - 1) ** 2 + 3
    if side < 1 or side * side != count - 1 or not heads or len(tables) != 1 \
            or elements(reader.consts[tables[0]].dims) != entries * heads:
        return 0
    keys["position"], keys["class_token"] = "relative", True
    return entries * heads
