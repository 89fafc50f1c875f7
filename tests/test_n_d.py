"""1-D (C x L) and 3-D (C x D x H x W) networks through the CLI: the table, JSON, --input, --explain, errors."""

import json

from cli_runner import invoke, ok

AUDIO = """name: M5-ish
input: [1, 8000]
layers:
  - {name: conv1, type: conv, filters: 128, kernel: 80, stride: 4}
  - {name: bn1, type: bn, act: relu}
  - {name: pool1, type: maxpool, kernel: 4}
  - {name: gap, type: globalavgpool}
  - {name: fc, type: fc, units: 35}
"""

VIDEO = """name: C3D stem
input: [3, 16, 112, 112]
layers:
  - {name: conv1a, type: conv, filters: 64, kernel: 3, pad: 1, act: relu}
  - {name: pool1, type: maxpool, kernel: [1, 2, 2]}
"""


def test_1d_table_and_json(write):
    path = write(AUDIO)
    table = ok("report", path)
    lines = table.splitlines()
    assert "C x L" in lines[1]
    conv1 = next(line for line in lines if line.startswith("conv1"))
    # Conv1d(1, 128, 80, stride=4) on 1 x 8000: (8000 - 80)/4 + 1 = 1981; 128*80 + 128 = 10,368 params
    assert conv1.split()[:5] == ["conv1", "1", "x", "8000", "128"] and "128 x 1981" in conv1
    data = json.loads(ok("report", path, "--format", "json"))
    layer = data["layers"][0]
    assert layer["out_shape"] == [128, 1981] and layer["params"] == 10_368
    assert layer["receptive_field"] == [80] and layer["kernel"] == [80]
    assert data["layers"][3]["out_shape"] == [128, 1]
    assert json.loads(ok("report", path, "--input", "16000", "--format", "json"))["input"] == [1, 16000]


def test_1d_explain_names_the_axis(write):
    out = ok("report", write(AUDIO), "--explain", "conv1")
    assert "output L = (8000 - 80 + 2*0)/4 + 1 = 1981" in out
    assert "params = Cout*(Cin*Kl) + Cout = 128*(1*80) + 128 = 10,368" in out


def test_3d_table_and_json(write):
    path = write(VIDEO)
    lines = ok("report", path).splitlines()
    assert "C x D x H x W" in lines[1]
    conv = next(line for line in lines if line.startswith("conv1a"))
    assert "3 x 16 x 112 x 112" in conv and "64 x 16 x 112 x 112" in conv
    pool = next(line for line in lines if line.startswith("pool1"))
    assert "1x2x2" in pool and "64 x 16 x 56 x 56" in pool
    layer = json.loads(ok("report", path, "--format", "json"))["layers"][0]
    assert layer["params"] == 5_248 and layer["macs"] == 64 * 16 * 112 * 112 * 3 * 27
    assert layer["receptive_field"] == [3, 3, 3]
    explain = ok("report", path, "--explain", "conv1a")
    assert "output D/H/W" not in explain and "output D = (16 - 3 + 2*1)/1 + 1 = 16" in explain


def test_a_2d_kernel_on_a_1d_input_is_one_line(write):
    path = write("input: [1, 8000]\nlayers:\n  - {name: c, type: conv, filters: 4, kernel: [3, 3]}\n")
    result = invoke("report", path)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {path}:3: c: kernel [3, 3] has 2 entries, but the input 1 x 8000 is 1-D (L): give one number or 1"]


def test_pixelshuffle_on_3d_by_axis_and_an_unknown_like_are_one_line(write):
    # on a clip one factor per axis (or one for all): [1, 2, 2] keeps the frames, 64 / (1*2*2) = 16 channels
    path = write(VIDEO + "  - {name: ps, type: pixelshuffle, factor: [1, 2, 2]}\n")
    assert json.loads(ok("report", path, "--format", "json"))["layers"][-1]["out_shape"] == [16, 16, 112, 112]
    path = write(VIDEO + "  - {name: ps, type: pixelshuffle, factor: [2, 2]}\n", "two.yaml")
    result = invoke("report", path)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: {path}:6: ps: factor [2, 2] has 2 entries, but the input 64 x 16 x 56 "
                                     f"x 56 is 3-D (D, H, W): give one number or 3")
    path = write(VIDEO + "  - {name: up, type: upsample, like: pool}\n", "like.yaml")
    result = invoke("report", path)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {path}:6: up: 'like' names an unknown layer 'pool'; did you mean 'pool1'?"


def test_input_override_of_the_wrong_rank_is_a_usage_error(write):
    result = invoke("report", write(AUDIO), "--input", "2x3x4x5")
    assert result.exit_code == 2 and "this network takes a 1-D input (1x8000)" in result.stderr


def test_the_checker_grades_a_1d_receptive_field(write):
    answers = write("spec: {input: [1, 8000], layers: [{name: c, type: conv, filters: 4, kernel: 80, "
                              "stride: 4}]}\nanswers:\n  - {layer: c, receptive_field: 80, output_shape: 4x1981}\n",
                    "answers.yaml")
    data = json.loads(ok("check", answers, "--format", "json"))
    assert data["correct"] == data["total"] == 2
