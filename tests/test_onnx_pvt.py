"""Reading PVT v2 (timm's pvt_v2) from ONNX: an overlapping patch embedding (a conv, a LayerNorm on the
channels-last map), spatial-reduction attention (q from every token; k and v from the tokens' map reduced by a
conv of kernel = stride = sr_ratio and a LayerNorm, then projected; with sr_ratio 1 projected from the tokens),
and the MLP's depthwise conv on its hidden tokens reshaped to the map; and Twins-SVT (timm's twins), whose
global sub-sampled attention is PVT's and whose locally-grouped attention runs in windows of the tokens' map
and gives tokens back, with PosConv (a depthwise conv on the map, plus the map).

Built with onnx.helper in the form each exporter writes it, as read off real exports of timm 1.0's pvt_v2_b0:
TorchScript (``dynamo=False``) unbinds k and v with a Split and Squeezes and transposes k with one Transpose;
torch.export (``dynamo=True``) with Slices and Squeezes, and k's transpose as a Reshape, Transpose and Reshape.
Numbers worked by hand in each test (the attention's checked against timm's Attention under FlopCounterMode).
Skipped without the onnx package.
"""

import pytest

onnx = pytest.importorskip("onnx")

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from tests.test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def layernorm(g, x, width, scope):
    name = scope.strip("/").replace("/", ".")
    return g.op("LayerNormalization", [x, g.weight(f"{name}.weight", [width]), g.weight(f"{name}.bias", [width])],
                scope, axis=-1)


def unbind(g, kv, scope):
    """k and v of the 2 x 1 x heads x M x d tensor, as each exporter unbinds it."""
    if g.form == "torchscript":
        k, v = (f"kv{g.count}_{i}" for i in range(2))
        g.count += 1
        from onnx import helper

        g.nodes.append(helper.make_node("Split", [kv, g.ints("split_sizes", [1, 1])], [k, v],
                                        name=f"{scope}/Split_{g.count}", axis=0))
        return [g.op("Squeeze", [t, g.ints("axis0", [0])], scope) for t in (k, v)]
    return [g.op("Squeeze", [g.op("Slice", [kv, g.ints(f"at{i}", [i]), g.ints(f"at{i + 1}", [i + 1]),
                                            g.ints("axis0", [0])]), g.ints("axis0", [0])]) for i in range(2)]


def attention(g, x, sides, sr, scope, norm=True):
    """timm's pvt_v2 Attention on ``x`` (1 x N x 8 tokens of the ``sides`` map): 2 heads of 4, sr_ratio ``sr``
    (``norm``: the LayerNorm after the reduction conv)."""
    count = sides[0] * sides[1]
    q = g.op("Transpose", [g.op("Reshape", [g.linear(x, 8, 8, scope + "/q"), g.ints(f"q_heads{count}",
                                                                                   [1, count, 2, 4])], scope)],
             scope, perm=[0, 2, 1, 3])
    if sr > 1:
        grid = g.op("Reshape", [g.op("Transpose", [x], scope, perm=[0, 2, 1]),
                                g.ints(f"to_map{count}", [1, 8] + list(sides))], scope)
        name = scope.strip("/").replace("/", ".")
        reduced = g.op("Conv", [grid, g.weight(f"{name}.sr.weight", [8, 8, sr, sr]), g.weight(f"{name}.sr.bias", [8])],
                       scope + "/sr", kernel_shape=[sr, sr], strides=[sr, sr], pads=[0, 0, 0, 0])
        x = g.op("Transpose", [g.op("Reshape", [reduced, g.ints(f"flat{count}", [1, 8, -1])], scope)], scope,
                 perm=[0, 2, 1])
        x = layernorm(g, x, 8, scope + "/norm") if norm else x
    kept = count // (sr * sr)
    kv = g.op("Transpose", [g.op("Reshape", [g.linear(x, 8, 16, scope + "/kv"),
                                             g.ints(f"kv_heads{count}", [1, -1, 2, 2, 4])], scope)],
              scope, perm=[2, 0, 3, 1, 4])
    k, v = unbind(g, kv, scope)
    if g.form == "torchscript":
        kt = g.op("Transpose", [k], scope, perm=[0, 1, 3, 2])
    else:
        flat = g.op("Reshape", [k, g.ints(f"k3_{kept}", [2, kept, 4])])
        kt = g.op("Reshape", [g.op("Transpose", [flat], perm=[0, 2, 1]), g.ints(f"k4_{kept}", [1, 2, 4, kept])])
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], scope), kt], scope)
    mixed = g.op("MatMul", [g.op("Softmax", [scores], scope, axis=-1), v], scope)
    back = g.op("Reshape", [g.op("Transpose", [mixed], scope, perm=[0, 2, 1, 3]), g.ints(f"to_tokens{count}",
                                                                                        [1, count, 8])], scope)
    return g.linear(back, 8, 8, scope + "/proj")


