"""A LayerNorm inside an attention region, before its q/k/v projection (TinyViT's Attention normalizes the
tokens of each window itself): read as a ``layernorm`` layer on the map before the ``attention`` layer.

TinyViT's block partitions its channels-last map into windows (the Reshape that opens a Swin region of
:mod:`.attention`), and only then does its attention module run ``LayerNorm -> qkv Linear -> ...`` on the
windows' tokens. A LayerNorm over the channels acts on each position alone, so normalizing the windows' tokens
is normalizing the map they were cut from: while the region has counted nothing yet (no projection, no
product), the LayerNorm becomes the spec's ``layernorm`` on the region's source map (2C params, as held), and
the region goes on from it, its attention layer reading the normalized map.
"""

from .tensors import Value


def prenorm(reader, node, attrs, region, inputs, consts):
    """A LayerNormalization over the channels of a region that has only moved its source's values so far:
    a ``layernorm`` layer on the source, which the region reads from then on; False when not one."""
    from .positions import _norm

    dims = inputs[0]
    source = reader.values.get(region.source)
    if (node.op_type != "LayerNormalization" or dims is None or source is None or region.params or region.macs
            or region.projections or region.head_dim is not None or region.tables or len(node.output) != 1
            or attrs.get("axis", -1) % len(dims) != len(dims) - 1 or source.channel_axis != len(source.shape) - 1
            or dims[-1] != source.shape[-1] or any(inputs[1:])):
        return False
    scale, bias = (node.input[i] if len(node.input) > i else "" for i in (1, 2))
    name = f"{node.output[0]}#map"  # the normalized map, a tensor the graph does not hold
    _norm(reader, node, source, scale, bias, name, emit_from=region.source)
    region.source = name
    reader.values[node.output[0]] = Value(None, tuple(dims), gate=("region", region))
    return True


def offsets(reader, region, keys, heads):
    """``position: offsets`` for attention in windows whose bias is gathered from a learned table of one value a
    head for each of the window's n offsets (TinyViT's attention biases, heads x n, by an n x n index), where
    :func:`.biases.position_keys` took the table for Swin's relative one ((2W-1)^2 values a head); return the
    table's params, or 0 when the region's table is not such."""
    from .biases import source_kind
    from .tensors import elements

    if keys.get("position") != "relative" or not region.window or region.window < 2:
        return 0
    learned = sum(elements(reader.consts[name].dims) for name in sorted(region.tables - region.logits)
                  if source_kind(reader, region.start, name, {}) == "param")
    if learned != heads * region.window:
        return 0
    keys["position"] = "offsets"
    return learned


def finished(reader, region, dims):
    """Whether a region on tokens has given them back whole (q/k/v and output projected, the weighted sum made:
    ``dims`` the tokens' own), so that a Reshape of them is not the region's (TinyViT's block views the
    attention's tokens back as the map it flattened): the region ends there and the Reshape reads its layer."""
    source = reader.values.get(region.source)
    return (source is not None and source.tokens and region.value_dim is not None and len(region.projections) >= 2
            and not region.batch_norms and tuple(dims) == tuple(source.shape))  # (LeViT's BatchNorm after it: its)
