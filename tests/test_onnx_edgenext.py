"""EdgeNeXt from ONNX: channel splits torch.chunk cuts unequally, cross-covariance attention across the channels,
and a Fourier position encoding projected by a conv the graph runs on constants.

Each pattern is built with onnx.helper in the form each PyTorch exporter writes it (read off timm 1.0's
edgenext_small exported by torch 2.14: the TorchScript exporter's Slices of channels with computed bounds,
Split + Squeeze for q, k, v and the encoding's CumSum/Sin/Cos on Constant nodes; torch.export's Split with
sizes, Slice + Squeeze and the encoding's grid stored as an initializer), and the numbers are worked by hand.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402

SCOPE = "/stages/stages.1/blocks/blocks.0"


def chunks(g, x, sizes):
    """x.chunk(len(sizes), dim=1): Slices of the channels (TorchScript) or one Split (torch.export)."""
    if g.form == "dynamo":
        g.count += 1
        outputs = [f"t{g.count}_{i}" for i in range(len(sizes))]
        g.nodes.append(helper.make_node("Split", [x, g.ints(f"split_sizes{g.count}", sizes)], outputs,
                                        name=f"node_Split_{g.count}", axis=1))
        return outputs
    parts, begin = [], 0
    for size in sizes:
        end = begin + max(sizes)  # torch.chunk's slices run to (i + 1) * ceil(C/n), past C for the last
        parts.append(g.op("Slice", [x, g.ints(f"s{g.count}", [begin]), g.ints(f"e{g.count}", [end]),
                                    g.ints(f"a{g.count}", [1])], SCOPE))
        begin += size
    return parts


def dwconv(g, x, channels, name):
    return g.op("Conv", [x, g.weight(f"stages.1.blocks.0.{name}.weight", [channels, 1, 3, 3]),
                         g.weight(f"stages.1.blocks.0.{name}.bias", [channels])], f"{SCOPE}/{name}",
                group=channels, kernel_shape=[3, 3], pads=[1, 1, 1, 1])


def fourier(g, features=2, kernel=1):
    """PositionalEncodingFourier(hidden_dim=features, dim=10) on a 4 x 4 grid: the sines and cosines of the
    positions' cumulative sums (2*features channels), projected by a Conv to 10 channels, as 1 x 16 x 10."""
    s = f"{SCOPE}/pos_embd"
    if g.form == "torchscript":
        g.count += 1
        grid = f"grid{g.count}"
        ones = numpy_helper.from_array(numpy.ones((1, 4, 4, features), dtype=numpy.float32))
        g.nodes.append(helper.make_node("Constant", [], [grid], name=f"{s}/Constant", value=ones))
        grid = g.op("CumSum", [grid, g.ints("cumsum_axis", 1)], s)
        sines, cosines = g.op("Sin", [grid], s), g.op("Cos", [grid], s)
    else:  # the positions over the frequencies, stored: its even and odd features sliced (x[..., 0::2], 1::2)
        grid = g.weight("div_4", [1, 4, 4, 2 * features])
        sines, cosines = (g.op(op, [g.op("Slice", [grid, g.ints(f"from{i}", [i]), g.ints("end", [2 ** 62]),
                                                   g.ints("last", [3]), g.ints("two", [2])])])
                          for i, op in enumerate(("Sin", "Cos")))
    joined = g.op("Transpose", [g.op("Concat", [sines, cosines], s, axis=3)], s, perm=[0, 3, 1, 2])
    pads = [kernel // 2] * 4
    conv = g.op("Conv", [joined, g.weight("stages.1.blocks.0.pos_embd.token_projection.weight",
                                          [10, 2 * features, kernel, kernel]),
                         g.weight("stages.1.blocks.0.pos_embd.token_projection.bias", [10])],
                f"{s}/token_projection", kernel_shape=[kernel, kernel], pads=pads)
    flat = g.op("Reshape", [conv, g.ints("pos_flat", [1, -1, 16])], SCOPE)
    return g.op("Transpose", [flat], SCOPE, perm=[0, 2, 1])


def xca(g, x, heads=2, width=10, tokens=16):
    """CrossCovarianceAttn(width, heads): q, k, v of d = width/heads channels by N tokens, q and k L2-normalised
    over the tokens, the d x d scores times a learned temperature a head, softmax, times v; the proj Linear."""
    s, d = f"{SCOPE}/xca", width // heads
    qkv = g.linear(x, width, 3 * width, f"{s}/qkv")
    qkv = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [1, tokens, 3, heads, d])], s)], s,
               perm=[2, 0, 3, 4, 1])  # 3 x 1 x heads x d x N
    if g.form == "torchscript":
        g.count += 1
        parts = [f"t{g.count}_{i}" for i in range(3)]
        g.nodes.append(helper.make_node("Split", [qkv, g.ints("ones", [1, 1, 1])], parts, name=f"{s}/Split", axis=0))
    else:
        parts = [g.op("Slice", [qkv, g.ints(f"b{i}", [i]), g.ints(f"f{i}", [i + 1]), g.ints("zero", [0])])
                 for i in range(3)]
    q, k, v = (g.op("Squeeze", [part, g.ints("axis0", [0])], s) for part in parts)
    normed = []
    for t in (q, k):
        norm = g.op("Clip", [g.op("ReduceL2", [t], s, axes=[-1], keepdims=1), g.scalar(1e-12)], s)
        normed.append(g.op("Div", [t, g.op("Expand", [norm, g.op("Shape", [t], s)], s)], s))
    scores = g.op("MatMul", [normed[0], g.op("Transpose", [normed[1]], s, perm=[0, 1, 3, 2])], s)
    scores = g.op("Mul", [scores, g.weight("stages.1.blocks.0.xca.temperature", [heads, 1, 1])], s)
    mixed = g.op("MatMul", [g.op("Softmax", [scores], s, axis=-1), v], s)  # heads x d x N
    mixed = g.op("Reshape", [g.op("Transpose", [mixed], s, perm=[0, 3, 1, 2]), g.ints("to_tokens", [1, tokens, width])],
                 s)
    return g.linear(mixed, width, width, f"{s}/proj")


