"""Attention, tokens and matmul: shapes, params, MACs, memory, and how they are shown and graded.

Reference figures: torchvision 0.29.1 / torch 2.14.1 measured by tools/transformer_reference.py
(tools/transformer_reference.txt: FlopCounterMode / 2 with grad enabled and the math attention kernel;
params = sum(p.numel()), buffers = sum(b.numel())): vit_b_16's encoder_layer_0.self_attention
(nn.MultiheadAttention(768, 12)) is 524,391,936 MACs and 2,362,368 params; swin_t's features.1.0.attn
(ShiftedWindowAttention(96, [7, 7], [0, 0], 3)) 145,108,992 MACs, 37,755 params, 2,401 buffers; swin_v2_t's
features.1.0.attn (ShiftedWindowAttentionV2(96, [8, 8], [0, 0], 3)) 201,902,592 MACs, 40,323 params,
4,546 buffers, of which its cpb_mlp 576,000 MACs and 3,072 params. MViT (torchvision 0.29.1, measured the
same way on one MultiscaleAttention at 1 + 8*56*56 tokens): mvit_v1_b's blocks.0.attn 2,820,028,608 MACs and
42,816 params, blocks.1.attn 6,834,119,040 MACs and 156,576 params; mvit_v2_s's blocks.0.attn 2,938,042,560
MACs and 68,352 params, blocks.1.attn 5,490,149,760 MACs and 113,280 params.
"""

import json
import os

import pytest

import cnncalc
from cnncalc.errors import SpecError
from cli_runner import invoke, ok

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "examples")


def one(input, **keys):
    spec = {"input": input, "layers": [{"name": "x", **keys}]}
    return cnncalc.analyze(spec, explain=True).row("x")


def test_vit_self_attention_is_torchs_multihead_attention():
    row = one({"tokens": [197, 768]}, type="attention", heads=12)
    assert (row.out_shape, row.params, row.buffers, row.macs) == ((197, 768), 2362368, 0, 524391936)


def test_swin_window_attention_is_torchvisions():
    row = one([96, 56, 56], type="attention", heads=3, window=7, shift=3, position="relative")
    assert (row.out_shape, row.params, row.buffers, row.macs) == ((96, 56, 56), 37755, 2401, 145108992)
    assert row.kernel == (7, 7) and row.heads == 3


def test_video_swin_window_attention_in_windows_of_t_h_w():
    # torchvision's swin3d_t features.0.0.attn: ShiftedWindowAttention3d(96, [8, 7, 7], [0, 3, 3], 3) on the 8 x 56 x
    # 56 map of a 16 x 224 x 224 clip: (8/8)*(56/7)*(56/7) = 64 windows of 8*7*7 = 392 positions, 3 heads of 32
    row = one([96, 8, 56, 56], type="attention", heads=3, window=[8, 7, 7], shift=[0, 3, 3], position="relative")
    # qkv 96*288 + 288, proj 96*96 + 96; the table (2*8-1)*(2*7-1)*(2*7-1) = 2,535 offsets x 3 heads
    assert row.params == 96 * 288 + 288 + 96 * 96 + 96 + 2535 * 3 == 44853
    assert row.buffers == 392 * 392 == 153664  # relative_position_index, (Wt*Wh*Ww)^2
    # qkv 25,088 positions * 96*288; QK^T and AV each 64*3*392*392*32; proj 25,088*96*96
    assert row.macs == 693633024 + 2 * 944111616 + 231211008 == 2813067264
    assert row.out_shape == (96, 8, 56, 56) and row.kernel == (8, 7, 7)
    texts = [text for _, text in row.explain]
    assert any(text.startswith("relative position bias table = (2Wt-1)*(2Wh-1)*(2Ww-1) * heads = (2*8-1)*(2*7-1)*"
                               "(2*7-1) * 3 = 7,605 params (buffers: the index into it, n * n = 392*392 = 153,664)")
               for text in texts), texts
    with pytest.raises(SpecError, match="window \\[8, 7\\] has 2 entries"):
        one([96, 8, 56, 56], type="attention", heads=3, window=[8, 7])


def test_fit_runs_a_window_longer_than_the_map_as_the_map_keeping_its_table():
    # swin3d_t's features.0.0.attn on an 8-frame clip: a 4 x 56 x 56 map; torchvision runs the 8 x 7 x 7 window as
    # 4 x 7 x 7 (4*7*7 = 196 positions, 64 windows) and keeps its (2*8-1)*(2*7-1)*(2*7-1) x 3 table, 392 x 392 index
    row = one([96, 4, 56, 56], type="attention", heads=3, window=[8, 7, 7], shift=[0, 3, 3], position="relative",
              fit=True)
    assert row.params == 37248 + 2535 * 3 == 44853 and row.buffers == 392 * 392
    # qkv 12,544 positions * 96*288; QK^T and AV each 64*3*196*196*32; proj 12,544*96*96
    assert row.macs == 12544 * 96 * 288 + 2 * 64 * 3 * 196 * 196 * 32 + 12544 * 96 * 96 == 934477824
    assert row.kernel == (4, 7, 7)
    assert any(text.startswith("fit: the window 8*7*7 runs as 4*7*7") for _, text in row.explain)
    # without fit the map is padded to 8 frames, as the 2-D Swin pads: 64 windows of 392 positions
    padded = one([96, 4, 56, 56], type="attention", heads=3, window=[8, 7, 7], position="relative")
    assert padded.macs == 25088 * 96 * 288 + 2 * 64 * 3 * 392 * 392 * 32 + 25088 * 96 * 96
    # where the map is longer than the window, fit changes nothing
    assert one([96, 8, 56, 56], type="attention", heads=3, window=[8, 7, 7], position="relative", fit=True).macs == \
        2813067264


