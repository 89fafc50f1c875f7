"""Tensors torch.export derived from the model's own: params are what the graph holds.

torch.export's optimizer folds computations on constants into initializers it names itself and records,
in the graph's value_info, what each was folded from (``pkg.onnxscript.optimizer.folded_from``); each node
records the PyTorch call it was written for (``pkg.torch.onnx.fx_node``). The forms were read off real
exports (tools/export_modern.py: swin_v2_t, coatnet_0, nf_resnet26); the numbers are worked by hand.
Skipped without the onnx package.
"""

import pytest

onnx = pytest.importorskip("onnx")
from helpers import report_notes  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402
from test_onnx_modern import Graph, tiny_coatnet, tiny_swin_v2, totals  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402




# --- Swin V2: the bias MLP's first Linear run ahead on the coordinates, the logit scale as exp(clamp) -------

def test_swin_v2_from_torch_export_counts_the_folded_mlp_table_it_holds(tmp_path):
    path = tiny_swin_v2(tmp_path, "dynamo")
    report, _ = totals(path)
    assert [row.type for row in report.rows] == ["attention", "add"]
    keys = report.spec.layers[0].keys
    assert (keys["heads"], keys["window"], keys["position"], keys["cosine"], keys["cpb_hidden"]) == (
        2, 2, "continuous_folded", True, 16)
    attention = report.rows[0]
    # qkv 8*24 + 24 = 216; proj 8*8 + 8 = 72; the table the first Linear made, 3*3 offsets x 16 = 144, its
    # bias 16, the second Linear 16*2 = 32; the logit scale, exp(clamp(.)) of one value a head, 2
    assert attention.params == 216 + 72 + 144 + 16 + 32 + 2 == 482
    assert attention.buffers == 16  # the index, reshaped to 16 x 1; no coordinates table any more
    # qkv 3,072, QK^T and AV 512 each, proj 1,024 (as TorchScript's); the MLP only its second Linear on the
    # 9 offsets: 9*16*2 = 288 (TorchScript's file: 576, its first Linear 9*2*16 = 288 besides)
    assert attention.macs == 3072 + 512 + 512 + 1024 + 288 == 5408
    # against PyTorch (the TorchScript file: 370 params, 34 buffers, 5,696 MACs): params + 144 - 2*16 = 112,
    # buffers - 2*9 = 18 (the coordinates), MACs - 288
    assert report_notes(path) == [
        f"note: {path}: torch.export ran the first Linear of the continuous position bias MLP of 1 attention layer on "
        f"its constant coordinates table ahead of time and stored the result, a (2W-1)^2 x hidden constant (3x3x16; "
        f"position: continuous_folded): params count those constants, 112 more than PyTorch, which counts that "
        f"Linear's 2 x hidden weight instead (Swin V2's coordinates are (dy, dx) pairs) and the coordinates tables as "
        f"buffers (18 buffers fewer here); MACs leave out that Linear's (2W-1)^2 x 2 x hidden, 288 that "
        f"FlopCounterMode counts; the logit scales, stored as exp(clamp(scale)), count one a head as in PyTorch "
        f"(export with dynamo=False for PyTorch's figures)"]


def test_swin_v2_window_attention_with_the_folded_mlp_rule():
    from test_attention import one

    row = one([96, 64, 64], type="attention", heads=3, window=8, position="continuous_folded", cosine=True)
    # torchvision's swin_v2_t first block: 37,248 (q, k, v, proj and biases) + the table 15*15*512 = 115,200 +
    # its bias 512 + Linear(512, 3) 1,536 + 3 logit scales
    assert row.params == 37248 + 115200 + 512 + 1536 + 3 == 154499
    assert row.buffers == 64 * 64  # the index only
    # 201,326,592 (projections, QK^T, AV) + the second Linear on 225 offsets 225*512*3 = 345,600
    assert row.macs == 201326592 + 345600 == 201672192


def test_a_mlp_weight_derived_from_none_of_the_models_tensors_is_refused(tmp_path):
    # the second Linear's weight recorded as folded from the exporter's literals only: not a weight that can be told
    path = tiny_swin_v2(tmp_path, "dynamo")
    model = onnx.load(path)
    for info in model.graph.value_info:
        if info.name == "val_4":
            info.metadata_props[0].value = repr(["val_2"])
    onnx.save(model, path)
    with pytest.raises(SpecError, match=r"\(Add\): a position-bias MLP whose weight 'val_4' the exporter derived"):
        cnncalc.analyze(path)


# --- CoAtNet: the relative table copied under the exporter's name -------------------------------------------

