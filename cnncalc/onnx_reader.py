"""Read an ONNX model as a spec: the same layer list a YAML spec gives, so every rule and format applies.

Only the graph is read: initializers are known by their dims, never by their data. The file is mapped
and the large data of its initializers skipped before protobuf parses the rest, so a model whose
external weights file is missing still reads, and a 500 MB model reads in the time of its graph. The
few small tensors a graph computes shapes with (Reshape targets, Split sizes, Resize scales, Clip
bounds) are read when they are stored inside the file.

Nodes become layers (see README, "ONNX models"):

* Conv -> ``conv`` (``dwconv`` when depthwise), ConvTranspose -> ``convtranspose``, Gemm and MatMul
  with a constant operand -> ``fc`` (a following Add of a constant vector is its bias),
  BatchNormalization -> ``bn``; their params are the elements of the initializers they use as weights
  (W and B; scale and B for BN, whose mean and var are buffers), so an exported model reports what
  the framework counted.
* Relu, Clip(0, 6), Clip(0, inf), LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu, Selu,
  Softplus, Gelu, x*Sigmoid(x), x*HardSigmoid(x) -> an activation, folded into the layer before as
  ``act:`` when it is that layer's only reader and the layer takes one.
* pools, global pools (and ReduceMean/ReduceMax over H and W), Flatten, Reshape/Squeeze that flatten,
  Concat and Split/Slice on channels (``concat``, ``chunk``), Add, Mul (``add``, ``mul``),
  Reshape-Transpose-Reshape channel shuffles (``shuffle``), Resize/Upsample by whole scales
  (``upsample``; other scales, sizes and modes where the upsample rule takes them), Softmax, LRN; a
  zero Pad before a Conv becomes part of its padding.
* Identity, Cast, Dropout at inference, Quantize/DequantizeLinear pass their input on; Constant and the
  Shape/Gather/Concat/... arithmetic a tracer records for shapes are evaluated on the spot.

The reader sizes each tensor with the rules themselves as it goes, so its shapes and the report's
cannot disagree. onnx (its generated protobuf module, not the whole package) is loaded only here, only
when an .onnx file is read.
"""

import math
import os

from .errors import SpecError
from .spec import NETWORK_INPUT, parse

INSTALL_HINT = "reading .onnx files needs the onnx package: pip install 'cnncalc[onnx]'"
# Constant tensors larger than this are known by their dims only (weights); smaller ones by value too.
MAX_VALUE_ELEMENTS = 4096

# ONNX activation ops and the cnncalc activation each becomes
ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hardsigmoid",
               "HardSwish": "hardswish", "Elu": "elu", "Selu": "selu", "Softplus": "softplus", "Gelu": "gelu",
               "Mish": "mish"}
# layer types that take an in-place `act:`
TAKES_ACT = ("conv", "dwconv", "convtranspose", "fc", "bn", "add")
# x * F(x) is one activation
GATED = {"Sigmoid": "silu", "HardSigmoid": "hardswish"}
# ops that pass their (layer) input on unchanged at inference
PASS_THROUGH = ("Identity", "Cast", "QuantizeLinear", "DequantizeLinear", "Dropout")
# functional ops: named after their scope and op even when alone in it (``layer1.0.add``)
FUNCTIONAL = ("Add", "Sub", "Mul", "Div", "Concat", "Split", "Slice", "Flatten", "Reshape", "Squeeze",
              "Transpose", "Resize", "Upsample", "ReduceMean", "ReduceMax", "Softmax", "LogSoftmax")
SUPPORTED = sorted(set(ACTIVATIONS) | set(PASS_THROUGH) | set(FUNCTIONAL) | {
    "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "Clip", "LeakyRelu", "PRelu", "MaxPool",
    "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LRN", "Constant", "Pad", "Shape", "Size", "CastLike"})


def is_onnx_path(path):
    return str(path).lower().endswith(".onnx")


def load(path, input=None, file=None):
    """The Spec of the ONNX model at ``path``.

    ``input``: None (the model's own input size), or a function that takes the model's input as
    (C, H, W) -- None for a dynamic size -- and returns the (C, H, W) to read the model at.
    ``file`` is how the file is named in messages (default: ``path``).
    """
    file = file or str(path)
    model = read_model(path, file)
    try:
        return _Reader(model, file, input).spec()
    except (IndexError, KeyError, ValueError, TypeError, AttributeError, ArithmeticError) as err:
        # protobuf parsed it, but it breaks ONNX's own rules (a name that is not UTF-8 text, a missing field)
        raise SpecError(f"not a well-formed ONNX model ({type(err).__name__}: {str(err)[:80]})", file=file) from None


def read_model(path, file=None):
    """The ModelProto at ``path``, weights left where they are; SpecError when it is not a model."""
    file = file or str(path)
    model_class = _model_class(file)
    if os.path.isdir(path):
        raise SpecError("is a directory, not an ONNX model", file=file)
    try:
        data = _without_weights(path)
    except FileNotFoundError:
        raise SpecError("no such file", file=file) from None
    except OSError as err:
        raise SpecError(f"cannot read file ({err.strerror or err})", file=file) from None
    try:
        # what onnx.load(path, load_external_data=False) does, without importing all of onnx,
        # and without the weights' bytes
        model = model_class.FromString(data)
    except Exception as err:  # protobuf's DecodeError and friends: the bytes are not a ModelProto
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise SpecError(f"not an ONNX model (it does not parse as one: {reason})", file=file) from None
    del data
    if not model.HasField("graph") or not model.graph.node:
        raise SpecError("not an ONNX model (it has no graph nodes)", file=file)
    return model


# An initializer's data larger than this is left unread (its dims are all the reader needs).
KEEP_DATA_BYTES = 8 * MAX_VALUE_ELEMENTS
_TENSOR_DATA_FIELDS = (4, 5, 6, 7, 9, 10, 11)  # TensorProto: float/int32/string/int64/raw/double/uint64 data


def _without_weights(path):
    """The file's bytes with the large data of the graph's initializers left out.

    The file is mapped, not read: only the pages holding the graph and the initializers' headers are
    touched, so a model's size in weights costs nothing. The protobuf wire format is walked just deep
    enough (ModelProto.graph -> GraphProto.initializer -> TensorProto data fields); anything it cannot
    walk is handed to protobuf whole, which then says what is wrong.
    """
    import mmap

    from .loader import open_regular

    with open_regular(path) as handle:  # a FIFO or /dev/zero named x.onnx is refused, not read forever
        size = os.fstat(handle.fileno()).st_size
        if size < 1 << 20:
            return handle.read()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            try:
                return _slim_model(view)
            except ValueError:
                return view[:]


