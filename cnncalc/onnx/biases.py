"""Attention's position biases as the exporters store them: relative tables gathered by an index (Swin's, 2-D and
3-D), the continuous bias MLP (Swin V2), attention biases by offset (EfficientFormer, LeViT), timm's shifted-window
masks, and the tables torch.export folds or renames; each read as the params or buffers PyTorch counts, or refused."""

import math
import re

from .derived import copy_of, folded_product, transposed_weight
from .tensors import elements, initializer_kind, learned


def source_kind(reader, node, name, kinds):
    """'param', 'buffer' or None for an initializer a position bias is computed from (``kinds``: what
    :func:`position_mlp` found: the coordinates of a bias MLP are buffers, however stored). One torch.export
    folded from one of the model's tensors alone counts as that tensor would (a copy of CoAtNet's table,
    ``val_238``; Swin V2's second MLP weight, transposed; its index, reshaped): a float one as params, an
    integer one as buffers. A table the bias is gathered from that the exporter derived otherwise cannot be
    told: refused."""
    tensor = reader.initializers.get(name)
    kind = kinds.get(name) or initializer_kind(name, tensor)
    if kind is None and tensor is not None and copy_of(reader, name):
        kind = "param" if tensor.data_type in (1, 10, 11, 16) else "buffer" if tensor.data_type in (6, 7) else None
    gathers = [reader.nodes[at] for at in reader.readers.get(name, []) if at is not None
               and reader.nodes[at].op_type in ("Gather", "GatherND") and reader.nodes[at].input[0] == name]
    if kind is None and gathers and tensor is not None and tensor.data_type in (1, 10, 11, 16) \
            and all(_indexes_parameter(gather) for gather in gathers):
        kind = "param"  # the model's table under a name the exporter gave it: its node says so
    if kind is None and gathers and tensor is not None and tensor.data_type in (1, 10, 11, 16):
        raise reader.unsupported(node, f"a position bias computed from '{name}', a tensor the exporter derived from "
                                       f"the model's parameters, so its params cannot be told (the TorchScript "
                                       f"exporter, dynamo=False, keeps the table)")
    return kind


_INDEXED_PARAMETER = re.compile(r"target=torch\.ops\.aten\.index\.Tensor\]\(args = \(%p_\w+, \[")


def _indexes_parameter(node):
    """Whether torch.export's metadata says the Gather ``node`` indexes one of the model's parameters itself
    (``aten.index.Tensor(%p_..._relative_position_bias_table, [index])``): the table it reads, though the exporter
    renamed it (``val_8``), holds the parameter's elements."""
    for entry in node.metadata_props:
        if entry.key == "pkg.torch.onnx.fx_node":
            return bool(_INDEXED_PARAMETER.search(entry.value[:1000]))
    return False


def inline_index(reader, name, region):
    """The elements of an integer index of n*n entries into a position-bias table that the exporter wrote
    as a Constant node (TorchScript writes CoAtNet's, the same in every block, once): a buffer of each
    layer, as PyTorch counts it; 0 for anything else (an initializer, or one an Identity shares, counts by
    its own name)."""
    const = reader.consts.get(name)
    if const is None or const.sources or const.proto is None or const.proto.data_type not in (6, 7) \
            or not region.window or elements(const.dims) != region.window * (
                reader.values[region.source].shape[1] if region.stride else region.keys_count
                if region.query_stride else region.window):  # M queries by N keys
        return 0
    return elements(const.dims)


def position_keys(region, keys, sides, heads):
    """Set the attention's position keys for what the region found (in windows of ``sides`` on each axis, of
    ``heads`` heads); return the params of its position bias."""
    if region.folded:
        keys["position"] = "folded"
        return region.folded
    if region.mlp is not None:
        hidden, _, table = region.mlp
        keys["position"] = "continuous_folded" if table else "continuous"
        if hidden != 512:
            keys["cpb_hidden"] = hidden
        # the MLP's weights 2 x hidden + hidden + hidden x heads; folded: the table of hidden values an offset
        return (table * hidden if table else 2 * hidden) + hidden + hidden * heads
    if region.tables - region.logits:
        keys["position"] = "relative"
        return math.prod(2 * side - 1 for side in sides) * heads
    return 0


def fitted(reader, region, keys, sides, sizes, heads, seen):
    """torchvision's 3-D Swin runs a window as long as the map on an axis as the map, keeping the table and index
    of the window it was built with (a 4-frame map in 8 x 7 x 7 windows runs in 4 x 7 x 7): the window whose
    index (n*n buffers) and table ((2w-1) per axis x heads params) the region found, equal to the windows run on
    every axis the map is longer than them (``sizes``), set with ``fit: true``; return the table's params (0 when
    no window gives them)."""
    from .partitions import fitted_window

    learned = sum(elements(reader.consts[name].dims) for name in sorted(region.tables - region.logits)
                  if source_kind(reader, region.start, name, {}) == "param")  # the table, not the mask's constants
    window = fitted_window(sides, sizes, math.isqrt(region.buffers), learned, heads, seen)
    if window is None:
        return 0
    keys["window"], keys["fit"] = list(window), True
    return math.prod(2 * side - 1 for side in window) * heads


def stored_bias(reader, region, name, dims):
    """Whether the stored constant ``name`` added to the scores is the shifted windows' mask or a folded
    position bias (the mask first: with as many windows as heads, its shape would pass for a bias)."""
    return window_mask(reader, region, name, dims) or folded_bias(reader, region, name, dims)