def test_coatnet_table_torch_export_copied_counts_as_the_table(tmp_path):
    report, _ = totals(tiny_coatnet(tmp_path, "dynamo"))
    assert [row.type for row in report.rows] == ["conv", "attention", "add"]
    keys, attention = report.spec.layers[1].keys, report.rows[1]
    assert (keys["heads"], keys["out"], keys["position"], keys["window"]) == (2, 16, "relative", 4)
    # as the TorchScript file: qkv 216 + proj 144 + the table (2*4 - 1)^2 * 2 heads = 98 ('val_238', folded
    # from the table alone); the index 16*16 a buffer; MACs 3,072 + 2,048 + 2,048 + 2,048
    assert (attention.params, attention.buffers, attention.macs) == (216 + 144 + 98, 256, 9216)


# --- NF-ResNet: weight standardisation as a BatchNormalization of the weight -------------------------------

def standardised(g, x, scope, shape, scale, bias, call, records=True):
    """timm's ScaledStdConv2d as torch.export writes it: the weight (named) reshaped to 1 x Cout x fan-in, a
    BatchNormalization by its own mean and variance (ReduceMean, keepdims 0) with a scale and bias the
    exporter stored (``call``: the arguments its metadata records), reshaped back, a Conv without bias."""
    cout = shape[0]
    rows = g.op("Reshape", [g.weight(f"{scope}.weight", shape), g.ints(f"val_r{g.count}", [1, cout, -1])])
    axes = g.ints(f"val_a{g.count}", [0, 2])
    mean = g.op("ReduceMean", [rows, axes], keepdims=0)
    centred = g.op("Sub", [rows, g.op("ReduceMean", [rows, axes], keepdims=1)])
    variance = g.op("ReduceMean", [g.op("Mul", [centred, centred]), axes], keepdims=0)
    standard = g.op("BatchNormalization", [rows, scale, bias, mean, variance], epsilon=1e-5, momentum=1.0)
    if records:
        g.called(call)
    weight = g.op("Reshape", [standard, g.ints(f"val_w{g.count}", list(shape))])
    g.infos.append(helper.make_tensor_value_info(weight, TensorProto.FLOAT, list(shape)))  # as torch.export records
    return g.op("Conv", [x, weight], kernel_shape=list(shape[2:]))


def nf_model(folder, records=True):
    """Four convs on a 1 x 3 x 8 x 8 input: the stem (3 -> 4, 3x3), its gain times its scale stored as 'view_1',
    the zeros of the absent BN bias as 'val_12', its own bias (zeros) removed by the optimizer; a 1x1 conv
    whose scale and bias the optimizer merged into one tensor (a gain of zeros times its scale equals the
    bias's zeros); a 1x1 StdConv2d (no gain: the call takes None for the scale); a 1x1 conv whose whole
    standardisation was folded into its weight 'view_8'."""
    g = Graph("dynamo", (1, 3, 8, 8))
    stem = standardised(g, "x", "stem.conv", (4, 3, 3, 3), g.weight("view_1", [4], 0.19),
                        g.weight("val_12", [4], 0.0), "%view, %view_1, None, True, 0.0, 1e-05", records)
    for key, value in (("pkg.onnxscript.rewriter.rule_name", "RemoveOptionalBiasFromConv"),
                       ("pkg.torch.onnx.fx_node", "%conv2d : [num_users=1] = call_function[target=torch.ops.aten."
                                                  "conv2d.default](args = (%x, %view_2, %p_stem_conv_bias, [1, 1]))")):
        entry = g.nodes[-1].metadata_props.add()
        entry.key, entry.value = key, value
    merged = g.weight("val_45", [4], 0.0)
    b = standardised(g, stem, "blocks.0.conv1", (4, 4, 1, 1), merged, merged,
                     "%view_12, %view_13, None, True, 0.0, 1e-05")
    c = standardised(g, b, "blocks.0.conv2", (4, 4, 1, 1), g.weight("val_60", [4], 1.0), merged,
                     "%view_15, None, None, True, 0.0, 1e-05")
    stem_node = next(node.name for node in g.nodes if node.output[0] == stem)
    d = g.op("Conv", [c, g.folded(g.weight("view_8", [4, 4, 1, 1]), ["blocks.0.conv3.gain", "blocks.0.conv3.weight",
                                                                     "getitem_6", "mul_3", "val_38"])],
             kernel_shape=[1, 1])
    return g.save(folder, d), stem_node


