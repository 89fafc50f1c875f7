"""MobileViT v2 from ONNX and as a spec: the map unfolded into patches held channels-first (N x C x P x Np), its
separable self-attention (``separableattention``), GroupNorm(1, C) and 1x1 convs on the patches, the fold back.

Reference figures: timm 1.0's LinearSelfAttention measured with torch 2.14.1's FlopCounterMode (/ 2) and
sum(p.numel()): LinearSelfAttention(64) on 1 x 64 x 4 x 256 (mobilevitv2_050's stages.2.1.transformer.0.attn)
12,648,448 MACs, 12,545 params; LinearSelfAttention(80, bias=False) on 1 x 80 x 16 x 16 4,935,680 MACs, 19,280
params. The ONNX patterns are built with onnx.helper in the forms the two exporters wrote for timm's
mobilevitv2_050 (TorchScript: the unfold's shape from Constant nodes, GroupNorm's Reshape back by the Shape of its
input, the weights unsqueezed to C x 1 x 1, Expand by the Shape of v; torch.export: constants stored as
initializers), and the numbers are worked by hand.
"""

import pytest

import cnncalc
from cnncalc.errors import SpecError

pytest.importorskip("onnx")
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402

SCOPE = "/stages/stages.2/stages.2.1"


def one(input, **keys):
    spec = {"input": input, "layers": [{"name": "x", **keys}]}
    return cnncalc.analyze(spec, explain=True).row("x")


def test_separable_attention_is_timms_linear_self_attention():
    row = one([64, 32, 32], type="separableattention", patch=2)
    # q,k,v 64*(1+2*64) + 129, out 64*64 + 64; MACs 1,024 positions * (64*129 + 64*64)
    assert (row.out_shape, row.params, row.buffers) == ((64, 32, 32), 64 * 129 + 129 + 64 * 64 + 64, 0) \
        == ((64, 32, 32), 12545, 0)
    assert row.macs == 1024 * 64 * 129 + 1024 * 64 * 64 == 12648448
    row = one([80, 16, 16], type="separableattention", bias=False)
    assert (row.params, row.macs) == (80 * 161 + 80 * 80, 256 * (80 * 161 + 80 * 80)) == (19280, 4935680)
    texts = [text for _, text in one([64, 32, 32], type="separableattention", patch=2).explain]
    assert "MACs q,k,v projection = N*C*(1+2C) = 1024*64*129 = 8,454,144" in texts
    assert any(text.startswith("N = 1,024 positions of width C = 64; 4 sequences (one a pixel of the 2x2 patches) "
                               "of 256 positions") for text in texts), texts


def test_separable_attention_on_tokens_and_its_errors():
    row = one({"tokens": [10, 8]}, type="separableattention")
    assert (row.out_shape, row.params, row.macs) == ((10, 8), 8 * 17 + 17 + 64 + 8, 10 * (8 * 17 + 64)) \
        == ((10, 8), 225, 2000)
    with pytest.raises(SpecError, match="patch 3x3 does not tile the map 64 x 32 x 32"):
        one([64, 32, 32], type="separableattention", patch=3)
    with pytest.raises(SpecError, match="patch needs a map"):
        one({"tokens": [10, 8]}, type="separableattention", patch=2)


def unsqueezed(g, name, channels):
    """A per-channel weight as C x 1 x 1: Unsqueeze at [1, 2] (TorchScript), stored so (torch.export)."""
    if g.form == "torchscript":
        return g.op("Unsqueeze", [g.weight(name, [channels]), g.ints(f"axes{g.count}", [1, 2])], SCOPE)
    return g.weight(name, [channels, 1, 1])


