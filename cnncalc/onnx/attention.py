"""Multi-head attention in ONNX, whichever exporter wrote it (the tokens around it: :mod:`.tokens`).

Multi-head attention is read as a *region*: from the first node that splits tokens into heads (a
Transpose to sequence-first [1, 0, 2], or a Reshape of the q/k/v projection into heads) every node on
those tensors -- reshapes, transposes, the projections (MatMul/Gemm by a constant and their biases), the
scaling, QK^T and AV (MatMul of two computed tensors), Softmax -- is followed with its shape, its
params (the elements of the constants it uses) and its MACs (M*N*K for each MatMul). When the region's
tensor is read by anything else it must be the tokens it started from; it becomes one ``attention``
layer whose keys (heads, dim, biases) are the ones that give exactly the params and MACs the region
counted, or the model is refused in one line. Nothing in it is counted any other way.

Each function takes the :class:`~cnncalc.onnx.graph.GraphReader` and the node.
"""

import math

from . import (biases, cait, efficientformer2, levit, logits, multiscale, partitions, qkv_biases, reduction, rope,
               tinyvit, variants)
from .names import region_name
from .reshapes import reshaped_like
from .tensors import Value, channels_last, elements, shape_text

# the operators a region follows
FOLLOWED = ("Shape", "Pad", "Concat", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Gather", "Split", "Slice", "MatMul", "Gemm", "Add", "Mul",
            "Div", "Softmax", "Cast", "Identity", "Dropout", "Flatten", "ReduceL2", "Clip", "Expand", "Einsum", "Conv",
            "BatchNormalization", "HardSwish", "LayerNormalization", "MaxPool", "ScatterND", "Neg")


class Region:
    """What an attention region has counted so far."""

    def __init__(self, source, start, shape):
        self.source = source  # the tokens tensor it reads
        self.start = start  # the node that started it (for the layer's name)
        self.shape = shape  # the tokens' ONNX dims
        self.params = 0
        self.macs = 0
        self.projections = []  # units of each MatMul/Gemm by a constant, in order
        self.biases = []  # elements of each bias, in order
        self.head_dim = None  # K of the first product of two computed tensors
        self.window = None  # the tokens of one window (M of that product)
        self.sides = None  # the window's size on each axis of the map, where a Reshape splits it into windows
        self.buffers = 0
        self.tables = set()  # learned tables (a relative position bias) and buffers (its index) added in
        self.names = []  # the initializers it uses, for the layer's name
        self.closed = False  # made into an attention layer
        self.norms, self.logits, self.mlp, self.folded, self.mask = 0, set(), None, 0, 0  # see variants
        self.heads = self.value_dim = None  # of the scores, and of AV's values (narrower keys: LeViT)
        self.batch_norms, self.proj_act, self.stride = [], None, None  # LeViT's (see levit)
        self.logits_tables = None  # the sides of the map whose offsets BoTNet's logits embed (see logits)
        # what the variants note as they follow it (each module says what its own mean)
        self.talking, self.class_query = 0, False  # cait (and efficientformer2's talking heads)
        self.kind, self.pools, self.pool_norms, self.pool_params = None, [], [], 0  # multiscale: pooling attention
        self.keys_count, self.relative, self.gathered, self.residual = None, {}, set(), False  # multiscale
        self.joined, self.reduction = False, None  # reduction: keys and values from a reduced map
        self.query_stride, self.v_local, self.local, self.local_norm = None, None, None, False  # efficientformer2
        self.rope, self.k_bias = None, 0  # rope, qkv_biases


def is_region(value):
    return value is not None and value.gate is not None and value.gate[0] == "region"


def _region_of(reader, node):
    regions = {id(v.gate[1]): v.gate[1] for v in (reader.values.get(n) for n in node.input) if is_region(v)}
    return list(regions.values())


