"""The pure-Python arrays the ONNX reader folds shape arithmetic with (cnncalc.onnx.small) give what numpy gives:
the same values, shapes and dtypes, on the operations and dtypes a graph's constants use."""

import math

import pytest

numpy = pytest.importorskip("numpy")

from cnncalc.onnx import small  # noqa: E402
from cnncalc.onnx.constants import _HANDLERS  # noqa: E402


def both(values, dtype):
    return numpy.array(values, dtype=dtype), small.array(numpy.array(values, dtype=dtype).tolist(), dtype=dtype)


def same(mine, theirs):
    assert tuple(mine.shape) == theirs.shape and mine.dtype == str(theirs.dtype)
    expected = theirs.reshape(-1).tolist()
    got = mine.reshape(-1).tolist()
    assert all((math.isnan(a) and math.isnan(b)) if isinstance(a, float) and isinstance(b, float) and a != a else a == b
               for a, b in zip(got, expected)) and len(got) == len(expected), (got, expected)


GRID = [[[1, -2, 3], [4, 5, -6]], [[7, 8, 9], [-10, 11, 12]]]  # 2 x 2 x 3


@pytest.mark.parametrize("op, inputs, attrs", [
    ("Gather", [(GRID, "int64"), ([1, 0, -1], "int64")], {"axis": 2}),
    ("Gather", [([4, 8, 16, 16], "int64"), (2, "int64")], {}),
    ("Unsqueeze", [(7, "int64"), ([0], "int64")], {}),
    ("Squeeze", [([[3]], "int64"), ([0, 1], "int64")], {}),
    ("Concat", [([1, 2], "int64"), ([3], "int64"), ([-1], "int64")], {"axis": 0}),
    ("Concat", [(GRID, "float32"), (GRID, "float32")], {"axis": 1}),
    ("Slice", [(GRID, "int64"), ([0, 2], "int64"), ([1, -4], "int64"), ([1, 2], "int64"), ([1, -1], "int64")], {}),
    ("Reshape", [(GRID, "int64"), ([3, 0, -1], "int64")], {}),
    ("Transpose", [(GRID, "int64")], {"perm": [2, 0, 1]}),
    ("Transpose", [(GRID, "float32")], {}),
    ("Expand", [([[1], [2]], "float32"), ([2, 2, 3], "int64")], {}),
    ("Range", [(0, "int64"), (10, "int64"), (3, "int64")], {}),
    ("Add", [(GRID, "int64"), ([100, 200, 300], "int64")], {}),
    ("Sub", [(GRID, "float32"), ([[0.5], [0.25]], "float32")], {}),
    ("Mul", [(GRID, "int64"), (2**62, "int64")], {}),  # wraps as int64 does
    ("Mul", [([0.1, 3.3], "float32"), ([3.0], "float32")], {}),  # rounded to float32
    ("Div", [([7, -7, 9], "int64"), ([2, 2, -4], "int64")], {}),  # integer division truncates
    ("Div", [([1.0, -1.0, 0.0], "float32"), ([0.0, 0.0, 0.0], "float32")], {}),  # inf, -inf, nan
    ("Div", [([224.0], "float32"), ([7.0], "float32")], {}),
    ("Mod", [([7, -7, 7], "int64"), ([3, 3, -3], "int64")], {}),
    ("Mod", [([7, -7, 7], "int64"), ([3, 3, -3], "int64")], {"fmod": 1}),
    ("Equal", [(GRID, "int64"), ([1, 8, 3], "int64")], {}),
    ("Where", [([True, False], "bool"), ([1, 2], "int64"), ([[5], [6]], "int64")], {}),
    ("Max", [([1, 5], "int64"), ([3, 4], "int64")], {}),
    ("Sqrt", [([4.0, 2.0], "float32")], {}),
    ("Floor", [([-1.5, 2.5], "float32")], {}),
    ("Cast", [([1.9, -1.9], "float32")], {"to": 7}),
    ("Cast", [([3, 70000], "int64")], {"to": 10}),  # float16: 70000 overflows to inf
    ("ReduceProd", [(GRID, "int64"), ([1], "int64")], {"keepdims": 0}),
    ("ReduceSum", [(GRID, "float32"), ([0, 2], "int64")], {}),
    ("Not", [([True, False], "bool")], {}),
    ("Clip", [([-2.0, 0.5, 7.0, math.nan], "float32"), (0.0, "float32"), (6.0, "float32")], {}),  # nan stays nan
    ("Clip", [([-3.0, 2.5], "float32"), (0.0, "float32")], {}),  # max omitted: no upper bound
    ("Clip", [([-3, 2, 9], "int64"), (5, "int64"), (1, "int64")], {}),  # min > max: every value is max
    ("Slice", [(GRID, "int64"), ([-1], "int64"), ([-(2**63) + 1], "int64"), ([0], "int64"), ([-1], "int64")], {}),
    ("Slice", [(GRID, "int64"), ([5, 1], "int64"), ([-9, -1], "int64"), ([2, 1], "int64"), ([-2, -1], "int64")], {}),
    ("Abs", [([-3, 4], "int64")], {}),
])
def test_folding_gives_what_numpy_gives(op, inputs, attrs):
    pairs = [both(values, dtype) for values, dtype in inputs]
    with numpy.errstate(all="ignore"):
        theirs = _HANDLERS[op](numpy, [p[0] for p in pairs], attrs, 18)
    same(_HANDLERS[op](small, [p[1] for p in pairs], attrs, 18), theirs)


