"""A newcomer's first minute (issue 14): what people type, and what they should get.

Reference values are the lecture's arithmetic written out here, never copied from the program's output.
"""

import json

import pytest

from cli_runner import invoke, ok, runner
from cnncalc.cli import main

# AlexNet (torchvision layout) at 3x224x224: conv1 64*(3*11*11) + 64 ... fc8 4096*1000 + 1000
ALEXNET_PARAMS = (64 * 3 * 121 + 64) + (192 * 64 * 25 + 192) + (384 * 192 * 9 + 384) + (256 * 384 * 9 + 256) \
    + (256 * 256 * 9 + 256) + (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
# MACs at 224: conv1 64*55*55*363, conv2 192*27*27*1600, conv3 384*13*13*1728, conv4 256*13*13*3456,
# conv5 256*13*13*2304, fc 9216*4096 + 4096*4096 + 4096*1000
ALEXNET_224_MACS = 64 * 55 * 55 * 363 + 192 * 27 * 27 * 1600 + 384 * 13 * 13 * 1728 + 256 * 13 * 13 * 3456 \
    + 256 * 13 * 13 * 2304 + 9216 * 4096 + 4096 * 4096 + 4096 * 1000


def data_of(*args, **kwargs):
    result = runner().invoke(main, [str(a) for a in args] + ["-f", "json"], **kwargs)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return json.loads(result.stdout), result.stderr


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
    assert valid.exit_code == 0 and "ok: -: 7 layers" in valid.stdout
    broken = runner().invoke(main, ["report", "-"], input="input: [3, 8, 8]\nlayers: []\n")
    assert broken.exit_code == 1 and broken.stderr.startswith("error: <stdin>:")


def test_a_misspelled_command_gets_a_suggestion():
    result = invoke("reprot", "alexnet")
    assert result.exit_code == 2 and "No such command 'reprot'. Did you mean 'report'?" in result.stderr


def test_show_completes_builtin_names():
    from click.shell_completion import ShellComplete

    completion = ShellComplete(main, {}, "cnncalc", "_CNNCALC_COMPLETE")
    names = [item.value for item in completion.get_completions(["show"], "res")]
    assert "resnet50" in names and all(name.startswith("res") for name in names)


# --- --explain a block, train_only ----------------------------------------------------------------------

def test_explain_a_block_sums_its_layers_then_explains_each():
    out = ok("report", "resnet18", "--explain", "layer1.0")
    head = out.split("\n\n")[0].splitlines()
    assert head[0].startswith("layer1.0: a block of 5 layers (layer1.0.conv1 ... layer1.0.add)")
    # two 3x3 convs 64 -> 64 without bias, two batch norms of 2*64
    conv, bn = 64 * 64 * 9, 2 * 64
    assert head[1] == f"params = {conv:,} + {bn} + {conv:,} + {bn} = {2 * conv + 2 * bn:,}"
    macs = 64 * 56 * 56 * 64 * 9
    assert head[2] == f"MACs = {macs:,} + {macs:,} = {2 * macs:,}"
    for name in ("layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2", "layer1.0.bn2", "layer1.0.add"):
        assert f"\n\n{name} (" in out


def test_explain_suggests_by_prefix_first():
    result = invoke("report", "resnet18", "--explain", "layer1.0.con")
    assert result.exit_code == 2  # a name on the command line (docs/commands.md, exit codes)
    assert "did you mean 'layer1.0.conv1', 'layer1.0.conv2'?" in result.stderr
    assert "did you mean 'layer1'?" in invoke("report", "resnet18", "--explain", "layr1").stderr


def test_explain_of_a_train_only_layer_agrees_with_the_table():
    # GoogLeNet's aux1 1x1 conv: 128 filters on 512x4x4, MACs 128*4*4*512 = 1,048,576, memory 128*4*4*4 B
    macs, memory = 128 * 4 * 4 * 512, 128 * 4 * 4 * 4
    out = ok("report", "googlenet_aux", "--explain", "aux1.conv.conv")
    assert out.splitlines()[-1] == (f"runs only in training: in eval mode the table and totals count its MACs, "
                                    f"flop and memory as 0 (--mode train counts MACs {macs:,}, flop {macs:,}, "
                                    f"memory {memory:,} B)")
    data, _ = data_of("report", "googlenet_aux")
    row = next(layer for layer in data["layers"] if layer["name"] == "aux1.conv.conv")
    assert (row["macs"], row["memory_bytes"]) == (0, 0)
    train = ok("report", "googlenet_aux", "--explain", "aux1.conv.conv", "--mode", "train")
    assert "runs only in training" not in train and f"= {macs:,}" in train


# --- output: units, shares, CSV total, repr -------------------------------------------------------------

def table_cells(out):
    lines = out.splitlines()
    return lines[:2], {line.split()[0]: line.split() for line in lines[3:] if line and not line.startswith(" ")}


def test_small_nets_get_units_that_read():
    head, rows = table_cells(ok("report", "lenet5"))
    # LeNet-5's 60,806 params would be "61" k with every layer 0: exact counts; its 332,824 lecture flop
    # read as 333 k; its 32,376 B of activations in bytes
    assert head[1].split()[-2:] == ["(B)", "(k)"] and head[0].split()[-3:] == ["memory", "params", "flop"]
    # C1: 6*28*28*4 B = 18,816 B; params 6*(1*5*5) + 6 = 156; flop 6*28*28*25 = 117,600 = 118 k
    assert rows["C1"][-3:] == [f"{6 * 28 * 28 * 4:,}", "156", "118"]
    # C3 uses the paper's connection table: 60 links of 5x5 + 16 biases = 1,516
    assert rows["C3"][-2] == f"{60 * 25 + 16:,}"
    assert rows["total"][-2] == f"{156 + 1516 + 48120 + 10164 + 850:,}"


def test_lecture_nets_keep_the_slide_units():
    head, rows = table_cells(ok("report", "vgg16"))
    assert head[1].split()[-3:] == ["(KB)", "(k)", "(M)"]
    # VGG-16 conv1_1: 64*224*224*4 B = 12,544 KB, 64*27 + 64 = 1,792 params = 2 k, 64*224*224*27 = 86.7 M flop
    first = next(cells for name, cells in rows.items() if name != "total")
    assert first[-3:] == ["12,544", "2", "87"]


def test_share_columns_in_percent():
    _, rows = table_cells(ok("report", "alexnet", "--input", "227", "--columns", "params%,macs%"))
    # fc6 holds 37,752,832 of 61,100,840 params = 61.79%; conv1 72,855,552 of 716,767,232 MACs = 10.16%
    assert rows["fc6"][1] == "61.8" and rows["conv1"][2] == "10.2"
    assert rows["total"][1:] == ["100.0", "100.0"]


def test_csv_ends_with_a_total_row():
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(ok("report", "alexnet", "--input", "227", "-f", "csv"))))
    total = rows[-1]
    assert total["name"] == "total" and total["type"] == "" and total["out_shape"] == ""
    assert int(total["params"]) == ALEXNET_PARAMS
    # the lecture table's memory column summed: 2,432,160 B (see test_compare.ALEXNET_227_MEMORY)
    assert int(total["memory_bytes"]) == 4 * (64 * 56 * 56 + 64 * 27 * 27 + 192 * 27 * 27 + 192 * 13 * 13
                                              + 384 * 13 * 13 + 2 * 256 * 13 * 13 + 2 * 256 * 6 * 6 + 9216
                                              + 4096 + 4096 + 1000)
    assert int(total["params"]) == sum(int(row["params"]) for row in rows[:-1])


