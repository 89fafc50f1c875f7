"""Reading MViT (torchvision's video transformer) from ONNX: a clip's 3-D map made tokens, a class token and a
separable space-time position embedding, pooling attention (q, k, v pooled on their T x H x W grid by a depthwise
Conv3d and a LayerNorm, the class token set apart), and the pooled skip connection (a MaxPool3d on the tokens'
grid).

Built with onnx.helper in the form each exporter writes it, as read off real exports of torchvision 0.29's
mvit_v1_b: TorchScript (``dynamo=False``) writes ``torch.tensor_split(x, (1,), dim=2)`` as a Loop over the split
points filling a sequence (SequenceEmpty, SequenceInsert, SequenceAt) and ``_squeeze`` as an If on a size;
torch.export (``dynamo=True``) writes Slices and a Squeeze. Numbers worked by hand in each test. Skipped
without the onnx package.
"""

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from tests.test_onnx_modern import FORMS, Graph, totals  # noqa: E402

BIG = 9223372036854775807


def split_class_token(g, t, axis, scope):
    """(class token, the rest) of ``t`` split at index 1 of ``axis``: torch.tensor_split as each exporter
    writes it."""
    if g.form == "dynamo":
        first = g.op("Slice", [t, g.ints(f"zero{g.count}", [0]), g.ints(f"one{g.count}", [1]),
                               g.ints(f"axis{g.count}", [axis]), g.ints(f"step{g.count}", [1])])
        rest = g.op("Slice", [t, g.ints(f"one{g.count}", [1]), g.ints(f"end{g.count}", [BIG]),
                              g.ints(f"axis{g.count}", [axis]), g.ints(f"step{g.count}", [1])])
        return first, rest
    n = g.count = g.count + 1
    splits, trips, cond = g.ints(f"splits{n}", [0, 1]), g.ints(f"trips{n}", 1), f"cond{n}"
    g.inits.append(numpy_helper.from_array(numpy.array(True), cond))
    empty = f"empty{n}"
    g.nodes.append(helper.make_node("SequenceEmpty", [], [empty], name=f"{scope}/SequenceEmpty_{n}",
                                    dtype=TensorProto.FLOAT))
    body = helper.make_graph(
        [helper.make_node("Gather", [splits, f"i{n}"], [f"start{n}"], name=f"{scope}/Gather_a{n}", axis=0),
         helper.make_node("Add", [f"i{n}", g.ints(f"inc{n}", 1)], [f"next{n}"], name=f"{scope}/Add_{n}"),
         helper.make_node("Gather", [splits, f"next{n}"], [f"stop{n}"], name=f"{scope}/Gather_b{n}", axis=0),
         helper.make_node("Slice", [t, f"start{n}", f"stop{n}", g.ints(f"axes{n}", [axis])], [f"piece{n}"],
                          name=f"{scope}/Slice_{n}"),
         helper.make_node("SequenceInsert", [f"seq_in{n}", f"piece{n}"], [f"seq_out{n}"],
                          name=f"{scope}/SequenceInsert_{n}"),
         helper.make_node("Identity", [f"c_in{n}"], [f"c_out{n}"], name=f"{scope}/Identity_{n}")],
        f"body{n}",
        [helper.make_tensor_value_info(f"i{n}", TensorProto.INT64, []),
         helper.make_tensor_value_info(f"c_in{n}", TensorProto.BOOL, []),
         helper.make_tensor_sequence_value_info(f"seq_in{n}", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info(f"c_out{n}", TensorProto.BOOL, []),
         helper.make_tensor_sequence_value_info(f"seq_out{n}", TensorProto.FLOAT, None)])
    g.nodes.append(helper.make_node("Loop", [trips, cond, empty], [f"pieces{n}"], name=f"{scope}/Loop_{n}",
                                    body=body))
    last = g.op("Slice", [t, g.ints(f"last{n}", [1]), g.ints(f"end{n}", [BIG]), g.ints(f"axes{n}", [axis])], scope)
    both = g.op("SequenceInsert", [f"pieces{n}", last], scope)
    return (g.op("SequenceAt", [both, g.ints(f"at0_{n}", 0)], scope),
            g.op("SequenceAt", [both, g.ints(f"at1_{n}", 1)], scope))


def pool(g, t, heads, width, grid, stride, scope, skip=False):
    """torchvision's Pool on ``t`` (1 x heads x N x width): the class token set apart, the rest a map of the
    grid, pooled (a depthwise 3x3x3 Conv3d, or the skip's MaxPool3d 1x3x3), the class token joined again and,
    for q, k and v, a LayerNorm over the width."""
    first, rest = split_class_token(g, t, 2, scope)
    grid_map = g.op("Reshape", [g.op("Transpose", [rest], scope, perm=[0, 1, 3, 2]),
                                g.ints(f"to_map{g.count}", [heads, width] + list(grid))], scope)
    if skip:
        pooled = g.op("MaxPool", [grid_map], scope + "/pool", kernel_shape=[1, 3, 3], strides=list(stride),
                      pads=[0, 1, 1, 0, 1, 1])
    else:
        weight = g.weight(f"{scope.strip('/').replace('/', '.')}.pool.weight", [width, 1, 3, 3, 3])
        pooled = g.op("Conv", [grid_map, weight], scope + "/pool", kernel_shape=[3, 3, 3], strides=list(stride),
                      pads=[1] * 6, group=width)
    back = g.op("Transpose", [g.op("Reshape", [pooled, g.ints(f"to_tokens{g.count}", [1, heads, width, -1])], scope)],
                scope, perm=[0, 1, 3, 2])
    joined = g.op("Concat", [first, back], scope, axis=2)
    if skip:
        return joined
    name = scope.strip("/").replace("/", ".")
    return g.op("LayerNormalization", [joined, g.weight(f"{name}.norm.weight", [width]),
                                       g.weight(f"{name}.norm.bias", [width])], scope + "/norm", axis=-1)


def squeeze_axis_1(g, t, scope):
    """_squeeze(x, 4, 1, 3): a Squeeze (torch.export), or an If on whether axis 1 is 1 (TorchScript)."""
    if g.form == "dynamo":
        return g.op("Squeeze", [t, g.ints(f"axis1_{g.count}", [1])])
    size = g.op("Gather", [g.op("Shape", [t], scope), g.ints(f"one_{g.count}", [1])], scope, axis=0)
    equal = g.op("Equal", [size, g.ints(f"is_one{g.count}", [1])], scope)
    n = g.count = g.count + 1
    then = helper.make_graph([helper.make_node("Squeeze", [t, g.ints(f"sq{n}", [1])], [f"squeezed{n}"],
                                               name=f"{scope}/Squeeze_{n}")], f"then{n}", [],
                             [helper.make_tensor_value_info(f"squeezed{n}", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Identity", [t], [f"same{n}"], name=f"{scope}/Identity_{n}")],
                              f"else{n}", [], [helper.make_tensor_value_info(f"same{n}", TensorProto.FLOAT, None)])
    g.nodes.append(helper.make_node("If", [equal], [f"if{n}"], name=f"{scope}/If_{n}", then_branch=then,
                                    else_branch=other))
    return f"if{n}"


def unknown_shape(g, scope):
    """A shape the walk cannot know (TorchScript computes the in-place adds' shapes from index tensors too large
    to fold): a Constant holding a sparse tensor."""
    g.count += 1
    name = f"unknown{g.count}"
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(numpy.array([1], dtype=numpy.int64), f"v{g.count}"),
                                       numpy_helper.from_array(numpy.array([0], dtype=numpy.int64), f"i{g.count}"),
                                       [4])
    g.nodes.append(helper.make_node("Constant", [], [name], name=f"{scope}/Constant_{g.count}", sparse_value=sparse))
    return name


def add_in_place(g, whole, part, scope, rows_too=False):
    """``whole[:, :, 1:, 1:] += part`` (or ``whole[:, :, 1:, :]``) as TorchScript writes it: Slices, an Add, the
    sum reshaped to a shape it computes, and a ScatterND into ``whole``."""
    piece = g.op("Slice", [whole, g.ints("one_", [1]), g.ints("end_", [BIG]), g.ints("axis_2", [2])], scope)
    if rows_too:
        piece = g.op("Slice", [piece, g.ints("one_", [1]), g.ints("end_", [BIG]), g.ints("axis_3", [3])], scope)
    summed = g.op("Reshape", [g.op("Add", [piece, part], scope), unknown_shape(g, scope)], scope)
    index = g.ints(f"onnx::ScatterND_{g.count}", numpy.zeros((1, 2, 8, 8 if rows_too else 4, 4), dtype=numpy.int64))
    return g.op("ScatterND", [whole, index, summed], scope)


def relative_position(g, scores, q, scope):
    """MViT V2's _add_rel_pos on 2 heads of width 4, q and k on a 2 x 2 x 2 grid: the queries of the grid times
    rows of rel_pos_h and rel_pos_w (Einsum) and of rel_pos_t (MatMul), gathered by constant indices, summed
    and added into the scores but the class token's."""
    r_q = g.op("Reshape", [g.op("Slice", [q, g.ints("one_", [1]), g.ints("end_", [BIG]), g.ints("axis_2", [2])], scope),
                           g.ints("to_grid", [1, 2, 2, 2, 2, 4])], scope)
    index = g.ints("onnx::Cast_dist", [[1, 0], [2, 1]])
    # torch.export names the tables itself (val_183) and stores rel_pos_t's rows gathered and transposed
    names = {"h": "val_183", "w": "val_191"} if g.form == "dynamo" else {}
    rows = {axis: g.op("Gather", [g.weight(names.get(axis, f"blocks.0.attn.rel_pos_{axis}"), [3, 4]), index], scope,
                       axis=0) for axis in "hw"}
    rel_h = g.op("Einsum", [r_q, rows["h"]], scope, equation="bythwc,hkc->bythwk")
    rel_w = g.op("Einsum", [r_q, rows["w"]], scope, equation="bythwc,wkc->bythwk")
    frames = g.op("Reshape", [g.op("Transpose", [r_q], scope, perm=[2, 0, 1, 3, 4, 5]), g.ints("to_t", [2, 8, 4])],
                  scope)
    if g.form == "dynamo":
        rows_t = g.weight("transpose_9", [2, 4, 2])
    else:
        rows_t = g.op("Transpose", [g.op("Gather", [g.weight("blocks.0.attn.rel_pos_t", [3, 4]), index], scope, axis=0)],
                      scope, perm=[0, 2, 1])
    rel_t = g.op("MatMul", [frames, rows_t], scope)  # 2 x 8 x 2
    rel_t = g.op("Transpose", [g.op("Reshape", [g.op("Transpose", [rel_t], scope, perm=[1, 0, 2]),
                                                g.ints("to_t6", [1, 2, 2, 2, 2, 2])], scope)],
                 scope, perm=[0, 1, 4, 2, 3, 5])
    total = g.op("Add", [g.op("Add", [g.op("Unsqueeze", [rel_h, g.ints("at57", [5, 7])], scope),
                                      g.op("Unsqueeze", [rel_w, g.ints("at56", [5, 6])], scope)], scope),
                         g.op("Unsqueeze", [rel_t, g.ints("at67", [6, 7])], scope)], scope)
    total = g.op("Reshape", [total, g.ints("to_scores", [1, 2, 8, 8])], scope)
    return add_in_place(g, scores, total, scope, rows_too=True)


def tiny_mvit(folder, form, pool_q=True, relative=False):
    """A 3 x 2 x 8 x 8 clip; patches 1x2x2 -> an 8 x 2 x 4 x 4 map, 32 tokens of width 8 and a class token;
    one block of 2 heads of width 4, k and v pooled with stride 1x2x2 (and q, with the pooled skip, when
    ``pool_q``); a LayerNorm, the class token, a Linear to 5 classes."""
    g = Graph(form, (1, 3, 2, 8, 8))
    patches = g.op("Conv", ["x", g.weight("conv_proj.weight", [8, 3, 1, 2, 2]), g.weight("conv_proj.bias", [8])],
                   "/conv_proj", kernel_shape=[1, 2, 2], strides=[1, 2, 2])
    tokens = g.op("Transpose", [g.op("Reshape", [patches, g.ints("to_flat", [1, 8, 32])], "")], "", perm=[0, 2, 1])
    cls = g.weight("pos_encoding.class_token" if form == "torchscript" else "unsqueeze", [1, 1, 8])
    x = g.op("Concat", [cls, tokens], "/pos_encoding", axis=1)
    s = "/pos_encoding"
    # repeat_interleave(temporal_pos, 16) + spatial_pos expanded to the 2 frames, the class position before
    temporal = g.weight("pos_encoding.temporal_pos" if form == "torchscript" else "val_10", [2, 1, 8])
    frames = g.op("Reshape", [g.op("Expand", [temporal, g.ints("by_cells", [2, 16, 8])], s),
                              g.ints("to_cells", [32, 8])], s)
    spatial = g.op("Expand", [g.op("Unsqueeze", [g.weight("pos_encoding.spatial_pos", [16, 8]), g.ints("at0", [0])], s),
                              g.ints("by_frames", [2, 16, 8])], s)
    summed = g.op("Add", [frames, g.op("Reshape", [spatial, g.ints("to_cells", [32, 8])], s)], s)
    class_pos = g.weight("pos_encoding.class_pos" if form == "torchscript" else "unsqueeze_2", [1, 8])
    position = g.op("Unsqueeze", [g.op("Concat", [class_pos, summed], s, axis=0), g.ints("at0", [0])], s)
    x = g.op("Add", [x, position], s)
    b = "/blocks.0"
    norm = g.op("LayerNormalization", [x, g.weight("blocks.0.norm1.weight", [8]), g.weight("blocks.0.norm1.bias", [8])],
                b + "/norm1", axis=-1)
    a = b + "/attn"
    qkv = g.linear(norm, 8, 24, a + "/qkv")
    heads = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [1, 33, 3, 2, 4])], a)], a,
                 perm=[0, 3, 2, 1, 4])  # 1 x 2 x 3 x 33 x 4
    if form == "torchscript":
        parts = g.op("Split", [heads, g.ints("ones", [1, 1, 1])], a, axis=2)
        outputs = [parts] + [f"{parts}_{i}" for i in (1, 2)]
        g.nodes[-1].output.extend(outputs[1:])
        q, k, v = (g.op("Squeeze", [p, g.ints("axis2", [2])], a) for p in outputs)
    else:
        q, k, v = (g.op("Squeeze", [g.op("Slice", [heads, g.ints(f"s{i}", [i]), g.ints(f"e{i}", [i + 1]),
                                                   g.ints("axis2", [2])]), g.ints("axis2", [2])]) for i in range(3))
    k = pool(g, k, 2, 4, (2, 4, 4), (1, 2, 2), a + "/pool_k")
    v = pool(g, v, 2, 4, (2, 4, 4), (1, 2, 2), a + "/pool_v")
    if pool_q:
        q = pool(g, q, 2, 4, (2, 4, 4), (1, 2, 2), a + "/pool_q")
    rows = 9 if pool_q else 33
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], a), g.op("Transpose", [k], a, perm=[0, 1, 3, 2])], a)
    if relative:
        scores = relative_position(g, scores, q, a)
    mixed = g.op("MatMul", [g.op("Softmax", [scores], a, axis=-1), v], a)
    if relative:  # and the pooled residual: x[:, :, 1:, :] += q[:, :, 1:, :]
        part = g.op("Slice", [q, g.ints("one_", [1]), g.ints("end_", [BIG]), g.ints("axis_2", [2])], a)
        mixed = add_in_place(g, mixed, part, a)
    back = g.op("Reshape", [g.op("Transpose", [mixed], a, perm=[0, 2, 1, 3]), g.ints(f"back{rows}", [1, rows, 8])], a)
    attended = g.linear(back, 8, 8, a + "/project/project.0")
    skip = x
    if pool_q:
        lifted = g.op("Unsqueeze", [x, g.ints("axis1", [1])], b + "/pool_skip")
        skip = squeeze_axis_1(g, pool(g, lifted, 1, 8, (2, 4, 4), (1, 2, 2), b + "/pool_skip", skip=True),
                              b + "/pool_skip")
    x = g.op("Add", [skip, attended], b)
    x = g.op("LayerNormalization", [x, g.weight("norm.weight", [8]), g.weight("norm.bias", [8])], "/norm", axis=-1)
    first = g.op("Gather", [x, g.ints("zero", 0)], "", axis=1)
    head = g.op("Gemm", [first, g.weight("head.1.weight", [5, 8]), g.weight("head.1.bias", [5])], "/head/head.1",
                transB=1)
    return g.save(folder, head)


