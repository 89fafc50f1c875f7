"""cnncalc check: every quantity, every accepted way of writing a value, rounding at the written
precision, the slides' conventions, bad input, batches, JSON and Gradescope output, the examples.

Expected values are the lecture figures (the CS231n and EECS 498-007 AlexNet and VGG tables)
or arithmetic written out here with the DESIGN.md formulas.
"""

import glob
import json
import os

import pytest

from cnncalc import grading as checker
from cnncalc.cli import main
from cli_runner import runner
from helpers import write_file

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")

# CS231n lecture 5: AlexNet as in the paper, conv1 96 11x11 filters stride 4 on 227x227x3, pool1 3x3 stride 2.
CS231N_ALEXNET = {
    "name": "AlexNet (CS231n)", "input": [3, 227, 227],
    "layers": [{"name": "conv1", "type": "conv", "filters": 96, "kernel": 11, "stride": 4},
               {"name": "pool1", "type": "maxpool", "kernel": 3, "stride": 2}],
}
CONV1_PARAMS = 11 * 11 * 3 * 96 + 96  # 34,944; the lecture's "35K"

VGG16_TEXT = """
name: VGG-16
input: [3, 224, 224]
layers:
  - {name: conv1, type: conv, filters: 64, kernel: 3, pad: 1, act: relu, repeat: 2}
  - {name: pool1, type: maxpool, kernel: 2}
  - {name: conv2, type: conv, filters: 128, kernel: 3, pad: 1, act: relu, repeat: 2}
  - {name: pool2, type: maxpool, kernel: 2}
  - {name: conv3, type: conv, filters: 256, kernel: 3, pad: 1, act: relu, repeat: 3}
  - {name: pool3, type: maxpool, kernel: 2}
  - {name: conv4, type: conv, filters: 512, kernel: 3, pad: 1, act: relu, repeat: 3}
  - {name: pool4, type: maxpool, kernel: 2}
  - {name: conv5, type: conv, filters: 512, kernel: 3, pad: 1, act: relu, repeat: 3}
  - {name: pool5, type: maxpool, kernel: 2}
  - {name: flatten, type: flatten}
  - {name: fc6, type: fc, units: 4096, act: relu}
  - {name: fc7, type: fc, units: 4096, act: relu}
  - {name: fc8, type: fc, units: 1000}
"""


def grade(answer, spec="alexnet", input=(3, 227, 227)):
    """The results of one answer mapping graded against ``spec``."""
    document = {"spec": spec, "answers": [answer]}
    if input is not None:
        document["input"] = list(input)
    graded = checker.check_document(document)
    assert graded.error is None, graded.error
    return graded.results


def status(answer, **kwargs):
    results = grade(answer, **kwargs)
    assert len(results) == 1
    return results[0].status


def run(*args):
    return runner().invoke(main, list(args))


# --- numbers: every accepted form, judged at the precision written ---------------------------------

@pytest.mark.parametrize("written", [CONV1_PARAMS, "34944", "34,944", "35K", "35k", "34.9k", "34.94k", "34.944k",
                                     "0.035M", "0.03M", "3.4944e4", "~35K", "35 K params", "35Kparams"])
def test_count_forms_right(written):
    assert status({"layer": "conv1", "params": written}, spec=CS231N_ALEXNET) == "right"


@pytest.mark.parametrize("written", ["36K", "34K", "34.8k", "34.95k", "35.0K", "34.943k", "0.036M", "0.04M",
                                     "34945", "34,943", "35000"])
def test_count_forms_wrong(written):
    # 34.944k: to one decimal 34.9 (35.0 is wrong), to two 34.94 (34.95 wrong), to three 34.944.
    assert status({"layer": "conv1", "params": written}, spec=CS231N_ALEXNET) == "wrong"


def test_a_plain_integer_is_exact_and_a_rounded_one_is_noted():
    result, = grade({"layer": "conv1", "params": "35000"}, spec=CS231N_ALEXNET)
    assert result.status == "wrong"
    assert "a plain integer is judged exactly" in result.notes[0]
    right, = grade({"layer": "conv1", "params": "35K"}, spec=CS231N_ALEXNET)
    assert right.notes == ["34,944 is 35K at the precision written"]


