"""Tokens in ONNX: N x tokens x width tensors (the spec's Tokens), and the layers around attention.

A patch map becomes tokens by a Reshape to N x C x HW (N x C x THW for a clip's T x H x W map: MViT) and a
Transpose [0, 2, 1] (``tokens``), or by a
Reshape of a channels-last map; tokens become a channels-last map again by a Reshape to N x H x W x C
(``untokens``), or a channels-first one by a Transpose [0, 2, 1] and a Reshape to N x C x H x W. A Concat of a learned 1 x k x D tensor before the tokens is ``classtoken``; an Add of a
learned tensor of the tokens' size is ``posembed``; a Gather of token 0 is ``taketoken``, a ReduceMean over
the tokens ``meantokens``. Each function returns whether it read the node.
"""

import math

from .tensors import Value, attributes, channels_last, elements, initializer_kind, stored_name

# tokens held N x D x T, the token axis last: a Linear on them mixes the tokens (MLP-Mixer; ``over: tokens``)
TRANSPOSED = (0, 2, 1)


# --- tokens -----------------------------------------------------------------------------------------

def reshape(reader, node, dims, target):
    """A Reshape between maps and tokens; False when it is not one."""
    from . import reduction, xcit
    from .levit import subsample

    source = node.input[0]
    value = reader.values[source]
    if len(target) == 4 and (subsample(reader, node, dims, target) or reduction.untokens(reader, node, dims, target)
                             or xcit.untokens(reader, node, dims, target)):
        return True
    if value.tokens and value.layout is None and len(target) == 4 and target[0] == dims[0] and target[3] == dims[2] \
            and target[1] * target[2] == dims[1]:
        size = target[1] if target[1] == target[2] else [target[1], target[2]]
        result = reader.emit(node, "untokens", [source], {"size": size}, layout=channels_last(4), any_layout=True)
        reader.set_output(node, result)
        return True
    if value.tokens and value.layout == TRANSPOSED and len(target) == 4 and target[:2] == dims[:2] \
            and target[2] * target[3] == dims[2]:  # N x D x T held transposed to N x D x H x W (MetaFormer's)
        size = target[2] if target[2] == target[3] else [target[2], target[3]]
        reader.set_output(node, reader.emit(node, "untokens", [source], {"size": size}, any_layout=True))
        return True
    if value.layout == channels_last(4) and len(target) == 3 and target == (dims[0], dims[1] * dims[2], dims[3]):
        reader.set_output(node, reader.emit(node, "tokens", [source], any_layout=True))
        return True
    if value.layout is None and not value.tokens and len(dims) in (4, 5) and target == (dims[0], dims[1],
                                                                                        math.prod(dims[2:])):
        at = reader.only_reader(node.output[0])
        if at is not None and reader.nodes[at].op_type == "Transpose" and \
                list(attributes(reader.nodes[at]).get("perm", [])) == [0, 2, 1]:
            reader.set_output(node, Value(None, target, gate=("tokens", source)))
            return True
    return False


def transpose(reader, node, perm):
    """The Transpose [0, 2, 1] that ends a map's Reshape to N x C x HW: ``tokens``; of tokens, the tokens
    held transposed (or back): nothing is computed."""
    pending = reader.values.get(node.input[0])
    if pending is not None and pending.gate is None and pending.tokens and perm == [0, 2, 1]:
        layout = None if pending.layout == TRANSPOSED else TRANSPOSED
        shape = (pending.shape[0], pending.shape[2], pending.shape[1])
        reader.set_output(node, Value(pending.layer, shape, own=False, tokens=True, layout=layout))
        return True
    if pending is None or pending.gate is None or pending.gate[0] != "tokens" or perm != [0, 2, 1]:
        return False
    reader.set_output(node, reader.emit(node, "tokens", [pending.gate[1]]))
    return True


