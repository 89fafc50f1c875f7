"""EfficientFormerV2's attention (timm's efficientformer_v2.py Attention2d): ``v_local``, and ``norm: bn`` without
the output projection.

Reference figures (tools/modern_onnx_reference.txt's efficientformerv2_s0 and its stage-2 Attention2d, timm 1.0 /
torch 2.14.1, params = sum(p.numel()), MACs = FlopCounterMode total / 2): Attention2d(96, key_dim=32, num_heads=8,
attn_ratio=4, resolution=7) has 264,632 params and 7,911 buffers; of those its stride conv (a depthwise 3x3 conv
with bias and BatchNorm on the 96 channels: 96*9 + 96 + 2*96 = 1,152 params, 192 buffers, 6 num_batches_tracked)
and its output projection (a 1x1 conv 1024 -> 96 with bias and BatchNorm: 1024*96 + 96 + 2*96 = 98,592 params,
192 buffers) are ordinary layers here, so the attention layer is 264,632 - 1,152 - 98,592 = 164,888 params and
7,911 - 6 - 192 - 192 = 7,521 buffers; its QK^T and AV are 3,073,280 MACs. Stage 4's Attention2dDownsample(96,
key_dim=16, num_heads=8, attn_ratio=4, resolution=14) has 175,344 params and 12,521 buffers; less its output
projection (a 1x1 conv 512 -> 176 with bias and BatchNorm: 512*176 + 176 + 2*176 = 90,640 params, 352 buffers, 5
num_batches_tracked), 84,704 and 12,164; its QK^T and AV are 6,146,560 MACs.
"""

import pytest

import cnncalc
from cnncalc.errors import SpecError


def one(input, **keys):
    spec = {"input": input, "layers": [{"name": "x", **keys}]}
    return cnncalc.analyze(spec, explain=True).row("x")


def test_efficientformerv2_s0_stage_two_attention_is_timms():
    row = one([96, 7, 7], type="attention", heads=8, dim=1024, key_dim=32, proj=False, norm="bn", v_local=3,
              talking_heads=True, window=7, position="offsets")
    assert (row.params, row.buffers) == (164_888, 7_521)
    assert row.out_shape == (1024, 7, 7)
    # q, k 49 positions * 96*256 each, v 49*96*1024 = 7,225,344; QK^T + AV 3,073,280 (the reference's); talking
    # heads 2 * 8*8*49*49 = 307,328; v_local 49 positions * 1024 channels * 3*3 = 451,584
    assert row.macs == 7_225_344 + 3_073_280 + 307_328 + 451_584
    assert any(text.startswith("v_local: a depthwise 3x3 conv") for _, text in row.explain)


def test_v_local_without_batchnorm_counts_the_conv_alone():
    # 2 heads of 4 on a 4 x 2 x 2 map: q/k/v 4*12 + 12 = 60; v_local 3*3*4 + 4 = 40, no BatchNorm
    row = one([4, 2, 2], type="attention", heads=2, proj=False, v_local=3)
    assert (row.params, row.buffers) == (60 + 40, 0)
    # q/k/v 4 positions * 4*12 = 192; QK^T and AV 2 heads*4*4*2 = 64 each; v_local 4 positions * 4 * 3*3 = 144
    assert row.macs == 192 + 64 + 64 + 144


def test_efficientformerv2_s0_downsample_attention_is_timms():
    row = one([96, 14, 14], type="attention", heads=8, dim=512, key_dim=16, proj=False, norm="bn", v_local=3,
              queries="local", stride=2, position="offsets")
    assert (row.params, row.buffers) == (84_704, 12_164)
    assert row.out_shape == (512, 7, 7)  # the 49 queries' map
    # LocalGlobalQuery's conv 49 queries * 96 channels * 9 = 42,336; q 49*96*128 = 602,112; k 196*96*128 =
    # 2,408,448; v 196*96*512 = 9,633,792; QK^T + AV 6,146,560 (the reference's); v_local 49*512*9 = 225,792
    assert row.macs == 42_336 + 602_112 + 2_408_448 + 9_633_792 + 6_146_560 + 225_792


def test_local_queries_need_a_map_and_a_stride():
    with pytest.raises(SpecError, match="queries: local needs a map"):
        one([8, 4, 4], type="attention", heads=2, queries="local")


def test_v_local_needs_a_map():
    with pytest.raises(SpecError, match="v_local needs a map"):
        one({"tokens": [4, 8]}, type="attention", heads=2, v_local=3)
