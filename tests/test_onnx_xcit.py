"""XCiT from ONNX (timm's xcit.py), in the forms both PyTorch exporters write: its Fourier position encoding
repeated to the batch (Expand and Tile after the projection), the cross-covariance attention (as EdgeNeXt's:
tests/test_onnx_edgenext.py), LPI (the tokens held transposed, reshaped to a map for depthwise convs, and
back), and its class attention block (the class token alone querying, the other tokens sliced off and
concatenated back: x[:, 1:], x[:, 0:1]). Read off timm 1.0's xcit_nano_12_p16_224 exported with torch
2.14.1; the numbers are worked by hand.
"""

import pytest

pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from test_onnx_cait import class_attn  # noqa: E402
from test_onnx_edgenext import xca  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def fourier(g):
    """PositionalEncodingFourier(hidden_dim=2, dim=10) on the 4 x 4 grid: sines and cosines (4 features),
    a 1x1 Conv to 10 channels, pos.repeat(B, 1, 1, 1) (TorchScript: Expand and Tile; torch.export: Tile),
    as 16 x 10 tokens."""
    s = "/pos_embed"
    if g.form == "torchscript":
        g.count += 1
        grid = f"grid{g.count}"
        ones = numpy_helper.from_array(numpy.ones((1, 4, 4, 2), dtype=numpy.float32))
        g.nodes.append(helper.make_node("Constant", [], [grid], name=f"{s}/Constant", value=ones))
        grid = g.op("CumSum", [grid, g.ints("cumsum_axis", 1)], s)
    else:
        grid = g.weight("div_4", [1, 4, 4, 2])
    joined = g.op("Transpose", [g.op("Concat", [g.op("Sin", [grid], s), g.op("Cos", [grid], s)], s, axis=3)], s,
                  perm=[0, 3, 1, 2])
    conv = g.op("Conv", [joined, g.weight("pos_embed.token_projection.weight", [10, 4, 1, 1]),
                         g.weight("pos_embed.token_projection.bias", [10])], f"{s}/token_projection",
                kernel_shape=[1, 1])
    if g.form == "torchscript":
        conv = g.op("Expand", [conv, g.ints("ones4", [1, 1, 1, 1])], s)
    repeated = g.op("Tile", [conv, g.ints("repeats", [1, 1, 1, 1])], s)
    return g.op("Transpose", [g.op("Reshape", [repeated, g.ints("pos_flat", [1, 10, 16])], "")], "", perm=[0, 2, 1])