def _slim_model(buffer):
    parts = []
    for number, wire, start, value, end in _fields(buffer, 0, len(buffer)):
        if number == 7 and wire == 2:  # ModelProto.graph
            parts.append(_field(7, _slim_graph(buffer, value, end)))
        else:
            parts.append(buffer[start:end])
    return b"".join(parts)


def _slim_graph(buffer, begin, stop):
    parts = []
    for number, wire, start, value, end in _fields(buffer, begin, stop):
        if number == 5 and wire == 2:  # GraphProto.initializer
            kept = [buffer[s:e] for n, w, s, v, e in _fields(buffer, value, end)
                    if not (n in _TENSOR_DATA_FIELDS and w == 2 and e - v > KEEP_DATA_BYTES)]
            parts.append(_field(5, b"".join(kept)))
        else:
            parts.append(buffer[start:end])
    return b"".join(parts)


def _varint(buffer, position, stop):
    result = shift = 0
    while True:
        if position >= stop or shift > 63:
            raise ValueError("bad varint")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(buffer, position, stop):
    """(field number, wire type, field start, value start, field end) of each field in a message."""
    while position < stop:
        start = position
        key, position = _varint(buffer, position, stop)
        number, wire = key >> 3, key & 7
        value = position
        if wire == 0:
            _, position = _varint(buffer, position, stop)
        elif wire == 1:
            position += 8
        elif wire == 2:
            length, value = _varint(buffer, position, stop)
            position = value + length
        elif wire == 5:
            position += 4
        else:
            raise ValueError(f"wire type {wire}")
        if position > stop or number == 0:
            raise ValueError("truncated")
        yield number, wire, start, value, position


def _field(number, payload):
    """A length-delimited field: key, length, payload."""
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_GENERATED = []  # onnx's generated protobuf module, once loaded on its own


def _model_class(file):
    """onnx's ModelProto class. ``import onnx`` costs a second or more (it loads numpy, ml_dtypes and
    its checker); the generated protobuf module it is built on loads in a few ms, so when onnx is not
    imported yet that module is loaded on its own, under a private name (protobuf gives the same
    message classes to onnx if it is imported later)."""
    import importlib.util
    import sys

    onnx = sys.modules.get("onnx")
    if onnx is not None and hasattr(onnx, "ModelProto"):
        return onnx.ModelProto
    if _GENERATED:
        return _GENERATED[0].ModelProto
    try:
        found = importlib.util.find_spec("onnx")
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise SpecError(INSTALL_HINT, file=file)
    folders = found.submodule_search_locations or []
    generated = os.path.join(folders[0], "onnx_ml_pb2.py") if folders else ""
    if os.path.isfile(generated):
        try:
            spec = importlib.util.spec_from_file_location("cnncalc._onnx_ml_pb2", generated)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _GENERATED.append(module)
            return module.ModelProto
        except Exception:  # an onnx whose layout differs: import it the ordinary way
            pass
    try:
        import onnx
    except ImportError:
        raise SpecError(INSTALL_HINT, file=file) from None
    return onnx.ModelProto


# AttributeProto.type -> the field holding the value
_ATTRIBUTE_FIELDS = {1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 6: "floats", 7: "ints", 8: "strings", 9: "tensors",
                     10: "graphs"}


def _attributes(node):
    values = {}
    for attribute in node.attribute:
        field = _ATTRIBUTE_FIELDS.get(attribute.type)
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


# TensorProto.data_type -> numpy dtype name, and the typed field that holds values not in raw_data
_TENSOR_TYPES = {1: ("float32", "float_data"), 2: ("uint8", "int32_data"), 3: ("int8", "int32_data"),
                 4: ("uint16", "int32_data"), 5: ("int16", "int32_data"), 6: ("int32", "int32_data"),
                 7: ("int64", "int64_data"), 9: ("bool", "int32_data"), 10: ("float16", "int32_data"),
                 11: ("float64", "double_data"), 12: ("uint32", "uint64_data"), 13: ("uint64", "uint64_data")}
_EXTERNAL = 1  # TensorProto.EXTERNAL


def tensor_array(proto):
    """A small TensorProto's values as a numpy array; None when they are elsewhere or of an odd type."""
    import numpy

    kind = _TENSOR_TYPES.get(proto.data_type)
    if kind is None or proto.data_location == _EXTERNAL:
        return None
    dtype, field = kind
    dims = tuple(proto.dims)
    if proto.raw_data:
        array = numpy.frombuffer(proto.raw_data, dtype=numpy.dtype(dtype).newbyteorder("<")).astype(dtype)
    elif dtype == "float16":
        array = numpy.array(list(proto.int32_data), dtype=numpy.uint16).view(numpy.float16)
    else:
        array = numpy.array(list(getattr(proto, field)), dtype=dtype)
    if array.size != math.prod(dims):
        return None
    return array.reshape(dims)


class _Const:
    """A tensor known before the network runs: an initializer, a Constant, or shape arithmetic on them."""

    __slots__ = ("dims", "proto", "value", "origin", "stored")

    def __init__(self, dims=None, proto=None, value=None, origin=None, stored=True):
        self.dims = None if dims is None else tuple(int(d) for d in dims)
        self.proto = proto
        self.value = value
        self.origin = origin  # the node that made it, when its contents are unknown
        # stored in the file (an initializer, a Constant, or one cast, reshaped or dequantized): a bias
        # counts as params only then; a bias the graph computes (zeros expanded to the filters) does not
        self.stored = stored

    def array(self):
        if self.value is None and self.proto is not None and _elements(self.dims) <= MAX_VALUE_ELEMENTS:
            self.value = tensor_array(self.proto)
        return self.value


class _Value:
    """A tensor the network computes: the spec layer that gives it and its full shape (batch first)."""

    __slots__ = ("layer", "shape", "own", "gate")

    def __init__(self, layer, shape, own=True, gate=None):
        self.layer = layer
        self.shape = tuple(shape)
        self.own = own  # the layer's own output, not a tensor passed on through Identity, Dropout...
        # a value no layer gives yet: (x, activation, foldable) for F(x) of a pending x * F(x);
        # ("shuffle" or "shuffled", x, groups) inside a Reshape-Transpose-Reshape channel shuffle
        self.gate = gate

    def passed_on(self):
        return _Value(self.layer, self.shape, own=False)