def class_token(reader, node, attrs):
    """Concat at axis 1 of learned 1 x k x D tensors and then the tokens: ``classtoken`` (count = all their k,
    count*D params): ViT's class token, DeiT's class and distillation tokens."""
    names = list(node.input)
    if len(names) < 2 or any(name in reader.values for name in names[:-1]) or names[-1] not in reader.values:
        return False
    value = reader.values[names[-1]]
    if not value.tokens or value.layout or attrs.get("axis", 1) % 3 != 1:
        return False
    count = 0
    for name in names[:-1]:
        const = reader.consts.get(name)
        if const is None or const.dims is None or len(const.dims) != 3 or const.dims[0] != 1 \
                or const.dims[2] != value.shape[2]:
            return False
        count += const.dims[1]
    keys = {"count": count} if count != 1 else {}
    reader.set_output(node, reader.emit(node, "classtoken", [names[-1]], keys, any_layout=True, weight=names[0]))
    return True


def position_embedding(reader, node):
    """Add of a learned tensor of the tokens' size: ``posembed`` (its elements are params)."""
    computed = [n for n in node.input if n in reader.values]
    if len(computed) != 1 or len(node.input) != 2:
        return False
    value = reader.values[computed[0]]
    other = [n for n in node.input if n not in reader.values][0]
    const = reader.consts.get(other)
    if not value.tokens or value.layout or const is None or (const.dims is None and const.stored) \
            or const.dims is not None and (elements(const.dims) != math.prod(value.shape[1:])
                                           or const.dims[-2:] != value.shape[-2:]):
        return False
    keys = {}
    if not const.stored:  # (its dims unknown when too large to fold: the sum of its tables says it all)  # computed from learned tables: MViT's separable space-time embedding
        grid = _grid(reader, value)
        learned = [reader.consts[name].dims for name in sorted(const.sources)
                   if reader.initializers.get(name) is not None and reader.initializers[name].data_type in (1, 10, 11, 16)]
        width, count = value.shape[2], value.shape[1]
        # the float tensors it was computed from (the int64 ones are shapes: torch.export stores them too)
        if grid is None or len(learned) not in (2, 3) or sum(elements(d) for d in learned) != width * (
                grid[0] + grid[1] * grid[2] + count - math.prod(grid)):
            return False
        keys["separable"] = list(grid)
    reader.set_output(node, reader.emit(node, "posembed", [computed[0]], keys, any_layout=True, weight=other))
    return True


