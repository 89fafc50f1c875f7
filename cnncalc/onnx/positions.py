"""ONNX operators on tensors held channels-last or as tokens: the layers that act on the channels at each
position (ConvNeXt, Swin, the transformers), whichever exporter wrote them.

A Transpose costs nothing: it changes how a tensor is held (:attr:`Value.layout`), not which layer gives
it. ``[0, 2, 3, 1]`` holds an N x C x H x W map channels-last, ``[0, 3, 1, 2]`` brings it back; what
reads a permuted tensor must act on its channels (LayerNormalization over the last axis -> ``layernorm``,
MatMul by a constant -> ``linear``, a Mul by one value per channel -> ``scale``) or on every element
(activations, Add), and keeps the layout. Anything else on a permuted tensor is one clear error.

Also here: the exporters' elementwise spellings of one layer -- GELU as Div/Erf/Add/Mul/Mul, LayerNorm as
ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div(/Mul/Add) -- and a multiply or divide by a constant scalar,
which has no params and no MACs (attention's 1/sqrt(d)).

Each operator function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes.
"""

from . import affine
from .activations import fold_activation
from .separable import Patches
from .tensors import Value, attributes, channels_last, elements, shape_text
from .tokens import TRANSPOSED


# --- Transpose: a change of layout ------------------------------------------------------------------

def relayout(reader, node, perm):
    """Set the Transpose's output as its input held in a new layout; False when the layout is not one
    cnncalc follows (channels-last of a map, tokens x features, or back)."""
    value = reader.values.get(node.input[0])
    if value is None or value.gate is not None or value.tokens:
        return False  # tokens transposed (MLP-Mixer's token mixing) have no spec layer
    rank = len(value.shape)
    current = value.layout or tuple(range(rank))
    if sorted(perm) != list(range(rank)):
        return False
    layout = tuple(current[p] for p in perm)
    shape = tuple(value.shape[p] for p in perm)
    if layout == tuple(range(rank)):
        reader.set_output(node, Value(value.layer, shape, own=False))
        return True
    if rank >= 3 and layout == channels_last(rank):
        reader.set_output(node, Value(value.layer, shape, own=False, layout=layout))
        return True
    return False


# --- layers on the channels at each position ----------------------------------------------------------

def layer_normalization(reader, node, attrs):
    """LayerNormalization over the last axis, the channels: ``layernorm`` (scale and B: 2C params)."""
    value = reader.value(node, node.input[0], any_layout=True)
    rank = len(value.shape)
    axis = attrs.get("axis", -1) % rank
    if axis != rank - 1 or value.channel_axis != rank - 1:
        raise reader.unsupported(node, f"a LayerNormalization of {shape_text(value.shape)} from axis {axis} (cnncalc "
                                       f"reads a layer norm over the channels, the last axis of a channels-last "
                                       f"or token tensor)")
    _norm(reader, node, value, node.input[1], node.input[2] if len(node.input) > 2 else "", node.output[0])


def _norm(reader, node, value, scale, bias, output, emit_from=None):
    channels = value.shape[value.channel_axis]
    keys = {}
    if scale and (not bias or affine.written_zeros(reader, bias)):  # a norm without a shift: the scale's C
        keys["bias"] = False
    if scale or bias:
        for name, what in ((scale, "scale"), (bias, "bias"))[:1 if keys else 2]:
            if not name:
                raise reader.unsupported(node, f"a layer norm without a {what} (cnncalc's layernorm has both or "
                                               f"neither: affine)")
            count = elements(reader.const(node, name, f"the layer norm {what}").dims)
            if count != channels:
                raise reader.unsupported(node, f"the layer norm {what} '{name}' has {count} values for {channels} "
                                               f"channels")
    else:
        keys["affine"] = False
    result = reader.emit(node, "layernorm", [emit_from or node.input[0]], keys, weight=scale or None,
                         layout=value.layout, any_layout=True)
    reader.values[output] = result


