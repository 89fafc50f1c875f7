"""The roofline: bytes moved, arithmetic intensity, and on a device the least time and the bound.

Reference values are worked by hand from published formulas and figures, never read off this program:
- ShuffleNet V2 (Ma et al. 2018, guideline G1): a 1x1 conv of c1 -> c2 channels on an h x w map has
  memory access cost MAC = hw(c1 + c2) + c1*c2 elements (plus its bias, c2, when it has one);
- the device figures are the vendors' datasheet numbers (A100 SXM 80 GB: fp16 Tensor Core 312 TFLOPS dense,
  2,039 GB/s; T4: fp32 8.1 TFLOPS, 320 GB/s), written out here again;
- layer shapes are torchvision's (MobileNetV2's features.2.conv.1 depthwise 3x3/2 on 96x112x112; ResNet-50's
  layer4 3x3 convs of 512 channels on 7x7, the first with stride 2 from 14x14).
"""

import json
from fractions import Fraction

import pytest

import cnncalc
from cnncalc.errors import UsageError
from cnncalc.numbers import read_rate
from cnncalc.roofline import attach, device, device_table, records
from cli_runner import invoke, ok

A100_FP16 = 312 * 10 ** 12       # NVIDIA A100 datasheet: FP16 Tensor Core 312 TFLOPS (dense)
A100_BANDWIDTH = 2039 * 10 ** 9  # 2,039 GB/s (80 GB SXM)
T4_FP32 = 81 * 10 ** 11          # NVIDIA T4 datasheet: 8.1 TFLOPS single precision
T4_BANDWIDTH = 320 * 10 ** 9     # 320 GB/s


def one_by_one(c1, c2, hw, bias):
    return {"name": "pointwise", "input": [c1, hw, hw],
            "layers": [{"name": "conv", "type": "conv", "filters": c2, "kernel": 1, "bias": bias}]}


@pytest.mark.parametrize("dtype,element_bytes", [("fp32", 4), ("fp16", 2), ("int8", 1)])
@pytest.mark.parametrize("bias", [False, True])
def test_a_1x1_conv_moves_the_shufflenet_v2_memory_access_cost(dtype, element_bytes, bias):
    c1, c2, hw = 58, 58, 28  # ShuffleNet V2 1x stage 2's branch convs
    report = attach(cnncalc.analyze(one_by_one(c1, c2, hw, bias), dtype=dtype))
    mac_elements = hw * hw * (c1 + c2) + c1 * c2 + (c2 if bias else 0)
    assert report.rows[0].roofline.bytes_moved == mac_elements * element_bytes


def test_the_builtin_shufflenet_v2_branch_conv_matches_the_formula():
    report = cnncalc.analyze("shufflenet_v2_x1_0", device="t4")
    row = report.row("stage2.0.branch2.5")  # 1x1, 58 -> 58 on 28x28, bias: false (torchvision)
    assert row.roofline.bytes_moved == (28 * 28 * (58 + 58) + 58 * 58) * 4
    # ShuffleNet V2's G1: for fixed FLOPs the cost is least when c1 == c2, so this unit reads as memory-bound
    assert row.roofline.bound == "memory"


def test_activations_scale_with_the_batch_and_weights_are_read_once():
    one = cnncalc.analyze(one_by_one(64, 128, 14, True), batch=1, device="t4").rows[0].roofline
    eight = cnncalc.analyze(one_by_one(64, 128, 14, True), batch=8, device="t4").rows[0].roofline
    activations, weights = 14 * 14 * (64 + 128), 64 * 128 + 128
    assert one.bytes_moved == (activations + weights) * 4
    assert eight.bytes_moved == (8 * activations + weights) * 4
    assert eight.flops == 8 * one.flops == 8 * 2 * (14 * 14 * 128 * 64) + 8 * 14 * 14 * 128  # 2 x MACs + bias


