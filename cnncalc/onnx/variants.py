"""Attention as newer models write it, read into the regions of :mod:`.attention`: Swin V2's scaled cosine
attention (q and k divided by their L2 norm, the scores times a learned logit scale per head) and its
continuous position bias (an MLP the graph runs on a constant coordinates table: its MACs count), and
MaxViT's attention in the windows of a partitioned map (:mod:`.partitions`: the q/k/v projection split by
Slices or a Split, QK^T and AV as Einsum).
"""

import math

from . import attention as base, levit
from .tensors import Value, elements, initializer_kind, shape_text

# the operators of a region read here (Mul and Div only as cosine attention writes them)
OPERATORS = ("ReduceL2", "Clip", "Expand", "Div", "Mul", "Einsum", "Conv") + levit.OPERATORS


def start(reader, node, attrs):
    """Whether ``node`` was read here before any region: a step of a partition, or the q/k/v split that
    starts attention in one."""
    from . import partitions

    return (partitions.visit(reader, node, attrs) or partitioned_qkv(reader, node, attrs)
            or conv_qkv(reader, node, attrs) or levit.start(reader, node, attrs))


def step(reader, node, attrs, region, inputs, consts):
    """Follow one node of a region when it is one of these; False when not (the region's own steps try)."""
    if node.op_type == "Einsum":
        return einsum(reader, node, attrs, region, inputs)
    if node.op_type == "Conv":
        return conv_projection(reader, node, attrs, region, inputs, consts)
    if node.op_type in levit.OPERATORS:
        return levit.step(reader, node, attrs, region, inputs, consts)
    shape = cosine(reader, node, attrs, region, inputs, consts)
    return shape is not None and (base._set(reader, node, region, shape) or True)


def layer_keys(reader, node, region, tokens):
    """The keys of the attention layer a region is (heads, window, position, cosine, key_dim), with its inner
    width E, the width of q, k and v together, and the params of its position bias and logit scales."""
    inner = region.projections[0] // 3 if len(region.projections) == 2 else region.projections[0]
    heads = inner // region.head_dim if region.head_dim and inner % region.head_dim == 0 else 0
    projected = 3 * inner
    if region.value_dim and region.value_dim != region.head_dim and region.heads:
        # q and k narrower than v (LeViT, EfficientFormer): E = heads * v's width
        heads, inner = region.heads, region.heads * region.value_dim
        projected = 2 * heads * region.head_dim + inner
        if len(region.projections) != 2 or region.projections[0] != projected:
            heads = 0
    keys = {"heads": heads}
    if projected != 3 * inner:
        keys["key_dim"] = region.head_dim
    table = 0
    if not tokens.tokens:  # windows of a map (Swin)
        side = math.isqrt(region.window or 0)
        if side * side != region.window:
            raise reader.unsupported(node, f"attention in windows of {region.window} positions (cnncalc reads "
                                           f"square windows)")
        keys["window"] = side
        table = position_keys(region, keys, side, heads)
    elif region.folded:  # the same, as torch.export folds it into one heads x N x N constant
        keys["position"], table = "folded", region.folded
    elif region.tables - region.logits:  # biases gathered from a learned table by an index (EfficientFormer)
        keys["position"] = "offsets"
        table = heads * tokens.shape[1]
    return keys, inner, projected, table + cosine_keys(region, keys, heads)


def source_kind(reader, node, name, coordinates):
    """'param', 'buffer' or None for an initializer a position bias is computed from: the coordinates of a
    bias MLP are buffers, however stored. A table the bias is gathered from that the exporter derived and
    named itself (torch.export's copy of CoAtNet's, ``val_238``) cannot be told: refused."""
    tensor = reader.initializers.get(name)
    kind = "buffer" if name in coordinates else initializer_kind(name, tensor)
    gathered = any(reader.nodes[at].op_type in ("Gather", "GatherND") and reader.nodes[at].input[0] == name
                   for at in reader.readers.get(name, []) if at is not None)
    if kind is None and gathered and tensor is not None and tensor.data_type in (1, 10, 11, 16):
        raise reader.unsupported(node, f"a position bias computed from '{name}', a tensor the exporter derived from "
                                       f"the model's parameters, so its params cannot be told (the TorchScript "
                                       f"exporter, dynamo=False, keeps the table)")
    return kind


def _learned(reader, name):
    """Whether a constant is (computed from) a model's learned tensor."""
    const = reader.consts.get(name)
    return const is not None and any(initializer_kind(source, reader.initializers.get(source)) == "param"
                                     for source in const.sources)


