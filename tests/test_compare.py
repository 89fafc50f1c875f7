"""cnncalc compare and cnncalc.compare(): figures, lecture-style ratios, per-stage view, formats.

Reference figures: torchvision totals (tests/data/torchvision_totals.csv), the
EECS 498-007 lecture 8 AlexNet table, and arithmetic written out here.
"""

import csv
import io
import json

import pytest

import cnncalc
from cnncalc.comparison import ratio_text, split_input
from cli_runner import invoke, ok
from reference import (ALEXNET_227_FLOPS, ALEXNET_227_FLOPS_2X, ALEXNET_227_MACS, ALEXNET_227_MEMORY, ALEXNET_PARAMS,
                       VGG16_FLOPS, VGG16_MACS, VGG16_MEMORY, VGG16_PARAMS)


def test_report_totals_are_the_reference_arithmetic():
    data = json.loads(ok("report", "alexnet", "--input", "227", "-f", "json"))
    assert data["totals"]["memory_bytes"] == ALEXNET_227_MEMORY
    assert data["totals"]["flops"] == ALEXNET_227_FLOPS
    assert data["totals"]["flops_2x"] == ALEXNET_227_FLOPS_2X
    vgg = json.loads(ok("report", "vgg16", "-f", "json"))
    assert (vgg["totals"]["memory_bytes"], vgg["totals"]["flops"]) == (VGG16_MEMORY, VGG16_FLOPS)


def test_vgg16_vs_alexnet_in_the_lecture_words():
    out = ok("compare", "alexnet@227", "vgg16")
    # 60,549,024 / 2,432,160 = 24.9 (the slide: 25x); 138,357,544 / 61,100,840 = 2.26 (2.3x);
    # 15,476,410,880 / 717,571,328 = 21.57 (the slide's 19.4x uses its 13.6 GFLOP, see the lecture notes)
    assert "VGG-16 vs AlexNet: 24.9x memory, 2.3x params, 21.6x flop" in out
    assert VGG16_FLOPS * 10 // ALEXNET_227_FLOPS == 215  # 21.57 -> 21.6x after rounding


def test_json_holds_exact_figures_and_ratios():
    data = json.loads(ok("compare", "alexnet@227", "vgg16", "--format", "json"))
    alexnet, vgg = data["models"]
    assert alexnet["input"] == [3, 227, 227] and vgg["input"] == [3, 224, 224]
    assert alexnet["spec"] == "alexnet@227"
    assert alexnet["totals"]["params"] == ALEXNET_PARAMS
    assert alexnet["totals"]["macs"] == ALEXNET_227_MACS
    assert alexnet["totals"]["flops"] == ALEXNET_227_FLOPS
    assert alexnet["totals"]["memory_bytes"] == ALEXNET_227_MEMORY
    assert alexnet["totals"]["param_bytes"] == 4 * ALEXNET_PARAMS
    assert vgg["totals"]["params"] == VGG16_PARAMS and vgg["totals"]["macs"] == VGG16_MACS
    assert vgg["totals"]["memory_bytes"] == VGG16_MEMORY
    assert vgg["ratios"]["params"] == "2.3x" and vgg["ratios"]["memory_bytes"] == "24.9x"
    assert (alexnet["totals"]["depth"], vgg["totals"]["depth"]) == (8, 16)
    assert data["ratio_lines"] == ["VGG-16 vs AlexNet: 24.9x memory, 2.3x params, 21.6x flop"]
    for model in data["models"]:
        for key, value in model["totals"].items():
            assert key == "input" or type(value) is int


def test_depth_is_the_papers_layer_count():
    # weight layers on the longest path: AlexNet 8, VGG-16 16, GoogLeNet 22 (Szegedy et al.), ResNet-50 50
    data = json.loads(ok("compare", "alexnet", "vgg16", "googlenet", "resnet50", "-f", "json", "-c", "depth,params"))
    assert [m["totals"]["depth"] for m in data["models"]] == [8, 16, 22, 50]
    assert [m["totals"]["params"] for m in data["models"]] == [61_100_840, 138_357_544, 6_624_904, 25_557_032]


def test_csv_one_row_per_model_exact_integers():
    out = ok("compare", "resnet50", "resnet50@448", "resnet50@3x160x160", "--format", "csv",
             "--columns", "input,params,macs,buffers")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["input"] for r in rows] == ["3x224x224", "3x448x448", "3x160x160"]
    # torchvision: 25,557,032 params, 53,120 BN buffers; MACs 4,089,184,256 / 16,350,593,024 / 2,087,321,600
    assert [int(r["macs"]) for r in rows] == [4_089_184_256, 16_350_593_024, 2_087_321_600]
    assert {int(r["params"]) for r in rows} == {25_557_032}
    assert {int(r["buffers"]) for r in rows} == {53_120}
    assert rows[1]["model"] == "ResNet-50 @3x448x448" and rows[1]["spec"] == "resnet50@448"


