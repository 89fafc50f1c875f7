"""MobileViT v2's patches and its separable self-attention (timm's MobileVitV2Block and LinearSelfAttention).

MobileViT v2 unfolds an N x C x H x W map into p x p patches held channels-first, N x C x P x Np (P = p*p
pixels a patch, Np = H/p*W/p patches), as

    Reshape N x C x H/p x p x W/p x p -> Transpose [0, 1, 3, 5, 2, 4] -> Reshape N x C x P x Np

and folds it back (Reshape N x C x p x p x H/p x W/p -> Transpose [0, 1, 4, 2, 5, 3] -> Reshape N x C x H x W).
The unfold moves values and computes nothing: the unfolded tensor is the map in another order (the layout
:class:`Patches`), on which the block's 1x1 convolutions, GroupNorm, activations and adds are the spec's layers
on the map (a 1x1 conv and a GroupNorm do not see the order of the positions). Anything else reading it (a 3x3
conv, a pool) is refused. Its LinearSelfAttention is written

    Conv 1x1 C -> 1+2C -> Split [1, C, C] on the channels -> q: Softmax on the last axis (the patches);
    k * softmax(q) -> ReduceSum on the last axis (keepdims) -> (Expand) -> relu(v) * that -> Conv 1x1 C -> C

and read as one ``separableattention`` layer with ``patch: p`` (rules/separable.py has its counts): the q/k/v
Conv, read first as a conv, is taken back into it (the walk never counts a node twice).
"""

from .tensors import Value, attributes