def mlp(g, x, sides, scope):
    """timm's MlpWithDepthwiseConv: fc1 8 -> 16, a depthwise 3x3 conv on the hidden tokens' map, GELU, fc2."""
    count = sides[0] * sides[1]
    hidden = g.op("Reshape", [g.op("Transpose", [g.linear(x, 8, 16, scope + "/fc1")], scope, perm=[0, 2, 1]),
                              g.ints(f"hidden_map{count}", [1, 16] + list(sides))], scope)
    name = scope.strip("/").replace("/", ".")
    conv = g.op("Conv", [hidden, g.weight(f"{name}.dwconv.weight", [16, 1, 3, 3]),
                         g.weight(f"{name}.dwconv.bias", [16])], scope + "/dwconv", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1], group=16)
    tokens = g.op("Transpose", [g.op("Reshape", [conv, g.ints(f"hidden_flat{count}", [1, 16, count])], scope)],
                  scope, perm=[0, 2, 1])
    return g.linear(g.gelu(tokens, scope + "/act"), 16, 8, scope + "/fc2")


def tiny_pvt(form, folder, norm=True):
    """3 x 12 x 8 image; an overlapping patch embedding (3x3 conv, stride 2, pad 1: 8 x 6 x 4, then a LayerNorm):
    24 tokens of width 8; block 0 with sr_ratio 2 (k and v from the 3 x 2 map: 6 tokens), block 1 with
    sr_ratio 1; the mean of the tokens; a 10-way head."""
    g = Graph(form, (1, 3, 12, 8))
    embed = g.op("Conv", ["x", g.weight("patch_embed.proj.weight", [8, 3, 3, 3]),
                          g.weight("patch_embed.proj.bias", [8])], "/patch_embed/proj", kernel_shape=[3, 3],
                 strides=[2, 2], pads=[1, 1, 1, 1])
    x = layernorm(g, g.op("Transpose", [embed], "/patch_embed", perm=[0, 2, 3, 1]), 8, "/patch_embed/norm")
    x = g.op("Reshape", [x, g.ints("tokens", [1, 24, 8])], "/stages/stages.0")
    for index, sr in enumerate((2, 1)):
        scope = f"/stages/stages.0/blocks.{index}"
        x = g.op("Add", [x, attention(g, layernorm(g, x, 8, scope + "/norm1"), (6, 4), sr, scope + "/attn", norm)], scope)
        x = g.op("Add", [x, mlp(g, layernorm(g, x, 8, scope + "/norm2"), (6, 4), scope + "/mlp")], scope)
    pooled = g.op("ReduceMean", [x], "", axes=[1], keepdims=0) if form == "torchscript" else \
        g.op("ReduceMean", [x, g.ints("axis1", [1])], keepdims=0)
    return g.save(folder, g.op("Gemm", [pooled, g.weight("head.weight", [10, 8]), g.weight("head.bias", [10])],
                               "/head", transB=1))