@pytest.mark.parametrize("form", FORMS)
def test_mvit_block_pooling_q_k_v_and_the_skip(tmp_path, form):
    report, _ = totals(tiny_mvit(tmp_path, form))
    types = [row.type for row in report.rows]
    # the skip's pool is read where the Add reads it, before the attention it closes
    assert types == ["conv", "tokens", "classtoken", "posembed", "layernorm", "maxpool", "attention", "add",
                     "layernorm", "taketoken", "fc"]
    rows = {row.type: row for row in report.rows}
    keys = report.spec.layers[6].keys
    assert (keys["heads"], keys["grid"], keys["pool_q"], keys["pool_kv"]) == (2, [2, 4, 4], [1, 2, 2], [1, 2, 2])
    assert report.spec.layers[5].keys == {"grid": [2, 4, 4], "kernel": [1, 3, 3], "stride": [1, 2, 2],
                                          "pad": [0, 1, 1]}
    # separable position embedding: (T + H*W + class token) * D = (2 + 16 + 1) * 8
    assert rows["posembed"].params == 152
    # pooled grid: T (2 + 2 - 3)//1 + 1 = 2, H and W (4 + 2 - 3)//2 + 1 = 2: 8 positions + the class token
    assert rows["attention"].out_shape == (9, 8) and rows["maxpool"].out_shape == (9, 8)
    # qkv 8*24 + 24, proj 8*8 + 8, three pools of a 4*27 conv and a LayerNorm 2*4
    assert rows["attention"].params == 216 + 72 + 3 * (4 * 27 + 8) == 636
    # qkv 33*8*24 = 6,336; each pool 2 heads*4*8 positions*27 = 1,728; QK^T and AV 2*9*9*4 = 648; proj 9*8*8
    assert rows["attention"].macs == 6336 + 3 * 1728 + 2 * 648 + 576 == 13392
    # conv 8*3*4 + 8 = 104, class token 8, position 152, LNs 16 + 16, attention 636, head 8*5 + 5
    assert report.totals["params"] == 104 + 8 + 152 + 32 + 636 + 45 == 977
    # conv 8*2*4*4 positions * 3*4 = 3,072; attention 13,392; head 40
    assert report.totals["macs"] == 3072 + 13392 + 40 == 16504
    assert report.totals["buffers"] == 0


