"""The paper's GoogLeNet (built-in ``googlenet_paper``) against Szegedy et al. 2014, Table 1, and the lecture stem.

The stem (conv1 to pool2) is the part the CS231n / EECS 498-007 slides tabulate: "124k params".
"""

import pytest

import cnncalc

STEM_END = "pool2"


@pytest.fixture(scope="module")
def report():
    return cnncalc.analyze("googlenet_paper")


def _stem_rows(report):
    rows = []
    for row in report.rows:
        rows.append(row)
        if row.name == STEM_END:
            return rows
    raise AssertionError(f"no {STEM_END} row")


def test_stem_params_are_the_lectures_124k(report):
    conv1 = 7 * 7 * 3 * 64 + 64            # 9,472
    conv2_reduce = 1 * 1 * 64 * 64 + 64    # 4,160
    conv2 = 3 * 3 * 64 * 192 + 192         # 110,784
    assert conv1 + conv2_reduce + conv2 == 124_416
    assert sum(row.params for row in _stem_rows(report)) == conv1 + conv2_reduce + conv2
    assert [report.row(n).params for n in ("conv1", "conv2_reduce", "conv2")] == [conv1, conv2_reduce, conv2]


def test_stem_conv1_macs_and_memory(report):
    row = report.row("conv1")
    assert row.macs == (64 * 112 * 112) * (3 * 7 * 7)          # 118,013,952: the slide's "118 MFLOP"
    assert row.memory_bytes == 64 * 112 * 112 * 4               # 3,136 KB on the slide


# Table 1, "output size" column (H x W x C), for the layer that ends each row.
TABLE_1 = [
    ("conv1", (112, 112, 64)),
    ("pool1", (56, 56, 64)),
    ("conv2", (56, 56, 192)),
    ("pool2", (28, 28, 192)),
    ("inception3a.output", (28, 28, 256)),
    ("inception3b.output", (28, 28, 480)),
    ("pool3", (14, 14, 480)),
    ("inception4a.output", (14, 14, 512)),
    ("inception4d.output", (14, 14, 528)),
    ("inception4e.output", (14, 14, 832)),
    ("pool4", (7, 7, 832)),
    ("inception5a.output", (7, 7, 832)),
    ("inception5b.output", (7, 7, 1024)),
    ("pool5", (1, 1, 1024)),
    ("loss3_classifier", (1000,)),
]


@pytest.mark.parametrize("layer, size", TABLE_1, ids=[name for name, _ in TABLE_1])
def test_output_sizes_match_table_1(report, layer, size):
    out = report.row(layer).out_shape
    as_hwc = tuple(out[1:]) + (out[0],) if len(out) == 3 else tuple(out)
    assert as_hwc == size


def test_inception3a_is_the_table_row_with_true_5x5_branches(report):
    # Table 1, inception (3a): #1x1 64, #3x3 reduce 96, #3x3 128, #5x5 reduce 16, #5x5 32, pool proj 32.
    assert report.row("inception3a.5x5").kernel == (5, 5)
    weights = 192 * 64 + 192 * 96 + 96 * 3 * 3 * 128 + 192 * 16 + 16 * 5 * 5 * 32 + 192 * 32   # 163,328
    biases = 64 + 96 + 128 + 16 + 32 + 32                                                       # 368
    block = [row for row in report.rows if row.name.startswith("inception3a.")]
    assert sum(row.params for row in block) == weights + biases == 163_696
