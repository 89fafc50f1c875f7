"""The core commands through click's CliRunner: report, list, show, validate; exit codes; -m cnncalc.

Expected figures are the lecture/torchvision references or arithmetic written out here.
"""

import csv
import io
import json
import os
import subprocess
import sys

import pytest
import yaml

import cnncalc
from cli_runner import invoke, ok

MY_BUILTINS = ("lenet5", "alexnet_cs231n", "zfnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
               "vgg16_bn", "vgg19_bn", "vgg_a_lrn", "vgg_c")


def table_line(output, name):
    """The whitespace-normalised table line that starts with ``name``."""
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return " ".join(cells)
    raise AssertionError(f"no line for {name} in:\n{output}")


# --- report ----------------------------------------------------------------------------------------

def test_report_default_table_and_footer():
    output = ok("report", "alexnet", "--input", "3x227x227")
    # EECS 498: conv1 3x227 -> 64x56, 784 KB, 23 k params, 73 M flop
    assert table_line(output, "conv1") == "conv1 3 x 227 64 11 4 2 64 x 56 784 23 73"
    assert "params 61,100,840" in output
    assert "MACs 716,767,232" in output
    assert "Conventions:" in output
    # pool1 does not tile: (56 - 3)/2 + 1 = 27.5, floored
    assert "(56 - 3 + 2*0)/2 + 1 = 27.5 -> 27" in output


def test_report_spec_default_input_is_224():
    output = ok("report", "alexnet")
    # torchvision's AlexNet at 224: conv1 floor((224 - 11 + 2*2)/4) + 1 = 55; 714,188,480 MACs
    assert table_line(output, "conv1").startswith("conv1 3 x 224 64 11 4 2 64 x 55")
    assert "MACs 714,188,480" in output


def test_report_input_side_batch_and_dtype_in_json():
    data = json.loads(ok("report", "lenet5", "--input", "64", "--batch", "2", "--dtype", "fp16", "-f", "json"))
    assert data["input"] == [1, 64, 64] and data["batch"] == 2 and data["dtype"] == "fp16"
    c1 = data["layers"][0]
    assert c1["name"] == "C1" and c1["out_shape"] == [6, 60, 60]             # 64 - 5 + 1 = 60
    assert c1["memory_bytes"] == 6 * 60 * 60 * 2 * 2                         # batch 2, 2 bytes
    assert c1["params"] == 156


def test_report_json_keys():
    data = json.loads(ok("report", "alexnet", "--input", "227", "--format", "json"))
    assert data["name"] == "AlexNet" and data["input"] == [3, 227, 227]
    conv1 = data["layers"][0]
    assert {k: conv1[k] for k in ("name", "type", "from", "in_shape", "out_shape", "params", "macs", "flops",
                                  "memory_bytes", "receptive_field")} == {
        "name": "conv1", "type": "conv", "from": ["input"], "in_shape": [3, 227, 227], "out_shape": [64, 56, 56],
        "params": 23_296, "macs": 72_855_552, "flops": 72_855_552, "memory_bytes": 802_816,
        "receptive_field": [11, 11]}
    assert data["totals"]["params"] == 61_100_840 and data["totals"]["macs"] == 716_767_232
    assert len({layer["name"] for layer in data["layers"]}) == len(data["layers"])


def test_report_csv():
    rows = list(csv.DictReader(io.StringIO(ok("report", "alexnet", "--input", "3x227x227", "-f", "csv"))))
    conv1 = rows[0]
    assert (conv1["name"], conv1["out_shape"], conv1["params"], conv1["macs"], conv1["memory_bytes"]) == (
        "conv1", "64x56x56", "23296", "72855552", "802816")
    assert rows[1]["name"] == "pool1" and rows[1]["flops"] == str(64 * 27 * 27 * 3 * 3)
    assert sum(int(row["params"]) for row in rows[:-1]) == 61_100_840 == int(rows[-1]["params"])  # then "total"