@pytest.mark.parametrize("form", FORMS)
def test_pvt_spatial_reduction_attention_and_depthwise_mlp(tmp_path, form):
    report, rows = totals(tiny_pvt(form, tmp_path))
    reduced, plain = [row for row in report.rows if row.type == "attention"]
    assert report.spec.layers[[row.name for row in report.rows].index(reduced.name)].keys["reduce"] == 2
    # the 6 x 4 map is not square: its grid is written with it
    keys = next(layer.keys for layer in report.spec.layers if layer.type == "attention")
    assert (keys["heads"], keys["reduce"], keys["grid"]) == (2, 2, [6, 4])
    # q 8*8 + 8, kv 8*16 + 16, proj 8*8 + 8; the sr conv 8*8*2*2 + 8; its LayerNorm 16 (timm: 568)
    assert reduced.params == 72 + 144 + 72 + 264 + 16 == 568
    # k, v from the 3 x 2 map: M = 6; q 24*8*8, conv 8*6*8*4, kv 6*8*16, QK^T and AV 2*24*6*4, proj 24*8*8
    assert reduced.macs == 1536 + 1536 + 768 + 2 * 1152 + 1536 == 7680
    # sr_ratio 1: plain attention, k and v projected from the 24 tokens: 24*8*24 + 2*2*24*24*4 + 24*8*8
    assert plain.params == 288
    assert plain.macs == 4608 + 2 * 4608 + 1536 == 15360
    types = [row.type for row in report.rows]
    # the patch embedding's tokens; each MLP's hidden tokens to the map and back around its depthwise conv
    assert types.count("untokens") == 2 and types.count("tokens") == 3
    dwconv = [row for row in report.rows if row.type == "dwconv"]
    # a 16-channel depthwise 3x3 with bias: 16*9 + 16 = 160 params, 16*24*9 = 3,456 MACs
    assert [(row.params, row.macs) for row in dwconv] == [(160, 3456)] * 2
    # embed conv 8*27 + 8 = 224 and LN 16; per block: 2 LNs 32, attention, fc1 144, dwconv 160, fc2 136; head 90
    assert report.totals["params"] == 224 + 16 + (32 + 568 + 144 + 160 + 136) + (32 + 288 + 144 + 160 + 136) + 90
    # embed 8*24*27 = 5,184; per block the attention, fc1 24*8*16 = 3,072, dwconv 3,456, fc2 3,072; head 80
    assert report.totals["macs"] == 5184 + (7680 + 3072 + 3456 + 3072) + (15360 + 3072 + 3456 + 3072) + 80


@pytest.mark.parametrize("form", FORMS)
def test_reduction_without_its_layernorm_is_refused_in_one_line(tmp_path, form):
    with pytest.raises(SpecError, match=r"keys and values come from its tokens reduced by a 2x2 conv, not as cnncalc "
                                        r"reads it"):
        cnncalc.analyze(tiny_pvt(form, tmp_path, norm=False))


