"""Reading NFNet (timm's dm_nfnet_f0) from ONNX: its "same" padding computed in the graph and its skipinit gain.

timm's ScaledStdConv2dSame pads each side by ``pad = max((ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0)``,
``pad // 2`` before and the rest after (timm/layers/padding.py, pad_same). The TorchScript exporter
(``dynamo=False``) writes that arithmetic as nodes -- Ceil/Sub/Mul/Add, Clip with no max, Div, Cast to int64
and back, Unsqueeze/Concat, the zeros for the other axes from Shape/ConstantOfShape, then Reshape [-1, 2],
Slice backwards, Transpose, Reshape [-1] and Cast (F.pad's order, last axis first, turned into ONNX's) --
before a Pad; all of it is constant once the input size is known, and the Pad joins the conv's padding.
torch.export (``dynamo=True``) writes the padding into the Conv. A block's ``skipinit_gain`` is one learned
value multiplying the residual branch: ``scale`` with ``shared: true`` (1 param). The forms were read off
real exports (tools/export_modern.py); the numbers are worked by hand. Skipped without the onnx package.
"""

import math

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402

INT64_MIN_PLUS_1 = -(2 ** 63) + 1  # the end a TorchScript export gives a Slice backwards to the first element


def constant(g, value, dtype=numpy.float32):
    """A Constant node holding ``value`` (what the TorchScript exporter writes for a traced Python number)."""
    g.count += 1
    name = f"c{g.count}"
    g.nodes.append(helper.make_node("Constant", [], [name], name=f"/conv/Constant_{g.count}",
                                    value=numpy_helper.from_array(numpy.array(value, dtype=dtype))))
    return name


def same_pad(g, size, kernel, stride):
    """pad_same's total padding of one axis, as Ceil/Sub/Mul/Add/Add/Sub/Clip nodes (float32), then its two
    halves: ``pad // 2`` (Div, Cast to int64, Cast back) and the rest (Sub)."""
    s = "/conv"
    total = g.op("Ceil", [constant(g, size / stride)], s)
    total = g.op("Sub", [total, constant(g, 1.0)], s)
    total = g.op("Mul", [total, constant(g, float(stride))], s)
    total = g.op("Add", [total, constant(g, float(kernel - 1))], s)
    total = g.op("Add", [total, constant(g, 1.0)], s)
    total = g.op("Sub", [total, constant(g, float(size))], s)
    low = g.op("Cast", [g.op("Cast", [constant(g, 0, numpy.int64)], s, to=1)], s, to=1)
    total = g.op("Clip", [total, low, ""], s)  # max(..., 0): Clip with its max omitted
    half = g.op("Div", [total, constant(g, 2.0)], s)
    before = g.op("Cast", [g.op("Cast", [half], s, to=7)], s, to=1)  # int(): truncated, 1.5 -> 1
    return before, g.op("Sub", [total, before], s)


def torchscript_same_padding(g, size, kernel, stride):
    """F.pad(x, [left, right, top, bottom]) on an N x C x H x W input of H = W = ``size``."""
    s = "/conv"
    top, bottom = same_pad(g, size, kernel, stride)
    left, right = same_pad(g, size, kernel, stride)
    axis = g.ints("axis0", [0])
    listed = g.op("Concat", [g.op("Unsqueeze", [v, axis], s) for v in (left, right, top, bottom)], s, axis=0)
    given = g.op("Gather", [g.op("Shape", [listed], s), constant(g, 0, numpy.int64)], s, axis=0)
    missing = g.op("Sub", [g.op("Mul", [constant(g, 4, numpy.int64), constant(g, 2, numpy.int64)], s), given], s)
    zeros = g.op("ConstantOfShape", [missing], s, value=numpy_helper.from_array(numpy.array([0], dtype=numpy.int64)))
    pads = g.op("Concat", [g.op("Cast", [listed], s, to=7), zeros], s, axis=0)
    pairs = g.op("Reshape", [pads, g.ints("pairs", [-1, 2])], s)
    backwards = g.op("Slice", [pairs, g.ints("last", [-1]), g.ints("first", [INT64_MIN_PLUS_1]), axis,
                               g.ints("back", [-1])], s)
    onnx_order = g.op("Reshape", [g.op("Transpose", [backwards], s, perm=[1, 0]), g.ints("flat", [-1])], s)
    return g.op("Pad", ["x", g.op("Cast", [onnx_order], s, to=7), constant(g, 0.0)], s, mode="constant")


