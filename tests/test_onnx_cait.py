"""CaiT from ONNX (timm's cait.py), in the forms both PyTorch exporters write: talking-heads attention (the
scores mixed across the heads by a heads x heads Linear before and after the softmax), LayerScale, and the
class attention blocks at the end (the class token concatenated late, alone querying every token, and added
back to itself). The forms were read off timm 1.0's cait_xxs24_224 exported with torch 2.14.1; the numbers are
worked by hand in each test (and agree with FlopCounterMode's for the modules: tests/test_attention_cait.py).
"""

import pytest

pytest.importorskip("onnx")

from test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def _heads(g, x, n, s, form):
    """Unbind of q, k, v (3 x 1 x heads x n x d) as each exporter writes it."""
    parts = []
    for i in range(3):
        if form == "torchscript":
            parts.append(g.op("Gather", [x, g.ints(f"index{i}", i)], s, axis=0))
        else:
            piece = g.op("Slice", [x, g.ints(f"start{i}", [i]), g.ints(f"end{i}", [i + 1]), g.ints("axis0", [0])])
            parts.append(g.op("Squeeze", [piece, g.ints("axis0", [0])]))
    return parts


def _talking_block(g, x, form):
    """LayerNorm, TalkingHeadAttn(8, 2 heads) on 4 tokens, gamma_1 * attn added back."""
    s = "/blocks/blocks.0/attn"
    norm = g.op("LayerNormalization", [x, g.weight("b0.norm1.weight", [8]), g.weight("b0.norm1.bias", [8])],
                "/blocks/blocks.0/norm1", axis=-1)
    qkv = g.linear(norm, 8, 24, s + "/qkv")
    qkv5 = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [1, 4, 3, 2, 4])], s)], s,
                perm=[2, 0, 3, 1, 4])
    q, k, v = _heads(g, qkv5, 4, s, form)
    q = g.op("Mul", [q, g.scalar(0.5)], s)
    scores = g.op("MatMul", [q, g.op("Transpose", [k], s, perm=[0, 1, 3, 2])], s)  # 1 x 2 x 4 x 4
    mixed = g.linear(g.op("Transpose", [scores], s, perm=[0, 2, 3, 1]), 2, 2, s + "/proj_l")
    attn = g.op("Softmax", [g.op("Transpose", [mixed], s, perm=[0, 3, 1, 2])], s, axis=-1)
    mixed = g.linear(g.op("Transpose", [attn], s, perm=[0, 2, 3, 1]), 2, 2, s + "/proj_w")
    out = g.op("MatMul", [g.op("Transpose", [mixed], s, perm=[0, 3, 1, 2]), v], s)  # 1 x 2 x 4 x 4
    back = g.op("Reshape", [g.op("Transpose", [out], s, perm=[0, 2, 1, 3]), g.ints("to_tokens", [1, 4, 8])], s)
    proj = g.linear(back, 8, 8, s + "/proj")
    scaled = g.op("Mul", [g.weight("blocks.0.gamma_1", [8]), proj], "/blocks/blocks.0")
    return g.op("Add", [x, scaled], "/blocks/blocks.0")


def class_attn(g, norm, n, width, heads, s, name):
    """ClassAttn(width, heads) on the n tokens ``norm`` as both exporters write it: q a Gemm on the Gather of
    token 0, unsqueezed into heads; k and v Linears on all the tokens; q and k each times sqrt(1/sqrt(d))."""
    d = width // heads
    first = g.op("Gather", [norm, g.ints("zero", 0)], s, axis=1)  # 1 x width
    q = g.op("Gemm", [first, g.weight(f"{name}.q.weight", [width, width]), g.weight(f"{name}.q.bias", [width])],
             s + "/q", transB=1)
    q = g.op("Unsqueeze", [q, g.ints("axis1", [1])], s)
    q = g.op("Transpose", [g.op("Reshape", [q, g.ints(f"q_heads{d}", [1, 1, heads, d])], s)], s, perm=[0, 2, 1, 3])
    k = g.op("Reshape", [g.linear(norm, width, width, s + "/k"), g.ints(f"kv_heads{n}", [1, n, heads, d])], s)
    v = g.op("Reshape", [g.linear(norm, width, width, s + "/v"), g.ints(f"kv_heads{n}", [1, n, heads, d])], s)
    v = g.op("Transpose", [v], s, perm=[0, 2, 1, 3])
    kt = g.op("Transpose", [k], s, perm=[0, 2, 3, 1])  # 1 x heads x d x n
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.7)], s), g.op("Mul", [kt, g.scalar(0.7)], s)], s)
    out = g.op("MatMul", [g.op("Softmax", [scores], s, axis=-1), v], s)  # 1 x heads x 1 x d
    back = g.op("Reshape", [g.op("Transpose", [out], s, perm=[0, 2, 1, 3]), g.ints(f"to_token{width}", [1, 1, width])],
                s)
    return g.linear(back, width, width, s + "/proj")


