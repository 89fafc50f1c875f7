"""MetaFormer's pieces (timm's CAFormer): StarReLU (``starrelu``), a layer norm without a bias (``layernorm``
with ``bias: false``), SquaredReLU (``squaredrelu``) and tokens held transposed turned back into a map
(``untokens``), read from ONNX in the form both PyTorch exporters write them (see
tests/test_onnx_modern.py for the forms). Measured on timm's caformer_s18 by tools/check_onnx.py: 26,341,656
params, 4,106,941,440 MACs from both exporters, as PyTorch counts them. The rules' own tests, worked by hand, are
in tests/test_rules.py."""

import pytest

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402
import numpy  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def _layer_norm_no_bias(g, x, channels, scope):
    """timm's LayerNorm without a bias: TorchScript gives LayerNormalization a Constant of zeros, torch.export
    no bias input."""
    weight = g.weight(f"{scope.strip('/').replace('/', '.')}.weight", [channels])
    if g.form == "dynamo":
        return g.op("LayerNormalization", [x, weight], scope, axis=-1)
    g.count += 1
    zeros = f"zeros_{g.count}"
    g.nodes.append(helper.make_node("Constant", [], [zeros], name=f"{scope}/Constant_{g.count}",
                                    value=numpy_helper.from_array(numpy.zeros([channels], numpy.float32))))
    return g.op("LayerNormalization", [x, weight, zeros], scope, axis=-1)


def _square(g, r, scope):
    if g.form == "dynamo":
        return g.op("Pow", [r, g.scalar(2.0)], scope)
    return g.op("Mul", [r, r], scope)


def tiny_caformer(folder, form):
    """A 3 x 8 x 8 image: stem conv 4x4/4 to 8 channels (2 x 2), a bias-free LayerNorm channels-last, a 1x1
    conv to 16 without bias, StarReLU; the map made tokens (4 x 16), a bias-free LayerNorm on them, the tokens
    transposed back and reshaped to the 16 x 2 x 2 map; global pool, head fc1 to 8, SquaredReLU, fc2 to 4."""
    g = Graph(form, (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("stem.conv.weight", [8, 3, 4, 4]), g.weight("stem.conv.bias", [8])],
                "/stem/conv", kernel_shape=[4, 4], strides=[4, 4])
    last = g.op("Transpose", [conv], "/stem/norm", perm=[0, 2, 3, 1])
    norm = g.op("Transpose", [_layer_norm_no_bias(g, last, 8, "/stem/norm")], "/stem/norm", perm=[0, 3, 1, 2])
    pw = g.op("Conv", [norm, g.weight("mixer.pwconv1.weight", [16, 8, 1, 1])], "/mixer/pwconv1", kernel_shape=[1, 1])
    squared = _square(g, g.op("Relu", [pw], "/mixer/act1/relu"), "/mixer/act1")
    scaled = g.op("Mul", [g.weight("mixer.act1.scale", [1]), squared], "/mixer/act1")
    star = g.op("Add", [scaled, g.weight("mixer.act1.bias", [1])], "/mixer/act1")
    tokens = g.op("Transpose", [g.op("Reshape", [star, g.ints("to_rows", [1, 16, 4])], "/stage")], "/stage",
                  perm=[0, 2, 1])
    tokens = _layer_norm_no_bias(g, tokens, 16, "/blocks/norm1")
    back = g.op("Reshape", [g.op("Transpose", [tokens], "/stage", perm=[0, 2, 1]), g.ints("to_map", [1, 16, 2, 2])],
                "/stage")
    flat = g.op("Flatten", [g.op("GlobalAveragePool", [back], "/pool")], "/flatten", axis=1)
    fc1 = g.op("Gemm", [flat, g.weight("head.fc1.weight", [8, 16]), g.weight("head.fc1.bias", [8])], "/head/fc1",
               transB=1)
    act = _square(g, g.op("Relu", [fc1], "/head/act/relu"), "/head/act")
    return g.save(folder, g.op("Gemm", [act, g.weight("head.fc2.weight", [4, 8]), g.weight("head.fc2.bias", [4])],
                               "/head/fc2", transB=1))


@pytest.mark.parametrize("form", FORMS)
def test_caformer_pieces_read_from_both_exporters(tmp_path, form):
    report, by_name = totals(tiny_caformer(tmp_path, form))
    types = [row.type for row in report.rows]
    assert types == ["conv", "layernorm", "conv", "starrelu", "tokens", "layernorm", "untokens", "globalavgpool",
                     "flatten", "fc", "fc"], types
    star = report.rows[3]
    assert (star.params, star.out_shape) == (2, (16, 2, 2))
    if form == "torchscript":
        assert star.name == "mixer.act1"
    # the bias-free norms count their scales: 8 and 16
    assert (report.rows[1].params, report.rows[5].params) == (8, 16)
    assert report.spec.layers[1].keys.get("bias") is False
    assert report.rows[6].out_shape == (16, 2, 2)  # the 4 tokens of 16 back on the 2 x 2 map
    assert report.spec.layers[9].keys.get("act") == "squaredrelu"  # folded into fc1
    # stem 8*3*16 + 8 = 392 params, 4 positions * 48*8 = 1,536 MACs; pwconv1 16*8 = 128, 4 * 8*16 = 512;
    # fc1 16*8 + 8 = 136, 128 MACs; fc2 8*4 + 4 = 36, 32 MACs; StarReLU 2; the norms 8 + 16
    assert report.totals["params"] == 392 + 8 + 128 + 2 + 16 + 136 + 36 == 718
    assert report.totals["macs"] == 1536 + 512 + 128 + 32 == 2208
