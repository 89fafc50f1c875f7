"""BoTNet's attention from ONNX (timm's BottleneckAttn, tools/export_modern.py's botnet26t): q, k and v a Split of
one 1x1 conv, relative position logits (PosEmbedRel: the queries times a learned embedding of each offset along
the width and along the height, moved to absolute positions by Reshape/Pad/Flatten/Slice, expanded over the
other axis), no output projection, an average pool after it for stride 2.

Built with onnx.helper in each exporter's form, as read off botnet26t's exports: TorchScript (``dynamo=False``:
scoped names, shapes as Constant nodes, the table a Transpose of the parameter) and torch.export (``node_*``
names, shapes as ``val_*`` initializers, Reshape with allowzero, the transposed table an initializer it names
itself, ``transpose_2``). The numbers are worked by hand in each test. Skipped without the onnx package.
"""

import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402

SCOPE = "/stages/stages.0/stages.0.0/self_attn"


def ints(g, values):
    return g.int_constant(values, SCOPE)


def reshape(g, x, shape):
    return g.op("Reshape", [x, ints(g, shape)], SCOPE, **({"allowzero": 1} if g.form == "dynamo" else {}))


def rel_logits(g, q, side, other, dim, axis, table_width=None):
    """timm's rel_logits_1d: q (B*heads x other x side x dim) times the table (2*side - 1 embeddings of dim,
    transposed), to absolute positions, expanded over ``other`` and permuted to B*heads x H x W x H x W."""
    width = table_width or 2 * side - 1
    name = f"stages.0.0.self_attn.pos_embed.{axis}_rel"
    if g.form == "torchscript":
        table = g.op("Transpose", [g.weight(name, [width, dim])], SCOPE + "/pos_embed", perm=[1, 0])
    else:
        table = g.weight(f"transpose_{axis}", [dim, width])  # torch.export stores the transposed copy
    x = g.op("MatMul", [q, table], SCOPE + "/pos_embed")
    x = reshape(g, x, [-1, side, width])
    x = g.op("Pad", [x, ints(g, [0, 0, 0, 0, 0, 1])], SCOPE, mode="constant")
    x = g.op("Flatten", [x], SCOPE, axis=1)
    x = g.op("Pad", [x, ints(g, [0, 0, 0, side - 1])], SCOPE, mode="constant")
    x = reshape(g, x, [-1, side + 1, 2 * side - 1])
    x = g.op("Slice", [x, ints(g, [0]), ints(g, [side]), ints(g, [1]), ints(g, [1])], SCOPE)
    x = g.op("Slice", [x, ints(g, [side - 1]), ints(g, [2 * side - 1]), ints(g, [2]), ints(g, [1])], SCOPE)
    x = reshape(g, x, [2, other, 1, side, side])
    x = g.op("Expand", [x, ints(g, [2, other, other, side, side])], SCOPE)
    return g.op("Transpose", [x], SCOPE, perm=[0, 1, 3, 2, 4] if axis == "width" else [0, 3, 1, 4, 2])


