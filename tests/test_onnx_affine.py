"""Learned vectors multiplied or added, one value per channel, read from ONNX: ResMLP's Affine (alpha * x +
beta in place of a LayerNorm) and layer scale on tokens, a learned shift on a map, and MobileOne's literal
``0 + branch`` (FastViT), each in the form both PyTorch exporters write it (see tests/test_onnx_modern.py
for the forms); the numbers are worked by hand in each test. Skipped without the onnx package."""

import pytest

onnx = pytest.importorskip("onnx")
import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def tiny_resmlp(folder, form):
    """timm's ResBlock (ResMLP) on the 4 tokens of width 8 a 4x4/4 conv makes of a 3 x 8 x 8 image: Affine
    norm1 (TorchScript: Mul(alpha), addcmul's Mul by 1, Add(beta); torch.export: Mul by the product it
    folded, ``tmp``, Add(beta)), Transpose, Linear(4, 4) across the tokens, Transpose back, layer scale ls1
    (a vector of 8), + the tokens."""
    g = Graph(form, (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("stem.proj.weight", [8, 3, 4, 4]), g.weight("stem.proj.bias", [8])],
                "/stem/proj", kernel_shape=[4, 4], strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [conv, g.ints("to_rows", [1, 8, 4])], "/stem")], "/stem",
                  perm=[0, 2, 1])
    s = "/blocks/blocks.0"
    if form == "torchscript":
        scaled = g.op("Mul", [g.weight("blocks.0.norm1.alpha", [1, 1, 8]), tokens], s + "/norm1")
        scaled = g.op("Mul", [scaled, g.scalar(1.0)], s + "/norm1")
    else:
        scaled = g.op("Mul", [g.weight("tmp", [1, 1, 8]), tokens])
    norm = g.op("Add", [g.weight("blocks.0.norm1.beta", [1, 1, 8]), scaled], s + "/norm1")
    mixed = g.linear(g.op("Transpose", [norm], s, perm=[0, 2, 1]), 4, 4, s + "/linear_tokens")
    back = g.op("Transpose", [mixed], s, perm=[0, 2, 1])
    layer_scale = g.op("Mul", [g.weight("blocks.0.ls1", [8]), back], s)
    return g.save(folder, g.op("Add", [tokens, layer_scale], s))


@pytest.mark.parametrize("form", FORMS)
def test_resmlp_affine_is_a_scale_with_its_bias_and_layer_scale_a_scale(tmp_path, form):
    report, by_name = totals(tiny_resmlp(tmp_path, form))
    assert [row.type for row in report.rows] == ["conv", "tokens", "scale", "linear", "scale", "add"]
    affine, layer_scale = report.rows[2], report.rows[4]
    assert affine.name == "blocks.0.norm1" and report.spec.layers[2].keys == {"bias": True}
    # Affine: alpha and beta, 8 each; ls1: 8; the token Linear 4*4 + 4 = 20 params, 8 features * 4*4 = 128 MACs
    assert (affine.params, affine.macs, layer_scale.params) == (16, 0, 8)
    assert affine.out_shape == (4, 8)
    # conv 3*16*8 + 8 = 392 params, 4 positions * 48*8 = 1,536 MACs
    assert report.totals["params"] == 392 + 16 + 20 + 8 == 436
    assert report.totals["macs"] == 1536 + 128 == 1664


def tiny_mobileone(folder, form):
    """timm's MobileOneBlock (FastViT's stem) with a scale branch and no identity branch: out = conv_scale(x)
    (1x1/2 and BN) + 0, then += conv_kxk(x) (3x3/2 pad 1 and BN), on a 3 x 8 x 8 image, 4 filters."""
    g = Graph(form, (1, 3, 8, 8))

    def conv_bn(scope, kernel, pad):
        conv = g.op("Conv", ["x", g.weight(f"{scope}.conv.weight", [4, 3, kernel, kernel])], f"/stem/{scope}/conv",
                    kernel_shape=[kernel, kernel], strides=[2, 2], pads=[pad] * 4)
        stats = [g.weight(f"{scope}.bn.{name}", [4]) for name in ("weight", "bias", "running_mean", "running_var")]
        return g.op("BatchNormalization", [conv] + stats, f"/stem/{scope}/bn")

    scale_out = g.op("Add", [conv_bn("conv_scale", 1, 0), g.scalar(0.0)], "/stem")
    return g.save(folder, g.op("Add", [scale_out, conv_bn("conv_kxk.0", 3, 1)], "/stem"))


@pytest.mark.parametrize("form", FORMS)
def test_mobileone_literal_zero_added_is_no_layer(tmp_path, form):
    report, by_name = totals(tiny_mobileone(tmp_path, form))
    assert [row.type for row in report.rows] == ["conv", "bn", "conv", "bn", "add"]
    # 1x1: 4*3 = 12 params, 4*4 positions * 4*3 = 192 MACs; 3x3: 4*3*9 = 108, 16 * 4*27 = 1,728; BNs 2*4 (+2*4 buffers)
    assert report.totals["params"] == 12 + 8 + 108 + 8 == 136 and report.totals["buffers"] == 16
    assert report.totals["macs"] == 192 + 1728 == 1920


def test_learned_vector_added_to_a_map_is_a_shift(tmp_path):
    g = Graph("torchscript", (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("conv.weight", [4, 3, 1, 1])], "/conv", kernel_shape=[1, 1])
    report, by_name = totals(g.save(tmp_path, g.op("Add", [conv, g.weight("offset.beta", [4, 1, 1])], "/offset")))
    assert [row.type for row in report.rows] == ["conv", "shift"]
    assert report.rows[1].params == 4 and report.rows[1].out_shape == (4, 8, 8)  # one value a channel
    assert report.totals["params"] == 12 + 4


@pytest.mark.parametrize("name, dims, message", [
    ("blocks.0.offset", [1], "an Add of the learned scalar 'blocks.0.offset'"),
    ("val_7", [4, 1, 1], r"the constant 'val_7' 4x1x1, one value per channel that is not a learned initializer"),
])
def test_add_of_a_constant_that_cannot_be_counted_is_refused(tmp_path, name, dims, message):
    g = Graph("dynamo", (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("conv.weight", [4, 3, 1, 1])], kernel_shape=[1, 1])
    with pytest.raises(SpecError, match=message):
        cnncalc.analyze(g.save(tmp_path, g.op("Add", [conv, g.weight(name, dims)])))
