"""Channel Slices and Splits into unequal parts from ONNX: DPN's dual path block.

timm's DualPathBlock splits a conv's output into a residual part and a dense part of unequal widths
(``x[:, :d]`` and ``x[:, d:]``), adds the residual parts and concatenates the dense parts. Each exporter's
form is built with onnx.helper as read off timm 1.0's dpn68 exported by torch 2.14: TorchScript's Slices
whose bounds are Unsqueezes of Constant scalars (``x[:, d:]`` ends at 2^63 - 1), torch.export's Slices
with initializer bounds, and torch.split with sizes (one Split with a sizes input). Numbers worked by hand.
"""

import pytest

pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import Graph, totals  # noqa: E402

END = 2**63 - 1  # x[:, d:] as both exporters write it
FORMS = ("torchscript", "dynamo", "dynamo-split", "torchscript-shape")


def graph(form, shape):
    """A Graph in an exporter's form; ``variant`` says which of its ways it splits (FORMS)."""
    g = Graph(form.split("-")[0], shape)
    g.variant = form
    return g


def constant(g, value, scope):
    """A 1-element int64 bound: Unsqueeze(Constant scalar) in TorchScript, an initializer in torch.export."""
    g.count += 1
    if g.form != "torchscript":
        return g.ints(f"val_{g.count}", [value])
    scalar = f"{scope}/Constant_{g.count}_output_0"
    g.nodes.append(helper.make_node("Constant", [], [scalar], name=f"{scope}/Constant_{g.count}",
                                    value=numpy_helper.from_array(numpy.array(value, dtype=numpy.int64))))
    return g.op("Unsqueeze", [scalar, g.ints(f"zero_{g.count}", [0])], scope)


def split(g, x, channels, d, scope):
    """x[:, :d] and x[:, d:] of a ``channels``-wide tensor, as each exporter writes them."""
    if g.variant == "dynamo-split":  # torch.split(x, [d, C - d], dim=1)
        g.count += 1
        outputs = [f"t{g.count}_0", f"t{g.count}_1"]
        g.nodes.append(helper.make_node("Split", [x, g.ints(f"sizes_{g.count}", [d, channels - d])], outputs,
                                        name=f"node_Split_{g.count}", axis=1))
        return outputs
    parts = []
    for begin, end in ((0, d), (d, END)):
        if g.variant == "torchscript-shape" and end == END:  # x[:, d:x.size(1)]: the bound from the Shape
            size = g.op("Gather", [g.op("Shape", [x], scope), g.ints(f"one_{g.count}", 1)], scope, axis=0)
            stop = g.op("Unsqueeze", [size, g.ints(f"zero_{g.count}", [0])], scope)
        else:
            stop = constant(g, end, scope)
        parts.append(g.op("Slice", [x, constant(g, begin, scope), stop, constant(g, 1, scope),
                                    constant(g, 1, scope)], scope))
    return parts


