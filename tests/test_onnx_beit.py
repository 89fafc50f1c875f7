"""BEiT from ONNX (timm's beit_base_patch16_224, tools/export_modern.py's beit_base; only the TorchScript exporter
writes it: torch.export fails inside PyTorch): the q/k/v Linear's bias the Concat of q_bias, k's zeros (a buffer
in timm's module, a Constant in the file) and v_bias; a relative position bias gathered from a table of
(2W-1)^2 + 3 rows (the class token's three) by an (N x N) index; layer scale; the head's mean of the tokens after
the class token.

Built with onnx.helper in the TorchScript exporter's form, as read off beit_base's export (scoped names, shapes as
Constant nodes, a Linear as Transpose(W) + MatMul + Add(bias, x), q, k and v a Split + Squeeze). The numbers are
worked by hand in each test; timm 1.0.31's Attention(8, num_heads=2, qkv_bias=True, window_size=(2, 2)) measured
with torch 2.14.1 (sum of p.numel(), of b.numel(), FlopCounterMode / 2 on 1 x 5 x 8 tokens) has the same 304
params, 33 buffers and 1,680 MACs; the index below is its relative_position_index. Skipped without the onnx
package.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import Graph, totals  # noqa: E402

SCOPE = "/blocks.0/attn"
INDEX = [[11, 9, 9, 9, 9], [10, 4, 3, 1, 0], [10, 5, 4, 2, 1], [10, 7, 6, 4, 3], [10, 8, 7, 5, 4]]


def constant(g, array, scope=SCOPE):
    """A Constant node, as the TorchScript exporter writes shapes and k's zeros."""
    g.count += 1
    name = f"{scope}/Constant_{g.count}_output_0"
    g.nodes.append(helper.make_node("Constant", [], [name], name=f"{scope}/Constant_{g.count}",
                                    value=numpy_helper.from_array(numpy.asarray(array))))
    return name


def ints(g, values, scope=SCOPE):
    return constant(g, numpy.array(values, dtype=numpy.int64), scope)