def linear(reader, node, source, weight_dims, weight):
    """MatMul of a channels-last or token tensor by a constant in x out: ``linear`` on its channels,
    with the Add of a constant vector after it as its bias."""
    value = reader.value(node, source, any_layout=True)
    if value.tokens and value.layout == TRANSPOSED:  # mixing the tokens (MLP-Mixer)
        if weight_dims[0] != value.shape[-1]:
            raise reader.unsupported(node, f"a MatMul mixing {value.shape[-1]} tokens by a weight for "
                                           f"{weight_dims[0]} ({shape_text(weight_dims)}): the model was exported "
                                           f"for another input size")
        return {"units": weight_dims[1], "over": "tokens"}, value.layout
    if value.channel_axis != len(value.shape) - 1:
        raise reader.unsupported(node, f"a MatMul of {shape_text(value.shape)} by {shape_text(weight_dims)} over "
                                       f"axis {len(value.shape) - 1}, which is not the channels (cnncalc reads a "
                                       f"MatMul by a constant over the channels as a linear layer)")
    if weight_dims[0] != value.shape[-1]:
        raise reader.fail(node, f"the weight {shape_text(weight_dims)} does not fit {value.shape[-1]} channels")
    return {"units": weight_dims[1]}, value.layout


def scale_by_constant(reader, node, attrs):
    """Mul or Div of a computed tensor by a constant: nothing when a scalar (no params, no MACs), a
    ``scale`` (C params) when one value per channel, the start of GELU's Erf form when it is one."""
    from . import branches
    from .gelu import gelu_tanh

    if node.op_type == "Mul" and (gelu_tanh(reader, node) or branches.mul(reader, node)):
        return
    computed = [name for name in node.input if name in reader.values]
    constant = [name for name in node.input if name not in reader.values]
    if len(computed) != 1 or len(constant) != 1 or (node.op_type == "Div" and node.input[0] != computed[0]):
        if node.op_type == "Div":
            raise reader.unsupported(node, "a Div of two computed tensors, or of a constant by a tensor")
        from .activations import mul
        return mul(reader, node, attrs)
    source, factor = computed[0], constant[0]
    if gelu_erf(reader, node, source, factor):
        return
    value = reader.value(node, source, any_layout=True)
    const = reader.const(node, factor, "a constant factor")
    count = elements(const.dims)
    if count == 1:
        if affine.learned(reader, factor):
            if node.op_type != "Mul":
                raise reader.unsupported(node, f"a Div by the learned scalar '{factor}' (cnncalc reads a Mul by one "
                                               f"learned factor as a scale layer with shared: true)")
            return reader.set_output(node, reader.emit(node, "scale", [source], {"shared": True}, weight=factor,
                                                       layout=value.layout, any_layout=True,
                                                       base=factor if "." in factor else None))
        return reader.set_output(node, value.passed_on())
    dims = const.dims
    if node.op_type == "Mul" and affine.per_channel(value, dims):
        return affine.scale(reader, node, source, factor, value)
    raise reader.unsupported(node, f"a {node.op_type} of {shape_text(value.shape)} by a constant "
                                   f"{shape_text(dims or ())} (cnncalc reads a scalar factor, or a Mul by one "
                                   f"learned value per channel as a scale layer)")


# --- GELU as the exporters spell it ---------------------------------------------------------------

SQRT2 = 2 ** 0.5


def _scalar(reader, name):
    const = reader.ahead(name)
    if const is None or elements(const.dims) != 1:
        return None
    array = const.array()
    return None if array is None else float(array.reshape(-1)[0])


def _next(reader, name, op):
    """The only node reading tensor ``name`` when it is an ``op``, else None."""
    at = reader.only_reader(name)
    if at is None or reader.nodes[at].op_type != op:
        return None
    return at


def _other(node, name):
    others = [x for x in node.input if x != name]
    return others[0] if len(others) == 1 else None


def gelu_erf(reader, node, source, factor):
    """x/sqrt(2) (or x*(1/sqrt(2))) -> Erf -> +1 -> *x -> *0.5 (the 0.5 may first multiply x): one GELU."""
    value = _scalar(reader, factor)
    wanted = SQRT2 if node.op_type == "Div" else 1 / SQRT2
    if value is None or abs(value - wanted) > 1e-4:
        return False
    erf = _next(reader, node.output[0], "Erf")
    add = erf is not None and _next(reader, reader.nodes[erf].output[0], "Add")
    if not add or _scalar(reader, _other(reader.nodes[add], reader.nodes[erf].output[0]) or "") != 1:
        return False
    product = _next(reader, reader.nodes[add].output[0], "Mul")
    if product is None:
        return False
    other = _other(reader.nodes[product], reader.nodes[add].output[0])
    nodes = [erf, add, product]
    if other == source:
        half = _next(reader, reader.nodes[product].output[0], "Mul")
        if half is None or _scalar(reader, _other(reader.nodes[half], reader.nodes[product].output[0]) or "") != 0.5:
            return False
        nodes.append(half)
    else:  # 0.5 * x first, by a node before or after this one
        maker = next((i for i in reader.readers.get(source, []) if i is not None
                      and reader.nodes[i].op_type == "Mul" and other in reader.nodes[i].output), None)
        if maker is None or _scalar(reader, _other(reader.nodes[maker], source) or "") != 0.5:
            return False
        nodes.append(maker)
    index = reader.index
    readers = reader.readers.get(source, [])
    # the GELU is x's only use when x is read by this node and the 0.5 * x alone
    only = sorted(readers) == sorted({index} | ({nodes[-1]} if other != source else {product}))
    result = fold_activation(reader, node, source, "gelu", alone=only)
    for at in nodes:
        reader.skip.add(at)
    reader.values[reader.nodes[nodes[-1] if other == source else product].output[0]] = result
    return True


