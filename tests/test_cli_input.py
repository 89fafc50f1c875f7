"""The SPEC argument and --input: what people type, and what they should get.

Reference values are the lecture's arithmetic written out here, never copied from the program's output.
"""

import json

import pytest

from cli_runner import data_of, invoke, ok, runner
from cnncalc.cli import main

# AlexNet (torchvision layout) at 3x224x224: conv1 64*(3*11*11) + 64 ... fc8 4096*1000 + 1000
ALEXNET_PARAMS = (64 * 3 * 121 + 64) + (192 * 64 * 25 + 192) + (384 * 192 * 9 + 384) + (256 * 384 * 9 + 256) \
    + (256 * 256 * 9 + 256) + (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
# MACs at 224: conv1 64*55*55*363, conv2 192*27*27*1600, conv3 384*13*13*1728, conv4 256*13*13*3456,
# conv5 256*13*13*2304, fc 9216*4096 + 4096*4096 + 4096*1000
ALEXNET_224_MACS = 64 * 55 * 55 * 363 + 192 * 27 * 27 * 1600 + 384 * 13 * 13 * 1728 + 256 * 13 * 13 * 3456 \
    + 256 * 13 * 13 * 2304 + 9216 * 4096 + 4096 * 4096 + 4096 * 1000


# --- input and invocation ---------------------------------------------------------------------------

def test_a_missing_yaml_file_named_like_a_builtin_is_the_builtin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data, err = data_of("report", "alexnet.yaml")
    assert data["totals"]["params"] == ALEXNET_PARAMS == 61_100_840
    assert "note: no file 'alexnet.yaml' here; using the built-in model 'alexnet'" in err
    compared = runner().invoke(main, ["compare", "alexnet.yaml", "vgg16.yml", "-f", "json"])
    assert compared.exit_code == 0 and compared.stderr.count("note: no file") == 2
    shown = invoke("show", "lenet5.yaml")
    assert shown.exit_code == 0 and "LeNet-5" in shown.stdout and "built-in model 'lenet5'" in shown.stderr


def test_an_existing_file_wins_over_the_builtin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alexnet.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - {name: c, type: conv, filters: 2, "
                                           "kernel: 3}\n")
    data, err = data_of("report", "alexnet.yaml")
    assert data["totals"]["params"] == 2 * 3 * 9 + 2 and err == ""
    missing = invoke("report", "nosuch.yaml")
    assert missing.exit_code == 1 and "no such file" in missing.stderr


@pytest.mark.parametrize("written, batch, reading", [
    ("224x224x3", 1, "H x W x C = 3x224x224"),
    ("3x224x224", 1, None),
    ("1x3x224x224", 1, "N x C x H x W: batch 1, input 3x224x224"),
    ("8x3x224x224", 8, "N x C x H x W: batch 8, input 3x224x224"),
    ("8x224x224x3", 8, "N x H x W x C: batch 8, input 3x224x224"),
])
def test_input_read_as_the_user_meant_it(written, batch, reading):
    data, err = data_of("report", "alexnet", "--input", written)
    assert data["input"] == [3, 224, 224] and data["batch"] == batch
    assert data["totals"]["macs"] == ALEXNET_224_MACS == 714_188_480
    # memory scales with the batch: conv1 alone is 64*55*55 elements x 4 B per image
    assert data["layers"][0]["memory_bytes"] == batch * 64 * 55 * 55 * 4
    if reading:
        assert err == f"note: --input {written} read as {reading}" + (
            " (the last size is the spec's 3 channels)\n" if reading.startswith("H") else "\n")
    else:
        assert err == ""


def test_input_with_a_batch_and_a_different_batch_option_is_a_usage_error():
    result = invoke("report", "alexnet", "--input", "2x3x224x224", "--batch", "4")
    assert result.exit_code == 2 and "gives batch 2, but --batch is 4" in result.stderr
    data, _ = data_of("report", "alexnet", "--input", "2x3x224x224", "--batch", "2")
    assert data["batch"] == 2


def test_input_hwc_on_compare_and_channels_first_kept_when_ambiguous():
    data, err = data_of("compare", "alexnet", "--input", "227x227x3", "-c", "input,macs")
    assert data["models"][0]["input"] == [3, 227, 227] and "read as H x W x C" in err
    # 3x3x3 on a 3-channel net: the first size is the channels too, so C x H x W
    data, err = data_of("report", "alexnet", "--input", "3x227x227")
    assert data["input"] == [3, 227, 227] and err == ""


def test_dash_reads_the_spec_from_standard_input():
    text = ok("show", "lenet5")
    for command in ("report", "compare"):
        result = runner().invoke(main, [command, "-", "-f", "json"], input=text)
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        totals = data["totals"] if command == "report" else data["models"][0]["totals"]
        # LeNet-5: C1 6*25+6, C3 1,516 (the paper's connection table), C5 120*400+120, F6 84*120+84, out 84*10+10
        assert totals["params"] == 156 + 1516 + 48120 + 10164 + 850
    valid = runner().invoke(main, ["validate", "-", "-v"], input=text)
    assert valid.exit_code == 0 and "ok: <stdin>: 7 layers" in valid.stdout  # as its errors say <stdin>
    broken = runner().invoke(main, ["report", "-"], input="input: [3, 8, 8]\nlayers: []\n")
    assert broken.exit_code == 1 and broken.stderr.startswith("error: <stdin>:")


def test_an_onnx_model_on_standard_input_says_to_give_its_path():
    # the start of a protobuf: ir_version 8, then the producer's name
    result = runner().invoke(main, ["report", "-"], input=b"\x08\x08\x12\x07pytorch\x00\x00")
    assert result.exit_code == 1
    assert result.stderr == ("error: <stdin>: not a text file (binary data); an ONNX model is read from its file "
                             "(cnncalc report model.onnx), not from standard input\n")


def test_a_misspelled_command_gets_a_suggestion():
    result = invoke("reprot", "alexnet")
    assert result.exit_code == 2 and "No such command 'reprot'. Did you mean 'report'?" in result.stderr


def test_show_completes_builtin_names():
    from click.shell_completion import ShellComplete

    completion = ShellComplete(main, {}, "cnncalc", "_CNNCALC_COMPLETE")
    names = [item.value for item in completion.get_completions(["show"], "res")]
    assert "resnet50" in names and all(name.startswith("res") for name in names)