def _elements(dims):
    return math.prod(dims) if dims is not None else 0


class _Reader:
    def __init__(self, model, file, input):
        self.model = model
        self.graph = model.graph
        self.file = file
        self.input_override = input
        self.consts = {}
        self.values = {}
        self.items = []  # spec layer items (dicts), in order
        self.by_name = {}  # layer name -> item
        self.names = set()
        self.skip = set()  # node indices already folded into a layer
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)

    # --- errors ---------------------------------------------------------------------------------

    def fail(self, node, message):
        label = f"node '{node.name}'" if node.name else f"a node giving '{node.output[0] if node.output else '?'}'"
        return SpecError(f"{label} ({node.op_type}): {message}", file=self.file)

    def unsupported(self, node, message=None):
        known = message or (f"operator {node.op_type} is not supported (cnncalc reads {', '.join(SUPPORTED)})"
                            if node.op_type not in SUPPORTED else "this use of it is not supported")
        return self.fail(node, known)

    # --- the whole model ------------------------------------------------------------------------

    def spec(self):
        graph = self.graph
        for tensor in graph.initializer:
            self.consts[tensor.name] = _Const(tensor.dims, proto=tensor)
        for sparse in graph.sparse_initializer:
            self.consts[sparse.values.name or sparse.indices.name] = _Const(sparse.dims)
        shape = self.read_input()
        self.prepare(graph.node)
        for index, node in enumerate(graph.node):
            if index in self.skip:
                continue
            self.index = index
            try:
                self.visit(node)
            except (IndexError, KeyError, ValueError, TypeError, ArithmeticError) as err:
                # a node missing an input or attribute the operator requires: the file is malformed
                raise self.fail(node, f"malformed node ({type(err).__name__}: {str(err)[:80]})") from None
        if not self.items:
            raise SpecError("the model has no layers cnncalc counts (only constants and reshapes)", file=self.file)
        document = {"name": _stem(self.file), "source": self.source(), "input": list(shape[1:]),
                    "layers": [self.written(i, item) for i, item in enumerate(self.items)]}
        return parse(document, file=self.file)

    def source(self):
        model = self.model
        producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
        made = f"{producer}, " if producer else ""
        return f"ONNX model {os.path.basename(self.file)} ({made}opset {self.opset})"

    def written(self, position, item):
        """The item as a spec layer: `from` only where it is not the layer before."""
        item = dict(item)
        sources = item.pop("_from")
        previous = self.items[position - 1]["name"] if position else NETWORK_INPUT
        if sources != [previous]:
            item["from"] = sources[0] if len(sources) == 1 else sources
        # the order a person reads: name, type, from, then the keys
        head = {key: item.pop(key) for key in ("name", "type", "from") if key in item}
        return {**head, **item}

    def read_input(self):
        graph = self.graph
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise SpecError(f"cnncalc reads models with one input; this one has {len(inputs)} ({names})",
                            file=self.file)
        tensor = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in tensor.type.tensor_type.shape.dim]
        if len(dims) not in (2, 4):
            shown = "x".join("?" if d is None else str(d) for d in dims) or "no shape"
            raise SpecError(f"the input '{tensor.name}' is {shown}; cnncalc reads N x C x H x W images "
                            f"(or N x features)", file=self.file)
        batch, native = dims[0] or 1, tuple(dims[1:])
        if native[0] is None:
            raise SpecError(f"the input '{tensor.name}' has a dynamic channel count", file=self.file)
        chosen = native if self.input_override is None else tuple(self.input_override(native))
        if None in chosen:
            shown = "x".join("?" if d is None else str(d) for d in ("N",) + native)
            raise SpecError(f"the input '{tensor.name}' has a dynamic size ({shown}); give the size with --input, "
                            f"e.g. --input {native[0]}x224x224", file=self.file)
        if len(chosen) != len(native) or chosen[0] != native[0]:
            raise SpecError(f"--input {'x'.join(map(str, chosen))} does not fit the model's input "
                            f"{'x'.join('?' if d is None else str(d) for d in native)}", file=self.file)
        shape = (batch,) + chosen
        self.values[tensor.name] = _Value(NETWORK_INPUT, shape)
        return shape

    def prepare(self, nodes):
        """Who reads each tensor, and readable names for the nodes."""
        self.readers = {}
        for index, node in enumerate(nodes):
            if node.op_type in ("Shape", "Size"):
                continue  # they read a tensor's size, not its values
            for name in node.input:
                if name:
                    self.readers.setdefault(name, []).append(index)
        for output in self.graph.output:
            self.readers.setdefault(output.name, []).append(None)
        self.nodes = nodes
        self.scope_count = {}
        for node in nodes:
            scope = _torch_scope(node.name)
            if scope is not None and node.op_type not in ("Constant", "Identity"):
                self.scope_count[scope[0]] = self.scope_count.get(scope[0], 0) + 1

    # --- naming -----------------------------------------------------------------------------------

    def layer_name(self, node, weight=None, suffix="", op_name=None):
        scope = _torch_scope(node.name)
        if scope is not None:
            path, op = scope
            op = op_name or op
            if not path:
                base = op.lower()
            elif self.scope_count.get(path, 0) == 1 and node.op_type not in FUNCTIONAL:
                base = path
            else:
                base = f"{path}.{op.lower()}"
        elif weight and weight.endswith(".weight") and len(weight) > 7:
            base = weight[:-7]
        elif node.name:
            base = node.name[5:] if node.name.startswith("node_") else node.name
        else:
            base = node.op_type.lower()
        base = ".".join(part for part in base.replace("/", ".").replace(":", ".").split(".") if part) or "layer"
        base += suffix
        if base == NETWORK_INPUT:
            base = "input_"
        name, count = base, 1
        while name in self.names:
            count += 1
            name = f"{base}_{count}"
        self.names.add(name)
        return name

    # --- building layers ------------------------------------------------------------------------

    def emit(self, node, type_name, sources, keys=None, weight=None, suffix="", op_name=None):
        """Add a layer reading ``sources`` (tensor names); size it with its rule; return its _Value."""
        from . import rules
        from .spec import LayerDecl

        inputs = [self.value(node, source) for source in sources]
        name = self.layer_name(node, weight, suffix, op_name)
        item = {"name": name, "type": type_name, **(keys or {}), "_from": [v.layer for v in inputs]}
        decl = LayerDecl(name, type_name, {k: v for k, v in item.items() if k not in ("name", "type", "_from")},
                         item["_from"], self.file, None, {}, None)
        batch = inputs[0].shape[0]
        try:
            cost = rules.apply(decl, [v.shape[1:] for v in inputs])
        except SpecError as err:
            raise self.fail(node, err.message) from None
        self.items.append(item)
        self.by_name[name] = item
        return _Value(name, (batch,) + tuple(cost.shape))

    def value(self, node, name):
        found = self.values.get(name)
        if found is None:
            if name in self.consts:
                raise self.unsupported(node, f"input '{name}' is a constant where cnncalc expects a computed "
                                             f"tensor")
            raise self.fail(node, f"input '{name}' is not computed by any earlier node")
        if found.gate is not None:
            what = {"shuffle": "a channel shuffle", "shuffled": "a channel shuffle", "pad": "a Pad"}.get(
                found.gate[0], "an activation")
            raise self.unsupported(node, f"input '{name}' is part of {what} cnncalc could not place")
        return found

    def const(self, node, name, what="a constant"):
        found = self.consts.get(name)
        if found is None:
            raise self.unsupported(node, f"input '{name}' must be {what} (an initializer or Constant)")
        return found

    def known(self, node, name, what):
        """The value of a small constant input, or a clear error."""
        const = self.const(node, name, what)
        array = const.array()
        if array is None:
            where = ("in an external data file" if const.proto is not None else
                     f"computed by {const.origin}" if const.origin else "unknown")
            raise self.unsupported(node, f"{what} '{name}' is needed by value, but its contents are {where}")
        return array

    def set_output(self, node, value, position=0):
        self.values[node.output[position]] = value

    def only_reader(self, name):
        """The node index that alone reads tensor ``name`` (not a graph output), else None."""
        readers = self.readers.get(name, [])
        return readers[0] if len(readers) == 1 else None

    def fold_activation(self, node, source, act):
        """Fold ``act`` into the layer giving ``source`` when it is its only reader; else a new layer."""
        value = self.value(node, source)
        item = self.by_name.get(value.layer)
        readers = self.readers.get(source, [])
        if readers and all(r == self.index for r in readers) and self.takes_act(value):
            item["act"] = act
            return value
        return self.emit(node, act, [source])

    def takes_act(self, value):
        """Whether an activation of ``value`` can be the `act:` of the layer that gives it."""
        item = self.by_name.get(value.layer)
        return value.own and item is not None and item["type"] in TAKES_ACT and "act" not in item

    # --- visiting nodes ---------------------------------------------------------------------------

    def visit(self, node):
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise self.unsupported(node, f"operator {node.domain}.{op} is not a standard ONNX operator")
        inputs = [name for name in node.input]
        computed = [name for name in inputs if name and name in self.values]
        if op == "Constant":
            return self.constant(node)
        if op == "CastLike":  # a cast to the type of its second input: only the first matters
            if node.input[0] in self.consts:
                self.consts[node.output[0]] = self.consts[node.input[0]]
                return
            return self.set_output(node, self.value(node, node.input[0]).passed_on())
        if not computed:
            return self.fold_constants(node)
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            if op in ACTIVATIONS:
                return self.activation(node, ACTIVATIONS[op])
            if op in PASS_THROUGH:
                return self.set_output(node, self.value(node, inputs[0]).passed_on())
            raise self.unsupported(node)
        return handler(node, _attributes(node))

    def constant(self, node):
        attrs = {a.name: a for a in node.attribute}
        if "value" in attrs:
            tensor = attrs["value"].t
            self.consts[node.output[0]] = _Const(tensor.dims, proto=tensor)
            return
        import numpy

        values = _attributes(node)
        for key, kind in (("value_int", numpy.int64), ("value_ints", numpy.int64), ("value_float", numpy.float32),
                          ("value_floats", numpy.float32)):
            if key in values:
                array = numpy.array(values[key], dtype=kind)
                self.consts[node.output[0]] = _Const(array.shape, value=array)
                return
        self.consts[node.output[0]] = _Const(None, origin=f"Constant node '{node.name}'")

    def fold_constants(self, node):
        """A node whose inputs are all constants: evaluate it when it is shape arithmetic."""
        from . import onnx_constants

        if node.op_type == "Identity" and node.input[0] in self.consts:
            # the exporter shares an initializer through Identity: the same tensor under another name
            self.consts[node.output[0]] = self.consts[node.input[0]]
            return
        origin = f"node '{node.name}' ({node.op_type})"
        inputs = [self.consts.get(name) if name else None for name in node.input]
        missing = [name for name, const in zip(node.input, inputs) if name and const is None]
        if missing:
            raise self.fail(node, f"input '{missing[0]}' is not computed by any earlier node")
        if node.op_type == "Shape" and inputs[0] is not None and inputs[0].dims is not None:
            import numpy

            attrs = _attributes(node)
            dims = inputs[0].dims
            value = numpy.array(dims[attrs.get("start", 0):attrs.get("end", len(dims))], dtype=numpy.int64)
            self.consts[node.output[0]] = _Const(value.shape, value=value, stored=False)
            return
        results = onnx_constants.evaluate(node, inputs, _attributes(node), self.opset)
        stored = node.op_type in ("Cast", "DequantizeLinear", "QuantizeLinear", "Reshape", "Transpose", "Squeeze",
                                  "Unsqueeze") and inputs[0] is not None and inputs[0].stored
        for position, name in enumerate(node.output):
            dims, value = results[position] if results and position < len(results) else (None, None)
            self.consts[name] = _Const(dims, value=value, origin=None if value is not None else origin,
                                       stored=stored)

    def activation(self, node, act):
        source = node.input[0]
        gate = self.gate_of(node)
        if gate:
            self.set_output(node, _Value(None, self.values[source].shape, gate=gate))
            return
        self.set_output(node, self.fold_activation(node, source, act))

    def gate_of(self, node):
        """x * F(x): when F's only reader is a Mul whose other input is x, the activation is that product.

        (x, activation, foldable): foldable when F and the Mul are x's only readers.
        """
        if node.op_type not in GATED:
            return None
        reader = self.only_reader(node.output[0])
        if reader is None:
            return None
        mul, source = self.nodes[reader], node.input[0]
        if mul.op_type != "Mul" or sorted(mul.input) != sorted([source, node.output[0]]):
            return None
        foldable = sorted(self.readers.get(source, [])) == sorted([self.index, reader])
        return source, GATED[node.op_type], foldable

    def op_Clip(self, node, attrs):
        if self.opset < 11:
            low, high = attrs.get("min"), attrs.get("max")
        else:
            bounds = [None, None]
            for position, name in enumerate(node.input[1:3]):
                if name:
                    bounds[position] = float(self.known(node, name, "a Clip bound").reshape(-1)[0])
            low, high = bounds
        if low == 0 and high == 6:
            act = "relu6"
        elif low == 0 and (high is None or math.isinf(high)):
            act = "relu"
        else:
            raise self.unsupported(node, f"Clip({low}, {high}) is not an activation cnncalc knows (it reads "
                                         f"Clip(0, 6) as relu6 and Clip(0, inf) as relu)")
        self.set_output(node, self.fold_activation(node, node.input[0], act))

    def op_LeakyRelu(self, node, attrs):
        value = self.emit(node, "leakyrelu", [node.input[0]], {"slope": _number(attrs.get("alpha", 0.01))})
        self.set_output(node, value)

    def op_PRelu(self, node, attrs):
        slope = self.const(node, node.input[1], "the PRelu slope")
        count = _elements(slope.dims)
        channels = self.value(node, node.input[0]).shape[1]
        if count not in (1, channels):
            raise self.unsupported(node, f"a PRelu slope of {count} values (cnncalc counts 1 or one per channel)")
        self.set_output(node, self.emit(node, "prelu", [node.input[0]], {"shared": count == 1}))

    def op_Softmax(self, node, attrs):
        self.set_output(node, self.emit(node, "softmax", [node.input[0]]))

    op_LogSoftmax = op_Softmax

    def op_LRN(self, node, attrs):
        keys = {"size": attrs["size"], "alpha": _number(attrs.get("alpha", 1e-4)),
                "beta": _number(attrs.get("beta", 0.75)), "k": _number(attrs.get("bias", 1.0))}
        self.set_output(node, self.emit(node, "lrn", [node.input[0]], keys))

    def op_Shape(self, node, attrs):
        import numpy

        shape = self.value(node, node.input[0]).shape
        start, end = attrs.get("start", 0), attrs.get("end", len(shape))
        array = numpy.array(shape[start:end], dtype=numpy.int64)
        self.consts[node.output[0]] = _Const(array.shape, value=array)

    def op_Size(self, node, attrs):
        import numpy

        array = numpy.array(math.prod(self.value(node, node.input[0]).shape), dtype=numpy.int64)
        self.consts[node.output[0]] = _Const(array.shape, value=array)

    # --- convolutions and dense layers ------------------------------------------------------------

    def spatial(self, node, attrs, shape, kernel, extra=None):
        """stride, pad, dilation keys of a windowed op (ONNX pads are begins then ends); ``extra`` is a
        zero Pad before it, [top, left, bottom, right], added to its own padding."""
        if len(shape) != 4:
            raise self.unsupported(node, f"a {len(shape) - 2}-d {node.op_type} (cnncalc reads 2-d maps, "
                                         f"N x C x H x W)")
        strides = list(attrs.get("strides", [1, 1]))
        dilations = list(attrs.get("dilations", [1, 1]))
        keys = {"kernel": _pair(kernel), "stride": _pair(strides)}
        auto = attrs.get("auto_pad", "NOTSET")
        if extra is not None:
            if auto in ("SAME_UPPER", "SAME_LOWER"):
                raise self.unsupported(node, "a Pad before a Conv with auto_pad SAME")
            own = [0, 0, 0, 0] if auto == "VALID" else list(attrs.get("pads", [0, 0, 0, 0]))
            keys["pad"] = _pads([a + b for a, b in zip(own, extra)])
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for size, k, s, d in zip(shape[2:], kernel, strides, dilations):
                out = -(-size // s)
                total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
                low = total // 2 if auto == "SAME_UPPER" else total - total // 2
                pads.append((low, total - low))
            keys["pad"] = "same" if auto == "SAME_UPPER" else _pads([pads[0][0], pads[1][0], pads[0][1],
                                                                       pads[1][1]])
        elif auto == "VALID":
            keys["pad"] = 0
        else:
            keys["pad"] = _pads(list(attrs.get("pads", [0, 0, 0, 0])))
        if dilations != [1, 1]:
            keys["dilation"] = _pair(dilations)
        return keys

    def op_Conv(self, node, attrs):
        source, weight = node.input[0], node.input[1]
        extra = None
        pending = self.values.get(source)
        if pending is not None and pending.gate and pending.gate[0] == "pad":
            _, source, extra = pending.gate
        shape = self.value(node, source).shape
        dims = self.const(node, weight, "the Conv weight").dims
        if dims is None or len(dims) != len(shape):
            raise self.unsupported(node, f"the weight '{weight}' must be a {len(shape)}-d initializer")
        groups = attrs.get("group", 1)
        if dims[1] * groups != shape[1]:
            raise self.fail(node, f"the weight {_shape(dims)} with {groups} group(s) does not fit "
                                  f"{shape[1]} input channels")
        keys = {"filters": dims[0]}
        keys.update(self.spatial(node, attrs, shape, attrs.get("kernel_shape", dims[2:]), extra))
        bias = self.bias(node, 2, dims[0], "the Conv bias")
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
        self.set_output(node, self.emit(node, type_name, [source], keys, weight=weight))

    def bias(self, node, position, count, what):
        """Whether the node has a bias of ``count`` values stored in the file (see _Const.stored)."""
        if len(node.input) <= position or not node.input[position]:
            return False
        const = self.const(node, node.input[position], what)
        if not const.stored:
            return False
        if _elements(const.dims) != count:
            raise self.unsupported(node, f"{what} has {_elements(const.dims)} values, not one per output ({count})")
        return True

    def op_ConvTranspose(self, node, attrs):
        source, weight = node.input[0], node.input[1]
        shape = self.value(node, source).shape
        dims = self.const(node, weight, "the ConvTranspose weight").dims
        groups = attrs.get("group", 1)
        if dims is None or len(dims) != len(shape) or dims[0] != shape[1]:
            raise self.unsupported(node, f"the weight '{weight}' must be a {len(shape)}-d initializer of "
                                         f"{shape[1]} input channels")
        if "output_shape" in attrs or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise self.unsupported(node, "output_shape and auto_pad SAME on ConvTranspose are not supported; "
                                         "give pads")
        keys = {"filters": dims[1] * groups}
        keys.update(self.spatial(node, attrs, shape, attrs.get("kernel_shape", dims[2:])))
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise self.unsupported(node, f"unequal pads {pads} on a ConvTranspose")
        keys["pad"] = _pair(pads[:2])
        if attrs.get("output_padding", [0, 0]) != [0, 0]:
            keys["output_pad"] = _pair(list(attrs["output_padding"]))
        if groups > 1:
            keys["groups"] = groups
        if not self.bias(node, 2, keys["filters"], "the ConvTranspose bias"):
            keys["bias"] = False
        _drop_defaults(keys)
        self.set_output(node, self.emit(node, "convtranspose", [source], keys, weight=weight))

    def op_Gemm(self, node, attrs):
        source, weight = node.input[0], node.input[1]
        shape = self.value(node, source).shape
        if attrs.get("transA", 0) or len(shape) != 2:
            raise self.unsupported(node, "Gemm on a transposed or not 2-d input")
        dims = self.const(node, weight, "the Gemm weight B").dims
        if dims is None or len(dims) != 2:
            raise self.unsupported(node, f"the weight '{weight}' must be a 2-d initializer")
        features, units = (dims[1], dims[0]) if attrs.get("transB", 0) else dims
        if features != shape[1]:
            raise self.fail(node, f"the weight {_shape(dims)} does not fit {shape[1]} input features")
        keys = {"units": units}
        if not self.bias(node, 2, units, "the Gemm bias C"):
            keys["bias"] = False
        self.set_output(node, self.emit(node, "fc", [source], keys, weight=weight))

    def op_MatMul(self, node, attrs):
        source, weight = node.input
        if weight in self.values or source not in self.values:
            raise self.unsupported(node, "MatMul of two computed tensors (cnncalc reads MatMul with a constant "
                                         "weight as a fully connected layer)")
        shape = self.value(node, source).shape
        dims = self.const(node, weight, "the MatMul weight").dims
        if dims is None or len(dims) != 2 or len(shape) != 2:
            raise self.unsupported(node, f"MatMul of {_shape(shape)} by {_shape(dims or ())}: cnncalc reads "
                                         f"N x features times a 2-d constant as a fully connected layer")
        if dims[0] != shape[1]:
            raise self.fail(node, f"the weight {_shape(dims)} does not fit {shape[1]} input features")
        keys = {"units": dims[1], "bias": False}
        bias_add = self.only_reader(node.output[0])
        if bias_add is not None:
            add = self.nodes[bias_add]
            other = [name for name in add.input if name != node.output[0]]
            if (add.op_type == "Add" and len(other) == 1 and other[0] in self.consts
                    and _elements(self.consts[other[0]].dims) == dims[1]):
                del keys["bias"]
                self.skip.add(bias_add)
                value = self.emit(node, "fc", [source], keys, weight=weight)
                self.set_output(node, value)
                self.values[add.output[0]] = value
                return
        self.set_output(node, self.emit(node, "fc", [source], keys, weight=weight))

    def op_BatchNormalization(self, node, attrs):
        source = node.input[0]
        channels = self.value(node, source).shape[1]
        for name, what in zip(node.input[1:5], ("scale", "B", "mean", "var")):
            dims = self.const(node, name, f"the BatchNormalization {what}").dims
            if _elements(dims) != channels:
                raise self.unsupported(node, f"the {what} '{name}' has {_elements(dims)} values for {channels} "
                                             f"channels")
        self.set_output(node, self.emit(node, "bn", [source], weight=node.input[1]))

    # --- pooling ----------------------------------------------------------------------------------

    def pool(self, node, attrs, type_name):
        source = node.input[0]
        shape = self.value(node, source).shape
        keys = self.spatial(node, attrs, shape, attrs["kernel_shape"])
        if attrs.get("ceil_mode", 0):
            keys["ceil_mode"] = True
        if type_name == "avgpool":
            keys.pop("dilation", None)
        if keys["pad"] == 0:
            del keys["pad"]  # the stride stays: a pool's default stride is its kernel, ONNX's is 1
        self.set_output(node, self.emit(node, type_name, [source], keys))

    def op_MaxPool(self, node, attrs):
        if len(node.output) > 1 and node.output[1]:
            raise self.unsupported(node, "MaxPool with an indices output")
        self.pool(node, attrs, "maxpool")

    def op_AveragePool(self, node, attrs):
        self.pool(node, attrs, "avgpool")

    def op_GlobalAveragePool(self, node, attrs):
        self.set_output(node, self.emit(node, "globalavgpool", [node.input[0]]))

    def op_GlobalMaxPool(self, node, attrs):
        self.set_output(node, self.emit(node, "globalmaxpool", [node.input[0]]))

    def reduce(self, node, attrs, type_name):
        shape = self.value(node, node.input[0]).shape
        if len(node.input) > 1 and node.input[1]:
            axes = self.known(node, node.input[1], "the axes").reshape(-1).tolist()
        else:
            axes = attrs.get("axes")
        if len(shape) != 4 or axes is None or sorted(a % 4 for a in axes) != [2, 3]:
            raise self.unsupported(node, f"{node.op_type} over axes {axes} (cnncalc reads a reduction over H and W "
                                         f"as a global pool)")
        value = self.emit(node, type_name, [node.input[0]])
        if not attrs.get("keepdims", 1):
            self.values[node.output[0]] = value
            value = self.emit(node, "flatten", [node.output[0]], suffix=".flatten")
        self.set_output(node, value)

    def op_ReduceMean(self, node, attrs):
        self.reduce(node, attrs, "globalavgpool")

    def op_ReduceMax(self, node, attrs):
        self.reduce(node, attrs, "globalmaxpool")

    # --- shapes -----------------------------------------------------------------------------------

    def op_Flatten(self, node, attrs):
        shape = self.value(node, node.input[0]).shape
        if attrs.get("axis", 1) % len(shape) != 1:
            raise self.unsupported(node, f"Flatten at axis {attrs.get('axis')} (cnncalc flattens each sample: "
                                         f"axis 1)")
        self.set_output(node, self.emit(node, "flatten", [node.input[0]]))

    def op_Squeeze(self, node, attrs):
        shape = self.value(node, node.input[0]).shape
        if len(node.input) > 1 and node.input[1]:
            axes = self.known(node, node.input[1], "the axes").reshape(-1).tolist()
        else:
            axes = attrs.get("axes", [i for i, d in enumerate(shape) if d == 1 and i])
        if len(shape) == 4 and sorted(a % 4 for a in axes) == [2, 3] and shape[2:] == (1, 1):
            return self.set_output(node, self.emit(node, "flatten", [node.input[0]]))
        raise self.unsupported(node, f"Squeeze of {_shape(shape)} at axes {axes} (cnncalc reads N x C x 1 x 1 "
                                     f"squeezed to N x C as a flatten)")

    def op_Reshape(self, node, attrs):
        source = node.input[0]
        pending = self.values.get(source)
        if pending is not None and pending.gate and pending.gate[0] == "shuffled":
            return self.reshape_back(node, pending)
        shape = self.value(node, source).shape
        target = self.known(node, node.input[1], "the Reshape target shape").reshape(-1).tolist()
        target = _reshaped(shape, target, attrs.get("allowzero", 0))
        if target is None:
            raise self.unsupported(node, f"a Reshape of {_shape(shape)} to "
                                         f"{_shape(self.consts[node.input[1]].value.tolist())}")
        if target == shape:
            return self.set_output(node, self.values[source].passed_on())
        if len(target) == 2 and target[0] == shape[0]:
            return self.set_output(node, self.emit(node, "flatten", [source]))
        shuffle = self.shuffle(node, shape, target)
        if shuffle is not None:
            return
        raise self.unsupported(node, f"a Reshape of {_shape(shape)} to {_shape(target)} (cnncalc reads a Reshape "
                                     f"that flattens each sample, or a channel shuffle)")

    def shuffle(self, node, shape, target):
        """Reshape N,C,H,W -> N,g,C/g,H,W; Transpose 0,2,1,3,4; Reshape back: ``shuffle`` (ShuffleNet).

        The first Reshape leaves a pending value that only that Transpose, then a Reshape back to
        N,C,H,W, may read (the last target is often computed after the Transpose).
        """
        if len(shape) != 4 or len(target) != 5 or target[0] != shape[0] or target[3:] != shape[2:]:
            return None
        transpose_at = self.only_reader(node.output[0])
        if transpose_at is None or self.nodes[transpose_at].op_type != "Transpose":
            return None
        if list(_attributes(self.nodes[transpose_at]).get("perm", [])) != [0, 2, 1, 3, 4]:
            return None
        value = _Value(None, target, gate=("shuffle", node.input[0], target[1]))
        self.set_output(node, value)
        return value

    def op_Pad(self, node, attrs):
        """A zero Pad of H and W read by a Conv alone becomes part of that Conv's padding."""
        shape = self.value(node, node.input[0]).shape
        names = list(node.input) + [""] * 3
        if self.opset < 11:
            pads, fill = list(attrs.get("pads", [])), attrs.get("value", 0.0)
        else:
            pads = self.known(node, names[1], "the pads").reshape(-1).tolist()
            fill = float(self.known(node, names[2], "the pad value").reshape(-1)[0]) if names[2] else 0.0
        reader = self.only_reader(node.output[0])
        conv = self.nodes[reader] if reader is not None else None
        if (attrs.get("mode", "constant") != "constant" or fill != 0 or names[3] or len(shape) != 4
                or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0
                or conv is None or conv.op_type != "Conv" or conv.input[0] != node.output[0]):
            raise self.unsupported(node, "a Pad other than zeros around H and W before a Conv (cnncalc folds "
                                         "such a Pad into the Conv's padding)")
        padded = shape[:2] + (shape[2] + pads[2] + pads[6], shape[3] + pads[3] + pads[7])
        extra = [int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])]  # top, left, bottom, right
        self.set_output(node, _Value(None, padded, gate=("pad", node.input[0], extra)))

    def op_Transpose(self, node, attrs):
        pending = self.values.get(node.input[0])
        if pending is not None and pending.gate and pending.gate[0] == "shuffle":
            _, source, groups = pending.gate
            shape = pending.shape
            transposed = (shape[0], shape[2], shape[1]) + shape[3:]
            return self.set_output(node, _Value(None, transposed, gate=("shuffled", source, groups)))
        return self.transpose(node, attrs)

    def reshape_back(self, node, pending):
        """The Reshape that ends a channel shuffle."""
        _, source, groups = pending.gate
        original = self.values[source].shape
        target = self.known(node, node.input[1], "the Reshape target shape").reshape(-1).tolist()
        if _reshaped(pending.shape, target, 0) != original:
            raise self.unsupported(node, f"a channel shuffle that does not end as {_shape(original)}")
        self.set_output(node, self.emit(node, "shuffle", [source], {"groups": groups}, op_name="shuffle"))

    def transpose(self, node, attrs):
        shape = self.value(node, node.input[0]).shape
        perm = list(attrs.get("perm", reversed(range(len(shape)))))
        if perm == list(range(len(shape))):
            return self.set_output(node, self.values[node.input[0]].passed_on())
        raise self.unsupported(node, f"a Transpose {perm} (cnncalc reads Transpose only inside a channel shuffle "
                                     f"Reshape-Transpose-Reshape)")

    def op_Split(self, node, attrs):
        shape = self.value(node, node.input[0]).shape
        axis = attrs.get("axis", 0) % len(shape)
        parts = len(node.output)
        if len(node.input) > 1 and node.input[1]:
            sizes = self.known(node, node.input[1], "the split sizes").reshape(-1).tolist()
        else:
            sizes = attrs.get("split") or [shape[axis] // parts] * parts
        if axis != 1 or len(set(sizes)) != 1 or sum(sizes) != shape[1]:
            raise self.unsupported(node, f"a Split of {_shape(shape)} into {sizes} at axis {axis} (cnncalc reads "
                                         f"equal channel splits)")
        for index in range(parts):
            value = self.emit(node, "chunk", [node.input[0]], {"chunks": parts, "index": index},
                              suffix=f".{index}")
            self.set_output(node, value, index)

    def op_Slice(self, node, attrs):
        shape = self.value(node, node.input[0]).shape
        if self.opset < 10:
            starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
        else:
            read = [self.known(node, name, what).reshape(-1).tolist() if name else None
                    for name, what in zip(list(node.input[1:5]) + [""] * 4,
                                          ("the starts", "the ends", "the axes", "the steps"))]
            starts, ends, axes, steps = read
        axes = list(range(len(starts))) if axes is None else axes
        steps = steps or [1] * len(starts)
        window = {}
        for start, end, axis, step in zip(starts, ends, axes, steps):
            size = shape[axis % len(shape)]
            begin, stop = (max(0, min(size, v + size if v < 0 else v)) for v in (start, end))
            if (begin, stop, step) != (0, size, 1):
                window[axis % len(shape)] = (begin, stop, step)
        if list(window) == [1] and window[1][2] == 1:
            begin, stop, _ = window[1]
            width = stop - begin
            if width and shape[1] % width == 0 and begin % width == 0:
                value = self.emit(node, "chunk", [node.input[0]], {"chunks": shape[1] // width,
                                                                    "index": begin // width})
                return self.set_output(node, value)
        if not window:
            return self.set_output(node, self.values[node.input[0]].passed_on())
        raise self.unsupported(node, f"a Slice of {_shape(shape)} ({window}) (cnncalc reads a slice of the channels "
                                     f"into equal parts)")

    def op_Concat(self, node, attrs):
        shapes = [self.value(node, name).shape for name in node.input]
        axis = attrs.get("axis", 1) % len(shapes[0])
        if axis != 1:
            raise self.unsupported(node, f"a Concat at axis {axis} (cnncalc concatenates channels: axis 1)")
        self.set_output(node, self.emit(node, "concat", list(node.input)))

    def op_Add(self, node, attrs):
        if any(name not in self.values for name in node.input):
            raise self.unsupported(node, "an Add of a constant (cnncalc reads Add of two computed tensors, and "
                                         "MatMul + constant as a fully connected layer with a bias)")
        self.set_output(node, self.emit(node, "add", list(node.input)))

    def op_Mul(self, node, attrs):
        if any(name not in self.values for name in node.input):
            raise self.unsupported(node, "a Mul by a constant (cnncalc reads Mul of two computed tensors: a "
                                         "squeeze-excitation gate, or x * sigmoid(x))")
        gates = [self.values[name].gate for name in node.input if self.values[name].gate is not None]
        if gates and gates[0][0] not in ("shuffle", "shuffled", "pad"):
            source, act, foldable = gates[0]
            value = self.value(node, source)
            if foldable and self.takes_act(value):
                self.by_name[value.layer]["act"] = act
                return self.set_output(node, value)
            return self.set_output(node, self.emit(node, act, [source]))
        self.set_output(node, self.emit(node, "mul", list(node.input)))

    def resize(self, node, scales, sizes, mode):
        """Resize/Upsample of H and W as ``upsample``: whole scales always; other scales, output sizes and
        the interpolation mode where the upsample rule takes them (``size``, ``mode``)."""
        from .rules import RULES

        shape = self.value(node, node.input[0]).shape
        factors = [out / size for out, size in zip(sizes, shape)] if sizes is not None else list(scales)
        takes = RULES["upsample"].keys
        if len(factors) != 4 or factors[:2] != [1, 1] or len(shape) != 4:
            raise self.unsupported(node, f"a {node.op_type} of {_shape(shape)} by {factors} (cnncalc resizes H "
                                         f"and W only)")
        keys = {}
        if all(float(f).is_integer() and f >= 1 for f in factors[2:]):
            keys["scale"] = _pair([int(f) for f in factors[2:]])
        elif sizes is not None and "size" in takes:
            keys["size"] = _pair([int(v) for v in sizes[2:]])
        elif "size" in takes and all(f > 0 for f in factors[2:]):
            keys["scale"] = [_number(f) for f in factors[2:]]
        else:
            raise self.unsupported(node, f"a {node.op_type} of {_shape(shape)} by {factors} (cnncalc's upsample "
                                         f"takes whole-number scales of H and W)")
        interpolation = {"linear": "bilinear", "cubic": "bicubic"}.get(mode, "nearest")
        if "mode" in takes and interpolation != "nearest":
            keys["mode"] = interpolation
        self.set_output(node, self.emit(node, "upsample", [node.input[0]], keys))

    def op_Resize(self, node, attrs):
        names = list(node.input) + [""] * 4
        if self.opset < 11:
            scales_name, sizes_name = names[1], ""
        else:
            scales_name, sizes_name = names[2], names[3]
        scales = sizes = None
        if sizes_name:
            sizes = self.known(node, sizes_name, "the Resize sizes").reshape(-1).tolist()
        elif scales_name:
            scales = self.known(node, scales_name, "the Resize scales").reshape(-1).tolist()
        if (scales is None or not scales) and sizes is None:
            raise self.unsupported(node, "a Resize without scales or sizes")
        self.resize(node, scales, sizes, attrs.get("mode", "nearest"))

    def op_Upsample(self, node, attrs):
        if len(node.input) > 1 and node.input[1]:
            scales = self.known(node, node.input[1], "the Upsample scales").reshape(-1).tolist()
        else:
            scales = attrs.get("scales")
        self.resize(node, scales, None, attrs.get("mode", "nearest"))


# --- helpers ------------------------------------------------------------------------------------

def _torch_scope(name):
    """PyTorch's exporter names nodes '/layer1/layer1.0/conv1/Conv': ('layer1.0.conv1', 'Conv')."""
    if not name or not name.startswith("/"):
        return None
    parts = [part for part in name.split("/") if part]
    if not parts:
        return None
    path = previous = ""
    for part in parts[:-1]:
        if previous and part.startswith(previous + "."):
            path += part[len(previous):]
        else:
            path = f"{path}.{part}" if path else part
        previous = part
    return path, parts[-1]


def _drop_defaults(keys):
    """A conv's stride 1 and pad 0 go unsaid, as in the built-in specs."""
    for key, default in (("stride", 1), ("pad", 0)):
        if keys.get(key) == default:
            del keys[key]


def _pair(values):
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


def _pads(pads):
    """ONNX pads [top, left, bottom, right] as a spec pad: one number, [h, w] or [top, bottom, left, right]."""
    top, left, bottom, right = (int(p) for p in pads)
    if top == bottom and left == right:
        return _pair([top, left])
    return [top, bottom, left, right]


def _number(value):
    value = float(value)
    rounded = float(f"{value:.6g}")  # float32 attributes: 0.01 is stored as 0.009999999776
    return int(rounded) if rounded.is_integer() else rounded


def _shape(dims):
    return "x".join(str(d) for d in dims)


def _reshaped(shape, target, allowzero):
    """The shape a Reshape of ``shape`` to ``target`` gives (0 copies, -1 infers), or None if invalid."""
    target = [shape[i] if v == 0 and not allowzero and i < len(shape) else v for i, v in enumerate(target)]
    total = math.prod(shape)
    if target.count(-1) > 1:
        return None
    if -1 in target:
        known = math.prod(v for v in target if v != -1)
        if not known or total % known:
            return None
        target[target.index(-1)] = total // known
    if math.prod(target) != total:
        return None
    return tuple(int(v) for v in target)


def _stem(file):
    return os.path.splitext(os.path.basename(str(file)))[0]