def test_a_mobilenet_v2_depthwise_layer_is_memory_bound_on_an_a100_at_fp16():
    report = cnncalc.analyze("mobilenet_v2", dtype="fp16", device="a100")
    row = report.row("stage2.0.conv.1.0")  # torchvision features.2.conv.1: dw 3x3/2, 96x112x112 -> 96x56x56
    assert row.type == "dwconv"
    bytes_moved = (96 * 112 * 112 + 96 * 56 * 56 + 96 * 3 * 3) * 2
    flops = 2 * (96 * 56 * 56 * 3 * 3)
    r = row.roofline
    assert (r.bytes_moved, r.flops) == (bytes_moved, flops)
    assert r.compute_s == Fraction(flops, A100_FP16) and r.memory_s == Fraction(bytes_moved, A100_BANDWIDTH)
    assert r.time_s == r.memory_s and r.bound == "memory"
    assert r.intensity < Fraction(A100_FP16, A100_BANDWIDTH)  # left of the ridge point (153 FLOP/B)
    assert all(row.roofline.bound == "memory" for row in report.rows if row.type == "dwconv")


def test_resnet50_layer4_3x3_convs_are_compute_bound_at_batch_64_on_an_a100():
    report = cnncalc.analyze("resnet50", dtype="fp16", batch=64, device="a100")
    convs = [row for row in report.rows if row.name.startswith("layer4.") and row.kernel == (3, 3)]
    assert [row.name for row in convs] == ["layer4.0.conv2", "layer4.1.conv2", "layer4.2.conv2"]
    for row in convs:
        assert row.roofline.bound == "compute"
        assert row.roofline.time_s == Fraction(row.roofline.flops, A100_FP16)
    second = convs[1].roofline  # 512x7x7 -> 512x7x7, 3x3, no bias
    assert second.bytes_moved == ((512 * 49 + 512 * 49) * 64 + 512 * 512 * 9) * 2
    assert second.flops == 2 * (512 * 49 * 512 * 9) * 64
    # at batch 1 the same layer reads its 2.4M weights for one image: memory-bound
    single = cnncalc.analyze("resnet50", dtype="fp16", device="a100").row("layer4.1.conv2").roofline
    assert single.bound == "memory"


def test_totals_sum_the_layers_and_share_the_memory_bound_time():
    report = cnncalc.analyze("mobilenet_v2", device="t4")
    total = report.roofline.total
    assert total.bytes_moved == sum(row.roofline.bytes_moved for row in report.rows)
    assert total.time_s == sum(max(Fraction(row.roofline.flops, T4_FP32), Fraction(row.roofline.bytes_moved, T4_BANDWIDTH))
                               for row in report.rows)
    memory = sum(row.roofline.time_s for row in report.rows if row.roofline.bound == "memory")
    assert total.memory_bound_share == memory / total.time_s
    assert report.roofline.device.ridge == Fraction(T4_FP32, T4_BANDWIDTH)


def test_a_folded_block_sums_its_layers_times():
    report = cnncalc.analyze("resnet50", device="t4")
    layer1 = [row for row in report.rows if row.name.startswith("layer1.")]
    folded = {row.name: row for row in report.fold(1)}["layer1"].roofline
    assert folded.time_s == sum(row.roofline.time_s for row in layer1)
    assert folded.bytes_moved == sum(row.roofline.bytes_moved for row in layer1)
    assert [r["name"] for r in records(report, depth=1)][:3] == ["conv1", "bn1", "maxpool"]


def test_a_training_only_branch_moves_nothing_in_eval_mode():
    report = cnncalc.analyze("googlenet_aux", device="t4")
    aux = [row for row in report.rows if row.train_only]
    assert aux and all(row.roofline.bytes_moved == 0 and row.roofline.time_s == 0 for row in aux)
    assert all(row.roofline.bound is None for row in aux)


def test_the_device_table_holds_the_named_devices_with_datasheet_figures():
    table = device_table()
    for name in ("h100", "a100", "l4", "t4", "rtx4090", "jetson-orin-nano", "m2", "rpi5", "ryzen9-7950x"):
        assert name in table and table[name]["bandwidth"] > 0 and table[name]["peak"]["fp32"] > 0
    assert table["a100"]["peak"] == {"fp64": 97 * 10 ** 11, "fp32": 195 * 10 ** 11, "tf32": 156 * 10 ** 12,
                                     "fp16": A100_FP16, "bf16": A100_FP16, "int8": 624 * 10 ** 12}
    assert table["a100"]["bandwidth"] == A100_BANDWIDTH
    assert table["t4"] == {"title": "NVIDIA T4 16 GB", "bandwidth": T4_BANDWIDTH,
                           "peak": {"fp32": T4_FP32, "fp16": 65 * 10 ** 12, "int8": 130 * 10 ** 12}}
    h100 = table["h100"]  # dense: half the datasheet's "with sparsity" figures
    assert (h100["peak"]["fp16"], h100["peak"]["int8"], h100["bandwidth"]) == (
        9894 * 10 ** 11, 19789 * 10 ** 11, 335 * 10 ** 10)


