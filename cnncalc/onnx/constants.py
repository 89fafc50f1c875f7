"""Evaluate the constant part of an ONNX graph: the shape arithmetic a tracer records.

PyTorch's exporter writes ``x.view(b, g, c // g, h, w)`` as Shape -> Gather -> Unsqueeze -> Concat
nodes; once the input size is known these are constants. :func:`evaluate` computes one such node from
its constant inputs (small tensors only, with :mod:`cnncalc.onnx.small`, numpy's
operations in pure Python) and, for weights transformed on the way to a layer
(Cast, DequantizeLinear, Transpose, elementwise scaling), at least the dims.
"""

import math

from . import small
from .tensors import MAX_VALUE_ELEMENTS, TENSOR_TYPES, tensor_array


# What folding may cost: a node's inputs together at most MAX_FOLD_INPUT_ELEMENTS elements (one Concat or Max
# naming the same 4,096-element constant 200,000 times allocated 6.5 GB), a model's folded inputs and results
# together at most MAX_FOLDED_ELEMENTS; past either, a result is known by its dims only.
MAX_FOLD_INPUT_ELEMENTS = 16 * MAX_VALUE_ELEMENTS
MAX_FOLDED_ELEMENTS = 10_000_000


def evaluate(node, inputs, attrs, opset, fold=True, op=None, names=None):
    """:func:`compute`, once for each distinct node: a tracer writes the same shape arithmetic in every block
    (Swin-T from TorchScript: 3,200 small integer nodes, 370 of them distinct). ``op`` and ``names``: the
    node's operator and inputs, when read already."""
    op = op or node.op_type
    key = _memo_key(op, inputs, attrs, opset, fold)
    found = _MEMO.get(key) if key is not None else None
    if found is None:
        found = compute(node, inputs, attrs, opset, fold, op, names)
        if key is not None:
            if len(_MEMO) >= _MEMO_SIZE:
                _MEMO.clear()
            _MEMO[key] = found
    return found


def compute(node, inputs, attrs, opset, fold=True, op=None, names=None):
    """[(dims, value)] for each output of ``node``; a value (a :class:`small.Array`) or dims may be None.

    A result larger than MAX_VALUE_ELEMENTS is known by its dims only; so is every result when ``fold`` is
    false (the model's folding budget is spent) or the inputs hold more than MAX_FOLD_INPUT_ELEMENTS.
    """
    op = op or node.op_type
    handler = _HANDLERS.get(op) if fold else None
    dims = [const.dims if const is not None else None for const in inputs]
    if handler is not None and fold_cost(inputs) > MAX_FOLD_INPUT_ELEMENTS:
        handler = None  # counted from the dims, before any array is made
    if handler is not None and op not in _BY_VALUE:
        known = _dims_only(op, dims, (), attrs)
        if _elements(known) > MAX_VALUE_ELEMENTS and (known is not None or op in _ELEMENTWISE):
            # a result too large to keep (a broadcast, a Gather from a table): its dims are enough (they do not
            # depend on the inputs' values: the operators reading a value are those of _BY_VALUE)
            return [(known, None)]
    if handler is None:
        arrays = [const.array() if const is not None and (position or op == "ConstantOfShape") and op in _BY_VALUE
                  else None for position, const in enumerate(inputs)]
        return [(_dims_only(op, dims, arrays, attrs), None)]
    arrays = [const.array() if const is not None else None for const in inputs]  # each at most 4,096, made once
    if all(a is not None for a, name in zip(arrays, node.input if names is None else names) if name):
        try:
            result = handler(small, arrays, attrs, opset)
        except (ValueError, IndexError, TypeError, ZeroDivisionError, OverflowError, KeyError):
            result = None
        if result is not None:
            results = result if isinstance(result, list) else [result]
            return [(tuple(r.shape), r if r.size <= MAX_VALUE_ELEMENTS else None) for r in results]
    return [(_dims_only(op, dims, arrays, attrs), None)]


def fold_cost(inputs):
    """The elements of a node's constant inputs (an input of unknown dims counts as too many)."""
    return sum(_elements(const.dims) for const in inputs if const is not None)


_ELEMENTWISE = ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Where", "Equal", "Less", "Greater", "Mod")
_BY_VALUE = ("ConstantOfShape", "Expand", "Unsqueeze", "Reshape", "Slice", "Tile")  # output dims that need an input's values


def _elements(dims):
    return math.prod(dims) if dims is not None else MAX_VALUE_ELEMENTS + 1