def tiny_edgenext(folder, form, sizes=(4, 4, 2), features=2, kernel=1):
    """SplitTransposeBlock(10, num_scales=3, num_heads=2) on a 1 x 10 x 4 x 4 map: chunk(3) into 4, 4 and 2
    channels, dwconv, add, dwconv, concat; the map as 16 tokens, plus the Fourier encoding; LayerNorm; XCA
    times gamma_xca, added; back to the map, added to the input."""
    g = Graph(form, (1, 10, 4, 4))
    parts = chunks(g, "x", list(sizes))
    first = dwconv(g, parts[0], 4, "convs.0")
    second = dwconv(g, g.op("Add", [first, parts[1]], SCOPE), 4, "convs.1")
    joined = g.op("Concat", [first, second, parts[2]], SCOPE, axis=1)
    tokens = g.op("Transpose", [g.op("Reshape", [joined, g.ints("to_tokens0", [1, 10, 16])], SCOPE)], SCOPE,
                  perm=[0, 2, 1])
    tokens = g.op("Add", [tokens, fourier(g, features, kernel)], SCOPE)
    norm = g.op("LayerNormalization", [tokens, g.weight("stages.1.blocks.0.norm_xca.weight", [10]),
                                       g.weight("stages.1.blocks.0.norm_xca.bias", [10])], f"{SCOPE}/norm_xca",
                axis=-1)
    attended = g.op("Mul", [g.weight("stages.1.blocks.0.gamma_xca", [10]), xca(g, norm)], SCOPE)
    tokens = g.op("Add", [tokens, attended], SCOPE)
    back = g.op("Transpose", [g.op("Reshape", [tokens, g.ints("to_map", [1, 4, 4, 10])], SCOPE)], SCOPE,
                perm=[0, 3, 1, 2])
    return g.save(folder, g.op("Add", ["x", back], SCOPE))


@pytest.mark.parametrize("form", FORMS)
def test_edgenext_split_transpose_block(tmp_path, form):
    report, _ = totals(tiny_edgenext(tmp_path, form))
    assert [row.type for row in report.rows] == ["chunk", "chunk", "chunk", "dwconv", "add", "dwconv", "concat",
                                                 "tokens", "posembed", "layernorm", "attention", "scale", "add",
                                                 "untokens", "add"]
    # torch.chunk(3) of 10 channels: ceil(10/3) = 4, 4, and the 2 left
    assert [row.out_shape[0] for row in report.rows[:3]] == [4, 4, 2]
    position, attention = report.rows[8], report.rows[10]
    if form == "torchscript":  # named after the modules; torch.export's after the modules its metadata records
        assert (position.name, attention.name) == ("stages.1.blocks.0.pos_embd", "stages.1.blocks.0.xca")
    # Conv2d(4, 10, 1) on the 2 + 2 sine and cosine features of 4 x 4 positions: 4*10 + 10 params, 16*4*10 MACs
    assert (position.params, position.macs) == (50, 640)
    assert report.spec.layers[8].keys == {"fourier": 2}
    assert report.spec.layers[10].keys == {"heads": 2, "over": "channels", "cosine": True}
    # qkv 10*30 + 30, proj 10*10 + 10, the temperature one a head: 2
    assert attention.params == 330 + 110 + 2 == 442
    # qkv 16*10*30 = 4,800; q k^T and attn v each heads*d*d*N = 2*5*5*16 = 800; proj 16*10*10 = 1,600
    assert attention.macs == 4800 + 800 + 800 + 1600 == 8000
    # the dwconvs 4*9 + 4 = 40 params and 4*16*9 = 576 MACs each; the norm 20; gamma_xca 10
    assert report.totals["params"] == 40 + 40 + 50 + 20 + 442 + 10 == 602
    assert report.totals["macs"] == 576 + 576 + 640 + 8000 == 9792


