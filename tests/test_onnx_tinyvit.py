"""timm's TinyViT from ONNX, whichever exporter wrote it.

Built with onnx.helper in the forms read off real exports of timm 1.0's tiny_vit_5m_224 (tools/export_modern.py):
TinyViTBlock holds its map channels-last and, where the map is larger than the window, partitions it into windows
(Reshape N x H/w x w x W/w x w x C, Transpose [0, 1, 3, 2, 4, 5], Reshape N*windows x w*w x C); where the map is the
window it flattens it into tokens (Reshape N x H*W x C). Its Attention then runs a LayerNorm of its own, the qkv
Linear, a Reshape into heads and a Split into q, k and v, the scores plus attention biases gathered from a learned
heads x n table by an n x n index (one value a head for each offset between two positions; torch.export folds the
gather into one heads x n x n constant), and the output projection; the windows are put back (or the tokens viewed
as the map) and added to the map. Numbers worked by hand in each test.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402


def _index(g, name, n):
    """The n x n offset index: a Constant node (TorchScript's attention_bias_idxs)."""
    g.nodes.append(helper.make_node("Constant", [], [name], name=f"Constant_{name}", value=numpy_helper.from_array(
        (numpy.arange(n * n, dtype=numpy.int64) % n).reshape(n, n))))
    return name


def _attention(g, x, rows, n, block, norm=True):
    """TinyViT's Attention on ``rows`` x ``n`` tokens of width 8: (LayerNorm), qkv Linear(8, 24), 2 heads of 4,
    biases by offset (2 x n), proj Linear(8, 8)."""
    s = f"/stages/stages.1/blocks/blocks.{block}/attn"
    scope = s.strip("/").replace("/", ".")
    if norm:
        x = g.op("LayerNormalization", [x, g.weight(f"{scope}.norm.weight", [8]), g.weight(f"{scope}.norm.bias", [8])],
                 s + "/norm", axis=-1)
    qkv = g.linear(x, 8, 24, s + "/qkv")
    heads = g.op("Reshape", [qkv, g.ints(f"to_heads{block}", [rows, n, 2, 12])], s)
    g.count += 1
    q, k, v = (f"split{block}_{i}" for i in range(3))
    g.nodes.append(helper.make_node("Split", [heads, g.ints(f"sizes{block}", [4, 4, 4])], [q, k, v], name=s + "/Split",
                                    axis=3))
    q, v = (g.op("Transpose", [t], s, perm=[0, 2, 1, 3]) for t in (q, v))
    if g.form == "torchscript":
        k = g.op("Transpose", [k], s, perm=[0, 2, 3, 1])
    else:  # torch.export: k's transpose as a view of rows x heads, a Transpose, and back
        k = g.op("Reshape", [g.op("Transpose", [k], perm=[0, 2, 1, 3]), g.ints(f"flat{block}", [rows * 2, n, 4])])
        k = g.op("Reshape", [g.op("Transpose", [k], perm=[0, 2, 1]), g.ints(f"unflat{block}", [rows, 2, 4, n])])
    scale = g.scalar(0.7)
    scores = g.op("MatMul", [g.op("Mul", [q, scale], s), g.op("Mul", [k, scale], s)], s)
    if g.form == "torchscript":
        table = g.weight(f"{scope}.attention_biases", [2, n])
        bias = g.op("Gather", [table, _index(g, f"onnx::Gather_{block}", n)], s, axis=1)
    else:
        bias = g.weight(f"{scope}.lifted_tensor_{block}", [2, n, n])
    attn = g.op("Softmax", [g.op("Add", [scores, bias], s)], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])
    return g.linear(g.op("Reshape", [mixed, g.ints(f"to_rows{block}", [rows, n, 8])], s), 8, 8, s + "/proj")