def _dims_only(op, dims, arrays, attrs):
    """The output dims of a weight transform, when they follow from the input dims alone."""
    if op == "ConstantOfShape" and arrays and arrays[0] is not None:
        return tuple(int(v) for v in arrays[0].reshape(-1))
    if not dims or dims[0] is None:
        return None
    if op in ("ScatterND", "ScatterElements", "Not"):
        return dims[0]
    if op == "Expand" and len(arrays) > 1 and arrays[1] is not None:
        try:
            return tuple(small.broadcast_shapes(dims[0], tuple(int(v) for v in arrays[1].reshape(-1))))
        except ValueError:
            return None
    if op == "Tile" and len(arrays) > 1 and arrays[1] is not None and arrays[1].size == len(dims[0]):
        return tuple(d * int(r) for d, r in zip(dims[0], arrays[1].reshape(-1)))  # XCiT's position encoding
    if op in ("Identity", "Cast", "DequantizeLinear", "QuantizeLinear", "Neg", "Abs", "Sqrt", "Exp", "Reciprocal",
              "Relu", "Sigmoid", "Tanh", "Clip", "Round", "Floor", "Ceil", "Sin", "Cos", "CumSum"):
        return dims[0]
    if op in _ELEMENTWISE:
        try:
            return tuple(small.broadcast_shapes(*{tuple(d) for d in dims if d is not None}))  # each shape once
        except ValueError:
            return None
    if op == "Gather" and len(dims) > 1 and dims[1] is not None:
        axis = attrs.get("axis", 0) % len(dims[0])
        return dims[0][:axis] + dims[1] + dims[0][axis + 1:]
    if op == "Unsqueeze" and len(arrays) > 1 and arrays[1] is not None:
        shape = list(dims[0])
        for axis in sorted(int(a) % (len(shape) + arrays[1].size) for a in arrays[1].reshape(-1)):
            shape.insert(axis, 1)
        return tuple(shape)
    if op == "Transpose":
        perm = attrs.get("perm", list(reversed(range(len(dims[0])))))
        return tuple(dims[0][p] for p in perm)
    if op == "GatherND" and len(dims) > 1 and dims[1] is not None and not attrs.get("batch_dims", 0) \
            and dims[1] and dims[1][-1] <= len(dims[0]):  # a table gathered by an index (torch.export's bias)
        return dims[1][:-1] + dims[0][dims[1][-1]:]
    if op == "MatMul" and len(dims) > 1 and dims[1] is not None and len(dims[0]) > 1 and len(dims[1]) > 1 \
            and dims[0][-1] == dims[1][-2]:
        # a product of constants (Swin V2's position-bias MLP on its coordinates table)
        try:
            return tuple(small.broadcast_shapes(dims[0][:-2], dims[1][:-2])) + (dims[0][-2], dims[1][-1])
        except ValueError:
            return None
    if op == "Slice" and len(arrays) > 2 and arrays[1] is not None and arrays[2] is not None:
        return _sliced(dims[0], arrays)
    if op == "Concat" and all(d is not None and len(d) == len(dims[0]) for d in dims):
        axis = attrs.get("axis", 0) % len(dims[0])
        return dims[0][:axis] + (sum(d[axis] for d in dims),) + dims[0][axis + 1:]
    if op == "Conv" and len(dims) > 1 and dims[1] is not None:
        return _convolved(dims[0], dims[1], attrs)
    if op == "Reshape" and len(arrays) > 1 and arrays[1] is not None:
        target = [int(v) for v in arrays[1].reshape(-1)]
        target = [dims[0][i] if v == 0 and i < len(dims[0]) else v for i, v in enumerate(target)]
        if target.count(-1) == 1:
            known = math.prod(v for v in target if v != -1)
            if known:
                target[target.index(-1)] = math.prod(dims[0]) // known
        return tuple(target) if math.prod(target) == math.prod(dims[0]) else None
    return None


def _sliced(dims, arrays):
    """The dims of a Slice (opset 10+) of a tensor of ``dims``, from its starts, ends, axes and steps (the 3-D
    Swin's relative-position index, sliced to the window's positions, is larger than a value kept)."""
    parts = [[int(v) for v in a.reshape(-1)] if a is not None else None for a in (arrays[1:] + [None] * 4)[:4]]
    starts, ends, axes, steps = parts
    axes = list(range(len(starts))) if axes is None else axes
    shape = list(dims)
    for start, end, axis, step in zip(starts, ends, axes, steps or [1] * len(starts)):
        if not step or not -len(dims) <= axis < len(dims):
            return None
        shape[axis % len(dims)] = len(range(*slice_bounds(dims[axis % len(dims)], start, end, step)))
    return tuple(shape)