@pytest.mark.parametrize("op, inputs", [
    ("Gather", [([1, 2, 3], "int64"), ([3], "int64")]),  # an index out of range
    ("Concat", [([[1, 2]], "int64"), ([1, 2], "int64")]),
    ("Reshape", [([1, 2, 3], "int64"), ([2, -1], "int64")]),
    ("Add", [([1, 2, 3], "int64"), ([1, 2], "int64")]),
    ("ConstantOfShape", [([2, -1], "int64")]),
])
def test_shapes_that_do_not_fit_raise_as_numpy_does(op, inputs):
    pairs = [both(values, dtype) for values, dtype in inputs]
    with pytest.raises((ValueError, IndexError)):
        _HANDLERS[op](numpy, [p[0] for p in pairs], {}, 18)
    with pytest.raises((ValueError, IndexError)):
        _HANDLERS[op](small, [p[1] for p in pairs], {}, 18)


def test_clip_of_opset_6_to_10_takes_its_bounds_as_attributes():
    value = small.array([-1.0, 0.25, 9.0], dtype="float32")
    assert _HANDLERS["Clip"](small, [value], {"min": 0.0, "max": 6.0}, 9).tolist() == [0.0, 0.25, 6.0]
    assert _HANDLERS["Clip"](small, [value], {}, 9).tolist() == [-1.0, 0.25, 9.0]  # float32's lowest and max


@pytest.mark.parametrize("size, start, end, step, chosen", [
    (4, -1, -(2**63) + 1, -1, [3, 2, 1, 0]),  # a TorchScript export's flip: the whole axis backwards
    (4, 9, 0, -2, [3, 1]),  # a start past the last element is the last
    (4, 2, -1, -1, []),  # an end of -1 has the size added: 3, above the start (not "before the first")
    (1, -10, -10, -3, [0]),  # a start before the first element backwards is the first (Python's slice: none)
    (4, -10, -10, -1, [0]),
    (4, 0, 4, 0, None),  # a step of 0 is refused
])
def test_slice_backwards_follows_the_onnx_specification(size, start, end, step, chosen):
    """Starts and ends have the size added when negative; stepping backwards, the start is clamped to
    [0, size - 1] and the end to [-1, size - 1] (the ONNX Slice specification; where it differs from Python's
    slice, the specification wins)."""
    from cnncalc.onnx.constants import _sliced

    args = [small.array(list(range(size)), dtype="int64")] + [small.array([v]) for v in (start, end, 0, step)]
    if chosen is None:
        with pytest.raises(ValueError):
            _HANDLERS["Slice"](small, args, {}, 18)
        assert _sliced((size,), args) is None
        return
    assert _HANDLERS["Slice"](small, args, {}, 18).tolist() == chosen
    assert _sliced((size,), args) == (len(chosen),)  # the dims alone (a tensor too large to fold) agree


