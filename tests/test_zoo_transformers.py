"""The transformer built-ins (ViT, Swin, Swin V2, MaxViT) against figures measured with PyTorch.

Source of every figure below: tools/transformer_reference.py run under torch 2.14.1 and torchvision 0.29.1
(its output is saved in tools/transformer_reference.txt; `--modules NAME` there prints the per-module
figures). Each model is torchvision.models.NAME(weights=None): params = sum(p.numel()), buffers =
sum(b.numel()) (Swin's relative_position_index, Swin V2's relative_coords_table), MACs =
torch.utils.flop_counter.FlopCounterMode total / 2 on one input, counted with grad enabled and the math
attention kernel (sdpa_kernel(SDPBackend.MATH)).
"""

import json

import pytest

import cnncalc
from cli_runner import ok

# (built-in, --input, params, buffers, MACs, output shape), as printed by tools/transformer_reference.py
REFERENCE = [
    ("vit_b_16", "224", 86567656, 0, 17563828224, [1000]),
    ("vit_b_32", "224", 88224232, 0, 4409186304, [1000]),
    ("vit_l_16", "224", 304326632, 0, 61554712576, [1000]),
    ("vit_l_32", "224", 306535400, 0, 15377539072, [1000]),
    # vit_h_14(weights=None) is built for 224; the built-in's default is 518, the size of torchvision's
    # ViT-H/14 weights (the run vit_h_14_518: vit_h_14(weights=None, image_size=518))
    ("vit_h_14", "224", 632045800, 0, 167295109120, [1000]),
    ("vit_h_14", "518", 633470440, 0, 1016716764160, [1000]),
    ("swin_t", "224", 28288354, 28812, 4490566656, [1000]),
    ("swin_s", "224", 49606258, 57624, 8740875264, [1000]),
    ("swin_b", "224", 87768224, 57624, 15430946816, [1000]),
    ("swin_v2_t", "256", 28351570, 54552, 5939690496, [1000]),
    ("swin_v2_s", "256", 49737442, 109104, 11545857024, [1000]),
    ("swin_v2_b", "256", 87930848, 109104, 20325134336, [1000]),
    ("maxvit_t", "224", 30919624, 100438, 5558046720, [1000]),  # buffers without BN's num_batches_tracked
]
DEFAULT_INPUTS = {"vit_h_14": 518, "swin_v2_t": 256, "swin_v2_s": 256, "swin_v2_b": 256}


@pytest.mark.parametrize("name, side, params, buffers, macs, output", REFERENCE,
                         ids=[f"{r[0]}-{r[1]}" for r in REFERENCE])
def test_matches_torchvision(name, side, params, buffers, macs, output):
    report = cnncalc.analyze(name, input=side)
    totals = report.totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, buffers, macs)
    assert list(report.rows[-1].out_shape) == output


def test_default_inputs():
    for name in {row[0] for row in REFERENCE}:
        assert cnncalc.analyze(name).input == (3, DEFAULT_INPUTS.get(name, 224), DEFAULT_INPUTS.get(name, 224))


# Per module (tools/transformer_reference.py --modules swin_t / swin_v2_t / vit_b_16 / maxvit_t): FlopCounterMode's
# module totals / 2, the module's params and buffers.
MODULES = [
    ("swin_t", "features.1.0.attn", 145108992, 37755, 2401),
    ("swin_t", "features.7.1.attn", 119293440, 2366424, 2401),
    ("swin_t", "features.2", 57802752, 74496, 0),  # patch merging: LayerNorm(384) + Linear(384, 192, bias=False)
    ("swin_v2_t", "features.1.0.attn", 201902592, 40323, 4546),  # with the bias MLP's 576,000 MACs
    ("swin_v2_t", "features.2", 75497472, 74112, 0),  # patch merging V2: Linear(384, 192) then LayerNorm(192)
    ("vit_b_16", "encoder.layers.encoder_layer.0.self_attention", 524391936, 2362368, 0),
    ("vit_b_16", "encoder.layers.encoder_layer.0", 1453954560, 7087872, 0),  # torchvision's encoder_layer_0
    ("maxvit_t", "blocks.0.layers.0.layers.MBconv", 276979712, 48912, 1152),
    ("maxvit_t", "blocks.0.layers.0.layers.grid_attention", 173809664, 50322, 2401),  # as 7x7 windows
]


@pytest.mark.parametrize("name, block, macs, params, buffers", MODULES, ids=[f"{m[0]}-{m[1]}" for m in MODULES])
def test_modules_match_torchvision(name, block, macs, params, buffers):
    rows = cnncalc.analyze(name).block(block)
    assert sum(row.macs for row in rows) == macs
    assert sum(row.params for row in rows) == params
    assert sum(row.buffers for row in rows) == buffers


def test_vit_b_16_spec_reads_like_the_papers_table():
    """Dosovitskiy et al. 2021, Table 1: ViT-Base, 12 layers, hidden size D 768, MLP size 3072, 12 heads."""
    report = cnncalc.analyze("vit_b_16")
    assert {k: report.params[k] for k in ("layers", "hidden", "mlp", "heads", "patch")} == {
        "layers": 12, "hidden": 768, "mlp": 3072, "heads": 12, "patch": 16}
    attention = [row for row in report.rows if row.type == "attention"]
    assert len(attention) == 12 and {row.heads for row in attention} == {12}
    assert report.row("class_token").out_shape == (197, 768)