def slice_bounds(size, start, end, step):
    """ONNX Slice's effective (start, end, step) on an axis of ``size``: a negative start or end has ``size`` added,
    then, stepping forwards, both are clamped to [0, size]; backwards, the start to [0, size - 1] and the end to
    [-1, size - 1] (-1: past the first element). Unlike Python's slice, a start before the first element stepping
    backwards is the first element."""
    start, end = (v + size if v < 0 else v for v in (start, end))
    if step > 0:
        return max(0, min(size, start)), max(0, min(size, end)), step
    if not size:
        return 0, 0, step
    return max(0, min(size - 1, start)), max(-1, min(size - 1, end)), step


def _convolved(dims, weight, attrs):
    """The dims of a Conv of a constant (EdgeNeXt's Fourier position encoding: a 1x1 conv of a sine/cosine grid)."""
    spatial = len(dims) - 2
    if len(weight) != len(dims) or spatial < 1 or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    kernel = weight[2:]
    strides, dilations = attrs.get("strides", [1] * spatial), attrs.get("dilations", [1] * spatial)
    pads = attrs.get("pads", [0] * 2 * spatial)
    out = tuple((size + pads[i] + pads[i + spatial] - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1
                for i, size in enumerate(dims[2:]))
    return (dims[0], weight[0]) + out if min(out) > 0 else None


def _axes(arrays, attrs, position=1):
    if len(arrays) > position and arrays[position] is not None:
        return [int(a) for a in arrays[position].reshape(-1)]
    return list(attrs.get("axes", []))


def _cast(np, arrays, attrs, opset):
    return arrays[0].astype(TENSOR_TYPES[attrs["to"]][0])


def _gather(np, arrays, attrs, opset):
    return np.take(arrays[0], arrays[1].astype(np.int64), axis=attrs.get("axis", 0))


def _unsqueeze(np, arrays, attrs, opset):
    value = arrays[0]
    axes = _axes(arrays, attrs)
    rank = value.ndim + len(axes)
    shape = list(value.shape)
    for axis in sorted(a % rank for a in axes):
        shape.insert(axis, 1)
    return value.reshape(shape)


def _squeeze(np, arrays, attrs, opset):
    axes = _axes(arrays, attrs)
    return np.squeeze(arrays[0], axis=tuple(axes) if axes else None)


def _concat(np, arrays, attrs, opset):
    return np.concatenate([a for a in arrays if a is not None], axis=attrs.get("axis", 0))


def _slice(np, arrays, attrs, opset):
    value = arrays[0]
    if opset < 10:
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        parts = [[int(v) for v in a.reshape(-1)] if a is not None else None for a in (arrays[1:] + [None] * 4)[:4]]
        starts, ends, axes, steps = parts
    axes = list(range(len(starts))) if axes is None else axes
    steps = steps or [1] * len(starts)
    index = [slice(None)] * value.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if step == 0:
            raise ValueError("a Slice step of 0")
        begin, stop, step = slice_bounds(value.shape[axis], start, end, step)
        index[axis] = slice(begin, stop if stop >= 0 else None, step)  # Python's -1 would be the last element
    return value[tuple(index)]


def _binary(function):
    def handler(np, arrays, attrs, opset):
        return function(np, arrays[0], arrays[1])

    return handler


def _divide(np, a, b):
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)
    return a / b


def _reshape(np, arrays, attrs, opset):
    target = [int(v) for v in arrays[1].reshape(-1)]
    target = [arrays[0].shape[i] if v == 0 and not attrs.get("allowzero", 0) else v for i, v in enumerate(target)]
    return arrays[0].reshape(target)


def _shape(np, arrays, attrs, opset):
    dims = arrays[0].shape
    return np.array(dims[attrs.get("start", 0):attrs.get("end", len(dims))] if "end" in attrs
                    else dims[attrs.get("start", 0):], dtype=np.int64)


def _constant_of_shape(np, arrays, attrs, opset):
    fill = tensor_array(attrs["value"]) if "value" in attrs else np.zeros(1, dtype=np.float32)
    shape = [int(v) for v in arrays[0].reshape(-1)]
    if math.prod(shape) > MAX_VALUE_ELEMENTS:
        return None
    return np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)


def _range(np, arrays, attrs, opset):
    start, limit, delta = (a.reshape(-1)[0] for a in arrays[:3])
    if delta == 0 or abs((limit - start) / delta) > MAX_VALUE_ELEMENTS:
        return None
    return np.arange(start, limit, delta)


def _expand(np, arrays, attrs, opset):
    shape = np.broadcast_shapes(arrays[0].shape, tuple(int(v) for v in arrays[1].reshape(-1)))
    if math.prod(shape) > MAX_VALUE_ELEMENTS:
        return None
    return np.broadcast_to(arrays[0], shape).copy()


