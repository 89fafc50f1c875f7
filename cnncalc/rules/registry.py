"""The rules registry: Cost, Rule, the @rule decorator, Layer, and validate/lookup/apply.

Every layer type is a function registered with ``@rule`` together with the keys it accepts (in the one
``RULES`` table); :func:`apply` validates a layer's keys and runs its rule, which returns a :class:`Cost`.
"""

from ..errors import did_you_mean, shown

REQUIRED = object()
# PyTorch counts a tensor's elements in an int64; a larger output is an error, not a number.
MAX_ELEMENTS = 2**63 - 1


class Cost:
    __slots__ = ("shape", "params", "buffers", "macs", "flops", "elementwise", "window",
                 "filters", "kernel", "stride", "pad", "warnings", "explain", "fits", "act", "scratch", "heads",
                 "products")

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
        # elements the layer writes besides its output and that count in its memory (attention's Q, K, V,
        # scores, softmax and weighted sum), as (what, formula, elements); freed once the layer has run
        self.scratch = ()
        self.heads = None  # attention's heads, shown in the table's filters column
        self.products = 0  # of the MACs, those of products of two activations (attention's QK^T and AV, matmul)
        self.warnings = []
        # worked arithmetic as (quantity, text) pairs; quantity is one of EXPLAIN_QUANTITIES
        self.explain = []


# What a line of worked arithmetic is about: the per-axis output size, the output shape, params, MACs,
# lecture flop, activation memory, receptive field. Rules, report and formatters tag lines with these;
# the checker picks the lines a quantity needs by tag, never by the words a line starts with.
EXPLAIN_QUANTITIES = ("size", "output_shape", "params", "macs", "flops", "memory", "receptive_field")


# What kind of layer a rule computes, for everything that groups layer types (plot colours, diagram
# captions): a new type names its category once, in its @rule, and appears everywhere.
CATEGORIES = ("conv", "fc", "attention", "pool", "global pool", "merge", "other")


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


# The keyword names of PyTorch (nn.Conv2d, nn.Linear, F.interpolate...) and Keras, and the spec key each one is
# written as; None: a number the spec does not take, because it comes from the layer's input.
SYNONYMS = {"out_channels": "filters", "kernel_size": "kernel", "padding": "pad", "strides": "stride",
            "dilation_rate": "dilation", "out_features": "units", "output_padding": "output_pad",
            "use_bias": "bias", "activation": "act", "scale_factor": "scale", "upscale_factor": "factor",
            "downscale_factor": "factor", "pool_size": "kernel", "output_size": "output", "num_groups": "groups",
            "rate": "p", "in_channels": None, "in_features": None, "num_features": None, "num_channels": None,
            "normalized_shape": None}


def unknown_key_hint(key, keys):
    """'; did you mean ...' for a key a rule does not take: the spec's name for a PyTorch/Keras keyword first."""
    if key in SYNONYMS:
        target = SYNONYMS[key]
        if target is None:
            return f" ({key} comes from the layer's input and is not written)"
        if target in keys:
            return f"; did you mean '{target}' (PyTorch's {key})?"
    return did_you_mean(key, keys)


def check_keys(decl, rule_=None):
    """Refuse a key ``decl``'s rule does not take (nothing for a type no rule has: :func:`lookup` says that).

    Only the keys' names are read, so the spec expander runs this before it evaluates any key's value.
    """
    rule_ = rule_ or RULES.get(decl.type)
    if rule_ is None:
        return
    keys = rule_.keys
    for key in decl.keys:
        if key not in keys:
            allowed = ", ".join(keys) or "none besides name, type and from"
            raise decl.error(f"unknown key '{shown(key)}' for {rule_.name}{unknown_key_hint(key, keys)} (its keys: "
                             f"{allowed})", key)


def validate(decl, rule_, explaining=False, references=None):
    values = {}
    keys = rule_.keys
    check_keys(decl, rule_)
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
        raise decl.error(f"unknown layer type '{shown(decl.type)}'{hint}", "type")
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


def elements(shape):
    total = 1
    for size in shape:
        total *= size
    return total


def show_shape(shape):
    return " x ".join(str(s) for s in shape)


def scratch_elements(cost):
    return sum(count for _, _, count in cost.scratch)