def test_giga_and_mega_with_unit_words():
    # 1000 3x3 filters on 64x56x56 with pad 1: MACs = 1000*56*56 * 64*3*3 = 1,806,336,000
    spec = {"input": [64, 56, 56], "layers": [{"name": "big", "type": "conv", "filters": 1000, "kernel": 3, "pad": 1}]}
    for written in ("1.8 GFLOP", "1.8G", "1.81 GMACs", "1806.3M", "1,806,336,000", 1806336000, "2G"):
        assert status({"layer": "big", "macs": written}, spec=spec, input=None) == "right", written
    for written in ("1.9 GFLOP", "1.80 GFLOP", "1.7G", "1G"):
        assert status({"layer": "big", "macs": written}, spec=spec, input=None) == "wrong", written


def test_vgg16_total_params_138m_and_the_weights_only_note(tmp_path):
    # torchvision VGG-16: 138,357,544 params, 138,344,128 without biases (lecture_tables.md); CS231n: "138M".
    spec_path = write_file(tmp_path, "vgg16.yaml", VGG16_TEXT)
    answers = write_file(tmp_path, "a.yaml", "spec: vgg16.yaml\nanswers:\n"
                                        "  - {layer: total, params: 138M}\n"
                                        "  - {layer: total, params: 138357544, macs: 15.47G}\n"
                                        "  - {layer: total, params: '138,344,128'}\n"
                                        "  - {layer: total, flops: 13.6 GFLOP}\n")
    assert os.path.exists(spec_path)
    graded = checker.check_file(answers)
    assert [r.status for r in graded.results] == ["right", "right", "right", "wrong", "wrong"]
    weights_only = graded.results[3]
    assert weights_only.notes[0].startswith("138,344,128 equals the weights-only count, 138,344,128 (without the "
                                            "13,416 biases)")
    assert graded.results[4].exact > 15_470_264_320  # the lecture flop adds the pools to the 15.47 G MACs


def test_tie_at_the_written_precision_is_accepted_either_way():
    # conv3 of the EECS 498 table: 384*13*13*4 B = 259,584 B = 253.5 KB exactly; written in whole KB,
    # 253 and 254 are the two roundings of the half.
    assert status({"layer": "conv3", "memory_kb": 254}) == "right"
    assert status({"layer": "conv3", "memory_kb": 253}) == "right"
    assert status({"layer": "conv3", "memory_kb": 252}) == "wrong"


# --- memory ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("quantity, written, expected", [
    # conv1 of the EECS 498 table: 64*56*56*4 = 802,816 B = 784 KB
    ("memory_bytes", 802816, "right"), ("memory_bytes", "802,816 B", "right"), ("memory_bytes", "784 KB", "right"),
    ("memory_bytes", "784KiB", "right"), ("memory_bytes", "0.77 MB", "right"), ("memory_bytes", "0.8MB", "right"),
    ("memory_kb", 784, "right"), ("memory_kb", "784 KB", "right"), ("memory_kb", "784.0", "right"),
    ("memory_bytes", 802817, "wrong"), ("memory_kb", 785, "wrong"), ("memory_bytes", "0.76 MB", "wrong"),
    ("memory_kb", "802.8", "wrong"), ("memory_bytes", "803 KB", "wrong"),
])
def test_memory_forms(quantity, written, expected):
    assert status({"layer": "conv1", quantity: written}) == expected


def test_memory_in_megabytes():
    # 72 3x3 filters with pad 1 on 3x64x64: 72*64*64*4 = 1,179,648 B = 1.125 MB (1024*1024 B)
    spec = {"input": [3, 64, 64], "layers": [{"name": "c", "type": "conv", "filters": 72, "kernel": 3, "pad": 1}]}
    assert status({"layer": "c", "memory_bytes": "1.1MB"}, spec=spec, input=None) == "right"
    assert status({"layer": "c", "memory_bytes": "1.13 MB"}, spec=spec, input=None) == "right"
    wrong, = grade({"layer": "c", "memory_bytes": "1.2MB"}, spec=spec, input=None)
    assert wrong.status == "wrong"
    # 1,179,648 B / 1,000,000 = 1.18 -> "1.2MB" is the size in decimal megabytes
    assert "1000-byte units" in wrong.notes[0]


