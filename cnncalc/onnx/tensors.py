"""What the ONNX graph walk knows about a tensor, and a node's attributes as plain values.

A tensor is either a :class:`Const`, known before the network runs (by its dims, and by value when it is
small), or a :class:`Value` the network computes (the spec layer that gives it and its shape).
"""

import math
import os
import struct

# Constant tensors larger than this are known by their dims only (weights); smaller ones by value too.
MAX_VALUE_ELEMENTS = 4096

# AttributeProto.type -> the field holding the value
_ATTRIBUTE_FIELDS = {1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 6: "floats", 7: "ints", 8: "strings", 9: "tensors",
                     10: "graphs"}

# TensorProto.data_type -> dtype name (numpy's), and the typed field that holds values not in raw_data
TENSOR_TYPES = {1: ("float32", "float_data"), 2: ("uint8", "int32_data"), 3: ("int8", "int32_data"),
                4: ("uint16", "int32_data"), 5: ("int16", "int32_data"), 6: ("int32", "int32_data"),
                7: ("int64", "int64_data"), 9: ("bool", "int32_data"), 10: ("float16", "int32_data"),
                11: ("float64", "double_data"), 12: ("uint32", "uint64_data"), 13: ("uint64", "uint64_data")}
_EXTERNAL = 1  # TensorProto.EXTERNAL


def attributes(node):
    """A node's attributes by name: numbers, text, lists, tensors."""
    attribute = node.attribute
    if not attribute:
        return {}
    values = {}
    for attribute in attribute:
        kind = attribute.type
        if kind == 2:  # the most common: an integer (an axis, a dtype)
            values[attribute.name] = attribute.i
            continue
        field = _ATTRIBUTE_FIELDS.get(kind)
        if field is None:
            continue
        value = getattr(attribute, field)
        if field in ("floats", "ints", "tensors", "graphs"):
            value = list(value)
        elif field == "strings":
            value = [v.decode("utf-8", "replace") for v in value]
        elif field == "s":
            value = value.decode("utf-8", "replace")
        values[attribute.name] = value
    return values


def tensor_array(proto, folder=None):
    """A small TensorProto's values as a :class:`small.Array`; None when they are elsewhere or of an odd type.

    ``folder``: where the model file is, to read a small tensor kept in its external data file (torch.export
    stores shape constants there)."""
    from . import small

    kind = TENSOR_TYPES.get(proto.data_type)
    if kind is None:
        return None
    dtype, field = kind
    dims = tuple(proto.dims)
    if proto.data_location == _EXTERNAL:
        raw = _external_bytes(proto, folder, math.prod(dims) * small.itemsize(dtype))
        return None if raw is None else small.from_bytes(raw, dtype, dims)
    if proto.raw_data:
        return small.from_bytes(proto.raw_data, dtype, dims)
    values = list(proto.int32_data if dtype == "float16" else getattr(proto, field))
    if len(values) != math.prod(dims):
        return None
    if dtype == "float16":  # float16 values are stored as their bits
        return small.from_bytes(struct.pack(f"<{len(values)}H", *(v & 0xFFFF for v in values)), dtype, dims)
    return small.Array(small.convert(values, dtype), dims, dtype)


def _external_bytes(proto, folder, size):
    """The ``size`` bytes of a small tensor in an external data file beside the model, or None. Only a
    plain file name in the model's folder is opened (never a path a hostile model names)."""
    if folder is None or size > 8 * MAX_VALUE_ELEMENTS:
        return None
    fields = {entry.key: entry.value for entry in proto.external_data}
    location = fields.get("location", "")
    if not location or location != os.path.basename(location) or location in (".", ".."):
        return None
    from ..errors import SpecError
    from ..spec.loader import open_regular

    try:
        offset, length = int(fields.get("offset", 0) or 0), int(fields.get("length", size) or size)
        if length != size or offset < 0:
            return None
        with open_regular(os.path.join(folder, location)) as handle:
            handle.seek(offset)
            raw = handle.read(size)
    except (SpecError, OSError, ValueError):
        return None
    return raw if len(raw) == size else None


def is_model_name(name):
    """Whether a tensor's name is the model's own (a state-dict name, ``blocks.0.attn.table``), not one the
    exporter made up (``val_12``, ``onnx::Conv_5``, ``/conv/Constant_output_0``, ``clamp``)."""
    return "." in name and not name.startswith(("val_", "_val", "onnx::", "/"))


def initializer_kind(name, tensor):
    """'param' for a learned tensor (a float initializer named after its module, ``blocks.0.attn.table``),
    'buffer' for an integer one (an index), None for a literal the exporter wrote (``val_12``) or no
    initializer."""
    if tensor is None or not is_model_name(name):
        return None
    return "buffer" if tensor.data_type in (6, 7) else "param" if tensor.data_type in (1, 10, 11, 16) else None


