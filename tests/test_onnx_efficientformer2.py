"""EfficientFormerV2's attention from ONNX (timm's Attention2d, tools/export_modern.py's efficientformerv2_s0):
q, k and v three 1x1 convs of one map (each with a BatchNorm, which torch.export folds into the conv), each
viewed as heads x d x HW; v_local, a depthwise 3x3 conv (and BatchNorm) on v added to the heads' weighted sums;
talking heads, a 1x1 conv heads -> heads of the scores before and after the softmax; a learned bias a head for
each offset on the map (gathered by an index buffer; torch.export folds it into one heads x N x N constant).

Built with onnx.helper in each exporter's form, as read off efficientformerv2_s0's exports. The numbers are
worked by hand in each test. Skipped without the onnx package.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402

from test_onnx_modern import FORMS, Graph, totals  # noqa: E402

SCOPE = "/stages/stages.2/blocks/blocks.0/token_mixer"
MODULE = "stages.2.blocks.0.token_mixer"


def ints(g, values):
    return g.int_constant(values, SCOPE)


def conv_bn(g, x, cin, cout, name, kernel=1, groups=1):
    """ConvNorm: a conv with bias and its BatchNorm (TorchScript), or the conv alone, the BatchNorm folded (dynamo)."""
    y = g.op("Conv", [x, g.weight(f"{MODULE}.{name}.conv.weight", [cout, cin // groups, kernel, kernel]),
                      g.weight(f"{MODULE}.{name}.conv.bias", [cout])], f"{SCOPE}/{name}/conv",
             kernel_shape=[kernel, kernel], pads=[kernel // 2] * 4, group=groups)
    if g.form == "dynamo":
        return y
    bn = [g.weight(f"{MODULE}.{name}.bn.{part}", [cout], 1.0) for part in ("weight", "bias", "running_mean",
                                                                          "running_var")]
    return g.op("BatchNormalization", [y] + bn, f"{SCOPE}/{name}/bn")


def reshape(g, x, shape):
    return g.op("Reshape", [x, ints(g, shape)], SCOPE, **({"allowzero": 1} if g.form == "dynamo" else {}))


def tiny_attention2d(folder, form):
    """Attention2d(dim=8, key_dim=2, num_heads=2, attn_ratio=2, resolution=3) on a 1 x 8 x 3 x 3 map: q and k
    8 -> 4, v 8 -> 8 (2 heads of d = 4), v_local a 3x3 depthwise conv on v's 8 channels; then GELU and the
    output projection, a 1x1 conv 8 -> 8 (ordinary layers)."""
    g = Graph(form, (1, 8, 3, 3))
    q = g.op("Transpose", [reshape(g, conv_bn(g, "x", 8, 4, "q"), [1, 2, 2, 9])], SCOPE, perm=[0, 1, 3, 2])
    k = reshape(g, conv_bn(g, "x", 8, 4, "k"), [1, 2, 2, 9])
    v = conv_bn(g, "x", 8, 8, "v")
    local = conv_bn(g, v, 8, 8, "v_local", kernel=3, groups=8)
    v = g.op("Transpose", [reshape(g, v, [1, 2, 4, 9])], SCOPE, perm=[0, 1, 3, 2])
    scores = g.op("Mul", [g.op("MatMul", [q, k], SCOPE), g.scalar(0.7)], SCOPE)
    if form == "torchscript":  # attention_biases (heads x 9 offsets) gathered by the index of each pair's offset
        index = numpy.abs(numpy.arange(3)[:, None] - numpy.arange(3)[None, :])
        pairs = (index[:, None, :, None] * 3 + index[None, :, None, :]).reshape(9, 9)
        bias = g.op("Gather", [g.weight(f"{MODULE}.attention_biases", [2, 9]), ints(g, pairs.tolist())], SCOPE,
                    axis=1)
    else:  # torch.export folds the gathered biases into one constant
        bias = g.weight(f"{MODULE}.lifted_tensor_0", [2, 9, 9])
    scores = g.op("Add", [scores, bias], SCOPE)
    for i, head in enumerate(("talking_head1", "talking_head2")):
        scores = g.op("Conv", [scores, g.weight(f"{MODULE}.{head}.weight", [2, 2, 1, 1]),
                               g.weight(f"{MODULE}.{head}.bias", [2])], f"{SCOPE}/{head}", kernel_shape=[1, 1])
        if i == 0:
            scores = g.op("Softmax", [scores], SCOPE, axis=-1)
    out = g.op("Transpose", [g.op("MatMul", [scores, v], SCOPE)], SCOPE, perm=[0, 1, 3, 2])
    out = g.op("Add", [reshape(g, out, [1, 8, 3, 3]), local], SCOPE)
    out = g.op("Gelu", [out], SCOPE + "/act") if form == "dynamo" else g.gelu(out, SCOPE + "/act")
    return g.save(folder, g.op("Conv", [out, g.weight(f"{MODULE}.proj.conv.weight", [8, 8, 1, 1])],
                               f"{SCOPE}/proj/conv", kernel_shape=[1, 1]))


@pytest.mark.parametrize("form", FORMS)
def test_attention2d_with_v_local_and_talking_heads_is_one_attention_layer(tmp_path, form):
    report, by_name = totals(tiny_attention2d(tmp_path, form))
    assert [row.type for row in report.rows] == ["attention", "gelu", "conv"]
    keys, attention = report.spec.layers[0].keys, report.rows[0]
    assert (keys["heads"], keys["key_dim"], keys["proj"], keys["v_local"], keys["talking_heads"]) == \
        (2, 2, False, 3, True) and "dim" not in keys  # E = 2 heads * d 4 = 8, the input's width
    assert attention.out_shape == (8, 3, 3)
    # q and k 8*4 + 4 each, v 8*8 + 8: 144; v_local 8*3*3 + 8 = 80; talking heads 2*(2*2 + 2) = 12
    if form == "torchscript":  # + BatchNorms after q, k, v (2*16) and v_local (2*8); the offsets' biases 2*9
        assert keys["norm"] == "bn" and keys["position"] == "offsets" and keys["window"] == 3
        assert attention.params == 144 + 80 + 12 + 32 + 16 + 18 == 302
        assert attention.buffers == 32 + 16 + 9 * 9  # the BatchNorms' running stats; the 9 x 9 offset index
    else:  # the BatchNorms folded; the biases one 2 x 9 x 9 constant
        assert "norm" not in keys and keys["position"] == "folded"
        assert attention.params == 144 + 80 + 12 + 162 == 398 and attention.buffers == 0
    # q, k 9 positions * 8*4 each, v 9*8*8; QK^T 2 heads*9*9*2, AV 2*9*9*4; talking heads 2 * (2*9*9 * 2);
    # v_local 9 positions * 8 channels * 3*3
    assert attention.macs == 288 + 288 + 576 + 324 + 648 + 648 + 648 == 3420


def tiny_downsample(folder, form):
    """Attention2dDownsample(dim=8, key_dim=2, num_heads=2, attn_ratio=2, resolution=4) on a 1 x 8 x 4 x 4 map:
    q from LocalGlobalQuery (a depthwise 3x3 conv with bias of stride 2 plus an average pool of kernel 1 and
    stride 2, then q's 1x1 conv 8 -> 4): 2 x 2 = 4 queries over the 16 positions; k 8 -> 4, v 8 -> 8; v_local of
    stride 2; no talking heads; biases by offset, 2 heads x 16 gathered by a 4 x 16 index."""
    g = Graph(form, (1, 8, 4, 4))
    local = g.op("Conv", ["x", g.weight(f"{MODULE}.q.local.weight", [8, 1, 3, 3]),
                          g.weight(f"{MODULE}.q.local.bias", [8])], f"{SCOPE}/q/local", kernel_shape=[3, 3],
                 pads=[1, 1, 1, 1], strides=[2, 2], group=8)
    pool = g.op("AveragePool", ["x"], f"{SCOPE}/q/pool", kernel_shape=[1, 1], strides=[2, 2])
    queries = g.op("Add", [local, pool], f"{SCOPE}/q")
    q = g.op("Transpose", [reshape(g, conv_bn(g, queries, 8, 4, "q.proj"), [1, 2, 2, 4])], SCOPE, perm=[0, 1, 3, 2])
    k = reshape(g, conv_bn(g, "x", 8, 4, "k"), [1, 2, 2, 16])
    v = conv_bn(g, "x", 8, 8, "v")
    v_local = g.op("Conv", [v, g.weight(f"{MODULE}.v_local.conv.weight", [8, 1, 3, 3]),
                            g.weight(f"{MODULE}.v_local.conv.bias", [8])], f"{SCOPE}/v_local/conv",
                   kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], group=8)
    if form == "torchscript":
        bn = [g.weight(f"{MODULE}.v_local.bn.{part}", [8], 1.0) for part in ("weight", "bias", "running_mean",
                                                                            "running_var")]
        v_local = g.op("BatchNormalization", [v_local] + bn, f"{SCOPE}/v_local/bn")
    v = g.op("Transpose", [reshape(g, v, [1, 2, 4, 16])], SCOPE, perm=[0, 1, 3, 2])
    scores = g.op("Mul", [g.op("MatMul", [q, k], SCOPE), g.scalar(0.7)], SCOPE)
    if form == "torchscript":
        index = numpy.arange(64).reshape(4, 16) % 16
        bias = g.op("Gather", [g.weight(f"{MODULE}.attention_biases", [2, 16]), ints(g, index.tolist())], SCOPE,
                    axis=1)
    else:
        bias = g.weight(f"{MODULE}.lifted_tensor_0", [2, 4, 16])
    attn = g.op("Softmax", [g.op("Add", [scores, bias], SCOPE)], SCOPE, axis=-1)
    out = g.op("Transpose", [g.op("MatMul", [attn, v], SCOPE)], SCOPE, perm=[0, 1, 3, 2])
    return g.save(folder, g.op("Add", [reshape(g, out, [1, 8, 2, 2]), v_local], SCOPE))


@pytest.mark.parametrize("form", FORMS)
def test_attention2d_downsample_queries_every_other_position_of_the_map(tmp_path, form):
    report, by_name = totals(tiny_downsample(tmp_path, form))
    assert [row.type for row in report.rows] == ["attention"]
    keys, attention = report.spec.layers[0].keys, report.rows[0]
    assert (keys["queries"], keys["stride"], keys["v_local"], keys["proj"]) == ("local", 2, 3, False)
    assert attention.out_shape == (8, 2, 2) and "talking_heads" not in keys
    # the local queries' conv 8*9 + 8 = 80; q and k 8*4 + 4 each, v 8*8 + 8: 144; v_local 8*9 + 8 = 80
    if form == "torchscript":  # + BatchNorms after q, k, v (2*16) and v_local (2*8); biases 2 heads * 16 offsets
        assert keys["position"] == "offsets" and keys["norm"] == "bn"
        assert attention.params == 80 + 144 + 80 + 32 + 16 + 32 == 384
        assert attention.buffers == 32 + 16 + 4 * 16  # the running stats; the 4 x 16 index
    else:  # folded: one 2 x 4 x 16 constant
        assert keys["position"] == "folded" and "norm" not in keys
        assert attention.params == 80 + 144 + 80 + 128 == 432 and attention.buffers == 0
    # the local conv 4 queries * 8 channels * 9; q 4*8*4; k 16*8*4; v 16*8*8; QK^T 2 heads*4*16*2; AV 2*4*16*4;
    # v_local 4*8*9
    assert attention.macs == 288 + 128 + 512 + 1024 + 256 + 512 + 288 == 3008