def test_pool1_memory_at_each_precision(tmp_path):
    # pool1: 64*27*27*4 = 186,624 B = 182.25 KB (the lecture table). 182.30 claims two decimals: wrong,
    # though YAML would read it as the float 182.3, which is right at one decimal.
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\ninput: [3, 227, 227]\nanswers:\n"
                                     "  - {layer: pool1, memory_kb: 182.25}\n"
                                     "  - {layer: pool1, memory_kb: 182}\n"
                                     "  - {layer: pool1, memory_kb: 182.3}\n"
                                     "  - {layer: pool1, memory_kb: 182.30}\n"
                                     "  - {layer: pool1, memory_kb: 183}\n"
                                     "  - {layer: pool1, memory_kb: 186.6}\n")
    results = checker.check_file(path).results
    assert [r.status for r in results] == ["right", "right", "right", "wrong", "wrong", "wrong"]
    assert results[3].answer == "182.30"
    assert results[3].expected == "182.25 KB (186,624 B)"
    assert "1000-byte units" in results[5].notes[0]  # 186,624 / 1000 = 186.6


def test_memory_given_as_an_element_count_is_noted():
    result, = grade({"layer": "conv1", "memory_bytes": 64 * 56 * 56})
    assert result.status == "wrong"
    assert result.notes[0].startswith("200704 equals the number of output elements, 200,704")


# --- shapes, receptive fields, fits ---------------------------------------------------------------------

@pytest.mark.parametrize("written, reading", [
    ("55x55x96", "H x W x C"), ("96x55x55", "C x H x W"), ([96, 55, 55], "C x H x W"), ("[96, 55, 55]", "C x H x W"),
    ("96 x 55 x 55", "C x H x W"), ("55×55×96", "H x W x C"), ("[55x55x96]", "H x W x C"), ("(96, 55, 55)", "C x H x W"),
])
def test_shape_forms_right(written, reading):
    # CS231n: (227-11)/4+1 = 55, [55x55x96]
    result, = grade({"layer": "conv1", "output_shape": written}, spec=CS231N_ALEXNET)
    assert (result.status, result.read_as) == ("right", reading)


@pytest.mark.parametrize("written, reading, expected", [
    ("55x55x94", "H x W x C", "55x55x96"),   # channels wrong: two sizes agree with the H x W x C reading
    ("94x55x55", "C x H x W", "96x55x55"),
    ("54x54x96", "H x W x C", "55x55x96"),   # square first: read as H x W x C
    ("56x55x55", "C x H x W", "96x55x55"),
    ("55x96x55", "C x H x W", "96x55x55"),   # no reading fits: channels first, as the tables write it
])
def test_shape_wrong_is_shown_in_the_order_it_was_written(written, reading, expected):
    result, = grade({"layer": "conv1", "output_shape": written}, spec=CS231N_ALEXNET)
    assert (result.status, result.read_as, result.expected) == ("wrong", reading, expected)


def test_shape_with_too_few_sizes_says_so():
    result, = grade({"layer": "conv1", "output_shape": "55x55"}, spec=CS231N_ALEXNET)
    assert result.status == "wrong"
    assert result.notes == ["'55x55' has 2 sizes; the output has 3 (C x H x W)"]


@pytest.mark.parametrize("written, expected", [(9216, "right"), ("9216", "right"), ([9216], "right"),
                                               ("1x1x9216", "right"), ("9216x1x1", "right"), (4096, "wrong")])
def test_flat_shapes(written, expected):
    # flatten of 256x6x6 = 9,216 (EECS 498 table)
    assert status({"layer": "flatten", "output_shape": written}) == expected


@pytest.mark.parametrize("written, expected", [(11, "right"), ("11", "right"), ("11x11", "right"), ([11, 11], "right"),
                                               ("11 x 11", "right"), (12, "wrong"), ("11x12", "wrong")])
def test_receptive_field_forms(written, expected):
    assert status({"layer": "conv1", "receptive_field": written}) == expected


def test_receptive_field_worked_arithmetic():
    # pool1 after conv1 (r 11, jump 4): r = 11 + (3-1)*1*4 = 19
    result, = grade({"layer": "pool1", "receptive_field": 17})
    assert result.expected == "19"
    assert any("= 11 + (3-1)*1*4 = 19" in line for line in result.explanation)