def test_readable_repr_of_rows_and_reports():
    import cnncalc

    report = cnncalc.analyze("alexnet", input=227)
    assert repr(report.rows[0]) == ("<Row conv1 (conv): 3x227x227 -> 64x56x56, 23,296 params, 72,855,552 MACs, "
                                    "802,816 B>")
    assert repr(report).startswith("<Report AlexNet 3x227x227: 13 layers, 61,100,840 params, 716,767,232 MACs")


# --- peak live memory, frozen params --------------------------------------------------------------------

def test_peak_live_memory_of_a_chain_is_the_largest_neighbouring_pair():
    data, _ = data_of("report", "alexnet", "--input", "227")
    # a chain holds a layer's input and output at once: largest at pool1, conv1 64x56x56 + pool1 64x27x27
    assert data["totals"]["peak_memory_bytes"] == 4 * (64 * 56 * 56 + 64 * 27 * 27) == 989_440
    out = ok("report", "alexnet", "--input", "227")
    assert "peak live 989,440 B (966 KB)" in out
    assert "peak = most memory live at once in inference" in " ".join(out.split())
    compared, _ = data_of("compare", "alexnet@227", "--columns", "peak_memory")
    assert compared["models"][0]["totals"] == {"peak_memory_bytes": 989_440}


RESIDUAL = """input: [1, 4, 4]
layers:
  - {name: a, type: conv, filters: 2, kernel: 1}
  - {name: b, type: conv, filters: 2, kernel: 1}
  - {name: sum, type: add, from: [a, b]}
  - {name: out, type: relu}
"""


def test_peak_keeps_a_shortcut_alive_until_its_last_consumer():
    result = runner().invoke(main, ["report", "-", "-f", "json"], input=RESIDUAL)
    totals = json.loads(result.stdout)["totals"]
    each = 2 * 4 * 4 * 4  # every output is 2x4x4 fp32 = 128 B
    # at `sum`, a (kept for the shortcut), b and sum are live: 3 x 128; at `out` only sum and out
    assert totals["peak_memory_bytes"] == 3 * each and totals["memory_bytes"] == 4 * each


