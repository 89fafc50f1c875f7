"""Attention as newer models write it, read into the regions of :mod:`.attention`: Swin V2's scaled cosine
attention (q and k divided by their L2 norm, the scores times a learned logit scale per head) and its
continuous position bias (an MLP the graph runs on a constant coordinates table: its MACs count), and
MaxViT's attention in the windows of a partitioned map (:mod:`.partitions`: the q/k/v projection split by
Slices or a Split, QK^T and AV as Einsum).
"""

import math

from . import (attention as base, efficientformer2, levit, linear, logits, multiscale, partitions, separable, small,
               tinyvit)
from .biases import fitted, position_keys
from .derived import copy_of
from .qkv_biases import class_relative
from .tensors import Value, elements, initializer_kind, shape_text, stored_name

# the operators of a region read here (Mul and Div only as cosine attention writes them)
OPERATORS = ("ReduceL2", "Clip", "Expand", "Div", "Mul", "Einsum") + multiscale.OPERATORS + levit.OPERATORS


def start(reader, node, attrs):
    """Whether ``node`` was read here before any region: a step of a partition, or the q/k/v split that
    starts attention in one."""
    return (linear.start(reader, node, attrs) or partitions.visit(reader, node, attrs)
            or separable.start(reader, node, attrs) or partitioned_qkv(reader, node, attrs)
            or conv_qkv(reader, node, attrs) or logits.split_qkv(reader, node, attrs)
            or levit.start(reader, node, attrs) or multiscale.start(reader, node, attrs)
            or efficientformer2.start(reader, node, attrs))