@pytest.mark.parametrize("form", FORMS)
def test_mvit_block_pooling_k_and_v_only(tmp_path, form):
    report, _ = totals(tiny_mvit(tmp_path, form, pool_q=False))
    attention = next(row for row in report.rows if row.type == "attention")
    assert "pool_q" not in report.spec.layers[5].keys and report.spec.layers[5].keys["pool_kv"] == [1, 2, 2]
    assert attention.out_shape == (33, 8)
    assert attention.params == 216 + 72 + 2 * (4 * 27 + 8) == 520
    # qkv 6,336; two pools 2*1,728; QK^T and AV 2 heads*33*9*4 = 2,376 each; proj 33*8*8 = 2,112
    assert attention.macs == 6336 + 2 * 1728 + 2 * 2376 + 2112 == 16656


def test_loop_whose_trip_count_the_model_computes_is_refused(tmp_path):
    g, conv = loop_model(tmp_path, "computed")
    with pytest.raises(SpecError, match=r"'/loop/Loop' \(Loop\): its output's shape depends on the values"):
        cnncalc.analyze(g.save(tmp_path, conv))


@pytest.mark.parametrize("form", FORMS)
def test_mvit_v2_decomposed_relative_position_and_residual_pooling(tmp_path, form, capsys):
    report, _ = totals(tiny_mvit(tmp_path, form, relative=True))
    keys = report.spec.layers[6].keys
    assert (keys["position"], keys["residual_pool"]) == ("decomposed", True)
    attention = report.rows[6]
    # the 8 queries of the grid by 2 rows of each table: 2 heads * 8 * 4 * (2 + 2 + 2)
    assert attention.macs == 13392 + 2 * 8 * 4 * 6 == 13776
    if form == "torchscript":  # as the block above, and the tables rel_pos_h, _w, _t, each (2*max(2, 2) - 1) x 4
        assert "gathered" not in keys
        assert attention.params == 636 + 3 * 3 * 4 == 672
        assert report.totals["params"] == 977 + 36
    else:  # rel_pos_t as the rows gathered for each pair of frames, 2 x 4 x 2, where its table is 3 x 4
        assert keys["gathered"] == ["t"]
        assert attention.params == 636 + 2 * 3 * 4 + 2 * 4 * 2 == 676
        assert "as the rows it gathers from them" in capsys.readouterr().err