def _reduce(name):
    def handler(np, arrays, attrs, opset):
        axes = _axes(arrays, attrs)
        function = getattr(np, name)
        return function(arrays[0], axis=tuple(axes) if axes else None, keepdims=bool(attrs.get("keepdims", 1)))

    return handler


def _clip(np, arrays, attrs, opset):
    """Clip: Min(max, Max(input, min)) (all values max when min > max); each bound a scalar input of the input's
    type (opset 11+) or a float attribute (opset 6-10), and an omitted bound clips nothing (its default is the
    type's lowest or highest value). A nan stays nan."""
    value = arrays[0]
    if opset < 11:
        bounds = [np.array(attrs[key], dtype=value.dtype) if key in attrs else None for key in ("min", "max")]
    else:
        bounds = (arrays[1:] + [None, None])[:2]
        if any(bound is not None and bound.size != 1 for bound in bounds):
            raise ValueError("Clip's min and max must be scalars")
    low, high = (bound.reshape(()) if bound is not None else None for bound in bounds)
    if low is not None:
        value = np.where(np.less(value, low), low, value)
    if high is not None:
        value = np.where(np.greater(value, high), high, value)
    return value


def _transpose(np, arrays, attrs, opset):
    return np.transpose(arrays[0], attrs.get("perm"))


_HANDLERS = {
    "Identity": lambda np, a, attrs, opset: a[0],
    "Cast": _cast,
    "Shape": _shape,
    "Size": lambda np, a, attrs, opset: np.array(a[0].size, dtype=np.int64),
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Slice": _slice,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Clip": _clip,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Expand": _expand,
    "Add": _binary(lambda np, a, b: a + b),
    "Sub": _binary(lambda np, a, b: a - b),
    "Mul": _binary(lambda np, a, b: a * b),
    "Div": _binary(_divide),
    "Equal": _binary(lambda np, a, b: np.equal(a, b)),
    "Mod": lambda np, a, attrs, opset: (np.fmod(a[0], a[1]) if attrs.get("fmod", 0) else np.mod(a[0], a[1])),
    "Less": _binary(lambda np, a, b: np.less(a, b)),
    "Greater": _binary(lambda np, a, b: np.greater(a, b)),
    "Not": lambda np, a, attrs, opset: np.logical_not(a[0]),
    "Abs": lambda np, a, attrs, opset: np.abs(a[0]),
    "Max": lambda np, a, attrs, opset: np.maximum.reduce(a),
    "Min": lambda np, a, attrs, opset: np.minimum.reduce(a),
    "Where": lambda np, a, attrs, opset: np.where(a[0], a[1], a[2]),
    "Floor": lambda np, a, attrs, opset: np.floor(a[0]),
    "Ceil": lambda np, a, attrs, opset: np.ceil(a[0]),
    "Sqrt": lambda np, a, attrs, opset: np.sqrt(a[0]),
    "Neg": lambda np, a, attrs, opset: -a[0],
    "ReduceProd": _reduce("prod"),
    "ReduceSum": _reduce("sum"),
}


# --- the same node computed once ---------------------------------------------------------------------

_MEMO = {}  # a key of _memo_key -> the results of compute (never changed by their readers)
_MEMO_SIZE = 10_000
_KEYED_TYPES = ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool")


def _memo_key(op, inputs, attrs, opset, fold):
    """What the results of a node of small integer inputs depend on (its operator, attributes, opset, whether
    folding is on, and its inputs' dims, dtypes and values); None for any other node (a float input or
    attribute, where 0.0 and -0.0 are equal keys but not equal divisors; a tensor attribute of more than 256
    bytes (a small one is keyed by its bytes, which tell 0.0 from -0.0); more than 16
    inputs or 256 elements: a key stays small, and the memo holds at most _MEMO_SIZE of them)."""
    if len(inputs) > 16:
        return None
    parts, total = [], 0
    for const in inputs:
        if const is None:
            parts.append(None)
            continue
        total += _elements(const.dims)  # counted from the dims, before the array is made
        value = const.array() if total <= 256 else None
        if value is None or value.dtype not in _KEYED_TYPES:
            return None
        parts.append((const.dims, value.dtype, tuple(value.flat)))
    settings = []
    for name, setting in attrs.items():
        if isinstance(setting, list):
            setting = tuple(setting)
            if not all(isinstance(v, (int, str)) for v in setting):
                return None
        elif hasattr(setting, "SerializeToString"):  # a small tensor (ConstantOfShape's fill value): its bytes
            if setting.ByteSize() > 256:
                return None
            setting = ("tensor", setting.SerializeToString())
        elif not isinstance(setting, (int, str)):
            return None
        settings.append((name, setting))
    return op, tuple(sorted(settings)), opset, fold, tuple(parts)
