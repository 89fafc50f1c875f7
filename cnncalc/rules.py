"""One rule per layer type: output shape, params, buffers, MACs, flop and the receptive-field step.

Stage three of the pipeline. Every layer type is a function registered with ``@rule`` together
with the keys it accepts; :func:`apply` validates a layer's keys and runs its rule. A rule returns
a :class:`Cost`. The counting conventions (see README) are written beside each rule:

* MACs: conv ``Cout*H'*W' * (Cin/groups)*Kh*Kw``, fc ``in*out``, linear on a map ``positions*in*out``,
  transposed conv ``Cin*H*W * (Cout/groups)*Kh*Kw``; nothing else. Bias adds are not counted.
* flop (lecture): MACs, plus ``C*H'*W' * Kh*Kw`` for pooling layers.
* elementwise: the extra work the "2 x MACs + elementwise" FLOPs convention adds
  (one op per output element for activations, bias, add, mul and scale; two for batch norm; four
  for layer/group/instance norm plus one with an affine; the window for pools; the input points an
  interpolated output element reads for upsample).

Shapes are tuples: ``(C, L)``, ``(C, H, W)`` or ``(C, D, H, W)`` for a feature map of rank 1, 2 or 3
(the input's rank), ``(N,)`` for a flat vector. Sizes per spatial axis (kernel, stride, pad...) are
tuples of that rank.
"""

import math
from fractions import Fraction

from .errors import did_you_mean
from .spec import MAX_SIZE, REFERENCE_KEYS

REQUIRED = object()
# PyTorch counts a tensor's elements in an int64; a larger output is an error, not a number.
MAX_ELEMENTS = 2**63 - 1
# The names of the spatial axes of a map by its rank (C x L, C x H x W, C x D x H x W).
AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


class Cost:
    __slots__ = ("shape", "params", "buffers", "macs", "flops", "elementwise", "window",
                 "filters", "kernel", "stride", "pad", "warnings", "explain", "fits", "act")

    def __init__(self, shape, params=0, buffers=0, macs=0, flops=None, elementwise=0, window=None):
        self.shape = shape
        self.params = params
        self.buffers = buffers
        self.macs = macs
        self.flops = macs if flops is None else flops
        self.elementwise = elementwise
        # receptive-field step per spatial axis: ((k, s, d), ...) with s possibly a Fraction (upsampling),
        # "global" (the window is the whole map), or None (unchanged)
        self.window = window
        self.filters = self.kernel = self.stride = self.pad = self.act = None
        self.warnings = []
        # worked arithmetic as (quantity, text) pairs; quantity is one of EXPLAIN_QUANTITIES
        self.explain = []


# What a line of worked arithmetic is about: the per-axis output size, the output shape, params, MACs,
# lecture flop, activation memory, receptive field. Rules, report and formatters tag lines with these;
# the checker picks the lines a quantity needs by tag, never by the words a line starts with.
EXPLAIN_QUANTITIES = ("size", "output_shape", "params", "macs", "flops", "memory", "receptive_field")


# What kind of layer a rule computes, for everything that groups layer types (plot colours, diagram
# captions): a new type names its category once, in its @rule, and appears everywhere.
CATEGORIES = ("conv", "fc", "pool", "global pool", "merge", "other")


class Rule:
    def __init__(self, name, function, keys, inputs, weight, summary, category):
        self.name = name
        self.function = function
        self.keys = keys
        self.inputs = inputs  # 1, or "many"
        self.weight = weight  # counts toward weight-layer depth (conv, fc)
        self.summary = summary
        self.category = category  # one of CATEGORIES


RULES = {}

# Names people write from other frameworks, suggested in the unknown-type error only (never accepted as
# types): PyTorch class names lower-cased without their 1d/2d/3d ending, and common synonyms.
ALIASES = {
    "convolution": "conv", "depthwiseconv": "dwconv", "dense": "fc", "fullyconnected": "fc",
    "fully_connected": "fc", "innerproduct": "fc", "batchnorm": "bn", "batchnormalization": "bn",
    "batch_norm": "bn", "syncbatchnorm": "bn", "maxpooling": "maxpool", "averagepooling": "avgpool",
    "deconv": "convtranspose", "deconvolution": "convtranspose", "conv2dtranspose": "convtranspose",
    "upsampling": "upsample", "upsamplingnearest": "upsample", "upsamplingbilinear": "upsample",
    "interpolate": "upsample", "zeropad": "pad", "zeropadding": "pad", "constantpad": "pad",
    "reflectionpad": "pad", "replicationpad": "pad", "centercrop": "crop", "cropping": "crop",
    "layer_norm": "layernorm", "group_norm": "groupnorm", "instance_norm": "instancenorm",
    "localresponsenorm": "lrn", "layerscale": "scale", "concatenate": "concat", "cat": "concat",
    "channelshuffle": "shuffle", "globalaveragepooling": "globalavgpool", "globalmaxpooling": "globalmaxpool",
    "leaky_relu": "leakyrelu",
}


def rule(*names, keys=None, inputs=1, weight=False, category=None):
    """Register ``function`` as the rule for layer types ``names`` (``category``: see CATEGORIES; merges
    default to "merge", the rest to "other")."""
    category = category or ("merge" if inputs != 1 else "other")
    assert category in CATEGORIES, category

    def register(function):
        summary = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else ""
        for name in names:
            RULES[name] = Rule(name, function, dict(keys or {}), inputs, weight, summary, category)
        return function

    return register


class Layer:
    """What a rule sees: the layer's name, type, validated keys and whether to explain.

    ``references`` holds the output shapes of the layers its reference keys (``like``) name.
    """

    __slots__ = ("name", "type", "p", "decl", "explaining", "warnings", "notes", "fits", "references")

    def __init__(self, decl, type_name, values, explaining, references=None):
        self.decl = decl
        self.name = decl.name
        self.type = type_name
        self.p = values
        self.explaining = explaining
        self.warnings = []
        self.notes = []  # (quantity, text) worked arithmetic gathered before the rule's own lines
        self.fits = True  # every window tiles its padded input exactly
        self.references = references or {}

    def error(self, message, key=None):
        return self.decl.error(message, key)