def lpi(g, x):
    """LPI(10): the tokens transposed and reshaped to a 10 x 4 x 4 map, a depthwise 3x3 conv, GELU, another,
    back to tokens."""
    s = "/blocks.0/local_mp"
    grid = g.op("Reshape", [g.op("Transpose", [x], s, perm=[0, 2, 1]), g.ints("lpi_map", [1, 10, 4, 4])], s)
    for i in (1, 2):
        grid = g.op("Conv", [grid, g.weight(f"lpi.conv{i}.weight", [10, 1, 3, 3]), g.weight(f"lpi.conv{i}.bias", [10])],
                    f"{s}/conv{i}", group=10, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        if i == 1:
            grid = g.gelu(grid, f"{s}/act")
    return g.op("Transpose", [g.op("Reshape", [grid, g.ints("lpi_tokens", [1, 10, 16])], s)], s, perm=[0, 2, 1])


def take(g, x, begin, end, s):
    return g.op("Slice", [x, g.ints(f"from{begin}", [begin]), g.ints(f"to{end}", [end]), g.ints("axis1", [1]),
                          g.ints("step1", [1])], s)


def tiny_xcit(form, folder):
    """A 10 x 4 x 4 map as 16 tokens plus the Fourier encoding; an XCA block and an LPI, each times its gamma and
    added; the class token; a class attention block (XCiT's form); the class token's head."""
    g = Graph(form, (1, 10, 4, 4))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("flat", [1, 10, 16])], "")], "", perm=[0, 2, 1])
    x = g.op("Add", [tokens, fourier(g)], "")
    norm = g.op("LayerNormalization", [x, g.weight("n1.weight", [10]), g.weight("n1.bias", [10])], "/n1", axis=-1)
    x = g.op("Add", [x, g.op("Mul", [g.weight("blocks.0.gamma1", [10]), xca(g, norm)], "")], "")
    norm = g.op("LayerNormalization", [x, g.weight("n3.weight", [10]), g.weight("n3.bias", [10])], "/n3", axis=-1)
    x = g.op("Add", [x, g.op("Mul", [g.weight("blocks.0.gamma3", [10]), lpi(g, norm)], "")], "")
    if form == "torchscript":
        cls = g.op("Expand", [g.weight("cls_token", [1, 1, 10]), g.ints("batch", [1, 1, 10])], "")
    else:
        cls = g.weight("expand", [1, 1, 10])
    x = g.op("Concat", [cls, x], "", axis=1)  # 17 tokens
    s = "/cls_attn_blocks.0"
    norm = g.op("LayerNormalization", [x, g.weight("c.n1.weight", [10]), g.weight("c.n1.bias", [10])], s + "/norm1",
                axis=-1)
    attended = g.op("Concat", [class_attn(g, norm, 17, 10, 2, s + "/attn", "c"), take(g, norm, 1, 2 ** 62, s)], s,
                    axis=1)
    x = g.op("Add", [x, g.op("Mul", [g.weight("c.gamma1", [10]), attended], s)], s)
    first = g.op("LayerNormalization", [take(g, x, 0, 1, s), g.weight("c.n2.weight", [10]),
                                        g.weight("c.n2.bias", [10])], s + "/norm2", axis=-1)
    x = g.op("Concat", [first, take(g, x, 1, 2 ** 62, s)], s, axis=1)
    mlp = g.linear(take(g, x, 0, 1, s), 10, 10, s + "/mlp")
    x = g.op("Add", [x, g.op("Concat", [mlp, take(g, x, 1, 2 ** 62, s)], s, axis=1)], s)
    head = g.op("Gemm", [g.op("Gather", [x, g.ints("zero", 0)], "", axis=1), g.weight("head.weight", [3, 10]),
                         g.weight("head.bias", [3])], "/head", transB=1)
    return g.save(folder, head)


@pytest.mark.parametrize("form", FORMS)
def test_tiny_xcit_fourier_lpi_and_class_attention(tmp_path, form):
    report, _ = totals(tiny_xcit(form, tmp_path))
    types = [row.type for row in report.rows]
    assert types.count("untokens") == 1 and types.count("classtoken") == 1
    layers = {layer.type: layer.keys for layer in report.spec.layers}
    assert layers["posembed"] == {"fourier": 2}
    attention = [row for row in report.rows if row.type == "attention"]
    assert [layer.keys for layer in report.spec.layers if layer.type == "attention"] == [
        {"heads": 2, "over": "channels", "cosine": True}, {"heads": 2, "queries": "class"}]
    # the slices x[:, 1:] (16 tokens) and x[:, 0:1] (the class token)
    assert sorted(layer.keys.get("count", 0) for layer in report.spec.layers if layer.type == "taketoken") == \
        [0, 1, 1, 16, 16, 16]  # 0: the head's Gather of the class token, its vector
    # XCA as EdgeNeXt's: 442 params, 8,000 MACs; class attention on 17 tokens of 10, 2 heads of 5: q, k, v and
    # proj 4*(10*10 + 10) = 440 params; q 100 + k and v 2*17*100 + q K^T 2*1*17*5 + AV 170 + proj 100 MACs
    assert [(row.params, row.macs) for row in attention] == [(442, 8000), (440, 100 + 3400 + 170 + 170 + 100)]
    # the Fourier conv 4*10 + 10 = 50; 4 LayerNorms 4*20; XCA 442; 3 gammas 3*10; the dwconvs 2*(10*9 + 10);
    # the class token 10; class attention 440; the MLP's Linear 110; the head 33
    assert report.totals["params"] == 50 + 80 + 442 + 30 + 200 + 10 + 440 + 110 + 33 == 1395
    # the Fourier conv 16*4*10 = 640; XCA 8,000; the dwconvs 2 * 10*16*9; class attention 3,940; the Linear on
    # the class token 100; the head 30
    assert report.totals["macs"] == 640 + 8000 + 2 * 1440 + 3940 + 100 + 30 == 15590
