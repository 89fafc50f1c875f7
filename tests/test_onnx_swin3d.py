"""The Video Swin Transformer (torchvision's swin3d_t) from ONNX, whichever exporter wrote it.

Built with onnx.helper in the forms read off real exports of torchvision 0.29's swin3d_t (tools/export_modern.py):
PatchEmbed3d pads T, H and W up to multiples of the patch (a zero Pad before the 3-d Conv), the map held
channels-last N x T x H x W x C, attention in windows of T x H x W with a relative position bias gathered from a
(2*Wt-1)*(2*Wh-1)*(2*Ww-1) x heads table by a (Wt*Wh*Ww)^2 index buffer, a roll by 0 on T (a window as long as the
clip) and by 1 on H and W, a shifted-window mask computed from constants, and PatchMerging in H and W only. The
TorchScript exporter slices the index to the window and writes the roll by 0 as Concat(x, an empty Slice of x);
torch.export writes it as a Slice of all of x and gathers the bias with GatherND from the table under a name it
gives it (``val_8``), its node's metadata naming the parameter. Numbers worked by hand in each test.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from test_onnx_modern import FORMS, Graph, totals  # noqa: E402

BIG = 2 ** 62
INDEXED_TABLE = ("%index : [num_users=1] = call_function[target=torch.ops.aten.index.Tensor](args = "
                 "(%p_features_0_0_attn_relative_position_bias_table, [%view]), kwargs = {})")


def _roll(g, x, s, shifts, first_whole):
    """torch.roll of the N x T x H x W x C ``x`` by ``shifts`` on T, H, W as the exporters write it: per axis, the
    last ``shift`` positions then the others (a shift of 0: all of x, and an empty Slice when ``first_whole``)."""
    for axis, shift in zip((1, 2, 3), shifts):
        if shift == 0 and first_whole:  # TorchScript: Concat(x, x[0:0])
            x = g.op("Concat", [x, g.op("Slice", [x, g.ints("zero", [0]), g.ints("zero", [0]),
                                                  g.ints(f"axis{axis}", [axis])], s)], s, axis=axis)
        elif shift == 0:  # torch.export: x[:, 0:T]
            x = g.op("Slice", [x, g.ints("zero", [0]), g.ints("two", [2]), g.ints(f"axis{axis}", [axis])], s)
        else:
            cut = g.ints(f"cut{shift}", [shift if shift > 0 else -shift])
            if shift < 0:  # the first -shift positions move to the end
                head = g.op("Slice", [x, g.ints("zero", [0]), cut, g.ints(f"axis{axis}", [axis])], s)
                tail = g.op("Slice", [x, cut, g.ints("big", [BIG]), g.ints(f"axis{axis}", [axis])], s)
                x = g.op("Concat", [tail, head], s, axis=axis)
            else:
                back = g.ints(f"back{shift}", [-shift])
                tail = g.op("Slice", [x, back, g.ints("big", [BIG]), g.ints(f"axis{axis}", [axis])], s)
                head = g.op("Slice", [x, g.ints("zero", [0]), back, g.ints(f"axis{axis}", [axis])], s)
                x = g.op("Concat", [tail, head], s, axis=axis)
    return x


def tiny_swin3d(folder, form, metadata=True, built=(2, 2, 2)):
    """A 1 x 3 x 3 x 8 x 8 clip: patches of 2 x 2 x 2 (T padded 3 -> 4) embedded in 8 channels, one shifted block
    in windows of 2 x 2 x 2 (2 heads of 4), PatchMerging, LayerNorm and its Linear 32 -> 16. The relative table and
    index are made for windows of ``built``: (4, 2, 2) is a block built for 4 frames run on the map's 2, as
    torchvision runs a window longer than the map (its index sliced to the 8 positions run)."""
    g = Graph(form, (1, 3, 3, 8, 8))
    padded = g.op("Pad", ["x", g.ints("pads", [0, 0, 0, 0, 0, 0, 0, 1, 0, 0])], "/patch_embed", mode="constant")
    conv = g.op("Conv", [padded, g.weight("patch_embed.proj.weight", [8, 3, 2, 2, 2]),
                         g.weight("patch_embed.proj.bias", [8])], "/patch_embed/proj", kernel_shape=[2, 2, 2],
                strides=[2, 2, 2], pads=[0] * 6)
    x = g.op("Transpose", [conv], "/patch_embed", perm=[0, 2, 3, 4, 1])  # 1 x 2 x 4 x 4 x 8
    block, s = "/features/features.0/features.0.0", "/features/features.0/features.0.0/attn"
    norm = g.op("LayerNormalization", [x, g.weight("features.0.0.norm1.weight", [8]),
                                       g.weight("features.0.0.norm1.bias", [8])], block + "/norm1", axis=-1)
    windows = g.op("Pad", [norm, g.ints("no_pads", [0] * 10)], s, mode="constant")
    windows = _roll(g, windows, s, (0, -1, -1), form == "torchscript")
    windows = g.op("Reshape", [windows, g.ints("to_windows", [1, 1, 2, 2, 2, 2, 2, 8])], s)
    windows = g.op("Reshape", [g.op("Transpose", [windows], s, perm=[0, 1, 3, 5, 2, 4, 6, 7]),
                               g.ints("to_rows", [4, 8, 8])], s)  # 4 windows of 2*2*2 = 8 positions
    qkv = g.linear(windows, 8, 24, s + "/qkv")
    qkv5 = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [4, 8, 3, 2, 4])], s)], s,
                perm=[2, 0, 3, 1, 4])  # 3 x 4 x 2 x 8 x 4
    q, k, v = (g.op("Gather", [qkv5, g.ints(f"index{i}", i)], s, axis=0) for i in range(3))
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], s), g.op("Transpose", [k], s, perm=[0, 1, 3, 2])], s)
    index = "features.0.0.attn.relative_position_index"
    n, offsets = int(numpy.prod(built)), int(numpy.prod([2 * w - 1 for w in built]))
    g.ints(index, numpy.arange(n * n).reshape(n, n) % offsets)
    rows = g.op("Slice", [index, g.ints("zeros2", [0, 0]), g.ints("eights", [8, 8]), g.ints("axes01", [0, 1])], s)
    if form == "torchscript":
        table = g.weight("features.0.0.attn.relative_position_bias_table", [offsets, 2])
        bias = g.op("Gather", [table, g.op("Reshape", [rows, g.ints("flat", [-1])], s)], s, axis=0)
    else:
        rows = g.op("Unsqueeze", [g.op("Reshape", [rows, g.ints("flat", [-1])]), g.ints("last", [-1])])
        bias = g.op("GatherND", [g.weight("val_8", [offsets, 2]), rows])
        if metadata:
            entry = g.nodes[-1].metadata_props.add()
            entry.key, entry.value = "pkg.torch.onnx.fx_node", INDEXED_TABLE
    bias = g.op("Transpose", [g.op("Reshape", [bias, g.ints("to_bias", [8, 8, 2])], s)], s, perm=[2, 0, 1])
    scores = g.op("Add", [scores, g.op("Unsqueeze", [bias, g.ints("zero_axis", [0])], s)], s)
    # the shifted windows' mask, computed from constants: -100 where two positions came from different regions
    labels = (numpy.arange(32).reshape(4, 8) // 3).astype(numpy.float32)
    if form == "torchscript":
        g.nodes.append(helper.make_node("Constant", [], ["labels"], name=s + "/Constant_labels",
                                        value=numpy_helper.from_array(labels)))
    else:  # torch.export: an initializer it names, float like the table (neither a param nor a buffer)
        g.inits.append(numpy_helper.from_array(labels, "labels"))
    mask = g.op("Sub", [g.op("Unsqueeze", ["labels", g.ints("axis1", [1])], s),
                        g.op("Unsqueeze", ["labels", g.ints("axis2", [2])], s)], s)  # 4 x 8 x 8
    mask = g.op("Unsqueeze", [g.op("Unsqueeze", [mask, g.ints("axis1", [1])], s), g.ints("zero_axis", [0])], s)
    scores = g.op("Reshape", [scores, g.ints("to_masked", [1, 4, 2, 8, 8])], s)
    scores = g.op("Reshape", [g.op("Add", [scores, mask], s), g.ints("to_scores", [4, 2, 8, 8])], s)
    attn = g.op("Softmax", [scores], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])
    proj = g.linear(g.op("Reshape", [mixed, g.ints("to_rows2", [4, 8, 8])], s), 8, 8, s + "/proj")
    back = g.op("Reshape", [proj, g.ints("to_windows2", [1, 1, 2, 2, 2, 2, 2, 8])], s)
    back = g.op("Reshape", [g.op("Transpose", [back], s, perm=[0, 1, 4, 2, 5, 3, 6, 7]),
                            g.ints("to_map", [1, 2, 4, 4, 8])], s)
    back = _roll(g, back, s, (0, 1, 1), form == "torchscript")
    y = g.op("Add", [x, back], block)
    merge = "/features/features.1"
    y = g.op("Pad", [y, g.ints("no_pads", [0] * 10)], merge, mode="constant")
    parts = {}
    for h in (0, 1):
        rows = g.op("Slice", [y, g.ints(f"h{h}", [h]), g.ints("big", [BIG]), g.ints("axis2", [2]),
                              g.ints("two", [2])], merge)
        for w in (0, 1):
            parts[h, w] = g.op("Slice", [rows, g.ints(f"w{w}", [w]), g.ints("big", [BIG]), g.ints("axis3", [3]),
                                         g.ints("two", [2])], merge)
    merged = g.op("Concat", [parts[0, 0], parts[1, 0], parts[0, 1], parts[1, 1]], merge, axis=-1)
    merged = g.op("LayerNormalization", [merged, g.weight("features.1.norm.weight", [32]),
                                         g.weight("features.1.norm.bias", [32])], merge + "/norm", axis=-1)
    return g.save(folder, g.linear(merged, 32, 16, merge + "/reduction", bias=False))


@pytest.mark.parametrize("form", FORMS)
def test_swin3d_window_attention_patch_embed_and_merging(tmp_path, form):
    report, by_name = totals(tiny_swin3d(tmp_path, form))
    assert [row.type for row in report.rows] == ["conv", "layernorm", "attention", "add", "pixelunshuffle",
                                                 "layernorm", "linear"]
    conv, attention = report.spec.layers[0].keys, report.spec.layers[2].keys
    # the Pad of T from 3 to 4 joins the conv's padding: [before, after] on T, then H, then W
    assert (conv["kernel"], conv["stride"], conv["pad"]) == (2, 2, [0, 1, 0, 0, 0, 0])
    assert report.rows[0].out_shape == (8, 2, 4, 4)
    assert (attention["heads"], attention["window"], attention["position"]) == (2, [2, 2, 2], "relative")
    assert report.spec.layers[4].keys["factor"] == [1, 2, 2] and report.rows[4].out_shape == (32, 2, 2, 2)
    row = report.rows[2]
    # qkv 8*24 + 24 = 216; proj 8*8 + 8 = 72; the table (2*2-1)*(2*2-1)*(2*2-1) * 2 heads = 54
    assert row.params == 216 + 72 + 54 == 342
    assert row.buffers == 8 * 8 == 64  # the relative position index: (2*2*2)^2
    # qkv on 2*4*4 = 32 positions: 32*8*24 = 6,144; QK^T and AV each 4 windows * 2 heads * 8*8*4 = 2,048;
    # proj 32*8*8 = 2,048
    assert row.macs == 6144 + 2048 + 2048 + 2048 == 12288
    # conv 8*3*2*2*2 + 8 = 200; norm1 16; attention 342; merge norm 2*32 = 64; reduction 32*16 = 512
    assert report.totals["params"] == 200 + 16 + 342 + 64 + 512 == 1134
    assert report.totals["buffers"] == 64
    # conv 8*2*4*4 outputs * 3*2*2*2 = 6,144; attention 12,288; reduction 2*2*2 positions * 32*16 = 4,096
    assert report.totals["macs"] == 6144 + 12288 + 4096 == 22528


@pytest.mark.parametrize("form", FORMS)
def test_swin3d_window_run_shorter_than_built_is_fit(tmp_path, form):
    """A block built for windows of 4 x 2 x 2 on a map of 2 frames runs in 2 x 2 x 2 windows (torchvision's
    3-D Swin): `fit: true`, the table and index of the window as built."""
    report, _ = totals(tiny_swin3d(tmp_path, form, built=(4, 2, 2)))
    keys, row = report.spec.layers[2].keys, report.rows[2]
    assert (keys["window"], keys["fit"], keys["position"]) == ([4, 2, 2], True, "relative")
    # qkv 216, proj 72; the table (2*4-1)*(2*2-1)*(2*2-1) = 63 offsets x 2 heads
    assert row.params == 216 + 72 + 63 * 2 == 414
    assert row.buffers == 16 * 16 == 256  # the index of the 4*2*2 = 16 positions built for, sliced to 8 to run
    assert row.macs == 12288  # as in 2 x 2 x 2 windows


def test_swin3d_table_torch_export_renamed_without_metadata_is_refused(tmp_path):
    """Without its node's word that ``val_8`` is the model's table, a tensor the exporter named is not counted."""
    with pytest.raises(SpecError, match=r"a position bias computed from 'val_8', a tensor the exporter derived"):
        cnncalc.analyze(tiny_swin3d(tmp_path, "dynamo", metadata=False))


def test_a_pad_of_the_batch_or_channels_before_a_3d_conv_is_refused(tmp_path):
    g = Graph("torchscript", (1, 3, 2, 4, 4))
    padded = g.op("Pad", ["x", g.ints("pads", [0, 1, 0, 0, 0, 0, 0, 0, 0, 0])], "/patch_embed", mode="constant")
    conv = g.op("Conv", [padded, g.weight("w", [4, 4, 1, 1, 1])], "/proj", kernel_shape=[1, 1, 1])
    with pytest.raises(SpecError, match=r"a Pad other than zeros around the spatial axes before a Conv"):
        cnncalc.analyze(g.save(tmp_path, conv))


def test_slice_of_a_tensor_too_large_to_read_has_its_dims():
    """The 3-D Swin's 392 x 392 index sliced to the window: its values are not read (more than a value kept), its
    dims follow from the Slice's starts, ends, axes and steps."""
    from cnncalc.onnx import small
    from cnncalc.onnx.constants import evaluate
    from cnncalc.onnx.tensors import Const

    def ints(values):
        array = small.array(values, dtype="int64")
        return Const(array.shape, value=array)

    node = helper.make_node("Slice", ["i", "s", "e", "a", "t"], ["o"])
    index = Const((392, 392))  # an initializer known by its dims
    assert evaluate(node, [index, ints([0, 0]), ints([392, 392]), ints([0, 1]), None], {}, 17)[0][0] == (392, 392)
    assert evaluate(node, [index, ints([0, 0]), ints([98, 2 ** 62]), ints([0, 1]), None], {}, 17)[0][0] == (98, 392)
    # from the end, stepping 3 (ceil(391/3) = 131), and backwards from the last (all 392)
    assert evaluate(node, [index, ints([-391]), ints([BIG]), ints([1]), ints([3])], {}, 17)[0][0] == (392, 131)
    assert evaluate(node, [index, ints([-1]), ints([-BIG]), ints([0]), ints([-1])], {}, 17)[0][0] == (392, 392)


def test_the_window_a_table_was_built_for_is_told_from_its_sizes():
    """swin3d_t's last stage on an 8-frame clip runs its 8 x 7 x 7 window on a 4 x 7 x 7 map: the index of 392
    positions and the table of (2*8-1)*(2*7-1)*(2*7-1) = 2,535 offsets x 24 heads fit 8 x 7 x 7, 7 x 8 x 7 and
    7 x 7 x 8 alike (each at least the map); one seen in an earlier layer is taken, else the one shrunk on the
    fewest axes (T alone)."""
    from cnncalc.onnx.partitions import fitted_window

    assert fitted_window((4, 7, 7), (4, 7, 7), 392, 2535 * 24, 24) == (8, 7, 7)
    assert fitted_window((4, 7, 7), (4, 7, 7), 392, 2535 * 24, 24, seen=[(7, 7, 8)]) == (7, 7, 8)
    # the earlier stages' 4 x 56 x 56 maps: H and W run whole windows, so only T can have been shrunk
    assert fitted_window((4, 7, 7), (4, 56, 56), 392, 2535 * 3, 3) == (8, 7, 7)
    assert fitted_window((4, 7, 7), (4, 56, 56), 392, 2536 * 3, 3) is None  # no window has that table