def _inline_index(reader, name, region):
    """The elements of an integer index of n*n entries into a position-bias table that the exporter wrote
    as a Constant node (TorchScript writes CoAtNet's, the same in every block, once): a buffer of each
    layer, as PyTorch counts it; 0 for anything else (an initializer, or one an Identity shares, counts by
    its own name)."""
    const = reader.consts.get(name)
    if const is None or const.sources or const.proto is None or const.proto.data_type not in (6, 7) \
            or not region.window or elements(const.dims) != region.window * (
                reader.values[region.source].shape[1] if region.stride else region.window):
        return 0
    return elements(const.dims)


def position_keys(region, keys, side, heads):
    """Set the attention's position keys for what the region found (in ``side`` x ``side`` windows of
    ``heads`` heads); return the params of its position bias."""
    if region.folded:
        keys["position"] = "folded"
        return region.folded
    if region.mlp is not None:
        keys["position"] = "continuous"
        if region.mlp[0] != 512:
            keys["cpb_hidden"] = region.mlp[0]
        return region.mlp[0] * (3 + heads)
    if region.tables - region.logits:
        keys["position"] = "relative"
        return (2 * side - 1) ** 2 * heads
    return 0


def cosine_keys(region, keys, heads):
    """``cosine: true`` when the region found a logit scale; return its params (one per head)."""
    if not region.logits:
        return 0
    keys["cosine"] = True
    return heads


def folded_bias(reader, region, name, dims):
    """Whether the stored constant ``name`` added to the scores (``dims``: ... x heads x n x n) is a position
    bias torch.export folded from the model's relative table (Swin, MaxViT): heads x n x n values, counted as
    the params the graph holds (``position: folded``; the file has no table, so PyTorch's count cannot be
    told, and reader.py notes it)."""
    const = reader.consts[name]
    if region.head_dim is None or region.folded or len(dims) < 3 or not const.dims \
            or (dims[-1] != dims[-2] and region.stride is None):  # m queries by n keys: LeViT's AttentionSubsample
        return False
    heads, m, n = dims[-3], dims[-2], dims[-1]
    shape = tuple(d for d in const.dims if d != 1)
    if shape not in ((heads, m, n), (m, n) if heads == 1 else None) or const.dims[-2:] != (m, n):
        return False
    region.folded = heads * m * n
    region.params += region.folded
    return True


# --- Swin V2: cosine attention and a continuous position bias -------------------------------------------

def cosine(reader, node, attrs, region, inputs, consts):
    """The dims after a step of scaled cosine attention (q and k divided by their L2 norm over the head
    width, clamped; the scores times a learned logit scale per head), or None when the node is not one."""
    from . import small

    op, dims = node.op_type, inputs[0]
    if op == "ReduceL2":
        given = consts[1].array() if len(consts) > 1 and consts[1] is not None else None
        axes = given.reshape(-1).tolist() if given is not None else attrs.get("axes")
        if axes is None or [a % len(dims) for a in axes] != [len(dims) - 1] or not attrs.get("keepdims", 1):
            return None
        region.norms += 1
        return dims[:-1] + (1,)
    if op == "Clip" and all(inputs[i] is None and consts[i] is not None for i in range(1, len(node.input))
                            if node.input[i]):
        return dims
    if op == "Expand" and len(consts) > 1 and consts[1] is not None and consts[1].array() is not None:
        try:
            return tuple(small.broadcast_shapes(dims, tuple(int(v) for v in consts[1].array().reshape(-1))))
        except ValueError:
            return None
    if op == "Div" and len(inputs) == 2 and all(d is not None for d in inputs) and region.norms:
        try:
            shape = tuple(small.broadcast_shapes(*inputs))
        except ValueError:
            return None
        return shape if shape == dims else None
    if op == "Mul" and len(inputs) == 2 and inputs[1] is None and consts[1] is not None and consts[1].stored \
            and region.norms and consts[1].dims and elements(consts[1].dims) > 1 \
            and initializer_kind(node.input[1], reader.initializers.get(node.input[1])) is None:
        raise reader.unsupported(node, f"cosine attention's logit scale stored as the {shape_text(consts[1].dims)} "
                                       f"constant '{node.input[1]}', which the exporter derived from the model's "
                                       f"parameters (torch.export folds the clamp and exp, and the position-bias "
                                       f"MLP): its params and MACs cannot be told (the TorchScript exporter, "
                                       f"dynamo=False, keeps them)")
    if op == "Mul" and len(inputs) == 2 and inputs[1] is None and consts[1] is not None and not consts[1].stored \
            and region.head_dim is not None and consts[1].dims and len(consts[1].dims) <= len(dims):
        # the logit scale: a learned tensor of one value per head, clamped and exponentiated by the graph
        learned = [name for name in consts[1].sources
                   if initializer_kind(name, reader.initializers.get(name)) == "param"]
        count = elements(consts[1].dims)
        if len(learned) != 1 or elements(reader.consts[learned[0]].dims) != count or count == 1:
            return None
        if learned[0] not in region.logits:
            region.params += count
            region.logits.add(learned[0])
            region.tables.add(learned[0])
        return dims
    return None


