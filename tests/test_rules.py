"""Every layer type in cnncalc/rules/ against a hand-worked example written out beside it.

Conventions (README): output floor((W + 2P - D*(K-1) - 1)/S) + 1; conv params Cout*(Cin/groups)*Kh*Kw
(+Cout); MACs Cout*H'*W'*(Cin/groups)*Kh*Kw; lecture flop = MACs + C*H'*W'*Kh*Kw for pools; memory =
elements x batch x bytes; receptive field r_out = r_in + (K-1)*D*j_in, j_out = j_in*S.
"""

import ast
from fractions import Fraction

import pytest

import cnncalc
from cnncalc import rules


def run(input_shape, *layers, **options):
    """Analyse an inline spec made of ``layers`` (mappings) on ``input_shape``."""
    return cnncalc.analyze({"input": list(input_shape), "layers": list(layers)}, **options)


def one(input_shape, **layer):
    """The row of a single layer named ``x``."""
    return run(input_shape, {"name": "x", **layer}).row("x")


def spec_error(input_shape, *layers):
    with pytest.raises(cnncalc.SpecError) as caught:
        run(input_shape, *layers)
    return caught.value


# --- conv ------------------------------------------------------------------------------------------

def test_conv_plain():
    row = one((3, 32, 32), type="conv", filters=10, kernel=5, pad=2)
    assert row.out_shape == (10, 32, 32)                      # (32 - 5 + 2*2)/1 + 1 = 32
    assert row.params == 10 * 3 * 5 * 5 + 10 == 760
    assert row.macs == row.flops == 10 * 32 * 32 * 3 * 5 * 5 == 768_000
    assert row.memory_bytes == 10 * 32 * 32 * 4