def _class_block(g, x, cls, i, form):
    """LayerNorm of the class token and the 4 tokens, ClassAttn(8, 2 heads), gamma_1 * its token added to
    the class token."""
    u = g.op("Concat", [cls, x], f"/blocks_token_only.{i}", axis=1)  # 1 x 5 x 8
    norm = g.op("LayerNormalization", [u, g.weight(f"t{i}.norm1.weight", [8]), g.weight(f"t{i}.norm1.bias", [8])],
                f"/blocks_token_only.{i}/norm1", axis=-1)
    proj = class_attn(g, norm, 5, 8, 2, f"/blocks_token_only.{i}/attn", f"t{i}")
    scaled = g.op("Mul", [g.weight(f"blocks_token_only.{i}.gamma_1", [8]), proj], f"/blocks_token_only.{i}")
    return g.op("Add", [cls, scaled], f"/blocks_token_only.{i}")


def tiny_cait(form, folder):
    """3 x 8 x 8 image, 4x4 patches -> 4 tokens of width 8, a position embedding, one talking-heads block, two
    class attention blocks, the class token put back before the tokens, LayerNorm, the class token's head."""
    g = Graph(form, (1, 3, 8, 8))
    patches = g.op("Conv", ["x", g.weight("patch.weight", [8, 3, 4, 4]), g.weight("patch.bias", [8])], "/patch",
                   kernel_shape=[4, 4], strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [patches, g.ints("to_flat", [1, 8, 4])], "")], "", perm=[0, 2, 1])
    x = g.op("Add", [tokens, g.weight("pos_embed", [1, 4, 8])], "")
    x = _talking_block(g, x, form)
    if form == "torchscript":  # the class token expanded to the batch; torch.export folds it to a constant
        cls = g.op("Expand", [g.weight("cls_token", [1, 1, 8]), g.ints("batch", [1, 1, 8])], "")
    else:
        cls = g.weight("expand", [1, 1, 8])
    for i in range(2):
        cls = _class_block(g, x, cls, i, form)
    joined = g.op("Concat", [cls, x], "", axis=1)
    norm = g.op("LayerNormalization", [joined, g.weight("norm.weight", [8]), g.weight("norm.bias", [8])], "/norm",
                axis=-1)
    first = g.op("Gather", [norm, g.ints("zero", 0)], "", axis=1)
    head = g.op("Gemm", [first, g.weight("head.weight", [10, 8]), g.weight("head.bias", [10])], "/head", transB=1)
    return g.save(folder, head)


@pytest.mark.parametrize("form", FORMS)
def test_tiny_cait_talking_heads_and_class_attention(tmp_path, form):
    report, _ = totals(tiny_cait(form, tmp_path))
    attention = [row for row in report.rows if row.type == "attention"]
    keys = [layer.keys for layer in report.spec.layers if layer.type == "attention"]
    assert [k.get("talking_heads", False) for k in keys] == [True, False, False]
    assert [k.get("queries", "all") for k in keys] == ["all", "class", "class"]
    # talking heads on 4 tokens: qkv 8*24 + 24 = 216, proj 72, proj_l and proj_w 2*(2*2 + 2) = 12
    assert attention[0].params == 216 + 72 + 12 == 300
    # qkv 4*8*24 = 768; QK^T 2*4*4*4 = 128; AV 128; proj 4*8*8 = 256; talking 2 * (4*4 positions * 2*2) = 128
    assert attention[0].macs == 768 + 128 + 128 + 256 + 128 == 1408
    # class attention on 5 tokens: q, k, v, proj 4*(64 + 8) = 288 params; MACs q 64 + k and v 2*5*64 + q K^T
    # 2*1*5*4 + AV 40 + proj 64 = 848
    assert [(row.params, row.macs, row.out_shape) for row in attention[1:]] == [(288, 848, (1, 8))] * 2
    types = [row.type for row in report.rows]
    assert types.count("classtoken") == 1  # the class token's 8 params once: the residual takes it back, no params
    assert [row.out_shape for row in report.rows if row.type == "concat"] == [(5, 8), (5, 8)]
    # conv 392, pos_embed 32, 4 LayerNorms 4*16 (the talking block's, the two class blocks', the last), talking
    # attention 300 + gamma 8, class token 8, two class blocks 2*(288 + gamma 8), head 90
    assert report.totals["params"] == 392 + 32 + 64 + 300 + 8 + 8 + 2 * 296 + 90 == 1486
    # conv 8 * 2*2 * 3*16 = 1,536; the attention 1,408 + 2*848; the head 80
    assert report.totals["macs"] == 1536 + 1408 + 2 * 848 + 80 == 4720
