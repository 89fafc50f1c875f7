"""The few numpy operations the ONNX reader needs, on small arrays, in pure Python.

The reader evaluates a graph's shape arithmetic (Shape, Gather, Concat, Slice, Reshape targets...) on tensors
of at most a few thousand elements. Importing numpy for that cost more than the rest of a report (some
100-200 ms of a 300 ms run); these arrays cost nothing to import and, on 1 to 8 elements, are faster per
operation too. The module is used like numpy (``np.take(a, i, axis=0)``, ``a.reshape(-1).tolist()``) and
follows its rules where the reader can see them: dtypes by name (``"int64"``, ``"float32"``), integers
wrapped to their width, float32 results rounded to float32, C order, broadcasting, and the same exceptions
(ValueError, IndexError, TypeError) for shapes that do not fit. Division by zero gives inf or nan as numpy
does (without a warning); integer division or modulo by zero gives 0.
"""

import builtins
import functools
import math
import operator
import struct

from .dtypes import _FLOATS, _INTS, CODES, _dtype_of, convert, float32, int64, integer, issubdtype, itemsize, result_type

# numpy's names the constant folding calls (np.take, np.int64...)
__all__ = ["Array", "abs", "arange", "array", "broadcast_shapes", "broadcast_to", "ceil", "concatenate", "convert",
           "equal", "float32", "floor", "fmod", "from_bytes", "full", "greater", "int64", "integer", "issubdtype",
           "itemsize", "less", "logical_not", "maximum", "minimum", "mod", "prod", "result_type", "sqrt", "squeeze",
           "sum", "take", "transpose", "trunc", "where", "zeros"]


def from_bytes(raw, dtype, dims):
    """The array of ``dims`` stored little-endian in ``raw``; None when the sizes disagree."""
    count = math.prod(dims)
    if len(raw) != count * itemsize(dtype):
        return None
    return Array(list(struct.unpack(f"<{count}{CODES[dtype]}", raw)), dims, dtype)


def _strides(shape):
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return strides[::-1]


def _offsets(per_axis):
    """The flat offsets of every index, in C order, from each axis's list of offsets."""
    offsets = [0]
    for axis in per_axis:
        offsets = [o + x for o in offsets for x in axis]
    return offsets


def _axis(axis, rank):
    if not -rank <= axis < rank:
        raise IndexError(f"axis {axis} is out of bounds for array of dimension {rank}")
    return axis % rank


class Array:
    """An n-dimensional array: its values in C order (Python numbers), its shape and dtype name."""

    __slots__ = ("flat", "shape", "dtype")

    def __init__(self, flat, shape, dtype):
        self.flat, self.shape, self.dtype = flat, tuple(shape), dtype

    @property
    def size(self):
        return len(self.flat)

    @property
    def ndim(self):
        return len(self.shape)

    def reshape(self, *shape):
        if shape == (-1,):
            return Array(self.flat, (len(self.flat),), self.dtype)
        if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
            shape = shape[0]
        shape = [int(d) for d in shape]
        if shape.count(-1) > 1 or any(d < -1 for d in shape):
            raise ValueError("can only specify one unknown dimension")
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            if not known or self.size % known:
                raise ValueError(f"cannot reshape array of size {self.size} into shape {shape}")
            shape[shape.index(-1)] = self.size // known
        if math.prod(shape) != self.size:
            raise ValueError(f"cannot reshape array of size {self.size} into shape {shape}")
        return Array(self.flat, shape, self.dtype)

    def astype(self, dtype):
        return Array(convert(self.flat, dtype), self.shape, dtype)

    def copy(self):
        return Array(list(self.flat), self.shape, self.dtype)

    def tolist(self):
        if not self.shape:
            return self.flat[0]
        rows = list(self.flat)
        for dim in reversed(self.shape[1:]):
            rows = [rows[i:i + dim] for i in range(0, len(rows), dim)]
        return rows

    def any(self):
        return any(self.flat)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if len(self.shape) == 1:
            return iter(self.flat)
        return (self[i] for i in range(len(self)))

    def __float__(self):
        return float(self._only())

    def __int__(self):
        return int(self._only())

    def _only(self):
        if self.size != 1:
            raise TypeError("only arrays of one element can be converted to Python scalars")
        return self.flat[0]

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > self.ndim:
            raise IndexError("too many indices for array")
        strides = _strides(self.shape)
        start, per_axis, shape = 0, [], []
        for axis, dim in enumerate(self.shape):
            part = key[axis] if axis < len(key) else slice(None)
            if isinstance(part, slice):
                chosen = range(*part.indices(dim))
                per_axis.append([i * strides[axis] for i in chosen])
                shape.append(len(chosen))
            else:
                index = int(part)
                if not -dim <= index < dim:
                    raise IndexError(f"index {index} is out of bounds for axis {axis} with size {dim}")
                start += (index % dim) * strides[axis]
        flat = [self.flat[start + o] for o in _offsets(per_axis)]
        return flat[0] if not shape else Array(flat, shape, self.dtype)

    def __add__(self, other):
        return _binary(operator.add, self, other)

    def __sub__(self, other):
        return _binary(operator.sub, self, other)

    def __mul__(self, other):
        return _binary(operator.mul, self, other)

    def __truediv__(self, other):
        return _binary(_divide, self, other, "float")

    def __neg__(self):
        return Array(convert([-v for v in self.flat], self.dtype), self.shape, self.dtype)