def test_report_github_and_latex():
    github = ok("report", "alexnet", "--input", "3x227x227", "-f", "github")
    assert github.splitlines()[0].startswith("| Layer")
    cells = [c.strip() for c in next(l for l in github.splitlines() if l.startswith("| conv1")).strip("|").split("|")]
    assert cells == ["conv1", "3 x 227", "64", "11", "4", "2", "64 x 56", "784", "23", "73"]
    latex = ok("report", "alexnet", "--input", "3x227x227", "-f", "latex")
    assert "\\begin{tabular}" in latex and "\\end{tabular}" in latex
    row = " & ".join(["conv1", "3 x 227", "64", "11", "4", "2", "64 x 56", "784", "23", "73"]) + " \\\\"
    assert row in " ".join(latex.split())


def test_report_units_raw_and_auto():
    raw = ok("report", "alexnet", "--input", "3x227x227", "--units", "raw")
    # exact: memory 64*56*56*4 = 802,816 B; params 23,296; flop 72,855,552
    assert table_line(raw, "conv1").endswith("802,816 23,296 72,855,552")
    auto = ok("report", "alexnet", "--input", "3x227x227", "--units", "auto")
    # 802,816 B = 784 KB; 23,296 -> 23.3k; 72,855,552 -> 72.9M (three significant digits)
    assert table_line(auto, "conv1").endswith("784 KB 23.3k 72.9M")


def test_report_depth_folds_resnet50_stages():
    data = json.loads(ok("report", "resnet50", "--depth", "1", "-f", "json"))
    names = [layer["name"] for layer in data["layers"]]
    assert names == ["conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc"]
    layer1 = data["layers"][3]
    # layer1: block 0 = 1x1 64*64 + 3x3 64*64*9 + 1x1 256*64 + downsample 256*64 + BN 2*(64+64+256+256);
    # blocks 1, 2 = 1x1 64*256 + 3x3 64*64*9 + 1x1 256*64 + BN 2*(64+64+256)
    block0 = 64 * 64 + 64 * 64 * 9 + 256 * 64 + 256 * 64 + 2 * (64 + 64 + 256 + 256)
    block = 64 * 256 + 64 * 64 * 9 + 256 * 64 + 2 * (64 + 64 + 256)
    assert layer1["params"] == block0 + 2 * block == 215_808
    assert layer1["out_shape"] == [256, 56, 56]
    assert sum(layer["params"] for layer in data["layers"]) == 25_557_032
    table = ok("report", "resnet50", "--depth", "1")
    assert table_line(table, "layer1").split()[-2] == "216"     # 215,808 -> 216 k


def test_report_explain_prints_the_lecture_arithmetic():
    output = ok("report", "alexnet", "--input", "3x227x227", "--explain", "conv1")
    assert "(227 - 11 + 2*2)/4 + 1 = 56" in output
    assert "64*(3*11*11) + 64 = 23,296" in output
    assert "(64*56*56) * (3*11*11) = 72,855,552" in output
    assert "64*56*56 * 4 B = 802,816 B = 784 KB" in output
    assert "Layer" not in output                                  # the worked arithmetic replaces the table


def test_report_explain_two_layers_and_an_unknown_one():
    output = ok("report", "alexnet", "--input", "227", "--explain", "conv1", "--explain", "pool1")
    assert "(64*27*27) * (3*3) = 419,904" in output and "23,296" in output
    result = invoke("report", "alexnet", "--explain", "conv9")
    assert result.exit_code == 2 and "conv9" in result.stderr


@pytest.mark.parametrize("option", [("--format", "nope"), ("--input", "3xx"), ("--input", "0"),
                                    ("--dtype", "fp8"), ("--batch", "0"), ("--units", "kb")])
def test_report_usage_errors_exit_2(option):
    result = invoke("report", "alexnet", *option)
    assert result.exit_code == 2
    assert "Traceback" not in result.output + result.stderr


def test_report_unknown_spec_exits_1_with_a_suggestion():
    result = invoke("report", "alexnt")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "alexnet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_report_works_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "params 61,100,840" in ok("report", "alexnet", "--input", "3x227x227")
    (tmp_path / "mine.yaml").write_text("input: [3, 32, 32]\nlayers:\n"
                                        "  - {name: conv, type: conv, filters: 10, kernel: 5, pad: 2}\n")
    data = json.loads(ok("report", "mine.yaml", "-f", "json"))
    assert data["layers"][0]["out_shape"] == [10, 32, 32] and data["totals"]["params"] == 760


# --- list, show ------------------------------------------------------------------------------------

