"""EVA-02 from ONNX (timm's eva02_tiny_patch14_224, tools/export_modern.py's eva02_tiny; only torch.export writes
it: the TorchScript exporter fails inside PyTorch): the q/k/v bias torch.export folded from q_bias, k_bias (zeros,
a buffer) and v_bias; the rotary position embedding (RoPE) of q and k of the patch tokens, elementwise products by
halves of a sin/cos table the model holds as a buffer; the SwiGLU MLP (fc1's output split in two on the width,
silu(x1) * x2, fc2); the mean of the tokens after the class token.

Built with onnx.helper in torch.export's form, as read off eva02_tiny's export (``node_*`` names, shapes as
``val_*`` initializers, Reshape with allowzero, the folded bias ``cat_1`` with its record, the table's
``InputSpec.kind`` BUFFER record in value_info, Split with num_outputs). The numbers are worked by hand in each
test. Skipped without the onnx package.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import Graph, totals  # noqa: E402

BIG = 2 ** 63 - 1


def buffer(g, name, dims):
    """A buffer of the model as torch.export records it: an initializer with InputSpec.kind BUFFER."""
    g.weight(name, dims)
    info = helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))
    entry = info.metadata_props.add()
    entry.key, entry.value = "pkg.torch.export.graph_signature.InputSpec.kind", "BUFFER"
    g.infos.append(info)
    return name


def split(g, x, axis, parts=2):
    g.count += 1
    outputs = [f"split_{g.count}_{i}" for i in range(parts)]
    g.nodes.append(helper.make_node("Split", [x], outputs, name=f"node_Split_{g.count}", axis=axis, num_outputs=parts))
    return outputs


def rotated(g, x, sin, cos):
    """timm's apply_rot_embed_cat on the patch tokens of q or k (1 x 2 heads x 5 tokens x 4): the class token's
    row kept, the other 4 rows times cos plus their pairs swapped (one negated) times sin."""
    first = g.op("Slice", [x, g.ints("s0", [0]), g.ints("s1", [1]), g.ints("ax2", [2]), g.ints("st1", [1])])
    rest = g.op("Slice", [x, g.ints("s1", [1]), g.ints("big", [BIG]), g.ints("ax2", [2]), g.ints("st1", [1])])
    odd = g.op("Slice", [rest, g.ints("s1", [1]), g.ints("big", [BIG]), g.ints("ax3", [3]), g.ints("st2", [2])])
    even = g.op("Slice", [rest, g.ints("s0", [0]), g.ints("big", [BIG]), g.ints("ax3", [3]), g.ints("st2", [2])])
    pairs = [g.op("Unsqueeze", [g.op("Neg", [odd]), g.ints("last", [-1])]),
             g.op("Unsqueeze", [even, g.ints("last", [-1])])]
    swapped = g.op("Reshape", [g.op("Concat", pairs, axis=-1), g.ints("val_93", [1, 2, 4, 4])], allowzero=1)
    turned = g.op("Add", [g.op("Mul", [rest, cos]), g.op("Mul", [swapped, sin])])
    return g.op("Concat", [first, turned], axis=2)


def tiny_eva(folder, table_rows=4):
    """The 4 positions of a 1 x 8 x 2 x 2 map as tokens of width 8, a class token (N = 5), a position embedding;
    one block: LayerNorm, attention of 2 heads of 4 with RoPE on the 4 patch tokens (a ``table_rows`` x 8 sin/cos
    table), LayerNorm, SwiGLU (fc1 8 -> 16, halves of 8, fc2 8 -> 8); the mean of the 4 patch tokens, LayerNorm,
    a 10-way head."""
    g = Graph("dynamo", (1, 8, 2, 2))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("val_4", [1, 8, 4])], allowzero=1)], perm=[0, 2, 1])
    x = g.op("Add", [g.op("Concat", [g.weight("expand", [1, 1, 8]), tokens], axis=1), g.weight("pos_embed", [1, 5, 8])])
    norm = g.op("LayerNormalization", [x, g.weight("blocks.0.norm1.weight", [8]), g.weight("blocks.0.norm1.bias", [8])],
                axis=-1)
    values = numpy.random.default_rng(0).normal(0, 0.02, 24).astype(numpy.float32)
    values[8:16] = 0
    g.inits.append(numpy_helper.from_array(values, "cat_1"))
    g.folded("cat_1", ["blocks.0.attn.k_bias", "blocks.0.attn.q_bias", "blocks.0.attn.v_bias"])
    qkv = g.op("Add", [g.op("MatMul", [norm, g.weight("val_12", [8, 24])]), "cat_1"])
    heads = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("val_20", [1, 5, 3, 2, 4])], allowzero=1)],
                 perm=[2, 0, 3, 1, 4])
    q, k, v = (g.op("Squeeze", [g.op("Slice", [heads, g.ints(f"start{i}", [i]), g.ints(f"end{i}", [i + 1]),
                                               g.ints("s0", [0])]), g.ints("s0", [0])]) for i in range(3))
    sin, cos = split(g, buffer(g, "rope.pos_embed", [table_rows, 8]), axis=1)
    q, k = rotated(g, q, sin, cos), rotated(g, k, sin, cos)
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)]), g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    mixed = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    back = g.op("Reshape", [g.op("Transpose", [mixed], perm=[0, 2, 1, 3]), g.ints("val_182", [1, 5, 8])], allowzero=1)
    x = g.op("Add", [x, g.linear(back, 8, 8, "blocks.0.attn.proj")])
    norm = g.op("LayerNormalization", [x, g.weight("blocks.0.norm2.weight", [8]), g.weight("blocks.0.norm2.bias", [8])],
                axis=-1)
    gate, value = split(g, g.linear(norm, 8, 16, "blocks.0.mlp.fc1"), axis=2)
    hidden = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), value])
    x = g.op("Add", [x, g.linear(hidden, 8, 8, "blocks.0.mlp.fc2")])
    rest = g.op("Slice", [x, g.ints("s1", [1]), g.ints("big", [BIG]), g.ints("ax1", [1]), g.ints("st1", [1])])
    mean = g.op("ReduceMean", [rest, g.ints("ax1", [1])], keepdims=0)
    norm = g.op("LayerNormalization", [mean, g.weight("fc_norm.weight", [8]), g.weight("fc_norm.bias", [8])], axis=-1)
    return g.save(folder, g.op("Gemm", [norm, g.weight("head.weight", [10, 8]), g.weight("head.bias", [10])],
                               transB=1))


def test_eva02_rope_swiglu_and_the_folded_q_k_v_bias(tmp_path):
    report, _ = totals(tiny_eva(tmp_path))
    assert [row.type for row in report.rows] == ["tokens", "classtoken", "posembed", "layernorm", "attention", "add",
                                                 "layernorm", "linear", "chunk", "chunk", "silu", "mul", "linear",
                                                 "add", "meantokens", "layernorm", "fc"]
    keys, attention = report.spec.layers[4].keys, report.rows[4]
    assert (keys["heads"], keys["k_bias"], keys["rope"], keys["class_token"]) == (2, "buffer", "table", True)
    # qkv 8*24 = 192; the q and v biases 2*8 (k's 8 zeros a buffer); proj 8*8 + 8 = 72; RoPE no params
    assert attention.params == 192 + 16 + 72 == 280
    assert attention.buffers == 8 + 4 * 2 * 4 == 40  # k's zeros; the table, 4 patch positions x 2 x 4 (sin, cos)
    # qkv 5*8*24 = 960; QK^T and AV 2 heads * 5*5*4 = 200 each; proj 5*8*8 = 320; RoPE's products no MACs
    assert attention.macs == 960 + 200 + 200 + 320 == 1680
    assert [report.rows[i].out_shape for i in (8, 9, 11)] == [(5, 8)] * 3  # fc1's 16 features in two halves
    # class token 8; position embedding 5*8 = 40; three LayerNorms 3*16 = 48; attention 280; fc1 8*16 + 16 = 144;
    # fc2 8*8 + 8 = 72; head 8*10 + 10 = 90
    assert report.totals["params"] == 8 + 40 + 16 + 280 + 16 + 144 + 72 + 16 + 90 == 682
    assert report.totals["buffers"] == 40
    # attention 1,680; fc1 5*8*16 = 640; fc2 5*8*8 = 320; head 8*10 = 80
    assert report.totals["macs"] == 1680 + 640 + 320 + 80 == 2720


def test_rope_table_that_does_not_fit_the_tokens_is_refused(tmp_path):
    # a table of 3 positions for 4 patch tokens: not RoPE as cnncalc reads it, refused in one line
    with pytest.raises(SpecError, match=r"node 'node_Mul_\d+' \(Mul\).*attention"):
        cnncalc.analyze(tiny_eva(tmp_path, table_rows=3))


def test_rope_as_a_spec_key():
    base = {"tokens": [257, 192]}
    one = cnncalc.analyze({"input": base, "layers": [
        {"name": "a", "type": "attention", "heads": 3, "k_bias": "buffer", "rope": "table", "class_token": True},
        {"name": "b", "type": "attention", "heads": 3, "k_bias": "buffer", "rope": "shared", "class_token": True}]},
        explain=True)
    # EVA-02 Tiny's: the table 256 patch positions x 2 x 64 = 32,768 buffers, in the first layer only; k's zeros 192
    assert (one.row("a").buffers, one.row("b").buffers) == (192 + 32768, 192)
    assert one.row("a").params == one.row("b").params == 3 * 192 * 192 + 2 * 192 + 192 * 192 + 192
    assert any("256*2*64 = 32,768" in line for _, line in one.row("a").explain)
    with pytest.raises(SpecError, match="rope needs tokens"):
        cnncalc.analyze({"input": [192, 16, 16], "layers": [{"type": "attention", "heads": 3, "rope": "table"}]})
