"""The spec constructs of issue 19: subsample (x[..., ::2, ::2]), weightnorm, norms without affine params, the
repeat index `i` and `**`, lists in params, `from: NAME.*.LAYER`, and `use: SPEC, until: LAYER`.

Reference figures measured with torch 2.14.1 (sum(p.numel()) of the module):
torch.nn.utils.weight_norm(nn.Conv2d(3, 10, 5)) 770 params; of nn.ConvTranspose2d(16, 8, 4, stride=2) 2,072
(g has one magnitude per *input* channel: the weight is Cin x Cout x K x K and weight_norm's dim is 0); of
nn.Linear(100, 10) 1,020; of nn.Conv1d(32, 64, 3) 6,272. nn.BatchNorm2d(16, affine=False): 0 params, 32
buffers besides num_batches_tracked. torchvision's resnet50 without avgpool and fc: 25,557,032 - 2,049,000 =
23,508,032 params (tests/data/torchvision_totals.csv, fc = 2048*1000 + 1000).
"""

import pytest

import cnncalc
from cli_runner import ok


def analyze(layers, input=(3, 32, 32), **spec):
    return cnncalc.analyze({"input": list(input), "layers": layers, **spec})


def test_resnet20_option_a_counts_no_pool_flop():
    # tools/modern_reference.txt: resnet20 40,551,040 MACs; the lecture flop adds only the global average
    # pool's 64*8*8 = 4,096 (a 1x1 max pool shortcut used to add 16*16*16 + 32*8*8 = 6,144 more)
    totals = cnncalc.analyze("resnet20").totals
    assert (totals["macs"], totals["flops"]) == (40551040, 40551040 + 4096)
    row = cnncalc.analyze("resnet20").row("layer2.0.shortcut.subsample")
    assert row.type == "subsample" and row.out_shape == (16, 16, 16)


@pytest.mark.parametrize("layer, input, params", [
    ({"type": "conv", "filters": 10, "kernel": 5}, (3, 32, 32), 770),
    ({"type": "convtranspose", "filters": 8, "kernel": 4, "stride": 2}, (16, 8, 8), 2072),
    ({"type": "fc", "units": 10}, (100,), 1020),
    ({"type": "conv", "filters": 64, "kernel": 3}, (32, 100), 6272),
])
def test_weightnorm_adds_torchs_magnitudes(layer, input, params):
    assert analyze([{"name": "x", **layer, "weightnorm": True}], input).row("x").params == params


def test_norms_without_affine_params():
    report = analyze([{"name": "bn", "type": "bn", "affine": False}, {"name": "ln", "type": "layernorm",
                                                                       "affine": False}], (16, 8, 8))
    assert (report.row("bn").params, report.row("bn").buffers) == (0, 32)
    assert report.row("ln").params == 0


def test_repeat_index_and_power_write_wavenet_dilations():
    # WaveNet (van den Oord et al. 2016): dilations 1, 2, 4, ..., 512, repeated; kernel 2
    report = analyze([{"name": "d", "type": "conv", "filters": 8, "kernel": 2, "dilation": "2 ** (i % 10)",
                       "repeat": 20}], (8, 4096))
    dilations = [row.receptive_field[0] for row in report.rows]
    assert dilations[:3] == [2, 4, 8] and dilations[9] == 1024 and dilations[19] == 2047


def test_lists_in_params_are_read_by_index():
    spec = {"params": {"depths": [1, 2], "widths": [8, 2 * 8]}, "input": [3, 16, 16], "layers": [
        {"name": "s0", "type": "conv", "filters": "widths[0]", "kernel": 3, "pad": 1, "repeat": "depths[0]"},
        {"name": "s1", "type": "conv", "filters": "widths[i]", "kernel": 3, "pad": 1, "repeat": "depths[1]"}]}
    report = cnncalc.analyze(spec)
    assert [row.out_shape[0] for row in report.rows] == [8, 8, 16]
    with pytest.raises(cnncalc.CnnCalcError, match="index 2 is outside the list of 2"):
        cnncalc.analyze({**spec, "layers": [{"type": "conv", "filters": "widths[2]", "kernel": 1}]})