def visit(reader, node, attrs):
    """Whether the node was read here: a step of a region, or the start of one. A node reading a region
    that does not continue it closes the region first (and returns False: its own handler reads it)."""
    regions = _region_of(reader, node)
    if not regions:
        return reduction.join(reader, node, attrs) or _start(reader, node, attrs)
    if len(regions) == 1 and node.op_type in FOLLOWED and _step(reader, node, attrs, regions[0]):
        return True
    if len(regions) == 1 and node.op_type in ("Slice", "Concat") and _roll(reader, node, attrs, regions[0]):
        return True
    for name in node.input:
        if is_region(reader.values.get(name)):
            close(reader, node, name)
    return False


# --- starting ---------------------------------------------------------------------------------------

def _start(reader, node, attrs):
    op = node.op_type
    if variants.start(reader, node, attrs) or cait.class_query(reader, node, attrs):
        return True
    if op in ("Pad", "Slice", "Reshape") and node.input and node.input[0] in reader.values:
        value = reader.values[node.input[0]]
        strided = value.gate is not None and value.gate[0] == "strided"
        if (value.gate is None or (strided and op == "Slice")) and value.layout in (channels_last(4), channels_last(5)):
            return partitions.swin_windows(reader, node, attrs, value)
    if op == "Concat":
        return partitions.patch_merging(reader, node, attrs)
    if op not in ("Transpose", "Reshape") or not node.input or node.input[0] not in reader.values:
        return False
    value = reader.values[node.input[0]]
    if not value.tokens and not getattr(value.layout, "merged", False):  # tokens, or MobileViT's patches
        return False
    if op == "Transpose":
        if list(attrs.get("perm", [])) != [1, 0, 2]:
            return False
        region = Region(node.input[0], node, value.shape)
        return _step(reader, node, attrs, region, value)
    target = reader.consts.get(node.input[1])
    target = target.array() if target is not None else None
    if target is None or len(target.reshape(-1)) < 4:
        return False
    # a Reshape of the q/k/v projection into heads: that projection joins the region
    item = reader.by_name.get(value.layer)
    sources = reader.emitted_from.get(value.layer)
    if (not value.own or item is None or item["type"] != "linear" or reader.items[-1] is not item
            or len(reader.readers.get(node.input[0], [])) != 1 or not sources):
        return False
    cost = reader.costs[value.layer]
    tokens = reader.values[sources[0]]
    reader.retract(value.layer)
    region = Region(sources[0], node, tokens.shape)
    region.params, region.macs = cost.params, cost.macs
    region.projections.append(item["units"])
    if item.get("bias", True):
        region.biases.append(item["units"])
    if item.get("act"):
        raise reader.unsupported(node, "an attention whose projection has an activation")
    region.names.append(reader.weights_of.get(value.layer, ""))
    qkv_biases.take_k_buffer(reader, value.layer, region)
    return _step(reader, node, attrs, region, Value(None, value.shape))


# --- following --------------------------------------------------------------------------------------

def _roll(reader, node, attrs, region):
    """A roll's Slice of the region's source, or the Concat joining it with the region."""
    first = reader.values.get(node.input[0])
    if node.op_type == "Slice" and node.input[0] == region.source:
        return _step(reader, node, attrs, region, first)
    if node.op_type == "Concat":
        inputs = [reader.values.get(name) for name in node.input]
        ours = [v is not None and is_region(v) and v.gate[1] is region for v in inputs]
        if all(ours) or (node.input[0] == region.source and all(ours[1:])):  # a roll by 0: the map, an empty Slice
            return _step(reader, node, attrs, region, None if all(ours) else inputs[0])
    return False


def _dims(reader, name, region):
    value = reader.values.get(name)
    if is_region(value) and value.gate[1] is region:
        return value.shape
    return None


def _set(reader, node, region, dims, position=0):
    reader.values[node.output[position]] = Value(None, tuple(int(d) for d in dims), gate=("region", region))
    reader.followed.add(region)


