"""MViT's pooling in ONNX, whichever exporter wrote it: the tokens of a T x H x W grid pooled, the class token
set apart and joined again (torchvision's ``Pool``: a ``tensor_split`` at token 1, a Transpose and Reshape to a
map, the pool, a Reshape and Transpose back, a Concat; TorchScript writes the split as a Loop, walked by
:mod:`.loops`).

Inside an attention region (:mod:`.attention`) q, k and v are pooled by a depthwise Conv3d and a
LayerNormalization over the head width: both are steps of the region (their params and MACs count in it), and
the ``attention`` layer it becomes has ``grid``, ``pool_q``, ``pool_kv`` and ``pool_kernel``. The skip
connection of a block that pools its queries pools the tokens with a MaxPool3d: that chain, from the Unsqueeze
of the tokens to 1 x 1 x N x D (``_unsqueeze``), is followed as a region of its own and becomes one ``maxpool``
with ``grid``.
"""

import math

from .tensors import elements, initializer_kind, pair, shape_text

OPERATORS = ("Conv", "LayerNormalization", "MaxPool", "Einsum", "Add", "ScatterND")


def _window(attrs, dims):
    """(kernel, stride, pads before) of a Conv/MaxPool on a 5-D map; None when its padding is uneven."""
    kernel = tuple(attrs.get("kernel_shape", ()))
    rank = len(dims) - 2
    stride = tuple(attrs.get("strides", [1] * rank))
    pads = tuple(attrs.get("pads", [0] * 2 * rank))
    if len(kernel) != rank or len(pads) != 2 * rank or pads[:rank] != pads[rank:] \
            or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "") or any(d != 1 for d in attrs.get("dilations", [1])) \
            or attrs.get("ceil_mode", 0):
        return None
    return kernel, stride, pads[:rank]