def test_the_device_table_ships_with_the_package():
    import os
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
        package_data = tomllib.load(handle)["tool"]["setuptools"]["package-data"]
    assert "devices.yaml" in package_data["cnncalc"]
    assert os.path.isfile(os.path.join(root, "cnncalc", "devices.yaml"))


@pytest.mark.parametrize("text,value", [("19.5T", 195 * 10 ** 11), ("1555G", 1555 * 10 ** 9), ("312 TFLOPS", 312 * 10 ** 12),
                                        ("2,039 GB/s", 2039 * 10 ** 9), ("8e12", 8 * 10 ** 12), ("130 TOPS", 130 * 10 ** 12),
                                        ("1.5k", 1500), ("0.5", Fraction(1, 2))])
def test_rates_read_with_decimal_prefixes(text, value):
    assert read_rate(text) == value


@pytest.mark.parametrize("text", ["0", "-1T", "fast", "19.5X", "1e999", "19.5 Tb", "", "1" * 200])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError):
        read_rate(text)


def test_device_lookup_errors_are_usage_errors():
    with pytest.raises(UsageError, match="did you mean 'a100'"):
        device("a10")
    with pytest.raises(UsageError, match="no bf16 peak for t4"):
        device("t4", "bf16")
    with pytest.raises(UsageError, match="go together"):
        device(peak="19.5T")
    custom = device(peak="19.5T", bandwidth="1555G")
    assert (custom.name, custom.peak, custom.bandwidth) == ("custom", 195 * 10 ** 11, 1555 * 10 ** 9)
    over = device("a100", "fp32", bandwidth="1555G")  # the 40 GB A100's bandwidth over the table's
    assert (over.peak, over.bandwidth) == (195 * 10 ** 11, 1555 * 10 ** 9)
    assert device() is None


# --- the command line ---------------------------------------------------------------------------------------

def test_an_int8_peak_is_written_in_operations_a_second():
    # the T4's datasheet gives 130 TOPS at int8 (dense), 8.1 TFLOPS at fp32: 130e12 / 320e9 = 406.25 per byte
    out = ok("report", "resnet18", "--device", "t4", "--dtype", "int8")
    assert "roofline on t4 (NVIDIA T4 16 GB): int8 peak 130 TOP/s, 320 GB/s, ridge point 406.3 OP/B" in out
    explained = ok("report", "resnet18", "--device", "t4", "--dtype", "int8", "--explain", "conv1")
    assert "/ 130 TOP/s = " in explained
    table = ok("devices")
    header = table.splitlines()[1].split()
    assert header[:6] == ["FLOP/s"] * 5 + ["OP/s"]  # fp64 fp32 tf32 fp16 bf16, then int8



def test_report_device_prints_the_roofline_table_and_summary():
    out = ok("report", "mobilenet_v2", "--device", "t4")
    head = out.splitlines()[0].split()
    assert head == ["Layer", "type", "output", "FLOPs", "2x", "bytes", "moved", "intensity", "time", "bound"]
    assert "roofline on t4 (NVIDIA T4 16 GB): fp32 peak 8.1 TFLOP/s, 320 GB/s, ridge point 25.3 FLOP/B" in out
    assert "A lower bound: no kernel launch cost, no cache reuse across" in " ".join(out.split("\n"))
    line = next(line for line in out.splitlines() if line.startswith("stage2.0.conv.1.0 "))
    # (96*112*112 + 96*56*56 + 864) * 4 B = 6,024,576 B = 5,883 KB; / 320 GB/s = 18.83 us
    assert line.split()[-4:] == ["5,883", "0.9", "18.83", "memory"]


