"""ConvNeXt V2's global response norm (GRN): the ``grn`` layer read from ONNX in the form
both PyTorch exporters write it (see tests/test_onnx_modern.py for the forms), on a channels-first map (timm's
conv MLP, convnextv2_atto) and a channels-last one (its Linear MLP). Measured on timm's convnextv2_atto by
tools/check_onnx.py: 3,708,400 params, 547,332,480 MACs from both exporters, as PyTorch counts them. The rule's
own test, worked by hand, is in tests/test_rules.py."""

import pytest

import cnncalc
from cnncalc.errors import SpecError

onnx = pytest.importorskip("onnx")
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def _grn(g, x, channels, scope, last, folding=False):
    """timm's GlobalResponseNorm of ``x`` (channels on the last axis when ``last``) as each exporter writes it."""
    spatial, channel, shape = ([1, 2], [-1], [1, 1, 1, -1]) if last else ([2, 3], [1], [1, -1, 1, 1])
    dims = [1, 1, 1, channels] if last else [1, channels, 1, 1]
    s = scope.replace(".", "/")
    if g.form == "torchscript":
        norm = g.op("ReduceL2", [x], f"/{s}/grn", axes=spatial, keepdims=1)
        mean = g.op("ReduceMean", [norm], f"/{s}/grn", axes=channel, keepdims=1)
    else:
        norm = g.op("ReduceL2", [x, g.ints(f"val_axes{g.count}", spatial)], keepdims=1)
        mean = g.op("ReduceMean", [norm, g.ints(f"val_axes{g.count}", channel)], keepdims=1)
    ratio = g.op("Div", [norm, g.op("Add", [mean, g.scalar(1e-6)], f"/{s}/grn")], f"/{s}/grn")
    if g.form == "torchscript" and folding:  # constant folding: reshaped, and gamma's equal zeros kept as beta's
        beta = g.weight(f"onnx::Add_{g.count}", dims)
        gamma = g.op("Identity", [beta], f"/{s}/grn")
    elif g.form == "torchscript":
        beta = g.op("Reshape", [g.weight(f"{scope}.grn.bias", [channels]), g.ints(f"shape{g.count}", shape)])
        gamma = g.op("Reshape", [g.weight(f"{scope}.grn.weight", [channels]), g.ints(f"shape{g.count}", shape)])
    else:  # the module's vectors reshaped (gamma times addcmul's 1), stored under names of the exporter's
        beta = g.folded(g.weight(f"view{g.count}", dims), [f"{scope}.grn.bias", "val_12"])
        gamma = g.folded(g.weight(f"tmp{g.count}", dims), [f"{scope}.grn.weight", "val_18", "value"])
    scaled = g.op("Mul", [gamma, g.op("Mul", [x, ratio], f"/{s}/grn")], f"/{s}/grn")
    if g.form == "torchscript":
        scaled = g.op("Mul", [scaled, g.scalar(1.0)], f"/{s}/grn")
    return g.op("Add", [x, g.op("Add", [beta, scaled], f"/{s}/grn")], f"/{s}/grn")


def convnextv2_mlp(folder, form, last=False, folding=False):
    """ConvNeXt V2's MLP on a 3 x 4 x 4 image: fc1 to 8 channels, GELU, GRN, fc2 back to 3, + the image; 1x1
    convs on the map (``conv_mlp``), or Linears on the map held channels-last (``last``)."""
    g = Graph(form, (1, 3, 4, 4))
    s = "/blocks/blocks.0/mlp"
    if last:
        x = g.op("Transpose", ["x"], "/blocks/blocks.0", perm=[0, 2, 3, 1])
        hidden = g.gelu(g.linear(x, 3, 8, s + "/fc1"), s + "/act")
        out = g.linear(_grn(g, hidden, 8, "blocks.0.mlp", last), 8, 3, s + "/fc2")
        out = g.op("Transpose", [out], "/blocks/blocks.0", perm=[0, 3, 1, 2])
    else:
        fc1 = g.op("Conv", ["x", g.weight("blocks.0.mlp.fc1.weight", [8, 3, 1, 1]),
                            g.weight("blocks.0.mlp.fc1.bias", [8])], s + "/fc1", kernel_shape=[1, 1])
        hidden = _grn(g, g.gelu(fc1, s + "/act"), 8, "blocks.0.mlp", last, folding)
        out = g.op("Conv", [hidden, g.weight("blocks.0.mlp.fc2.weight", [3, 8, 1, 1]),
                            g.weight("blocks.0.mlp.fc2.bias", [3])], s + "/fc2", kernel_shape=[1, 1])
    return g.save(folder, g.op("Add", [out, "x"], "/blocks/blocks.0"))


@pytest.mark.parametrize("last", [False, True], ids=["channels_first", "channels_last"])
@pytest.mark.parametrize("form", FORMS)
def test_global_response_norm_is_one_grn_layer(tmp_path, form, last):
    report, by_name = totals(convnextv2_mlp(tmp_path, form, last))
    types = [row.type for row in report.rows]
    assert types == ["linear" if last else "conv", "grn", "linear" if last else "conv", "add"], types
    grn = report.rows[1]
    # gamma and beta: 8 each; no MACs; the map's shape kept
    assert (grn.params, grn.macs, grn.out_shape) == (16, 0, (8, 4, 4))
    if form == "torchscript":
        assert grn.name == "blocks.0.mlp.grn"
    # fc1: 3*8 + 8 = 32 params, 16 positions * 3*8 = 384 MACs; fc2: 8*3 + 3 = 27, 16 * 8*3 = 384
    assert report.totals["params"] == 32 + 16 + 27 == 75
    assert report.totals["macs"] == 384 + 384 == 768


def test_reduce_l2_outside_a_grn_is_refused(tmp_path):
    g = Graph("torchscript", (1, 3, 4, 4))
    conv = g.op("Conv", ["x", g.weight("conv.weight", [8, 3, 1, 1])], "/conv", kernel_shape=[1, 1])
    with pytest.raises(SpecError, match=r"\(ReduceL2\): a ReduceL2 outside a global response norm"):
        cnncalc.analyze(g.save(tmp_path, g.op("ReduceL2", [conv], "/norm", axes=[2, 3], keepdims=1)))


def test_grn_from_the_torchscript_exporters_constant_folding(tmp_path):
    # dynamo=False with its defaults: gamma and beta stored reshaped under the exporter's names, an untrained
    # model's equal zeros kept once (gamma an Identity of beta's initializer): 8 params each, as above
    report, _ = totals(convnextv2_mlp(tmp_path, "torchscript", folding=True))
    assert [row.type for row in report.rows] == ["conv", "grn", "conv", "add"]
    assert report.rows[1].params == 16
    assert report.totals["params"] == 75