@pytest.mark.parametrize("layer, written, expected", [
    ("conv1", True, "right"), ("conv1", "yes", "right"), ("conv1", False, "wrong"),  # (227-11+2*2)/4 + 1 = 56 exactly
    ("pool1", False, "right"), ("pool1", "no", "right"), ("pool1", True, "wrong"),   # (56-3)/2 + 1 = 27.5
    ("total", False, "right"), ("total", "true", "wrong"),
])
def test_fits(layer, written, expected):
    assert status({"layer": layer, "fits": written}) == expected


def test_fits_of_a_layer_without_a_window_is_an_error():
    result, = grade({"layer": "flatten", "fits": True})
    assert result.status == "error"
    assert "has no window" in result.message


# --- MACs, flop and the slides' conventions ---------------------------------------------------------------

def test_every_quantity_of_conv1_in_the_seed_notes():
    # seed 004: params 64*3*11*11 + 64 = 23,296; flop (64*56*56)*(3*11*11) = 72,855,552; memory 784 KB
    results = grade({"layer": "conv1", "output_shape": "64x56x56", "params": 23296, "macs": 72855552,
                     "flops": "72,855,552", "memory_bytes": 802816, "memory_kb": 784, "receptive_field": 11,
                     "fits": True})
    assert [r.quantity for r in results] == list(checker.QUANTITIES)
    assert all(r.status == "right" for r in results)


def test_pool_flop_is_the_window_count_and_its_macs_are_zero():
    # pool1: flop (64*27*27)*(3*3) = 419,904, shown as "0.4" M in the lecture table
    assert status({"layer": "pool1", "flops": 419904}) == "right"
    assert status({"layer": "pool1", "flops": "0.4M"}) == "right"
    assert status({"layer": "pool1", "macs": 0}) == "right"
    zero, = grade({"layer": "pool1", "flops": 0})
    assert zero.status == "wrong"
    assert zero.notes[0].startswith("0 equals the MACs, 0; the lecture flop also counts each pooling window")


def test_fc_params_without_the_bias_are_wrong_with_a_note():
    # EECS 498 table: fc6 37,749 (thousands) = 9216*4096 = 37,748,736 weights; with the bias 37,752,832
    result, = grade({"layer": "fc6", "params": "37,749k"})
    assert result.status == "wrong"
    assert result.expected == "37,753k (37,752,832)"
    assert result.notes[0] == ("37,749k equals the weights-only count, 37,748,736 (without the 4,096 biases); "
                               "params include the biases")
    assert "params = in*out + out = 9216*4096 + 4096 = 37,752,832" in result.explanation[1]


def test_twice_the_macs_is_wrong_with_a_note():
    # conv1: 2 * 72,855,552 = 145,711,104
    for quantity in ("macs", "flops"):
        result, = grade({"layer": "conv1", quantity: "145.7M"})
        assert result.status == "wrong"
        assert result.notes[0].startswith("145.7M equals 2 x MACs, 145,711,104")


def test_the_slides_conv4_flop_is_wrong_and_the_exact_one_right():
    # conv4: (256*13*13) * (384*3*3) = 149,520,384; the slide prints 145
    assert status({"layer": "conv4", "flops": "145M"}) == "wrong"
    assert status({"layer": "conv4", "flops": "149.5M"}) == "right"
    assert status({"layer": "conv4", "flops": "150M"}) == "right"


def test_bn_buffers_counted_as_params_are_noted():
    # bn on 64 channels: 2*64 = 128 params (scale, shift) and 128 running statistics (buffers)
    spec = {"input": [3, 8, 8], "layers": [{"name": "conv", "type": "conv", "filters": 64, "kernel": 3, "bias": False},
                                           {"name": "bn", "type": "bn"}]}
    assert status({"layer": "bn", "params": 128}, spec=spec, input=None) == "right"
    result, = grade({"layer": "bn", "params": 256}, spec=spec, input=None)
    assert result.status == "wrong"
    assert "buffers, not params" in result.notes[0]


def test_totals_of_alexnet_at_227():
    # exact totals (lecture_tables.md): 61,100,840 params; 716,767,232 MACs.
    pools = 64 * 27 * 27 * 9 + 192 * 13 * 13 * 9 + 256 * 6 * 6 * 9 + 256 * 6 * 6 * 1  # pool1, pool2, pool5, avgpool
    memory = 4 * (64 * 56 * 56 + 64 * 27 * 27 + 192 * 27 * 27 + 192 * 13 * 13 + 384 * 13 * 13 + 2 * 256 * 13 * 13
                  + 3 * 256 * 6 * 6 + 2 * 4096 + 1000)
    results = grade({"layer": "total", "params": "61.1M", "macs": 716767232, "flops": 716767232 + pools,
                     "memory_bytes": memory, "memory_kb": f"{memory / 1024:.2f}"})
    assert [r.status for r in results] == ["right"] * 5
    assert status({"layer": "total", "params": "61.2M"}) == "wrong"