def test_from_every_copy_sums_wavenets_skips(tmp_path):
    spec = {"input": [16, 100], "blocks": {"res": {"args": {"d": 1}, "layers": [
        {"name": "conv", "type": "conv", "filters": 16, "kernel": 2, "dilation": "d", "pad": "same"},
        {"name": "skip", "type": "conv", "filters": 32, "kernel": 1},
        {"name": "out", "type": "add", "from": ["conv", "input"]}]}},
        "layers": [{"name": "layers", "type": "res", "d": "2 ** i", "repeat": 4},
                   {"name": "skips", "type": "add", "from": "layers.*.skip"},
                   {"name": "outs", "type": "concat", "from": "layers.*"}]}
    report = cnncalc.analyze(spec)
    assert report.row("skips").inputs == [f"layers.{i}.skip" for i in range(4)]
    assert report.row("outs").out_shape == (64, 100)
    with pytest.raises(cnncalc.CnnCalcError, match="'from': 'nothing.\\*' names no layer"):
        cnncalc.analyze({**spec, "layers": spec["layers"][:1] + [{"type": "add", "from": "nothing.*"}]})


def test_use_a_built_in_as_a_backbone_until_a_block():
    report = cnncalc.analyze({"input": [3, 224, 224], "layers": [
        {"name": "backbone", "use": "resnet50", "until": "layer4"},
        {"name": "lat4", "type": "conv", "from": "backbone.layer3", "filters": 256, "kernel": 1}]})
    backbone = [row for row in report.rows if row.name.startswith("backbone.")]
    assert sum(row.params for row in backbone) == 23508032
    assert backbone[-1].out_shape == (2048, 7, 7)
    assert report.row("lat4").in_shape == (1024, 14, 14)
    with pytest.raises(cnncalc.CnnCalcError, match="until: resnet50 has no layer or block 'layer5'"):
        cnncalc.analyze({"input": [3, 224, 224], "layers": [{"use": "resnet50", "until": "layer5"}]})


def test_use_a_spec_file_next_to_this_one(tmp_path):
    (tmp_path / "encoder.yaml").write_text("input: [3, 64, 64]\nlayers:\n"
                                           "  - {name: c1, type: conv, filters: 8, kernel: 3, pad: 1}\n"
                                           "  - {name: p1, type: maxpool, kernel: 2}\n"
                                           "  - {name: c2, type: conv, filters: 16, kernel: 3, pad: 1}\n",
                                           encoding="utf-8")
    main = tmp_path / "main.yaml"
    main.write_text("input: [3, 32, 32]\nlayers:\n  - {name: enc, use: encoder.yaml, until: p1}\n"
                    "  - {type: conv, filters: 4, kernel: 1}\n", encoding="utf-8")
    report = cnncalc.analyze(str(main))
    assert [row.name for row in report.rows] == ["enc.c1", "enc.p1", "conv1"]
    assert report.rows[-1].out_shape == (4, 16, 16)  # the used spec's layers run at this spec's input
    (tmp_path / "loop.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - {use: loop.yaml}\n", encoding="utf-8")
    with pytest.raises(cnncalc.CnnCalcError, match="uses itself"):
        cnncalc.analyze(str(tmp_path / "loop.yaml"))


def test_list_shows_the_transformers():
    listing = ok("list")
    for name in ("vit_b_16", "vit_h_14", "swin_t", "swin_v2_b"):
        assert name in listing


def test_reuse_is_bounded_work(tmp_path):
    # 3,000 uses of resnet50 (171 layers read each) pass the 300,000 expansion steps: refused, not slow
    path = tmp_path / "bomb.yaml"
    path.write_text("input: [3, 64, 64]\nlayers:\n" + "".join(
        f"  - {{name: b{k}, use: resnet50, until: conv1, from: input}}\n" for k in range(3000)), encoding="utf-8")
    with pytest.raises(cnncalc.CnnCalcError, match="300,000 steps"):
        cnncalc.analyze(str(path))
    with pytest.raises(cnncalc.CnnCalcError, match="number too large"):
        analyze([{"type": "conv", "filters": "2 ** 2 ** 60", "kernel": 1}])
    for bad in ("/etc/passwd", "-", "resnet5"):
        with pytest.raises(cnncalc.CnnCalcError, match="neither a built-in model nor a .yaml/.yml spec file"):
            analyze([{"use": bad}])