def array(values, dtype=None):
    """An Array of a number, a (nested) list of numbers or another Array."""
    if isinstance(values, Array):
        return values.astype(dtype or values.dtype)
    shape, flat = [], values
    if isinstance(values, (list, tuple)):
        flat = list(values)
        shape.append(len(flat))
        while flat and isinstance(flat[0], (list, tuple)):
            if any(len(row) != len(flat[0]) or not isinstance(row, (list, tuple)) for row in flat):
                raise ValueError("inhomogeneous shape")
            shape.append(len(flat[0]))
            flat = [v for row in flat for v in row]
    else:
        flat = [values]
    dtype = dtype or _dtype_of(flat)
    return Array(convert(flat, dtype), shape, dtype)


def zeros(shape, dtype="float64"):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Array(convert([0] * math.prod(shape), dtype), shape, dtype)


def full(shape, fill, dtype=None):
    if any(d < 0 for d in shape):
        raise ValueError("negative dimensions are not allowed")
    dtype = dtype or _dtype_of([fill])
    return Array(convert([fill], dtype) * math.prod(shape), shape, dtype)


def arange(start, stop, step=1):
    count = max(0, math.ceil((stop - start) / step))
    dtype = _dtype_of([start, stop, step])
    return Array(convert([start + i * step for i in range(count)], dtype), (count,), dtype)


def broadcast_shapes(*shapes):
    rank = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(rank):
        dims = {s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"shape mismatch: objects cannot be broadcast to a single shape: {shapes}")
        result.append(dims.pop() if dims else 1)
    return tuple(result)


def _spread(a, shape):
    """The values of ``a`` broadcast to ``shape``, in C order."""
    if a.shape == tuple(shape):
        return a.flat
    if a.size == 1:
        return a.flat * math.prod(shape)
    padded = (1,) * (len(shape) - a.ndim) + a.shape
    if broadcast_shapes(padded, shape) != tuple(shape):
        raise ValueError(f"cannot broadcast shape {a.shape} to {shape}")
    strides = _strides(padded)
    return [a.flat[o] for o in _offsets([[0] * d if n == 1 else [i * s for i in range(d)]
                                         for n, d, s in zip(padded, shape, strides)])]


def broadcast_to(a, shape):
    shape = tuple(shape)
    return Array(list(_spread(a, shape)), shape, a.dtype)


def _as_array(value):
    return value if isinstance(value, Array) else array(value)


def _binary(function, a, b, kind=None, dtype=None):
    a, b = _as_array(a), _as_array(b)
    shape = broadcast_shapes(a.shape, b.shape)
    values = [function(x, y) for x, y in zip(_spread(a, shape), _spread(b, shape))]
    dtype = dtype or result_type(a.dtype, b.dtype)
    if kind == "float" and dtype not in _FLOATS:
        dtype = "float64"
    return Array(convert(values, dtype), shape, dtype)


def _divide(a, b):
    if b == 0:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _unary(function, a, dtype=None):
    return Array(convert([function(v) for v in a.flat], dtype or a.dtype), a.shape, dtype or a.dtype)


def _float_only(function):
    def apply(a):
        return a if a.dtype not in _FLOATS else _unary(lambda v: v if not math.isfinite(v) else function(v), a)
    return apply


floor, ceil, trunc = _float_only(math.floor), _float_only(math.ceil), _float_only(math.trunc)


def sqrt(a):
    dtype = a.dtype if a.dtype in _FLOATS else "float64"
    return _unary(lambda v: math.sqrt(v) if v >= 0 else math.nan if v == v or v < 0 else v, a, dtype)


def abs(a):  # noqa: A001 (numpy's name)
    return _unary(lambda v: -v if v < 0 else v, a)


def logical_not(a):
    return _unary(lambda v: not v, a, "bool")


def _comparison(function):
    return lambda a, b: _binary(function, a, b, dtype="bool")


equal, less, greater = (_comparison(f) for f in (lambda x, y: x == y, lambda x, y: x < y, lambda x, y: x > y))


