"""BoTNet's attention in ONNX (timm's BottleneckAttn), read into the regions of :mod:`.attention`.

A 1x1 conv projects the map to q, k and v at once; a Split of its channels gives the three, each reshaped
into heads of N = H*W positions (the Split starts a region that takes the conv back into itself). The
scores QK^T get relative position logits (PosEmbedRel): each query times a learned embedding of every offset
along its row and along its column (two MatMuls by a k x (2W-1) constant, counted as MACs, their tables as
params), moved from relative to absolute positions by Reshapes, Pads and Slices (followed by the region as
any reshape), expanded over the other axis and added. The weighted sums, joined, are the output: there is no
output projection. The region becomes ``attention`` with ``position: relative_logits`` and ``proj: false``;
its closing checks, as for every region, that the layer gives exactly the params and MACs followed.
"""

from .tensors import Value, elements

# the operators of a region read here: the MatMul of the queries by an embedding table, the Add of two
# logits the region computed
OPERATORS = ("MatMul", "Add")


def split_qkv(reader, node, attrs):
    """Whether ``node`` -- a Split of a 1x1 conv's N x 3E x H x W output on the channels into q, k and v,
    each read by a Reshape into heads -- starts a region with the conv in it."""
    value = reader.values.get(node.input[0]) if node.op_type == "Split" and node.input else None
    if value is None or value.gate is not None or value.layout is not None or value.tokens or len(value.shape) != 4 \
            or attrs.get("axis", 0) % 4 != 1 or len(node.output) != 3:
        return False
    from . import attention as base
    from .variants import _projected_region

    item, sources = reader.by_name.get(value.layer), reader.emitted_from.get(value.layer)
    if (not value.own or item is None or item["type"] != "conv" or item.get("kernel") != 1 or not sources
            or reader.items[-1] is not item or item.get("act") or item.get("pad", 0)
            or any(item.get(key, 1) != 1 for key in ("stride", "groups", "dilation"))
            or not reader.read_here_alone(node.input[0])):
        return False
    for output in node.output:
        readers = reader.reader_ops(output)
        if not readers or any(op not in ("Reshape", "Shape") for op in readers):
            return False
    region = _projected_region(reader, node, value, sources, item["filters"], bias=item.get("bias", True))
    region.logits_tables = []
    return base._step(reader, node, attrs, region, Value(None, value.shape))


def step(reader, node, attrs, region, inputs, consts):
    """Follow a MatMul of the queries by an embedding table, or the Add of two logits; False when ``node``
    is neither (the region's own steps try)."""
    tables = region.logits_tables
    if tables is None or region.head_dim is None or region.value_dim is not None:
        return False
    from . import attention as base
    from . import small

    if node.op_type == "Add":
        if len(inputs) != 2 or any(d is None for d in inputs) or not tables:
            return False
        try:
            shape = tuple(small.broadcast_shapes(*inputs))
        except ValueError:
            return False
        return base._set(reader, node, region, shape) or True
    a, table = inputs[0], consts[1] if len(consts) > 1 else None
    if a is None or inputs[1] is not None or table is None or not table.stored or table.dims is None \
            or len(a) != 4 or a[-1] != region.head_dim or table.dims != (region.head_dim, 2 * a[-2] - 1):
        return False
    region.macs += elements(a) * table.dims[1]
    region.params += elements(table.dims)
    tables.append(a[-2])
    return base._set(reader, node, region, a[:-1] + (table.dims[1],)) or True


def layer_keys(region, keys):
    """``position: relative_logits`` when the region multiplied its queries by a table along each axis of
    its map; return the tables' params (2K-1 embeddings k wide for an axis of K positions)."""
    if not region.logits_tables:
        return 0
    keys["position"] = "relative_logits"
    return sum(2 * side - 1 for side in region.logits_tables) * region.head_dim