def test_total_explanation_is_the_sum_of_the_layers():
    result, = grade({"layer": "total", "params": "62M"})
    assert result.explanation[0].startswith("params of the network = conv1 23,296 + conv2 307,392 + ")
    assert result.explanation[0].endswith("(8 layers) = 61,100,840")


def test_a_block_is_graded_as_the_sum_of_its_layers():
    # VGG's argument with C = 64: two 3x3 layers have 18*C^2 = 73,728 weights and see 5x5
    results = checker.check_file(os.path.join(EXAMPLES, "vgg_3x3_stack.yaml")).results
    two = [r for r in results if r.layer == "two_3x3"]
    assert {r.quantity: r.exact for r in two}["params"] == 18 * 64 * 64
    assert {r.quantity: r.exact for r in two}["receptive_field"] == [5, 5]


# --- bad input: one line naming file and line, the rest still graded --------------------------------------

def test_bad_answers_are_reported_and_the_rest_is_graded(tmp_path):
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\ninput: [3, 227, 227]\nanswers:\n"
                                     "  - {layer: conv7, params: 3}\n"
                                     "  - {layer: conv1, parms: 23296}\n"
                                     "  - {layer: conv1, params: 12Q}\n"
                                     "  - {layer: conv1, params: 23296}\n"
                                     "  - 5\n"
                                     "  - {params: 3}\n"
                                     "  - {layer: conv1, output_shape: 5xQ}\n")
    results = checker.check_file(path).results
    assert [r.status for r in results] == ["error", "error", "error", "right", "error", "error", "error"]
    messages = [f"{r.where}: {r.message}" for r in results if r.status == "error"]
    assert messages[0] == f"{path}:4: no layer named 'conv7' in AlexNet; nearest: conv5, conv4, conv3"
    assert messages[1].startswith(f"{path}:5: unknown quantity 'parms'; did you mean 'params'?")
    assert messages[2].startswith(f"{path}:6: conv1 params: cannot read the unit 'Q' in '12Q'")
    assert messages[3] == f"{path}:8: answer 5 must be a mapping like {{layer: conv1, params: 23296}}"
    assert messages[4].startswith(f"{path}:9: answer has no 'layer'")
    assert messages[5].startswith(f"{path}:10: conv1 output_shape: cannot read '5xQ' as a shape")


def test_a_bare_comma_in_a_flow_mapping_gets_a_hint(tmp_path):
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\nanswers:\n  - {layer: fc6, params: 37,749k}\n")
    results = checker.check_file(path).results
    assert "quote a value written with commas" in results[-1].message


@pytest.mark.parametrize("text, message", [
    ("spec: alexnet\nanswers:\n  - {layer: conv1, params: [1\n", "a.yaml:4:1: YAML syntax error"),
    ("spec: alexnt\nanswers:\n  - {layer: conv1, params: 1}\n",
     "a.yaml:1: 'alexnt' is neither a spec file nor a built-in model; did you mean 'alexnet'?"),
    ("spec: missing.yaml\nanswers:\n  - {layer: conv1, params: 1}\n", "a.yaml:1: spec file 'missing.yaml' not found"),
    ("spec:\n  input: [3, 32, 32]\n  layers:\n    - {name: c, type: conv, filters: 2, kernel: 5, strde: 2}\n"
     "answers:\n  - {layer: c, params: 1}\n", "a.yaml:4: c: unknown key 'strde' for conv; did you mean 'stride'?"),
    ("spec: alexnet\ninput: [3, 20, 20]\nanswers:\n  - {layer: conv1, params: 1}\n",
     "a.yaml:2: spec: alexnet.yaml:13: pool2: kernel 3 exceeds the padded input 1"),
    ("spec: alexnet\nanswer:\n  - {layer: conv1, params: 1}\n", "a.yaml:2: unknown key 'answer'; did you mean 'answers'?"),
    ("spec: alexnet\nanswers: []\n", "a.yaml:2: 'answers' is empty"),
    ("spec: alexnet\nanswers: 3\n", "a.yaml:2: 'answers' must be a list"),
    ("", "a.yaml: an answer file must be a mapping"),
])
def test_a_broken_file_is_one_line(tmp_path, text, message):
    path = write_file(tmp_path, "a.yaml", text)
    graded = checker.check_file(path)
    assert graded.results == []
    assert graded.error.startswith(os.path.join(str(tmp_path), message)), graded.error
    assert "\n" not in graded.error