def tiny_beit(folder, table_rows=12, k_zeros=True):
    """A 1 x 3 x 8 x 8 image in 4x4 patches: 4 tokens of width 8 (a 2 x 2 grid) and the class token, N = 5; one
    block: LayerNorm, attention of 2 heads of 4 with a relative table of ``table_rows`` x 2 ((2*2-1)^2 + 3 = 12 in
    BEiT), layer scale; the mean of the 4 patch tokens, LayerNorm, a 10-way head."""
    g = Graph("torchscript", (1, 3, 8, 8))
    patches = g.op("Conv", ["x", g.weight("patch_embed.proj.weight", [8, 3, 4, 4]),
                            g.weight("patch_embed.proj.bias", [8])], "/patch_embed/proj", kernel_shape=[4, 4],
                   strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [patches, ints(g, [1, 8, 4], "")], "/patch_embed")], "/patch_embed",
                  perm=[0, 2, 1])
    x = g.op("Concat", [g.weight("cls_token", [1, 1, 8]), tokens], "", axis=1)
    norm = g.op("LayerNormalization", [x, g.weight("blocks.0.norm1.weight", [8]),
                                       g.weight("blocks.0.norm1.bias", [8])], "/blocks.0/norm1", axis=-1)
    middle = constant(g, numpy.zeros(8, dtype=numpy.float32)) if k_zeros else g.weight("blocks.0.attn.k_bias", [8])
    bias = g.op("Concat", [g.weight("blocks.0.attn.q_bias", [8]), middle, g.weight("blocks.0.attn.v_bias", [8])],
                SCOPE, axis=0)
    weight = g.op("Transpose", [g.weight("blocks.0.attn.qkv.weight", [24, 8])], SCOPE, perm=[1, 0])
    qkv = g.op("Add", [bias, g.op("MatMul", [norm, weight], SCOPE)], SCOPE)
    heads = g.op("Transpose", [g.op("Reshape", [qkv, ints(g, [1, 5, 3, 2, -1])], SCOPE)], SCOPE,
                 perm=[2, 0, 3, 1, 4])  # 3 x 1 x 2 x 5 x 4
    parts = [f"split_{i}" for i in range(3)]
    g.nodes.append(helper.make_node("Split", [heads, ints(g, [1, 1, 1])], parts, name=f"{SCOPE}/Split", axis=0))
    q, k, v = (g.op("Squeeze", [part, ints(g, [0])], SCOPE) for part in parts)
    q = g.op("Mul", [q, g.scalar(0.5 ** 0.5)], SCOPE)  # sqrt(1/sqrt(4)) on q and on k^T, as timm's math path
    kt = g.op("Mul", [g.op("Transpose", [k], SCOPE, perm=[0, 1, 3, 2]), g.scalar(0.5 ** 0.5)], SCOPE)
    table = g.weight("blocks.0.attn.relative_position_bias_table", [table_rows, 2])
    index = "onnx::Gather_264"  # the index viewed flat, a Constant node outside any scope
    g.nodes.append(helper.make_node("Constant", [], [index], name="Constant_370",
                                    value=numpy_helper.from_array(numpy.array(INDEX, dtype=numpy.int64).reshape(-1))))
    gathered = g.op("Gather", [table, index], SCOPE, axis=0)  # 25 x 2
    position = g.op("Transpose", [g.op("Reshape", [gathered, ints(g, [5, 5, -1])], SCOPE)], SCOPE, perm=[2, 0, 1])
    position = g.op("Unsqueeze", [position, ints(g, [0])], SCOPE)
    scores = g.op("Add", [g.op("MatMul", [q, kt], SCOPE), position], SCOPE)
    mixed = g.op("MatMul", [g.op("Softmax", [scores], SCOPE, axis=-1), v], SCOPE)
    back = g.op("Reshape", [g.op("Transpose", [mixed], SCOPE, perm=[0, 2, 1, 3]), ints(g, [1, 5, 8])], SCOPE)
    proj = g.linear(back, 8, 8, SCOPE + "/proj")
    x = g.op("Add", [x, g.op("Mul", [g.weight("blocks.0.gamma_1", [8]), proj], "/blocks.0")], "/blocks.0")
    rest = g.op("Slice", [x, ints(g, [1], ""), ints(g, [2 ** 63 - 1], ""), ints(g, [1], ""), ints(g, [1], "")], "")
    mean = g.op("ReduceMean", [rest], "", axes=[1], keepdims=0)
    norm = g.op("LayerNormalization", [mean, g.weight("fc_norm.weight", [8]), g.weight("fc_norm.bias", [8])],
                "/fc_norm", axis=-1)
    head = g.op("Gemm", [norm, g.weight("head.weight", [10, 8]), g.weight("head.bias", [10])], "/head", transB=1)
    return g.save(folder, head)


def test_beit_attention_with_q_and_v_biases_and_a_class_tokens_relative_table(tmp_path):
    report, by_name = totals(tiny_beit(tmp_path))
    assert [row.type for row in report.rows] == ["conv", "tokens", "classtoken", "layernorm", "attention", "scale",
                                                 "add", "meantokens", "layernorm", "fc"]
    keys, attention = report.spec.layers[4].keys, report.rows[4]
    assert (keys["heads"], keys["k_bias"], keys["position"], keys["class_token"]) == (2, "buffer", "relative", True)
    assert "qkv_bias" not in keys and "window" not in keys
    # qkv 8*24 = 192; the q and v biases 2*8 = 16 (k's 8 zeros a buffer); the table ((2*2-1)^2 + 3) rows * 2 heads
    # = 24; proj 8*8 + 8 = 72
    assert attention.params == 192 + 16 + 24 + 72 == 304
    assert attention.buffers == 8 + 5 * 5 == 33  # k's zeros; the index, N*N
    # qkv 5 tokens * 8*24 = 960; QK^T 2 heads * 5*5*4 = 200; AV 200; proj 5*8*8 = 320
    assert attention.macs == 960 + 200 + 200 + 320 == 1680
    assert report.spec.layers[7].keys == {"skip": 1}  # the mean of the 4 patch tokens, the class token left out
    assert report.rows[7].out_shape == (8,) and report.rows[7].flops == 4 * 8
    # conv 8*3*16 + 8 = 392; class token 8; norm1 16; attention 304; gamma_1 8; fc_norm 16; head 8*10 + 10 = 90
    assert report.totals["params"] == 392 + 8 + 16 + 304 + 8 + 16 + 90 == 834
    assert report.totals["buffers"] == 33
    # conv 8 * 2*2 * 3*16 = 1,536; attention 1,680; head 8*10 = 80
    assert report.totals["macs"] == 1536 + 1680 + 80 == 3296