def test_input_option_sets_models_without_their_own():
    data = json.loads(ok("compare", "alexnet", "alexnet@224", "--input", "227", "-f", "json"))
    assert [m["totals"]["macs"] for m in data["models"]] == [ALEXNET_227_MACS, 714_188_480]


def test_table_default_rows_and_slide_units():
    out = ok("compare", "alexnet@227", "vgg16")
    lines = {line.split("  ")[0].strip(): line.split() for line in out.splitlines() if "  " in line}
    assert lines["params (M)"][-2:] == ["61.1", "138.4"]
    # the slide says "0.7 GFLOP" for AlexNet; beside VGG-16 two significant digits are kept
    assert lines["MACs (G)"][-2:] == ["0.72", "15.47"]
    # small models get small units: LeNet-5's 156 + 1,516 + 48,120 + 10,164 + 850 = 60,806 params (C1, C3
    # with the paper's connection table, C5, F6, output 84*10 + 10) read in thousands
    lenet = ok("compare", "lenet5")
    assert 156 + 1_516 + 48_120 + 10_164 + 850 == 60_806
    assert next(line for line in lenet.splitlines() if line.startswith("params")).split() == ["params", "(k)", "60.8"]
    assert lines["depth (weight layers)"][-2:] == ["8", "16"]
    # 2,432,160 B = 2.3 MB; 60,549,024 B = 57.7 MB (1 MB = 1024*1024 B)
    assert lines["activation memory (MB)"][-2:] == ["2.3", "57.7"]


def test_units_raw_prints_exact_integers():
    out = ok("compare", "alexnet@227", "vgg16", "--units", "raw")
    assert "138,357,544" in out and "15,470,264,320" in out and "2,432,160" in out


def test_training_memory_per_optimizer():
    # training = activations + params + gradients + k optimizer states (sgd 0, momentum 1, adam 2), fp32
    param_bytes = 4 * ALEXNET_PARAMS  # 244,403,360
    for optimizer, states in (("sgd", 0), ("momentum", 1), ("adam", 2)):
        data = json.loads(ok("compare", "alexnet@227", "--optimizer", optimizer, "-f", "json", "-c", "training"))
        assert data["optimizer"] == optimizer
        assert data["models"][0]["totals"]["training_bytes"] == ALEXNET_227_MEMORY + (2 + states) * param_bytes


def test_flops_convention_2x_swaps_the_flop_row_and_ratio():
    out = ok("compare", "alexnet@227", "vgg16", "--flops-convention", "2x", "--units", "raw")
    assert f"{ALEXNET_227_FLOPS_2X:,}" in out  # see ALEXNET_227_FLOPS_2X for the arithmetic
    # VGG-16 elementwise: bias+relu on 13,547,520 conv outputs, pool windows 6,146,560, fc 8192+8192+1000
    vgg_conv_outputs = 2 * 64 * 224 ** 2 + 2 * 128 * 112 ** 2 + 3 * 256 * 56 ** 2 + 3 * 512 * 28 ** 2 \
        + 3 * 512 * 14 ** 2
    vgg_flops_2x = 2 * VGG16_MACS + 2 * vgg_conv_outputs + (VGG16_FLOPS - VGG16_MACS) + 8192 + 8192 + 1000
    assert f"{vgg_flops_2x:,}" == "30,973,787,624" and "30,973,787,624" in out
    assert "FLOPs 2x" in out and "lecture flop" not in out
    assert "VGG-16 vs AlexNet: 24.9x memory, 2.3x params, 21.6x FLOPs" in out  # 30.97G / 1.435G = 21.58


def test_by_stage_lines_up_resnet_stages():
    out = ok("compare", "resnet18", "resnet50", "--by", "stage", "--format", "csv", "--columns", "output,params")
    rows = {(r["stage"], r["model"]): r for r in csv.DictReader(io.StringIO(out))}
    # ResNet-18 layer1: four 3x3 64->64 convs (36,864 each) + four BNs (128 each) = 147,968
    assert int(rows[("layer1", "ResNet-18")]["params"]) == 4 * 64 * 64 * 9 + 4 * 128
    # ResNet-50 layer1: block 0 = 64*64 + 64*64*9 + 64*256 + downsample 64*256 + BNs 128+128+512+512,
    # blocks 1-2 = 256*64 + 64*64*9 + 64*256 + BNs 128+128+512
    block0 = 64 * 64 + 64 * 64 * 9 + 64 * 256 + 64 * 256 + 128 + 128 + 512 + 512
    block = 256 * 64 + 64 * 64 * 9 + 64 * 256 + 128 + 128 + 512
    assert int(rows[("layer1", "ResNet-50")]["params"]) == block0 + 2 * block == 215_808
    # the stage outputs of the ResNet paper's Table 1 (conv2_x .. conv5_x)
    assert [rows[(f"layer{i}", "ResNet-50")]["out_shape"] for i in range(1, 5)] == \
        ["256x56x56", "512x28x28", "1024x14x14", "2048x7x7"]
    assert rows[("layer4", "ResNet-18")]["out_shape"] == "512x7x7"