# --- LayerNorm as the exporters spell it --------------------------------------------------------------

def reduce_mean_norm(reader, node, attrs):
    """ReduceMean over the channels -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div (-> Mul scale ->
    Add shift): one ``layernorm``. True when the ReduceMean starts one (and it is read)."""
    source = node.input[0]
    value = reader.values.get(source)
    if value is None or value.gate is not None:
        return False
    rank = len(value.shape)
    axes = _axes(reader, node, attrs)
    if axes is None or [a % rank for a in axes] != [value.channel_axis] or not attrs.get("keepdims", 1):
        return False
    mean = node.output[0]
    subs = [i for i in reader.readers.get(mean, []) if i is not None and reader.nodes[i].op_type == "Sub"
            and list(reader.nodes[i].input) == [source, mean]]
    if len(subs) != 1 or len(reader.readers.get(mean, [])) != 1:
        return False
    sub = reader.nodes[subs[0]]
    centred = sub.output[0]
    users = [i for i in reader.readers.get(centred, []) if i is not None]
    square = next((i for i in users if reader.nodes[i].op_type == "Pow"
                   and _scalar(reader, reader.nodes[i].input[1]) == 2), None)
    if square is None:
        square = next((i for i in users if reader.nodes[i].op_type == "Mul"
                       and list(reader.nodes[i].input) == [centred, centred]), None)
    divide = next((i for i in users if reader.nodes[i].op_type == "Div" and reader.nodes[i].input[0] == centred), None)
    if square is None or divide is None or len(users) != 2:
        return False
    variance = _next(reader, reader.nodes[square].output[0], "ReduceMean")
    if variance is None or _axes(reader, reader.nodes[variance], _attrs(reader, variance)) != axes:
        return False
    eps = _next(reader, reader.nodes[variance].output[0], "Add")
    root = eps is not None and _next(reader, reader.nodes[eps].output[0], "Sqrt")
    if not root or reader.nodes[divide].input[1] != reader.nodes[root].output[0]:
        return False
    used = [subs[0], square, variance, eps, root, divide]
    out = reader.nodes[divide].output[0]
    scale = bias = ""
    times = _next(reader, out, "Mul")
    if times is not None:
        scale = _other(reader.nodes[times], out) or ""
        plus = _next(reader, reader.nodes[times].output[0], "Add")
        bias = _other(reader.nodes[plus], reader.nodes[times].output[0]) or "" if plus is not None else ""
        if scale in reader.consts and bias in reader.consts:
            used += [times, plus]
            out = reader.nodes[plus].output[0]
        else:
            scale = bias = ""
    for at in used:
        reader.skip.add(at)
    _norm(reader, node, value, scale, bias, out, emit_from=source)
    return True


def _attrs(reader, at):
    from .tensors import attributes
    return attributes(reader.nodes[at])


def _axes(reader, node, attrs):
    if len(node.input) > 1 and node.input[1]:
        const = reader.consts.get(node.input[1])
        array = const.array() if const is not None else None
        return None if array is None else [int(a) for a in array.reshape(-1)]
    axes = attrs.get("axes")
    return None if axes is None else [int(a) for a in axes]


# --- GroupNorm and Sub as timm's PoolFormer writes them -------------------------------------------------