def test_no_footer_leaves_out_the_roofline_conventions_as_compare_does():
    plain = ok("report", "alexnet", "--device", "t4", "--no-footer")
    assert "Conventions:" not in plain and "Roofline (--device)" not in plain and "A lower bound" not in plain
    assert "roofline on t4 (NVIDIA T4 16 GB)" in plain  # the summary line stays
    assert "A lower bound" not in ok("compare", "alexnet", "vgg16", "--device", "t4", "--no-footer")
    assert "Roofline (--device)" in ok("report", "alexnet", "--device", "t4")


def test_report_columns_choose_the_roofline_columns():
    out = ok("report", "alexnet", "--device", "a100", "--columns", "intensity,bytes,time,bound", "--units", "raw")
    assert out.splitlines()[0].split() == ["Layer", "intensity", "bytes", "moved", "time", "bound"]
    conv1 = next(line for line in out.splitlines() if line.startswith("conv1 ")).split()
    # 3x224x224 -> 64x55x55 (11x11/4 pad 2), params 23,296: bytes = (150,528 + 193,600 + 23,296) * 4
    assert conv1[2] == f"{(150528 + 193600 + 23296) * 4:,}"


def test_bytes_and_intensity_need_no_device_but_time_does():
    out = ok("report", "alexnet", "--columns", "bytes,intensity")
    assert "bytes moved" in out and "roofline on" not in out
    for fmt in ("simple", "json", "csv"):
        result = invoke("report", "alexnet", "--columns", "time", "--format", fmt)
        assert result.exit_code == 2 and "needs a device" in result.stderr


def test_report_json_has_the_roofline_fields():
    data = json.loads(ok("report", "mobilenet_v2", "--device", "a100", "--dtype", "fp16", "--format", "json"))
    layer = next(layer for layer in data["layers"] if layer["name"] == "stage2.0.conv.1.0")
    assert layer["bytes_moved"] == 3012288 and layer["bound"] == "memory"
    assert layer["time_s"] == pytest.approx(3012288 / A100_BANDWIDTH, rel=1e-5)
    assert layer["intensity"] == pytest.approx(5419008 / 3012288, rel=1e-5)
    totals = data["totals"]
    assert {"bytes_moved", "time_s", "memory_bound_share"} <= set(totals)
    assert totals["bytes_moved"] == sum(layer["bytes_moved"] for layer in data["layers"])
    assert data["device"]["name"] == "a100" and data["device"]["peak_flops"] == A100_FP16
    assert data["device"]["ridge_point"] == pytest.approx(A100_FP16 / A100_BANDWIDTH, rel=1e-5)


def test_report_csv_has_the_roofline_columns():
    out = ok("report", "alexnet", "--device", "t4", "--format", "csv")
    lines = out.splitlines()
    assert lines[0].endswith(",bytes_moved,intensity,time_s,bound")
    assert lines[1].rsplit(",", 1)[1] in ("memory", "compute")
    keys, total = lines[0].split(","), lines[-1].split(",")
    assert total[0] == "total"
    assert int(total[keys.index("bytes_moved")]) == sum(int(line.split(",")[keys.index("bytes_moved")])
                                                        for line in lines[1:-1])


def test_report_peak_and_bandwidth_with_units():
    out = ok("report", "alexnet", "--peak", "19.5T", "--bandwidth", "1555G")
    assert "roofline on custom: fp32 peak 19.5 TFLOP/s, 1.555 TB/s, ridge point 12.5 FLOP/B" in out