def test_vit_b_16_at_384_follows_the_position_embedding():
    # 384/16 = 24: 576 patches + the class token; the position embedding grows with them
    report = cnncalc.analyze("vit_b_16", input=384)
    assert report.row("encoder.pos_embedding").params == 577 * 768


def test_vit_b_16_folded_reads_like_the_papers_table():
    """Dosovitskiy et al. 2021, Table 1, ViT-Base: Layers 12, Hidden size D 768, MLP size 3072, Heads 12."""
    encoder = next(line for line in ok("report", "vit_b_16", "--depth", "1").splitlines() if line.startswith("encoder "))
    assert "12 layers, 12 heads, MLP 3072" in encoder and encoder.count("197 x 768") == 2
    data = json.loads(ok("report", "vit_b_16", "--depth", "2", "-f", "json"))
    layers = next(row for row in data["layers"] if row["name"] == "encoder.layers")
    assert (layers["attention_layers"], layers["heads"], layers["mlp"], layers["out_shape"]) == (12, 12, 3072, [197, 768])


def test_swin_t_stages_read_like_the_papers_table():
    """Liu et al. 2021, Table 7, Swin-T: stages of 2, 2, 6, 2 blocks with dims 96, 192, 384, 768, heads 3, 6, 12,
    24, MLP ratio 4; the patch merging between them holds no attention."""
    table = ok("report", "swin_t", "--depth", "2")
    stages = {line.split()[0]: line for line in table.splitlines() if line.startswith("features.")}
    for stage, blocks, dim, heads in ((1, 2, 96, 3), (3, 2, 192, 6), (5, 6, 384, 12), (7, 2, 768, 24)):
        assert f"{blocks} layers, {heads} heads, MLP {4 * dim}" in stages[f"features.{stage}"]
    assert "heads" not in stages["features.2"]


def test_video_swin_t_is_torchvisions_swin3d_t():
    """torchvision.models.video.swin3d_t(weights=None) on one 3 x 16 x 224 x 224 clip, measured by
    tools/export_modern.py (tools/modern_onnx_reference.txt: params, buffers, FlopCounterMode / 2 with grad enabled
    and the math attention kernel); its layers' figures worked by hand from the formulas."""
    report = cnncalc.analyze("swin3d_t")
    assert report.input == (3, 16, 224, 224)
    totals = report.totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (28158070, 1843968, 43882229760)
    assert list(report.rows[-1].out_shape) == [400]  # Kinetics-400
    rows = {row.name: row for row in report.rows}
    assert rows["patch_embed.proj"].out_shape == (96, 8, 56, 56)  # patches of 2 x 4 x 4
    # the last stage: one window, the whole 8 x 7 x 7 map (392 positions), 24 heads of 32
    last = rows["features.6.1.attn"]
    assert last.params == 4 * 768 * 768 + 4 * 768 + 2535 * 24 == 2423208
    assert last.macs == 392 * 768 * 2304 + 2 * 24 * 392 * 392 * 32 + 392 * 768 * 768 == 1160871936
    # patch merging: 96 x 8 x 56 x 56 -> 384 x 8 x 28 x 28, LayerNorm(384), Linear(384, 192) without bias
    assert rows["features.1.gather"].out_shape == (384, 8, 28, 28)
    assert rows["features.1.reduction"].macs == 8 * 28 * 28 * 384 * 192 == 462422016
    assert rows["features.1.norm"].params + rows["features.1.reduction"].params == 2 * 384 + 384 * 192 == 74496


@pytest.mark.parametrize("name, params, buffers, macs", [("swin3d_s", 49816678, 3687936, 82841284608),
                                                         ("swin3d_b", 88048984, 3687936, 140666617856)])
def test_video_swin_s_and_b_are_torchvisions(name, params, buffers, macs):
    """tools/transformer_reference.py's runs swin3d_s and swin3d_b on one 3 x 16 x 224 x 224 clip (18 blocks in the
    third stage; Swin-B 128 channels wide): 24 relative indices of 392 x 392."""
    report = cnncalc.analyze(name)
    totals = report.totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, buffers, macs)
    assert buffers == 24 * 392 * 392 and list(report.rows[-1].out_shape) == [400]


@pytest.mark.parametrize("clip, macs", [("3x16x112x112", 11363168256), ("3x8x224x224", 19699003392)])
def test_video_swin_t_on_smaller_clips_is_torchvisions(clip, macs):
    """tools/transformer_reference.py's runs swin3d_t_112 and swin3d_t_8f: the last stage's 8 x 4 x 4 map (its 7 x 7
    map padded to 8 x 8 before the merge, as torchvision pads it) and every stage's 4 frames run the 8 x 7 x 7
    window as the map (``fit: true``), the table and index as built."""
    totals = cnncalc.analyze("swin3d_t", input=clip).totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (28158070, 1843968, macs)