def test_conv_with_groups():
    row = one((8, 16, 16), type="conv", filters=16, kernel=3, pad=1, groups=4)
    assert row.out_shape == (16, 16, 16)
    assert row.params == 16 * (8 // 4) * 3 * 3 + 16 == 304
    assert row.macs == 16 * 16 * 16 * (8 // 4) * 3 * 3 == 73_728


def test_conv_groups_must_divide_channels():
    error = spec_error((6, 8, 8), {"name": "g", "type": "conv", "filters": 8, "kernel": 1, "groups": 4})
    assert error.layer == "g" and "groups" in str(error)


def test_conv_with_dilation():
    # effective kernel D*(K-1) + 1 = 2*2 + 1 = 5: (10 - 5)/1 + 1 = 6
    row = one((1, 10, 10), type="conv", filters=1, kernel=3, dilation=2, bias=False)
    assert row.out_shape == (1, 6, 6)
    assert row.params == 3 * 3 == 9
    assert row.macs == 6 * 6 * 9 == 324
    assert row.receptive_field == (5, 5)                      # 1 + (3-1)*2*1


def test_conv_asymmetric_kernel_stride_pad():
    row = one((3, 20, 31), type="conv", filters=4, kernel=[3, 5], stride=[1, 2], pad=[1, 2])
    # H: (20 - 3 + 2*1)/1 + 1 = 20; W: (31 - 5 + 2*2)/2 + 1 = 16
    assert row.out_shape == (4, 20, 16)
    assert row.params == 4 * 3 * 3 * 5 + 4 == 184
    assert row.macs == 4 * 20 * 16 * 3 * 3 * 5 == 57_600
    assert row.receptive_field == (3, 5) and row.effective_stride == (1, 2)
    assert not row.warnings


def test_conv_four_sided_pad():
    # [top, bottom, left, right]: H (10 + 1 + 0 - 3) + 1 = 9, W (10 + 2 + 2 - 3) + 1 = 12
    row = one((1, 10, 10), type="conv", filters=1, kernel=3, pad=[1, 0, 2, 2])
    assert row.out_shape == (1, 9, 12)


def test_conv_pad_same_and_valid():
    # same: output ceil(15/2) = 8; total pad (8-1)*2 + 3 - 15 = 2, split 1 and 1
    same = one((3, 15, 15), type="conv", filters=4, kernel=3, stride=2, pad="same")
    assert same.out_shape == (4, 8, 8) and same.pad == ((1, 1), (1, 1))
    # an even size: ceil(16/2) = 8; total pad 7*2 + 3 - 16 = 1, the extra after (as TensorFlow)
    even = one((3, 16, 16), type="conv", filters=4, kernel=3, stride=2, pad="same")
    assert even.out_shape == (4, 8, 8) and even.pad == ((0, 1), (0, 1))
    # valid = no padding: (15 - 3)/2 + 1 = 7
    valid = one((3, 15, 15), type="conv", filters=4, kernel=3, stride=2, pad="valid")
    assert valid.out_shape == (4, 7, 7) and valid.pad == ((0, 0), (0, 0))


def test_conv_without_bias():
    row = one((3, 32, 32), type="conv", filters=10, kernel=5, pad=2, bias=False)
    assert row.params == 10 * 3 * 5 * 5 == 750


def test_conv_connection_table():
    # output map 0 reads input maps 0 and 1, map 1 reads map 2, map 2 reads 3, 4 and 5: 6 connections
    row = one((6, 14, 14), type="conv", filters=3, kernel=5, connections=[[0, 1], [2], [3, 4, 5]])
    assert row.out_shape == (3, 10, 10)
    assert row.params == (2 + 1 + 3) * 5 * 5 + 3 == 153
    assert row.macs == 10 * 10 * (2 + 1 + 3) * 5 * 5 == 15_000


def test_conv_connection_table_must_match_the_filters():
    error = spec_error((6, 14, 14), {"name": "c3", "type": "conv", "filters": 3, "kernel": 5,
                                     "connections": [[0], [1]]})
    assert error.layer == "c3" and "connections" in str(error)
    error = spec_error((6, 14, 14), {"name": "c3", "type": "conv", "filters": 1, "kernel": 5,
                                     "connections": [[6]]})
    assert "6" in str(error)


def test_output_size_below_one_is_an_error_naming_the_layer():
    error = spec_error((3, 4, 4), {"name": "big", "type": "conv", "filters": 1, "kernel": 5})
    assert error.layer == "big" and "exceeds" in str(error)


# --- dwconv, convtranspose -------------------------------------------------------------------------

def test_dwconv_defaults_to_one_filter_per_channel():
    row = one((32, 56, 56), type="dwconv", kernel=3, pad=1)
    assert row.out_shape == (32, 56, 56)
    assert row.params == 32 * 1 * 3 * 3 + 32 == 320
    assert row.macs == 32 * 56 * 56 * 1 * 3 * 3 == 903_168


def test_dwconv_with_stride_and_multiplier():
    row = one((32, 56, 56), type="dwconv", kernel=3, stride=2, pad=1, bias=False)
    assert row.out_shape == (32, 28, 28)                      # (56 - 3 + 2)/2 + 1 = 28.5 -> 28
    assert row.params == 32 * 9
    doubled = one((32, 8, 8), type="dwconv", filters=64, kernel=3, pad=1)
    assert doubled.params == 64 * 1 * 3 * 3 + 64 == 640      # groups 32: each filter sees 1 channel


def test_convtranspose():
    row = one((16, 7, 7), type="convtranspose", filters=8, kernel=4, stride=2, pad=1)
    assert row.out_shape == (8, 14, 14)                       # (7-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 14
    assert row.params == 16 * 8 * 4 * 4 + 8 == 2_056
    assert row.macs == 16 * 7 * 7 * 8 * 4 * 4 == 100_352      # Cin*H*W * (Cout/groups)*Kh*Kw


def test_convtranspose_output_pad():
    base = one((16, 7, 7), type="convtranspose", filters=8, kernel=3, stride=2, pad=1)
    assert base.out_shape == (8, 13, 13)                      # (7-1)*2 - 2 + 2 + 0 + 1 = 13
    padded = one((16, 7, 7), type="convtranspose", filters=8, kernel=3, stride=2, pad=1, output_pad=1)
    assert padded.out_shape == (8, 14, 14)                    # ... + 1 = 14


# --- pooling ---------------------------------------------------------------------------------------

def test_maxpool_with_pad():
    # ResNet's stem pool: (112 + 2*1 - 3)/2 + 1 = 56.5 -> 56
    row = one((64, 112, 112), type="maxpool", kernel=3, stride=2, pad=1)
    assert row.out_shape == (64, 56, 56)
    assert row.params == row.macs == 0
    assert row.flops == 64 * 56 * 56 * 3 * 3 == 1_806_336


def test_pool_stride_defaults_to_kernel():
    row = one((6, 28, 28), type="avgpool", kernel=2)
    assert row.out_shape == (6, 14, 14) and row.stride == (2, 2)
    assert row.flops == 6 * 14 * 14 * 2 * 2


def test_maxpool_ceil_mode_googlenet():
    # GoogLeNet (torchvision): 112 -> (112 - 3)/2 + 1 = 55.5: ceil_mode gives 56, floor 55
    assert one((64, 112, 112), type="maxpool", kernel=3, stride=2, ceil_mode=True).out_shape == (64, 56, 56)
    assert one((64, 112, 112), type="maxpool", kernel=3, stride=2).out_shape == (64, 55, 55)


def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding():
    # 5 wide, kernel 2, stride 2, pad 1: ceil((5 + 2 - 2)/2) + 1 = 4 windows would start at
    # -1, 1, 3, 5 (padded coordinates 0, 2, 4, 6); the last starts at 5, in the right padding
    # ((4-1)*2 >= 5 + 1), so PyTorch drops it: 3, the same as floor mode.
    assert one((1, 5, 5), type="maxpool", kernel=2, stride=2, pad=1, ceil_mode=True).out_shape == (1, 3, 3)
    # 6 wide, kernel 3, stride 2: floor (6-3)/2 + 1 = 2; ceil 3 (the last window starts at 4 < 6)
    assert one((1, 6, 6), type="avgpool", kernel=3, stride=2, ceil_mode=True).out_shape == (1, 3, 3)
    assert one((1, 6, 6), type="avgpool", kernel=3, stride=2).out_shape == (1, 2, 2)


def test_global_pools():
    for kind in ("globalavgpool", "globalmaxpool"):
        row = one((512, 7, 7), type=kind)
        assert row.out_shape == (512, 1, 1)
        assert row.flops == 512 * 7 * 7 == 25_088 and row.macs == 0


def test_adaptive_pool_windows():
    # PyTorch windows [floor(i*n/o), ceil((i+1)*n/o)): 7 -> 3 is [0,3), [2,5), [4,7): 3, 3, 3
    row = one((2, 7, 7), type="adaptiveavgpool", output=3)
    assert row.out_shape == (2, 3, 3) and row.kernel == (3, 3)
    assert row.flops == 2 * (3 + 3 + 3) * (3 + 3 + 3) == 162
    # 5 -> 3 is [0,2), [1,4), [3,5): 2, 3, 2 (largest 3); 6 -> 6 is the identity (windows of 1)
    odd = one((1, 5, 5), type="adaptivemaxpool", output=3)
    assert odd.kernel == (3, 3) and odd.flops == (2 + 3 + 2) * (2 + 3 + 2)
    same = one((256, 6, 6), type="adaptiveavgpool", output=6)
    assert same.out_shape == (256, 6, 6) and same.flops == 256 * 6 * 6


def test_adaptive_pool_non_square_output():
    row = one((4, 14, 10), type="adaptiveavgpool", output=[7, 5])
    assert row.out_shape == (4, 7, 5) and row.kernel == (2, 2)


# --- dense -----------------------------------------------------------------------------------------

def test_fc_flattens_a_map_input():
    row = one((256, 6, 6), type="fc", units=4096)
    assert row.out_shape == (4096,)
    assert row.params == 256 * 6 * 6 * 4096 + 4096 == 37_752_832
    assert row.macs == 9216 * 4096 == 37_748_736
    assert one((256, 6, 6), type="fc", units=4096, bias=False).params == 9216 * 4096


def test_fc_on_a_flat_input():
    row = one((784,), type="fc", units=10)
    assert row.out_shape == (10,) and row.params == 784 * 10 + 10


def test_flatten():
    row = one((256, 6, 6), type="flatten")
    assert row.out_shape == (9216,) and row.params == 0
    assert row.memory_bytes == 9216 * 4


# --- normalisation, activations and the rest -------------------------------------------------------

def test_bn_params_and_buffers():
    report = run((64, 56, 56), {"name": "bn", "type": "bn"})
    row = report.row("bn")
    assert row.out_shape == (64, 56, 56)
    assert row.params == 2 * 64 and row.buffers == 2 * 64   # scale+shift; running mean+var
    assert report.totals["params"] == 128 and report.totals["buffers"] == 128
    assert row.macs == 0


def test_bn_on_tokens_normalises_the_token_width():
    # LeViT-128's LinearNorm after its first qkv Linear: BatchNorm1d(256) over 196 tokens of width 256
    report = cnncalc.analyze({"input": {"tokens": [196, 256]}, "layers": [{"name": "bn", "type": "bn"}]})
    row = report.row("bn")
    assert row.out_shape == (196, 256)
    assert row.params == 2 * 256 == 512 and row.buffers == 2 * 256 == 512 and row.macs == 0


def test_lrn_dropout_identity_keep_the_shape():
    for layer in ({"type": "lrn"}, {"type": "lrn", "size": 3, "alpha": 0.001, "beta": 0.75, "k": 1},
                  {"type": "dropout"}, {"type": "dropout", "p": 0.2}, {"type": "identity"}):
        row = one((96, 27, 27), **layer)
        assert row.out_shape == (96, 27, 27) and row.params == 0 and row.macs == 0
        assert row.memory_bytes == 96 * 27 * 27 * 4


ACTIVATIONS = ("relu", "relu6", "elu", "selu", "gelu", "sigmoid", "tanh", "silu", "swish", "hardswish",
               "hardsigmoid", "mish", "softplus", "squaredrelu")


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_activation(kind):
    row = one((16, 8, 8), type=kind)
    assert row.out_shape == (16, 8, 8) and row.params == 0 and row.macs == 0
    assert row.memory_bytes == 16 * 8 * 8 * 4


def test_leakyrelu_and_prelu():
    assert one((16, 8, 8), type="leakyrelu", slope=0.2).params == 0
    assert one((16, 8, 8), type="prelu").params == 1                 # PyTorch default: one shared slope
    assert one((16, 8, 8), type="prelu", shared=False).params == 16  # one per channel


def test_inplace_act_adds_no_row():
    report = run((3, 8, 8), {"name": "c", "type": "conv", "filters": 4, "kernel": 3, "act": "relu"})
    assert [row.name for row in report.rows] == ["c"]
    assert report.row("c").act == "relu"


def test_softmax():
    row = one((1000,), type="softmax")
    assert row.out_shape == (1000,) and row.params == 0 and row.memory_bytes == 4000


def test_concat():
    report = run((16, 28, 28),
                 {"name": "a", "type": "conv", "filters": 64, "kernel": 1},
                 {"name": "b", "type": "conv", "from": "input", "filters": 32, "kernel": 3, "pad": 1},
                 {"name": "cat", "type": "concat", "from": ["a", "b"]})
    assert report.row("cat").out_shape == (64 + 32, 28, 28)
    assert report.row("cat").inputs == ["a", "b"]


def test_concat_needs_equal_spatial_sizes():
    error = spec_error((16, 28, 28),
                       {"name": "a", "type": "conv", "filters": 8, "kernel": 1},
                       {"name": "b", "type": "conv", "from": "input", "filters": 8, "kernel": 3},
                       {"name": "cat", "type": "concat", "from": ["a", "b"]})
    assert error.layer == "cat" and "8 x 28 x 28" in str(error) and "8 x 26 x 26" in str(error)


def test_add():
    report = run((64, 14, 14),
                 {"name": "a", "type": "conv", "filters": 64, "kernel": 3, "pad": 1},
                 {"name": "sum", "type": "add", "from": ["a", "input"], "act": "relu"})
    row = report.row("sum")
    assert row.out_shape == (64, 14, 14) and row.params == 0 and row.macs == 0


def test_sub_takes_two_inputs():
    # PoolFormer's token mixer: avgpool(x) - x, no params, no MACs, one op per element
    report = run((64, 14, 14),
                 {"name": "pool", "type": "avgpool", "kernel": 3, "stride": 1, "pad": 1},
                 {"name": "mixed", "type": "sub", "from": ["pool", "input"]})
    row = report.row("mixed")
    assert row.out_shape == (64, 14, 14) and row.params == 0 and row.macs == 0
    assert "sub takes two inputs" in str(spec_error((64, 14, 14), {"name": "a", "type": "identity"},
                                                   {"name": "s", "type": "sub", "from": ["a", "input", "a"]}))


def test_add_channel_mismatch():
    error = spec_error((64, 14, 14),
                       {"name": "a", "type": "conv", "filters": 32, "kernel": 1},
                       {"name": "sum", "type": "add", "from": ["a", "input"]})
    assert error.layer == "sum" and "channel mismatch" in str(error)


def test_mul_squeeze_excitation():
    report = run((64, 28, 28),
                 {"name": "squeeze", "type": "globalavgpool"},
                 {"name": "fc1", "type": "conv", "filters": 16, "kernel": 1},
                 {"name": "fc2", "type": "conv", "filters": 64, "kernel": 1},
                 {"name": "scale", "type": "mul", "from": ["input", "fc2"]})
    assert report.row("scale").out_shape == (64, 28, 28)
    assert report.row("fc1").params == 16 * 64 + 16


def test_shuffle():
    assert one((16, 8, 8), type="shuffle", groups=4).out_shape == (16, 8, 8)
    error = spec_error((16, 8, 8), {"name": "s", "type": "shuffle", "groups": 3})
    assert error.layer == "s" and "groups 3" in str(error)


def test_chunk():
    # ShuffleNet v2's split: 116 channels in two halves of 58
    assert one((116, 28, 28), type="chunk", chunks=2, index=1).out_shape == (58, 28, 28)
    error = spec_error((116, 28, 28), {"name": "c", "type": "chunk", "chunks": 2, "index": 2})
    assert error.layer == "c"


def test_chunk_as_torch_chunk_cuts_channels_it_does_not_divide():
    # torch.chunk(x, 3, dim=1) of 160 channels (EdgeNeXt-S's stage 3 split): parts of ceil(160/3) = 54, the
    # last 160 - 2*54 = 52
    assert [one((160, 16, 16), type="chunk", chunks=3, index=i).out_shape[0] for i in range(3)] == [54, 54, 52]
    # 10 in 4: parts of ceil(10/4) = 3, 3, 3, 1
    assert [one((10, 4, 4), type="chunk", chunks=4, index=i).out_shape[0] for i in range(4)] == [3, 3, 3, 1]
    # 10 in 6: parts of ceil(10/6) = 2 make 5 parts; torch.chunk gives no sixth
    error = spec_error((10, 4, 4), {"name": "c", "type": "chunk", "chunks": 6, "index": 5})
    assert error.layer == "c" and "empty" in str(error)


def test_slice_takes_a_range_of_channels():
    # DPN's x[:, :64] and x[:, 64:] of a 96-channel projection: channels 0-63 and 64-95
    assert one((96, 56, 56), type="slice", channels=[0, 64]).out_shape == (64, 56, 56)
    row = one((96, 56, 56), type="slice", channels=[64, 96])
    assert row.out_shape == (32, 56, 56) and row.params == row.macs == row.flops == 0
    assert row.memory_bytes == 32 * 56 * 56 * 4
    assert one((96, 56, 56), type="slice", channels=[10, 11]).out_shape == (1, 56, 56)
    # on tokens, features of each token's width: half of ViT-B's 768
    tokens = cnncalc.analyze({"input": {"tokens": [197, 768]},
                              "layers": [{"name": "x", "type": "slice", "channels": [0, 384]}]}).row("x")
    assert tuple(tokens.out_shape) == (197, 384)
    error = spec_error((96, 56, 56), {"name": "s", "type": "slice", "channels": [64, 100]})
    assert error.layer == "s" and "run past the input's 96 channels" in str(error)
    error = spec_error((96, 56, 56), {"name": "s", "type": "slice", "channels": [64, 64]})
    assert "is empty: start must be below stop" in str(error)
    error = spec_error((96, 56, 56), {"name": "s", "type": "slice", "channels": 64})
    assert "channels must be [start, stop]" in str(error)


def test_slice_in_a_dual_path_block():
    # timm's dpn68 conv2_1 (DualPathBlock(10, 128, 128, 64, inc=16, groups=32, 'proj')) on its 10 x 56 x 56 input:
    # BN-ReLU-conv units; the projection's 64 + 2*16 = 96 channels split 64 | 32, the bottleneck's 64 + 16 = 80
    # split 64 | 16; cat([x_s1 + out1, x_s2, out2]) is 64 + 32 + 16 = 112 channels
    spec = {"input": [10, 56, 56], "blocks": {"dual_path": {"args": {"bw": None, "inc": None, "r": None}, "layers": [
        {"name": "w.bn", "type": "bn", "act": "relu"},
        {"name": "w.conv", "type": "conv", "filters": "bw + 2 * inc", "kernel": 1, "bias": False},
        {"name": "x_s1", "type": "slice", "channels": [0, "bw"]},
        {"name": "x_s2", "type": "slice", "from": "w.conv", "channels": ["bw", "bw + 2 * inc"]},
        {"name": "a.bn", "type": "bn", "from": "input", "act": "relu"},
        {"name": "a.conv", "type": "conv", "filters": "r", "kernel": 1, "bias": False},
        {"name": "b.bn", "type": "bn", "act": "relu"},
        {"name": "b.conv", "type": "conv", "filters": "r", "kernel": 3, "pad": 1, "groups": 32, "bias": False},
        {"name": "c.bn", "type": "bn", "act": "relu"},
        {"name": "c.conv", "type": "conv", "filters": "bw + inc", "kernel": 1, "bias": False},
        {"name": "out1", "type": "slice", "channels": [0, "bw"]},
        {"name": "out2", "type": "slice", "from": "c.conv", "channels": ["bw", "bw + inc"]},
        {"name": "resid", "type": "add", "from": ["x_s1", "out1"]},
        {"name": "cat", "type": "concat", "from": ["resid", "x_s2", "out2"]}]}},
        "layers": [{"name": "conv2_1", "type": "dual_path", "bw": 64, "inc": 16, "r": 128}]}
    report = cnncalc.analyze(spec)
    assert [report.row(f"conv2_1.{n}").out_shape[0] for n in ("x_s1", "x_s2", "out1", "out2", "cat")] == [
        64, 32, 64, 16, 112]
    # BNs 2*10, 2*10, 2*128, 2*128; convs 10*96, 10*128, 128*(128/32)*3*3, 128*80
    assert report.totals["params"] == 20 + 20 + 256 + 256 + 960 + 1280 + 4608 + 10240 == 17640
    # every conv at 56 x 56 = 3,136 positions
    assert report.totals["macs"] == 3136 * (960 + 1280 + 4608 + 10240) == 53_587_968


def test_upsample():
    row = one((16, 7, 7), type="upsample")
    assert row.out_shape == (16, 14, 14) and row.params == 0
    assert one((16, 7, 5), type="upsample", scale=[2, 3]).out_shape == (16, 14, 15)


def test_upsample_scale_size_like_and_modes():
    # PyTorch: output floor(W * scale) in double; 7 * 1.5 = 10.5 -> 10
    row = one((16, 7, 7), type="upsample", scale=1.5, mode="bilinear")
    assert row.out_shape == (16, 10, 10) and row.params == row.macs == row.flops == 0
    assert row.flops_2x == 4 * 16 * 10 * 10                      # bilinear: 4 input points per output element
    assert one((16, 7, 7), type="upsample", size=[9, 14]).out_shape == (16, 9, 14)
    report = run((8, 32, 32),
                 {"name": "down", "type": "maxpool", "kernel": 2},
                 {"name": "pool", "type": "globalavgpool"},
                 {"name": "up", "type": "upsample", "like": "down", "mode": "bicubic"})
    up = report.row("up")
    assert up.out_shape == (8, 16, 16) and up.inputs == ["pool"]  # like is read, not an input
    assert up.elementwise == 16 * 8 * 16 * 16
    assert one((4, 100), type="upsample", scale=3, mode="linear").out_shape == (4, 300)
    error = spec_error((4, 8, 8), {"name": "u", "type": "upsample", "mode": "trilinear"})
    assert error.layer == "u" and "3-D" in str(error)
    error = spec_error((4, 8, 8), {"name": "u", "type": "upsample", "like": "nowhere"})
    assert error.layer == "u" and "'like' names an unknown layer 'nowhere'" in str(error)


def test_like_comes_from_the_same_scope_as_from_inside_a_block():
    spec = {"input": [3, 64, 64],
            "blocks": {"down_up": {"layers": [{"name": "a", "type": "conv", "filters": 4, "kernel": 3},
                                              {"name": "b", "type": "maxpool", "kernel": 2},
                                              {"name": "c", "type": "upsample", "like": "a"}]}},
            "layers": [{"name": "x", "type": "down_up"}, {"name": "p", "type": "maxpool", "kernel": 2},
                       {"name": "y", "type": "upsample", "like": "x"}]}
    report = cnncalc.analyze(spec)
    assert report.row("x.c").out_shape == (4, 62, 62)           # the size of x.a
    assert report.row("y").out_shape == (4, 62, 62)             # x is the block's output, x.c
    spec["layers"].append({"name": "z", "type": "crop", "from": "y", "like": "x.b"})   # a layer inside x
    assert cnncalc.analyze(spec).row("z").out_shape == (4, 31, 31)


def test_like_takes_a_layer_passed_to_a_block():
    spec = {"input": [3, 64, 64],
            "blocks": {"up": {"args": {"skip": None},
                              "layers": [{"name": "u", "type": "upsample", "like": "skip"}]}},
            "layers": [{"name": "enc", "type": "conv", "filters": 4, "kernel": 3},
                       {"name": "pool", "type": "maxpool", "kernel": 2},
                       {"name": "dec", "type": "up", "skip": "enc"}]}
    assert cnncalc.analyze(spec).row("dec.u").out_shape == (4, 62, 62)


# --- norms, scale, linear ------------------------------------------------------------------------

def test_layernorm_groupnorm_instancenorm_scale():
    # LayerNorm(96): weight and bias of 96 -> 192 params, no buffers
    row = one((96, 56, 56), type="layernorm")
    assert row.params == 192 and row.buffers == 0 and row.out_shape == (96, 56, 56)
    assert one((768,), type="layernorm").params == 2 * 768       # a flat input: over the features
    # GroupNorm(32, 256): 512 params
    assert one((256, 14, 14), type="groupnorm", groups=32).params == 512
    error = spec_error((30, 4, 4), {"name": "g", "type": "groupnorm", "groups": 32})
    assert error.layer == "g" and "groups 32 must divide the 30 channels" in str(error)
    # InstanceNorm2d(64): affine=False, track_running_stats=False by default -> nothing
    plain = one((64, 32, 32), type="instancenorm")
    assert plain.params == 0 and plain.buffers == 0
    full = one((64, 32, 32), type="instancenorm", affine=True, track_running_stats=True)
    assert full.params == 128 and full.buffers == 128
    # ConvNeXt layer scale: one gamma per channel
    assert one((96, 56, 56), type="scale").params == 96


def test_layernorm_without_a_bias_counts_its_scale_only():
    # timm's LayerNorm2d with bias=False (CAFormer's norms) on 64 channels: the scale, 64; with the bias 2*64 = 128
    assert one((64, 56, 56), type="layernorm", bias=False).params == 64
    assert one((64, 56, 56), type="layernorm", bias=False, affine=False).params == 0


def test_grn_worked_by_hand():
    # ConvNeXt V2's GRN on 160 x 56 x 56 (convnextv2_atto's first stage): gamma and beta, 2*160 = 320 params,
    # no buffers, no MACs (elementwise work only)
    row = one((160, 56, 56), type="grn")
    assert (row.params, row.buffers, row.macs, row.out_shape) == (320, 0, 0, (160, 56, 56))
    # 6 ops per element (square, sum, x*Nx, gamma*, +beta, +x) and 3 per channel (sqrt, mean, divide):
    # 6*160*56*56 + 3*160 = 3,010,560 + 480
    assert row.elementwise == 3_011_040
    # every output sees its channel's whole 56 x 56 map: 1 + (56-1)*1; the stride is kept
    assert row.receptive_field == (56, 56)
    error = spec_error((3, 8, 8), {"name": "f", "type": "flatten"}, {"name": "g", "type": "grn"})
    assert error.layer == "g" and "grn needs a C x H x W input" in str(error)


def test_starrelu_worked_by_hand():
    # MetaFormer's StarReLU on 128 x 56 x 56: the learned scale s and bias b, one value each; no MACs;
    # relu, square, scale and bias: 4*128*56*56 ops
    row = one((128, 56, 56), type="starrelu")
    assert (row.params, row.macs, row.out_shape) == (2, 0, (128, 56, 56))
    assert row.elementwise == 4 * 128 * 56 * 56 == 1_605_632


def test_scale_with_a_bias_and_shift_on_a_map_and_on_tokens():
    # ResMLP-12's Affine (timm: alpha and beta, each 1 x 1 x 384) on its 196 tokens of width 384: 2*384 params,
    # a multiply and an add per element (elementwise 2*196*384), no MACs
    def on_tokens(**layer):
        return cnncalc.analyze({"input": {"tokens": [196, 384]}, "layers": [{"name": "x", **layer}]}).row("x")

    affine = on_tokens(type="scale", bias=True)
    assert (affine.params, affine.macs, affine.elementwise) == (768, 0, 150_528)
    assert affine.out_shape == (196, 384)
    # a learned vector added on its own (one value per channel): 96 params on a 96 x 56 x 56 map, 56*56*96 adds
    shift = one((96, 56, 56), type="shift")
    assert (shift.params, shift.macs, shift.elementwise, shift.out_shape) == (96, 0, 301_056, (96, 56, 56))
    assert on_tokens(type="shift").params == 384


def test_linear_on_a_map_acts_on_the_channels_at_each_position():
    # ConvNeXt's pwconv1 = Linear(96, 384) on channels-last 56x56
    row = one((96, 56, 56), type="linear", units=384)
    assert row.out_shape == (384, 56, 56)
    assert row.params == 96 * 384 + 384 == 37_248
    assert row.macs == 56 * 56 * 96 * 384 == 115_605_504
    flat = one((512,), type="linear", units=10, bias=False)
    assert flat.out_shape == (10,) and flat.params == 5120 and flat.macs == 5120



def test_linear_over_tokens_mixes_the_tokens_for_each_feature():
    # MLP-Mixer-B/16's token MLP: Linear(196, 384), GELU, Linear(384, 196) on the transposed 196 x 768 tokens
    report = cnncalc.analyze({"input": {"tokens": [196, 768]}, "layers": [
        {"name": "fc1", "type": "linear", "units": 384, "over": "tokens", "act": "gelu"},
        {"name": "fc2", "type": "linear", "units": 196, "over": "tokens"}]})
    fc1, fc2 = report.row("fc1"), report.row("fc2")
    assert fc1.out_shape == (384, 768) and fc2.out_shape == (196, 768)
    assert fc1.params == 196 * 384 + 384 == 75_648 and fc2.params == 384 * 196 + 196 == 75_460
    assert fc1.macs == 768 * 196 * 384 == 57_802_752 and fc2.macs == 768 * 384 * 196
    error = spec_error((96, 56, 56), {"name": "t", "type": "linear", "units": 8, "over": "tokens"})
    assert error.layer == "t" and "over: tokens needs tokens (N x D), but the input is 96 x 56 x 56" in str(error)

# --- pixel shuffle, crop, pad --------------------------------------------------------------------

def test_pixelshuffle_and_unshuffle():
    # PixelShuffle(3) on 9x64x64 -> 1x192x192
    row = one((9, 64, 64), type="pixelshuffle", factor=3)
    assert row.out_shape == (1, 192, 192) and row.params == 0
    assert one((1, 192, 192), type="pixelunshuffle", factor=3).out_shape == (9, 64, 64)
    assert "multiple of factor^2 = 9" in str(spec_error((8, 4, 4), {"type": "pixelshuffle", "factor": 3}))
    assert "factor 3 must divide" in str(spec_error((1, 8, 9), {"type": "pixelunshuffle", "factor": 3}))
    assert "2-D or 3-D maps only" in str(spec_error((9, 64), {"type": "pixelshuffle", "factor": 3}))


def test_pixel_unshuffle_of_a_clip_by_one_factor_per_axis():
    """The 3-D Swin's patch merging: each 2x2 neighbourhood of every frame into 4C channels, T kept."""
    row = one((96, 8, 56, 56), type="pixelunshuffle", factor=[1, 2, 2])
    assert row.out_shape == (96 * 1 * 2 * 2, 8, 28, 28) == (384, 8, 28, 28) and row.params == row.macs == 0
    assert one((384, 8, 28, 28), type="pixelshuffle", factor=[1, 2, 2]).out_shape == (96, 8, 56, 56)
    assert one((8, 4, 6, 6), type="pixelunshuffle", factor=2).out_shape == (64, 2, 3, 3)  # one number: every axis
    assert "factor 1x2x2 must divide the map 8 x 7 x 56" in str(
        spec_error((96, 8, 7, 56), {"type": "pixelunshuffle", "factor": [1, 2, 2]}))
    assert "multiple of 1*2*2 = 4" in str(spec_error((6, 8, 7, 7), {"type": "pixelshuffle", "factor": [1, 2, 2]}))
    assert "has 2 entries" in str(spec_error((96, 8, 56, 56), {"type": "pixelunshuffle", "factor": [2, 2]}))


def test_pixelshuffle_receptive_field_is_fractional_like_upsample():
    report = run((4, 8, 8), {"name": "c", "type": "conv", "filters": 4, "kernel": 3, "pad": 1},
                 {"name": "ps", "type": "pixelshuffle", "factor": 2})
    assert report.row("ps").receptive_field == (3, 3)
    assert report.row("ps").effective_stride == (Fraction(1, 2),) * 2  # 1/r


def test_crop_centre_size_like_and_offset():
    # U-Net: the 64 x 568 x 568 skip cropped to the 392 x 392 of the upsampled path; start (568-392)//2 = 88
    report = run((64, 568, 568),
                 {"name": "skip", "type": "identity"},
                 {"name": "small", "type": "adaptiveavgpool", "output": 392},
                 {"name": "crop", "type": "crop", "from": "skip", "like": "small"})
    assert report.row("crop").out_shape == (64, 392, 392)
    assert one((3, 10, 12), type="crop", size=[4, 6], offset=[6, 6]).out_shape == (3, 4, 6)
    error = spec_error((3, 10, 10), {"name": "c", "type": "crop", "size": 6, "offset": 5})
    assert error.layer == "c" and "cannot crop H/W" not in str(error) and "from 5" in str(error)
    assert "needs 'size' or 'like'" in str(spec_error((3, 10, 10), {"type": "crop"}))


def test_pad_spatial_and_channels():
    assert one((3, 10, 10), type="pad", pad=1).out_shape == (3, 12, 12)
    assert one((3, 10, 10), type="pad", pad=[1, 0, 2, 3]).out_shape == (3, 11, 15)   # top, bottom, left, right
    # ResNet option A: stride-2 subsample then planes//4 zero channels on each side: 16 -> 32
    row = one((16, 16, 16), type="pad", channels=[8, 8])
    assert row.out_shape == (32, 16, 16) and row.params == 0
    assert one((16, 16, 16), type="pad", channels=16).out_shape == (32, 16, 16)       # a total


# --- 1-D and 3-D ---------------------------------------------------------------------------------

def test_conv1d_audio():
    # Conv1d(1, 128, 80, stride=4) on 1 x 8000: (8000 - 80)/4 + 1 = 1981; params 128*1*80 + 128
    row = one((1, 8000), type="conv", filters=128, kernel=80, stride=4)
    assert row.out_shape == (128, 1981)
    assert row.params == 10_368
    assert row.macs == 128 * 1981 * 80
    assert row.receptive_field == (80,) and row.effective_stride == (4,)
    assert one((128, 1981), type="maxpool", kernel=4).out_shape == (128, 495)
    assert one((128, 495), type="globalavgpool").out_shape == (128, 1)


def test_conv3d():
    # Conv3d(3, 64, 3, padding=1) on 3 x 16 x 112 x 112
    row = one((3, 16, 112, 112), type="conv", filters=64, kernel=3, pad=1)
    assert row.out_shape == (64, 16, 112, 112)
    assert row.params == 64 * 3 * 27 + 64 == 5_248
    assert row.macs == 64 * 16 * 112 * 112 * 3 * 27
    assert row.receptive_field == (3, 3, 3)
    # C3D's pool1 is 1x2x2, pool2 2x2x2
    assert one((64, 16, 112, 112), type="maxpool", kernel=[1, 2, 2]).out_shape == (64, 16, 56, 56)
    assert one((8, 4, 6, 6), type="adaptiveavgpool", output=[1, 2, 3]).out_shape == (8, 1, 2, 3)
    assert one((8, 4, 6, 6), type="convtranspose", filters=2, kernel=2, stride=2).out_shape == (2, 8, 12, 12)


def test_a_kernel_list_of_the_wrong_rank_names_the_layer():
    error = spec_error((1, 8000), {"name": "c", "type": "conv", "filters": 4, "kernel": [3, 3]})
    assert error.layer == "c" and error.key == "kernel"
    assert "kernel [3, 3] has 2 entries, but the input 1 x 8000 is 1-D (L)" in str(error)


# --- act parameters, type suggestions, the pool pad, transposed receptive field -----------------

def test_act_with_a_parameter():
    row = one((3, 8, 8), type="conv", filters=4, kernel=3, act={"leakyrelu": 0.1})
    assert row.act == "leakyrelu(0.1)" and row.flops_2x == 2 * row.macs + 2 * 4 * 6 * 6
    assert "takes no parameter" in str(spec_error((3, 8, 8), {"type": "bn", "act": {"relu": 1}}))


@pytest.mark.parametrize("written, meant", [("Conv2d", "conv"), ("Conv1d", "conv"), ("Linear", "linear"),
                                            ("BatchNorm2d", "bn"), ("batchnorm", "bn"), ("LayerNorm", "layernorm"),
                                            ("MaxPool2d", "maxpool"), ("ReLU", "relu"), ("dense", "fc"),
                                            ("ConvTranspose2d", "convtranspose"), ("PixelShuffle", "pixelshuffle"),
                                            ("AdaptiveAvgPool2d", "adaptiveavgpool"), ("Upsample", "upsample")])
def test_framework_names_are_suggested_not_accepted(written, meant):
    error = spec_error((3, 8, 8), {"name": "x", "type": written})
    assert f"unknown layer type '{written}'; did you mean '{meant}'?" in str(error)


def test_both_pools_take_pad_same_as_tensorflow():
    for kind in ("maxpool", "avgpool"):
        row = one((8, 15, 15), type=kind, kernel=3, stride=2, pad="same")
        assert row.out_shape == (8, 8, 8) and row.pad == ((1, 1), (1, 1))   # ceil(15/2)


def test_convtranspose_receptive_field_counts_dilation():
    # an output position reads floor((K-1)*D/S) + 1 inputs: K 3, D 2, S 1 -> 5 (was 3 without dilation)
    row = one((4, 8, 8), type="convtranspose", filters=4, kernel=3, dilation=2)
    assert row.receptive_field == (5, 5)
    assert one((4, 8, 8), type="convtranspose", filters=4, kernel=4, stride=2).receptive_field == (2, 2)


# --- attention and tokens (ViT-B/16's figures: torch's nn.MultiheadAttention(768, 12) holds in_proj 3*768*768
# + 3*768 and out_proj 768*768 + 768; more in tests/test_attention.py) -----------------------------------------

def test_vit_tokens_class_token_position_embedding_and_attention_by_hand():
    report = cnncalc.analyze({"input": [3, 224, 224], "layers": [
        {"name": "patch", "type": "conv", "filters": 768, "kernel": 16, "stride": 16},
        {"name": "tok", "type": "tokens"},
        {"name": "cls", "type": "classtoken"},
        {"name": "pos", "type": "posembed"},
        {"name": "att", "type": "attention", "heads": 12},
        {"name": "out", "type": "taketoken"}]})
    assert report.row("tok").out_shape == (196, 768)
    assert report.row("cls").out_shape == (197, 768) and report.row("cls").params == 768
    assert report.row("pos").params == 197 * 768 == 151_296
    att = report.row("att")
    assert att.params == 3 * 768 * 768 + 3 * 768 + 768 * 768 + 768 == 2_362_368
    # Q,K,V 197*768*2304, QK^T and AV 12*197*197*64 each, output projection 197*768*768
    assert att.macs == 348_585_984 + 2 * 29_805_312 + 116_195_328 == 524_391_936
    assert att.receptive_field == (224, 224)  # every token sees every patch
    assert report.row("out").out_shape == (768,)


def test_fourier_position_encoding_counts_its_projection():
    # EdgeNeXt-S's stages.1.blocks.2.pos_embd (PositionalEncodingFourier(hidden_dim=32, dim=96)) on 32 x 32 = 1,024
    # tokens: Conv2d(64, 96, 1) on the sine/cosine grid. params 64*96 + 96; MACs 1024*64*96. PyTorch (timm
    # 1.0, FlopCounterMode / 2 of the model's forward): 6,240 params, 6,291,456 MACs.
    row = cnncalc.analyze({"input": {"tokens": [1024, 96]}, "layers": [{"name": "x", "type": "posembed",
                                                                        "fourier": 32}]}).row("x")
    assert (row.out_shape, row.params, row.macs) == ((1024, 96), 64 * 96 + 96, 1024 * 64 * 96) == (
        (1024, 96), 6_240, 6_291_456)
    # on a map: H*W positions; a learned embedding is every element
    assert one((96, 32, 32), type="posembed", fourier=32).macs == 6_291_456
    assert one((96, 32, 32), type="posembed").params == 96 * 32 * 32


def test_mean_of_tokens_untokens_and_matmul_by_hand():
    report = cnncalc.analyze({"input": {"tokens": [49, 96]}, "layers": [
        {"name": "q", "type": "linear", "units": 32},
        {"name": "k", "type": "linear", "units": 32, "from": "input"},
        {"name": "qk", "type": "matmul", "from": ["q", "k"], "transpose": True},
        {"name": "map", "type": "untokens", "from": "input"},
        {"name": "mean", "type": "meantokens", "from": "input"}]})
    assert report.row("q").macs == 49 * 96 * 32 and report.row("q").out_shape == (49, 32)
    assert report.row("qk").out_shape == (49, 49) and report.row("qk").macs == 49 * 49 * 32
    assert report.row("map").out_shape == (96, 7, 7)
    assert report.row("mean").out_shape == (96,) and report.row("mean").flops == 49 * 96


def test_linear_cost_attentions_by_hand():
    # timm 1.0's LinearSelfAttention(64) (mobilevitv2_050's stages.2.1.transformer.0.attn) on 1 x 64 x 4 x 256,
    # torch 2.14.1 FlopCounterMode / 2: 12,648,448 MACs; 12,545 params
    row = one((64, 32, 32), type="separableattention", patch=2)
    assert (row.params, row.macs) == (64 * 129 + 129 + 64 * 64 + 64, 1024 * (64 * 129 + 64 * 64)) == (12545, 12648448)
    # efficientvit_b0's LiteMLA on 14 x 14, 8 heads of 16: FlopCounterMode's aten.bmm 852,992 MACs
    row = one((384, 14, 14), type="linearattention", heads=8)
    assert (row.out_shape, row.params, row.macs) == ((128, 14, 14), 0, 2 * 8 * 16 * 17 * 196) == ((128, 14, 14), 0,
                                                                                                   852992)


def test_subsample_takes_every_other_pixel_with_no_work():
    # ResNet option A (He et al. 2015): x[:, :, ::2, ::2] of 16 x 32 x 32 is 16 x 16 x 16; of 7 pixels, 4
    report = run((16, 32, 7), {"name": "s", "type": "subsample", "stride": 2})
    row = report.row("s")
    assert row.out_shape == (16, 16, 4)
    assert (row.params, row.macs, row.flops, row.elementwise) == (0, 0, 0, 0)


def types_tested_here():
    """The layer types the tests of this file compute, read from its source (so the answer is the same
    whichever tests run): ``type="NAME"`` and ``{"type": "NAME"}``, and the strings a loop or parametrize
    feeds to ``type=VARIABLE``."""
    tree = ast.parse(open(__file__, encoding="utf-8").read())
    constants = {node.targets[0].id: node.value for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}

    def strings(node):
        node = constants.get(node.id, node) if isinstance(node, ast.Name) else node
        return {item.value for item in ast.walk(node) if isinstance(item, ast.Constant) and isinstance(item.value, str)}

    found, variables = set(), set()
    for node in ast.walk(tree):
        values = []
        if isinstance(node, ast.Call):
            values = [keyword.value for keyword in node.keywords if keyword.arg == "type"]
        elif isinstance(node, ast.Dict):
            values = [value for key, value in zip(node.keys, node.values)
                      if isinstance(key, ast.Constant) and key.value == "type"]
        for value in values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
            elif isinstance(value, ast.Name):
                variables.add(value.id)
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                and node.target.id in variables:
            found |= strings(node.iter)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "parametrize" and len(node.args) == 2 \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in variables:
            found |= strings(node.args[1])
    return found


def test_every_registered_rule_has_a_test_here():
    untested = set(rules.RULES) - types_tested_here()
    assert not untested, f"layer types without a hand-worked test in tests/test_rules.py: {sorted(untested)}"


# --- the flooring warning --------------------------------------------------------------------------

def test_window_that_does_not_tile_warns_with_the_fraction():
    # CS231n: 7x7 input, 3x3 filter, stride 3: (7 - 3)/3 + 1 = 2.33 "doesn't fit"; PyTorch floors to 2
    report = run((1, 7, 7), {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "stride": 3})
    row = report.row("c")
    assert row.out_shape == (1, 2, 2)
    assert len(row.warnings) == 1
    text = row.warnings[0]
    assert "(7 - 3 + 2*0)/3 + 1" in text and "2.33" in text and "-> 2" in text and "floored" in text
    assert report.warnings == [("c", text)]


def test_only_dropped_real_input_warns():
    # 3x3/2 pad 1 on 112: (112 - 3 + 2)/2 + 1 = 56.5 -> 56, but only the right padding is left unread
    quiet = one((64, 112, 112), type="conv", filters=64, kernel=3, stride=2, pad=1)
    assert quiet.out_shape == (64, 56, 56) and quiet.warnings == [] and not quiet.fits
    # ResNet's stem: 7x7/2 pad 3 on 224 (229/2 = 114.5), a 1x1/2 shortcut on 56 (it skips a column by design)
    assert one((3, 224, 224), type="conv", filters=64, kernel=7, stride=2, pad=3).warnings == []
    assert one((64, 56, 56), type="conv", filters=128, kernel=1, stride=2).warnings == []
    # AlexNet at 227: pool1 3x3/2 on 56 leaves the last real column unread
    assert one((64, 56, 56), type="maxpool", kernel=3, stride=2).warnings


def test_explain_shows_the_floor_when_only_padding_is_dropped():
    report = run((64, 112, 112), {"name": "c", "type": "conv", "filters": 8, "kernel": 3, "stride": 2, "pad": 1},
                 explain=["c"])
    sizes = [text for quantity, text in report.row("c").explain if quantity == "size"]
    assert sizes == ["output H/W = (112 - 3 + 2*1)/2 + 1 = 56.5 -> 56 (floored): only padding or skipped input "
                     "is left"]


def test_window_that_tiles_has_no_warning():
    # stride 2: (7 - 3)/2 + 1 = 3 exactly
    assert one((1, 7, 7), type="conv", filters=1, kernel=3, stride=2).warnings == []


# --- receptive field and effective stride -----------------------------------------------------------

def test_receptive_field_through_a_chain():
    report = run((3, 32, 32),
                 {"name": "c1", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
                 {"name": "c2", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
                 {"name": "pool", "type": "maxpool", "kernel": 2},
                 {"name": "c3", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
                 {"name": "c4", "type": "conv", "filters": 8, "kernel": 3, "stride": 2, "pad": 1, "dilation": 2})
    fields = {row.name: (row.receptive_field[0], row.effective_stride[0]) for row in report.rows}
    assert fields == {
        "c1": (3, 1),                    # 1 + (3-1)*1 = 3, j = 1
        "c2": (5, 1),                    # 3 + (3-1)*1 = 5
        "pool": (6, 2),                  # 5 + (2-1)*1 = 6, j = 1*2 = 2
        "c3": (10, 2),                   # 6 + (3-1)*2 = 10
        "c4": (18, 4),                   # 10 + (3-1)*2*2 = 18, j = 2*2 = 4
    }


def test_receptive_field_through_a_merge_takes_the_largest():
    report = run((3, 32, 32),
                 {"name": "a", "type": "conv", "filters": 4, "kernel": 1},
                 {"name": "b1", "type": "conv", "from": "input", "filters": 4, "kernel": 3, "pad": 1},
                 {"name": "b2", "type": "conv", "filters": 4, "kernel": 3, "pad": 1},
                 {"name": "cat", "type": "concat", "from": ["a", "b2"]},
                 {"name": "sum", "type": "add", "from": ["b2", "a"]})
    assert report.row("a").receptive_field == (1, 1)
    assert report.row("b2").receptive_field == (5, 5)    # 1 + 2 + 2
    assert report.row("cat").receptive_field == (5, 5)
    assert report.row("sum").receptive_field == (5, 5)


def test_global_pool_sees_the_whole_map():
    # after a stride-2 conv the map is 16 wide with j = 2: a global pool adds (16-1)*2 = 30
    report = run((3, 32, 32),
                 {"name": "c", "type": "conv", "filters": 4, "kernel": 3, "stride": 2, "pad": 1},
                 {"name": "gap", "type": "globalavgpool"})
    assert report.row("c").out_shape == (4, 16, 16)
    assert report.row("gap").receptive_field == (3 + 15 * 2,) * 2


# --- memory, batch, dtype and --input --------------------------------------------------------------

@pytest.mark.parametrize("dtype, size", [("fp32", 4), ("fp16", 2), ("bf16", 2), ("int8", 1), ("fp64", 8)])
def test_memory_with_batch_and_dtype(dtype, size):
    report = run((3, 224, 224), {"name": "c", "type": "conv", "filters": 64, "kernel": 3, "pad": 1},
                 batch=8, dtype=dtype)
    assert report.row("c").memory_bytes == 64 * 224 * 224 * 8 * size
    assert report.totals["memory_bytes"] == 64 * 224 * 224 * 8 * size
    assert report.totals["params"] == 64 * 27 + 64                  # params do not scale with batch


def test_unknown_dtype_and_bad_batch_are_usage_errors():
    layer = {"type": "relu"}
    for options in ({"dtype": "fp8"}, {"batch": 0}):
        with pytest.raises(cnncalc.CnnCalcError) as caught:
            run((3, 8, 8), layer, **options)
        assert caught.value.exit_code == 2


def test_input_side_means_a_square_with_the_specs_channels():
    spec = {"input": [1, 32, 32], "layers": [{"name": "c", "type": "conv", "filters": 6, "kernel": 5}]}
    assert cnncalc.analyze(spec, input=224).input == (1, 224, 224)
    assert cnncalc.analyze(spec, input="224").row("c").out_shape == (6, 220, 220)   # 224 - 5 + 1
    assert cnncalc.analyze(spec, input="64x48").input == (1, 64, 48)                # H x W
    assert cnncalc.analyze(spec, input="3x64x64").input == (3, 64, 64)              # C x H x W
    assert cnncalc.analyze(spec, input=(3, 40, 40)).row("c").params == 6 * 3 * 25 + 6


def test_like_must_name_an_earlier_layer():
    error = spec_error((3, 8, 8), {"name": "up", "type": "upsample", "like": "later"},
                       {"name": "later", "type": "relu"})
    assert error.layer == "up" and "'like' names 'later', which comes later" in str(error)
    error = spec_error((3, 8, 8), {"name": "c", "type": "crop", "size": 4, "like": "input"})
    assert "give one of size or like, not both" in str(error)