def learned(reader, name):
    """Whether constant ``name`` is (computed from) a model's learned tensor: an initializer named after its
    module, or shape arithmetic on one (see :func:`initializer_kind`)."""
    const = reader.consts.get(name)
    return const is not None and any(initializer_kind(source, reader.initializers.get(source)) == "param"
                                     for source in const.sources)


def stored_name(reader, name, const):
    """The initializer the tensor ``name`` (its Const ``const``) is, passed on unchanged: the TorchScript
    exporter's constant folding shares initializers of equal values through Identity (an untrained model's
    temperatures, all ones, become one initializer and Identities named after the others); else ``name``."""
    if const is not None and len(const.sources) == 1:
        (source,) = const.sources
        if source != name and dict.get(reader.consts, source) is const:
            return source
    return name


def elements(dims):
    return math.prod(dims) if dims is not None else 0


class Const:
    """A tensor known before the network runs: an initializer, a Constant, or shape arithmetic on them."""

    __slots__ = ("dims", "proto", "value", "origin", "stored", "folder", "sources")

    def __init__(self, dims=None, proto=None, value=None, origin=None, stored=True, folder=None, sources=()):
        self.folder = folder  # the model's folder, for a small tensor in its external data file
        self.sources = frozenset(sources)  # the initializers it was computed from (a bias gathered from a table)
        self.dims = None if dims is None else tuple(map(int, dims))
        self.proto = proto
        self.value = value
        self.origin = origin  # the node that made it, when its contents are unknown
        # stored in the file (an initializer, a Constant, or one cast, reshaped or dequantized): a bias
        # counts as params only then; a bias the graph computes (zeros expanded to the filters) does not
        self.stored = stored

    def array(self):
        if self.value is None and self.proto is not None and elements(self.dims) <= MAX_VALUE_ELEMENTS:
            self.value = tensor_array(self.proto, self.folder)
        return self.value


class Value:
    """A tensor the network computes: the spec layer that gives it and its full shape (batch first)."""

    __slots__ = ("layer", "shape", "own", "gate", "layout", "tokens")

    def __init__(self, layer, shape, own=True, gate=None, layout=None, tokens=False):
        self.tokens = tokens  # N x tokens x width (the spec's Tokens): the width is the last axis
        self.layer = layer
        self.shape = tuple(shape)  # the ONNX tensor's dims
        self.own = own  # the layer's own output, not a tensor passed on through Identity, Dropout...
        # a value no layer gives yet: (x, activation, foldable) for F(x) of a pending x * F(x);
        # ("shuffle" or "shuffled", x, groups) inside a Reshape-Transpose-Reshape channel shuffle;
        # ("pad", x, [top, left, bottom, right]: begins then ends) for a zero Pad a Conv takes into its padding;
        # ("flat", x) for a Reshape to [-1] that a Gather of every element in order reads back (as_strided)
        self.gate = gate
        # None: the ONNX dims are the spec's (N, C, spatial...); else the permutation of the spec's axes
        # the ONNX tensor holds: channels-last (0, 2, 3, 1), tokens (0, 2, 1) (see LAYOUTS)
        self.layout = layout

    @property
    def spec(self):
        """The shape in the spec's order (batch, channels, positions...)."""
        if self.layout is None:
            return self.shape
        if hasattr(self.layout, "spec_dims"):  # a map held as windows (partitions.Partitioned)
            return self.layout.spec_dims(self.shape)
        dims = [0] * len(self.shape)
        for position, axis in enumerate(self.layout):
            dims[axis] = self.shape[position]
        return tuple(dims)

    @property
    def channel_axis(self):
        """Which ONNX axis holds the channels (features; the width of tokens)."""
        if self.tokens:  # the width last; tokens transposed (tokens.TRANSPOSED) hold it on axis 1
            return len(self.shape) - 1 if self.layout is None else self.layout.index(2)
        return 1 if self.layout is None else self.layout.index(1)

    def rule_shape(self):
        """The shape a rule sees: without the batch, Tokens(N, D) for tokens."""
        if self.tokens:
            from ..numbers import Tokens
            return Tokens(*self.spec[1:])
        return self.spec[1:]

    def passed_on(self):
        return Value(self.layer, self.shape, own=False, layout=self.layout, tokens=self.tokens)


def laid_out(spec, layout):
    """The ONNX dims of a tensor of spec shape ``spec`` held in ``layout``."""
    if hasattr(layout, "onnx_dims"):  # a map held as windows (partitions.Partitioned)
        return layout.onnx_dims(spec)
    return tuple(spec) if layout is None else tuple(spec[axis] for axis in layout)


def channels_last(rank):
    """The channels-last layout of a rank-``rank`` tensor: (0, 2, ..., rank-1, 1)."""
    return (0,) + tuple(range(2, rank)) + (1,)


# --- how numbers and shapes are written in spec keys and messages ---------------------------------

def pair(values):
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def number(value):
    value = float(value)
    rounded = float(f"{value:.6g}")  # float32 attributes: 0.01 is stored as 0.009999999776
    return int(rounded) if rounded.is_integer() else rounded


def shape_text(dims):
    return "x".join(str(d) for d in dims)