def test_list_names():
    names = ok("list", "-f", "names").split()
    assert names == sorted(names)
    assert set(MY_BUILTINS) | {"alexnet", "resnet50"} <= set(names)
    assert names == cnncalc.builtin_models()


def test_list_table():
    output = ok("list")
    assert output.split()[:4] == ["name", "model", "input", "source"]
    assert table_line(output, "lenet5").startswith("lenet5 LeNet-5 1x32x32")
    assert table_line(output, "alexnet_cs231n").startswith("alexnet_cs231n AlexNet (CS231n) 3x227x227")


def test_list_json():
    entries = {entry["name"]: entry for entry in json.loads(ok("list", "--format", "json"))}
    assert entries["lenet5"]["input"] == [1, 32, 32] and entries["lenet5"]["model"] == "LeNet-5"
    assert entries["vgg16"]["input"] == [3, 224, 224]
    assert all(entries[name]["source"] for name in MY_BUILTINS)


@pytest.mark.parametrize("name, params", [("alexnet", 61_100_840), ("vgg16", 138_357_544),
                                          ("lenet5", 156 + 1_516 + 48_120 + 10_164 + 850)])
def test_show_prints_yaml_that_parses_back_to_the_same_model(name, params):
    text = ok("show", name)
    document = yaml.safe_load(text)
    rebuilt, builtin = cnncalc.analyze(document), cnncalc.analyze(name)
    assert rebuilt.totals["params"] == builtin.totals["params"] == params
    assert [(r.name, r.out_shape, r.params, r.macs) for r in rebuilt.rows] == [
        (r.name, r.out_shape, r.params, r.macs) for r in builtin.rows]
    assert text.lstrip().startswith("#")                           # the header citing the source


def test_show_unknown_model():
    result = invoke("show", "vgg17")
    assert result.exit_code == 1 and "vgg1" in result.stderr


# --- validate --------------------------------------------------------------------------------------

GOOD = "input: [3, 32, 32]\nlayers:\n  - {name: c1, type: conv, filters: 8, kernel: 3}\n"
TOO_BIG = ("name: bad\ninput: [3, 32, 32]\nlayers:\n"
           "  - {name: c1, type: conv, filters: 8, kernel: 3}\n"
           "  - {name: c2, type: conv, filters: 8, kernel: 99}\n")
TYPO = "input: [3, 32, 32]\nlayers:\n  - {name: c1, type: conv, filtres: 8, kernel: 3}\n"


def test_validate_good_specs(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = invoke("validate", good, "lenet5", "vgg_c")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    verbose = invoke("validate", "-v", good)
    # 8 filters of 3*3*3 + 8 biases = 224 params
    assert verbose.exit_code == 0 and f"ok: {good}: 1 layer, 224 params" in verbose.stdout


def test_validate_bad_specs_name_file_line_and_layer(tmp_path):
    good, too_big, typo = tmp_path / "good.yaml", tmp_path / "too_big.yaml", tmp_path / "typo.yaml"
    good.write_text(GOOD)
    too_big.write_text(TOO_BIG)
    typo.write_text(TYPO)
    result = invoke("validate", good, too_big, typo)
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    # c2 is on line 5: a 99 kernel on c1's 30x30 output (32 - 3 + 1)
    assert errors[0].startswith(f"error: {too_big}:5: c2: ") and "99" in errors[0] and "30" in errors[0]
    assert errors[1].startswith(f"error: {typo}:3: c1: ") and "filtres" in errors[1] and "filters" in errors[1]


def test_validate_yaml_syntax_error_and_missing_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("input: [3, 32, 32\nlayers: []\n")
    missing = tmp_path / "missing.yaml"
    result = invoke("validate", broken, missing)
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"error: {broken}:") and "YAML" in errors[0]
    assert errors[1].startswith(f"error: {missing}") and "no such file" in errors[1]


def test_validate_bad_input_is_a_usage_error(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert invoke("validate", good, "--input", "axb").exit_code == 2
    assert invoke("validate").exit_code == 2                       # SPEC... is required


# --- the program itself ----------------------------------------------------------------------------

def test_python_dash_m_cnncalc_help(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cnncalc", "--help"], capture_output=True, text=True,
                          cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    for command in ("report", "list", "show", "validate"):
        assert command in done.stdout


def test_version():
    assert ok("--version").strip().endswith(cnncalc.__version__)
