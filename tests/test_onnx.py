"""Reading ONNX models: small graphs built here with onnx.helper, expected numbers worked by hand.

Skipped without the onnx package (`pip install '.[onnx]'`; it is in the test extra).
"""

import json
import os
import sys

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402  (onnx depends on numpy)
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from cli_runner import invoke, ok  # noqa: E402


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name or f"{op}_{outputs[0]}", **attrs)


def model(tmp_path, nodes, weights=None, ints=None, floats=None, shape=(1, 3, 8, 8), output="y", opset=17,
          file="model.onnx", external=False):
    """Write a one-input model; ``weights`` are float initializers by dims, ``ints``/``floats`` small constants."""
    initializers = [numpy_helper.from_array(numpy.zeros(dims, dtype=numpy.float32), name)
                    for name, dims in (weights or {}).items()]
    initializers += [numpy_helper.from_array(numpy.array(v, dtype=numpy.int64), n) for n, v in (ints or {}).items()]
    initializers += [numpy_helper.from_array(numpy.array(v, dtype=numpy.float32), n)
                     for n, v in (floats or {}).items()]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
    path = tmp_path / file
    if external:
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=file + ".data", size_threshold=0)
    else:
        onnx.save_model(proto, str(path))
    return str(path)


def rows(path, **options):
    report = cnncalc.analyze(path, **options)
    return report, {row.name: row for row in report.rows}