# --- key validation ---------------------------------------------------------------------------
# A size key holds an int (every spatial axis) or a tuple (one per axis, checked against the input's
# rank by per_axis when the rule runs).

def _describe(value):
    if isinstance(value, bool):
        return f"{value}".lower() + " (a boolean)"
    return repr(value)


def _int(layer, key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and value == value:
            value = int(value)
        else:
            raise layer.error(f"{key} must be a whole number, not {_describe(value)}", key)
    if value < minimum:
        raise layer.error(f"{key} must be at least {minimum}, not {value}", key)
    if value > MAX_SIZE:
        raise layer.error(f"{key} must be at most {MAX_SIZE:,}, not {value:,}", key)
    return value


def _sizes(layer, key, value, minimum, lengths=(1, 2, 3), what="[d, h, w], [h, w] or [l]"):
    if isinstance(value, (list, tuple)):
        if len(value) not in lengths:
            raise layer.error(f"{key} must be one number or a list of one per spatial axis ({what}), "
                              f"not {value!r}", key)
        return tuple(_int(layer, key, v, minimum) for v in value)
    return _int(layer, key, value, minimum)


def check_count(layer, key, value):
    return _int(layer, key, value, 1)


def check_size(layer, key, value):
    return _sizes(layer, key, value, 1)


def check_offset(layer, key, value):
    return _sizes(layer, key, value, 0)


def check_pad(layer, key, value):
    """An int, one per axis, two per axis ([top, bottom, left, right] in 2-D), or the words same/valid."""
    if value in ("same", "valid"):
        return value
    return _sizes(layer, key, value, 0, (1, 2, 3, 4, 6), "one per axis, or before and after on each axis")


def check_flag(layer, key, value):
    if not isinstance(value, bool):
        raise layer.error(f"{key} must be true or false, not {_describe(value)}", key)
    return value


def check_number(layer, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise layer.error(f"{key} must be a number, not {_describe(value)}", key)
    return value


def check_scale(layer, key, value):
    """A positive number (int or float) or a list of one per spatial axis."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not 1 <= len(values) <= 3:
        raise layer.error(f"{key} must be one number or a list of one per spatial axis, not {value!r}", key)
    for v in values:
        if check_number(layer, key, v) <= 0:
            raise layer.error(f"{key} must be positive, not {v!r}", key)
    return tuple(values) if isinstance(value, (list, tuple)) else value


def check_activation(layer, key, value):
    """An activation name, or ``{name: parameter}`` for one that has a parameter (``{leakyrelu: 0.1}``).

    The layer keeps it as text: ``relu``, ``leakyrelu(0.1)``.
    """
    if isinstance(value, dict):
        if len(value) != 1:
            raise layer.error(f"{key} must be one activation, like {{leakyrelu: 0.1}}, not {value!r}", key)
        (name, parameter), = value.items()
        if name not in ACTIVATION_PARAMETERS:
            takes = ", ".join(ACTIVATION_PARAMETERS)
            raise layer.error(f"{key}: {name!r} takes no parameter (these do: {takes})"
                              f"{did_you_mean(name, ACTIVATION_PARAMETERS)}", key)
        check_number(layer, f"{key} {name} ({ACTIVATION_PARAMETERS[name]})", parameter)
        return f"{name}({parameter:g})"
    if value not in ACTIVATIONS:
        raise layer.error(f"{key} must be an activation ({', '.join(ACTIVATIONS)}), not {value!r}"
                          f"{did_you_mean(value, ACTIVATIONS)}", key)
    return value


def check_table(layer, key, value):
    """A connection table: for each output map, the list of input maps it reads (0-based)."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) and row for row in value):
        raise layer.error(f"{key} must be a list with one list of input-map indices per filter", key)
    return [[_int(layer, key, i, 0) for i in row] for row in value]


def check_choice(*choices):
    """A checker for one of the words ``choices``."""

    def check_word(layer, key, value):
        if value not in choices:
            raise layer.error(f"{key} must be one of {', '.join(choices)}, not {_describe(value)}"
                              f"{did_you_mean(value, choices)}", key)
        return value

    check_word.choices = choices
    return check_word


def check_reference(layer, key, value):
    """Another layer's name (resolved by the spec like ``from``); the rule gets that layer's output shape."""
    return layer.references[key]


ACTIVATIONS = ("relu", "relu6", "leakyrelu", "elu", "selu", "gelu", "sigmoid", "tanh", "silu",
               "swish", "hardswish", "hardsigmoid", "mish", "softplus")
# the activations with a parameter, and its name: `act: {leakyrelu: 0.1}`
ACTIVATION_PARAMETERS = {"leakyrelu": "slope", "elu": "alpha", "softplus": "beta"}

WINDOW_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, 1), "pad": (check_pad, 0),
               "dilation": (check_size, 1)}
CONV_KEYS = {"filters": (check_count, REQUIRED), **WINDOW_KEYS, "groups": (check_count, 1),
             "bias": (check_flag, True), "act": (check_activation, None), "connections": (check_table, None)}


def validate(decl, rule_, explaining=False, references=None):
    values = {}
    keys = rule_.keys
    for key, raw in decl.keys.items():
        if key not in keys:
            allowed = ", ".join(keys) or "none besides name, type and from"
            raise decl.error(f"unknown key '{key}' for {rule_.name}{did_you_mean(key, keys)} (its keys: {allowed})",
                             key)
    layer = Layer(decl, rule_.name, values, explaining, references)
    for key, (check, default) in keys.items():
        if key in decl.keys and decl.keys[key] is not None:
            values[key] = check(layer, key, decl.keys[key])
        elif default is REQUIRED:
            raise decl.error(f"{rule_.name} needs '{key}'", None)
        else:
            values[key] = default if default is None else check(layer, key, default)
    return layer