def group_norm(g, x, name, dims):
    """GroupNorm(1, C) as both exporters write it: Reshape N x 1 x -1, InstanceNormalization, Reshape back (by the
    Shape of the input, or the dims stored), times the weight, plus the bias."""
    s = f"{SCOPE}/{name}"
    flat = g.op("Reshape", [x, g.ints(f"flat{g.count}", [0, 1, -1])], s)
    norm = g.op("InstanceNormalization", [flat, g.weight(f"one{g.count}", [1], 1.0), g.weight(f"zero{g.count}", [1],
                                                                                                0.0)], s)
    back = g.op("Shape", [x], s) if g.form == "torchscript" else g.ints(f"back{g.count}", list(dims))
    scaled = g.op("Mul", [g.op("Reshape", [norm, back], s), unsqueezed(g, f"stages.2.1.{name}.weight", dims[1])], s)
    return g.op("Add", [scaled, unsqueezed(g, f"stages.2.1.{name}.bias", dims[1])], s)


def conv1x1(g, x, cin, cout, name, bias=True):
    inputs = [x, g.weight(f"stages.2.1.{name}.weight", [cout, cin, 1, 1])]
    if bias:
        inputs.append(g.weight(f"stages.2.1.{name}.bias", [cout]))
    return g.op("Conv", inputs, f"{SCOPE}/{name}", kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[1, 1])


def linear_self_attention(g, x, channels, dims, bias=True):
    """LinearSelfAttention(C): q,k,v a 1x1 conv to 1 + 2C, Split [1, C, C], softmax(q) over the patches, the keys
    weighted and summed over them, relu(v) times that (Expand by the Shape of v, or the dims stored), out 1x1."""
    s = f"{SCOPE}/transformer/transformer.0/attn"
    qkv = conv1x1(g, x, channels, 1 + 2 * channels, "transformer.0.attn.qkv_proj", bias)
    g.count += 1
    q, k, v = (f"t{g.count}_{i}" for i in range(3))
    split = g.ints(f"sizes{g.count}", [1, channels, channels])
    g.nodes.append(g_node("Split", [qkv, split], [q, k, v], s, g, axis=1))
    weighted = g.op("Mul", [k, g.op("Softmax", [q], s, axis=-1)], s)
    context = g.op("ReduceSum", [weighted, g.ints(f"last{g.count}", [-1])], s, keepdims=1)
    shape = g.op("Shape", [v], s) if g.form == "torchscript" else g.ints(f"dims{g.count}", list(dims))
    mixed = g.op("Mul", [g.op("Relu", [v], s), g.op("Expand", [context, shape], s)], s)
    return conv1x1(g, mixed, channels, channels, "transformer.0.attn.out_proj", bias)


