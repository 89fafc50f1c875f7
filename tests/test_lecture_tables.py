"""The lecture figures, cell by cell: EECS 498-007 lecture 8's AlexNet table, CS231n's AlexNet and
worked conv example, VGG (torchvision totals, the 3x3-stack argument, configurations A-LRN and C),
ZFNet's maps (Zeiler & Fergus 2013, Fig. 3) and LeNet-5 (LeCun et al. 1998).

Every expected number is a reference figure from the sources above or hand-worked
arithmetic written out here; none is copied from this program's output.
"""

import json
from fractions import Fraction

import pytest
from click.testing import CliRunner

import cnncalc
from cnncalc.cli import main


def round_half_up(numerator, denominator):
    """The slide table's rounding: to the nearest integer, halves up (253.5 KB -> 254)."""
    return (2 * numerator + denominator) // (2 * denominator)


def slide_cells(memory_bytes, params, flops):
    """memory in KB (1024 B), params in thousands, flop in millions, as the table prints them."""
    return (f"{round_half_up(memory_bytes, 1024):,}", f"{round_half_up(params, 1000):,}",
            f"{round_half_up(flops, 10 ** 6):,}")


# --- EECS 498-007 lecture 8: AlexNet (torchvision layout) at 3x227x227 ------------------------------

# The slide's table (lecture_tables.md), one row per layer: input C x H/W, filters, kernel, stride, pad,
# output C x H/W, memory KB, params k, flop M. Two cells differ from the slide, as the reference says:
# conv4's flop is printed 145 on the slide but is 256*13*13 * 384*3*3 = 149,520,384 = 149.5 M -> 150,
# and the fc params include the biases (fc6: 9216*4096 + 4096 = 37,752,832 -> 37,753, not 37,749).
EECS498_ALEXNET = [
    ("conv1", "3 x 227", "64", "11", "4", "2", "64 x 56", "784", "23", "73"),
    ("pool1", "64 x 56", "", "3", "2", "0", "64 x 27", "182", "0", "0"),
    ("conv2", "64 x 27", "192", "5", "1", "2", "192 x 27", "547", "307", "224"),
    ("pool2", "192 x 27", "", "3", "2", "0", "192 x 13", "127", "0", "0"),
    ("conv3", "192 x 13", "384", "3", "1", "1", "384 x 13", "254", "664", "112"),
    ("conv4", "384 x 13", "256", "3", "1", "1", "256 x 13", "169", "885", "150"),
    ("conv5", "256 x 13", "256", "3", "1", "1", "256 x 13", "169", "590", "100"),
    ("pool5", "256 x 13", "", "3", "2", "0", "256 x 6", "36", "0", "0"),
    ("flatten", "256 x 6", "", "", "", "", "9216", "36", "0", "0"),
    ("fc6", "9216", "4096", "", "", "", "4096", "16", "37,753", "38"),
    ("fc7", "4096", "4096", "", "", "", "4096", "16", "16,781", "17"),
    ("fc8", "4096", "1000", "", "", "", "1000", "4", "4,097", "4"),
]

# The same rows as exact figures: (in shape, out shape, memory bytes, params, flop).
# memory = C*H*W * 4 B; params = Cout*Cin*K*K + Cout or in*out + out; flop = MACs, plus C*H'*W'*K*K for pools.
EECS498_EXACT = {
    "conv1": ((3, 227, 227), (64, 56, 56), 64 * 56 * 56 * 4, 64 * 3 * 11 * 11 + 64, 64 * 56 * 56 * 3 * 11 * 11),
    "pool1": ((64, 56, 56), (64, 27, 27), 64 * 27 * 27 * 4, 0, 64 * 27 * 27 * 3 * 3),
    "conv2": ((64, 27, 27), (192, 27, 27), 192 * 27 * 27 * 4, 192 * 64 * 5 * 5 + 192, 192 * 27 * 27 * 64 * 5 * 5),
    "pool2": ((192, 27, 27), (192, 13, 13), 192 * 13 * 13 * 4, 0, 192 * 13 * 13 * 3 * 3),
    "conv3": ((192, 13, 13), (384, 13, 13), 384 * 13 * 13 * 4, 384 * 192 * 3 * 3 + 384, 384 * 13 * 13 * 192 * 3 * 3),
    "conv4": ((384, 13, 13), (256, 13, 13), 256 * 13 * 13 * 4, 256 * 384 * 3 * 3 + 256, 256 * 13 * 13 * 384 * 3 * 3),
    "conv5": ((256, 13, 13), (256, 13, 13), 256 * 13 * 13 * 4, 256 * 256 * 3 * 3 + 256, 256 * 13 * 13 * 256 * 3 * 3),
    "pool5": ((256, 13, 13), (256, 6, 6), 256 * 6 * 6 * 4, 0, 256 * 6 * 6 * 3 * 3),
    "flatten": ((256, 6, 6), (9216,), 9216 * 4, 0, 0),
    "fc6": ((9216,), (4096,), 4096 * 4, 9216 * 4096 + 4096, 9216 * 4096),
    "fc7": ((4096,), (4096,), 4096 * 4, 4096 * 4096 + 4096, 4096 * 4096),
    "fc8": ((4096,), (1000,), 1000 * 4, 4096 * 1000 + 1000, 4096 * 1000),
}