def _out(dims, kernel, stride, pads):
    return tuple((d + 2 * p - k) // s + 1 for d, k, s, p in zip(dims, kernel, stride, pads))


def step(reader, node, attrs, region, inputs, consts):
    """A pool's depthwise Conv3d or LayerNormalization in an attention region, or the MaxPool of a pooled skip
    connection; False when ``node`` is not one."""
    from .attention import _set

    dims, op = inputs[0], node.op_type
    if op in ("Einsum", "Add", "ScatterND"):  # (only in a region that pooled q, k or v: MViT's)
        return bool(region.pools) and relative_step(reader, node, attrs, region, inputs, consts)
    if op == "LayerNormalization":
        scale, bias = (consts[i] if len(consts) > i else None for i in (1, 2))
        if attrs.get("axis", -1) % len(dims) != len(dims) - 1 or scale is None or not scale.stored \
                or elements(scale.dims) != dims[-1] or (bias is not None and elements(bias.dims) != dims[-1]) \
                or not region.pools:
            return False
        region.params += elements(scale.dims) + (elements(bias.dims) if bias is not None else 0)
        region.pool_params += elements(scale.dims) + (elements(bias.dims) if bias is not None else 0)
        region.pool_norms.append(dims[-1])
        return _set(reader, node, region, dims) or True
    if len(dims) != 5 or region.head_dim is not None:
        return False
    window = _window(attrs, dims)
    if window is None:
        return False
    kernel, stride, pads = window
    if op == "MaxPool":
        if region.kind != "pool" or region.pools or len(node.output) != 1:
            return False
    else:
        weight = consts[1] if len(consts) > 1 else None
        if weight is None or not weight.dims or weight.dims != (dims[1], 1) + kernel \
                or attrs.get("group", 1) != dims[1] or (len(node.input) > 2 and node.input[2]):
            return False
    out = _out(dims[2:], kernel, stride, pads)
    if min(out) < 1:
        return False
    region.pools.append((dims[2:], kernel, stride, pads, out))
    if op == "Conv":
        macs = dims[0] * dims[1] * elements(out) * elements(kernel)
        region.macs += macs
        region.params += elements(consts[1].dims)
        region.pool_params += elements(consts[1].dims)
    return _set(reader, node, region, dims[:2] + out) or True


# --- MViT V2: the decomposed relative position and the pooled residual ----------------------------------------

def relative_step(reader, node, attrs, region, inputs, consts):
    """An Einsum of the queries and rows gathered from a learned table (rel_pos_h, rel_pos_w), the sum of the
    three products broadcast (an Add of two region tensors before AV), the in-place add into the scores
    (ScatterND), and after AV the pooled q added to the weighted sum (``residual_pool``); False otherwise."""
    from . import small
    from .attention import _set

    op = node.op_type
    if op == "ScatterND":
        if len(inputs) != 3 or inputs[0] is None or (inputs[2] is None and consts[2] is None):
            return False
        return _set(reader, node, region, inputs[0]) or True
    if op == "Add":
        if len(inputs) != 2 or inputs[0] is None or inputs[1] is None or region.head_dim is None:
            return False
        try:
            shape = tuple(small.broadcast_shapes(inputs[0], inputs[1]))
        except ValueError:
            return False
        if region.value_dim is not None:  # after AV: x[:, :, 1:] += q[:, :, 1:]
            region.residual = True
        return _set(reader, node, region, shape) or True
    equation = str(attrs.get("equation", "")).replace(" ", "")
    if len(inputs) != 2 or inputs[1] is not None or consts[1] is None or not consts[1].dims \
            or "->" not in equation or region.head_dim is None:
        return False
    given, output = equation.split("->")
    operands = given.split(",")
    if len(operands) != 2 or any(len(o) != len(d) for o, d in zip(operands, (inputs[0], consts[1].dims))):
        return False
    sizes = {}
    for letters, dims in zip(operands, (inputs[0], consts[1].dims)):
        for letter, size in zip(letters, dims):
            if sizes.setdefault(letter, size) != size:
                return False
    if any(letter not in sizes for letter in output):
        return False
    relative_table(reader, node, region, node.input[1], operands[1][0])
    region.macs += math.prod(sizes.values())
    return _set(reader, node, region, [sizes[letter] for letter in output]) or True


def scatter_update(reader, node, region, dims):
    """``dims`` for a Reshape (to a shape the graph computes) whose output only a ScatterND reads as the values
    it writes (MViT V2: ``attn[:, :, 1:, 1:] += rel_pos``, ``x[:, :, 1:] += q[:, :, 1:]``, as TorchScript writes
    them): an elementwise add, the same counts however its values are laid out; None for any other Reshape."""
    readers = [reader.nodes[at] for at in reader.readers.get(node.output[0], []) if at is not None]
    if node.op_type != "Reshape" or not region.pools or not readers \
            or any(user.op_type != "ScatterND" or list(user.input).index(node.output[0]) != 2 for user in readers):
        return None
    return dims


def relative_table(reader, node, region, name, axis):
    """Count the table of ``axis`` (t, h or w) the constant ``name`` holds rows of, once a region: the learned
    table its rows were gathered from by a constant index (TorchScript); with torch.export, which names what it
    stores itself, the float initializer they were gathered from (``val_183``: the attention layer checks it is
    a table's size), or ``name`` itself when it is stored, the rows gathered (``gathered``)."""
    const = reader.consts[name]
    learned = [source for source in sorted(const.sources)
               if initializer_kind(source, reader.initializers.get(source)) == "param"]
    if not learned:
        learned = [source for source in sorted(const.sources) if reader.initializers.get(source) is not None
                   and reader.initializers[source].data_type in (1, 10, 11, 16)]
        if learned == [name]:
            region.gathered.add(axis)
    if not learned:
        raise reader.unsupported(node, f"a relative position product with '{name}', a tensor with no position table "
                                       f"behind it that cnncalc can count")
    tables = region.relative
    for source in learned:
        if source not in tables:
            tables[source] = elements(reader.consts[source].dims)
            region.params += tables[source]


def relative_product(reader, node, region, a, const, name):
    """A MatMul of the region's queries by rows gathered from a learned table (rel_pos_t, transposed):
    batch*M*N*K MACs; False when ``const`` is not such a tensor."""
    from .attention import _set

    b = const.dims
    if not b or len(b) < 3 or len(a) < 2 or a[-1] != b[-2] or region.head_dim is None \
            or not region.pools:
        return False
    from .small import broadcast_shapes

    try:
        batch = tuple(broadcast_shapes(a[:-2], b[:-2]))
    except ValueError:
        return False
    relative_table(reader, node, region, name, "t")
    region.macs += math.prod(batch) * a[-2] * b[-1] * a[-1]
    return _set(reader, node, region, batch + (a[-2], b[-1])) or True


# --- the pooled skip connection -------------------------------------------------------------------------

def start(reader, node, attrs):
    """The Unsqueeze of N x D tokens to 1 x 1 x N x D whose every reader slices it (the start of a ``Pool`` on
    3-D tokens): a region of kind "pool" is followed from here."""
    value = reader.values.get(node.input[0]) if node.op_type == "Unsqueeze" and node.input else None
    if value is None or value.gate is not None or not value.tokens or value.layout is not None \
            or len(value.shape) != 3:
        return False
    from . import attention as base

    given = reader.ahead(node.input[1]) if len(node.input) > 1 else None
    axes = given.array().reshape(-1).tolist() if given is not None and given.array() is not None \
        else attrs.get("axes")
    readers = reader.reader_ops(node.output[0])
    if axes is None or [a % 4 for a in axes] != [1] or not readers or set(readers) != {"Slice"}:
        return False
    region = base.Region(node.input[0], node, value.shape)
    region.kind = "pool"
    region.pools, region.pool_norms, region.pool_params = [], [], 0
    reader.regions.append(region)
    base._set(reader, node, region, (value.shape[0], 1) + value.shape[1:])
    return True


def close_pool(reader, node, name, region):
    """The pooled tokens read outside the chain: one ``maxpool`` with ``grid``, or the model is refused."""
    value = reader.values[name]
    tokens = reader.values[region.source]
    count, width = tokens.shape[1], tokens.shape[2]
    if len(region.pools) != 1:
        raise reader.unsupported(node, f"tokens set apart on their grid (from '{region.start.name}') and joined "
                                       f"again without a pool")
    grid, kernel, stride, pads, out = region.pools[0]
    extra = count - math.prod(grid)
    if extra < 0 or value.shape != (tokens.shape[0], extra + math.prod(out), width):
        raise reader.unsupported(node, f"tokens pooled on their grid {shape_text(grid)} (from "
                                       f"'{region.start.name}') ending as {shape_text(value.shape)} (cnncalc reads the "
                                       f"class tokens and the pooled grid joined again, "
                                       f"{tokens.shape[0]}x{extra + math.prod(out)}x{width})")
    keys = {"grid": list(grid), "kernel": pair(kernel), "stride": pair(stride)}
    if any(pads):
        keys["pad"] = pair(pads)
    result = reader.emit(region.start, "maxpool", [region.source], keys, any_layout=True, op_name="pool")
    for key, other in list(reader.values.items()):
        if other.gate is not None and other.gate[0] == "region" and other.gate[1] is region \
                and other.shape == value.shape:
            reader.values[key] = result if key == name else result.passed_on()


# --- the attention layer's keys ---------------------------------------------------------------------------

def layer_keys(reader, node, region, keys, tokens):
    """``grid``, ``pool_q``, ``pool_kv`` and ``pool_kernel`` of an attention region that pooled its q, k or v;
    returns the params of its pools (0 when it has none)."""
    pools = region.pools
    if not pools:
        return 0
    count = tokens.shape[1]
    grids = {pool[0] for pool in pools}
    kernels = {pool[1] for pool in pools}
    if len(grids) != 1 or len(kernels) != 1 or len(pools) not in (2, 3) \
            or any(pool[3] != tuple(k // 2 for k in pool[1]) for pool in pools) \
            or sorted(region.pool_norms) != [region.head_dim] * len(pools):
        raise reader.unsupported(node, f"an attention (from '{region.start.name}') that pools {len(pools)} of q, k and "
                                       f"v with {len(region.pool_norms)} LayerNorms (cnncalc reads MViT's: k and v, "
                                       f"or q, k and v, each pooled by one depthwise conv of the same kernel, "
                                       f"padding kernel//2, and a LayerNorm over the head width)")
    grid, kernel = grids.pop(), kernels.pop()
    extra = count - math.prod(grid)
    queries, keys_count = region.window, region.keys_count
    for_keys = [pool for pool in pools if extra + math.prod(pool[4]) == keys_count]
    for_queries = [pool for pool in pools if extra + math.prod(pool[4]) == queries]
    if len(pools) == 2 and (len(for_keys) != 2 or queries != count):
        for_keys = []
    if len(pools) == 3 and (len(for_keys) < 2 or not for_queries):
        for_keys = []
    if not for_keys or len({pool[2] for pool in for_keys}) != 1:
        raise reader.unsupported(node, f"an attention (from '{region.start.name}') whose pooled q, k and v do not "
                                       f"give its {queries} queries and {keys_count} keys")
    keys["grid"] = list(grid)
    if len(pools) == 3:
        rest = list(pools)
        for pool in for_keys[:2]:
            rest.remove(pool)
        keys["pool_q"] = pair(rest[0][2])
    keys["pool_kv"] = pair(for_keys[0][2])
    if kernel != (3, 3, 3):
        keys["pool_kernel"] = pair(kernel)
    relative = region.relative
    if relative:
        keys["position"] = "decomposed"
        if region.gathered:
            keys["gathered"] = [axis for axis in "thw" if axis in region.gathered]
    if region.residual:
        keys["residual_pool"] = True
    return region.pool_params + sum(relative.values())