def tiny_tinyvit(folder, form, norm=True):
    """Two TinyViT blocks' attention on a 1 x 4 x 4 x 8 channels-last map: the first in 2 x 2 windows (4 windows
    of n = 4 positions), the second on the whole map as one window (16 tokens); the map back to N x C x H x W."""
    g = Graph(form, (1, 8, 4, 4))
    x = g.op("Transpose", ["x"], "/stages/stages.1", perm=[0, 2, 3, 1])
    b = "/stages/stages.1/blocks/blocks.0"
    windows = g.op("Reshape", [x, g.ints("to_windows", [1, 2, 2, 2, 2, 8])], b)
    windows = g.op("Reshape", [g.op("Transpose", [windows], b, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_win", [4, 4, 8])],
                   b)
    out = _attention(g, windows, 4, 4, 0, norm)
    back = g.op("Reshape", [out, g.ints("to_windows2", [1, 2, 2, 2, 2, 8])], b)
    back = g.op("Reshape", [g.op("Transpose", [back], b, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_map", [1, 4, 4, 8])], b)
    x = g.op("Add", [x, back], b)
    b = "/stages/stages.1/blocks/blocks.1"
    tokens = g.op("Reshape", [x, g.ints("to_tokens", [1, 16, 8])], b)
    out = _attention(g, tokens, 1, 16, 1)
    x = g.op("Add", [x, g.op("Reshape", [out, g.ints("to_map1", [1, 4, 4, 8])], b)], b)
    return g.save(folder, g.op("Transpose", [x], "/stages/stages.1", perm=[0, 3, 1, 2]))


@pytest.mark.parametrize("form", FORMS)
def test_tinyvit_attention_normalizing_its_windows_and_biases_by_offset(tmp_path, form):
    report, _ = totals(tiny_tinyvit(tmp_path, form))
    types = [row.type for row in report.rows]
    attentions = [row for row in report.rows if row.type == "attention"]
    assert types[:3] == ["layernorm", "attention", "add"]  # the LayerNorm in the windows: one on the map before
    assert types.count("layernorm") == 2 and len(attentions) == 2
    first, second = (layer.keys for layer in report.spec.layers if layer.type == "attention")
    folded = form == "dynamo"
    assert (first["heads"], first["window"], first["position"]) == (2, 2, "folded" if folded else "offsets")
    assert (second["heads"], second["position"]) == (2, "folded" if folded else "offsets")
    assert "window" not in second and "key_dim" not in first
    # qkv 8*24 + 24 = 216, proj 8*8 + 8 = 72; the biases 2 heads * n offsets (n = 4 a window, 16 on the tokens),
    # their index n*n buffers; torch.export's folded constants 2 * n * n
    assert (attentions[0].params, attentions[0].buffers) == ((216 + 72 + 32, 0) if folded else (216 + 72 + 8, 16))
    assert (attentions[1].params, attentions[1].buffers) == ((216 + 72 + 512, 0) if folded else (216 + 72 + 32, 256))
    # windows: qkv 16 positions * 8*24 = 3,072; QK^T and AV 4 windows * 2 heads * 4*4*4 = 512 each; proj 16*8*8
    assert attentions[0].macs == 3072 + 512 + 512 + 1024 == 5120
    # tokens: qkv 3,072; QK^T and AV 2 heads * 16*16*4 = 2,048 each; proj 1,024
    assert attentions[1].macs == 3072 + 2048 + 2048 + 1024 == 8192
    # the two LayerNorms 2*8 each
    assert report.totals["params"] == 16 + 16 + attentions[0].params + attentions[1].params
    assert report.totals["macs"] == 5120 + 8192


def test_layer_norm_after_the_projection_in_windows_is_not_read_as_one_before(tmp_path):
    """A LayerNorm in the windows once the region has projected them is no norm of the map: refused."""
    g = Graph("torchscript", (1, 8, 4, 4))
    x = g.op("Transpose", ["x"], "/stages/stages.1", perm=[0, 2, 3, 1])
    b = "/stages/stages.1/blocks/blocks.0"
    windows = g.op("Reshape", [x, g.ints("to_windows", [1, 2, 2, 2, 2, 8])], b)
    windows = g.op("Reshape", [g.op("Transpose", [windows], b, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_win", [4, 4, 8])],
                   b)
    out = _attention(g, windows, 4, 4, 0, norm=False)
    out = g.op("LayerNormalization", [out, g.weight("late.weight", [8]), g.weight("late.bias", [8])], b, axis=-1)
    back = g.op("Reshape", [out, g.ints("to_windows2", [1, 2, 2, 2, 2, 8])], b)
    back = g.op("Reshape", [g.op("Transpose", [back], b, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_map", [1, 4, 4, 8])], b)
    path = g.save(tmp_path, g.op("Transpose", [g.op("Add", [x, back], b)], b, perm=[0, 3, 1, 2]))
    with pytest.raises(SpecError, match="LayerNormalization"):
        totals(path)