ALEXNET_PARAMS = 61_100_840
ALEXNET_MACS_227 = 716_767_232


@pytest.fixture(scope="module")
def alexnet():
    return cnncalc.analyze("alexnet", input="3x227x227")


def test_seed_worked_figures_for_conv1_and_pool1(alexnet):
    conv1, pool1 = alexnet.row("conv1"), alexnet.row("pool1")
    assert conv1.memory_bytes == 802_816 and Fraction(802_816, 1024) == 784
    assert conv1.params == 23_296
    assert conv1.flops == conv1.macs == 72_855_552
    assert pool1.out_shape == (64, 27, 27)  # floor((56 - 3)/2 + 1) = 27
    assert Fraction(pool1.memory_bytes, 1024) == Fraction(18225, 100)  # 182.25 KB
    assert pool1.flops == 419_904 and pool1.macs == 0


@pytest.mark.parametrize("cells", EECS498_ALEXNET, ids=[r[0] for r in EECS498_ALEXNET])
def test_eecs498_alexnet_row_through_analyze(alexnet, cells):
    name, _, filters, kernel, stride, pad, _, memory_kb, params_k, flop_m = cells
    in_shape, out_shape, memory, params, flops = EECS498_EXACT[name]
    row = alexnet.row(name)
    assert (row.in_shape, row.out_shape) == (in_shape, out_shape)
    assert (row.memory_bytes, row.params, row.flops) == (memory, params, flops)
    assert slide_cells(memory, params, flops) == (memory_kb, params_k, flop_m)
    assert ("" if row.filters is None else str(row.filters)) == filters
    if kernel:
        assert row.kernel == (int(kernel),) * 2 and row.stride == (int(stride),) * 2
        assert row.pad == ((int(pad),) * 2,) * 2
    else:
        assert row.kernel is None and row.pad is None


def test_eecs498_alexnet_totals(alexnet):
    assert alexnet.totals["params"] == ALEXNET_PARAMS
    assert alexnet.totals["macs"] == ALEXNET_MACS_227
    assert alexnet.totals["params"] == sum(exact[3] for exact in EECS498_EXACT.values())