def window_mask(reader, region, name, dims):
    """Whether the stored constant ``name`` added to the scores of attention in windows, viewed ... x windows x
    heads x n x n (timm's Swin), is the shifted windows' mask timm keeps as a buffer: 1 x windows x 1 x n x n,
    one value a pair of positions in each window, the same for every head (a position bias is one a head and
    the same in every window). Its elements are buffers, as PyTorch counts them (``mask: buffer``)."""
    const = reader.consts[name]
    n = region.window
    if region.head_dim is None or region.mask or len(dims) < 4 or not const.dims or len(const.dims) > len(dims) \
            or dims[-2:] != (n, n) or dims[-4] < 2:
        return False
    if (1,) * (len(dims) - len(const.dims)) + const.dims != (1,) * (len(dims) - 4) + (dims[-4], 1, n, n):
        return False
    region.mask = elements(const.dims)
    region.buffers += region.mask
    return True


def folded_bias(reader, region, name, dims):
    """Whether the stored constant ``name`` added to the scores (``dims``: ... x heads x n x n) is a position
    bias torch.export folded from the model's relative table (Swin, MaxViT): heads x n x n values, counted as
    the params the graph holds (``position: folded``; the file has no table, so PyTorch's count cannot be
    told, and reader.py notes it)."""
    const = reader.consts[name]
    if region.head_dim is None or region.folded or len(dims) < 3 or not const.dims \
            or (dims[-1] != dims[-2] and region.stride is None  # m queries by n keys: LeViT's AttentionSubsample,
                and not region.query_stride):  # EfficientFormerV2's Attention2dDownsample
        return False
    heads, m, n = dims[-3], dims[-2], dims[-1]
    shape = tuple(d for d in const.dims if d != 1)
    if shape not in ((heads, m, n), (m, n) if heads == 1 else None) or const.dims[-2:] != (m, n):
        return False
    region.folded = heads * m * n
    region.params += region.folded
    return True


# --- Swin V2: cosine attention and a continuous position bias -------------------------------------------


def position_mlp(reader, node, name, region):
    """A position bias computed by MatMuls of constants (Swin V2's MLP on its coordinates table): their
    MACs count in the region (as the attention layer's ``position: continuous``), with the MLP's width;
    returns what the initializers it reads count as that their names do not say: the coordinates the first
    product multiplies are buffers, though float. A weight torch.export folded from the model's one (a
    transpose) counts as it. torch.export folds the first Linear with its constant coordinates into one
    (2W-1)^2 x hidden table (``position: continuous_folded``): that table counts as params, the graph's
    MatMuls as MACs (see :mod:`.derived`). A product with any other derived operand is refused."""
    # the nodes walked for any region, walked once in all (a product two regions share counts in the first only)
    seen = reader.__dict__.setdefault("bias_walked", set())
    stack, products, kinds = [name], [], {}
    consts = reader.consts  # constants, evaluated or not
    makers = reader.makers
    while stack:
        at = makers.get(stack.pop())
        if at is None or at in seen:
            continue
        seen.add(at)
        op, inputs = reader.op_types[at], reader.inputs_of[at]  # as read once by GraphReader.prepare
        if op == "Shape":  # the shape of a computed tensor: arithmetic, not the bias
            continue
        if op == "Gather" and len(inputs) > 1 and learned(reader, inputs[0]):
            region.buffers += inline_index(reader, inputs[1], region)
        if op in ("MatMul", "Gemm"):
            products.append(at)
        if op in ("Gather", "GatherND"):  # an index is integer arithmetic, no part of a bias MLP: not walked
            inputs = inputs[:1]
        elif op in ("ScatterND", "ScatterElements"):  # (the shifted windows' mask a tracer writes with them)
            inputs = inputs[:1] + inputs[2:3]
        stack.extend([n for n in inputs if n in consts])
    if not products:
        return kinds
    macs, hidden, folded = 0, None, None
    for at in sorted(products):
        maker = reader.nodes[at]
        a, b = (reader.consts.get(n) for n in maker.input[:2])
        if maker.op_type != "MatMul" or a is None or b is None or not a.dims or not b.dims or len(b.dims) != 2:
            raise reader.unsupported(node, f"a position bias computed by node '{maker.name}' ({maker.op_type}) "
                                           f"(cnncalc reads an MLP of MatMuls by 2-D weights)")
        for position, operand in enumerate(maker.input[:2]):
            for source in sorted(reader.consts[operand].sources):
                tensor = reader.initializers.get(source)
                if tensor is None or initializer_kind(source, tensor) is not None or tensor.data_type not in (
                        1, 10, 11, 16) or elements(reader.consts[source].dims) <= 1 or copy_of(reader, source):
                    continue
                if hidden is None and position == 0 and folded_product(reader, source) \
                        and reader.consts[source].dims[-1] == b.dims[0]:
                    folded = source  # the first Linear, run on the coordinates ahead of time
                    continue
                if transposed_weight(reader, source):  # (an operand's sources: the weights of the layers before)
                    kinds[source] = "param"  # a Linear's weight as the TorchScript exporter folded it: W^T
                    continue
                raise reader.unsupported(node, f"a position-bias MLP whose weight '{source}' the exporter derived "
                                               f"from the model's parameters (torch.export folds them): its params "
                                               f"and MACs cannot be counted (the TorchScript exporter, dynamo=False, "
                                               f"keeps them)")
        macs += math.prod(a.dims[:-1]) * b.dims[0] * b.dims[1]
        if hidden is None and folded is not None:  # the table of hidden values a coordinate, counted as held
            hidden = b.dims[0]
            kinds[folded] = "param"
        elif hidden is None:  # the first product: the coordinates (a buffer, however stored) by the first weight
            hidden = b.dims[1]
            kinds.update((source, "buffer") for source in a.sources)
    region.macs += macs
    region.mlp = (hidden, macs, elements(reader.consts[folded].dims) // hidden if folded else 0)
    return kinds


# --- MaxViT: attention in the windows of a partitioned map ------------------------------------------------