def group_norm(reader, node, dims, target):
    """Reshape N x C x H x W to N x G x -1 -> InstanceNormalization -> Reshape back (-> Mul by the scale,
    Add the shift, one per channel): ``groupnorm`` with G groups. True when the Reshape starts one."""
    value = reader.values[node.input[0]]
    if (value.layout is not None and not isinstance(value.layout, Patches)) or value.tokens or len(dims) < 3 \
            or len(target) != 3 or target[0] != dims[0] or not target[1] or dims[1] % target[1]:
        return False
    groups = target[1]
    norm = _next(reader, node.output[0], "InstanceNormalization")
    back = norm is not None and _next(reader, reader.nodes[norm].output[0], "Reshape")
    if not back:
        return False
    for name in reader.nodes[norm].input[1:3]:
        const = reader.ahead(name) if name else None
        if const is None or elements(const.dims) != groups:
            return False
    used, out, scale = [norm, back], reader.nodes[back].output[0], ""
    times = _next(reader, out, "Mul")
    plus = times is not None and _next(reader, reader.nodes[times].output[0], "Add")
    if plus:
        factor = _other(reader.nodes[times], out)
        shift = _other(reader.nodes[plus], reader.nodes[times].output[0])
        consts = [reader.ahead(name) if name else None for name in (factor, shift)]
        if all(c is not None and c.stored and elements(c.dims) == dims[1] and max(c.dims) == dims[1]
               for c in consts):
            used += [times, plus]
            out, scale = reader.nodes[plus].output[0], factor
    for at in used:
        reader.skip.add(at)
    keys = {"groups": groups} if scale else {"groups": groups, "affine": False}
    reader.values[out] = reader.emit(node, "groupnorm", [node.input[0]], keys, weight=scale or None,
                                     op_name="groupnorm", layout=value.layout)
    return True


def sub(reader, node, attrs):
    """Sub of two computed tensors of one shape (PoolFormer's pool(x) - x): ``sub``."""
    of_computed(reader, node, "sub", "a Sub of a constant (cnncalc reads a Sub of two computed tensors, and inside "
                                     "a written-out LayerNorm)")


def of_computed(reader, node, type_name, refusal):
    """An Add or Sub of computed tensors held in one layout as ``type_name``; ``refusal`` when one is a constant."""
    if any(name not in reader.values for name in node.input):
        raise reader.unsupported(node, refusal)
    layouts = {reader.value(node, name, any_layout=True).layout for name in node.input}
    if len(layouts) != 1:
        raise reader.unsupported(node, f"an {node.op_type} of tensors held in different layouts (channels-first "
                                       f"and -last)")
    reader.set_output(node, reader.emit(node, type_name, list(node.input), layout=layouts.pop(), any_layout=True))


def partial_shortcut(reader, node, window, dims):
    """ReXNet's shortcut onto the first channels: Concat([x[:, :C] + s, x[:, C:]]) is x plus s padded with
    zero channels -- ``pad`` (channels [0, T - C]) and ``add``: the same shape and counts. True when the
    channel Slice ``node`` is one of its two Slices."""
    source = node.input[0]
    own = reader.index
    if list(window) != [1] or window[1][2] != 1:
        return False
    begin, stop, _ = window[1]
    if begin == 0:
        add = _next(reader, node.output[0], "Add")
        concat = add is not None and _next(reader, reader.nodes[add].output[0], "Concat")
    else:
        concat = _next(reader, node.output[0], "Concat")
    if not concat:
        return False
    joined = reader.nodes[concat]
    if len(joined.input) != 2 or attributes(joined).get("axis", 0) % len(dims) != 1:
        return False
    first, second = (reader.makers.get(name) for name in joined.input)
    if first is None or second is None or reader.nodes[first].op_type != "Add" \
            or reader.nodes[second].op_type != "Slice" or reader.nodes[second].input[0] != source:
        return False
    add = reader.nodes[first]
    slices = [reader.makers.get(name) for name in add.input]
    head = next((i for i in slices if i is not None and reader.nodes[i].op_type == "Slice"
                 and reader.nodes[i].input[0] == source), None)
    if head is None or own not in (head, second):
        return False
    shortcut = _other(add, reader.nodes[head].output[0])
    value = reader.values.get(shortcut)
    if value is None or value.gate is not None or value.layout is not None or len(value.shape) != len(dims) \
            or value.shape[2:] != dims[2:] or value.shape[1] >= dims[1]:
        return False
    padded = reader.emit(node, "pad", [shortcut], {"channels": [0, dims[1] - value.shape[1]]}, op_name="pad")
    reader.values[node.output[0] + "#padded"] = padded
    result = reader.emit(add, "add", [source, node.output[0] + "#padded"], op_name="add")
    for at in (head, second, first, concat):
        reader.skip.add(at)
    reader.values[joined.output[0]] = result
    return True
