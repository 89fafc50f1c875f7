"""ONNX operators that are layers with weights or windows: convolutions, dense layers, batch norm, pools.

Their params are the elements of the initializers they use as weights (W and B; scale and B for batch
norm, whose mean and var are buffers), so an exported model reports what the framework counted. Each
operator function takes the :class:`~cnncalc.onnx.graph.GraphReader`, the node and its attributes.
"""

from . import tokens
from . import positions, qkv_biases, separable
from .derived import standardisation_roles
from .tensors import attributes, channels_last, elements, initializer_kind, number, pair, shape_text


def _spatial(reader, node, attrs, shape, kernel, extra=None):
    """stride, pad, dilation keys of a windowed op on 1-, 2- or 3-d maps (ONNX pads are begins then ends);
    ``extra`` is a zero Pad before it (the begins of each spatial axis, then the ends: [top, left, bottom, right]
    in 2-d), added to its own padding."""
    axes = len(shape) - 2
    if axes not in (1, 2, 3) or len(kernel) != axes:
        raise reader.unsupported(node, f"a {axes}-d {node.op_type} (cnncalc reads 1-, 2- and 3-d maps, "
                                       f"N x C x [D x] H x W)")
    strides = list(attrs.get("strides", [1] * axes))
    dilations = list(attrs.get("dilations", [1] * axes))
    keys = {"kernel": pair(kernel), "stride": pair(strides)}
    auto = attrs.get("auto_pad", "NOTSET")
    if extra is not None:
        if auto in ("SAME_UPPER", "SAME_LOWER") or len(extra) != 2 * axes:
            raise reader.unsupported(node, "a Pad before a Conv with auto_pad SAME")
        own = [0] * (2 * axes) if auto == "VALID" else list(attrs.get("pads", [0] * (2 * axes)))
        keys["pad"] = _pads([a + b for a, b in zip(own, extra)])
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        lows, highs = [], []
        for size, k, s, d in zip(shape[2:], kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            low = total // 2 if auto == "SAME_UPPER" else total - total // 2
            lows.append(low)
            highs.append(total - low)
        keys["pad"] = "same" if auto == "SAME_UPPER" else _pads(lows + highs)
    elif auto == "VALID":
        keys["pad"] = 0
    else:
        keys["pad"] = _pads(list(attrs.get("pads", [0] * (2 * axes))))
    if dilations != [1] * axes:
        keys["dilation"] = pair(dilations)
    return keys


def _pads(pads):
    """ONNX pads (the begins of each axis, then the ends) as a spec pad: one number, one per axis, or
    before and after on each axis ([top, bottom, left, right] in 2-d)."""
    pads = [int(p) for p in pads]
    half = len(pads) // 2
    begins, ends = pads[:half], pads[half:]
    if begins == ends:
        return pair(begins)
    return [value for pair_ in zip(begins, ends) for value in pair_]


def _drop_defaults(keys):
    """A conv's stride 1 and pad 0 go unsaid, as in the built-in specs."""
    for key, default in (("stride", 1), ("pad", 0)):
        if keys.get(key) == default:
            del keys[key]


def _has_bias(reader, node, position, count, what):
    """Whether the node has a bias of ``count`` values stored in the file (see Const.stored)."""
    if len(node.input) <= position or not node.input[position]:
        return False
    const = reader.const(node, node.input[position], what)
    if not const.stored:
        return False
    if elements(const.dims) != count:
        raise reader.unsupported(node, f"{what} has {elements(const.dims)} values, not one per output ({count})")
    return True


# --- convolutions and dense layers ----------------------------------------------------------------

def conv(reader, node, attrs):
    source, weight = node.input[0], node.input[1]
    extra = None
    pending = reader.values.get(source)
    if pending is not None and pending.gate and pending.gate[0] == "pad":
        _, source, extra = pending.gate
    layout = separable.pointwise(reader.values.get(source), attrs)  # MobileViT v2's patches: 1x1 convs read the map
    shape = reader.value(node, source, any_layout=layout is not None).shape
    const = reader.const(node, weight, "the Conv weight")
    dims, gains = const.dims, []
    if not const.proto and (dims is None or len(dims) != len(shape) or _learned_count(reader, const) > 1):
        # a weight computed from initializers, by more than a cast or a transpose (NFNet's standardization)
        dims, weight, gains = _computed_weight(reader, node, const, len(shape))
    if dims is None or len(dims) != len(shape):
        raise reader.unsupported(node, f"the weight '{weight}' must be a {len(shape)}-d initializer")
    groups = attrs.get("group", 1)
    if dims[1] * groups != shape[1]:
        raise reader.fail(node, f"the weight {shape_text(dims)} with {groups} group(s) does not fit "
                                f"{shape[1]} input channels")
    keys = {"filters": dims[0]}
    keys.update(_spatial(reader, node, attrs, shape, attrs.get("kernel_shape", dims[2:]), extra))
    bias = _has_bias(reader, node, 2, dims[0], "the Conv bias")
    type_name = "conv"
    if groups > 1:
        if groups == shape[1] == dims[0]:
            type_name = "dwconv"
            del keys["filters"]
        else:
            keys["groups"] = groups
    if not bias:
        keys["bias"] = False
    _drop_defaults(keys)
    value = reader.emit(node, type_name, [source], keys, weight=weight, layout=layout)
    for gain in gains:  # gain * W, one value per filter: the same as a scale of the conv's output
        if elements(reader.consts[gain].dims) != dims[0]:
            raise reader.unsupported(node, f"the weight is computed from '{gain}' of "
                                           f"{elements(reader.consts[gain].dims)} values (cnncalc counts one "
                                           f"learned gain per filter)")
        reader.values[node.output[0]] = value
        value = reader.emit(node, "scale", [node.output[0]], weight=gain, op_name="gain")
    reader.set_output(node, value)


def _learned_count(reader, const):
    return sum(1 for name in const.sources if initializer_kind(name, reader.initializers.get(name)) == "param")


def _computed_weight(reader, node, const, rank):
    """The initializers a computed Conv weight comes from: the weight itself (the one learned tensor of the
    conv's rank: its dims, counted once) and learned gains (one per filter, a ``scale`` after the conv).
    A float initializer torch.export derived is read by its place in the BatchNormalization that standardises
    the weight (see :func:`.derived.standardisation_roles`): at the scale, NF-ResNet's gain times its constant
    (one value per filter: the gain); the zeros it writes for the absent bias are not params. Any other is
    refused: its params cannot be told."""
    def kind(name):
        return initializer_kind(name, reader.initializers.get(name))

    learned = [name for name in sorted(const.sources) if kind(name) == "param"]
    weights = [name for name in learned if len(reader.consts[name].dims or ()) == rank
               and elements(reader.consts[name].dims) > (reader.consts[name].dims or (0,))[0]]  # not a gain
    derived = [name for name in sorted(const.sources) if kind(name) is None
               and reader.initializers[name].data_type in (1, 10, 11, 16) and elements(reader.consts[name].dims) > 1]
    roles = standardisation_roles(reader, node.input[1]) if derived else {}
    folded = [name for name in derived if roles.get(name) == "weight"]
    if not weights and len(folded) == 1:  # the learned weight itself, as the TorchScript exporter folded it
        held = reader.consts[folded[0]].dims  # 1 x Cout x Cin/groups*K
        kernel = tuple(attributes(node).get("kernel_shape", ()))
        dims = (held[1], held[2] // elements(kernel)) + kernel if len(held) == 3 and len(kernel) == rank - 2 \
            and kernel and held[2] % elements(kernel) == 0 else None
        # the others its statistics are computed from: copies of the weight (the same elements), not params
        copies = all(roles.get(name) in ("weight", "gain", "literal") or elements(reader.consts[name].dims)
                     == elements(held) for name in derived)
        if dims is not None and copies:
            return dims, folded[0], learned + [name for name in derived if roles.get(name) == "gain"]
    unknown = [name for name in derived if roles.get(name) not in ("gain", "literal")]
    if len(weights) != 1 or unknown:
        what = f"'{unknown[0]}', a tensor the exporter derived" if unknown else "initializers"
        raise reader.unsupported(node, f"the Conv weight is computed from {what} (cnncalc reads a weight computed "
                                       f"from one learned weight and per-filter gains)")
    gains = [name for name in derived if roles[name] == "gain"]
    return reader.consts[weights[0]].dims, weights[0], [name for name in learned if name != weights[0]] + gains


def conv_transpose(reader, node, attrs):
    source, weight = node.input[0], node.input[1]
    shape = reader.value(node, source).shape
    dims = reader.const(node, weight, "the ConvTranspose weight").dims
    groups = attrs.get("group", 1)
    if dims is None or len(dims) != len(shape) or dims[0] != shape[1]:
        raise reader.unsupported(node, f"the weight '{weight}' must be a {len(shape)}-d initializer of "
                                       f"{shape[1]} input channels")
    if "output_shape" in attrs or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise reader.unsupported(node, "output_shape and auto_pad SAME on ConvTranspose are not supported; "
                                       "give pads")
    keys = {"filters": dims[1] * groups}
    keys.update(_spatial(reader, node, attrs, shape, attrs.get("kernel_shape", dims[2:])))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise reader.unsupported(node, f"unequal pads {pads} on a ConvTranspose")
    keys["pad"] = pair(pads[:2])
    if attrs.get("output_padding", [0, 0]) != [0, 0]:
        keys["output_pad"] = pair(list(attrs["output_padding"]))
    if groups > 1:
        keys["groups"] = groups
    if not _has_bias(reader, node, 2, keys["filters"], "the ConvTranspose bias"):
        keys["bias"] = False
    _drop_defaults(keys)
    reader.set_output(node, reader.emit(node, "convtranspose", [source], keys, weight=weight))


def gemm(reader, node, attrs):
    source, weight = node.input[0], node.input[1]
    shape = reader.value(node, source).shape
    if attrs.get("transA", 0) or len(shape) != 2:
        raise reader.unsupported(node, "Gemm on a transposed or not 2-d input")
    dims = reader.const(node, weight, "the Gemm weight B").dims
    if dims is None or len(dims) != 2:
        raise reader.unsupported(node, f"the weight '{weight}' must be a 2-d initializer")
    features, units = (dims[1], dims[0]) if attrs.get("transB", 0) else dims
    if features != shape[1]:
        raise reader.fail(node, f"the weight {shape_text(dims)} does not fit {shape[1]} input features")
    keys = {"units": units}
    if not _has_bias(reader, node, 2, units, "the Gemm bias C"):
        keys["bias"] = False
    reader.set_output(node, reader.emit(node, "fc", [source], keys, weight=weight))


def matmul(reader, node, attrs):
    """MatMul by a constant: ``fc``, whose bias is an Add of a constant vector that alone reads it."""
    source, weight = node.input
    if weight in reader.values or source not in reader.values:
        raise reader.unsupported(node, "MatMul of two computed tensors (cnncalc reads MatMul with a constant "
                                       "weight as a fully connected layer)")
    shape = reader.value(node, source, any_layout=True).shape
    dims = reader.const(node, weight, "the MatMul weight").dims
    if dims is None or len(dims) != 2 or len(shape) < 2:
        raise reader.unsupported(node, f"MatMul of {shape_text(shape)} by {shape_text(dims or ())}: cnncalc reads "
                                       f"a tensor times a 2-d constant over its channels as a fully connected layer")
    type_name, layout = "fc", None
    if len(shape) > 2:
        keys, layout = positions.linear(reader, node, source, dims, weight)
        type_name = "linear"
    elif dims[0] != shape[1]:
        raise reader.fail(node, f"the weight {shape_text(dims)} does not fit {shape[1]} input features")
    keys = {"units": dims[1], "bias": False, **({"over": "tokens"} if layout == tokens.TRANSPOSED else {})}
    bias_add = reader.only_reader(node.output[0])
    if bias_add is not None:
        add = reader.nodes[bias_add]
        other = [name for name in add.input if name != node.output[0]]
        if (add.op_type == "Add" and len(other) == 1 and other[0] in reader.consts
                and elements(reader.consts[other[0]].dims) == dims[1]):
            del keys["bias"]
            reader.skip.add(bias_add)
            value = reader.emit(node, type_name, [source], keys, weight=weight, layout=layout,
                                      any_layout=True)
            reader.set_output(node, value)
            reader.values[add.output[0]] = value
            qkv_biases.note_k_buffer(reader, value.layer, other[0], dims[1])  # BEiT's cat(q_bias, k zeros, v_bias)
            return
    reader.set_output(node, reader.emit(node, type_name, [source], keys, weight=weight, layout=layout,
                                      any_layout=True))


def batch_norm(reader, node, attrs):
    source = node.input[0]
    channels = reader.value(node, source).shape[1]
    for name, what in zip(node.input[1:5], ("scale", "B", "mean", "var")):
        dims = reader.const(node, name, f"the BatchNormalization {what}").dims
        if elements(dims) != channels:
            raise reader.unsupported(node, f"the {what} '{name}' has {elements(dims)} values for {channels} "
                                           f"channels")
    reader.set_output(node, reader.emit(node, "bn", [source], weight=node.input[1]))


def lrn(reader, node, attrs):
    keys = {"size": attrs["size"], "alpha": number(attrs.get("alpha", 1e-4)),
            "beta": number(attrs.get("beta", 0.75)), "k": number(attrs.get("bias", 1.0))}
    reader.set_output(node, reader.emit(node, "lrn", [node.input[0]], keys))


# --- pooling --------------------------------------------------------------------------------------

def _pool(reader, node, attrs, type_name):
    source = node.input[0]
    shape = reader.value(node, source).shape
    keys = _spatial(reader, node, attrs, shape, attrs["kernel_shape"])
    if attrs.get("ceil_mode", 0):
        keys["ceil_mode"] = True
    if type_name == "avgpool":
        keys.pop("dilation", None)
    if keys["pad"] == 0:
        del keys["pad"]  # the stride stays: a pool's default stride is its kernel, ONNX's is 1
    reader.set_output(node, reader.emit(node, type_name, [source], keys))


def max_pool(reader, node, attrs):
    if len(node.output) > 1 and node.output[1]:
        raise reader.unsupported(node, "MaxPool with an indices output")
    _pool(reader, node, attrs, "maxpool")


def average_pool(reader, node, attrs):
    _pool(reader, node, attrs, "avgpool")


def global_average_pool(reader, node, attrs):
    reader.set_output(node, reader.emit(node, "globalavgpool", [node.input[0]]))


def global_max_pool(reader, node, attrs):
    reader.set_output(node, reader.emit(node, "globalmaxpool", [node.input[0]]))


def _reduce(reader, node, attrs, type_name):
    """ReduceMean/ReduceMax over H and W: a global pool (then a flatten when the dims are not kept); of a
    channels-last map (timm's NHWC head: x.mean((1, 2))), over the axes that hold H and W."""
    from .partitions import Partitioned

    source = reader.value(node, node.input[0], any_layout=True)
    layout = source.layout if not source.tokens and not isinstance(source.layout, Partitioned) else None
    if (source.layout is not None or source.tokens) and layout != channels_last(len(source.shape)):
        source = reader.value(node, node.input[0])  # the one error line for this layout
    shape = source.shape
    if len(node.input) > 1 and node.input[1]:
        axes = reader.known(node, node.input[1], "the axes").reshape(-1).tolist()
    else:
        axes = attrs.get("axes")
    rank = len(shape)
    positions = list(range(1, rank - 1)) if layout else list(range(2, rank))
    if rank < 3 or axes is None or sorted(a % rank for a in axes) != positions:
        raise reader.unsupported(node, f"{node.op_type} over axes {axes} (cnncalc reads a reduction over the "
                                       f"positions, H and W, as a global pool)")
    keep = attrs.get("keepdims", 1)
    value = reader.emit(node, type_name, [node.input[0]], layout=layout if keep else None, any_layout=True)
    if not keep:
        reader.values[node.output[0]] = value
        value = reader.emit(node, "flatten", [node.output[0]], suffix=".flatten")
    reader.set_output(node, value)


def reduce_mean(reader, node, attrs):
    if tokens.mean_tokens(reader, node, attrs, positions._axes(reader, node, attrs)):
        return
    if not positions.reduce_mean_norm(reader, node, attrs):
        _reduce(reader, node, attrs, "globalavgpool")


def reduce_max(reader, node, attrs):
    _reduce(reader, node, attrs, "globalmaxpool")