def test_position_encoding_by_a_wider_conv_is_refused_in_one_line(tmp_path):
    # a 3x3 projection: no posembed layer counts it, so the Add naming the computed constant is refused
    with pytest.raises(SpecError, match=r"an Add of '.*', a constant the graph computes with learned tensors"):
        cnncalc.analyze(tiny_edgenext(tmp_path, "torchscript", kernel=3))


def test_split_by_num_outputs_cuts_the_last_part_narrower(tmp_path):
    # ONNX's Split with num_outputs (opset 18) of channels it does not divide: parts of ceil(10/3) = 4, the last 2
    g = Graph("dynamo", (1, 10, 4, 4))
    g.nodes.append(helper.make_node("Split", ["x"], ["a", "b", "c"], name="node_Split_1", axis=1, num_outputs=3))
    path = g.save(tmp_path, g.op("Concat", ["c", "a"], axis=1))
    report, _ = totals(path)
    assert [(row.type, row.out_shape[0]) for row in report.rows] == [("chunk", 4), ("chunk", 4), ("chunk", 2),
                                                                     ("concat", 6)]


def test_split_without_a_module_path_is_named_after_its_readers_modules(tmp_path):
    # torch.export's optimizer writes EdgeNeXt's chunk as a Split with no recorded module path; the conv and the
    # concat that read it record theirs ('stages.1.blocks.2.convs.0', 'stages.1.blocks.2'), so the chunks are
    # named in the module they share
    g = Graph("dynamo", (1, 8, 4, 4))
    g.nodes.append(helper.make_node("Split", ["x"], ["a", "b"], name="node_Split_376", axis=1, num_outputs=2))
    scopes = "['', 'stages', 'stages.1', 'stages.1.blocks.2'"
    conv = g.op("Conv", ["a", g.weight("w", [4, 1, 3, 3])], group=4, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    helper.set_metadata_props(g.nodes[-1], {"pkg.torch.onnx.name_scopes": scopes + ", 'stages.1.blocks.2.convs.0', "
                                                                                    "'conv2d_7']"})
    joined = g.op("Concat", [conv, "b"], axis=1)
    helper.set_metadata_props(g.nodes[-1], {"pkg.torch.onnx.name_scopes": scopes + ", 'cat']"})
    report, _ = totals(g.save(tmp_path, joined))
    assert [row.name for row in report.rows[:2]] == ["stages.1.blocks.2.split.0", "stages.1.blocks.2.split.1"]


def shared_through_identity(path, name, kept):
    """The file at ``path`` with initializer ``name`` stored as ``kept`` and read through an Identity, as the
    TorchScript exporter's constant folding (its default) keeps one initializer of tensors of equal values."""
    model = onnx.load(path)
    for tensor in model.graph.initializer:
        if tensor.name == name:
            tensor.name = kept
    model.graph.node.insert(0, helper.make_node("Identity", [kept], [name], name="Identity_363"))
    onnx.save(model, path)
    return path


def test_a_temperature_shared_through_identity_counts_as_the_param(tmp_path):
    # an untrained model's temperatures, all ones: one initializer for all, the others Identities of it
    path = shared_through_identity(tiny_edgenext(tmp_path, "torchscript"), "stages.1.blocks.0.xca.temperature",
                                   "stages.0.blocks.0.xca.temperature")
    report, _ = totals(path)
    assert report.rows[10].params == 330 + 110 + 2 == 442  # as above: the temperature, one a head
    assert report.totals["params"] == 602


def test_a_projection_bias_shared_through_identity_counts_as_the_param(tmp_path):
    # the same folding keeps one of the position encodings' equal biases (an untrained model's zeros)
    path = shared_through_identity(tiny_edgenext(tmp_path, "torchscript"),
                                   "stages.1.blocks.0.pos_embd.token_projection.bias",
                                   "stages.0.blocks.0.pos_embd.token_projection.bias")
    report, _ = totals(path)
    assert (report.rows[8].params, report.rows[8].macs) == (50, 640)  # as above: 4*10 + 10, 16*4*10
    assert report.totals["params"] == 602