def test_conv_bn_relu_folds_the_activation(tmp_path):
    path = model(tmp_path, [
        node("Conv", ["x", "w", "b"], ["c"], name="/conv1/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        node("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"], name="/bn1/BatchNormalization"),
        node("Relu", ["n"], ["y"], name="/relu/Relu")],
        weights={"w": [4, 3, 3, 3], "b": [4], "s": [4], "t": [4], "m": [4], "v": [4]})
    report, by_name = rows(path)
    assert [(r.name, r.type, r.act) for r in report.rows] == [("conv1", "conv", None), ("bn1", "bn", "relu")]
    conv = by_name["conv1"]
    assert conv.out_shape == (4, 8, 8)
    assert conv.params == 4 * 3 * 3 * 3 + 4 == 112
    assert conv.macs == 4 * 8 * 8 * (3 * 3 * 3) == 6912
    assert (by_name["bn1"].params, by_name["bn1"].buffers) == (8, 8)  # scale+B params, mean+var buffers
    assert report.totals["params"] == 120
    assert report.input == (3, 8, 8) and report.name == "model"


def test_groups_and_depthwise(tmp_path):
    path = model(tmp_path, [
        node("Conv", ["x", "w"], ["g"], name="/grouped/Conv", group=2, pads=[1, 1, 1, 1]),
        node("Conv", ["g", "d"], ["y"], name="/dw/Conv", group=8, kernel_shape=[3, 3])],
        weights={"w": [8, 2, 3, 3], "d": [8, 1, 3, 3]}, shape=(1, 4, 8, 8))
    report, by_name = rows(path)
    grouped, dw = by_name["grouped"], by_name["dw"]
    assert grouped.type == "conv" and report.spec.layers[0].keys["groups"] == 2
    assert grouped.params == 8 * (4 // 2) * 3 * 3 == 144
    assert grouped.macs == 8 * 8 * 8 * (2 * 3 * 3) == 9216
    assert dw.type == "dwconv" and dw.out_shape == (8, 6, 6)
    assert dw.params == 8 * 1 * 3 * 3 == 72
    assert dw.macs == 8 * 6 * 6 * 9 == 2592


def test_auto_pad_same_upper_and_lower(tmp_path):
    # 7 wide, kernel 4, stride 2: out ceil(7/2) = 4; total pad (4-1)*2 + 4 - 7 = 3: upper 1+2, lower 2+1
    path = model(tmp_path, [
        node("Conv", ["x", "w"], ["u"], name="/upper/Conv", auto_pad="SAME_UPPER", strides=[2, 2]),
        node("Conv", ["x", "w"], ["l"], name="/lower/Conv", auto_pad="SAME_LOWER", strides=[2, 2]),
        node("Concat", ["u", "l"], ["y"], name="/cat/Concat", axis=1)],
        weights={"w": [1, 1, 4, 4]}, shape=(1, 1, 7, 7))
    report, by_name = rows(path)
    keys = {decl.name: decl.keys for decl in report.spec.layers}
    assert keys["upper"]["pad"] == "same"
    assert keys["lower"]["pad"] == [2, 1, 2, 1]  # top, bottom, left, right
    assert by_name["upper"].out_shape == by_name["lower"].out_shape == (1, 4, 4)
    assert by_name["upper"].pad == ((1, 2), (1, 2)) and by_name["lower"].pad == ((2, 1), (2, 1))
    assert by_name["upper"].macs == 16 * 16 == 256
    assert by_name["cat.concat"].out_shape == (2, 4, 4)


def test_explicit_unequal_pads(tmp_path):
    # ONNX pads are [top, left, bottom, right] = [0, 1, 2, 3]: H (5 + 0 + 2 - 3) + 1 = 5, W (5 + 1 + 3 - 3) + 1 = 7
    path = model(tmp_path, [node("Conv", ["x", "w"], ["y"], name="/c/Conv", pads=[0, 1, 2, 3])],
                 weights={"w": [2, 1, 3, 3]}, shape=(1, 1, 5, 5))
    report, by_name = rows(path)
    assert report.spec.layers[0].keys["pad"] == [0, 2, 1, 3]
    assert by_name["c"].out_shape == (2, 5, 7)
    assert by_name["c"].macs == 2 * 5 * 7 * 9 == 630


def test_zero_pad_folds_into_the_conv(tmp_path):
    # Pad [top 1, left 0, bottom 2, right 1] then a 3x3 conv with its own pads 1: H 8 + 1+1 + 1+2 - 3 + 1 = 11
    path = model(tmp_path, [node("Pad", ["x", "pads"], ["p"], name="/pad/Pad"),
                            node("Conv", ["p", "w"], ["y"], name="/c/Conv", pads=[1, 1, 1, 1])],
                 weights={"w": [2, 3, 3, 3]}, ints={"pads": [0, 0, 1, 0, 0, 0, 2, 1]})
    report, by_name = rows(path)
    assert [r.name for r in report.rows] == ["c"] and report.spec.layers[0].inputs == ["input"]
    assert report.spec.layers[0].keys["pad"] == [2, 3, 1, 2]  # top, bottom, left, right
    assert by_name["c"].out_shape == (2, 11, 9)
    reflect = model(tmp_path, [node("Pad", ["x", "pads"], ["y"], name="/pad/Pad", mode="reflect")],
                    ints={"pads": [0, 0, 1, 1, 0, 0, 1, 1]}, file="reflect.onnx")
    with pytest.raises(SpecError, match=r"node '/pad/Pad' \(Pad\): a Pad other than zeros"):
        cnncalc.analyze(reflect)


def test_maxpool_ceil_mode_and_average_pool(tmp_path):
    # 6 wide, kernel 3, stride 2: (6 - 3)/2 + 1 = 2.5 -> 3 with ceil_mode (the last window starts at 4 < 6)
    path = model(tmp_path, [
        node("MaxPool", ["x"], ["p"], name="/pool/MaxPool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        node("AveragePool", ["p"], ["y"], name="/avg/AveragePool", kernel_shape=[3, 3])],  # ONNX stride default 1
        shape=(1, 2, 6, 6))
    report, by_name = rows(path)
    assert by_name["pool"].out_shape == (2, 3, 3)
    assert by_name["pool"].flops == 2 * 3 * 3 * 9 == 162
    assert by_name["avg"].out_shape == (2, 1, 1)
    assert report.spec.layers[1].keys["stride"] == 1


def test_global_pool_flatten_gemm(tmp_path):
    path = model(tmp_path, [
        node("GlobalAveragePool", ["x"], ["g"], name="/avgpool/GlobalAveragePool"),
        node("Flatten", ["g"], ["f"], name="/Flatten", axis=1),
        node("Gemm", ["f", "w", "b"], ["y"], name="/fc/Gemm", transB=1)],
        weights={"w": [10, 3], "b": [10]})
    report, by_name = rows(path)
    assert [r.type for r in report.rows] == ["globalavgpool", "flatten", "fc"]
    assert list(by_name) == ["avgpool", "flatten", "fc"]
    assert by_name["fc"].params == 3 * 10 + 10 and by_name["fc"].macs == 30
    assert by_name["avgpool"].flops == 3 * 8 * 8


def test_matmul_add_is_one_fc_with_bias(tmp_path):
    path = model(tmp_path, [
        node("Reshape", ["x", "shape"], ["r"], name="/Reshape"),
        node("MatMul", ["r", "w"], ["m"], name="/fc1/MatMul"),
        node("Add", ["m", "b"], ["a"], name="/fc1/Add"),
        node("MatMul", ["a", "w2"], ["y"], name="/fc2/MatMul")],
        weights={"w": [48, 10], "b": [10], "w2": [10, 5]}, ints={"shape": [1, -1]}, shape=(1, 3, 4, 4))
    report, by_name = rows(path)
    assert [(r.name, r.type) for r in report.rows] == [("reshape", "flatten"), ("fc1.matmul", "fc"),
                                                       ("fc2", "fc")]
    assert by_name["fc1.matmul"].params == 48 * 10 + 10
    assert by_name["fc2"].params == 10 * 5  # no bias
    assert report.totals["macs"] == 480 + 50


def test_concat_add_mul_gate(tmp_path):
    path = model(tmp_path, [
        node("Conv", ["x", "w1"], ["a"], name="/a/Conv"),
        node("Conv", ["x", "w2"], ["b"], name="/b/Conv"),
        node("Add", ["a", "b"], ["s"], name="/Add"),
        node("GlobalAveragePool", ["s"], ["p"], name="/se/GlobalAveragePool"),
        node("Conv", ["p", "w3"], ["q"], name="/se/fc/Conv"),
        node("Sigmoid", ["q"], ["g"], name="/se/Sigmoid"),
        node("Mul", ["g", "s"], ["m"], name="/se/Mul"),
        node("Concat", ["m", "x"], ["y"], name="/Concat", axis=1)],
        weights={"w1": [4, 3, 1, 1], "w2": [4, 3, 1, 1], "w3": [4, 4, 1, 1]})
    report, by_name = rows(path)
    assert by_name["add"].type == "add" and by_name["add"].inputs == ["a", "b"]
    assert by_name["se.fc"].act == "sigmoid"
    assert by_name["se.mul"].type == "mul" and by_name["se.mul"].out_shape == (4, 8, 8)
    assert by_name["concat"].out_shape == (7, 8, 8) and by_name["concat"].inputs == ["se.mul", "input"]


def test_activations_clip_hardswish_silu(tmp_path):
    path = model(tmp_path, [
        node("Conv", ["x", "w"], ["c"], name="/c1/Conv"),
        node("Clip", ["c", "lo", "hi"], ["r"], name="/c1/Clip"),
        node("Conv", ["r", "w2"], ["c2"], name="/c2/Conv"),
        node("Sigmoid", ["c2"], ["s"], name="/c2/Sigmoid"),
        node("Mul", ["c2", "s"], ["m"], name="/c2/Mul"),
        node("HardSwish", ["m"], ["h"], name="/hs/HardSwish"),
        node("LeakyRelu", ["h"], ["y"], name="/lr/LeakyRelu", alpha=0.2)],
        weights={"w": [4, 3, 1, 1], "w2": [4, 4, 1, 1]}, floats={"lo": 0.0, "hi": 6.0})
    report, by_name = rows(path)
    assert [(r.name, r.type, r.act) for r in report.rows] == [
        ("c1.conv", "conv", "relu6"), ("c2.conv", "conv", "silu"), ("hs", "hardswish", None), ("lr", "leakyrelu", None)]
    assert report.spec.layers[-1].keys == {"slope": 0.2}


def test_split_into_chunks_and_transpose_shuffle(tmp_path):
    path = model(tmp_path, [
        node("Split", ["x", "sizes"], ["a", "b"], name="/Split", axis=1),
        node("Add", ["a", "b"], ["s"], name="/Add"),
        node("Concat", ["s", "a"], ["c"], name="/Concat", axis=1),
        node("Reshape", ["c", "five"], ["r"], name="/shuffle/Reshape"),
        node("Transpose", ["r"], ["t"], name="/shuffle/Transpose", perm=[0, 2, 1, 3, 4]),
        node("Reshape", ["t", "four"], ["y"], name="/shuffle/Reshape_1")],
        ints={"sizes": [2, 2], "five": [1, 2, 2, 2, 2], "four": [1, 4, 2, 2]}, shape=(1, 4, 2, 2))
    report, by_name = rows(path)
    assert [(r.name, r.type) for r in report.rows] == [("split.0", "chunk"), ("split.1", "chunk"), ("add", "add"),
                                                       ("concat", "concat"), ("shuffle.shuffle", "shuffle")]
    assert by_name["split.1"].out_shape == (2, 2, 2)
    assert report.spec.layers[1].keys == {"chunks": 2, "index": 1}
    assert report.spec.layers[-1].keys == {"groups": 2}
    assert by_name["shuffle.shuffle"].out_shape == (4, 2, 2)


def test_shape_arithmetic_is_evaluated(tmp_path):
    # x.view(x.size(0), -1) as a tracer records it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    path = model(tmp_path, [
        node("Shape", ["x"], ["sh"], name="/Shape"),
        node("Gather", ["sh", "zero"], ["n"], name="/Gather", axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"], name="/Unsqueeze"),
        node("Concat", ["n1", "minus"], ["target"], name="/Concat", axis=0),
        node("Reshape", ["x", "target"], ["y"], name="/Reshape")],
        ints={"zero": 0, "axes": [0], "minus": [-1]})
    report, _ = rows(path)
    assert [(r.type, r.out_shape) for r in report.rows] == [("flatten", (192,))]


def test_slice_on_channels_is_a_chunk(tmp_path):
    path = model(tmp_path, [node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="/Slice")],
                 ints={"starts": [3], "ends": [6], "axes": [1]}, shape=(1, 6, 4, 4))
    report, _ = rows(path)
    assert report.spec.layers[0].type == "chunk" and report.spec.layers[0].keys == {"chunks": 2, "index": 1}


def test_resize_by_whole_scales_and_refusal_of_others(tmp_path):
    path = model(tmp_path, [node("Resize", ["x", "", "scales"], ["y"], name="/up/Resize", mode="nearest")],
                 floats={"scales": [1, 1, 2, 3]}, shape=(1, 3, 4, 4))
    report, by_name = rows(path)
    assert by_name["up.resize"].type == "upsample" and by_name["up.resize"].out_shape == (3, 8, 12)
    sized = model(tmp_path, [node("Resize", ["x", "", "", "sizes"], ["y"], name="/up/Resize")],
                  ints={"sizes": [1, 3, 8, 8]}, shape=(1, 3, 4, 4), file="sized.onnx")
    assert rows(sized)[1]["up.resize"].out_shape == (3, 8, 8)
    # a fractional scale: floor(4 * 1.5) = 6, as PyTorch and the upsample rule
    odd = model(tmp_path, [node("Resize", ["x", "", "scales"], ["y"], name="/up/Resize")],
                floats={"scales": [1, 1, 1.5, 1.5]}, shape=(1, 3, 4, 4), file="odd.onnx")
    assert rows(odd)[1]["up.resize"].out_shape == (3, 6, 6)
    channels = model(tmp_path, [node("Resize", ["x", "", "scales"], ["y"], name="/up/Resize")],
                     floats={"scales": [1, 2, 2, 2]}, shape=(1, 3, 4, 4), file="channels.onnx")
    with pytest.raises(SpecError, match=r"channels.onnx: node '/up/Resize' \(Resize\): .*resizes H and W only"):
        cnncalc.analyze(channels)


def test_convtranspose(tmp_path):
    # (4 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 8; params Cin*Cout*K*K + Cout = 2*3*9 + 3; MACs Cin*H*W*Cout*K*K
    path = model(tmp_path, [node("ConvTranspose", ["x", "w", "b"], ["y"], name="/up/ConvTranspose", strides=[2, 2],
                                 pads=[1, 1, 1, 1], output_padding=[1, 1])],
                 weights={"w": [2, 3, 3, 3], "b": [3]}, shape=(1, 2, 4, 4))
    _, by_name = rows(path)
    up = by_name["up"]
    assert up.type == "convtranspose" and up.out_shape == (3, 8, 8)
    assert up.params == 2 * 3 * 9 + 3 == 57
    assert up.macs == 2 * 4 * 4 * 3 * 9 == 864


def test_identity_shared_initializer_counts_per_layer(tmp_path):
    # the exporter stores equal weights once and reaches the copy through Identity: both convs own 108 params
    path = model(tmp_path, [
        node("Identity", ["w"], ["w_copy"], name="Identity_0"),
        node("Conv", ["x", "w"], ["a"], name="/a/Conv"),
        node("Conv", ["x", "w_copy"], ["b"], name="/b/Conv"),
        node("Concat", ["a", "b"], ["y"], name="/Concat", axis=1)],
        weights={"w": [4, 3, 3, 3]})
    report, by_name = rows(path)
    assert by_name["a"].params == by_name["b"].params == 108
    assert report.totals["params"] == 216


def test_a_computed_bias_is_not_a_parameter(tmp_path):
    # torch.export without its optimizer: the conv's zero bias is Expand(CastLike(0), Shape(W)[:1]), computed
    zero = helper.make_tensor("zero_value", TensorProto.FLOAT, [], [0.0])
    path = model(tmp_path, [
        node("Shape", ["w"], ["cout"], name="node_Shape_0", start=0, end=1),
        helper.make_node("Constant", [], ["zero"], name="node_Constant_1", value=zero),
        node("CastLike", ["zero", "x"], ["zero_like"], name="node_CastLike_2"),
        node("Expand", ["zero_like", "cout"], ["b"], name="node_Expand_3"),
        node("Conv", ["x", "w", "b"], ["y"], name="node_conv2d")],
        weights={"w": [4, 3, 3, 3]})
    report, _ = rows(path)
    assert report.spec.layers[0].keys["bias"] is False and report.totals["params"] == 108


def test_missing_external_data_still_reports(tmp_path):
    path = model(tmp_path, [node("Conv", ["x", "w", "b"], ["y"], name="/c/Conv")],
                 weights={"w": [16, 3, 3, 3], "b": [16]}, external=True)
    os.remove(path + ".data")
    report, _ = rows(path)
    assert report.totals["params"] == 16 * 27 + 16


def test_large_model_skips_weight_bytes_but_reads_small_constants(tmp_path):
    # over 1 MiB, the file is mapped and large initializer data left unread; the Reshape target is still read
    path = model(tmp_path, [node("Conv", ["x", "w"], ["c"], name="/c/Conv", pads=[1, 1, 1, 1]),
                            node("Reshape", ["c", "shape"], ["f"], name="/Reshape"),
                            node("Gemm", ["f", "fw"], ["y"], name="/fc/Gemm", transB=1)],
                 weights={"w": [16, 3, 3, 3], "fw": [300, 1024]}, ints={"shape": [1, -1]}, shape=(1, 3, 8, 8))
    assert os.path.getsize(path) > 1_200_000
    report, by_name = rows(path)
    assert by_name["fc"].params == 300 * 1024 and by_name["reshape"].type == "flatten"
    assert report.totals["params"] == 16 * 27 + 300 * 1024  # the conv has no bias


def test_dynamic_batch_is_one(tmp_path):
    path = model(tmp_path, [node("Relu", ["x"], ["y"], name="/relu/Relu")], shape=("N", 3, 8, 8))
    report, _ = rows(path)
    assert report.input == (3, 8, 8) and report.rows[0].memory_bytes == 3 * 8 * 8 * 4


def test_dynamic_spatial_needs_input(tmp_path):
    path = model(tmp_path, [node("Conv", ["x", "w"], ["y"], name="/c/Conv")], weights={"w": [4, 3, 3, 3]},
                 shape=("N", 3, "H", "W"))
    result = invoke("report", path)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "dynamic size (Nx3x?x?)" in result.stderr and "--input" in result.stderr
    data = json.loads(ok("report", path, "--input", "16", "--format", "json"))
    assert data["input"] == [3, 16, 16] and data["layers"][0]["out_shape"] == [4, 14, 14]
    assert cnncalc.analyze(path, input="3x10x12").rows[0].out_shape == (4, 8, 10)


def test_unknown_operator_is_one_line(tmp_path):
    path = model(tmp_path, [node("Conv", ["x", "w"], ["c"], name="/c/Conv"),
                            node("Einsum", ["c"], ["y"], name="/weird/Einsum", equation="nchw->nchw")],
                 weights={"w": [4, 3, 3, 3]})
    result = invoke("report", path)
    assert result.exit_code == 1 and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"error: {path}: node '/weird/Einsum' (Einsum): operator Einsum is not supported")


def test_malformed_node_is_one_line(tmp_path):
    path = model(tmp_path, [node("Conv", ["x"], ["y"], name="/c/Conv")])  # no weight input
    result = invoke("report", path)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {path}: node '/c/Conv' (Conv): malformed node (IndexError")


def test_text_that_is_not_utf8_is_one_line(tmp_path):
    path = model(tmp_path, [node("Relu", ["x"], ["y"], name="/zz/Relu")])
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data.replace(b"/zz/", b"/\xff\xfe/"))
    result = invoke("report", path)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {path}: not ")


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("name: not a model\nlayers: []\n" * 5)
    result = invoke("report", path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}: not an ONNX model") and result.stderr.count("\n") == 1
    missing = invoke("report", tmp_path / "absent.onnx")
    assert missing.exit_code == 1 and "no such file" in missing.stderr


def test_without_onnx_installed(tmp_path, monkeypatch):
    path = model(tmp_path, [node("Relu", ["x"], ["y"])])
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    from cnncalc.onnx import reader as onnx_reader

    monkeypatch.setattr(onnx_reader, "_GENERATED", [])
    result = invoke("report", path)
    assert result.exit_code == 1
    from cnncalc.install import install_hint

    assert result.stderr == f"error: {path}: reading .onnx files needs the onnx package: {install_hint('onnx')}\n"


def _small_net(tmp_path):
    return model(tmp_path, [
        node("Conv", ["x", "w"], ["c"], name="/features/features.0/Conv", pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"], name="/features/features.1/BatchNormalization"),
        node("Relu", ["n"], ["r"], name="/features/features.2/Relu"),
        node("MaxPool", ["r"], ["p"], name="/features/features.3/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        node("Flatten", ["p"], ["f"], name="/Flatten"),
        node("Gemm", ["f", "fw", "fb"], ["y"], name="/classifier/Gemm", transB=1)],
        weights={"w": [8, 3, 3, 3], "s": [8], "t": [8], "m": [8], "v": [8], "fw": [10, 128], "fb": [10]})


def test_import_writes_a_spec_with_the_same_totals(tmp_path):
    path = _small_net(tmp_path)
    text = ok("import", path)
    assert text.startswith("# Imported by `cnncalc import` from ONNX model model.onnx (test, opset 17).\n")
    assert "  - {name: features.0, type: conv, filters: 8, kernel: 3, pad: 1, bias: false}\n" in text
    assert "  - {name: features.1, type: bn, act: relu}\n" in text
    assert "  - {name: classifier, type: fc, units: 10}\n" in text
    target = tmp_path / "specs" / "new" / "net.yaml"
    result = invoke("import", path, "-o", target)
    assert result.exit_code == 0 and target.read_text() == text
    original, imported = cnncalc.analyze(path), cnncalc.analyze(str(target))
    assert original.totals == imported.totals
    # 8*27 conv + 16 BN + 128*10 + 10 fc
    assert original.totals["params"] == 216 + 16 + 1290
    assert [r.name for r in original.rows] == [r.name for r in imported.rows]


def _residual_net(tmp_path):
    nodes, weights = [node("Conv", ["x", "stem"], ["s"], name="/conv1/Conv", pads=[1, 1, 1, 1])], {"stem": [4, 3, 3, 3]}
    previous = "s"
    for i in range(3):
        scope = f"/layer1/layer1.{i}"
        nodes += [node("Conv", [previous, f"a{i}"], [f"c{i}"], name=f"{scope}/conv1/Conv", pads=[1, 1, 1, 1]),
                  node("Relu", [f"c{i}"], [f"r{i}"], name=f"{scope}/relu/Relu"),
                  node("Conv", [f"r{i}", f"b{i}"], [f"d{i}"], name=f"{scope}/conv2/Conv", pads=[1, 1, 1, 1]),
                  node("Add", [f"d{i}", previous], [f"e{i}"], name=f"{scope}/Add"),
                  node("Relu", [f"e{i}"], [f"o{i}"], name=f"{scope}/relu_1/Relu")]
        weights.update({f"a{i}": [4, 4, 3, 3], f"b{i}": [4, 4, 3, 3]})
        previous = f"o{i}"
    nodes.append(node("GlobalAveragePool", [previous], ["y"], name="/avgpool/GlobalAveragePool"))
    return model(tmp_path, nodes, weights=weights)


def test_import_writes_repeated_structure_as_a_block(tmp_path):
    path = _residual_net(tmp_path)
    text = ok("import", path)
    assert ("blocks:\n  block1:\n    layers:\n"
            "      - {name: conv1, type: conv, filters: 4, kernel: 3, pad: 1, bias: false}\n"
            "      - {name: conv2, type: conv, filters: 4, kernel: 3, pad: 1, bias: false}\n"
            "      - {name: add, type: add, from: [conv2, input], act: relu}\n") in text.replace(
        "conv1, type: conv, filters: 4, kernel: 3, pad: 1, bias: false, act: relu",
        "conv1, type: conv, filters: 4, kernel: 3, pad: 1, bias: false")
    assert "  - {name: layer1, type: block1, repeat: 3}\n" in text
    target = tmp_path / "net.yaml"
    target.write_text(text)
    original, imported = cnncalc.analyze(path), cnncalc.analyze(str(target))
    assert [(r.name, r.params, r.macs) for r in original.rows] == [(r.name, r.params, r.macs) for r in imported.rows]
    assert [r.name for r in original.rows][1:4] == ["layer1.0.conv1", "layer1.0.conv2", "layer1.0.add"]
    flat = ok("import", path, "--flat")
    assert "blocks:" not in flat and flat.count("\n  - ") == 11


def test_import_refuses_other_files(tmp_path):
    result = invoke("import", "resnet50")
    assert result.exit_code == 2 and "import reads .onnx files" in result.stderr


def test_compare_graph_and_check_take_onnx(tmp_path):
    path = _small_net(tmp_path)
    data = json.loads(ok("compare", path, "resnet18", "--format", "json"))
    assert [m["totals"]["params"] for m in data["models"]] == [1522, 11689512]
    # another size reaches the fc with another number of features than its weight takes: one line
    result = invoke("report", path, "--input", "16")
    assert result.exit_code == 1
    assert result.stderr.endswith("node '/classifier/Gemm' (Gemm): the weight 10x128 does not fit 512 input features\n")
    assert '"features.0" -> "features.1"' in ok("graph", path)
    answers = tmp_path / "answers.yaml"
    answers.write_text("spec: model.onnx\nanswers:\n  - {layer: features.0, output_shape: 8x8x8, params: 216}\n"
                       "  - {layer: total, params: 1522}\n")
    result = invoke("check", answers)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_no_module_of_cnncalc_imports_numpy():
    """numpy takes 100-200 ms to import, more than the rest of a report: the ONNX reader evaluates shapes with
    cnncalc.onnx.small (numpy's names: ``small.broadcast_shapes``, ``small.take``...) and nothing imports numpy."""
    import ast

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cnncalc")
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    tree = ast.parse(handle.read())
                found += [f"{os.path.relpath(path, root)}:{node.lineno}" for node in ast.walk(tree)
                          if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "numpy" for a in node.names)
                          or isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "numpy"]
    assert not found


@pytest.mark.slow
def test_reading_does_not_import_all_of_onnx(tmp_path):
    """`import onnx` costs a second or more; the reader needs only its generated protobuf module, and not numpy
    (100-200 ms to import: the shape arithmetic is evaluated in pure Python)."""
    import subprocess

    path = _small_net(tmp_path)
    code = ("import sys, cnncalc; r = cnncalc.analyze(sys.argv[1]); print(r.totals['params'], 'onnx' in sys.modules, 'numpy' in sys.modules); "
            "import onnx; m = onnx.load(sys.argv[1]); onnx.shape_inference.infer_shapes(m); "
            "print(len(m.graph.node), onnx.onnx_ml_pb2.ModelProto is onnx.ModelProto)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.split() == ["1522", "False", "False", "6", "True"]  # and onnx imported afterwards still works


def test_compare_tells_apart_two_files_named_alike(tmp_path):
    # exporters write model.onnx: two of them, from different folders, are labelled by their paths
    for folder, filters in (("small", 4), ("wide", 8)):
        (tmp_path / folder).mkdir()
        model(tmp_path, [node("Conv", ["x", "w"], ["y"], name="/conv/Conv", kernel_shape=[3, 3])],
              weights={"w": [filters, 3, 3, 3]}, file=f"{folder}/model.onnx")
    comparison = cnncalc.compare([str(tmp_path / "small" / "model.onnx"), str(tmp_path / "wide" / "model.onnx")])
    assert comparison.labels == ["small/model.onnx", "wide/model.onnx"]
    assert [report.totals["params"] for report in comparison.reports] == [4 * 27, 8 * 27]