def tiny_botnet(folder, form, stride=1, table_width=None):
    """BottleneckAttn(8, feat_size=(3, 4), num_heads=2) on a 1 x 8 x 3 x 4 map: qkv a 1x1 conv 8 -> 24 without
    bias, split in three on the channels, each viewed as 2 heads x 4 x 12 positions; dim_head 4; height_rel
    5 x 4, width_rel 7 x 4; the weighted sums viewed as the 8 x 3 x 4 map (an AvgPool 2 with ``stride: 2``);
    then post_attn, a BatchNorm."""
    g = Graph(form, (1, 8, 3, 4))
    qkv = g.op("Conv", ["x", g.weight("stages.0.0.self_attn.qkv.weight", [24, 8, 1, 1])], SCOPE + "/qkv",
               kernel_shape=[1, 1])
    parts = [f"split_{i}" for i in range(3)]
    g.nodes.append(helper.make_node("Split", [qkv, ints(g, [8, 8, 8])], parts, name=f"{SCOPE}/Split", axis=1))
    q = g.op("Transpose", [reshape(g, parts[0], [2, 4, -1])], SCOPE, perm=[0, 2, 1])  # 2 x 12 x 4
    k = reshape(g, parts[1], [2, 4, -1])  # 2 x 4 x 12
    v = g.op("Transpose", [reshape(g, parts[2], [2, 4, -1])], SCOPE, perm=[0, 2, 1])
    scores = g.op("Mul", [g.op("MatMul", [q, k], SCOPE), g.scalar(0.5)], SCOPE)
    grid = reshape(g, q, [2, 3, 4, 4])  # B*heads x H x W x dim_head
    width = rel_logits(g, grid, 4, 3, 4, "width", table_width)
    height = rel_logits(g, g.op("Transpose", [grid], SCOPE, perm=[0, 2, 1, 3]), 3, 4, 4, "height")
    logits = reshape(g, g.op("Add", [height, width], SCOPE), [2, 12, 12])
    attn = g.op("Softmax", [g.op("Add", [scores, logits], SCOPE)], SCOPE, axis=-1)
    out = reshape(g, g.op("Transpose", [g.op("MatMul", [attn, v], SCOPE)], SCOPE, perm=[0, 2, 1]), [1, 8, 3, 4])
    if stride == 2:
        out = g.op("AveragePool", [out], SCOPE + "/pool", kernel_shape=[2, 2], strides=[2, 2])
    bn = [g.weight(f"stages.0.0.post_attn.{name}", [8], 1.0) for name in ("weight", "bias", "running_mean",
                                                                          "running_var")]
    return g.save(folder, g.op("BatchNormalization", [out] + bn, "/stages/stages.0/stages.0.0/post_attn"))


@pytest.mark.parametrize("form", FORMS)
def test_botnet_attention_with_relative_logits(tmp_path, form):
    report, by_name = totals(tiny_botnet(tmp_path, form))
    assert [row.type for row in report.rows] == ["attention", "bn"]
    keys, attention = report.spec.layers[0].keys, report.rows[0]
    assert (keys["heads"], keys["position"], keys["proj"], keys["qkv_bias"]) == (2, "relative_logits", False, False)
    assert "window" not in keys and "out" not in keys  # the whole 3 x 4 map; no output projection
    assert attention.out_shape == (8, 3, 4) and attention.buffers == 0
    # qkv 8*24 = 192; height_rel (2*3 - 1)*4 = 20 and width_rel (2*4 - 1)*4 = 28
    assert attention.params == 192 + 20 + 28 == 240
    # qkv 12 positions * 8*24 = 2,304; QK^T and AV each 2 heads * 12*12*4 = 1,152; the width logits 2 heads *
    # 12 queries * 4 * 7 = 672, the height logits 2*12*4*5 = 480
    assert attention.macs == 2304 + 1152 + 1152 + 672 + 480 == 5760
    assert report.totals["params"] == 240 + 16 and report.totals["buffers"] == 16  # + post_attn's BatchNorm


@pytest.mark.parametrize("form", FORMS)
def test_botnet_attention_with_stride_two_is_attention_then_its_average_pool(tmp_path, form):
    report, by_name = totals(tiny_botnet(tmp_path, form, stride=2))
    assert [row.type for row in report.rows] == ["attention", "avgpool", "bn"]
    assert report.rows[0].macs == 5760 and report.rows[1].out_shape == (8, 1, 2)  # floor(3/2) x 4/2


def test_relative_logits_of_a_table_that_is_not_one_embedding_an_offset_are_refused(tmp_path):
    # a width table of 8 embeddings on a 4-wide map (2*4 - 1 = 7 offsets): not relative logits, refused in one line
    with pytest.raises(SpecError, match=r"node '/stages/stages.0/stages.0.0/self_attn/.*attention"):
        cnncalc.analyze(tiny_botnet(tmp_path, "torchscript", table_width=8))