# what may stand between a position encoding's projection and the Add of it: its values moved, none computed
_MOVES = ("Reshape", "Transpose", "Cast", "Identity", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Tile")  # (XCiT repeats it B times)
_PRODUCTS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum")


def fourier_position(reader, node):
    """Add of a constant the graph computes from the positions alone through one 1x1 Conv by a learned weight
    (EdgeNeXt's PositionalEncodingFourier: sines and cosines of each position's y and x, 2F features, projected
    to the width D): ``posembed`` with ``fourier: F`` (the conv's 2F*D + D params, its MACs on every position,
    as PyTorch counts them). False when the Add is not one; a constant computed any other way with a learned
    tensor or a product in it is refused."""
    computed = [n for n in node.input if n in reader.values]
    if len(computed) != 1 or len(node.input) != 2:
        return False
    value = reader.values[computed[0]]
    other = next(n for n in node.input if n not in reader.values)
    const = reader.consts.get(other)
    if value.layout is not None or value.gate is not None or const is None or const.stored or const.dims is None \
            or elements(const.dims) != math.prod(value.shape[1:]) \
            or const.dims[len(const.dims) - len(value.shape) + 1:] != value.shape[1:]:
        return False
    name, conv = other, None
    for _ in range(16):  # back through the moves to the projection
        at = reader.makers.get(name)
        if at is None or reader.op_types[at] not in _MOVES + ("Conv",):
            return False
        if reader.op_types[at] == "Conv":
            conv = reader.nodes[at]
            break
        name = reader.inputs_of[at][0]
    learned = {s for s in const.sources if initializer_kind(s, reader.initializers.get(s)) == "param"}
    weight = reader.consts.get(conv.input[1]) if conv is not None else None
    out = reader.consts.get(conv.output[0]) if conv is not None else None
    if weight is None or out is None or out.dims is None or not weight.dims or len(weight.dims) != 4:
        return False
    width = value.shape[-1] if value.tokens else value.shape[1]
    attrs = attributes(conv)
    # (by the initializers they are: one of equal values may be shared through an Identity)
    bias = stored_name(reader, conv.input[2], reader.consts.get(conv.input[2])) if len(conv.input) > 2 else ""
    if learned != {stored_name(reader, conv.input[1], weight), bias} or weight.dims[2:] != (1, 1) \
            or weight.dims[0] != width \
            or weight.dims[1] % 2 or attrs.get("group", 1) != 1 or any(attrs.get("pads", [0])) \
            or any(v != 1 for key in ("strides", "dilations") for v in attrs.get(key, [1])) \
            or math.prod(out.dims[2:]) * width != math.prod(value.shape[1:]) or _products(reader, conv.input[0]):
        raise reader.unsupported(node, f"an Add of '{other}', a constant the graph computes with learned tensors "
                                       f"(cnncalc reads a position encoding projected by one 1x1 conv with a bias, "
                                       f"EdgeNeXt's Fourier encoding)")
    keys = {"fourier": weight.dims[1] // 2}
    result = reader.emit(node, "posembed", [computed[0]], keys, any_layout=True, weight=conv.input[1],
                         base=_module(conv))
    reader.set_output(node, result)
    return True


def _products(reader, name):
    """Whether the constant ``name`` is computed with a product (MACs PyTorch counts) or from a learned tensor."""
    from .tensors import initializer_kind

    stack, seen = [name], set()
    while stack and len(seen) < 10_000:
        current = stack.pop()
        if initializer_kind(current, reader.initializers.get(current)) == "param":
            return True
        at = reader.makers.get(current)
        if at is None or at in seen:
            continue
        seen.add(at)
        if reader.op_types[at] in _PRODUCTS:
            return True
        stack.extend(n for n in reader.inputs_of[at] if n and reader.op_types[at] != "Shape")
    return bool(stack)


def _module(conv):
    """The position encoding's module: the conv's scope less its own name (``blocks.2.pos_embd``)."""
    from .names import dynamo_scope, torch_scope

    scope = torch_scope(conv.name) or dynamo_scope(conv)
    path = scope[0] if scope else ""
    return path.rsplit(".", 1)[0] if "." in path else None


def _grid(reader, value):
    """The T x H x W grid of a clip's map that the tokens ``value`` (with any class tokens before them) were
    made from, or None."""
    name = value.layer
    while name in reader.by_name and reader.by_name[name]["type"] == "classtoken":
        name = reader.by_name[name]["_from"][0]
    item = reader.by_name.get(name)
    if item is None or item["type"] != "tokens":
        return None
    source = reader.values.get(reader.emitted_from[name][0])
    return tuple(source.spec[2:]) if source is not None and len(source.spec) == 5 else None


def take_token(reader, node, attrs):
    """Gather of one token (axis 1) of tokens: ``taketoken``."""
    value = reader.values.get(node.input[0])
    if value is None or not value.tokens or value.layout or attrs.get("axis", 0) % 3 != 1:
        return False
    index = reader.known(node, node.input[1], "the Gather index")
    if index.size != 1 or index.ndim != 0:
        return False
    keys = {"index": int(index.reshape(-1)[0]) % value.shape[1]}
    if not keys["index"]:
        keys = {}
    reader.set_output(node, reader.emit(node, "taketoken", [node.input[0]], keys, any_layout=True))
    return True


def skipped_mean(reader, node):
    """A Slice dropping the first k tokens (axis 1, [k:]) that only a ReduceMean over the tokens reads (timm's
    ``x[:, num_prefix_tokens:].mean(dim=1)``): one ``meantokens`` with ``skip: k``. False when it is not one."""
    from .positions import _axes
    from .slices import _window

    value = reader.values.get(node.input[0])
    at = reader.only_reader(node.output[0])
    if value is None or not value.tokens or value.layout or value.gate is not None or at is None \
            or reader.nodes[at].op_type != "ReduceMean" or reader.opset < 10 or len(node.input) < 3:
        return False
    bounds = [reader.ahead(name) if name else None for name in (list(node.input[1:5]) + [""] * 4)[:4]]
    arrays = [b.array() if b is not None else None for b in bounds]
    if arrays[0] is None or arrays[1] is None or any(a is None for a, b in zip(arrays[2:], bounds[2:]) if b):
        return False
    window = _window(value.shape, *[a.reshape(-1).tolist() if a is not None else None for a in arrays])
    mean = reader.nodes[at]
    axes = _axes(reader, mean, attributes(mean))
    if list(window) != [1] or window[1][1:] != (value.shape[1], 1) or axes is None or [a % 3 for a in axes] != [1] \
            or attributes(mean).get("keepdims", 1):
        return False
    result = reader.emit(mean, "meantokens", [node.input[0]], {"skip": window[1][0]}, any_layout=True)
    reader.skip.add(at)
    reader.set_output(mean, result)
    return True


def mean_tokens(reader, node, attrs, axes):
    """ReduceMean over the tokens (axis 1) without keepdims: ``meantokens``."""
    value = reader.values.get(node.input[0])
    if value is None or not value.tokens or value.layout or axes is None or [a % 3 for a in axes] != [1] \
            or attrs.get("keepdims", 1):
        return False
    reader.set_output(node, reader.emit(node, "meantokens", [node.input[0]], any_layout=True))
    return True


# --- batch norm over the tokens' features -------------------------------------------------------------

def folded_batch_norm(reader, node, dims):
    """timm's LinearNorm (LeViT): 1 x N x D tokens folded to N x D (a Flatten at axis 2, or a Reshape), a
    BatchNormalization over the D features, and a Reshape back to 1 x N x ...: one ``bn`` on the tokens (2D
    params, 2D buffers). False when ``node`` does not start that."""
    value = reader.values.get(node.input[0])
    if value is None or not value.tokens or value.layout is not None or value.gate is not None \
            or len(dims) != 3 or dims[0] != 1:
        return False
    at = reader.only_reader(node.output[0])
    norm = reader.nodes[at] if at is not None else None
    if norm is None or norm.op_type != "BatchNormalization" or norm.input[0] != node.output[0] or len(norm.output) != 1:
        return False
    back = reader.only_reader(norm.output[0])
    if back is None or reader.nodes[back].op_type != "Reshape" or not _restored(reader, reader.nodes[back], node, dims):
        return False
    for name, what in zip(norm.input[1:5], ("scale", "B", "mean", "var")):
        if elements(reader.const(norm, name, f"the BatchNormalization {what}").dims) != dims[2]:
            raise reader.unsupported(norm, f"the {what} '{name}' has a size other than the tokens' width {dims[2]}")
    result = reader.emit(norm, "bn", [node.input[0]], weight=norm.input[1], any_layout=True)
    reader.skip.add(at)
    reader.set_output(norm, result)
    return True


def _restored(reader, reshape, fold, dims):
    """Whether ``reshape`` gives the folded tokens back their batch axis: its target the Shape of the tokens,
    or a constant 1 x N x ... of the same tokens."""
    name = reshape.input[1]
    maker = reader.makers.get(name)
    if maker is not None and reader.nodes[maker].op_type == "Shape":
        shape = reader.nodes[maker]
        return shape.input[0] == fold.input[0] and not attributes(shape)
    const = reader.ahead(name)
    target = const.array() if const is not None else None
    if target is None:
        return False
    target = [int(v) for v in target.reshape(-1).tolist()]
    return len(target) >= 3 and target[:2] == [1, dims[1]] and math.prod(target[2:]) == dims[2]