def _cli(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_eecs498_alexnet_table_through_the_cli():
    lines = [" ".join(line.split()) for line in _cli("report", "alexnet", "--input", "3x227x227").splitlines()]
    for cells in EECS498_ALEXNET:
        expected = " ".join(" ".join(cell for cell in cells if cell).split())
        assert expected in lines, f"no table line '{expected}'"
    total = next(line for line in lines if line.startswith("total "))
    assert total.split()[-2] == "61,101"  # 61,100,840 params in thousands


def test_eecs498_alexnet_github_table_cells():
    output = _cli("report", "alexnet", "--input", "3x227x227", "--format", "github")
    rows = {}
    for line in output.splitlines():
        if line.startswith("|") and not line.startswith("|--"):
            cells = tuple(cell.strip() for cell in line.strip("|").split("|"))
            rows[cells[0]] = cells
    for cells in EECS498_ALEXNET:
        assert rows[cells[0]] == cells


def test_eecs498_alexnet_json():
    data = json.loads(_cli("report", "alexnet", "--input", "3x227x227", "--format", "json"))
    assert data["input"] == [3, 227, 227] and data["batch"] == 1 and data["dtype"] == "fp32"
    layers = {layer["name"]: layer for layer in data["layers"]}
    for name, (in_shape, out_shape, memory, params, flops) in EECS498_EXACT.items():
        layer = layers[name]
        assert (layer["in_shape"], layer["out_shape"]) == (list(in_shape), list(out_shape))
        assert (layer["memory_bytes"], layer["params"], layer["flops"]) == (memory, params, flops)
    assert layers["conv1"]["receptive_field"] == [11, 11]
    assert layers["conv1"]["from"] == ["input"]
    assert data["totals"]["params"] == ALEXNET_PARAMS
    assert data["totals"]["macs"] == ALEXNET_MACS_227


def test_alexnet_at_224_is_torchvision():
    # torchvision at 224: the same params; conv1 gives floor((224 - 11 + 4)/4) + 1 = 55.
    report = cnncalc.analyze("alexnet")
    assert report.row("conv1").out_shape == (64, 55, 55)
    assert report.totals["params"] == ALEXNET_PARAMS


# --- CS231n ------------------------------------------------------------------------------------------

def test_cs231n_alexnet_conv1_and_pool1():
    report = cnncalc.analyze("alexnet_cs231n")
    conv1, pool1 = report.row("conv1"), report.row("pool1")
    assert report.input == (3, 227, 227)
    assert conv1.out_shape == (96, 55, 55)  # (227 - 11)/4 + 1 = 55
    assert conv1.params == 11 * 11 * 3 * 96 + 96 == 34_944  # "35K" weights: 34,848
    assert pool1.out_shape == (96, 27, 27)  # (55 - 3)/2 + 1 = 27
    assert pool1.params == 0


def test_cs231n_alexnet_maps():
    # CS231n's listing: [55x55x96] CONV1, [27x27x96] POOL1, NORM1, [27x27x256] CONV2, [13x13x256] POOL2,
    # NORM2, [13x13x384] CONV3, [13x13x384] CONV4, [13x13x256] CONV5, [6x6x256] POOL3, FC 4096, 4096, 1000.
    expected = {"norm1": (96, 27, 27), "conv2": (256, 27, 27), "pool2": (256, 13, 13), "norm2": (256, 13, 13),
                "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13), "pool3": (256, 6, 6),
                "fc6": (4096,), "fc7": (4096,), "fc8": (1000,)}
    report = cnncalc.analyze("alexnet_cs231n")
    assert {name: report.row(name).out_shape for name in expected} == expected
    assert report.row("conv2").params == 256 * 96 * 5 * 5 + 256  # one tower: no grouping


def test_cs231n_worked_conv_example():
    spec = {"input": [3, 32, 32],
            "layers": [{"name": "conv", "type": "conv", "filters": 10, "kernel": 5, "stride": 1, "pad": 2}]}
    row = cnncalc.analyze(spec).row("conv")
    assert row.out_shape == (10, 32, 32)  # (32 + 2*2 - 5)/1 + 1 = 32
    assert row.params == 10 * (5 * 5 * 3 + 1) == 760


# --- VGG ---------------------------------------------------------------------------------------------

def test_vgg16_totals():
    report = cnncalc.analyze("vgg16")
    assert report.totals["params"] == 138_357_544
    assert report.totals["macs"] == 15_470_264_320
    # Without biases: every conv's and fc's weights, i.e. params minus one bias per filter/unit.
    weights = sum(row.params - row.filters for row in report.rows if row.type in ("conv", "fc"))
    assert weights == 138_344_128


def test_vgg16_stages_read_like_table1():
    report = cnncalc.analyze("vgg16")
    assert [row.name for row in report.rows if row.type == "conv"] == [
        "conv1.1", "conv1.2", "conv2.1", "conv2.2", "conv3.1", "conv3.2", "conv3.3",
        "conv4.1", "conv4.2", "conv4.3", "conv5.1", "conv5.2", "conv5.3"]
    assert report.row("pool5").out_shape == (512, 7, 7)  # 224 / 2**5
    assert report.totals["weight_layers"] == 16


@pytest.mark.parametrize("name, params, channels", [
    # torchvision's vgg13_bn and vgg19_bn (not in tests/data/torchvision_totals.csv); BN adds 2C params
    # and 2C buffers: vgg13 convs have 2*64 + 2*128 + 2*256 + 2*512 + 2*512 = 2,944 channels,
    # vgg19 convs 2*64 + 2*128 + 4*256 + 4*512 + 4*512 = 5,504.
    ("vgg13_bn", 133_053_736, 2_944),
    ("vgg19_bn", 143_678_248, 5_504),
])
def test_vgg_bn_variants_outside_the_csv(name, params, channels):
    totals = cnncalc.analyze(name).totals
    assert totals["params"] == params
    assert totals["buffers"] == 2 * channels


def test_vgg_a_lrn_has_config_a_params():
    # LRN has no weights: A-LRN has configuration A's (torchvision vgg11's) 132,863,336 params.
    report = cnncalc.analyze("vgg_a_lrn")
    assert report.totals["params"] == 132_863_336
    assert report.row("lrn").out_shape == (64, 224, 224)
    assert report.totals["weight_layers"] == 11


def test_vgg_c_params_by_hand():
    def conv(cin, cout, k):
        return cout * cin * k * k + cout

    layers = [
        conv(3, 64, 3), conv(64, 64, 3),                             # 1,792 + 36,928
        conv(64, 128, 3), conv(128, 128, 3),                         # 73,856 + 147,584
        conv(128, 256, 3), conv(256, 256, 3), conv(256, 256, 1),     # 295,168 + 590,080 + 65,792
        conv(256, 512, 3), conv(512, 512, 3), conv(512, 512, 1),     # 1,180,160 + 2,359,808 + 262,656
        conv(512, 512, 3), conv(512, 512, 3), conv(512, 512, 1),     # 2,359,808 * 2 + 262,656
        512 * 7 * 7 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000,
    ]
    assert sum(layers) == 133_638_952
    # the same from D (vgg16): three 3x3 convs become 1x1, losing 8 of every 9 weights
    assert 138_357_544 - 8 * 256 * 256 - 2 * 8 * 512 * 512 == 133_638_952
    report = cnncalc.analyze("vgg_c")
    assert report.totals["params"] == 133_638_952
    assert [report.row(name).kernel for name in ("conv3.3", "conv4.3", "conv5.3")] == [(1, 1)] * 3


def _stack(kernels, channels=64, size=32):
    layers = [{"name": f"c{i}", "type": "conv", "filters": channels, "kernel": k, "pad": k // 2, "bias": False}
              for i, k in enumerate(kernels, 1)]
    return cnncalc.analyze({"input": [channels, size, size], "layers": layers})


@pytest.mark.parametrize("stack, single, stack_weights, single_weights, field", [
    ([3, 3], [5], 18, 25, 5),       # two 3x3: 2*9*C^2 = 18C^2; one 5x5: 25C^2; both see 5x5
    ([3, 3, 3], [7], 27, 49, 7),    # three 3x3: 27C^2; one 7x7: 49C^2; both see 7x7
])
def test_vgg_small_filter_stacks(stack, single, stack_weights, single_weights, field):
    c = 64
    stacked, one = _stack(stack, c), _stack(single, c)
    assert stacked.totals["params"] == stack_weights * c * c
    assert one.totals["params"] == single_weights * c * c
    assert stacked.rows[-1].receptive_field == one.rows[-1].receptive_field == (field, field)
    assert stacked.rows[-1].out_shape == one.rows[-1].out_shape == (c, 32, 32)


# --- ZFNet -------------------------------------------------------------------------------------------

def test_zfnet_maps_match_zeiler_fergus_fig3():
    # Fig. 3: 224 -> 110 (conv1 7x7/2) -> 55 (pool) -> 26 (conv2 5x5/2) -> 13 (pool) -> 13, 13, 13 -> 6.
    report = cnncalc.analyze("zfnet")
    sides = [report.row(name).out_shape[1:] for name in
             ("conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool3")]
    assert sides == [(110, 110), (55, 55), (26, 26), (13, 13), (13, 13), (13, 13), (13, 13), (6, 6)]
    # CS231n: conv1 96 7x7 filters; conv3, 4, 5 with 512, 1024, 512 filters
    assert [report.row(n).out_shape[0] for n in ("conv1", "conv3", "conv4", "conv5")] == [96, 512, 1024, 512]
    assert report.row("conv1").params == 96 * 3 * 7 * 7 + 96
    assert report.row("fc6").params == 512 * 6 * 6 * 4096 + 4096


# --- LeNet-5 -----------------------------------------------------------------------------------------

def test_lenet5_shapes_and_params():
    report = cnncalc.analyze("lenet5")
    shapes = {name: report.row(name).out_shape for name in ("C1", "S2", "C3", "S4", "C5", "F6", "output")}
    assert shapes == {"C1": (6, 28, 28), "S2": (6, 14, 14), "C3": (16, 10, 10), "S4": (16, 5, 5),
                      "C5": (120, 1, 1), "F6": (84,), "output": (10,)}
    assert report.row("C1").params == 6 * 5 * 5 + 6 == 156
    # C3 reads 6 maps x3 inputs, 6 x4, 3 x4 and 1 x6 = 60 connections of 5x5 weights, plus 16 biases
    assert report.row("C3").params == (6 * 3 + 6 * 4 + 3 * 4 + 6) * 25 + 16 == 1_516
    assert report.row("C5").params == 120 * 16 * 25 + 120  # 48,120 in the paper
    assert report.row("F6").params == 84 * 120 + 84  # 10,164 in the paper


def test_lenet5_c3_fully_connected_would_have_2416_params():
    spec = {"input": [6, 14, 14], "layers": [{"name": "C3", "type": "conv", "filters": 16, "kernel": 5}]}
    assert cnncalc.analyze(spec).row("C3").params == 16 * 6 * 25 + 16 == 2_416