def test_folded_position_bias_counts_heads_n_n():
    # torch.export's Swin-T: the relative table (169 x 3) gathered into one 1 x 3 x 49 x 49 constant
    row = one([96, 56, 56], type="attention", heads=3, window=7, shift=3, position="folded")
    relative = one([96, 56, 56], type="attention", heads=3, window=7, shift=3, position="relative")
    assert row.params == relative.params - 13 * 13 * 3 + 3 * 49 * 49 == 44451
    assert (row.buffers, row.macs) == (0, relative.macs)  # no index; the same MACs


def test_shifted_windows_mask_held_as_a_buffer_is_timms():
    # timm's swin_tiny_patch4_window7_224 keeps each shifted block's mask as a buffer (attn_mask: windows x n x n);
    # its buffers, 249,704 (tools/modern_onnx_reference.txt), are 12 relative indices of 49*49 and the masks of
    # the shifted blocks: 64 windows (stage 1), 16 (stage 2) and 3 blocks of 4 (stage 3); stage 4 has one window
    row = one([96, 56, 56], type="attention", heads=3, window=7, shift=3, position="relative", mask="buffer")
    assert row.buffers == 49 * 49 + 64 * 49 * 49 == 156_065
    assert (row.params, row.macs) == (37755, 145108992)  # the same layer as torchvision's
    masks = [one([c, s, s], type="attention", heads=c // 32, window=7, shift=3, mask="buffer").buffers
             for c, s in ((96, 56), (192, 28), (384, 14), (384, 14), (384, 14))]
    assert 12 * 49 * 49 + sum(masks) == 249_704
    assert "shifted windows' attention mask held as a buffer = windows * n * n = 64*49*49 = 153,664 buffers" in \
        "\n".join(text for _, text in row.explain)


def test_cross_covariance_attention_over_channels_is_edgenexts():
    # timm's EdgeNeXt-S stages.1.blocks.2.xca: CrossCovarianceAttn(96, 8 heads), qkv Linear(96, 288) with bias,
    # proj Linear(96, 96), temperature 8 x 1 x 1; on 32 x 32 = 1,024 tokens. Each head's q and k are d = 96/8 = 12
    # channels by N = 1,024 tokens: q k^T is a 12 x 12 map a head, N terms an entry.
    row = one({"tokens": [1024, 96]}, type="attention", heads=8, over="channels", cosine=True)
    assert row.params == 96 * 288 + 288 + 96 * 96 + 96 + 8 == 37_256
    # qkv 1024*96*288; q k^T and attn v 8*12*12*1024 each; proj 1024*96*96
    assert row.macs == 28_311_552 + 2 * 1_179_648 + 9_437_184 == 40_108_032
    # PyTorch (timm 1.0, FlopCounterMode / 2 of the model's forward): 40,108,032 MACs, 37,256 params; stage 3's
    # blocks.8.xca (160 wide, 8 heads, 16 x 16 tokens) 27,852,800 MACs, 103,048 params
    stage3 = one({"tokens": [256, 160]}, type="attention", heads=8, over="channels", cosine=True)
    assert (stage3.params, stage3.macs) == (103_048, 27_852_800)
    assert row.out_shape == (1024, 96)
    # memory: output + Q, K, V + the 8 x 12 x 12 map and its softmax + the weighted sum
    assert row.memory_bytes == 4 * (1024 * 96 + 3 * 1024 * 96 + 2 * 8 * 12 * 12 + 1024 * 96)


def test_attention_over_channels_refuses_keys_that_place_positions():
    with pytest.raises(SpecError, match="over: channels .* does not take window"):
        one([96, 32, 32], type="attention", heads=8, over="channels", window=8)


def test_narrow_keys_and_offset_biases_are_efficientformers():
    # timm's EfficientFormer-L1 last block: dim 448, 8 heads, key_dim 32, attn_ratio 4 (v 128 a head), 7x7 tokens
    row = one({"tokens": [49, 448]}, type="attention", heads=8, dim=1024, key_dim=32, position="offsets")
    # qkv Linear(448, 2*8*32 + 1024 = 1536) with bias, proj Linear(1024, 448) with bias, attention_biases 8 x 49
    assert row.params == 448 * 1536 + 1536 + 1024 * 448 + 448 + 8 * 49 == 1_149_256
    assert row.buffers == 49 * 49  # attention_bias_idxs
    # qkv 49*448*1536; QK^T 8*49*49*32; AV 8*49*49*128; proj 49*1024*448
    assert row.macs == 33_718_272 + 614_656 + 2_458_624 + 22_478_848 == 59_270_400
    assert row.out_shape == (49, 448)


def test_attention_that_widens_the_channels_is_coatnets():
    # timm's CoAtNet-0 first block of stage 3: Attention2d(192, 384), 6 heads of 32, qkv a 1x1 conv 192 -> 576,
    # proj a 1x1 conv 192 -> 384, a relative position bias over the whole 14x14 map
    row = one([192, 14, 14], type="attention", heads=6, out=384, position="relative")
    assert row.out_shape == (384, 14, 14)
    assert row.params == 192 * 576 + 576 + 192 * 384 + 384 + 27 * 27 * 6 == 189_654
    assert row.buffers == 196 * 196
    # qkv 196*192*576; QK^T and AV 6*196*196*32 each; proj 196*192*384
    assert row.macs == 21_676_032 + 2 * 7_375_872 + 14_450_688 == 50_878_464


def test_swin_v2_window_attention_is_torchvisions():
    row = one([96, 64, 64], type="attention", heads=3, window=8, position="continuous", cosine=True)
    assert (row.params, row.buffers, row.macs) == (40323, 4546, 201902592)
    assert any("576,000" in text for _, text in row.explain)  # the bias MLP, cpb_mlp in torchvision
    # worked in order: the params and their total, then each MACs term (the bias MLP's last) and their sum
    texts = [text for _, text in row.explain]
    order = [next(i for i, text in enumerate(texts) if text.startswith(start)) for start in (
        "params = Q,K,V", "continuous position bias MLP", "params = 37,248 + 3,075", "MACs Q,K,V", "MACs continuous",
        "MACs = ")]
    assert order == sorted(order) and texts[order[2]].endswith("= 40,323"), texts


def test_window_pads_the_map_as_torchvision_does():
    # 9x9 in 7x7 windows: padded to 14x14, 4 windows; the projections run on the 196 padded positions
    row = one([8, 9, 9], type="attention", heads=2, window=7)
    assert row.out_shape == (8, 9, 9)
    assert row.macs == 196 * 8 * 24 + 2 * 4 * 2 * 49 * 49 * 4 + 196 * 8 * 8


def test_inner_width_and_no_biases():
    row = one({"tokens": [10, 64]}, type="attention", heads=4, dim=32, qkv_bias=False, proj_bias=False)
    assert row.params == 3 * 64 * 32 + 32 * 64
    assert row.macs == 10 * 64 * 96 + 2 * 4 * 10 * 10 * 8 + 10 * 32 * 64


def test_memory_counts_q_k_v_the_attention_map_and_the_weighted_sum():
    """The convention (docs/conventions.md): an attention row's memory is what the layer writes, as if written
    as linear, matmul and softmax rows: Q, K, V, the scores and their softmax, AV and the output."""
    row = one({"tokens": [197, 768]}, type="attention", heads=12)
    elements = 197 * 768 + 3 * 197 * 768 + 2 * 12 * 197 * 197 + 197 * 768
    assert row.memory_bytes == 4 * elements == 6751584


def test_peak_memory_frees_the_attention_map_after_the_layer():
    report = cnncalc.analyze({"input": {"tokens": [197, 768]}, "layers": [
        {"name": "a", "type": "attention", "heads": 12}, {"name": "b", "type": "gelu"}, {"name": "c", "type": "gelu"}]})
    # while `a` runs its map is live; afterwards only outputs: b and c overlap (197*768 each)
    assert report.totals["peak_memory_bytes"] == report.row("a").memory_bytes
    report = cnncalc.analyze({"input": {"tokens": [197, 768]}, "layers": [
        {"name": "a", "type": "attention", "heads": 12}, {"name": "b", "type": "gelu"}, {"name": "c", "type": "add",
                                                                                       "from": ["a", "b"]}]})
    assert report.totals["peak_memory_bytes"] == report.row("a").memory_bytes


def test_beit_attention_is_timms():
    """timm 1.0.31's beit.Attention(768, 12, qkv_bias=True, window_size=(14, 14)) measured with torch 2.14.1
    (sum of p.numel() and b.numel(), FlopCounterMode / 2 on 1 x 197 x 768): 2,370,384 params, 39,577 buffers,
    524,391,936 MACs. By hand: qkv 3*768*768 = 1,769,472, q_bias and v_bias 2*768 (k_bias: 768 zeros, a
    buffer), the table ((2*14-1)^2 + 3)*12 = 8,784, proj 768*768 + 768 = 590,592; buffers 768 + 197*197."""
    row = one({"tokens": [197, 768]}, type="attention", heads=12, k_bias="buffer", position="relative",
              class_token=True)
    assert (row.out_shape, row.params, row.buffers, row.macs) == ((197, 768), 2370384, 39577, 524391936)
    assert row.params == 1769472 + 2 * 768 + 8784 + 590592
    text = "\n".join(line for _, line in row.explain)
    assert "biases 2*C + C = 3*768*768 + 768*768 + 2*768 + 768 = 2,361,600" in text
    assert "((2*14-1)^2 + 3)*12 = 8,784 params" in text and "N*N = 197*197 = 38,809" in text
    # k without a bias at all (EVA-02's three Linears): the q and v biases only, no buffer
    row = one({"tokens": [197, 768]}, type="attention", heads=12, k_bias="none")
    assert (row.params, row.buffers) == (2362368 - 768, 0)


def test_beit_attention_keys_are_checked():
    with pytest.raises(SpecError, match="class_token: true needs position: relative or rope on tokens"):
        one({"tokens": [197, 768]}, type="attention", heads=12, class_token=True)
    with pytest.raises(SpecError, match="class_token: true needs position: relative or rope on tokens"):
        one([96, 14, 14], type="attention", heads=3, position="relative", class_token=True)
    with pytest.raises(SpecError, match=r"a class token and a square grid of patches \(N - 1 = W\^2\), but N - 1 = "
                                        r"197"):
        one({"tokens": [198, 768]}, type="attention", heads=12, position="relative", class_token=True)
    with pytest.raises(SpecError, match="position needs a map"):  # relative on tokens without a class token
        one({"tokens": [197, 768]}, type="attention", heads=12, position="relative")
    with pytest.raises(SpecError, match="k_bias: buffer is about the q/k/v biases, but the layer has qkv_bias: false"):
        one({"tokens": [197, 768]}, type="attention", heads=12, qkv_bias=False, k_bias="buffer")
    with pytest.raises(SpecError, match="k_bias must be one of learned, buffer, none"):
        one({"tokens": [197, 768]}, type="attention", heads=12, k_bias="zeros")


def test_mean_of_the_tokens_after_the_class_token():
    report = cnncalc.analyze({"input": {"tokens": [197, 768]}, "layers": [
        {"name": "mean", "type": "meantokens", "skip": 1}]}, explain=True)
    row = report.row("mean")
    assert (row.out_shape, row.params, row.flops) == ((768,), 0, 196 * 768)
    with pytest.raises(SpecError, match="skip 197 must leave some of the 197 tokens"):
        cnncalc.analyze({"input": {"tokens": [197, 768]}, "layers": [{"type": "meantokens", "skip": 197}]})


def test_attention_errors_name_the_layer():
    with pytest.raises(cnncalc.CnnCalcError, match="heads 5 must divide the width 768"):
        one({"tokens": [197, 768]}, type="attention", heads=5)
    with pytest.raises(cnncalc.CnnCalcError, match="window needs a map"):
        one({"tokens": [197, 768]}, type="attention", heads=12, window=7)
    with pytest.raises(cnncalc.CnnCalcError, match="mask needs a map"):
        one({"tokens": [197, 768]}, type="attention", heads=12, mask="buffer")
    with pytest.raises(cnncalc.CnnCalcError, match="mask: buffer is the mask of attention in windows: give window"):
        one([96, 56, 56], type="attention", heads=3, mask="buffer")
    with pytest.raises(cnncalc.CnnCalcError, match="shift 7 must be smaller than the window 7"):
        one([96, 56, 56], type="attention", heads=3, window=7, shift=7)
    with pytest.raises(cnncalc.CnnCalcError, match="conv works on maps, but gets 197 tokens of width 768"):
        one({"tokens": [197, 768]}, type="conv", filters=3, kernel=1)


def test_tokens_round_trip_and_readouts():
    report = cnncalc.analyze({"input": [768, 14, 14], "layers": [
        {"name": "t", "type": "tokens"}, {"name": "cls", "type": "classtoken", "count": 2},
        {"name": "m", "type": "untokens", "from": "t", "size": [7, 28]},
        {"name": "first", "type": "taketoken", "from": "cls", "index": 1},
        {"name": "ln", "type": "layernorm", "from": "cls"}, {"name": "fc", "type": "linear", "units": 10},
        {"name": "mean", "type": "meantokens"}]})
    assert report.row("t").out_shape == (196, 768)
    assert (report.row("cls").out_shape, report.row("cls").params) == ((198, 768), 2 * 768)
    assert report.row("m").out_shape == (768, 7, 28)
    assert report.row("first").out_shape == (768,)
    assert report.row("ln").params == 2 * 768
    assert (report.row("fc").out_shape, report.row("fc").macs) == ((198, 10), 198 * 768 * 10)
    assert report.row("mean").out_shape == (10,)
    with pytest.raises(cnncalc.CnnCalcError, match=r"size 7\*7 = 49 positions, but there are 196 tokens"):
        cnncalc.analyze({"input": [768, 14, 14], "layers": [{"type": "tokens"}, {"type": "untokens", "size": 7}]})


def test_matmul_of_two_activations():
    report = cnncalc.analyze({"input": {"tokens": [50, 64]}, "layers": [
        {"name": "scores", "type": "matmul", "from": ["input", "input"], "transpose": True},
        {"name": "p", "type": "softmax"},
        {"name": "av", "type": "matmul", "from": ["p", "input"]}]})
    assert (report.row("scores").out_shape, report.row("scores").macs) == ((50, 50), 50 * 50 * 64)
    assert (report.row("av").out_shape, report.row("av").macs) == ((50, 64), 50 * 64 * 50)
    with pytest.raises(cnncalc.CnnCalcError, match="A's columns to match B's rows"):
        cnncalc.analyze({"input": {"tokens": [50, 64]}, "layers": [
            {"type": "matmul", "from": ["input", "input"]}]})


def test_attention_written_as_rows_with_matmul_over_heads_is_the_attention_row():
    """examples/specs/multihead_attention.yaml: q, k, v linear rows, Q K^T over 12 heads (the 12 x 197 x 197
    map), softmax, the map times V (197 x 768, the heads joined) and the output projection add up to torch's
    nn.MultiheadAttention(768, 12): 2,362,368 params, 524,391,936 MACs, and the memory the convention counts."""
    data = json.loads(ok("report", os.path.join(EXAMPLES, "specs", "multihead_attention.yaml"), "-f", "json"))
    rows = {row["name"]: row for row in data["layers"]}
    assert rows["scores"]["out_shape"] == [12, 197, 197] and rows["scores"]["macs"] == 12 * 197 * 197 * 64
    assert rows["av"]["out_shape"] == [197, 768] and rows["av"]["out_tokens"] and rows["av"]["macs"] == 29805312
    totals = data["totals"]
    assert (totals["params"], totals["macs"]) == (2362368, 524391936)
    assert totals["memory_bytes"] == one({"tokens": [197, 768]}, type="attention", heads=12).memory_bytes == 6751584


def test_matmul_over_a_batch_and_its_errors(write):
    spec = {"input": [4, 6, 5], "layers": [  # a batch of 4 matrices 6 x 5, as a map's shape
        {"name": "t", "type": "identity"},
        {"name": "gram", "type": "matmul", "from": ["input", "t"], "transpose": True}]}
    row = cnncalc.analyze(spec, explain=True).row("gram")
    assert row.out_shape == (4, 6, 6) and row.macs == 4 * 6 * 6 * 5
    assert "MACs = b*M*N*K (a batch of 4 of 6x5 times 5x6) = 4*6*6*5 = 720" in [text for _, text in row.explain]
    path = write("input: {tokens: [10, 64]}\nparams: {heads: 3}\nlayers:\n"
                 "  - {name: s, type: matmul, from: [input, input], transpose: true, heads: heads}\n")
    result = invoke("report", path)
    assert result.exit_code == 1 and "s: heads 3 must divide the width of input, 64 (10 x 64)" in result.stderr
    assert invoke("report", path, "--set", "heads=4").exit_code == 0
    assert cnncalc.analyze(path, params={"heads": 4}).row("s").macs == 4 * 10 * 10 * 16  # 4 heads of 10 x 16
    with pytest.raises(cnncalc.CnnCalcError, match="batches of the same size"):
        cnncalc.analyze({"input": [4, 6, 5], "layers": [{"name": "x", "type": "conv", "filters": 2, "kernel": 1},
                                                        {"type": "matmul", "from": ["input", "x"], "transpose": True}]})


def test_a_tokens_input_reads_the_params():
    path = os.path.join(EXAMPLES, "specs", "multihead_attention.yaml")
    report = cnncalc.analyze(path, params={"width": 64, "heads": 4})
    assert report.input == (197, 64) and report.row("scores").out_shape == (4, 197, 197)


def test_tokens_print_n_x_d_in_tables_and_json():
    table = ok("report", "vit_b_16")
    assert "197 x 768" in table and "12 heads" in table
    data = json.loads(ok("report", "vit_b_16", "-f", "json"))
    rows = {row["name"]: row for row in data["layers"]}
    attention = rows["encoder.layers.encoder_layer.0.self_attention"]
    assert attention["out_shape"] == [197, 768] and attention["out_tokens"] is True and attention["heads"] == 12


def test_a_single_head_is_one_head(write):
    # one head of width 32 on 16 tokens: QK^T = 1*16*16*32 = 8,192 MACs
    text = ok("layer", "attention", "--input", "16x32", "--heads", "1")
    assert "; 1 head of width d = C/heads = 32/1 = 32" in text and "1 heads" not in text
    assert "MACs scores QK^T = heads*N*N*d = 1*16*16*32 = 8,192" in text
    spec = write("input: {tokens: [16, 32]}\nlayers:\n  - {name: attn, type: attention, heads: 1}\n", "one.yaml")
    row = next(line for line in ok("report", spec).splitlines() if line.startswith("attn "))
    assert " 1 head " in row and "heads" not in row


def test_layer_command_explains_attention():
    text = ok("layer", "attention", "--input", "197x768", "--heads", "12", "--explain")
    assert "read as N x D: tokens" in text
    for line in ("12 heads of width d = C/heads = 768/12 = 64",
                 "biases 3*C + C = 3*768*768 + 768*768 + 3*768 + 768 = 2,362,368",
                 "MACs Q,K,V projections = N*C*3C = 197*768*2304 = 348,585,984",
                 "MACs scores QK^T = heads*N*N*d = 12*197*197*64 = 29,805,312",
                 "MACs output projection = N*C*C = 197*768*768 = 116,195,328",
                 "params           2,362,368", "MACs             524,391,936"):
        assert line in text, line
    # two sizes stay a usage error for the layers that need a map
    assert invoke("layer", "conv", "--input", "32x32", "--filters", "2", "--kernel", "3").exit_code == 2


def test_answer_file_asks_for_an_attention_layer(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("spec: vit_b_16\nanswers:\n"
                       "  - {layer: encoder.layers.encoder_layer.0.self_attention, params: 2362368, macs: 524.4M,"
                       " output_shape: 197x768}\n"
                       "  - {layer: encoder.layers.encoder_layer.0.self_attention, output_shape: 768x197}\n"
                       "  - {layer: class_token, output_shape: [197, 768], params: 768}\n", encoding="utf-8")
    result = invoke("check", answers, "-f", "json")
    data = json.loads(result.stdout)
    assert (data["correct"], data["total"]) == (5, 6) and result.exit_code == 1
    wrong = [r for r in data["results"] if not r["correct"]]
    assert len(wrong) == 1 and wrong[0]["quantity"] == "output_shape"


def test_a_count_without_qk_and_av_is_told_so():
    # the four projections of vit_b_16's first attention: 197*768*2304 + 197*768*768 = 464,781,312, without
    # QK^T and AV (2 * 12*197*197*64 = 59,610,624)
    result = invoke("check", os.path.join(EXAMPLES, "attention_wrong_answers.yaml"), "-f", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and (data["correct"], data["total"]) == (0, 3)
    macs = next(r for r in data["results"] if r["quantity"] == "macs")
    assert any("without the products of two activations, 464,781,312" in note for note in macs["notes"])


def test_a_wrong_token_shape_says_how_tokens_are_written(write):
    # ViT-B/16's 14*14 = 196 patch tokens of width 768, and conv_proj's 768 x 14 x 14 map before them
    answers = write("spec: vit_b_16\nanswers:\n  - {layer: tokens, output_shape: 768x196}\n"
                    "  - {layer: tokens, output_shape: 196}\n  - {layer: conv_proj, output_shape: 768x196}\n",
                    "answers.yaml")
    result = invoke("check", answers)
    assert result.exit_code == 1
    notes = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("note:")]
    assert notes == ["note: the same sizes in another order: tokens are N x D, the number of tokens first, then "
                     "each token's width",
                     "note: 196 has 1 size; the output has 2 (N x D)",
                     "note: '768x196' has 2 sizes; the output has 3 (C x H x W)"]
    assert "a flat vector" not in result.stdout


def test_compare_reads_with_transformers():
    text = ok("compare", "resnet50", "vit_b_16", "swin_t", "convnext_tiny")
    assert "ViT-B/16 vs ResNet-50: 1.6x memory, 3.4x params, 4.3x flop" in text
    assert "Swin-T vs ResNet-50" in text and "attention layers" in text


def test_spec_input_of_tokens_and_its_override():
    spec = {"name": "enc", "input": {"tokens": [197, 768]}, "layers": [{"type": "attention", "heads": 12}]}
    assert cnncalc.analyze(spec).rows[0].macs == 524391936
    report = cnncalc.analyze(spec, input="50x768")
    assert report.input == (50, 768) and report.rows[0].out_shape == (50, 768)
    with pytest.raises(cnncalc.CnnCalcError, match=r"must be \[N, D\]"):
        cnncalc.analyze({"input": {"tokens": [197]}, "layers": [{"type": "gelu"}]})


def test_levit_attention_batch_norms_its_projections():
    # timm's LeViT-128 stages.0.blocks.0.attn: 196 tokens of width 128, 4 heads, key_dim 16, v 32 a head
    # (attn_ratio 2), q/k/v and proj each a Linear without bias and a BatchNorm1d (LinearNorm), a Hardswish
    # before proj, attention biases 4 x 196. torch 2.14.1 / timm 1.0.31 measured: 50,704 params, 39,186 buffers
    # (2 of them the BatchNorms' num_batches_tracked), FlopCounterMode 17,009,664 MACs
    row = one({"tokens": [196, 128]}, type="attention", heads=4, key_dim=16, qkv_bias=False, proj_bias=False,
              position="offsets", norm="bn", proj_act="hardswish")
    # qkv 128*256 (2*4*16 + 128 = 256 wide) + BN 2*256; proj 128*128 + BN 2*128; biases 4*196
    assert row.params == 32_768 + 512 + 16_384 + 256 + 784 == 50_704
    assert row.buffers == 2 * 256 + 2 * 128 + 196 * 196 == 39_184
    # qkv 196*128*256; QK^T 4*196*196*16; AV 4*196*196*32; proj 196*128*128
    assert row.macs == 6_422_528 + 2_458_624 + 4_917_248 + 3_211_264 == 17_009_664
    assert row.out_shape == (196, 128)
    plain = one({"tokens": [196, 128]}, type="attention", heads=4, key_dim=16, qkv_bias=False, proj_bias=False,
                position="offsets")
    assert (plain.params, plain.buffers, plain.macs) == (50_704 - 768, 39_184 - 768, 17_009_664)


def test_levit_attention_subsample_takes_its_queries_from_every_other_row_and_column():
    # timm's LeViT-128 stages.1.downsample.attn_downsample: 196 tokens (14x14) of width 128, 8 heads, key_dim 16,
    # v 64 a head (attn_ratio 4), the queries from the 7x7 = 49 tokens of every 2nd row and column, out 256.
    # torch 2.14.1 / timm 1.0.31 measured: 232,992 params, 11,655 buffers (3 of them num_batches_tracked),
    # FlopCounterMode 29,428,224 MACs, output 1 x 49 x 256
    row = one({"tokens": [196, 128]}, type="attention", heads=8, dim=512, key_dim=16, out=256, stride=2,
              qkv_bias=False, proj_bias=False, position="offsets", norm="bn", proj_act="hardswish")
    assert row.out_shape == (49, 256)
    # q 128*128, k and v 128*640 (q, k and v 128 + 128 + 512 = 768 wide), proj 512*256; BatchNorms 2*(768 + 256);
    # attention biases 8 heads * 196
    assert row.params == 128 * 768 + 512 * 256 + 2 * (768 + 256) + 8 * 196 == 232_992
    assert row.buffers == 2 * (768 + 256) + 49 * 196 == 11_652
    # q 49*128*128; k, v 196*128*640; QK^T 8*49*196*16; AV 8*49*196*64; proj 49*512*256
    assert row.macs == 802_816 + 16_056_320 + 1_229_312 + 4_917_248 + 6_422_528 == 29_428_224
    with pytest.raises(SpecError, match="stride needs tokens of a square grid"):  # 197 tokens are no grid
        cnncalc.analyze({"input": {"tokens": [197, 128]}, "layers": [{"name": "x", "type": "attention", "heads": 8,
                                                                       "stride": 2}]})


def test_botnet_attention_has_relative_logits_and_no_output_projection():
    # timm's BoTNet-26T (botnet26t_256) stages.2.1.self_attn, BottleneckAttn(256): a 1x1 conv without bias
    # 256 -> 768 for q, k, v; 4 heads of 64 over the 16x16 map; PosEmbedRel's height_rel and width_rel, each
    # (2*16-1) x 64, shared by the heads; no output projection. torch 2.14.1 / timm 1.0.31 measured on a 1 x 256
    # x 16 x 16 input: 200,576 params, FlopCounterMode 87,949,312 MACs (convolution 50,331,648, bmm 33,554,432,
    # mm 4,063,232: the queries times the embeddings)
    row = one([256, 16, 16], type="attention", heads=4, qkv_bias=False, proj=False, position="relative_logits")
    assert row.out_shape == (256, 16, 16) and row.buffers == 0
    assert row.params == 256 * 768 + (31 + 31) * 64 == 200_576
    # qkv 256*256*768; QK^T and AV 4*256*256*64 each; each of the 4*256 queries times 31 + 31 embeddings of 64
    assert row.macs == 50_331_648 + 2 * 16_777_216 + 4 * 256 * 64 * 62 == 87_949_312
    texts = [text for _, text in row.explain]
    assert any("(2*16-1) + (2*16-1))*64 = 3,968" in text for text in texts), texts
    assert not any(text.startswith("MACs output projection") for text in texts)
    # stages.3.1.self_attn: BottleneckAttn(512) on 8x8, 4 heads of 128: 790,272 params, 55,508,992 MACs
    # (convolution 50,331,648, bmm 4,194,304, mm 983,040)
    row = one([512, 8, 8], type="attention", heads=4, qkv_bias=False, proj=False, position="relative_logits")
    assert row.params == 512 * 1536 + (15 + 15) * 128 == 790_272
    assert row.macs == 64 * 512 * 1536 + 2 * 4 * 64 * 64 * 128 + 4 * 64 * 128 * 30 == 55_508_992
    with pytest.raises(SpecError, match="out needs the output projection"):
        one([256, 16, 16], type="attention", heads=4, proj=False, out=512)
    with pytest.raises(SpecError, match="position needs a map"):
        one({"tokens": [256, 256]}, type="attention", heads=4, proj=False, position="relative_logits")


def test_mvit_v1_pooled_keys_and_values_are_torchvisions():
    # mvit_v1_b blocks.0.attn: 96 wide, 1 head, k and v pooled 1x8x8 on the 8x56x56 grid (+ the class token)
    row = one({"tokens": [25089, 96]}, type="attention", heads=1, grid=[8, 56, 56], pool_kv=[1, 8, 8])
    # qkv 96*288 + 288, proj 96*96 + 96, pool_k and pool_v each a 96 x 1 x 3x3x3 conv and a LayerNorm(96)
    assert row.params == 27936 + 9312 + 2 * (96 * 27 + 2 * 96) == 42816
    # k, v grids 8 x 7 x 7 (56 + 2 - 3)//8 + 1 = 7: Nk = 1 + 392; the 25,089 queries are not pooled
    qkv, pools = 25089 * 96 * 288, 2 * 1 * 96 * 392 * 27
    scores, proj = 1 * 25089 * 393 * 96, 25089 * 96 * 96
    assert row.macs == qkv + pools + 2 * scores + proj == 2820028608
    assert row.out_shape == (25089, 96)


def test_mvit_v1_pooled_queries_shrink_the_tokens():
    # mvit_v1_b blocks.1.attn: 192 wide, 2 heads of 96, q pooled 1x2x2 (8x28x28), k and v 1x4x4 (8x14x14)
    row = one({"tokens": [25089, 192]}, type="attention", heads=2, grid=[8, 56, 56], pool_q=[1, 2, 2],
              pool_kv=[1, 4, 4])
    assert row.params == 192 * 576 + 576 + 192 * 192 + 192 + 3 * (96 * 27 + 2 * 96) == 156576
    queries, keys = 1 + 8 * 28 * 28, 1 + 8 * 14 * 14
    pools = 2 * 96 * 27 * (8 * 28 * 28 + 2 * 8 * 14 * 14)
    assert row.macs == 25089 * 192 * 576 + pools + 2 * 2 * queries * keys * 96 + queries * 192 * 192 == 6834119040
    assert row.out_shape == (queries, 192) == (6273, 192)


def test_mvit_v2_decomposed_position_and_residual_pool_are_torchvisions():
    # mvit_v2_s blocks.1.attn: 96 in, 192 out (qkv Linear(96, 576), project Linear(192, 192)), 2 heads of 96,
    # q pooled 1x2x2, k and v 1x4x4, tables rel_pos_h and _w (2*28 - 1) x 96, rel_pos_t (2*8 - 1) x 96
    row = one({"tokens": [25089, 96]}, type="attention", heads=2, dim=192, out=192, grid=[8, 56, 56],
              pool_q=[1, 2, 2], pool_kv=[1, 4, 4], position="decomposed", residual_pool=True)
    assert row.params == 96 * 576 + 576 + 192 * 192 + 192 + 3 * (96 * 27 + 192) + (55 + 55 + 15) * 96 == 113280
    queries, keys = 6273, 1569
    pools = 2 * 96 * 27 * (8 * 28 * 28 + 2 * 8 * 14 * 14)
    # the queries of the grid by the rows they gather: heads*Tq*Hq*Wq*d*(Tk + Hk + Wk)
    relative = 2 * 8 * 28 * 28 * 96 * (8 + 14 + 14)
    assert row.macs == (25089 * 96 * 576 + pools + 2 * 2 * queries * keys * 96 + queries * 192 * 192
                        + relative) == 5490149760
    # mvit_v2_s blocks.0.attn: 96 wide, 1 head, q pooled with stride 1 (a 3x3x3 conv all the same), k, v 1x8x8
    row = one({"tokens": [25089, 96]}, type="attention", heads=1, grid=[8, 56, 56], pool_q=1, pool_kv=[1, 8, 8],
              position="decomposed", residual_pool=True)
    assert row.params == 27936 + 9312 + 3 * (96 * 27 + 192) + (111 + 111 + 15) * 96 == 68352
    assert row.macs == (25089 * 96 * 288 + 96 * 27 * (8 * 56 * 56 + 2 * 8 * 7 * 7) + 2 * 25089 * 393 * 96
                        + 25089 * 96 * 96 + 8 * 56 * 56 * 96 * (8 + 7 + 7)) == 2938042560


def test_mvit_pooled_skip_and_separable_position_embedding():
    spec = {"input": [96, 8, 56, 56], "layers": [
        {"name": "tokens", "type": "tokens"}, {"name": "cls", "type": "classtoken"},
        {"name": "pos", "type": "posembed", "separable": [8, 56, 56]},
        {"name": "skip", "type": "maxpool", "grid": [8, 56, 56], "kernel": [1, 3, 3], "stride": [1, 2, 2],
         "pad": [0, 1, 1]}]}
    report = cnncalc.analyze(spec, explain=True)
    # temporal_pos 8 x 96, spatial_pos 3136 x 96, class_pos 96 (mvit_v1_b's PositionalEncoding)
    assert report.row("pos").params == (8 + 56 * 56 + 1) * 96 == 301920
    # the class token passes, the 8x56x56 grid pooled to 8x28x28: 1 + 6,272 tokens
    assert report.row("skip").out_shape == (6273, 96)
    assert (report.row("skip").params, report.row("skip").macs) == (0, 0)


def test_pooling_attention_errors_name_the_key():
    with pytest.raises(SpecError, match=r"grid 8\*56\*56 = 25,088 positions, more than the 100 tokens"):
        one({"tokens": [100, 96]}, type="attention", heads=1, grid=[8, 56, 56], pool_kv=2)
    with pytest.raises(SpecError, match="pool_q and pool_kv need N x D tokens and their grid"):
        one({"tokens": [100, 96]}, type="attention", heads=1, pool_kv=2)
    with pytest.raises(SpecError, match="window cannot be combined with grid"):
        one({"tokens": [65, 96]}, type="attention", heads=1, grid=[1, 8, 8], window=4)


def test_mvit_v2_tables_gathered_as_torch_export_stores_them():
    # torch.export's mvit_v2_s blocks.0.attn holds rel_pos_t as its rows for each pair of the 8 frames (8 x 96 x 8)
    keys = dict(type="attention", heads=1, grid=[8, 56, 56], pool_q=1, pool_kv=[1, 8, 8], position="decomposed",
                residual_pool=True)
    row = one({"tokens": [25089, 96]}, gathered=["t"], **keys)
    assert row.params == 68352 - 15 * 96 + 8 * 96 * 8 == 73056
    assert row.macs == 2938042560  # the same products
    # and with every table gathered: T 8*8, H 56*7, W 56*7 rows of 96
    assert one({"tokens": [25089, 96]}, gathered="thw", **keys).params == 68352 - (15 + 111 + 111) * 96 + (
        64 + 392 + 392) * 96
    with pytest.raises(SpecError, match="gathered takes axes of the grid: a list of t, h and w"):
        one({"tokens": [25089, 96]}, gathered=["x"], **keys)
    with pytest.raises(SpecError, match="gathered needs position: decomposed"):
        one({"tokens": [25089, 96]}, **{**keys, "position": "none", "gathered": ["t"]})


def test_spatial_reduction_attention_is_timms_pvt():
    # pvt_v2_b0 stages.0.blocks.0.attn: 32 wide, 1 head, sr_ratio 8 on the 56x56 map (3,136 tokens); PyTorch
    # (timm 1.0, FlopCounterMode / 2 with the math kernel): 69,856 params, 19,568,640 MACs
    row = one({"tokens": [3136, 32]}, type="attention", heads=1, reduce=8)
    # q 32*32 + 32, kv 32*64 + 64, proj 32*32 + 32; the sr conv 32*32*8*8 + 32; its LayerNorm 2*32
    assert row.params == 1056 + 2112 + 1056 + 65568 + 64 == 69856
    # the reduced map 7x7: M = 49; q 3136*32*32, sr conv 32*49*32*64, kv 49*32*64, QK^T and AV 1*3136*49*32, proj
    assert row.macs == 3211264 + 3211264 + 100352 + 2 * 4917248 + 3211264 == 19568640
    assert row.out_shape == (3136, 32)
    # pvt_v2_b0 stages.1.blocks.0.attn: 64 wide, 2 heads of 32, sr_ratio 4 on 28x28 (PyTorch: 82,368 and 14,952,448)
    row = one({"tokens": [784, 64]}, type="attention", heads=2, reduce=4)
    assert row.params == 4160 + 8320 + 4160 + (64 * 64 * 16 + 64) + 128 == 82368
    assert row.macs == 784 * 64 * 64 + 64 * 49 * 64 * 16 + 49 * 64 * 128 + 2 * 2 * 784 * 49 * 32 + 784 * 64 * 64 \
        == 14952448


def test_spatial_reduction_on_a_map_that_is_not_square_or_not_a_multiple():
    # timm's pvt_v2 Attention(8, num_heads=2, sr_ratio=2) on a 6x4 map (PyTorch: 568 params, 7,680 MACs) and on
    # 5x5 (the conv floors 5/2 to 2: 6,336 MACs)
    row = one({"tokens": [24, 8]}, type="attention", heads=2, reduce=2, grid=[6, 4])
    assert row.params == 72 + 144 + 72 + (8 * 8 * 4 + 8) + 16 == 568
    # M = 3*2 = 6: q 24*8*8, conv 8*6*8*4, kv 6*8*16, QK^T and AV 2*24*6*4 each, proj 24*8*8
    assert row.macs == 1536 + 1536 + 768 + 2 * 1152 + 1536 == 7680
    assert one([8, 6, 4], type="attention", heads=2, reduce=2).macs == 7680  # the same on the map itself
    # M = 2*2 = 4: 25*64 + 8*4*32 + 4*128 + 2*(2*25*4*4) + 25*64
    assert one({"tokens": [25, 8]}, type="attention", heads=2, reduce=2).macs == 1600 + 1024 + 512 + 1600 + 1600


def test_spatial_reduction_errors_name_the_key():
    with pytest.raises(SpecError, match="they are not a square map; give grid"):
        one({"tokens": [24, 8]}, type="attention", heads=2, reduce=2)
    with pytest.raises(SpecError, match=r"grid 5\*5 is not a map of the 24 tokens"):
        one({"tokens": [24, 8]}, type="attention", heads=2, reduce=2, grid=5)
    with pytest.raises(SpecError, match="reduce 1 is plain attention"):
        one({"tokens": [25, 8]}, type="attention", heads=2, reduce=1)
    with pytest.raises(SpecError, match="reduce 8 is larger than the map 5\\*5"):
        one({"tokens": [25, 8]}, type="attention", heads=2, reduce=8)
    with pytest.raises(SpecError, match="window cannot be combined with reduce"):
        one([8, 6, 4], type="attention", heads=2, reduce=2, window=2)
