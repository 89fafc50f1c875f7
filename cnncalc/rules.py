"""One rule per layer type: output shape, params, buffers, MACs, flop and the receptive-field step.

Stage three of the pipeline. Every layer type is a function registered with ``@rule`` together
with the keys it accepts; :func:`apply` validates a layer's keys and runs its rule. A rule returns
a :class:`Cost`. The counting conventions (see README) are written beside each rule:

* MACs: conv ``Cout*H'*W' * (Cin/groups)*Kh*Kw``, fc ``in*out``, transposed conv
  ``Cin*H*W * (Cout/groups)*Kh*Kw``; nothing else. Bias adds are not counted.
* flop (lecture): MACs, plus ``C*H'*W' * Kh*Kw`` for pooling layers.
* elementwise: the extra work the "2 x MACs + elementwise" FLOPs convention adds
  (one op per output element for activations, bias, add and mul; two for batch norm;
  the window for pools).

Shapes are tuples: ``(C, H, W)`` for a feature map, ``(N,)`` for a flat vector.
"""

from .errors import did_you_mean
from .spec import MAX_SIZE

REQUIRED = object()
# PyTorch counts a tensor's elements in an int64; a larger output is an error, not a number.
MAX_ELEMENTS = 2**63 - 1


class Cost:
    __slots__ = ("shape", "params", "buffers", "macs", "flops", "elementwise", "window",
                 "filters", "kernel", "stride", "pad", "warnings", "explain", "fits")

    def __init__(self, shape, params=0, buffers=0, macs=0, flops=None, elementwise=0, window=None):
        self.shape = shape
        self.params = params
        self.buffers = buffers
        self.macs = macs
        self.flops = macs if flops is None else flops
        self.elementwise = elementwise
        # receptive-field step per axis: ((k_h, s_h, d_h), (k_w, s_w, d_w)), "global", or None (unchanged)
        self.window = window
        self.filters = self.kernel = self.stride = self.pad = None
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
    """What a rule sees: the layer's name, type, validated keys and whether to explain."""

    __slots__ = ("name", "type", "p", "decl", "explaining", "warnings", "notes", "fits")

    def __init__(self, decl, type_name, values, explaining):
        self.decl = decl
        self.name = decl.name
        self.type = type_name
        self.p = values
        self.explaining = explaining
        self.warnings = []
        self.notes = []  # (quantity, text) worked arithmetic gathered before the rule's own lines
        self.fits = True  # every window tiles its padded input exactly

    def error(self, message, key=None):
        return self.decl.error(message, key)


# --- key validation ---------------------------------------------------------------------------

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


def _pair(layer, key, value, minimum):
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise layer.error(f"{key} must be one number or [h, w], not {value!r}", key)
        return (_int(layer, key, value[0], minimum), _int(layer, key, value[1], minimum))
    value = _int(layer, key, value, minimum)
    return (value, value)


def check_count(layer, key, value):
    return _int(layer, key, value, 1)


def check_size(layer, key, value):
    return _pair(layer, key, value, 1)


def check_offset(layer, key, value):
    return _pair(layer, key, value, 0)


def check_pad(layer, key, value):
    """An int, [h, w], [top, bottom, left, right], or the words same/valid."""
    if value in ("same", "valid"):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 4:
        top, bottom, left, right = (_int(layer, key, v, 0) for v in value)
        return ((top, bottom), (left, right))
    h, w = _pair(layer, key, value, 0)
    return ((h, h), (w, w))


def check_flag(layer, key, value):
    if not isinstance(value, bool):
        raise layer.error(f"{key} must be true or false, not {_describe(value)}", key)
    return value