def _alias(name):
    """The type a framework's name for a layer means (``Conv2d`` -> conv), or None."""
    word = str(name).lower()
    for ending in ("1d", "2d", "3d"):
        if word.endswith(ending):
            word = word[:-2]
    return ALIASES.get(word) or (word if word in RULES else None)


def lookup(decl, extra_names=()):
    rule_ = RULES.get(decl.type)
    if rule_ is None:
        alias = _alias(decl.type)
        names = list(RULES) + list(extra_names)
        hint = f"; did you mean '{alias}'?" if alias else did_you_mean(decl.type, names)
        raise decl.error(f"unknown layer type '{decl.type}'{hint}", "type")
    return rule_


def apply(decl, in_shapes, explaining=False, block_names=(), references=None):
    """Validate ``decl`` and compute its Cost from the shapes of its inputs.

    ``block_names`` (the spec's blocks) are offered as suggestions for an unknown type;
    ``references`` maps a reference key (``like``) to the output shape of the layer it names.
    """
    rule_ = lookup(decl, block_names)
    if rule_.inputs == 1 and len(in_shapes) != 1:
        raise decl.error(f"{rule_.name} takes one input, but 'from' gives {len(in_shapes)}", "from")
    layer = validate(decl, rule_, explaining, references)
    cost = rule_.function(layer, in_shapes if rule_.inputs != 1 else in_shapes[0])
    if elements(cost.shape) > MAX_ELEMENTS:
        raise decl.error(f"the output {show_shape(cost.shape)} has more than {MAX_ELEMENTS:,} (2^63 - 1) elements")
    cost.warnings = layer.warnings
    cost.fits = layer.fits
    cost.act = layer.p.get("act")
    if explaining:
        cost.explain = layer.notes + cost.explain
    return cost


# --- shared arithmetic ------------------------------------------------------------------------

def elements(shape):
    total = 1
    for size in shape:
        total *= size
    return total


def show_shape(shape):
    return " x ".join(str(s) for s in shape)


def need_map(layer, shape, ranks=(1, 2, 3)):
    """``shape`` if it is a feature map of one of ``ranks``; a layer error otherwise."""
    if len(shape) == 1:
        raise layer.error(f"{layer.type} needs a C x H x W input, but gets a flat vector of {shape[0]}"
                          f" (put it before the flatten/fc layers)")
    if len(shape) - 1 not in ranks:
        kinds = " or ".join(f"{r}-D" for r in ranks)
        raise layer.error(f"{layer.type} works on {kinds} maps only, not on the {len(shape) - 1}-D input "
                          f"{show_shape(shape)}")
    return shape


def axis_names(shape):
    return AXIS_NAMES.get(len(shape) - 1, AXIS_NAMES[2])


def per_axis(layer, key, value, shape):
    """A size key's value with one entry per spatial axis of ``shape`` (a single number serves every axis)."""
    rank = len(shape) - 1
    if not isinstance(value, tuple):
        return (value,) * rank
    if len(value) != rank:
        names = ", ".join(axis_names(shape))
        raise layer.error(f"{key} {list(value)} has {len(value)} entries, but the input {show_shape(shape)} is "
                          f"{rank}-D ({names}): give one number or {rank}", key)
    return value


def per_side(layer, key, value, shape):
    """A pad as (before, after) per spatial axis: one number, one per axis, or two per axis."""
    rank = len(shape) - 1
    if isinstance(value, tuple) and len(value) == 2 * rank:
        return tuple(zip(value[::2], value[1::2]))
    if isinstance(value, tuple) and len(value) != rank:
        names = ", ".join(axis_names(shape))
        raise layer.error(f"{key} {list(value)} has {len(value)} entries, but the input {show_shape(shape)} is "
                          f"{rank}-D ({names}): give one number, {rank} (one per axis) or {2 * rank} (before "
                          f"and after on each axis)", key)
    return tuple((v, v) for v in per_axis(layer, key, value, shape))


