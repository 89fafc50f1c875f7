"""cnncalc layer: one layer from options, with the lecture arithmetic (CS231n's conv and pool examples)."""

import json

import pytest

from cnncalc.cli import main
from cli_runner import invoke, ok, runner


def run(*args):
    return runner().invoke(main, ["layer", *args])


def test_cs231n_worked_example():
    # "Input volume 32x32x3, 10 5x5 filters with stride 1, pad 2": (32 + 2*2 - 5)/1 + 1 = 32 -> 32x32x10;
    # each filter 5*5*3 + 1 = 76 params, 760 in all. MACs (10*32*32) * (3*5*5) = 768,000; memory 10*32*32*4 B.
    result = run("conv", "--input", "32x32x3", "--filters", "10", "--kernel", "5", "--stride", "1", "--pad", "2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("conv on input 3x32x32 (--input 32x32x3 read as H x W x C, the CS231n order)")
    assert "output H/W = (32 - 5 + 2*2)/1 + 1 = 32" in out
    assert "params = Cout*(Cin*Kh*Kw) + Cout = 10*(3*5*5) + 10 = 760" in out
    assert "MACs = (Cout*H'*W') * (Cin*Kh*Kw) = (10*32*32) * (3*5*5) = 768,000" in out
    assert "memory = 10*32*32 * 4 B = 40,960 B = 40 KB" in out
    assert "receptive field H/W = r_in + (K-1)*D*j_in = 1 + (5-1)*1*1 = 5 input pixels" in out
    assert "output shape     32x32x10 (H x W x C) = 10x32x32 (C x H x W)" in out
    assert "params           760" in out


def test_channels_first_input_is_read_as_such():
    result = run("conv", "--input", "3x32x32", "--filters", "10", "--kernel", "5", "--pad", "2")
    assert result.stdout.startswith("conv on input 3x32x32 (--input 3x32x32 read as C x H x W)")
    assert "output shape     10x32x32\n" in result.stdout


def test_an_ambiguous_input_needs_order():
    # 3x224x320 reads as C x H x W (an image's 3 channels at one end only); 16 channels is ambiguous
    result = run("conv", "--input", "16x224x320", "--filters", "8", "--kernel", "3")
    assert result.exit_code == 2
    assert "add --order hwc or --order chw" in result.stderr
    result = run("conv", "--input", "3x224x320", "--order", "chw", "--filters", "8", "--kernel", "3")
    assert "output = 8x222x318" in result.stdout  # 224-3+1, 320-3+1


def test_cs231n_alexnet_conv1_and_pool1():
    # (227-11)/4+1 = 55 -> 55x55x96, (11*11*3)*96 + 96 = 34,944 params; pool (55-3)/2+1 = 27 -> 27x27x96, 0 params
    conv = run("conv", "--input", "227x227x3", "--filters", "96", "--kernel", "11", "--stride", "4").stdout
    assert "output shape     55x55x96 (H x W x C)" in conv and "params           34,944" in conv
    pool = run("maxpool", "--input", "55x55x96", "--kernel", "3", "--stride", "2").stdout
    assert "output shape     27x27x96 (H x W x C)" in pool and "params           0" in pool
    assert "flop = (C*H'*W') * (Kh*Kw) = (96*27*27) * (3*3) = 629,856" in pool


def test_fc_without_bias_is_the_weights_only_count():
    # EECS 498 fc6: 9216*4096 = 37,748,736 weights
    out = run("fc", "--input", "9216", "--units", "4096", "--no-bias").stdout
    assert "params = in*out = 9216*4096 = 37,748,736" in out
    out = run("fc", "--input", "9216", "--units", "4096").stdout
    assert "params = in*out + out = 9216*4096 + 4096 = 37,752,832" in out


@pytest.mark.parametrize("kernel, arithmetic, pad", [
    # seed 002: 7x7 image, stride 1, "same": P = ((7-1)*1 - (7-3))/2 = (6-4)/2 = 1 and ((7-1)*1 - (7-5))/2 = 2
    ("3", "((7-1)*1 - (7-3))/2 = (6 - 4)/2 = 1", "(7 - 3 + 2*1)/1 + 1 = 7"),
    ("5", "((7-1)*1 - (7-5))/2 = (6 - 2)/2 = 2", "(7 - 5 + 2*2)/1 + 1 = 7"),
])
def test_pad_same_from_the_seed_notes(kernel, arithmetic, pad):
    out = run("conv", "--input", "7x7x1", "--filters", "1", "--kernel", kernel, "--pad", "same").stdout
    assert f"pad same (H/W): keep H/W = 7 at stride 1 (O = N): P = ((O-1)*S - (N-F))/2 = {arithmetic}" in out
    assert f"output H/W = {pad}" in out


def test_pad_same_with_an_even_kernel_explains_the_odd_total():
    # F = 4: ((7-1)*1 - (7-4))/2 = 3/2: the 3 pixels split 1 before, 2 after
    out = run("conv", "--input", "7x7x1", "--filters", "1", "--kernel", "4", "--pad", "same").stdout
    assert "= (6 - 3)/2 = 3/2 = 1.5" in out
    assert "the total padding 3 is odd, so it cannot be split evenly: 1 before and 2 after" in out
    assert "output = 1x7x7" in out


def test_pad_same_with_stride_two():
    # O = ceil(224/2) = 112; total = (112-1)*2 - (224-7) = 222 - 217 = 5: 2 before, 3 after
    out = run("conv", "--input", "3x224x224", "--filters", "64", "--kernel", "7", "--stride", "2",
              "--pad", "same").stdout
    assert "O = ceil(N/S) = ceil(224/2) = 112" in out
    assert "= (222 - 217)/2 = 5/2 = 2.5" in out
    assert "2 before and 3 after" in out
    assert "output = 64x112x112" in out


def test_json_output():
    result = run("conv", "--input", "32x32x3", "--filters", "10", "--kernel", "5", "--pad", "2", "-f", "json")
    data = json.loads(result.stdout)
    assert (data["input"], data["read_as"]) == ([3, 32, 32], "H x W x C")
    layer = data["layer"]
    assert (layer["out_shape"], layer["params"], layer["macs"], layer["memory_bytes"], layer["receptive_field"]) == (
        [10, 32, 32], 760, 10 * 32 * 32 * 3 * 5 * 5, 10 * 32 * 32 * 4, [5, 5])
    assert "params = Cout*(Cin*Kh*Kw) + Cout = 10*(3*5*5) + 10 = 760" in data["explain"]


@pytest.mark.parametrize("args, message", [
    (["conc", "--input", "8"], "unknown layer type 'conc'; did you mean 'conv'?"),
    (["concat", "--input", "8"], "concat merges several inputs"),
    (["conv", "--input", "32x32x3", "--kernel", "3"], "conv needs --filters"),
    (["conv", "--input", "32x32x3", "--filters", "2", "--kernel", "3", "--units", "4"],
     "--units does not apply to conv"),
    (["conv", "--input", "32x32x3", "--filters", "2", "--kernel", "3x"],
     "--kernel must be a whole number, HxW or DxHxW"),
    (["conv", "--input", "32x32", "--filters", "2", "--kernel", "3"], "an image of one channel is 1x32x32"),
    (["conv", "--input", "3x2x8x8x8", "--filters", "2", "--kernel", "3"], "--input needs three sizes"),
    (["conv", "--input", "big", "--filters", "2", "--kernel", "3"], "--input must look like 32x32x3"),
    (["maxpool", "--input", "8x8x3", "--kernel", "2", "--no-bias"], "--no-bias does not apply to maxpool"),
])
def test_usage_errors_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_layer_that_cannot_be_computed_exits_1():
    result = run("conv", "--input", "3x3x3", "--filters", "2", "--kernel", "5")
    assert result.exit_code == 1
    assert "kernel 5 exceeds the padded input 3" in result.stderr


def test_rectangular_kernel_and_dilation():
    # 3x5 kernel on 1x10x10 with dilation 2: H = 10 - 2*(3-1) = 6, W = 10 - 2*(5-1) = 2
    out = run("conv", "--input", "10x10x1", "--filters", "1", "--kernel", "3x5", "--dilation", "2").stdout
    assert "output = 1x6x2" in out


def test_upsample_by_a_float_scale_with_a_mode():
    result = run("upsample", "--input", "16x7x7", "--scale", "1.5", "--mode", "bilinear")
    assert result.exit_code == 0, result.output
    assert "output shape     16x10x10" in result.stdout                  # floor(7 * 1.5) = 10
    assert "bilinear interpolation: 4 input point(s) per output element = 6,400" in result.stdout
    assert "--like" not in run("--help").stdout                           # a layer name needs a spec file


# --- every one-input type of the rule table ---------------------------------------------------------


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
    # DPN's dense part x[:, 64:96] of a 96-channel projection: channels 64 to 95
    out = ok("layer", "slice", "--input", "96x56x56", "--channels", "64x96")
    assert "output shape     32x56x56" in out and "channels 64 to 95 of 96 (x[:, 64:96]): 96 - 64 = 32 wide" in out
    # numbers and flags of other types reach their rules: lrn size, prelu one slope per channel
    assert "params           64" in ok("layer", "prelu", "--input", "64x56x56", "--no-shared")


def test_a_clip_is_read_as_c_x_d_x_h_x_w():
    # torchvision's r3d_18 stem: Conv3d(3, 64, (3, 7, 7), stride (1, 2, 2), padding (1, 3, 3), bias=False)
    data = json.loads(ok("layer", "conv", "--input", "3x16x112x112", "--filters", "64", "--kernel", "3,7,7",
                         "--stride", "1,2,2", "--pad", "1,3,3", "--no-bias", "--format", "json"))
    assert (data["input"], data["read_as"]) == ([3, 16, 112, 112], "C x D x H x W")
    layer = data["layer"]
    assert layer["out_shape"] == [64, 16, 56, 56]
    assert layer["params"] == 64 * 3 * 3 * 7 * 7 == 28224
    assert layer["macs"] == 64 * 16 * 56 * 56 * 3 * 3 * 7 * 7
    # channels last with --order hwc
    text = ok("layer", "maxpool", "--input", "8x56x56x64", "--order", "hwc", "--kernel", "1,3,3", "--stride", "1,2,2",
              "--pad", "0,1,1")
    assert "read as D x H x W x C" in text and "64x8x28x28" in text


def test_pad_same_is_solved_per_axis_of_a_clip():
    text = ok("layer", "conv", "--input", "3x8x32x32", "--filters", "4", "--kernel", "3", "--pad", "same")
    assert "pad same (D): keep D = 8 at stride 1 (O = N): P = ((O-1)*S - (N-F))/2 = ((8-1)*1 - (8-3))/2 = " \
           "(7 - 5)/2 = 1" in text
    assert "pad same (H): keep H = 32" in text and "pad same (W): keep W = 32" in text
    cube = ok("layer", "conv", "--input", "3x8x8x8", "--filters", "4", "--kernel", "3", "--pad", "same")
    assert "pad same (D/H/W): keep D/H/W = 8 at stride 1" in cube


def test_a_signal_needs_order_chw():
    # 16,000 samples, kernel 9, stride 2, size-keeping: ceil(16000 / 2) = 8,000 outputs
    text = ok("layer", "conv", "--input", "1x16000", "--order", "chw", "--filters", "8", "--kernel", "9", "--stride", "2",
              "--pad", "same")
    assert "read as C x L" in text and "8x8000" in text