def test_weight_standardisation_from_torch_export(tmp_path):
    path, stem = nf_model(tmp_path)
    report, _ = totals(path)
    assert [row.type for row in report.rows] == ["conv", "scale", "conv", "scale", "conv", "conv"]
    # the stem's weight 4*3*3*3 = 108 (its zero bias removed) and its gain 4 (the 'view_1' the file holds);
    # the merged 1x1: 16 + a gain of 4; the StdConv2d 16, no gain; the folded weight's 16 values
    assert [row.params for row in report.rows] == [108, 4, 16, 4, 16, 16]
    assert report.totals["params"] == 108 + 4 + 16 + 4 + 16 + 16 == 164
    # the stem 4*6*6 positions * 27 = 3,888; each 1x1 4*36 * 4 = 576
    assert report.totals["macs"] == 3888 + 3 * 576 == 5616
    # PyTorch counts 172: the stem's bias 4 and the folded conv's gain 4 besides (one note each)
    assert report_notes(path) == [
        f"note: {path}: torch.export computed the weight of 1 Conv from several of the model's tensors ahead of time "
        f"and stored the result ('view_8', 4x4x1x1, from blocks.0.conv3.gain and blocks.0.conv3.weight): params count "
        f"the 16 values the file holds; PyTorch counts the gain besides, one value a filter (timm's "
        f"ScaledStdConv2d): 4 params (export with dynamo=False for PyTorch's figures)",
        f"note: {path}: torch.export's optimizer removed the biases of 1 layer because they were all zeros (4 params, "
        f"first at node '{stem}'): params count "
        f"without them, where PyTorch counts them (a trained model's biases are kept)"]


def test_weight_standardisation_without_the_call_recorded_is_refused(tmp_path):
    with pytest.raises(SpecError, match=r"\(Conv\): the Conv weight is computed from 'val_12', a tensor the "
                                        r"exporter derived"):
        cnncalc.analyze(nf_model(tmp_path, records=False)[0])


# --- the records ------------------------------------------------------------------------------------------

def test_records_name_the_models_tensors_not_literals_intermediates_or_lifted_constants():
    from cnncalc.onnx.derived import _records

    def info(name, sources):
        made = helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
        entry = made.metadata_props.add()
        entry.key, entry.value = "pkg.onnxscript.optimizer.folded_from", repr(sources)
        return made

    graph = helper.make_graph([], "g", [], [], value_info=[
        info("exp", ["clamp", "features.1.0.attn.logit_scale", "val_92"]),
        info("val_12", ["val_10", "val_11", "view"]),
        info("val_314", ["clone_9", "features.1.1.attn.lifted_tensor_1", "fill_1"]),
        info("view_8", ["blocks.0.conv3.weight", "blocks.0.conv3.gain", "mul_3"])])
    assert _records(graph) == {"exp": ("features.1.0.attn.logit_scale",), "val_12": (), "val_314": (),
                               "view_8": ("blocks.0.conv3.gain", "blocks.0.conv3.weight")}


def test_weight_standardisation_from_the_torchscript_exporters_constant_folding(tmp_path):
    # dynamo=False with its default do_constant_folding=True (timm's ScaledStdConv2d): the weight stored
    # reshaped to 1 x Cout x fan-in and, transposed, for its statistics; the gain times its constant and the
    # zeros of the absent shift stored; a second conv's scale of equal values kept once, behind an Identity
    g = Graph("torchscript", (1, 3, 8, 8))

    def conv(x, scope, rows, copy, scale, shift, shape, bias=None):
        rows = g.weight(rows, [1, shape[0], shape[1] * shape[2] * shape[3]])
        copy = g.weight(copy, [1, shape[1] * shape[2] * shape[3], shape[0]])
        mean = g.op("ReduceMean", [copy], scope, axes=[0, 1], keepdims=0)
        centred = g.op("Sub", [copy, g.op("ReduceMean", [copy], scope, axes=[0, 1], keepdims=1)], scope)
        variance = g.op("ReduceMean", [g.op("Mul", [centred, centred], scope)], scope, axes=[0, 1], keepdims=0)
        standard = g.op("BatchNormalization", [rows, scale, shift, mean, variance], scope, epsilon=1e-5)
        weight = g.op("Reshape", [standard, g.ints(f"onnx::Reshape_{scope[-1]}", list(shape))], scope)
        return g.op("Conv", [x, weight] + ([g.weight(bias, [shape[0]])] if bias else []), scope,
                    kernel_shape=list(shape[2:]), pads=[(shape[2] - 1) // 2] * 4)

    scale = g.weight("onnx::BatchNormalization_3", [4], 0.19)
    shift = g.weight("onnx::BatchNormalization_4", [4], 0.0)
    first = conv("x", "/stem/conv1", "onnx::BatchNormalization_1", "onnx::ReduceMean_2", scale, shift,
                 (4, 3, 3, 3), bias="stem.conv1.bias")
    shared = g.op("Identity", [scale], "/blocks/conv2")
    second = conv(first, "/blocks/conv2", "onnx::BatchNormalization_5", "onnx::ReduceMean_6", shared, shift,
                  (4, 4, 1, 1))
    report, _ = totals(g.save(tmp_path, second))
    # PyTorch: conv1 4*3*3*3 weights + 4 bias + a gain a filter 4 = 116; conv2 4*4 + its gain 4 = 20
    assert report.totals["params"] == 116 + 20
    assert report.totals["macs"] == 4 * 64 * 27 + 4 * 64 * 4