class Patches(tuple):
    """The layout of an N x C x H x W map held as N x C x P x Np (MobileViT v2's unfold into p x p patches): the
    channels on axis 1 as a map's; its ONNX dims and the spec's shape convert through it."""

    what = "a map unfolded into patches (MobileViT v2's N x C x pixels a patch x patches)"

    def __new__(cls, size, patch):
        layout = super().__new__(cls, (0, 1, 2, 3))
        layout.size, layout.patch = tuple(size), patch
        return layout

    def onnx_dims(self, spec):
        batch, channels, height, width = spec
        return batch, channels, self.patch * self.patch, (height // self.patch) * (width // self.patch)

    def spec_dims(self, shape):
        return (shape[0], shape[1]) + self.size


def pointwise(value, attrs):
    """The layout a Conv keeps when it reads ``value`` held as patches and sees no position (1x1, stride 1, no
    padding); None otherwise (the conv then reads a map as usual, or refuses)."""
    if value is None or not isinstance(value.layout, Patches) or value.gate is not None:
        return None
    if set(attrs.get("kernel_shape", [1, 1])) != {1} or set(attrs.get("strides", [1])) != {1} \
            or any(attrs.get("pads", [0])) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return None
    return value.layout


def start(reader, node, attrs):
    """Whether ``node`` was read here: a step of the unfold or the fold, or the Split of a separable attention."""
    op = node.op_type
    if op not in ("Reshape", "Transpose", "Split") or not node.input or node.input[0] not in reader.values:
        return False
    value = reader.values[node.input[0]]
    if op == "Split":
        return _attention(reader, node, attrs, value)
    gate = value.gate
    if op == "Transpose":
        perm = list(attrs.get("perm", []))
        if gate is None or gate[0] != "view" or len(value.shape) != 6:
            return False
        _, base, state, p = gate
        step = {("split", (0, 1, 3, 5, 2, 4)): "unfolding", ("folding", (0, 1, 4, 2, 5, 3)): "split"}.get(
            (state, tuple(perm)))
        if step is None:
            return False
        reader.set_output(node, Value(None, tuple(value.shape[i] for i in perm), gate=("view", base, step, p)))
        return True
    from .reshapes import _reshaped

    const = reader.ahead(node.input[1]) if len(node.input) > 1 else None
    array = const.array() if const is not None else None
    target = None if array is None else _reshaped(value.shape, array.reshape(-1).tolist(), attrs.get("allowzero", 0))
    if target is None:
        return False
    if gate is not None and gate[0] == "view" and gate[2] == "unfolding":
        _, base, _, p = gate
        n, c, h, w = base.shape
        if target != (n, c, p * p, (h // p) * (w // p)):
            return False
        reader.set_output(node, Value(base.layer, target, own=False, layout=Patches((h, w), p)))
        return True
    if gate is None and isinstance(value.layout, Patches):
        (h, w), p = value.layout.size, value.layout.patch
        n, c = value.shape[:2]
        if target != (n, c, p, p, h // p, w // p):
            return False
        base = Value(value.layer, value.spec, own=False)
        reader.set_output(node, Value(None, target, gate=("view", base, "folding", p)))
        return True
    return False


def _attention(reader, node, attrs, value):
    """The Split of LinearSelfAttention's q/k/v and the nodes after it, up to the output projection: one
    ``separableattention`` layer; False (nothing read) when they are not exactly that."""
    item = reader.by_name.get(value.layer)
    if not isinstance(value.layout, Patches) or value.gate is not None or not value.own or item is None \
            or item["type"] != "conv" or reader.items[-1] is not item or len(node.output) != 3 \
            or item.get("kernel", 1) != 1 or "groups" in item:
        return False
    source = reader.emitted_from[value.layer][0]
    channels = value.shape[1] // 2
    sizes = reader.ahead(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    sizes = sizes.array().reshape(-1).tolist() if sizes is not None and sizes.array() is not None \
        else attrs.get("split")
    if attrs.get("axis", 0) % 4 != 1 or sizes is None or list(sizes) != [1, channels, channels] \
            or reader.values[source].shape[1] != channels:
        return False
    q, k, v = node.output
    soft = _only(reader, q, "Softmax")
    if soft is None or attributes(reader.nodes[soft]).get("axis", -1) % 4 != 3:
        return False
    weighted = _only(reader, reader.nodes[soft].output[0], "Mul")
    if weighted is None or _only(reader, k, "Mul") != weighted:
        return False
    total = _only(reader, reader.nodes[weighted].output[0], "ReduceSum")
    relu = _only(reader, v, "Relu")
    if total is None or relu is None or not _over_patches(reader, reader.nodes[total]):
        return False
    used = [soft, weighted, total, relu]
    context = reader.nodes[total].output[0]
    expand = _only(reader, context, "Expand")
    if expand is not None:
        used.append(expand)
        shape_at = reader.makers.get(reader.nodes[expand].input[1])
        if shape_at is not None and reader.nodes[shape_at].op_type == "Shape":
            used.append(shape_at)
        context = reader.nodes[expand].output[0]
    product = _only(reader, context, "Mul")
    if product is None or _only(reader, reader.nodes[relu].output[0], "Mul") != product:
        return False
    out = _only(reader, reader.nodes[product].output[0], "Conv")
    weight = reader.ahead(reader.nodes[out].input[1]) if out is not None else None
    if weight is None or weight.dims is None or tuple(weight.dims) != (channels, channels, 1, 1) \
            or attributes(reader.nodes[out]).get("group", 1) != 1 \
            or pointwise(value, attributes(reader.nodes[out])) is None:
        return False
    bias = item.get("bias", True)
    out_bias = len(reader.nodes[out].input) > 2 and bool(reader.nodes[out].input[2])
    if bias != out_bias:
        return False
    used += [product, out]
    name = item["name"].rsplit(".", 1)[0] if "." in item["name"] else None
    weight_name = reader.weights_of.get(value.layer)
    reader.retract(value.layer)
    keys = {"patch": value.layout.patch, **({} if bias else {"bias": False})}
    result = reader.emit(node, "separableattention", [source], keys, weight=weight_name, layout=value.layout,
                         base=name)
    reader.skip.update(used)
    reader.values[reader.nodes[out].output[0]] = result
    return True


def _only(reader, name, op):
    """The index of the node that alone reads ``name``, when it is an ``op``; else None."""
    at = reader.only_reader(name)
    return at if at is not None and reader.nodes[at].op_type == op else None


def _over_patches(reader, node):
    """Whether the ReduceSum sums the last axis (the patches) and keeps it."""
    attrs = attributes(node)
    if not attrs.get("keepdims", 1):
        return False
    if len(node.input) > 1 and node.input[1]:
        axes = reader.ahead(node.input[1])
        axes = axes.array() if axes is not None else None
        axes = None if axes is None else axes.reshape(-1).tolist()
    else:
        axes = attrs.get("axes")
    return axes is not None and [a % 4 for a in axes] == [3]