def test_by_stage_table_and_json():
    out = ok("compare", "resnet18", "resnet50", "--by", "stage")
    assert "ResNet-18" in out and "layer3" in out and "ResNet-50 vs ResNet-18:" in out
    data = json.loads(ok("compare", "resnet18", "resnet50", "--by", "stage", "-f", "json", "-c", "params"))
    assert data["models"] == ["ResNet-18", "ResNet-50"]
    layer1 = next(s for s in data["stages"] if s["name"] == "layer1")
    assert layer1["models"] == [{"params": 147_968}, {"params": 215_808}]


def test_stage_missing_from_a_model_is_blank():
    data = json.loads(ok("compare", "alexnet", "resnet18", "--by", "stage", "-f", "json"))
    pool1 = next(s for s in data["stages"] if s["name"] == "pool1")
    assert pool1["models"][1] is None
    assert pool1["models"][0]["flops"] == 64 * 27 * 27 * 9  # the lecture's 419,904 (same 55 -> 27 at 224)


@pytest.mark.parametrize("fmt", ["github", "grid", "pipe", "rst", "latex", "html", "plain", "tsv", "psql"])
def test_every_table_format(fmt):
    out = ok("compare", "alexnet", "vgg16", "--format", fmt)
    assert "VGG-16" in out and "138.4" in out


def test_errors_are_one_line():
    result = invoke("compare", "alexnet", "no_such_model")
    assert result.exit_code == 1 and "neither a spec file nor a built-in model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = invoke("compare", "alexnet", "-c", "parms")
    assert result.exit_code == 2 and "did you mean 'params'" in result.stderr
    result = invoke("compare", "alexnet", "--format", "jsn")
    assert result.exit_code == 2


def test_ratio_text_as_the_lecture_writes_it():
    assert ratio_text(VGG16_PARAMS, ALEXNET_PARAMS) == "2.3x"  # 2.264
    assert ratio_text(136, 7) == "19.4x"  # the slide's 13.6 / 0.7 GFLOP
    assert ratio_text(6_624_904, ALEXNET_PARAMS) == "0.11x"  # GoogLeNet has 0.108 of AlexNet's params
    assert ratio_text(250, 2) == "125x"
    assert ratio_text(5, 0) == "n/a"


def test_split_input():
    assert split_input("resnet50@448") == ("resnet50", "448")
    assert split_input("vgg16@3x320x320") == ("vgg16", "3x320x320")
    assert split_input("models/v@2/net.yaml") == ("models/v@2/net.yaml", None)
    assert split_input(("vgg16", 320)) == ("vgg16", 320)


def test_python_api():
    comparison = cnncalc.compare(["alexnet@227", ("vgg16", 224)], optimizer="adam")
    assert comparison.labels == ["AlexNet", "VGG-16"]
    assert comparison.figures[1]["params"] == VGG16_PARAMS
    assert comparison.ratio_lines() == ["VGG-16 vs AlexNet: 24.9x memory, 2.3x params, 21.6x flop"]
    html = comparison._repr_html_()
    assert html.startswith("<table") and "VGG-16 vs AlexNet" in html
    assert comparison.to_dict()["models"][0]["totals"]["training_bytes"] == ALEXNET_227_MEMORY + 4 * 4 * ALEXNET_PARAMS


# --- models alike from different files -------------------------------------------------------------------

def _net(folder, filters):
    folder.mkdir()
    path = folder / "net.yaml"
    path.write_text(f"name: Net\ninput: [3, 32, 32]\nlayers:\n  - {{type: conv, filters: {filters}, kernel: 3}}\n")
    return str(path)


def test_models_of_one_name_from_different_files_are_told_apart_by_their_paths(tmp_path):
    first, second = _net(tmp_path / "small", 8), _net(tmp_path / "wide", 16)
    comparison = cnncalc.compare([first, second])
    assert comparison.labels == ["Net (small/net.yaml)", "Net (wide/net.yaml)"]
    # conv 3x3, 8 filters: 8*27 + 8 = 224 params; 16 filters: 448
    out = ok("compare", first, second)
    assert "Net (wide/net.yaml) vs Net (small/net.yaml): 2.0x memory, 2.0x params, 2.0x flop" in out
    data = json.loads(ok("compare", first, second, "--format", "json"))
    assert [model["label"] for model in data["models"]] == ["Net (small/net.yaml)", "Net (wide/net.yaml)"]
    assert [model["totals"]["params"] for model in data["models"]] == [224, 448]


def test_the_same_model_twice_is_numbered():
    comparison = cnncalc.compare(["resnet18", "resnet18"])
    assert comparison.labels == ["ResNet-18 #1", "ResNet-18 #2"]