def step(reader, node, attrs, region, inputs, consts):
    """Follow one node of a region when it is one of these; False when not (the region's own steps try)."""
    if node.op_type == "LayerNormalization" and tinyvit.prenorm(reader, node, attrs, region, inputs, consts):
        return True
    if node.op_type in multiscale.OPERATORS and multiscale.step(reader, node, attrs, region, inputs, consts):
        return True
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
    # q/k/v and the output projection; or q/k/v alone, the weighted sums the output (BoTNet: proj false)
    inner = region.projections[0] // 3 if len(region.projections) in (1, 2) else region.projections[0]
    heads = inner // region.head_dim if region.head_dim and inner % region.head_dim == 0 else 0
    projected = 3 * inner
    if tokens.tokens and region.window and region.head_dim == tokens.shape[1] != region.window \
            and inner % region.window == 0:
        # the products summed over the N tokens: a d x d map a head (XCiT's cross-covariance attention)
        keys = {"heads": inner // region.window, "over": "channels"}
        return keys, inner, projected, cosine_keys(region, keys, keys["heads"])
    if region.value_dim and region.value_dim != region.head_dim and region.heads:
        # q and k narrower than v (LeViT, EfficientFormer): E = heads * v's width
        heads, inner = region.heads, region.heads * region.value_dim
        projected = 2 * heads * region.head_dim + inner
        if len(region.projections) not in (1, 2) or region.projections[0] != projected:
            heads = 0
    keys = {"heads": heads}
    if len(region.projections) == 1:
        keys["proj"] = False
    if projected != 3 * inner:
        keys["key_dim"] = region.head_dim
    table = 0
    if not tokens.tokens and region.logits_tables and math.prod(tokens.shape[2:]) == region.window:
        table = logits.layer_keys(region, keys)  # BoTNet's attention over the whole map (H x W, any H and W)
    elif region.query_stride:  # EfficientFormerV2's queries from every s-th position
        table = efficientformer2.position_keys(reader, region, keys, heads)
    elif not tokens.tokens:  # windows of a map (Swin; the 3-D Swin's of T x H x W)
        side = math.isqrt(region.window or 0)
        sides = region.sides if region.sides and math.prod(region.sides) == region.window else (side, side)
        if math.prod(sides) != region.window:
            raise reader.unsupported(node, f"attention in windows of {region.window} positions (cnncalc reads "
                                           f"windows a Reshape of the map splits it into, or square ones)")
        keys["window"] = sides[0] if len(set(sides)) == 1 and len(sides) == 2 else list(sides)
        table = position_keys(region, keys, sides, heads)
        table = tinyvit.offsets(reader, region, keys, heads) or table
        seen = reader.__dict__.setdefault("windows_built", [])  # the windows of the layers read so far
        if keys.get("position") == "relative" and region.buffers > region.window ** 2:
            table = fitted(reader, region, keys, sides, tokens.spec[2:], heads, seen) or table
        seen.append(tuple(keys["window"]) if isinstance(keys["window"], list) else (keys["window"],) * 2)
        if region.mask:
            keys["mask"] = "buffer"
    elif region.folded:  # the same, as torch.export folds it into one heads x N x N constant
        keys["position"], table = "folded", region.folded
    elif region.tables - region.logits:  # biases gathered from a learned table by an index (EfficientFormer)
        keys["position"] = "offsets"  # or BEiT's relative table, with a class token's 3 entries
        table = class_relative(reader, region, keys, tokens, heads) or heads * tokens.shape[1]
    return keys, inner, projected, table + cosine_keys(region, keys, heads)


def cosine_keys(region, keys, heads):
    """``cosine: true`` when the region found a logit scale; return its params (one per head)."""
    if not region.logits:
        return 0
    keys["cosine"] = True
    return heads


def cosine(reader, node, attrs, region, inputs, consts):
    """The dims after a step of scaled cosine attention (q and k divided by their L2 norm over the head
    width, clamped; the scores times a learned logit scale per head), or None when the node is not one."""
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
    scale = stored_name(reader, node.input[1], consts[1]) if len(consts) > 1 else None
    if op == "Mul" and len(inputs) == 2 and inputs[1] is None and consts[1] is not None and consts[1].stored \
            and region.norms and consts[1].dims and elements(consts[1].dims) > 1 \
            and initializer_kind(scale, reader.initializers.get(scale)) is None:
        if copy_of(reader, node.input[1]) and len(consts[1].dims) <= len(dims):
            # exp(clamp(logit scale)) torch.export folded from the model's one tensor: one value a head, as held
            if node.input[1] not in region.logits:
                region.params += elements(consts[1].dims)
                region.logits.add(node.input[1])
                region.tables.add(node.input[1])
            return dims
        raise reader.unsupported(node, f"cosine attention's logit scale stored as the {shape_text(consts[1].dims)} "
                                       f"constant '{node.input[1]}', which the exporter derived from the model's "
                                       f"parameters (torch.export folds the clamp and exp, and the position-bias "
                                       f"MLP): its params and MACs cannot be told (the TorchScript exporter, "
                                       f"dynamo=False, keeps them)")
    if op == "Mul" and len(inputs) == 2 and inputs[1] is None and consts[1] is not None and consts[1].stored \
            and region.norms and region.head_dim is not None and consts[1].dims \
            and elements(consts[1].dims) == region.heads and len(consts[1].dims) <= len(dims) \
            and initializer_kind(scale, reader.initializers.get(scale)) == "param":
        # the temperature of cross-covariance attention (XCiT, EdgeNeXt): one learned value a head, used as it is
        if scale not in region.logits:
            region.params += elements(consts[1].dims)
            region.logits.add(scale)
            region.tables.add(scale)
        return dims
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


# --- MaxViT: attention in the windows of a partitioned map ------------------------------------------------

def partitioned_qkv(reader, node, attrs):
    """The Slices (or Split) of MaxViT's q/k/v projection, a linear on a partitioned map (see
    :mod:`.partitions`): the projection joins a region started here, from the map it projects. False when
    ``node`` is not one."""
    name = node.input[0] if node.input else ""
    value = reader.values.get(name)
    if node.op_type not in ("Slice", "Split") or value is None or not isinstance(value.layout, partitions.Partitioned):
        return False
    item = reader.by_name.get(value.layer)
    sources = reader.emitted_from.get(value.layer)
    others = reader.reader_ops(name)
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
    or the width of M query tokens (LeViT's AttentionSubsample, MViT's pooled queries); 0 when it is neither."""
    if region.query_stride:  # EfficientFormerV2's local queries: the map of the queries
        return value.shape[1] if len(value.shape) == 4 else 0
    if region.stride is not None or region.pools or region.class_query:
        # fewer queries: strided, pooled (MViT), or the class token alone (CaiT)
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
    value = reader.values.get(node.input[0]) if node.op_type == "Reshape" and node.input else None
    if value is None or value.gate is not None or value.layout is not None or value.tokens or len(value.shape) != 4:
        return False
    from .reshapes import _reshaped

    item, sources = reader.by_name.get(value.layer), reader.emitted_from.get(value.layer)
    if (not value.own or item is None or item["type"] != "conv" or item.get("kernel") != 1
            or reader.items[-1] is not item or item.get("act") or not sources or item.get("pad", 0)
            or any(item.get(key, 1) != 1 for key in ("stride", "groups", "dilation"))
            or not reader.read_here_alone(node.input[0])):
        return False
    const = reader.ahead(node.input[1]) if len(node.input) > 1 else None
    array = const.array() if const is not None else None
    target = None if array is None else _reshaped(value.shape, array.reshape(-1).tolist(), attrs.get("allowzero", 0))
    n, c, h, w = value.shape
    readers = reader.reader_ops(node.output[0])
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