def check_number(layer, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise layer.error(f"{key} must be a number, not {_describe(value)}", key)
    return value


def check_activation(layer, key, value):
    if value not in ACTIVATIONS:
        raise layer.error(f"{key} must be an activation ({', '.join(ACTIVATIONS)}), not {value!r}"
                          f"{did_you_mean(value, ACTIVATIONS)}", key)
    return value


def check_table(layer, key, value):
    """A connection table: for each output map, the list of input maps it reads (0-based)."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) and row for row in value):
        raise layer.error(f"{key} must be a list with one list of input-map indices per filter", key)
    return [[_int(layer, key, i, 0) for i in row] for row in value]


ACTIVATIONS = ("relu", "relu6", "leakyrelu", "elu", "selu", "gelu", "sigmoid", "tanh", "silu",
               "swish", "hardswish", "hardsigmoid", "mish", "softplus")

WINDOW_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, 1), "pad": (check_pad, 0),
               "dilation": (check_size, 1)}
CONV_KEYS = {"filters": (check_count, REQUIRED), **WINDOW_KEYS, "groups": (check_count, 1),
             "bias": (check_flag, True), "act": (check_activation, None), "connections": (check_table, None)}


def validate(decl, rule_, explaining=False):
    values = {}
    keys = rule_.keys
    for key, raw in decl.keys.items():
        if key not in keys:
            allowed = ", ".join(keys) or "none besides name, type and from"
            raise decl.error(f"unknown key '{key}' for {rule_.name}{did_you_mean(key, keys)} (its keys: {allowed})",
                             key)
    layer = Layer(decl, rule_.name, values, explaining)
    for key, (check, default) in keys.items():
        if key in decl.keys and decl.keys[key] is not None:
            values[key] = check(layer, key, decl.keys[key])
        elif default is REQUIRED:
            raise decl.error(f"{rule_.name} needs '{key}'", None)
        else:
            values[key] = default if default is None else check(layer, key, default)
    return layer


def lookup(decl, extra_names=()):
    rule_ = RULES.get(decl.type)
    if rule_ is None:
        names = list(RULES) + list(extra_names)
        raise decl.error(f"unknown layer type '{decl.type}'{did_you_mean(decl.type, names)}", "type")
    return rule_


def apply(decl, in_shapes, explaining=False, block_names=()):
    """Validate ``decl`` and compute its Cost from the shapes of its inputs.

    ``block_names`` (the spec's blocks) are offered as suggestions for an unknown type.
    """
    rule_ = lookup(decl, block_names)
    if rule_.inputs == 1 and len(in_shapes) != 1:
        raise decl.error(f"{rule_.name} takes one input, but 'from' gives {len(in_shapes)}", "from")
    layer = validate(decl, rule_, explaining)
    cost = rule_.function(layer, in_shapes if rule_.inputs != 1 else in_shapes[0])
    if elements(cost.shape) > MAX_ELEMENTS:
        raise decl.error(f"the output {show_shape(cost.shape)} has more than {MAX_ELEMENTS:,} (2^63 - 1) elements")
    cost.warnings = layer.warnings
    cost.fits = layer.fits
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


def need_map(layer, shape):
    if len(shape) != 3:
        raise layer.error(f"{layer.type} needs a C x H x W input, but gets a flat vector of {shape[0]}"
                          f" (put it before the flatten/fc layers)")
    return shape


def resolve_same_pad(size, kernel, stride, dilation):
    """TensorFlow/PyTorch 'same': output ceil(size/stride); extra padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def window_axis(layer, axis, size, kernel, stride, pads, dilation, ceil_mode=False):
    """Output size along one axis, with a warning when the window does not tile the input."""
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
    if layer.explaining or span % stride:
        formula = window_formula(size, kernel, stride, before, after, dilation)
        if span % stride:
            rounded = "rounded up: ceil_mode" if ceil_mode else "floored"
            layer_text = f"{formula} = {(span + stride) / stride:g} -> {out} ({rounded}): the window does not tile the input"
            layer.warnings.append(f"{axis}: {layer_text}")
            if layer.explaining:
                layer.notes.append(("size", f"output {axis} = {layer_text}"))
        elif layer.explaining:
            layer.notes.append(("size", f"output {axis} = {formula} = {out}"))
    return out


def window_formula(size, kernel, stride, before, after, dilation):
    pad = f"2*{before}" if before == after else f"{before}+{after}"
    k = str(kernel) if dilation == 1 else f"{dilation}*({kernel}-1)-1"
    return f"({size} - {k} + {pad})/{stride} + 1"


def spatial_output(layer, shape, kernel, stride, pad, dilation=(1, 1), ceil_mode=False):
    """(H', W') and the resolved pads for a windowed layer."""
    _, h, w = shape
    if pad == "valid":
        pad = ((0, 0), (0, 0))
    elif pad == "same":
        pad = (resolve_same_pad(h, kernel[0], stride[0], dilation[0]),
               resolve_same_pad(w, kernel[1], stride[1], dilation[1]))
    square = h == w and kernel[0] == kernel[1] and stride[0] == stride[1] and pad[0] == pad[1]
    out_h = window_axis(layer, "H/W" if square else "H", h, kernel[0], stride[0], pad[0], dilation[0], ceil_mode)
    if square:
        out_w = out_h
    else:
        out_w = window_axis(layer, "W", w, kernel[1], stride[1], pad[1], dilation[1], ceil_mode)
    return out_h, out_w, pad


def activation_work(layer, shape):
    return elements(shape) if layer.p.get("act") else 0


# --- convolutions -----------------------------------------------------------------------------

@rule("conv", keys=CONV_KEYS, weight=True, category="conv")
def conv(layer, shape):
    """Convolution: Cout*(Cin/groups)*Kh*Kw weights (+Cout bias); MACs Cout*H'*W'*(Cin/groups)*Kh*Kw."""
    return _convolution(layer, need_map(layer, shape), layer.p["filters"], layer.p["groups"])


@rule("dwconv", keys={**CONV_KEYS, "filters": (check_count, None), "groups": (check_count, None)}, weight=True,
      category="conv")
def dwconv(layer, shape):
    """Depthwise convolution: groups = input channels; filters default to the input channels."""
    channels = need_map(layer, shape)[0]
    filters = layer.p["filters"] or channels
    return _convolution(layer, shape, filters, layer.p["groups"] or channels)


def _convolution(layer, shape, filters, groups):
    p = layer.p
    channels = shape[0]
    if channels % groups or filters % groups:
        raise layer.error(f"groups {groups} must divide both the input channels {channels} and the filters {filters}",
                          "groups")
    kh, kw = p["kernel"]
    out_h, out_w, pad = spatial_output(layer, shape, p["kernel"], p["stride"], p["pad"], p["dilation"])
    per_filter = channels // groups * kh * kw
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
        weights = sum(len(row) for row in table) * kh * kw
    else:
        weights = filters * per_filter
    bias = filters if p["bias"] else 0
    out = (filters, out_h, out_w)
    macs = out_h * out_w * weights
    cost = Cost(out, params=weights + bias, macs=macs,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out),
                window=tuple(zip(p["kernel"], p["stride"], p["dilation"])))
    cost.filters, cost.kernel, cost.stride, cost.pad = filters, p["kernel"], p["stride"], pad
    if layer.explaining:
        group_text = f"/{groups}" if groups > 1 else ""
        if table is not None:
            links = sum(len(row) for row in table)
            cost.explain += [
                ("params", f"params = (connections)*Kh*Kw + Cout = {links}*{kh}*{kw} + {bias} = {cost.params:,}"
                 if bias else f"params = (connections)*Kh*Kw = {links}*{kh}*{kw} = {cost.params:,}"),
                ("macs", f"MACs = H'*W' * (connections)*Kh*Kw = {out_h}*{out_w} * {links}*{kh}*{kw} = {macs:,}"),
            ]
        else:
            bias_text = f" + {bias}" if bias else ""
            cost.explain += [
                ("params", f"params = Cout*(Cin{group_text}*Kh*Kw){' + Cout' if bias else ''} = "
                           f"{filters}*({channels}{group_text}*{kh}*{kw}){bias_text} = {cost.params:,}"),
                ("macs", f"MACs = (Cout*H'*W') * (Cin{group_text}*Kh*Kw) = ({filters}*{out_h}*{out_w}) * "
                         f"({channels}{group_text}*{kh}*{kw}) = {macs:,}"),
            ]
    return cost


@rule("convtranspose", keys={**CONV_KEYS, "pad": (check_offset, 0), "output_pad": (check_offset, 0)}, weight=True,
      category="conv")
def convtranspose(layer, shape):
    """Transposed conv: out (W-1)*S - 2P + D*(K-1) + output_pad + 1; MACs Cin*H*W*(Cout/groups)*Kh*Kw."""
    p = layer.p
    channels, h, w = need_map(layer, shape)
    filters, groups = p["filters"], p["groups"]
    if p["connections"] is not None:
        raise layer.error("connections are only for conv", "connections")
    if channels % groups or filters % groups:
        raise layer.error(f"groups {groups} must divide both the input channels {channels} and the filters {filters}",
                          "groups")
    sizes = []
    for axis, n, k, s, pad, d, extra in zip("HW", (h, w), p["kernel"], p["stride"], p["pad"], p["dilation"],
                                           p["output_pad"]):
        if extra >= s and extra >= d:
            raise layer.error(f"output_pad {extra} must be smaller than stride {s} or dilation {d}", "output_pad")
        size = (n - 1) * s - 2 * pad + d * (k - 1) + extra + 1
        if size < 1:
            raise layer.error(f"output {axis} would be {size}: pad {pad} is too large", "pad")
        if layer.explaining:
            cost_line = f"output {axis} = ({n} - 1)*{s} - 2*{pad} + {d}*({k} - 1) + {extra} + 1 = {size}"
            layer.notes.append(("size", cost_line))
        sizes.append(size)
    kh, kw = p["kernel"]
    weights = channels * (filters // groups) * kh * kw
    bias = filters if p["bias"] else 0
    out = (filters, sizes[0], sizes[1])
    macs = channels * h * w * (filters // groups) * kh * kw
    from fractions import Fraction

    window = tuple((-(-k // s), Fraction(1, s), 1) for k, s in zip(p["kernel"], p["stride"]))
    cost = Cost(out, params=weights + bias, macs=macs,
                elementwise=(elements(out) if bias else 0) + activation_work(layer, out), window=window)
    cost.filters, cost.kernel, cost.stride = filters, p["kernel"], p["stride"]
    cost.pad = tuple((x, x) for x in p["pad"])
    if layer.explaining:
        cost.explain += [
            ("params", f"params = Cin*(Cout/groups)*Kh*Kw{' + Cout' if bias else ''} = "
                       f"{channels}*({filters}/{groups})*{kh}*{kw}{f' + {bias}' if bias else ''} = {cost.params:,}"),
            ("macs", f"MACs = Cin*H*W * (Cout/groups)*Kh*Kw = {channels}*{h}*{w} * ({filters}/{groups})*{kh}*{kw} = "
                     f"{macs:,}"),
        ]
    return cost


# --- pooling ----------------------------------------------------------------------------------

POOL_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, None), "pad": (check_pad, 0),
             "dilation": (check_size, 1), "ceil_mode": (check_flag, False)}


@rule("maxpool", "avgpool", keys=POOL_KEYS, category="pool")
def pool(layer, shape):
    """Pooling: no params; lecture flop C*H'*W'*Kh*Kw (one op per window element)."""
    p = layer.p
    channels = need_map(layer, shape)[0]
    stride = p["stride"] or p["kernel"]
    if p["dilation"] != (1, 1) and layer.type == "avgpool":
        raise layer.error("avgpool has no dilation", "dilation")
    if isinstance(p["pad"], tuple):
        for (before, after), k, d in zip(p["pad"], p["kernel"], p["dilation"]):
            if max(before, after) * 2 > d * (k - 1) + 1:
                raise layer.error(f"pad {max(before, after)} must be at most half the kernel {k}", "pad")
    out_h, out_w, pad = spatial_output(layer, shape, p["kernel"], stride, p["pad"], p["dilation"], p["ceil_mode"])
    kh, kw = p["kernel"]
    out = (channels, out_h, out_w)
    flops = channels * out_h * out_w * kh * kw
    cost = Cost(out, flops=flops, elementwise=flops, window=tuple(zip(p["kernel"], stride, p["dilation"])))
    cost.kernel, cost.stride, cost.pad = p["kernel"], stride, pad
    if layer.explaining:
        cost.explain.append(("flops", f"flop = (C*H'*W') * (Kh*Kw) = ({channels}*{out_h}*{out_w}) * ({kh}*{kw}) = "
                                      f"{flops:,} (lecture convention; 0 MACs)"))
    return cost


@rule("globalavgpool", "globalmaxpool", category="global pool")
def global_pool(layer, shape):
    """Global pooling: a window over the whole map, so C x 1 x 1 and flop C*H*W."""
    channels, h, w = need_map(layer, shape)
    flops = channels * h * w
    cost = Cost((channels, 1, 1), flops=flops, elementwise=flops, window="global")
    cost.kernel, cost.stride = (h, w), (1, 1)
    if layer.explaining:
        cost.explain.append(("flops", f"flop = C*H*W = {channels}*{h}*{w} = {flops:,} (the window is the whole map)"))
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
    channels, h, w = need_map(layer, shape)
    out_h, out_w = layer.p["output"]
    (row_max, row_sum), (col_max, col_sum) = _adaptive_windows(h, out_h), _adaptive_windows(w, out_w)
    flops = channels * row_sum * col_sum
    window = ((row_max, max(h // out_h, 1), 1), (col_max, max(w // out_w, 1), 1))
    cost = Cost((channels, out_h, out_w), flops=flops, elementwise=flops, window=window)
    cost.kernel = (row_max, col_max)
    if layer.explaining:
        cost.explain.append(("flops", f"windows of {row_max}x{col_max} at most; flop = C * (sum of window rows) * "
                                      f"(sum of window columns) = {channels}*{row_sum}*{col_sum} = {flops:,}"))
    return cost


# --- dense ------------------------------------------------------------------------------------

@rule("fc", keys={"units": (check_count, REQUIRED), "bias": (check_flag, True), "act": (check_activation, None)},
      weight=True, category="fc")
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


@rule("upsample", keys={"scale": (check_size, 2)})
def upsample(layer, shape):
    """Nearest-neighbour upsampling by an integer scale: no params."""
    channels, h, w = need_map(layer, shape)
    sh, sw = layer.p["scale"]
    from fractions import Fraction

    return Cost((channels, h * sh, w * sw), window=((1, Fraction(1, sh), 1), (1, Fraction(1, sw), 1)))


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
    if len(big) != 3 or big[0] != small[0] or (tuple(small[1:]) not in ((1, 1), tuple(big[1:]))):
        raise layer.error(f"mul needs C x H x W and C x 1 x 1 (or equal shapes): {_shapes_text(layer, shapes)}",
                          "from")
    return Cost(big, elementwise=elements(big))