def position_mlp(reader, node, name, region):
    """A position bias computed by MatMuls of constants (Swin V2's MLP on its coordinates table): their
    MACs count in the region (as the attention layer's ``position: continuous``), with the MLP's width;
    returns the initializers the first product multiplies, the coordinates (buffers, though float).
    A product with a weight the exporter derived (torch.export folds the first Linear into the table)
    cannot be counted: refused."""
    # the nodes walked for any region, walked once in all (a product two regions share counts in the first only)
    seen = reader.__dict__.setdefault("bias_walked", set())
    stack, products, coordinates = [name], [], set()
    known, pending = dict.keys(reader.consts), reader.consts.pending  # constants, evaluated or not
    while stack:
        at = reader.makers.get(stack.pop())
        if at is None or at in seen:
            continue
        seen.add(at)
        op, inputs = reader.op_types[at], reader.inputs_of[at]  # as read once by GraphReader.prepare
        if op == "Shape":  # the shape of a computed tensor: arithmetic, not the bias
            continue
        if op == "Gather" and len(inputs) > 1 and _learned(reader, inputs[0]):
            region.buffers += _inline_index(reader, inputs[1], region)
        if op in ("MatMul", "Gemm"):
            products.append(at)
        stack.extend(n for n in inputs if n in known or n in pending)
    if not products:
        return coordinates
    macs, hidden = 0, None
    for at in sorted(products):
        maker = reader.nodes[at]
        a, b = (reader.consts.get(n) for n in maker.input[:2])
        if maker.op_type != "MatMul" or a is None or b is None or not a.dims or not b.dims or len(b.dims) != 2:
            raise reader.unsupported(node, f"a position bias computed by node '{maker.name}' ({maker.op_type}) "
                                           f"(cnncalc reads an MLP of MatMuls by 2-D weights)")
        for operand in maker.input[:2]:
            derived = [s for s in reader.consts[operand].sources if reader.initializers.get(s) is not None
                       and initializer_kind(s, reader.initializers[s]) is None
                       and reader.initializers[s].data_type in (1, 10, 11, 16) and elements(reader.consts[s].dims) > 1]
            if derived:
                raise reader.unsupported(node, f"a position-bias MLP whose weight '{derived[0]}' the exporter derived "
                                               f"from the model's parameters (torch.export folds them): its params "
                                               f"and MACs cannot be counted (the TorchScript exporter, dynamo=False, "
                                               f"keeps them)")
        macs += math.prod(a.dims[:-1]) * b.dims[0] * b.dims[1]
        if hidden is None:  # the first product: the coordinates (a buffer, however stored) by the first weight
            hidden = b.dims[1]
            coordinates = set(a.sources)
    region.macs += macs
    region.mlp = (hidden, macs)
    return coordinates


# --- MaxViT: attention in the windows of a partitioned map ------------------------------------------------

def partitioned_qkv(reader, node, attrs):
    """The Slices (or Split) of MaxViT's q/k/v projection, a linear on a partitioned map (see
    :mod:`.partitions`): the projection joins a region started here, from the map it projects. False when
    ``node`` is not one."""
    from .partitions import Partitioned

    name = node.input[0] if node.input else ""
    value = reader.values.get(name)
    if node.op_type not in ("Slice", "Split") or value is None or not isinstance(value.layout, Partitioned):
        return False
    item = reader.by_name.get(value.layer)
    sources = reader.emitted_from.get(value.layer)
    others = [reader.nodes[i].op_type for i in reader.readers.get(name, []) if i is not None]
    if (not value.own or item is None or item["type"] != "linear" or reader.items[-1] is not item or not sources
            or item.get("act") or any(op not in ("Slice", "Split", "Shape") for op in others)):
        return False
    region = _projected_region(reader, node, value, sources, item["units"], item.get("bias", True))
    reader.values[name] = Value(None, value.shape, gate=("region", region))
    return base._step(reader, node, attrs, region)


def einsum(reader, node, attrs, region, inputs):
    """An Einsum of two computed tensors (MaxViT's QK^T and AV): MACs the product of every index's size."""
    equation = str(attrs.get("equation", "")).replace(" ", "")
    if "->" not in equation or len(inputs) != 2 or any(d is None for d in inputs):
        return False
    given, output = equation.split("->")
    operands = given.split(",")
    if len(operands) != 2 or "." in equation or any(len(o) != len(d) for o, d in zip(operands, inputs)):
        return False
    sizes = {}
    for letters, dims in zip(operands, inputs):
        for letter, size in zip(letters, dims):
            if sizes.setdefault(letter, size) != size and 1 not in (size, sizes[letter]):
                return False
            sizes[letter] = max(sizes[letter], size)
    if any(letter not in sizes for letter in output) or len(output) < 2:
        return False
    summed = [letter for letter in sizes if letter not in output]
    if region.head_dim is None:
        region.head_dim, region.window = math.prod(sizes[letter] for letter in summed), sizes[output[-2]]
    region.macs += math.prod(sizes.values())
    return base._set(reader, node, region, [sizes[letter] for letter in output]) or True