def test_beit_table_without_the_class_tokens_three_rows_is_refused(tmp_path):
    # a table of (2*2-1)^2 = 9 rows: neither BEiT's (12) nor biases by offset (one a token a head): refused
    with pytest.raises(SpecError, match=r"node '/blocks.0/.*attention-like pattern"):
        cnncalc.analyze(tiny_beit(tmp_path, table_rows=9))


def test_beit_k_bias_learned_is_three_biases(tmp_path):
    # k's bias a learned tensor like q's and v's (a model that learns all three): 3*8 params, no k buffer
    report, _ = totals(tiny_beit(tmp_path, k_zeros=False))
    keys, attention = report.spec.layers[4].keys, report.rows[4]
    assert "k_bias" not in keys
    assert (attention.params, attention.buffers) == (192 + 24 + 24 + 72, 25)


def folded_qkv_bias(folder, k_zeros=True):
    """The same q/k/v bias as torch.export stores it (timm's EVA-02 attention, written as BEiT's): one initializer
    ``cat_1`` folded from q_bias, k_bias and v_bias (its record in value_info), k's third zeros; the 4 positions
    of a 1 x 8 x 2 x 2 map as tokens of width 8, 2 heads of 4, no position bias."""
    g = Graph("dynamo", (1, 8, 2, 2))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("val_4", [1, 8, 4])], allowzero=1)], perm=[0, 2, 1])
    norm = g.op("LayerNormalization", [tokens, g.weight("blocks.0.norm1.weight", [8]),
                                       g.weight("blocks.0.norm1.bias", [8])], axis=-1)
    values = numpy.random.default_rng(0).normal(0, 0.02, 24).astype(numpy.float32)
    if k_zeros:
        values[8:16] = 0
    g.inits.append(numpy_helper.from_array(values, "cat_1"))
    g.folded("cat_1", ["blocks.0.attn.k_bias", "blocks.0.attn.q_bias", "blocks.0.attn.v_bias"])
    qkv = g.op("Add", [g.op("MatMul", [norm, g.weight("val_12", [8, 24])]), "cat_1"])
    heads = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("val_20", [1, 4, 3, 2, 4])], allowzero=1)],
                 perm=[2, 0, 3, 1, 4])
    q, k, v = (g.op("Squeeze", [g.op("Slice", [heads, g.ints(f"start{i}", [i]), g.ints(f"end{i}", [i + 1]),
                                               g.ints("axis0", [0])]), g.ints("axis0", [0])]) for i in range(3))
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)]), g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    mixed = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    back = g.op("Reshape", [g.op("Transpose", [mixed], perm=[0, 2, 1, 3]), g.ints("val_182", [1, 4, 8])], allowzero=1)
    return g.save(folder, g.op("Add", [tokens, g.linear(back, 8, 8, "blocks.0.attn.proj")]))


@pytest.mark.parametrize("k_zeros", [True, False])
def test_q_k_v_bias_torch_export_folded_from_q_bias_k_bias_and_v_bias(tmp_path, k_zeros):
    report, _ = totals(folded_qkv_bias(tmp_path, k_zeros))
    keys, attention = report.spec.layers[2].keys, report.rows[2]
    assert [row.type for row in report.rows] == ["tokens", "layernorm", "attention", "add"]
    # qkv 8*24 = 192; proj 8*8 + 8 = 72; the q and v biases 2*8 (k's 8 zeros a buffer), or all three 3*8
    assert (keys.get("k_bias"), attention.params, attention.buffers) == (
        ("buffer", 192 + 16 + 72, 8) if k_zeros else (None, 192 + 24 + 72, 0))
    # qkv 4*8*24 = 768; QK^T and AV 2 heads * 4*4*4 = 128 each; proj 4*8*8 = 256
    assert attention.macs == 768 + 128 + 128 + 256 == 1280