def tiny_twins(folder):
    """Twins-SVT's locally-grouped attention and PosConv as the TorchScript exporter writes them (torch.export
    fails on twins_svt_small): 3 x 8 x 8 image, 2x2 patches -> 16 tokens of width 8; the tokens viewed as the
    4 x 4 channels-last map, padded (by nothing), split into 2 x 2 windows, q/k/v projected in them, 2 heads of 4,
    the windows joined and flattened to tokens again, the output projection; then PosConv (a depthwise 3x3 conv
    on the map, plus the map), the mean of the tokens, a 10-way head."""
    g = Graph("torchscript", (1, 3, 8, 8))
    embed = g.op("Conv", ["x", g.weight("patch_embeds.0.proj.weight", [8, 3, 2, 2]),
                          g.weight("patch_embeds.0.proj.bias", [8])], "/patch_embeds.0/proj", kernel_shape=[2, 2],
                 strides=[2, 2])
    x = g.op("Transpose", [g.op("Reshape", [embed, g.ints("flat", [1, 8, 16])], "/patch_embeds.0")],
             "/patch_embeds.0", perm=[0, 2, 1])
    x = layernorm(g, x, 8, "/patch_embeds.0/norm")
    s = "/blocks.0.0/attn"
    grid = g.op("Reshape", [layernorm(g, x, 8, "/blocks.0.0/norm1"), g.ints("to_map", [1, 4, 4, 8])], s)
    padded = g.op("Pad", [grid, g.ints("pads", [0] * 8)], s, mode="constant")
    windows = g.op("Transpose", [g.op("Reshape", [padded, g.ints("to_windows", [1, 2, 2, 2, 2, 8])], s)], s,
                   perm=[0, 1, 3, 2, 4, 5])
    qkv = g.op("Transpose", [g.op("Reshape", [g.linear(windows, 8, 24, s + "/qkv"),
                                              g.ints("to_heads", [1, 4, 4, 3, 2, 4])], s)], s,
               perm=[3, 0, 1, 4, 2, 5])  # 3 x 1 x 4 windows x 2 heads x 4 positions x 4
    from onnx import helper

    parts = [f"qkv_{i}" for i in range(3)]
    g.nodes.append(helper.make_node("Split", [qkv, g.ints("split_sizes", [1, 1, 1])], parts, name=f"{s}/Split",
                                    axis=0))
    q, k, v = (g.op("Squeeze", [part, g.ints("axis0", [0])], s) for part in parts)
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], s), g.op("Transpose", [k], s, perm=[0, 1, 2, 4, 3])],
                  s)
    mixed = g.op("MatMul", [g.op("Softmax", [scores], s, axis=-1), v], s)  # 1 x 4 x 2 x 4 x 4
    back = g.op("Reshape", [g.op("Transpose", [mixed], s, perm=[0, 1, 3, 2, 4]),
                            g.ints("to_windows2", [1, 2, 2, 2, 2, 8])], s)
    back = g.op("Reshape", [g.op("Transpose", [back], s, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_map2", [1, 4, 4, 8])],
                s)
    tokens = g.op("Reshape", [back, g.ints("to_tokens", [1, 16, 8])], s)
    x = g.op("Add", [x, g.linear(tokens, 8, 8, s + "/proj")], "/blocks.0.0")
    p = "/pos_block.0"
    grid = g.op("Reshape", [g.op("Transpose", [x], p, perm=[0, 2, 1]), g.ints("to_grid", [1, 8, 4, 4])], p)
    conv = g.op("Conv", [grid, g.weight("pos_block.0.proj.0.weight", [8, 1, 3, 3]),
                         g.weight("pos_block.0.proj.0.bias", [8])], p + "/proj/proj.0", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1], group=8)
    summed = g.op("Add", [conv, grid], p)
    x = g.op("Transpose", [g.op("Reshape", [summed, g.ints("flat2", [1, 8, 16])], p)], p, perm=[0, 2, 1])
    pooled = g.op("ReduceMean", [x], "", axes=[1], keepdims=0)
    return g.save(folder, g.op("Gemm", [pooled, g.weight("head.weight", [10, 8]), g.weight("head.bias", [10])],
                               "/head", transB=1))


def test_twins_locally_grouped_attention_and_position_conv(tmp_path):
    report, rows = totals(tiny_twins(tmp_path))
    attention = next(row for row in report.rows if row.type == "attention")
    keys = next(layer.keys for layer in report.spec.layers if layer.type == "attention")
    assert (keys["heads"], keys["window"]) == (2, 2)
    # timm's LocallyGroupedAttn(8, num_heads=2, ws=2) on the 4x4 map (PyTorch: 288 params, 5,120 MACs):
    # qkv 8*24 + 24, proj 8*8 + 8; qkv 16*8*24 = 3,072, QK^T and AV 4 windows * 2 heads * 4*4*4 = 512 each,
    # proj 16*8*8 = 1,024
    assert (attention.params, attention.macs) == (216 + 72, 3072 + 2 * 512 + 1024) == (288, 5120)
    # on the map (8 x 4 x 4), then the map's positions as tokens again
    position = [row.type for row in report.rows].index("attention")
    assert attention.out_shape == (8, 4, 4) and report.rows[position + 1].type == "tokens"
    # PosConv(8, 8) (PyTorch: 80 params, 1,152 MACs): a depthwise 3x3 with bias, 8*9 + 8; 8*16*9
    dwconv = next(row for row in report.rows if row.type == "dwconv")
    assert (dwconv.params, dwconv.macs) == (80, 1152)
    # patch conv 8*3*4 + 8 = 104 and LN 16; norm1 16; attention 288; PosConv 80; head 90
    assert report.totals["params"] == 104 + 16 + 16 + 288 + 80 + 90 == 594
    # patch conv 8*16*12 = 1,536; attention 5,120; PosConv 1,152; head 80
    assert report.totals["macs"] == 1536 + 5120 + 1152 + 80 == 7888