@pytest.mark.parametrize("args,message", [
    (["--device", "t44"], "unknown device 't44'; did you mean 't4'?"),
    (["--device", "t4", "--dtype", "bf16"], "no bf16 peak for t4"),
    (["--peak", "19.5T"], "go together"),
    (["--peak", "fast", "--bandwidth", "1T"], "--peak must be a rate like 19.5T"),
    (["--device", "t4", "--bandwidth", "-3G"], "--bandwidth must be a rate like 1555G"),
])
def test_device_mistakes_are_usage_errors(args, message):
    for command in (["report", "alexnet"], ["compare", "alexnet", "vgg16"]):
        result = invoke(*command, *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_explain_shows_bytes_intensity_both_times_and_the_bound():
    out = ok("report", "resnet50", "--device", "a100", "--dtype", "fp16", "--batch", "64", "--explain", "layer4.1.conv2")
    assert "bytes moved = ((input 25,088 + output 25,088) * 64 + params and buffers 2,359,296) * 2 B = 11,141,120 B" in out
    assert "FLOPs = (2 * MACs 115,605,504 + elementwise 0) * 64 = 14,797,504,512" in out
    assert "intensity = FLOPs / bytes = 14,797,504,512 / 11,141,120 = 1,328.19 FLOP/B" in out
    assert "compute time = FLOPs / peak = 14,797,504,512 / 312 TFLOP/s = 47.4 us" in out  # 14.8e9 / 312e12
    assert "memory time = bytes / bandwidth = 11,141,120 B / 2.039 TB/s = 5.46 us" in out
    assert "roofline time = max(compute, memory) = 47.4 us: compute-bound on a100" in out


def test_compare_device_adds_the_roofline_rows_and_ratio():
    out = ok("compare", "resnet50", "mobilenet_v2", "--device", "t4")
    assert "roofline time" in out and "memory-bound time" in out and "bytes moved (MB)" in out
    assert "MobileNetV2 vs ResNet-50: 0.49x memory, 0.14x params, 0.074x flop, " in out
    assert "roofline time on t4" in out
    data = json.loads(ok("compare", "resnet50", "mobilenet_v2", "--device", "t4", "--format", "json"))
    first, second = (model["totals"] for model in data["models"])
    assert data["models"][1]["ratios"]["roofline_time_s"].endswith("x")
    assert data["device"]["name"] == "t4" and first["roofline_time_s"] > second["roofline_time_s"]
    result = invoke("compare", "resnet50", "mobilenet_v2", "--columns", "roofline_time")
    assert result.exit_code == 2 and "need --device" in result.stderr


def test_devices_lists_the_table():
    out = ok("devices")
    for name in ("h100", "a100", "l4", "t4", "rtx4090", "jetson-orin-nano", "m2", "rpi5", "ryzen9-7950x"):
        assert any(line.startswith(name + " ") for line in out.splitlines())
    t4 = next(line for line in out.splitlines() if line.startswith("t4 ")).split()
    assert t4[1:5] == ["8.1T", "65T", "130T", "320"]
    data = json.loads(ok("devices", "--format", "json"))
    assert {d["name"]: d["bandwidth"] for d in data["devices"]}["a100"] == A100_BANDWIDTH


def test_plot_roofline_draws_and_needs_a_device(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "roof.png"
    result = invoke("plot", "mobilenet_v2", "resnet50", "--roofline", "--device", "jetson-orin-nano", "-o", path)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = invoke("plot", "mobilenet_v2", "--roofline", "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "--roofline needs --device" in result.stderr
    result = invoke("plot", "mobilenet_v2", "--roofline", "--device", "tpu", "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "unknown device 'tpu'" in result.stderr


def test_the_api_takes_a_device_and_gives_records():
    report = cnncalc.analyze("mobilenet_v2", device="a100", dtype="fp16")
    rows = records(report)
    assert len(rows) == len(report.rows)
    assert set(rows[0]) == {"name", "type", "flops", "bytes_moved", "intensity", "compute_s", "memory_s", "time_s",
                            "bound"}
    comparison = cnncalc.compare(["resnet50", "mobilenet_v2"], device="a100", dtype="fp16")
    assert comparison.device.name == "a100" and "roofline_time_s" in comparison.figures[1]
    assert cnncalc.devices()["t4"]["peak"]["fp16"] == 65 * 10 ** 12
    with pytest.raises(cnncalc.CnnCalcError):
        cnncalc.analyze("alexnet", device="nope")


def test_explain_of_a_block_sums_its_layers_roofline():
    out = ok("report", "resnet50", "--device", "t4", "--explain", "layer4.0")
    report = cnncalc.analyze("resnet50", device="t4")
    layers = [row for row in report.rows if row.name.startswith("layer4.0.")]
    assert f"bytes moved = {sum(row.roofline.bytes_moved for row in layers):,} B; roofline time = the layers' sum" in out