def resolve_same_pad(size, kernel, stride, dilation):
    """TensorFlow/PyTorch 'same': output ceil(size/stride); extra padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def window_axis(layer, axis, size, kernel, stride, pads, dilation, ceil_mode=False):
    """Output size along one axis; a warning when the windows leave real input (not padding) unread."""
    before, after = pads
    span = size + before + after - dilation * (kernel - 1) - 1
    if span < 0:
        effective = dilation * (kernel - 1) + 1
        pad_text = f"pad {before}" if before == after else f"pad {before}+{after}"
        raise layer.error(f"kernel {effective if dilation > 1 else kernel} exceeds the padded input "
                          f"{size + before + after} ({axis} {size}, {pad_text})")
    out = span // stride + 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + before:
            out -= 1
    if span % stride:
        layer.fits = False
    # Real input is dropped when the last window (ending at (out-1)*S + D*(K-1), padded coordinates) stops
    # before the last real element (at P + W - 1) by more than the gap the stride leaves between windows anyway
    # (a 1x1 stride-2 conv skips every other column, the last one included, by design).
    gap = max(stride - dilation * (kernel - 1) - 1, 0)
    dropped = before + size - 1 - ((out - 1) * stride + dilation * (kernel - 1)) > gap
    if layer.explaining or dropped:
        formula = window_formula(size, kernel, stride, before, after, dilation)
        if span % stride:
            rounded = "rounded up: ceil_mode" if ceil_mode else "floored"
            text = (f"{formula} = {(span + stride) / stride:g} -> {out} ({rounded}): "
                    f"{'the window does not tile the input' if dropped else 'only padding or skipped input is left'}")
            if dropped:
                layer.warnings.append(f"{axis}: {text}")
            if layer.explaining:
                layer.notes.append(("size", f"output {axis} = {text}"))
        else:
            layer.notes.append(("size", f"output {axis} = {formula} = {out}"))
    return out


def window_formula(size, kernel, stride, before, after, dilation):
    pad = f"2*{before}" if before == after else f"{before}+{after}"
    k = str(kernel) if dilation == 1 else f"{dilation}*({kernel}-1)-1"
    return f"({size} - {k} + {pad})/{stride} + 1"


def window_keys(layer, shape, stride=None):
    """kernel, stride, dilation per spatial axis of ``shape`` (``stride`` given when it defaults to the kernel)."""
    p = layer.p
    kernel = per_axis(layer, "kernel", p["kernel"], shape)
    stride = per_axis(layer, "stride", p["stride"] if stride is None else stride, shape)
    return kernel, stride, per_axis(layer, "dilation", p["dilation"], shape)


def spatial_output(layer, shape, kernel, stride, pad, dilation, ceil_mode=False):
    """The output sizes and the resolved (before, after) pads of a windowed layer, per spatial axis.

    When every axis has the same size and window the arithmetic is done (and explained) once: ``H/W``.
    """
    sizes = shape[1:]
    if pad == "valid":
        pads = ((0, 0),) * len(sizes)
    elif pad == "same":
        pads = tuple(resolve_same_pad(*axis) for axis in zip(sizes, kernel, stride, dilation))
    else:
        pads = per_side(layer, "pad", pad, shape)
    axes = list(zip(sizes, kernel, stride, pads, dilation))
    names = axis_names(shape)
    if len(axes) > 1 and all(axis == axes[0] for axis in axes):
        out = window_axis(layer, "/".join(names), *axes[0], ceil_mode)
        return (out,) * len(axes), pads
    return tuple(window_axis(layer, name, *axis, ceil_mode) for name, axis in zip(names, axes)), pads


def activation_work(layer, shape):
    return elements(shape) if layer.p.get("act") else 0


def product_text(values):
    return "*".join(str(v) for v in values)


# --- convolutions -----------------------------------------------------------------------------

@rule("conv", keys=CONV_KEYS, weight=True, category="conv")
def conv(layer, shape):
    """Convolution (1-D, 2-D or 3-D as the input): Cout*(Cin/groups)*prod(K) weights (+Cout bias);
    MACs Cout*prod(out) * (Cin/groups)*prod(K)."""
    return _convolution(layer, need_map(layer, shape), layer.p["filters"], layer.p["groups"])


@rule("dwconv", keys={**CONV_KEYS, "filters": (check_count, None), "groups": (check_count, None)}, weight=True,
      category="conv")
def dwconv(layer, shape):
    """Depthwise convolution: groups = input channels; filters default to the input channels."""
    channels = need_map(layer, shape)[0]
    filters = layer.p["filters"] or channels
    return _convolution(layer, shape, filters, layer.p["groups"] or channels)


def _check_groups(layer, channels, filters, groups):
    if channels % groups or filters % groups:
        raise layer.error(f"groups {groups} must divide both the input channels {channels} and the filters {filters}",
                          "groups")


def _kernel_names(shape):
    return "*".join(f"K{name.lower()}" for name in axis_names(shape))


def _convolution(layer, shape, filters, groups):
    p = layer.p
    channels = shape[0]
    _check_groups(layer, channels, filters, groups)
    kernel, stride, dilation = window_keys(layer, shape)
    sizes, pad = spatial_output(layer, shape, kernel, stride, p["pad"], dilation)
    window = elements(kernel)
    per_filter = channels // groups * window
    table = p["connections"]
    if table is not None:
        if groups != 1:
            raise layer.error("a connection table and groups cannot be combined", "connections")
        if len(table) != filters:
            raise layer.error(f"connections has {len(table)} rows but the layer has {filters} filters",
                              "connections")
        for row in table:
            for index in row:
                if index >= channels:
                    raise layer.error(f"connections names input map {index}, but the input has {channels} "
                                      f"maps (0-based)", "connections")
        weights = sum(len(row) for row in table) * window
    else:
        weights = filters * per_filter
    bias = filters if p["bias"] else 0
    out = (filters,) + sizes
    macs = elements(sizes) * weights
    cost = Cost(out, params=weights + bias, macs=macs,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out),
                window=tuple(zip(kernel, stride, dilation)))
    cost.filters, cost.kernel, cost.stride, cost.pad = filters, kernel, stride, pad
    if layer.explaining:
        k_names, k_values = _kernel_names(shape), product_text(kernel)
        positions = "*".join(f"{name}'" for name in axis_names(shape))
        group_text = f"/{groups}" if groups > 1 else ""
        if table is not None:
            links = sum(len(row) for row in table)
            cost.explain += [
                ("params", f"params = (connections)*{k_names} + Cout = {links}*{k_values} + {bias} = {cost.params:,}"
                 if bias else f"params = (connections)*{k_names} = {links}*{k_values} = {cost.params:,}"),
                ("macs", f"MACs = {positions} * (connections)*{k_names} = {product_text(sizes)} * "
                         f"{links}*{k_values} = {macs:,}"),
            ]
        else:
            bias_text = f" + {bias}" if bias else ""
            cost.explain += [
                ("params", f"params = Cout*(Cin{group_text}*{k_names}){' + Cout' if bias else ''} = "
                           f"{filters}*({channels}{group_text}*{k_values}){bias_text} = {cost.params:,}"),
                ("macs", f"MACs = (Cout*{positions}) * (Cin{group_text}*{k_names}) = ({filters}*{product_text(sizes)})"
                         f" * ({channels}{group_text}*{k_values}) = {macs:,}"),
            ]
    return cost


@rule("convtranspose", keys={**CONV_KEYS, "pad": (check_offset, 0), "output_pad": (check_offset, 0)}, weight=True,
      category="conv")
def convtranspose(layer, shape):
    """Transposed conv: out (W-1)*S - 2P + D*(K-1) + output_pad + 1; MACs Cin*prod(in)*(Cout/groups)*prod(K).

    Receptive field: an output position reads floor((K-1)*D/S) + 1 input positions per axis, 1/S apart.
    """
    p = layer.p
    channels = need_map(layer, shape)[0]
    filters, groups = p["filters"], p["groups"]
    if p["connections"] is not None:
        raise layer.error("connections are only for conv", "connections")
    _check_groups(layer, channels, filters, groups)
    kernel, stride, dilation = window_keys(layer, shape)
    pads = per_axis(layer, "pad", p["pad"], shape)
    extras = per_axis(layer, "output_pad", p["output_pad"], shape)
    sizes = []
    for axis, n, k, s, pad, d, extra in zip(axis_names(shape), shape[1:], kernel, stride, pads, dilation, extras):
        if extra >= s and extra >= d:
            raise layer.error(f"output_pad {extra} must be smaller than stride {s} or dilation {d}", "output_pad")
        size = (n - 1) * s - 2 * pad + d * (k - 1) + extra + 1
        if size < 1:
            raise layer.error(f"output {axis} would be {size}: pad {pad} is too large", "pad")
        if layer.explaining:
            layer.notes.append(("size", f"output {axis} = ({n} - 1)*{s} - 2*{pad} + {d}*({k} - 1) + {extra} + 1 "
                                        f"= {size}"))
        sizes.append(size)
    window = elements(kernel)
    weights = channels * (filters // groups) * window
    bias = filters if p["bias"] else 0
    out = (filters,) + tuple(sizes)
    macs = elements(shape) * (filters // groups) * window
    steps = tuple(((k - 1) * d // s + 1, Fraction(1, s), 1) for k, s, d in zip(kernel, stride, dilation))
    cost = Cost(out, params=weights + bias, macs=macs,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out), window=steps)
    cost.filters, cost.kernel, cost.stride = filters, kernel, stride
    cost.pad = tuple((x, x) for x in pads)
    if layer.explaining:
        k_names, k_values = _kernel_names(shape), product_text(kernel)
        cost.explain += [
            ("params", f"params = Cin*(Cout/groups)*{k_names}{' + Cout' if bias else ''} = "
                       f"{channels}*({filters}/{groups})*{k_values}{f' + {bias}' if bias else ''} = {cost.params:,}"),
            ("macs", f"MACs = Cin*{'*'.join(axis_names(shape))} * (Cout/groups)*{k_names} = {product_text(shape)} * "
                     f"({filters}/{groups})*{k_values} = {macs:,}"),
        ]
    return cost


# --- pooling ----------------------------------------------------------------------------------

POOL_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, None), "pad": (check_pad, 0),
             "dilation": (check_size, 1), "ceil_mode": (check_flag, False)}


@rule("maxpool", "avgpool", keys=POOL_KEYS, category="pool")
def pool(layer, shape):
    """Pooling: no params; lecture flop C*prod(out)*prod(K) (one op per window element).

    ``pad: same`` is TensorFlow's SAME padding (output ceil(W/S)) for both pools; a number is PyTorch's
    padding, at most half the kernel.
    """
    p = layer.p
    channels = need_map(layer, shape)[0]
    if p["dilation"] != 1 and layer.type == "avgpool":
        raise layer.error("avgpool has no dilation", "dilation")
    kernel, stride, dilation = window_keys(layer, shape, p["stride"] or p["kernel"])
    if p["pad"] not in ("same", "valid"):
        for (before, after), k, d in zip(per_side(layer, "pad", p["pad"], shape), kernel, dilation):
            if max(before, after) * 2 > d * (k - 1) + 1:
                raise layer.error(f"pad {max(before, after)} must be at most half the kernel {k}", "pad")
    sizes, pad = spatial_output(layer, shape, kernel, stride, p["pad"], dilation, p["ceil_mode"])
    out = (channels,) + sizes
    flops = elements(out) * elements(kernel)
    cost = Cost(out, flops=flops, elementwise=flops, window=tuple(zip(kernel, stride, dilation)))
    cost.kernel, cost.stride, cost.pad = kernel, stride, pad
    if layer.explaining:
        positions = "*".join(f"{name}'" for name in axis_names(shape))
        cost.explain.append(("flops", f"flop = (C*{positions}) * ({_kernel_names(shape)}) = ({product_text(out)}) * "
                                      f"({product_text(kernel)}) = {flops:,} (lecture convention; 0 MACs)"))
    return cost


@rule("globalavgpool", "globalmaxpool", category="global pool")
def global_pool(layer, shape):
    """Global pooling: a window over the whole map, so C x 1 x 1 and flop C*H*W."""
    need_map(layer, shape)
    rank = len(shape) - 1
    flops = elements(shape)
    cost = Cost((shape[0],) + (1,) * rank, flops=flops, elementwise=flops, window="global")
    cost.kernel, cost.stride = tuple(shape[1:]), (1,) * rank
    if layer.explaining:
        cost.explain.append(("flops", f"flop = C*{'*'.join(axis_names(shape))} = {product_text(shape)} = {flops:,} "
                                      f"(the window is the whole map)"))
    return cost


def _adaptive_windows(size, out):
    """(largest, sum) of PyTorch's adaptive windows [floor(i*n/o), ceil((i+1)*n/o)), i = 0..o-1.

    Closed forms, so a huge ``output`` costs no time: with g = gcd(n, o), o' = o/g, r = (n/g) mod o',
    the lengths sum to n + o - g, and the largest is n/o if r = 0, (n + g*(o'-1))/o if r = 1,
    else (n + g*(2*o' - r))/o (a window is longest where both of its ends are rounded outwards).
    """
    from math import gcd

    g = gcd(size, out)
    reduced, rest = out // g, (size // g) % (out // g)
    if rest == 0:
        largest = size // out
    elif rest == 1:
        largest = (size + g * (reduced - 1)) // out
    else:
        largest = (size + g * (2 * reduced - rest)) // out
    return largest, size + out - g


@rule("adaptiveavgpool", "adaptivemaxpool", keys={"output": (check_size, REQUIRED)}, category="global pool")
def adaptive_pool(layer, shape):
    """Adaptive pooling to a fixed output size (PyTorch windows); flop is the sum of its windows."""
    need_map(layer, shape)
    sizes = per_axis(layer, "output", layer.p["output"], shape)
    windows = [_adaptive_windows(n, o) for n, o in zip(shape[1:], sizes)]
    flops = shape[0] * elements(total for _, total in windows)
    window = tuple((largest, max(n // o, 1), 1) for (largest, _), n, o in zip(windows, shape[1:], sizes))
    cost = Cost((shape[0],) + sizes, flops=flops, elementwise=flops, window=window)
    cost.kernel = tuple(largest for largest, _ in windows)
    if layer.explaining:
        largest = "x".join(str(k) for k in cost.kernel)
        sums = " * ".join(f"(sum of the {name} windows)" for name in axis_names(shape))
        cost.explain.append(("flops", f"windows of {largest} at most; flop = C * {sums} = "
                                      f"{shape[0]}*{product_text(total for _, total in windows)} = {flops:,}"))
    return cost


# --- dense ------------------------------------------------------------------------------------

DENSE_KEYS = {"units": (check_count, REQUIRED), "bias": (check_flag, True), "act": (check_activation, None)}


@rule("fc", keys=DENSE_KEYS, weight=True, category="fc")
def fc(layer, shape):
    """Fully connected: in*out weights (+out bias), in*out MACs; a map input is flattened first."""
    inputs, units = elements(shape), layer.p["units"]
    bias = units if layer.p["bias"] else 0
    cost = Cost((units,), params=inputs * units + bias, macs=inputs * units,
                elementwise=(units if bias else 0) + activation_work(layer, (units,)), window="global")
    cost.filters = units
    if layer.explaining:
        flat = f" (the {show_shape(shape)} input flattened)" if len(shape) > 1 else ""
        cost.explain += [
            ("params", f"params = in*out{' + out' if bias else ''} = {inputs}*{units}{f' + {units}' if bias else ''} = "
                       f"{cost.params:,}{flat}"),
            ("macs", f"MACs = in*out = {inputs}*{units} = {cost.macs:,}"),
        ]
    return cost


@rule("linear", keys=DENSE_KEYS, weight=True, category="fc")
def linear(layer, shape):
    """Linear: fc on a flat input; on a map, the same in*out weights act on the channels at every position
    (PyTorch's Linear on a channels-last tensor): output units x H x W, MACs positions*in*out."""
    if len(shape) == 1:
        return fc(layer, shape)
    channels, units = shape[0], layer.p["units"]
    positions = elements(shape[1:])
    bias = units if layer.p["bias"] else 0
    out = (units,) + tuple(shape[1:])
    cost = Cost(out, params=channels * units + bias, macs=positions * channels * units,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out))
    cost.filters = units
    if layer.explaining:
        cost.explain += [
            ("params", f"params = in*out{' + out' if bias else ''} = {channels}*{units}"
                       f"{f' + {units}' if bias else ''} = {cost.params:,} (in = the {channels} channels)"),
            ("macs", f"MACs = positions * in*out = {product_text(shape[1:])} * {channels}*{units} = {cost.macs:,}"),
        ]
    return cost


@rule("flatten")
def flatten(layer, shape):
    """Flatten C x H x W to C*H*W."""
    return Cost((elements(shape),))


# --- normalisation, activations and other shape-preserving layers -----------------------------

@rule("bn", keys={"act": (check_activation, None)})
def batchnorm(layer, shape):
    """Batch norm: 2C trainable params (scale, shift) and 2C running-statistics buffers."""
    channels = shape[0]
    cost = Cost(shape, params=2 * channels, buffers=2 * channels,
                elementwise=2 * elements(shape) + activation_work(layer, shape))
    if layer.explaining:
        cost.explain.append(("params", f"params = 2*C = 2*{channels} = {2 * channels} (scale and shift); "
                                       f"buffers = 2*C = {2 * channels} (running mean and variance, not params)"))
    return cost


def _norm(layer, shape, affine, what, buffers=0):
    """A norm that computes its statistics at inference: 2C params with an affine (scale and shift), no
    buffers unless it tracks running statistics; 4 ops per element (+1 with the affine)."""
    channels = shape[0]
    params = 2 * channels if affine else 0
    cost = Cost(shape, params=params, buffers=buffers,
                elementwise=(5 if affine else 4) * elements(shape) + activation_work(layer, shape))
    if layer.explaining:
        text = (f"params = 2*C = 2*{channels} = {params} (scale and shift)" if affine
                else "params = 0 (affine: false)")
        kept = f"buffers = 2*C = {buffers} (running mean and variance)" if buffers else "no buffers"
        cost.explain.append(("params", f"{text}; {kept}; statistics over {what}"))
    return cost


NORM_KEYS = {"affine": (check_flag, True), "act": (check_activation, None)}


@rule("layernorm", keys=NORM_KEYS)
def layernorm(layer, shape):
    """Layer norm over the channels at each position (ConvNeXt; a flat input: over its features):
    2C params, no buffers."""
    return _norm(layer, shape, layer.p["affine"], "the channels at each position" if len(shape) > 1
                 else "the features")


@rule("groupnorm", keys={"groups": (check_count, REQUIRED), **NORM_KEYS})
def groupnorm(layer, shape):
    """Group norm: ``groups`` must divide the channels; 2C params, no buffers."""
    if shape[0] % layer.p["groups"]:
        raise layer.error(f"groups {layer.p['groups']} must divide the {shape[0]} channels", "groups")
    return _norm(layer, shape, layer.p["affine"], f"{layer.p['groups']} groups of {shape[0] // layer.p['groups']} "
                                                  f"channels")


@rule("instancenorm", keys={"affine": (check_flag, False), "track_running_stats": (check_flag, False),
                            "act": (check_activation, None)})
def instancenorm(layer, shape):
    """Instance norm (PyTorch defaults: affine false, track_running_stats false): 2C params with affine,
    2C buffers with track_running_stats."""
    need_map(layer, shape)
    buffers = 2 * shape[0] if layer.p["track_running_stats"] else 0
    return _norm(layer, shape, layer.p["affine"], "each channel's map", buffers)


@rule("scale")
def layer_scale(layer, shape):
    """A learned per-channel multiplier (ConvNeXt's layer scale): C params, one op per element."""
    cost = Cost(shape, params=shape[0], elementwise=elements(shape))
    if layer.explaining:
        cost.explain.append(("params", f"params = C = {shape[0]} (one multiplier per channel)"))
    return cost


@rule("lrn", keys={"size": (check_count, 5), "alpha": (check_number, 1e-4), "beta": (check_number, 0.75),
                   "k": (check_number, 2)})
def lrn(layer, shape):
    """Local response normalisation (AlexNet, GoogLeNet): no params."""
    return Cost(shape, elementwise=elements(shape) * layer.p["size"])


@rule("dropout", keys={"p": (check_number, 0.5)})
def dropout(layer, shape):
    """Dropout: the identity at inference."""
    return Cost(shape)


@rule("identity")
def identity(layer, shape):
    """Identity: passes its input on (a named tap or a shortcut)."""
    return Cost(shape)


@rule(*[name for name in ACTIVATIONS if name != "leakyrelu"])
def activation(layer, shape):
    """Activation: no params; one op per element in the elementwise convention."""
    return Cost(shape, elementwise=elements(shape))


@rule("leakyrelu", keys={"slope": (check_number, 0.01)})
def leaky_relu(layer, shape):
    """Leaky ReLU: no params."""
    return Cost(shape, elementwise=elements(shape))


@rule("prelu", keys={"shared": (check_flag, True)})
def prelu(layer, shape):
    """PReLU: one learned slope (shared: true, PyTorch's default) or one per channel."""
    return Cost(shape, params=1 if layer.p["shared"] else shape[0], elementwise=elements(shape))


@rule("softmax")
def softmax(layer, shape):
    """Softmax: no params."""
    return Cost(shape, elementwise=3 * elements(shape))


@rule("shuffle", keys={"groups": (check_count, REQUIRED)})
def shuffle(layer, shape):
    """Channel shuffle (ShuffleNet): reorders channels; groups must divide them."""
    if shape[0] % layer.p["groups"]:
        raise layer.error(f"groups {layer.p['groups']} must divide the {shape[0]} channels", "groups")
    return Cost(shape)


@rule("chunk", keys={"chunks": (check_count, REQUIRED), "index": (lambda l, k, v: _int(l, k, v, 0), REQUIRED)})
def chunk(layer, shape):
    """One of ``chunks`` equal channel slices (ShuffleNet v2's channel split), ``index`` from 0."""
    chunks, index = layer.p["chunks"], layer.p["index"]
    if shape[0] % chunks:
        raise layer.error(f"chunks {chunks} must divide the {shape[0]} channels", "chunks")
    if index >= chunks:
        raise layer.error(f"index {index} must be below chunks {chunks}", "index")
    return Cost((shape[0] // chunks,) + tuple(shape[1:]))


# --- resampling: upsample, pixel shuffle, crop, pad --------------------------------------------

# Input points one interpolated output element reads (its elementwise work); the modes by map rank.
INTERPOLATION_POINTS = {"nearest": 1, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
INTERPOLATION_RANKS = {"nearest": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}


def _target_sizes(layer, shape):
    """The spatial sizes asked for by ``size`` or ``like`` (one of them, or neither: None)."""
    given = [key for key in ("size", "like") if layer.p.get(key) is not None]
    if len(given) > 1:
        raise layer.error(f"give one of {' or '.join(given)}, not both", given[1])
    if not given:
        return None
    if given[0] == "like":
        other = layer.p["like"]
        if len(other) != len(shape):
            raise layer.error(f"like: the layer it names gives {show_shape(other)}, which is not a map of the "
                              f"rank of the input {show_shape(shape)}", "like")
        return tuple(other[1:])
    return per_axis(layer, "size", layer.p["size"], shape)


def _resampling_window(before, after):
    """Receptive-field step of a resampling by after/before per axis: a window of 1 with a fractional stride."""
    return tuple((1, Fraction(b, a), 1) for b, a in zip(before, after))


@rule("upsample", keys={"scale": (check_scale, None), "size": (check_size, None), "like": (check_reference, None),
                        "mode": (check_choice(*INTERPOLATION_POINTS), "nearest")})
def upsample(layer, shape):
    """Resize (PyTorch's Upsample / interpolate) by ``scale`` (default 2; output floor(W*scale), computed
    in double as PyTorch does), to ``size``, or to the size of the layer ``like`` names. No params, no MACs,
    lecture flop 0; elementwise work: the input points each output element reads (nearest 1, linear 2,
    bilinear 4, trilinear 8, bicubic 16)."""
    mode = layer.p["mode"]
    need_map(layer, shape, INTERPOLATION_RANKS[mode])
    target = _target_sizes(layer, shape)
    if target is not None and layer.p["scale"] is not None:
        raise layer.error("give scale, size or like, not two of them", "scale")
    if target is None:
        factors = per_axis(layer, "scale", 2 if layer.p["scale"] is None else layer.p["scale"], shape)
        target = tuple(n * f if isinstance(f, int) else math.floor(n * float(f)) for n, f in zip(shape[1:], factors))
        for name, n, factor, size in zip(axis_names(shape), shape[1:], factors, target):
            if size < 1:
                raise layer.error(f"scale {factor} makes {name} {size}", "scale")
            if layer.explaining:
                layer.notes.append(("size", f"output {name} = floor({n}*{factor}) = {size}"))
    out = (shape[0],) + tuple(target)
    work = INTERPOLATION_POINTS[mode] * elements(out)
    cost = Cost(out, elementwise=work, window=_resampling_window(shape[1:], target))
    if layer.explaining:
        cost.explain.append(("flops", f"{mode} interpolation: {INTERPOLATION_POINTS[mode]} input point(s) per output "
                                      f"element = {work:,} elementwise ops (0 MACs, lecture flop 0)"))
    return cost


@rule("pixelshuffle", "pixelunshuffle", keys={"factor": (check_count, REQUIRED)})
def pixel_shuffle(layer, shape):
    """Pixel shuffle (ESPCN): C*r^2 x H x W -> C x rH x rW; pixel unshuffle the reverse. 2-D maps only."""
    channels, h, w = need_map(layer, shape, (2,))
    r = layer.p["factor"]
    if layer.type == "pixelshuffle":
        if channels % (r * r):
            raise layer.error(f"the {channels} channels must be a multiple of factor^2 = {r * r}", "factor")
        out = (channels // (r * r), h * r, w * r)
        window = _resampling_window((1, 1), (r, r))
    else:
        if h % r or w % r:
            raise layer.error(f"factor {r} must divide the map {h} x {w}", "factor")
        out = (channels * r * r, h // r, w // r)
        window = ((r, r, 1), (r, r, 1))
    return Cost(out, window=window)


@rule("crop", keys={"size": (check_size, None), "like": (check_reference, None), "offset": (check_offset, None)})
def crop(layer, shape):
    """Crop the map to ``size`` or to the size of the layer ``like`` names (U-Net's skip): centred, starting at
    (W - size)//2 on each axis, unless ``offset`` gives the start. No params."""
    need_map(layer, shape)
    target = _target_sizes(layer, shape)
    if target is None:
        raise layer.error("crop needs 'size' or 'like'", None)
    offset = layer.p["offset"]
    starts = per_axis(layer, "offset", offset, shape) if offset is not None else None
    for index, (name, n, size) in enumerate(zip(axis_names(shape), shape[1:], target)):
        start = (n - size) // 2 if starts is None else starts[index]
        if size + start > n:
            where = f"from {start} " if start else ""
            raise layer.error(f"cannot crop {name} {n} to {size} {where}(it is smaller)",
                              "like" if layer.p["like"] is not None else "size")
        if layer.explaining:
            layer.notes.append(("size", f"output {name} = {size}: {name} {n} cropped from {start} to {start + size}"))
    return Cost((shape[0],) + tuple(target))


def check_channel_pad(layer, key, value):
    """Channels to add: a total (split evenly, any odd one after) or [before, after]."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise layer.error(f"{key} must be a number of channels or [before, after], not {value!r}", key)
        return tuple(_int(layer, key, v, 0) for v in value)
    total = _int(layer, key, value, 0)
    return (total // 2, total - total // 2)


@rule("pad", keys={"pad": (check_pad, 0), "channels": (check_channel_pad, 0)})
def zero_pad(layer, shape):
    """Zero padding: ``pad`` on the spatial axes (as conv's pad), ``channels`` zero channels (ResNet's option A
    shortcut). No params."""
    need_map(layer, shape)
    if layer.p["pad"] in ("same", "valid"):
        raise layer.error("pad takes numbers here (same/valid are for windowed layers)", "pad")
    sides = per_side(layer, "pad", layer.p["pad"], shape)
    before, after = layer.p["channels"]
    out = (shape[0] + before + after,) + tuple(n + b + a for n, (b, a) in zip(shape[1:], sides))
    cost = Cost(out)
    cost.pad = sides
    return cost


# --- merges -----------------------------------------------------------------------------------

def _shapes_text(layer, shapes):
    return ", ".join(f"{name} gives {show_shape(s)}" for name, s in zip(layer.decl.inputs, shapes))


@rule("concat", inputs="many")
def concat(layer, shapes):
    """Concatenate along channels; the spatial sizes must agree."""
    rest = {tuple(s[1:]) for s in shapes}
    if len(rest) > 1:
        raise layer.error(f"concat needs the same spatial size on every input: {_shapes_text(layer, shapes)}", "from")
    return Cost((sum(s[0] for s in shapes),) + tuple(shapes[0][1:]))


@rule("add", inputs="many", keys={"act": (check_activation, None)})
def add(layer, shapes):
    """Elementwise sum (residual connection): every input must have the same shape."""
    if len(shapes) < 2:
        raise layer.error("add needs at least two inputs in 'from'", "from")
    if len(set(shapes)) > 1:
        what = "channel" if len({s[1:] for s in shapes}) == 1 else "shape"
        raise layer.error(f"{what} mismatch at add: {_shapes_text(layer, shapes)}", "from")
    out = shapes[0]
    return Cost(out, elementwise=(len(shapes) - 1) * elements(out) + activation_work(layer, out))


@rule("mul", inputs="many")
def mul(layer, shapes):
    """Channel-wise scale (squeeze-excitation): a C x H x W map times a C x 1 x 1 (or same-shape) input."""
    if len(shapes) != 2:
        raise layer.error(f"mul takes two inputs in 'from', got {len(shapes)}", "from")
    for shape in shapes:
        need_map(layer, shape)
    big, small = sorted(shapes, key=elements, reverse=True)
    if len(big) != len(small) or big[0] != small[0] or (
            tuple(small[1:]) not in ((1,) * (len(big) - 1), tuple(big[1:]))):
        raise layer.error(f"mul needs C x H x W and C x 1 x 1 (or equal shapes): {_shapes_text(layer, shapes)}",
                          "from")
    return Cost(big, elementwise=elements(big))
