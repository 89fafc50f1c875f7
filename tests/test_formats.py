"""Output options of `report`: every format, --columns, --units, --flops-convention, --training.

Expected figures: the EECS 498-007 lecture 8 AlexNet table at 3x227x227 and torchvision totals, with
the arithmetic written out.
"""

import csv
import io
import json
import re

import pytest
import tabulate

import cnncalc
from cli_runner import invoke, ok
from reference import ALEXNET_227_FLOPS_2X, ALEXNET_227_MEMORY, ALEXNET_PARAMS

# lecture conv1: 64*56*56*4 B = 802,816 B = 784 KB; 64*(3*11*11) + 64 = 23,296 params;
# (64*56*56)*(3*11*11) = 72,855,552 MACs; pool1: (64*27*27)*(3*3) = 419,904 flop
CONV1 = {"out_shape": "64x56x56", "params": 64 * 3 * 11 * 11 + 64, "macs": 64 * 56 * 56 * 3 * 11 * 11,
         "memory_bytes": 64 * 56 * 56 * 4}
POOL1_FLOPS = 64 * 27 * 27 * 3 * 3


def report(*args):
    return ok("report", "alexnet", "--input", "3x227x227", *args)


@pytest.mark.parametrize("fmt", tabulate.tabulate_formats)
def test_every_tabulate_format(fmt):
    out = report("--format", fmt)
    # the lecture's conv1 row, each figure a whole cell: 3 x 227 in, 64 11x11/4 filters pad 2, 64 x 56 out,
    # 784 KB, 23 k params, 73 M flop; fc6's 37,753 k params; the total row's 61,101 k params
    for cells in (("conv1", "3 x 227", "64", "11", "4", "2", "64 x 56", "784", "23", "73"),
                  ("fc6", "9216", "4096", "4096", "16", "37,753", "38"), ("total", "2,375", "61,101", "718")):
        line = next(line for line in out.splitlines() if re.search(rf"(?<![\w.]){cells[0]}(?![\w.])", line))
        found = re.findall(r"[\w.,]+(?: x \d+)?", line)
        assert [cell for cell in found if cell in cells] == list(cells), (fmt, line)


def test_csv_rows_are_exact_integers():
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(report("--format", "csv")))}
    for key, value in CONV1.items():
        assert rows["conv1"][key] == str(value), key
    assert int(rows["pool1"]["flops"]) == POOL1_FLOPS
    total = rows.pop("total")  # the last line holds the totals
    for key, value in (("params", ALEXNET_PARAMS), ("memory_bytes", ALEXNET_227_MEMORY)):
        assert sum(int(r[key]) for r in rows.values()) == value == int(total[key])


def test_json_numbers_are_exact_integers():
    data = json.loads(report("--format", "json"))
    conv1 = data["layers"][0]
    assert conv1["out_shape"] == [64, 56, 56] and conv1["params"] == CONV1["params"]
    assert conv1["macs"] == CONV1["macs"] and conv1["memory_bytes"] == CONV1["memory_bytes"]
    assert data["totals"]["params"] == ALEXNET_PARAMS
    assert data["totals"]["memory_bytes"] == ALEXNET_227_MEMORY
    for layer in data["layers"]:
        for key in ("params", "macs", "flops", "flops_2x", "memory_bytes"):
            assert type(layer[key]) is int


def test_columns_choose_table_columns_name_first():
    out = report("--columns", "output,params,macs", "--units", "raw")
    header = out.splitlines()[0].split()
    assert header[:4] == ["Layer", "output", "params", "MACs"]
    conv1 = next(line for line in out.splitlines() if line.startswith("conv1")).split()
    assert conv1 == ["conv1", "64", "x", "56", "23,296", "72,855,552"]
    assert "filters" not in out.splitlines()[0]


def test_columns_take_csv_and_json_names_too():
    out = report("--format", "csv", "--columns", "output,memory,flop")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["name", "out_shape", "memory_bytes", "flops"]
    assert rows[1] == {"name": "pool1", "out_shape": "64x27x27", "memory_bytes": str(64 * 27 * 27 * 4),
                       "flops": str(POOL1_FLOPS)}
    data = json.loads(report("--format", "json", "--columns", "out_shape,receptive_field"))
    # receptive field of conv1: 11; pool1: 11 + (3-1)*4 = 19
    assert data["layers"][:2] == [{"name": "conv1", "out_shape": [64, 56, 56], "receptive_field": [11, 11]},
                                  {"name": "pool1", "out_shape": [64, 27, 27], "receptive_field": [19, 19]}]
    table = report("--columns", "rf")
    assert next(line for line in table.splitlines() if line.startswith("pool1")).split() == ["pool1", "19"]


def test_unknown_column_is_a_usage_error():
    result = invoke("report", "alexnet", "--columns", "output,parms")
    assert result.exit_code == 2
    assert "unknown column 'parms'; did you mean 'params'?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_units():
    raw = report("--units", "raw")
    assert "802,816" in next(line for line in raw.splitlines() if line.startswith("conv1"))
    auto = report("--units", "auto")
    total = next(line for line in auto.splitlines() if line.startswith("total")).split()
    assert total[-2] == "61.1M"  # 61,100,840 params, 3 significant digits
    slide = report()
    conv1 = next(line for line in slide.splitlines() if line.startswith("conv1")).split()
    assert conv1[-3:] == ["784", "23", "73"]  # the lecture row: 784 KB, 23 k params, 73 M flop