def test_raw_data_is_read_little_endian_and_refused_when_short():
    raw = numpy.array([[1, -2], [3, 2**40]], dtype="<i8").tobytes()
    same(small.from_bytes(raw, "int64", (2, 2)), numpy.frombuffer(raw, dtype="<i8").reshape(2, 2))
    half = numpy.array([1.5, -0.25, 65504], dtype="<f2").tobytes()
    same(small.from_bytes(half, "float16", (3,)), numpy.frombuffer(half, dtype="<f2"))
    assert small.from_bytes(raw[:-1], "int64", (2, 2)) is None


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def grids(draw):
    """An int64 array of rank 1 to 4 (dims 1 to 4), a permutation, an axis, indices and a shape that broadcasts."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    values = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=math.prod(shape), max_size=math.prod(shape)))
    perm = draw(st.permutations(range(len(shape))))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    indices = draw(st.lists(st.integers(-shape[axis], shape[axis] - 1), min_size=1, max_size=5))
    other = tuple(draw(st.sampled_from([1, d])) for d in shape[draw(st.integers(0, len(shape) - 1)):])
    return numpy.array(values, dtype=numpy.int64).reshape(shape), perm, axis, indices, other


@settings(max_examples=60, deadline=None)
@given(grids())
def test_arrays_of_any_shape_fold_as_numpy_does(drawn):
    theirs, perm, axis, indices, other = drawn
    mine = small.array(theirs.tolist(), dtype="int64")
    same(small.transpose(mine, perm), numpy.transpose(theirs, perm))
    same(small.take(mine, small.array(indices), axis=axis), numpy.take(theirs, indices, axis=axis))
    same(small.concatenate([mine, mine], axis=axis), numpy.concatenate([theirs, theirs], axis=axis))
    addend = numpy.arange(math.prod(other), dtype=numpy.int64).reshape(other)
    with numpy.errstate(all="ignore"):
        same(mine + small.array(addend.tolist(), dtype="int64"), theirs + addend)  # wraps past 2**63 alike
        same(small.sum(mine, axis=(axis,), keepdims=True), numpy.sum(theirs, axis=(axis,), keepdims=True))
    index = tuple(slice(None, None, -1) if i == axis % theirs.ndim else slice(1, None) for i in range(theirs.ndim))
    same(mine[index], theirs[index])


def test_a_node_computed_once_is_told_apart_by_its_attributes_and_inputs():
    helper = pytest.importorskip("onnx.helper")
    from cnncalc.onnx.constants import evaluate
    from cnncalc.onnx.tensors import Const

    def const(values, dtype="int64"):
        array = small.array(values, dtype=dtype)
        return Const(array.shape, value=array)

    grid = const([[1, 2], [3, 4]])
    first = evaluate(helper.make_node("Gather", ["g", "i"], ["o"], axis=0), [grid, const([1])], {"axis": 0}, 18)
    again = evaluate(helper.make_node("Gather", ["g", "i"], ["p"], axis=0), [grid, const([1])], {"axis": 0}, 18)
    other = evaluate(helper.make_node("Gather", ["g", "i"], ["q"], axis=1), [grid, const([1])], {"axis": 1}, 18)
    assert first is again and first[0][1].tolist() == [[3, 4]] and other[0][1].tolist() == [[2], [4]]
    as_floats = evaluate(helper.make_node("Gather", ["g", "i"], ["r"]), [const([[1, 2], [3, 4]], "float32"),
                                                                          const([1])], {}, 18)
    assert as_floats[0][1].dtype == "float32"  # not the int64 result of the same values
    unfolded = evaluate(helper.make_node("Gather", ["g", "i"], ["s"], axis=0), [grid, const([1])], {"axis": 0}, 18,
                        fold=False)
    assert unfolded[0] == ((1, 2), None)  # the folding budget spent: dims only, not the remembered value


def test_a_constant_of_shape_computed_once_is_told_apart_by_its_fill_value():
    helper = pytest.importorskip("onnx.helper")
    from onnx import TensorProto

    from cnncalc.onnx.constants import evaluate
    from cnncalc.onnx.tensors import Const

    shape = small.array([2], dtype="int64")

    def fill(kind, value):
        tensor = helper.make_tensor("value", kind, [1], [value])
        node = helper.make_node("ConstantOfShape", ["s"], ["o"], value=tensor)
        return evaluate(node, [Const((1,), value=shape)], {"value": tensor}, 18)[0][1]

    ones, again, zeros = fill(TensorProto.INT64, 1), fill(TensorProto.INT64, 1), fill(TensorProto.INT64, 0)
    assert ones is again and ones.tolist() == [1, 1] and zeros.tolist() == [0, 0]
    halves, negative_zeros = fill(TensorProto.FLOAT, 0.5), fill(TensorProto.FLOAT, -0.0)
    assert halves.tolist() == [0.5, 0.5] and halves.dtype == "float32"
    assert [math.copysign(1, v) for v in negative_zeros.tolist()] == [-1, -1]  # not the zeros of 0.0
    assert math.copysign(1, fill(TensorProto.FLOAT, 0.0).tolist()[0]) == 1