def g_node(op, inputs, outputs, scope, g, **attrs):
    from onnx import helper

    name = f"{scope}/{op}_{g.count}" if g.form == "torchscript" else f"node_{op}_{g.count}"
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def tiny_mobilevitv2(folder, form, bias=True, after=3):
    """timm's MobileVitV2Block's global part on a 1 x 4 x 8 x 8 map in 2 x 2 patches: unfold (Reshape 1x4x4x2x4x2,
    Transpose [0, 1, 3, 5, 2, 4], Reshape 1x4x4x16: 4 pixels a patch, 16 patches), GroupNorm(1, 4),
    LinearSelfAttention(4), + its input, the fold back (Reshape 1x4x2x2x4x4, Transpose [0, 1, 4, 2, 5, 3], Reshape
    1x4x8x8), then a conv ``after`` x ``after`` on the map (before the fold when ``after`` is negative)."""
    g = Graph(form, (1, 4, 8, 8))
    x = g.op("Transpose", [g.op("Reshape", ["x", g.ints("split", [1, 4, 4, 2, 4, 2])], SCOPE)], SCOPE,
             perm=[0, 1, 3, 5, 2, 4])
    patches = g.op("Reshape", [x, g.ints("patches", [1, 4, 4, 16])], SCOPE)
    if after < 0:
        k = -after
        return g.save(folder, g.op("Conv", [patches, g.weight("late.weight", [4, 4, k, k])], f"{SCOPE}/late",
                                   kernel_shape=[k, k], pads=[k // 2] * 4))
    norm = group_norm(g, patches, "transformer.0.norm1", (1, 4, 4, 16))
    added = g.op("Add", [patches, linear_self_attention(g, norm, 4, (1, 4, 4, 16), bias)], SCOPE)
    x = g.op("Transpose", [g.op("Reshape", [added, g.ints("unpatch", [1, 4, 2, 2, 4, 4])], SCOPE)], SCOPE,
             perm=[0, 1, 4, 2, 5, 3])
    x = g.op("Reshape", [x, g.ints("map", [1, 4, 8, 8])], SCOPE)
    return g.save(folder, g.op("Conv", [x, g.weight("stages.2.1.conv_proj.weight", [4, 4, after, after])],
                               f"{SCOPE}/conv_proj", kernel_shape=[after, after], pads=[after // 2] * 4))


@pytest.mark.parametrize("form", FORMS)
def test_mobilevitv2_patches_and_separable_attention(tmp_path, form):
    report, rows = totals(tiny_mobilevitv2(tmp_path, form))
    assert [row.type for row in report.rows] == ["groupnorm", "separableattention", "add", "conv"]
    assert [row.out_shape for row in report.rows] == [(4, 8, 8)] * 4  # the map, however the graph holds it
    attention = report.rows[1]
    assert report.spec.layers[1].keys.get("patch") == 2
    assert attention.params == 4 * 9 + 9 + 4 * 4 + 4 == 65  # q,k,v 4*(1+2*4) + 9, out 4*4 + 4
    assert attention.macs == 64 * (4 * 9 + 4 * 4) == 3328  # 64 positions; the weighting and the sum: no MACs
    assert report.rows[0].params == 2 * 4  # GroupNorm(1, 4): a weight and a bias a channel
    assert report.rows[3].macs == 64 * 4 * 4 * 9 == 9216  # the 3x3 conv on the map folded back
    assert report.totals["params"] == 8 + 65 + 4 * 4 * 9


@pytest.mark.parametrize("form", FORMS)
def test_mobilevitv2_without_biases(tmp_path, form):
    report, _ = totals(tiny_mobilevitv2(tmp_path, form, bias=False))
    assert report.rows[1].params == 4 * 9 + 4 * 4 == 52
    assert report.spec.layers[1].keys.get("bias") is False


@pytest.mark.parametrize("form", FORMS)
def test_a_conv_that_sees_positions_is_refused_on_the_patches(tmp_path, form):
    with pytest.raises(SpecError, match="Conv.*is 4x4x16, a map unfolded into patches"):
        cnncalc.analyze(tiny_mobilevitv2(tmp_path, form, after=-3))
    report, _ = totals(tiny_mobilevitv2(tmp_path, form, after=-1))  # a 1x1 conv does not see the order
    assert report.rows[0].out_shape == (4, 8, 8) and report.rows[0].macs == 64 * 4 * 4


# --- EfficientViT (MIT): LiteMLA's ReLU linear attention over heads of q, k and v held as channels -------------

def test_linear_attention_is_timms_lite_mla_products():
    # efficientvit_b0's stages.2.blocks.1.context_module.main: 8 heads (4 heads x 2 scales) of d = 16 on 14 x 14;
    # FlopCounterMode's aten.bmm: 852,992 MACs (k^T [v, 1] and q times it)
    row = one([384, 14, 14], type="linearattention", heads=8)
    assert (row.out_shape, row.params, row.macs) == ((128, 14, 14), 0, 2 * 8 * 196 * 16 * 17) \
        == ((128, 14, 14), 0, 852992)
    with pytest.raises(SpecError, match="q, k and v of each head: 3 \\* heads \\* dim = 3\\*8\\*15 = 360"):
        one([384, 14, 14], type="linearattention", heads=8, dim=15)


def tiny_lite_mla(folder, form, extra=None):
    """LiteMLA's attention on a 1 x 12 x 4 x 4 map (2 heads of d = 2): Reshape 1x2x6x16, Transpose [0, 1, 3, 2],
    q, k, v (torch.export: a Split in three; TorchScript: three Slices whose bounds come from the Shape), ReLU of q
    and k, v padded with ones, relu(k)^T [v, 1], relu(q) times it, the last column plus eps dividing the others,
    Transpose back, Reshape 1x4x4x4, then the proj 1x1 conv 4 -> 4. ``extra``: an op put on q (refused)."""
    g = Graph(form, (1, 12, 4, 4))
    s = "/stages/stages.2/blocks/blocks.1/context_module/main"
    heads = g.op("Transpose", [g.op("Reshape", ["x", g.ints("heads", [1, -1, 6, 16])], s)], s, perm=[0, 1, 3, 2])
    if form == "dynamo":
        g.count += 1
        q, k, v = (f"t{g.count}_{i}" for i in range(3))
        g.nodes.append(g_node("Split", [heads], [q, k, v], s, g, axis=3, num_outputs=3))
    else:
        third = g.op("Div", [g.op("Gather", [g.op("Shape", [heads], s), g.ints("three", [3])], s, axis=0),
                             g.ints("by3", [3])], s)
        bounds = [g.ints("from0", [0]), third, g.op("Mul", [third, g.ints("two", [2])], s),
                  g.op("Mul", [third, g.ints("three_", [3])], s)]
        q, k, v = (g.op("Slice", [heads, bounds[i], bounds[i + 1], g.ints(f"axis{i}", [3])], s) for i in range(3))
    if extra:
        q = g.op(extra, [q], s)
    q, k = g.op("Relu", [q], s + "/kernel_func"), g.op("Relu", [k], s + "/kernel_func_1")
    padded = g.op("Pad", [v, g.ints("pads", [0, 0, 0, 0, 0, 0, 0, 1]), g.weight("one", [], 1.0)], s, mode="constant")
    kv = g.op("MatMul", [g.op("Transpose", [k], s, perm=[0, 1, 3, 2]), padded], s)
    out = g.op("MatMul", [q, kv], s)
    last = g.ints("last", [3])
    values = g.op("Slice", [out, g.ints("zero", [0]), g.ints("minus1", [-1]), last], s)
    norm = g.op("Slice", [out, g.ints("minus1_", [-1]), g.ints("end", [2 ** 62]), last], s)
    out = g.op("Div", [values, g.op("Add", [norm, g.weight("eps", [], 1e-5)], s)], s)
    out = g.op("Reshape", [g.op("Transpose", [out], s, perm=[0, 1, 3, 2]), g.ints("back", [1, 4, 4, 4])], s)
    return g.save(folder, g.op("Conv", [out, g.weight("stages.2.blocks.1.context_module.main.proj.conv.weight",
                                                      [4, 4, 1, 1])], s + "/proj/conv", kernel_shape=[1, 1]))


@pytest.mark.parametrize("form", FORMS)
def test_lite_mla_linear_attention(tmp_path, form):
    report, _ = totals(tiny_lite_mla(tmp_path, form))
    assert [row.type for row in report.rows] == ["linearattention", "conv"]
    assert [row.out_shape for row in report.rows] == [(4, 4, 4)] * 2
    attention = report.rows[0]
    assert report.spec.layers[0].keys.get("heads") == 2
    # 2 heads: relu(k)^T [v, 1] 2*2*3*16 and relu(q) times it 2*16*2*3; nothing learned in it
    assert (attention.params, attention.macs) == (0, 2 * 2 * 3 * 16 + 2 * 16 * 2 * 3) == (0, 384)
    assert report.totals["macs"] == 384 + 16 * 4 * 4 and report.totals["params"] == 16


@pytest.mark.parametrize("form", FORMS)
def test_something_else_inside_the_linear_attention_is_refused(tmp_path, form):
    with pytest.raises(SpecError, match="a Softmax inside EfficientViT's linear attention"):
        cnncalc.analyze(tiny_lite_mla(tmp_path, form, extra="Softmax"))
