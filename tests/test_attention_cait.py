"""CaiT's attention (timm's cait.py): talking heads, class attention, and the class token added back.

Reference figures (printed by tools/cait_reference.py): timm 1.0 / torch 2.14.1, one module at a time,
params = sum(p.numel()), MACs = FlopCounterMode total / 2 with the math attention kernel
(sdpa_kernel(SDPBackend.MATH), as tools/export_modern.py measures whole models): cait_xxs24_224's blocks.0.attn, TalkingHeadAttn(192, 4 heads,
qkv_bias=True) on 196 tokens, 148,264 params and 44,882,432 MACs; its blocks_token_only.0.attn, ClassAttn(192,
4 heads, qkv_bias=True) on 197 tokens, 148,224 params and 14,673,792 MACs.
"""

import pytest

import cnncalc


def one(input, **keys):
    spec = {"input": input, "layers": [{"name": "x", **keys}]}
    return cnncalc.analyze(spec, explain=True).row("x")


def test_talking_heads_mix_the_scores_across_the_heads_before_and_after_the_softmax():
    # 5 tokens of width 8, 2 heads of 4: qkv Linear(8, 24) 8*24 + 24 = 216, proj Linear(8, 8) 72, proj_l and
    # proj_w Linear(2, 2) with bias 2*(2*2 + 2) = 12
    row = one({"tokens": [5, 8]}, type="attention", heads=2, talking_heads=True)
    assert row.params == 216 + 72 + 12 == 300
    # qkv 5*8*24 = 960; QK^T 2*5*5*4 = 200; AV 200; proj 5*8*8 = 320; each talking Linear on the 2 x 5 x 5 map
    # held heads last: 5*5 positions * 2*2 = 100, twice
    assert row.macs == 960 + 200 + 200 + 320 + 2 * 100 == 1880
    assert row.out_shape == (5, 8)
    assert any("talking heads" in text for _, text in row.explain)
    # memory: the output 5*8, Q, K, V 3*5*8, the 2 x 5 x 5 map four times (the scores, the first mix, the
    # softmax, the second mix) and the weighted sum 5*8, at 4 bytes
    assert row.memory_bytes == 4 * (40 + 120 + 4 * 50 + 40)


def test_cait_xxs24_talking_heads_block_is_timms():
    row = one({"tokens": [196, 192]}, type="attention", heads=4, talking_heads=True)
    assert (row.params, row.macs) == (148_264, 44_882_432)


def test_class_attention_queries_from_the_class_token_alone():
    # 5 tokens of width 8, 2 heads of 4: q, k, v, proj Linear(8, 8) with bias: 4*(64 + 8) = 288
    row = one({"tokens": [5, 8]}, type="attention", heads=2, queries="class")
    assert row.params == 288
    # q on 1 token 8*8 = 64; k and v on 5 tokens 2*5*8*8 = 640; q K^T 2 heads * 1*5*4 = 40; AV 40; proj 8*8 = 64
    assert row.macs == 64 + 640 + 40 + 40 + 64 == 848
    assert row.out_shape == (1, 8)  # the class token alone
    # memory: the output 1*8, q 1*8 and k, v 5*16, the 2 x 1 x 5 scores and their softmax, the weighted sum 1*8
    assert row.memory_bytes == 4 * (8 + 8 + 80 + 2 * 10 + 8)
    big = one({"tokens": [197, 192]}, type="attention", heads=4, queries="class")
    assert (big.params, big.macs, big.out_shape) == (148_224, 14_673_792, (1, 192))
    assert any("class token alone" in text for _, text in big.explain)


def test_class_attention_needs_tokens_and_no_stride():
    with pytest.raises(cnncalc.CnnCalcError, match="queries: class needs tokens"):
        one([8, 4, 4], type="attention", heads=2, queries="class")
    with pytest.raises(cnncalc.CnnCalcError, match="over: channels .* does not take queries"):
        one({"tokens": [5, 8]}, type="attention", heads=2, queries="class", over="channels")


def test_class_token_kept_as_a_token_and_added_back():
    # CaiT's class attention block: the class token prepended (8 params), class attention, its token added back
    report = cnncalc.analyze({"input": {"tokens": [4, 8]}, "layers": [
        {"name": "cls", "type": "classtoken"},
        {"name": "attn", "type": "attention", "heads": 2, "queries": "class"},
        {"name": "token", "type": "taketoken", "from": "cls", "count": 1},
        {"name": "sum", "type": "add", "from": ["token", "attn"]},
        {"name": "joined", "type": "concat", "from": ["sum", "input"]}]})
    assert report.row("token").out_shape == (1, 8) and report.row("token").params == 0
    assert report.row("joined").out_shape == (5, 8)
    assert report.totals["params"] == 8 + 288


def test_a_range_of_tokens_kept_as_tokens():
    report = cnncalc.analyze({"input": {"tokens": [197, 8]}, "layers": [
        {"name": "rest", "type": "taketoken", "index": 1, "count": 196},
        {"name": "first", "type": "taketoken", "from": "input", "count": 1}]})
    assert report.row("rest").out_shape == (196, 8) and report.row("first").out_shape == (1, 8)
    with pytest.raises(cnncalc.CnnCalcError, match="index 1 \\+ count 197 must be at most the 197 tokens"):
        cnncalc.analyze({"input": {"tokens": [197, 8]}, "layers": [{"type": "taketoken", "index": 1, "count": 197}]})
