"""The modern built-in models against figures measured with PyTorch.

Source of every figure below: tools/modern_reference.py run under torch 2.14.1 and torchvision 0.29.1
(its output is saved in tools/modern_reference.txt; `--compare` there also checks every conv/linear
layer). convnext_tiny, efficientnet_b3 and efficientnet_b4 are torchvision's models (weights=None); the
others are the PyTorch modules written in that script after their papers.
Conventions as cnncalc's: params are all parameters; buffers are BN running means and variances;
MACs are conv out elements * (Cin/groups) * prod(kernel), transposed conv in elements * (Cout/groups) *
prod(kernel), Linear out elements * in_features (also on channels-last maps), counted with forward hooks.
"""

import pytest

import cnncalc

# (built-in, --set params, input, params, buffers, MACs, output shape), as printed by tools/modern_reference.py
REFERENCE = [
    ("convnext_tiny", {}, [3, 224, 224], 28589128, 0, 4455531264, [1000]),
    ("efficientnet_b3", {}, [3, 300, 300], 12233232, 87296, 1827141392, [1000]),
    # torchvision's efficientnet_b4 at 380, from the B3 spec's params
    ("efficientnet_b3", {"width": 1.4, "depth": 1.8}, [3, 380, 380], 19341616, 125200, 4393771024, [1000]),
    ("unet", {}, [1, 572, 572], 31030658, 0, 150428424448, [2, 388, 388]),
    ("unet", {}, [1, 476, 476], 31030658, 0, 94055381248, [2, 292, 292]),
    ("unet", {}, [1, 668, 668], 31030658, 0, 220328491264, [2, 484, 484]),
    ("mobilenet_v1", {}, [3, 224, 224], 4231976, 21888, 568740352, [1000]),
    ("espcn", {}, [1, 224, 224], 22729, 0, 1135181824, [1, 672, 672]),
    ("espcn", {"upscale": 4}, [1, 224, 224], 24752, 0, 1236336640, [1, 896, 896]),
    ("c3d", {}, [3, 16, 112, 112], 79991015, 0, 38548959232, [487]),
    ("m5", {}, [1, 8000], 571939, 2048, 67440128, [35]),
    ("resnet20", {}, [3, 32, 32], 269722, 1376, 40551040, [10]),
]


def _id(row):
    name, params, shape = row[:3]
    settings = "".join(f"-{k}={v}" for k, v in params.items())
    return f"{name}{settings}-{'x'.join(map(str, shape))}"


@pytest.mark.parametrize("name, settings, shape, params, buffers, macs, output", REFERENCE,
                         ids=[_id(r) for r in REFERENCE])
def test_matches_pytorch(name, settings, shape, params, buffers, macs, output):
    report = cnncalc.analyze(name, input="x".join(map(str, shape)), params=settings or None)
    totals = report.totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, buffers, macs)
    assert list(report.rows[-1].out_shape) == output


def test_default_input_and_params_are_the_first_reference_run():
    firsts = {}
    for name, settings, shape, *_ in REFERENCE:
        if not settings:
            firsts.setdefault(name, shape)
    for name, shape in firsts.items():
        assert list(cnncalc.analyze(name).input) == shape, name


def test_efficientnet_b3_scaled_back_is_b0():
    """width 1.0, depth 1.0 at 224 gives torchvision's efficientnet_b0 (tests/data/torchvision_totals.csv)."""
    totals = cnncalc.analyze("efficientnet_b3", input="224", params={"width": 1.0, "depth": 1.0}).totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (5288548, 42016, 385814752)
    assert totals == cnncalc.analyze("efficientnet_b0").totals


def test_convnext_has_layer_norms_and_no_buffers():
    rows = cnncalc.analyze("convnext_tiny").rows
    assert not [row.name for row in rows if row.buffers or row.type == "bn"]
    by_name = {row.name: row for row in rows}
    assert by_name["features.1.0.block.2"].type == "layernorm"
    assert by_name["features.1.0.layer_scale"].params == 96
    # the Linear layers act on the channels at each of the 56 x 56 positions
    assert (by_name["features.1.0.block.3"].out_shape, by_name["features.1.0.block.3"].macs) == (
        (384, 56, 56), 56 * 56 * 96 * 384)


def test_unet_crops_follow_the_input():
    for side, crop in ((572, 56), (476, 44)):
        by_name = {row.name: row for row in cnncalc.analyze("unet", input=str(side)).rows}
        assert by_name["up4.crop"].in_shape == by_name["enc4.conv2"].out_shape
        assert by_name["up4.crop"].out_shape == (512, crop, crop) == by_name["up4.upconv"].out_shape
        assert by_name["up4.concat"].out_shape == (1024, crop, crop)


def test_resnet20_option_a_shortcuts_have_no_params():
    by_name = {row.name: row for row in cnncalc.analyze("resnet20").rows}
    assert by_name["layer2.0.shortcut.subsample"].out_shape == (16, 16, 16)
    assert by_name["layer2.0.shortcut.pad"].out_shape == (32, 16, 16)
    assert by_name["layer3.0.shortcut.pad"].out_shape == (64, 8, 8)
    assert sum(row.params for row in by_name.values() if ".shortcut." in row.name) == 0
    assert "layer1.0.shortcut.pad" not in by_name and "layer2.1.shortcut.pad" not in by_name


def test_one_and_three_dimensional_models_keep_their_rank():
    m5 = {row.name: row for row in cnncalc.analyze("m5").rows}
    assert m5["conv1"].out_shape == (128, 1981)
    assert m5["pool4"].out_shape == (512, 7)
    c3d = {row.name: row for row in cnncalc.analyze("c3d").rows}
    assert c3d["pool1"].out_shape == (64, 16, 56, 56)
    assert c3d["pool5"].out_shape == (512, 1, 4, 4)
    assert c3d["fc6"].params == 8192 * 4096 + 4096