FROZEN = """input: [3, 8, 8]
blocks:
  stem:
    layers:
      - {name: conv, type: conv, filters: 4, kernel: 3}
      - {name: bn, type: bn}
layers:
  - {name: backbone, type: stem, frozen: true}
  - {name: flat, type: flatten}
  - {name: head, type: fc, units: 10}
"""


def test_frozen_block_params_are_counted_apart():
    # backbone: conv 4*(3*3*3) + 4 = 112, bn 2*4 = 8 -> 120 frozen; head: (4*6*6)*10 + 10 = 1,450 trainable
    frozen, trainable = 4 * 27 + 4 + 2 * 4, 4 * 6 * 6 * 10 + 10
    result = runner().invoke(main, ["report", "-", "-f", "json", "--training", "--optimizer", "adam"], input=FROZEN)
    data = json.loads(result.stdout)
    totals = data["totals"]
    assert (totals["frozen_params"], totals["trainable_params"], totals["params"]) == (
        frozen, trainable, frozen + trainable)
    assert [layer.get("frozen", False) for layer in data["layers"]] == [True, True, False, False]
    # gradients and Adam's two states only for the trainable params
    assert data["training"]["gradient_bytes"] == 4 * trainable
    assert data["training"]["optimizer_bytes"] == 2 * 4 * trainable
    table = runner().invoke(main, ["report", "-"], input=FROZEN).stdout
    assert f"params {frozen + trainable:,} (1.57k; trainable {trainable:,}, frozen {frozen}) + buffers 8" in table
    bad = runner().invoke(main, ["report", "-"], input=FROZEN.replace("frozen: true", "frozen: 3"))
    assert bad.exit_code == 1 and "'frozen' must be true or false" in bad.stderr


# --- faults: `layer` for every type, lists derived from the rule table ---------------------------------

def test_every_type_layer_lists_works_or_says_what_it_needs():
    from cnncalc.rules import REQUIRED, RULES

    for name, rule in RULES.items():
        if rule.inputs != 1:
            continue
        result = invoke("layer", name, "--input", "64x56x56")
        required = [key for key, (_, default) in rule.keys.items() if default is REQUIRED]
        if required:
            flags = " and ".join("--" + key.replace("_", "-") for key in required)
            assert (result.exit_code, result.stderr) == (2, f"error: {name} needs {flags}\n"), name
        elif result.exit_code:  # a rule that needs one of several keys (crop: size or like) says which
            assert result.exit_code == 1 and result.stderr.startswith(f"error: {name}: {name} needs "), (
                name, result.stderr, result.exception)
        assert name in invoke("layer", "--help").stdout


def test_layer_chunk_no_longer_a_traceback():
    result = invoke("layer", "chunk", "--input", "64x56x56")
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    # ShuffleNet v2's channel split: 64 channels in 2 chunks of 32
    out = ok("layer", "chunk", "--input", "64x56x56", "--chunks", "2", "--index", "1")
    assert "output shape     32x56x56" in out
    # numbers and flags of other types reach their rules: lrn size, prelu one slope per channel
    assert "params           64" in ok("layer", "prelu", "--input", "64x56x56", "--no-shared")


def test_a_new_rule_appears_in_layer_plot_and_graph_at_once():
    import importlib

    from cnncalc import analyze, rules
    from cnncalc.commands import layer as layer_command
    from cnncalc.render.diagram import layer_caption
    from cnncalc.render.plot import layer_kind

    saved = dict(rules.RULES)
    try:
        @rules.rule("blurpool", keys={"kernel": (rules.check_size, rules.REQUIRED)}, category="pool")
        def blurpool(layer, shape):
            """A test-only pool: halves the map."""
            channels, h, w = shape
            cost = rules.Cost((channels, h // 2, w // 2), window=((2, 2, 1), (2, 2, 1)))
            cost.kernel, cost.stride = rules.per_axis(layer, "kernel", layer.p["kernel"], shape), (2, 2)
            return cost

        importlib.reload(layer_command)  # its options are made from the rule table when it is imported
        assert "blurpool" in invoke("layer", "--help").stdout
        assert "output shape     8x4x4" in ok("layer", "blurpool", "--input", "8x8x8", "--kernel", "2")
        row = analyze({"input": [8, 8, 8], "layers": [{"name": "b", "type": "blurpool", "kernel": 2}]}).rows[0]
        assert layer_kind(row) == "pool" and layer_caption(row) == "blurpool 2x2 /2"
        spec = "input: [8, 8, 8]\nlayers:\n  - {name: b, type: blurpool, kernel: 2}\n"
        dot = runner().invoke(main, ["graph", "-"], input=spec)
        assert '"b\\nblurpool 2x2 /2"' in dot.stdout, dot.stdout
    finally:
        rules.RULES.clear()
        rules.RULES.update(saved)
        importlib.reload(layer_command)