def bn_relu_conv(g, x, cin, cout, scope, kernel=1, groups=1):
    """timm's BnActConv2d: BatchNorm, ReLU, then a conv without bias (the pre-activation order)."""
    name = scope.strip("/").replace("/", ".")
    stats = [g.weight(f"{name}.bn.{k}", [cin]) for k in ("weight", "bias", "running_mean")]
    y = g.op("BatchNormalization", [x] + stats + [g.weight(f"{name}.bn.running_var", [cin], 1.0)], f"{scope}/bn")
    y = g.op("Relu", [y], f"{scope}/bn")
    w = g.weight(f"{name}.conv.weight", [cout, cin // groups, kernel, kernel])
    return g.op("Conv", [y, w], f"{scope}/conv", kernel_shape=[kernel, kernel], group=groups,
                pads=[kernel // 2] * 4)


def dual_path_block(g):
    """DualPathBlock(in_chs=8, num_1x1_a=8, num_3x3_b=8, num_1x1_c=6, inc=2, groups=4, 'proj') on 1 x 8 x 4 x 4:
    the projection 8 -> 6 + 2*2 = 10 split 6 | 4, the bottleneck 8 -> 8 -> 8 -> 6 + 2 split 6 | 2, then
    cat([x_s1 + out1, x_s2, out2]): 6 + 4 + 2 = 12 channels."""
    s = "/features/conv2_1"
    x_s = bn_relu_conv(g, "x", 8, 10, f"{s}/c1x1_w_s1")
    x_s1, x_s2 = split(g, x_s, 10, 6, s)
    y = bn_relu_conv(g, "x", 8, 8, f"{s}/c1x1_a")
    y = bn_relu_conv(g, y, 8, 8, f"{s}/c3x3_b", kernel=3, groups=4)
    y = bn_relu_conv(g, y, 8, 8, f"{s}/c1x1_c")
    out1, out2 = split(g, y, 8, 6, s)
    return g.op("Concat", [g.op("Add", [x_s1, out1], s), x_s2, out2], s, axis=1)


@pytest.mark.parametrize("form", FORMS)
def test_dual_path_block(tmp_path, form):
    g = graph(form, (1, 8, 4, 4))
    report, rows = totals(g.save(tmp_path, dual_path_block(g)))
    slices = [(row.type, row.in_shape[0], row.out_shape[0]) for row in report.rows if row.type in ("slice", "chunk")]
    # x_s: 10 channels as 6 and 4; the bottleneck's 8 as 6 and 2. Its 2 (channels 6, 7) alone are a torch.chunk
    # part (chunk(4)'s last), but beside x[:, :6] they are read as what they are, a slice
    assert slices == [("slice", 10, 6), ("slice", 10, 4), ("slice", 8, 6), ("slice", 8, 2)]
    assert [row.keys["channels"] for row in report.spec.layers if row.type == "slice"] == [[0, 6], [6, 10],
                                                                                         [0, 6], [6, 8]]
    assert report.rows[-1].type == "concat" and report.rows[-1].out_shape == (12, 4, 4)
    # 4 BNs of 8 channels: 2*8 params and 2*8 buffers each; convs 10*8, 8*8, 8*(8/4)*3*3, 8*8
    assert report.totals["params"] == 4 * 16 + 80 + 64 + 144 + 64 == 416
    assert report.totals["buffers"] == 4 * 16 == 64
    # every conv on 4 x 4 = 16 positions
    assert report.totals["macs"] == 16 * (80 + 64 + 144 + 64) == 5632


def test_equal_slices_stay_chunks(tmp_path):
    # x[:, :4] and x[:, 4:] of 8 channels: torch.chunk(2)'s halves, read as such (ShuffleNet v2's split)
    g = graph("dynamo", (1, 8, 4, 4))
    a, b = split(g, "x", 8, 4, "")
    report, _ = totals(g.save(tmp_path, g.op("Concat", [b, a], axis=1)))
    assert [(row.type, row.keys) for row in report.spec.layers[:2]] == [("chunk", {"chunks": 2, "index": 0}),
                                                                        ("chunk", {"chunks": 2, "index": 1})]


def test_split_into_unequal_parts_is_slices(tmp_path):
    # 10 channels as 4, 3, 3: no torch.chunk cuts them so (chunk(3) gives 4, 4, 2): channels 0-3, 4-6, 7-9
    g = Graph("dynamo", (1, 10, 4, 4))
    g.nodes.append(helper.make_node("Split", ["x", g.ints("sizes", [4, 3, 3])], ["a", "b", "c"], name="node_Split_1",
                                    axis=1))
    report, _ = totals(g.save(tmp_path, g.op("Concat", ["c", "a", "b"], axis=1)))
    assert [(row.type, row.keys) for row in report.spec.layers[:3]] == [
        ("slice", {"channels": [0, 4]}), ("slice", {"channels": [4, 7]}), ("slice", {"channels": [7, 10]})]
    assert report.rows[-1].out_shape == (10, 4, 4)


@pytest.mark.parametrize("op", ["Split", "Slice"])
def test_split_of_another_axis_is_refused_in_one_line(tmp_path, op):
    g = Graph("dynamo", (1, 8, 4, 4))
    if op == "Split":
        g.nodes.append(helper.make_node("Split", ["x", g.ints("sizes", [1, 3])], ["a", "b"], name="node_Split_1",
                                        axis=2))
        out, message = "a", r"a Split of 1x8x4x4 into \[1, 3\] at axis 2"
    else:
        out = g.op("Slice", ["x", g.ints("s", [1]), g.ints("e", [3]), g.ints("a", [2])])
        message = r"a Slice of 1x8x4x4 \(\{2: \(1, 3, 1\)\}\)"
    with pytest.raises(SpecError, match=message):
        cnncalc.analyze(g.save(tmp_path, out))