# --- CoAtNet: attention on a channels-first map, its projections 1x1 convs ---------------------------------

def widened(value, tokens, region):
    """The channels of a region's result ``value`` read outside it: the width of the ``tokens`` it started
    from, or more when only the channels of a map differ (an output projection that widens it: CoAtNet),
    or the width of M query tokens (LeViT's AttentionSubsample); 0 when it is neither."""
    if region.stride is not None:
        return value.shape[2] if len(value.shape) == 3 and value.shape[:2] == (1, region.window) else 0
    if value.shape == tokens.shape:
        return tokens.shape[-1] if tokens.tokens or tokens.layout is not None else tokens.shape[1]
    same = len(value.shape) == len(tokens.shape) > 2 and value.shape[2:] == tokens.shape[2:]
    if tokens.layout is None and not tokens.tokens and same and value.shape[0] == tokens.shape[0]:
        return value.shape[1]
    return 0


def conv_qkv(reader, node, attrs):
    """The Reshape of a 1x1 conv's output N x 3E x H x W into N x heads x 3d x HW, read by the Slices (or a
    Split) of q, k and v (timm's Attention2d): the conv joins a region started here, from the map it reads."""
    from .reshapes import _reshaped

    value = reader.values.get(node.input[0]) if node.op_type == "Reshape" and node.input else None
    if value is None or value.gate is not None or value.layout is not None or value.tokens or len(value.shape) != 4:
        return False
    item, sources = reader.by_name.get(value.layer), reader.emitted_from.get(value.layer)
    if (not value.own or item is None or item["type"] != "conv" or item.get("kernel") != 1
            or reader.items[-1] is not item or item.get("act") or not sources or item.get("pad", 0)
            or any(item.get(key, 1) != 1 for key in ("stride", "groups", "dilation"))
            or reader.readers.get(node.input[0], []) != [reader.index]):
        return False
    const = reader.ahead(node.input[1]) if len(node.input) > 1 else None
    array = const.array() if const is not None else None
    target = None if array is None else _reshaped(value.shape, array.reshape(-1).tolist(), attrs.get("allowzero", 0))
    n, c, h, w = value.shape
    readers = [reader.nodes[i].op_type for i in reader.readers.get(node.output[0], []) if i is not None]
    if not target or len(target) != 4 or target[0] != n or target[3] != h * w or target[1] * target[2] != c \
            or not any(op in ("Slice", "Split") for op in readers) or any(op not in ("Slice", "Split", "Shape")
                                                                          for op in readers):
        return False
    region = _projected_region(reader, node, value, sources, item["filters"], bias=False)
    return base._step(reader, node, attrs, region, Value(None, value.shape))


def _projected_region(reader, node, value, sources, width, bias):
    """A region started at ``node`` from the q/k/v projection layer that made ``value``, taken back from the
    spec: the region's one attention layer counts its params and MACs."""
    cost = reader.costs[value.layer]
    reader.retract(value.layer)
    region = base.Region(sources[0], node, reader.values[sources[0]].shape)
    region.params, region.macs = cost.params, cost.macs
    region.projections.append(width)
    if bias:
        region.biases.append(width)
    region.names.append(reader.weights_of.get(value.layer, ""))
    return region


def conv_projection(reader, node, attrs, region, inputs, consts):
    """A 1x1 Conv of a region's map by a constant weight (CoAtNet's output projection): its params and MACs."""
    dims = inputs[0]
    weight = consts[1] if len(consts) > 1 else None
    if len(dims) != 4 or weight is None or not weight.dims or len(weight.dims) != 4 \
            or weight.dims[1:] != (dims[1], 1, 1) or attrs.get("group", 1) != 1 \
            or any(v != 1 for key in ("strides", "dilations") for v in attrs.get(key, [1])) \
            or any(attrs.get("pads", [0])) or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return False
    filters = weight.dims[0]
    region.macs += dims[0] * dims[2] * dims[3] * dims[1] * filters
    region.params += elements(weight.dims)
    region.projections.append(filters)
    region.names.append(node.input[1])
    if len(node.input) > 2 and node.input[2] and consts[2] is not None and consts[2].stored:
        region.params += elements(consts[2].dims)
        region.biases.append(elements(consts[2].dims))
    return base._set(reader, node, region, (dims[0], filters, dims[2], dims[3])) or True