def loop_model(folder, trips):
    """A Loop of ``trips`` turns (or "computed": a number the model computes) after a conv."""
    g = Graph("torchscript", (1, 4, 8, 8))
    conv = g.op("Conv", ["x", g.weight("w", [4, 4, 1, 1])], "/conv", kernel_shape=[1, 1])
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c2"], name="/loop/Identity")],
                             "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                      helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                             [helper.make_tensor_value_info("c2", TensorProto.BOOL, [])])
    g.inits.append(numpy_helper.from_array(numpy.array(True), "true"))
    count = g.op("Cast", [conv], "/count", to=TensorProto.INT64) if trips == "computed" else g.ints("trips", trips)
    g.nodes.append(helper.make_node("Loop", [count, "true"], [], name="/loop/Loop", body=body))
    return g, conv


def test_a_loop_of_a_billion_turns_is_refused_before_any_turn(tmp_path):
    g, conv = loop_model(tmp_path, 10 ** 9)
    with pytest.raises(SpecError, match=r"a Loop of 1,000,000,000 turns over 1 nodes \(more than 20,000 nodes "
                                        r"unrolled in the model\)"):
        cnncalc.analyze(g.save(tmp_path, conv))


def test_an_if_on_a_value_the_model_computes_is_refused(tmp_path):
    g = Graph("torchscript", (1, 4, 8, 8))
    conv = g.op("Conv", ["x", g.weight("w", [4, 4, 1, 1])], "/conv", kernel_shape=[1, 1])
    branch = helper.make_graph([helper.make_node("Identity", [conv], ["same"], name="/if/Identity")], "branch", [],
                               [helper.make_tensor_value_info("same", TensorProto.FLOAT, None)])
    g.nodes.append(helper.make_node("If", [g.op("Cast", [conv], "/if", to=TensorProto.BOOL)], ["out"], name="/if/If",
                                    then_branch=branch, else_branch=branch))
    with pytest.raises(SpecError, match=r"'/if/If' \(If\): its output's shape depends on the values"):
        cnncalc.analyze(g.save(tmp_path, "out"))


def test_a_sequence_grown_past_its_bound_is_refused(tmp_path):
    """Each SequenceInsert copies the sequence: a chain of them is bounded by the sequence's length (64)."""
    g = Graph("torchscript", (1, 4, 8, 8))
    conv = g.op("Conv", ["x", g.weight("w", [4, 4, 1, 1])], "/conv", kernel_shape=[1, 1])
    g.nodes.append(helper.make_node("SequenceEmpty", [], ["s0"], name="/seq/SequenceEmpty", dtype=TensorProto.FLOAT))
    for i in range(70):
        g.nodes.append(helper.make_node("SequenceInsert", [f"s{i}", conv], [f"s{i + 1}"], name=f"/seq/Insert_{i}"))
    with pytest.raises(SpecError, match=r"'/seq/Insert_64' \(SequenceInsert\): a sequence of more than 64 tensors"):
        cnncalc.analyze(g.save(tmp_path, conv))