def _step(reader, node, attrs, region, first=None):
    """Follow one node of the region; False when it is not one the region can take."""
    op = node.op_type
    inputs = [first.shape if first is not None and i == 0 else _dims(reader, name, region)
              for i, name in enumerate(node.input)]
    dims = inputs[0]
    consts = [reader.ahead(name) if name and inputs[i] is None else None for i, name in enumerate(node.input)]
    if op in efficientformer2.OPERATORS and efficientformer2.step(reader, node, attrs, region, inputs, consts):
        return True  # EfficientFormerV2's talking heads (1x1 Convs) and the Add of v_local
    if op in ("Cast", "Identity", "Dropout", "Softmax") and dims is not None:
        return _set(reader, node, region, dims) or True
    if op == "Transpose" and dims is not None:
        perm = list(attrs.get("perm", reversed(range(len(dims)))))
        return _set(reader, node, region, [dims[p] for p in perm]) or True
    if op == "Reshape" and dims is not None and tinyvit.finished(reader, region, dims):
        return False  # the tokens given back, viewed as the map they came from
    if op in ("Reshape", "Squeeze", "Unsqueeze", "Gather", "Flatten") and dims is not None:
        shape = reshaped_like(node, attrs, dims, consts) or multiscale.scatter_update(reader, node, region, dims)
        region.sides = region.sides or (shape and partitions.window_sides(dims, shape))
        return shape is not None and (_set(reader, node, region, shape) or True)
    if op == "Shape" and dims is not None:
        start, end = attrs.get("start", 0), attrs.get("end", len(dims))
        reader.consts[node.output[0]] = reader.consts.shape(tuple(dims[start:end]))
        return True
    if op == "Slice" and dims is not None:
        read = [c.array() if c is not None else None for c in (consts[1:5] + [None] * 4)[:4]]
        if read[0] is None or read[1] is None:
            return False
        starts, ends = read[0].reshape(-1).tolist(), read[1].reshape(-1).tolist()
        axes = read[2].reshape(-1).tolist() if read[2] is not None else list(range(len(starts)))
        steps = read[3].reshape(-1).tolist() if read[3] is not None else [1] * len(starts)
        shape = list(dims)
        for start, end, axis, step in zip(starts, ends, axes, steps):
            size = dims[axis % len(dims)]
            begin, stop = (max(0, min(size, v + size if v < 0 else v)) for v in (start, end))
            if step < 1:
                return False
            shape[axis % len(dims)] = max(0, -(-(stop - begin) // step))
        return _set(reader, node, region, shape) or True
    if op == "Pad" and dims is not None and (attrs.get("mode", "constant") == "constant"):
        pads = consts[1].array() if len(consts) > 1 and consts[1] is not None else None
        if pads is None or len(pads.reshape(-1)) != 2 * len(dims):
            return False
        pads = [int(p) for p in pads.reshape(-1)]
        return _set(reader, node, region, [d + pads[i] + pads[i + len(dims)] for i, d in enumerate(dims)]) or True
    if op == "Concat" and all(d is not None for d in inputs):
        axis = attrs.get("axis", 0) % len(dims)
        return _set(reader, node, region, dims[:axis] + (sum(d[axis] for d in inputs),) + dims[axis + 1:]) or True
    if op == "Split" and dims is not None:
        axis = attrs.get("axis", 0) % len(dims)
        given = consts[1].array() if len(consts) > 1 and consts[1] is not None else None
        if len(consts) > 1 and consts[1] is not None and given is None:
            return False
        sizes = given.reshape(-1).tolist() if given is not None else (
            attrs.get("split") or [dims[axis] // len(node.output)] * len(node.output))
        for position, size in enumerate(sizes):
            _set(reader, node, region, dims[:axis] + (int(size),) + dims[axis + 1:], position)
        return True
    if op in reduction.OPERATORS and reduction.step(reader, node, attrs, region, inputs, consts):
        return True
    if op in logits.OPERATORS and logits.step(reader, node, attrs, region, inputs, consts):
        return True
    if op == "MatMul":
        return _matmul(reader, node, region, inputs, consts)
    if op in variants.OPERATORS and dims is not None and variants.step(reader, node, attrs, region, inputs, consts):
        return True
    if op == "Gemm" and dims is not None and len(dims) == 2 and consts[1] is not None and consts[1].dims:
        weight = consts[1].dims
        units = weight[0] if attrs.get("transB", 0) else weight[1]
        region.macs += dims[0] * dims[1] * units
        region.params += elements(weight)
        region.projections.append(units)
        region.names.append(node.input[1])
        if len(node.input) > 2 and node.input[2] and consts[2] is not None and consts[2].stored:
            region.params += elements(consts[2].dims)
            region.biases.append(elements(consts[2].dims))
        return _set(reader, node, region, (dims[0], units)) or True
    if op in rope.OPERATORS and (shape := rope.step(reader, node, region, inputs, consts)) is not None:
        return _set(reader, node, region, shape) or True  # RoPE's rotation of q and k (EVA-02)
    if op in ("Add", "Mul", "Div"):
        present = [i for i, d in enumerate(inputs) if d is not None]
        if len(present) != 1 or len(node.input) != 2:
            return False
        const = consts[1 - present[0]]
        dims = inputs[present[0]]
        if const is None or const.dims is None:
            return False
        count = elements(const.dims)
        if op == "Add" and count == dims[-1] and const.stored and max(const.dims) == count:
            region.params += count  # a projection's bias
            region.biases.append(count)
            return _set(reader, node, region, dims) or True
        if op in ("Mul", "Div") and count == 1 and (op == "Mul" or present[0] == 0):
            return _set(reader, node, region, dims) or True
        if op == "Add" and const.stored and biases.stored_bias(reader, region, node.input[1 - present[0]], dims):
            return _set(reader, node, region, dims) or True
        if op == "Add" and const.stored and len(const.dims) > 1 and region.head_dim is not None:
            name = node.input[1 - present[0]]
            raise reader.unsupported(node, f"an attention bias stored as the {shape_text(const.dims)} constant "
                                           f"'{name}': the exporter computed it from the model's position-bias "
                                           f"table, which is not in the file, so its params cannot be counted (the "
                                           f"TorchScript exporter, dynamo=False, keeps the table)")
        if op == "Add" and not const.stored and len(const.dims) <= len(dims):
            # a bias gathered from a learned table by an index buffer (Swin's relative position bias), or
            # a computed mask (the shifted windows'): the learned tables are params, the indices buffers
            coordinates = biases.position_mlp(reader, node, node.input[1 - present[0]], region)
            for name in sorted(const.sources - region.tables):
                kind = biases.source_kind(reader, node, name, coordinates)
                if kind == "param":
                    region.params += elements(reader.consts[name].dims)
                elif kind == "buffer":
                    region.buffers += elements(reader.consts[name].dims)
                region.tables.add(name)
            return _set(reader, node, region, dims) or True
    return False


def _matmul(reader, node, region, inputs, consts):
    a, b = inputs
    if a is not None and b is None and consts[1] is not None and \
            multiscale.relative_product(reader, node, region, a, consts[1], node.input[1]):
        return True  # MViT V2's queries by the rows of rel_pos_t
    if a is not None and b is None and consts[1] is not None and cait.product(reader, node, region, a, consts[1]):
        return True  # CaiT's talking heads: the scores mixed across the heads
    if a is not None and b is None and consts[1] is not None and consts[1].dims and len(consts[1].dims) == 2 \
            and len(region.batch_norms) < 2:  # a LeViT region ends with its output projection's BatchNorm
        weight = consts[1].dims
        if weight[0] != a[-1]:
            return False
        region.macs += math.prod(a[:-1]) * weight[0] * weight[1]
        region.params += elements(weight)
        region.projections.append(weight[1])
        region.names.append(node.input[1])
        return _set(reader, node, region, a[:-1] + (weight[1],)) or True
    if a is None or b is None or len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        return False
    try:
        from .small import broadcast_shapes

        batch = tuple(broadcast_shapes(a[:-2], b[:-2]))
    except ValueError:
        return False
    if region.head_dim is None:
        region.head_dim, region.window, region.heads = a[-1], a[-2], (batch or (1,))[-1]
        region.keys_count = b[-1]
    elif region.value_dim is None:  # attn @ v: n x d; v @ attn^T (CoAtNet): d x n
        region.value_dim = b[-1] if a[-2] == region.window else a[-2]
    region.macs += math.prod(batch) * a[-2] * b[-1] * a[-1]
    return _set(reader, node, region, batch + (a[-2], b[-1])) or True


# --- closing ------------------------------------------------------------------------------------------

def close(reader, node, name):
    """The region's tensor ``name`` is read outside it: one ``attention`` layer, checked."""
    value = reader.values[name]
    region = value.gate[1]
    region.closed = True
    if region in reader.regions:
        reader.regions.remove(region)
    if region.kind == "pool":
        return multiscale.close_pool(reader, node, name, region)
    tokens = reader.values[region.source]
    value, flat = reduction.flattened(value, tokens)  # windows of a map whose result is tokens (Twins-SVT)
    out = variants.widened(value, tokens, region)  # the output's channels: the input's, or more (CoAtNet)
    if not out or not region.projections or region.head_dim is None:
        raise reader.unsupported(node, f"a multi-head attention pattern ending as {shape_text(value.shape)} "
                                       f"(cnncalc reads one that gives back the {shape_text(tokens.shape)} tokens it "
                                       f"started from)")
    width = tokens.shape[tokens.channel_axis]
    keys, inner, projected, table = variants.layer_keys(reader, node, region, tokens)
    table += levit.layer_keys(reader, node, region, keys, projected, out)
    table += multiscale.layer_keys(reader, node, region, keys, tokens)
    table += reduction.layer_keys(reader, node, region, keys, tokens)
    table += cait.layer_keys(region, keys) + efficientformer2.layer_keys(region, keys)
    heads, proj = keys["heads"], keys.get("proj", True)  # proj: False, no output projection (BoTNet)
    k_buffer = qkv_biases.k_bias_keys(region, keys)  # k's bias zeros held as a buffer (BEiT)
    rope.layer_keys(reader, region, keys, tokens)
    found = None
    for qkv_bias in (True, False):
        for proj_bias in ((True, False) if proj else (False,)):
            params = width * projected + (inner * out if proj else 0) + (projected - k_buffer if qkv_bias else 0) \
                + (out if proj_bias else 0) + table
            if params == region.params and found is None:
                found = qkv_bias, proj_bias
    if not heads or found is None or (not proj and out != inner):
        raise reader.unsupported(node, f"an attention-like pattern (from '{region.start.name}') with "
                                       f"{region.params:,} params and {region.macs:,} MACs that no attention layer "
                                       f"gives")
    if out != width and proj:
        keys["out"] = out
    if inner != width:
        keys["dim"] = inner
    if not found[0]:
        keys["qkv_bias"] = False
    if not found[1] and proj:
        keys["proj_bias"] = False
    result = reader.emit(region.start, "attention", [region.source], keys, any_layout=True,
                         base=region_name(region), op_name="attention", layout=tokens.layout)
    cost = reader.costs[result.layer]
    if (cost.params, cost.macs, cost.buffers) != (region.params, region.macs, region.buffers):
        raise reader.unsupported(node, f"an attention-like pattern (from '{region.start.name}') with "
                                       f"{region.params:,} params, {region.buffers:,} buffers and {region.macs:,} "
                                       f"MACs, where attention with {keys} has {cost.params:,}, {cost.buffers:,} "
                                       f"and {cost.macs:,}")
    if flat:
        result = reduction.tokens_after(reader, region.start, name, result)
    for key, other in list(reader.values.items()):  # (is_region inlined: every value the walk has made)
        gate = other.gate
        if gate is not None and gate[0] == "region" and gate[1] is region \
                and other.shape in (tokens.shape, value.shape):
            reader.values[key] = result if key == name else result.passed_on()


def check_closed(reader):
    """After the walk: a region nothing outside it read would be counted nowhere: refused."""
    levit.check_subsampled(reader)
    for region in reader.followed:
        if not region.closed:
            raise reader.unsupported(region.start, "an attention-like pattern whose result no layer reads (cnncalc "
                                                   "counts attention where its output is used)")