def test_flops_convention_2x_is_labelled():
    out = report("--flops-convention", "2x", "--units", "raw")
    header = out.splitlines()[0]
    assert "FLOPs 2x" in header and "flop" not in header.replace("FLOPs", "")
    conv1 = next(line for line in out.splitlines() if line.startswith("conv1")).split()
    # conv1: 2 x 72,855,552 MACs + bias 200,704 + relu 200,704 (one op per output element each)
    assert conv1[-1] == f"{2 * CONV1['macs'] + 2 * 64 * 56 * 56:,}"
    assert f"FLOPs (2 x MACs + elementwise) {ALEXNET_227_FLOPS_2X:,}" in out
    assert "FLOPs 2x = 2 x MACs + elementwise work" in out
    lecture = report("--units", "raw")
    assert "flop" in lecture.splitlines()[0] and "FLOPs 2x" not in lecture.splitlines()[0]


def test_training_estimate_line_and_json():
    param_bytes = 4 * ALEXNET_PARAMS  # 244,403,360
    out = report("--training", "--optimizer", "adam")
    expected_total = ALEXNET_227_MEMORY + 4 * param_bytes  # params + gradients + 2 Adam states
    assert (f"training estimate (adam): activations {ALEXNET_227_MEMORY:,} + params {param_bytes:,} + gradients "
            f"{param_bytes:,} + optimizer state 2 x {param_bytes:,} = {expected_total:,} B") in out
    data = json.loads(report("--format", "json", "--training", "--optimizer", "momentum"))
    assert data["training"] == {"optimizer": "momentum", "activation_bytes": ALEXNET_227_MEMORY,
                                "param_bytes": param_bytes, "gradient_bytes": param_bytes,
                                "optimizer_bytes": param_bytes, "buffer_bytes": 0,
                                "total_bytes": ALEXNET_227_MEMORY + 3 * param_bytes}
    assert "training" not in json.loads(report("--format", "json"))


def test_training_counts_bn_buffers():
    # torchvision ResNet-50: 25,557,032 params and 53,120 BN running-statistics elements
    training = cnncalc.analyze("resnet50").training_memory("sgd")
    assert training["param_bytes"] == 4 * 25_557_032
    assert training["buffer_bytes"] == 4 * 53_120
    assert training["total_bytes"] == training["activation_bytes"] + 2 * 4 * 25_557_032 + 4 * 53_120


def test_parameter_memory_in_summary():
    out = report()
    assert f"parameter memory {4 * ALEXNET_PARAMS:,} B (233 MB)" in out  # 244,403,360 / 1024^2 = 233.08


def test_a_count_too_small_to_round_is_written_once(write):
    # two 3x3 convs, 3 -> 2 -> 2 channels on 8x8: params 2*27 + 2 = 56 and 2*18 + 2 = 38; outputs 2x6x6 and
    # 2x4x4 in fp32: 288 B and 128 B; MACs 2*6*6*27 + 2*4*4*18 = 1,944 + 576
    spec = write("input: [3, 8, 8]\nlayers:\n  - {name: c1, type: conv, filters: 2, kernel: 3, frozen: true}\n"
                 "  - {name: c2, type: conv, filters: 2, kernel: 3}\n")
    out = ok("report", spec)
    assert "\nparams 94 (trainable 38, frozen 56)\n" in out
    assert "\nMACs 2,520 (2.52k); " in out
    assert "\nactivation memory 416 B, peak live 416 B; parameter memory 376 B\n" in out
    assert "\nparams 61,100,840 (61.1M)\n" in report()


def test_report_renders_in_jupyter():
    html = cnncalc.analyze("alexnet")._repr_html_()
    assert html.startswith("<table") and "conv1" in html


def test_bad_optimizer_through_the_api():
    with pytest.raises(cnncalc.CnnCalcError, match="did you mean 'adam'"):
        cnncalc.analyze("alexnet").training_memory("adma")


# --- units that read, share columns, the CSV total, repr ---------------------------------------------


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
    # the lecture table's memory column summed: 2,432,160 B (see reference.ALEXNET_227_MEMORY)
    assert int(total["memory_bytes"]) == ALEXNET_227_MEMORY
    assert int(total["params"]) == sum(int(row["params"]) for row in rows[:-1])


def test_readable_repr_of_rows_and_reports():
    import cnncalc

    report = cnncalc.analyze("alexnet", input=227)
    assert repr(report.rows[0]) == ("<Row conv1 (conv): 3x227x227 -> 64x56x56, 23,296 params, 72,855,552 MACs, "
                                    "802,816 B>")
    assert repr(report).startswith("<Report AlexNet 3x227x227: 13 layers, 61,100,840 params, 716,767,232 MACs")