def same_padded_conv(folder, form, size, kernel, stride=2):
    g = Graph(form, (1, 3, size, size))
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    weight, bias = g.weight("conv.weight", [4, 3, kernel, kernel]), g.weight("conv.bias", [4])
    if form == "torchscript":
        padded = torchscript_same_padding(g, size, kernel, stride)
        out = g.op("Conv", [padded, weight, bias], "/conv", kernel_shape=[kernel, kernel], strides=[stride, stride],
                   pads=[0, 0, 0, 0])
    else:
        before, after = total // 2, total - total // 2
        out = g.op("Conv", ["x", weight, bias], kernel_shape=[kernel, kernel], strides=[stride, stride],
                   pads=[before, before, after, after])
    return g.save(folder, out)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("size, kernel, pads, out", [
    (8, 3, (0, 1), 4),  # total (4-1)*2 + 3 - 8 = 1: 0 before, 1 after; (8 + 1 - 3) // 2 + 1 = 4
    (8, 5, (1, 2), 4),  # total 3: 3/2 = 1.5 truncated to 1 before (not rounded to 2), 2 after; (8 + 3 - 5)//2 + 1
    (9, 3, (1, 1), 5),  # total (5-1)*2 + 3 - 9 = 2; (9 + 2 - 3) // 2 + 1 = 5
    (1, 1, (0, 0), 1),  # total (1-1)*2 + 1 - 1 = 0
    (6, 1, (0, 0), 3),  # total (3-1)*2 + 1 - 6 = -1, clipped to 0
])
def test_timm_same_padding_joins_the_conv(tmp_path, form, size, kernel, pads, out):
    report, by_name = totals(same_padded_conv(tmp_path, form, size, kernel))
    [row] = report.rows
    assert row.type == "conv" and row.out_shape == (4, out, out)
    assert row.params == 4 * 3 * kernel * kernel + 4
    assert row.macs == 4 * out * out * 3 * kernel * kernel
    pad = report.spec.layers[0].keys.get("pad", 0)
    pad = [pad] * 4 if isinstance(pad, int) else list(pad) * 2 if len(pad) == 2 else list(pad)
    assert pad == [pads[0], pads[1]] * 2  # [top, bottom, left, right]


# --- skipinit: one learned value multiplying a block's branch ----------------------------------------

def skipinit_block(folder, form, op="Mul"):
    """conv 4 -> 4 (1x1, no bias), times skipinit_gain (a 0-d parameter), + the input."""
    g = Graph(form, (1, 4, 8, 8))
    s = "/stages/stages.0/stages.0.0"
    conv = g.op("Conv", ["x", g.weight("stages.0.0.conv.weight", [4, 4, 1, 1])], s + "/conv", kernel_shape=[1, 1])
    gained = g.op(op, [conv, g.weight("stages.0.0.skipinit_gain", [])], s)
    return g.save(folder, g.op("Add", [gained, "x"], s))


@pytest.mark.parametrize("form", FORMS)
def test_skipinit_gain_is_a_shared_scale_of_one_param(tmp_path, form):
    report, by_name = totals(skipinit_block(tmp_path, form))
    assert [row.type for row in report.rows] == ["conv", "scale", "add"]
    gain = by_name["stages.0.0.skipinit_gain"]
    assert gain.params == 1 and gain.out_shape == (4, 8, 8)
    assert report.totals["params"] == 16 + 1 and report.totals["macs"] == 64 * 16
    assert report.spec.layers[1].keys["shared"] is True


def test_a_division_by_a_learned_scalar_is_refused(tmp_path):
    with pytest.raises(SpecError, match="a Div by the learned scalar 'stages.0.0.skipinit_gain'"):
        cnncalc.analyze(skipinit_block(tmp_path, "torchscript", "Div"))


def test_shared_scale_in_a_spec(write):
    from cli_runner import ok

    path = write("name: net\ninput: [8, 4, 4]\nlayers:\n  - {type: scale, shared: true}\n"
                 "  - {type: scale, shared: true, bias: true}\n  - {type: scale}\n")
    report = cnncalc.analyze(path)
    assert [row.params for row in report.rows] == [1, 2, 8]  # one value; one value and one shift; one a channel
    assert "params = 1 (one multiplier for all channels)" in ok("report", path, "--explain", "scale1")