def _modulo(c_style):
    def modulo(x, y):
        if y == 0:
            return 0 if isinstance(x, int) and isinstance(y, int) else math.nan
        if isinstance(x, int) and isinstance(y, int):
            result = x % y
            return result - y if c_style and result and (x < 0) != (y < 0) else result
        return math.fmod(x, y) if c_style else x % y
    return modulo


def mod(a, b, c_style=False):
    return _binary(_modulo(c_style), a, b)


def fmod(a, b):
    return mod(a, b, c_style=True)


def where(condition, a, b):
    a, b = _as_array(a), _as_array(b)
    shape = broadcast_shapes(condition.shape, a.shape, b.shape)
    dtype = result_type(a.dtype, b.dtype)
    values = [x if c else y for c, x, y in zip(_spread(condition, shape), _spread(a, shape), _spread(b, shape))]
    return Array(convert(values, dtype), shape, dtype)


class _Extreme:
    def __init__(self, function):
        self.reduce = lambda arrays: functools.reduce(lambda a, b: _binary(function, a, b), arrays)


maximum, minimum = _Extreme(max), _Extreme(min)


def _reduce(function, a, axis, keepdims):
    axes = set(range(a.ndim)) if axis is None else {_axis(x, a.ndim) for x in axis}
    kept = tuple(1 if i in axes else d for i, d in enumerate(a.shape))
    strides = _strides(kept)
    targets = _offsets([[0] * d if i in axes else [j * strides[i] for j in range(d)] for i, d in enumerate(a.shape)])
    groups = [[] for _ in range(math.prod(kept))]
    for target, value in zip(targets, a.flat):
        groups[target].append(value)
    dtype = "int64" if a.dtype in _INTS and _INTS[a.dtype][1] or a.dtype == "bool" else (
        "uint64" if a.dtype in _INTS else a.dtype)
    shape = kept if keepdims else tuple(d for i, d in enumerate(a.shape) if i not in axes)
    return Array(convert([function(group) for group in groups], dtype), shape, dtype)


def sum(a, axis=None, keepdims=False):  # noqa: A001 (numpy's name)
    return _reduce(builtins.sum, a, axis, keepdims)


def prod(a, axis=None, keepdims=False):
    return _reduce(math.prod, a, axis, keepdims)


def take(a, indices, axis=0):
    axis = _axis(axis, a.ndim) if a.ndim else _axis(axis, 0)
    dim = a.shape[axis]
    chosen = []
    for index in indices.flat:
        if not -dim <= index < dim:
            raise IndexError(f"index {index} is out of bounds for axis {axis} with size {dim}")
        chosen.append(index % dim)
    after = math.prod(a.shape[axis + 1:])
    flat = []
    for block in range(math.prod(a.shape[:axis])):
        base = block * dim * after
        for index in chosen:
            flat.extend(a.flat[base + index * after:base + (index + 1) * after])
    return Array(flat, a.shape[:axis] + indices.shape + a.shape[axis + 1:], a.dtype)


def squeeze(a, axis=None):
    axes = {i for i, d in enumerate(a.shape) if d == 1} if axis is None else {_axis(x, a.ndim) for x in axis}
    if any(a.shape[i] != 1 for i in axes):
        raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return Array(a.flat, [d for i, d in enumerate(a.shape) if i not in axes], a.dtype)


def concatenate(arrays, axis=0):
    first = arrays[0]
    if not first.ndim:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = _axis(axis, first.ndim)
    if any(a.ndim != first.ndim or a.shape[:axis] + a.shape[axis + 1:] != first.shape[:axis] + first.shape[axis + 1:]
           for a in arrays):
        raise ValueError("all the input array dimensions except for the concatenation axis must match exactly")
    dtype = result_type(*(a.dtype for a in arrays))
    after = math.prod(first.shape[axis + 1:])
    flat = []
    for block in range(math.prod(first.shape[:axis])):
        for a in arrays:
            row = a.shape[axis] * after
            flat.extend(a.flat[block * row:(block + 1) * row])
    shape = first.shape[:axis] + (builtins.sum(a.shape[axis] for a in arrays),) + first.shape[axis + 1:]
    return Array(convert(flat, dtype) if any(a.dtype != dtype for a in arrays) else flat, shape, dtype)


def transpose(a, perm=None):
    perm = list(reversed(range(a.ndim))) if perm is None else [int(p) for p in perm]
    if sorted(p % a.ndim if a.ndim else p for p in perm) != list(range(a.ndim)) or len(perm) != a.ndim:
        raise ValueError("axes don't match array")
    perm = [p % a.ndim for p in perm]
    strides = _strides(a.shape)
    shape = [a.shape[p] for p in perm]
    return Array([a.flat[o] for o in _offsets([[i * strides[p] for i in range(a.shape[p])] for p in perm])],
                 shape, a.dtype)
