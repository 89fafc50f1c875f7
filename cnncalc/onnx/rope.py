"""Rotary position embedding (RoPE) in ONNX, read into the regions of :mod:`.attention` (timm's EVA-02): q and k
of the patch tokens (the class token's left as it is: a Slice and a Concat) rotated by a constant sin/cos table,
``x * cos + rotate(x) * sin`` with rotate(x) the pairs of each head's features swapped and one negated (Slices
with step 2, Neg, Unsqueeze, Concat, Reshape). Elementwise products by constants: no params, no MACs. The table
is one buffer of the model (positions x 2d: sin and cos of each head feature) that every block reads: the first
attention layer holds it (``rope: table``, its elements buffers), the others use it (``rope: shared``).

Each function takes the :class:`~cnncalc.onnx.graph.GraphReader`.
"""

from .tensors import elements

OPERATORS = ("Neg", "Add", "Mul")
INPUT_KIND = "pkg.torch.export.graph_signature.InputSpec.kind"


def _buffers(reader):
    """The initializers torch.export records as the model's buffers (``InputSpec.kind`` BUFFER in value_info)."""
    found = reader.__dict__.get("export_buffers")
    if found is None:
        found = reader.__dict__["export_buffers"] = set()
        for info in reader.graph.value_info:
            for entry in info.metadata_props:
                if entry.key == INPUT_KIND and entry.value == "BUFFER":
                    found.add(info.name)
    return found


def step(reader, node, region, inputs, consts):
    """The dims after a step of RoPE on the region's q or k, or None when ``node`` is not one: a Neg; the Add of
    its two products; a Mul by half of the table (its sin or its cos: positions x d)."""
    op, present = node.op_type, [d for d in inputs if d is not None]
    if op == "Neg" and len(inputs) == 1 and present:
        return present[0]
    if op == "Add" and len(inputs) == 2 and len(present) == 2 and inputs[0] == inputs[1] and region.head_dim is None:
        return inputs[0]
    if op != "Mul" or len(inputs) != 2 or len(present) != 1 or region.head_dim is not None:
        return None
    const = consts[1] if inputs[0] is not None else consts[0]
    dims = present[0]
    sources = sorted(const.sources) if const is not None else []
    if len(sources) != 1 or sources[0] not in _buffers(reader) or len(dims) != 4:
        return None
    table = reader.consts[sources[0]].dims
    if not table or len(table) != 2 or table != (dims[2], 2 * dims[3]) \
            or (const.dims is not None and tuple(d for d in const.dims if d != 1) != (dims[2], dims[3])):
        return None
    region.rope = (sources[0], table)
    return dims


def layer_keys(reader, region, keys, tokens):
    """``rope: table`` (this layer holds the table: its elements buffers) or ``shared`` for a region that rotated
    q and k; ``class_token: true`` when the table covers all tokens but the first."""
    found = region.rope
    if found is None:
        return
    name, table = found
    held = reader.__dict__.setdefault("rope_tables", set())
    keys["rope"] = "shared" if name in held else "table"
    if name not in held:
        held.add(name)
        region.buffers += elements(table)
    if table[0] == tokens.shape[1] - 1:
        keys["class_token"] = True


def notes(spec):
    """The ``note:`` line of a model with RoPE: buffers its module keeps that the graph never reads."""
    if not any(layer.keys.get("rope") == "table" for layer in spec.layers):
        return []
    return ["RoPE's sin/cos table counts as the buffer the graph reads (positions x 2 x the head width, held by the "
            "first attention layer: rope: table); a tensor the module keeps but the forward pass never reads is not "
            "in the file (timm's RotaryEmbeddingCat: the frequency bands it made the table from, a quarter of the "
            "head width), and PyTorch counts it as buffers besides"]