def test_a_spec_path_is_relative_to_the_answer_file(tmp_path):
    (tmp_path / "specs").mkdir()
    write_file(tmp_path, "specs/net.yaml", "input: [3, 32, 32]\nlayers:\n  - {name: conv, type: conv, filters: 10, "
                                      "kernel: 5, pad: 2}\n")
    (tmp_path / "hw").mkdir()
    path = write_file(tmp_path, "hw/a.yaml", "spec: ../specs/net.yaml\nanswers:\n  - {layer: conv, params: 760}\n")
    assert checker.check_file(path).ok


# --- the command: batches, exit codes, JSON, Gradescope ---------------------------------------------------

def _files(tmp_path):
    good = write_file(tmp_path, "good.yaml", "spec: alexnet\ninput: [3, 227, 227]\nanswers:\n"
                                        "  - {layer: conv1, output_shape: 56x56x64, params: 23296}\n")
    broken = write_file(tmp_path, "broken.yaml", "spec: alexnet\nanswers:\n  - {layer: conv1, params: [1\n")
    wrong = write_file(tmp_path, "wrong.yaml", "spec: alexnet\ninput: [3, 227, 227]\nanswers:\n"
                                          "  - {layer: conv1, params: 24K}\n  - {layer: pool1, fits: false}\n")
    return good, broken, wrong


def test_a_batch_with_a_broken_file_in_the_middle(tmp_path):
    good, broken, wrong = _files(tmp_path)
    result = run("check", good, broken, wrong)
    assert result.exit_code == 1
    out = result.stdout
    assert f"{good}: 2 of 2 answers right" in out
    assert f"error  {broken}:4:1: YAML syntax error" in out
    assert f"{broken}: not graded (the file has an error)" in out
    assert f"{wrong}: 1 of 2 answers right, 1 wrong" in out
    assert "wrong  conv1 params = 24K  [line 4]" in out
    assert "right: 23K (23,296)" in out
    assert "params = Cout*(Cin*Kh*Kw) + Cout = 64*(3*11*11) + 64 = 23,296" in out
    assert out.rstrip().endswith("all files: 3 of 4 answers right, 1 wrong, in 3 files (1 not graded: the file "
                                 "has an error)")


def test_exit_codes(tmp_path):
    good, broken, wrong = _files(tmp_path)
    assert run("check", good).exit_code == 0
    assert run("check", wrong).exit_code == 1
    assert run("check", broken).exit_code == 1
    assert run("check").exit_code == 2
    assert run("check", good, "--format", "xml").exit_code == 2


def test_json_for_one_file(tmp_path):
    _, _, wrong = _files(tmp_path)
    result = run("check", wrong, "--format", "json")
    data = json.loads(result.stdout)
    assert (data["correct"], data["total"], data["file"]) == (1, 2, wrong)
    first = data["results"][0]
    assert first["status"] == "wrong" and first["correct"] is False
    assert (first["layer"], first["quantity"], first["answer"], first["exact"]) == ("conv1", "params", "24K", 23296)
    assert first["line"] == 4
    assert first["explanation"][-1] == "params = Cout*(Cin*Kh*Kw) + Cout = 64*(3*11*11) + 64 = 23,296"
    assert data["results"][1]["correct"] is True


def test_json_for_several_files(tmp_path):
    good, broken, wrong = _files(tmp_path)
    result = run("check", good, broken, wrong, "-f", "json")
    data = json.loads(result.stdout)
    assert (data["correct"], data["total"]) == (3, 4)
    assert [f["file"] for f in data["files"]] == [good, broken, wrong]
    assert data["files"][1]["error"].startswith(f"{broken}:4:1: YAML syntax error")
    assert f"error: {broken}:4:1" in result.stderr


def test_gradescope_results(tmp_path):
    _, _, wrong = _files(tmp_path)
    out = str(tmp_path / "results.json")
    result = run("check", wrong, "--format", "gradescope", "-o", out)
    assert result.exit_code == 1
    assert result.stdout.strip() == f"{wrong}: 1 of 2 answers right, 1 wrong"
    with open(out, encoding="utf-8") as handle:
        data = json.load(handle)
    assert data["score"] == 1
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [
        ("conv1 params (line 4)", 0, 1), ("pool1 fits (line 5)", 1, 1)]
    assert "right: 23K (23,296)" in data["tests"][0]["output"]
    assert data["tests"][0]["status"] == "failed"


def test_gradescope_points_and_questions(tmp_path):
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\ninput: [3, 227, 227]\nanswers:\n"
                                     "  - {layer: conv1, question: conv1 output volume?, points: 2, "
                                     "output_shape: 56x56x64}\n")
    data = json.loads(run("check", path, "-f", "gradescope").stdout)
    assert data["tests"] == [{"name": "conv1 output volume? (line 4)", "score": 2, "max_score": 2, "status": "passed",
                              "output": "right  conv1 output_shape = 56x56x64  (read as H x W x C)",
                              "visibility": "visible"}]
    assert data["score"] == 2


# --- the examples: every lecture answer right, the wrong-answers file all wrong ----------------------------

RIGHT_EXAMPLES = sorted(p for p in glob.glob(os.path.join(EXAMPLES, "*.yaml")) if "wrong_answers" not in p)


def test_the_examples_exist():
    names = {os.path.basename(p) for p in RIGHT_EXAMPLES}
    assert {"cs231n_conv_example.yaml", "alexnet_eecs498.yaml", "alexnet_cs231n.yaml", "vgg_3x3_stack.yaml",
            "inception_naive_vs_bottleneck.yaml", "cs231n_stride_fits.yaml", "vit_attention.yaml"} <= names


@pytest.mark.parametrize("path", RIGHT_EXAMPLES, ids=os.path.basename)
def test_lecture_examples_are_all_right(path):
    graded = checker.check_file(path)
    assert graded.error is None
    assert [r for r in graded.results if not r.correct] == []
    assert run("check", path).exit_code == 0


def test_inception_example_numbers():
    # naive 854,196,224 MACs, 28x28x672; bottleneck 271,351,808 MACs, 28x28x480 (lecture_tables.md)
    results = checker.check_file(os.path.join(EXAMPLES, "inception_naive_vs_bottleneck.yaml")).results
    exact = {(r.layer, r.quantity): r.exact for r in results}
    assert exact[("naive", "macs")] == 28 * 28 * 256 * (128 * 1 + 192 * 9 + 96 * 25)
    assert exact[("bottleneck", "output_shape")] == [480, 28, 28]
    assert exact[("bottleneck", "macs")] == 28 * 28 * (256 * 128 + 256 * 64 + 64 * 192 * 9 + 256 * 64 + 64 * 96 * 25
                                                        + 256 * 64)


def test_wrong_answers_example_is_all_wrong_with_reasons():
    graded = checker.check_file(os.path.join(EXAMPLES, "wrong_answers.yaml"))
    assert graded.error is None and graded.total >= 8
    assert all(r.status == "wrong" for r in graded.results)
    assert all(r.explanation for r in graded.results)
    notes = " ".join(note for r in graded.results for note in r.notes)
    assert "weights-only count" in notes
    assert "2 x MACs" in notes
    assert "1000-byte units" in notes
    assert run("check", os.path.join(EXAMPLES, "wrong_answers.yaml")).exit_code == 1


def test_a_near_miss_says_how_far_off_it_is(tmp_path):
    # EECS 498 prints AlexNet conv4's flop as 145 M; exactly (256*13*13) * (384*3*3) = 149,520,384,
    # so 145M is 4,520,384 / 149,520,384 = 3.02% below
    path = write_file(tmp_path, "a.yaml", "spec: alexnet\ninput: [3, 227, 227]\nanswers:\n"
                                     "  - {layer: conv4, flops: 145M}\n")
    (result,) = checker.check_file(path).results
    assert result.status == "wrong" and result.exact == 256 * 13 * 13 * 384 * 3 * 3
    assert result.notes == ["145M is 3.0% below the exact count (slides round, and sometimes err: the arithmetic "
                            "below is exact)"]
