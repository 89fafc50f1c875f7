"""Reading 2021+ vision models from ONNX: channels-last maps, LayerNorm, GELU, tokens, attention, 5-D clips.

Each pattern is built with onnx.helper in the form each PyTorch exporter writes it -- the TorchScript
exporter (``dynamo=False``: scoped node names ``/blocks/blocks.0/attn/MatMul``, GELU as Div/Erf/Add/Mul/Mul,
a Linear as Transpose(W) + MatMul + Add(bias, x), unbind as Gather) and torch.export (``dynamo=True``, the
default since torch 2.9: ``node_*`` names, one Gelu node, the weight stored transposed, Add(x, bias),
unbind as Slice + Squeeze, an adaptive pool's view as Reshape [-1] + Gather) -- and the expected numbers
are worked by hand in each test. The forms were read off real exports of torchvision 0.29 / timm 1.0
models (tools/export_modern.py). Skipped without the onnx package.
"""

import math
import os

import pytest

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.errors import SpecError  # noqa: E402
from cnncalc.spec.writer import to_yaml  # noqa: E402
from helpers import report_notes  # noqa: E402

FORMS = ("torchscript", "dynamo")


class Graph:
    """A one-input model being built: nodes, initializers (zeros of given dims, or given values)."""

    def __init__(self, form, shape):
        self.form, self.shape = form, shape
        self.nodes, self.inits, self.count, self.infos = [], [], 0, []

    def folded(self, name, sources):
        """torch.export's record (in value_info) of the tensors its optimizer folded the initializer from."""
        info = helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
        entry = info.metadata_props.add()
        entry.key, entry.value = "pkg.onnxscript.optimizer.folded_from", repr(sorted(sources))
        self.infos.append(info)
        return name

    def called(self, arguments, node=None):
        """torch.export's record (in the node's metadata) of the PyTorch call a node was written for."""
        entry = (node or self.nodes[-1]).metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.fx_node", f"%out : [num_users=1] = call_function[target=torch.ops." \
                                                          f"aten.call](args = ({arguments}), kwargs = {{}})"

    def weight(self, name, dims, value=None):
        array = numpy.full(dims, value, dtype=numpy.float32) if value is not None else (
            numpy.random.default_rng(len(self.inits)).normal(0, 0.02, dims).astype(numpy.float32))
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, name, values):
        self.inits.append(numpy_helper.from_array(numpy.array(values, dtype=numpy.int64), name))
        return name

    def int_constant(self, values, scope=""):
        """An int64 constant as the exporter writes it: a Constant node (TorchScript) or an initializer (dynamo)."""
        self.count += 1
        name = f"val_{self.count}"
        array = numpy.array(values, dtype=numpy.int64)
        if self.form == "torchscript":
            self.nodes.append(helper.make_node("Constant", [], [name], name=f"{scope}/Constant_{self.count}",
                                               value=numpy_helper.from_array(array)))
        else:
            self.inits.append(numpy_helper.from_array(array, name))
        return name

    def scalar(self, value):
        """A constant the exporter writes: a Constant node (TorchScript) or an initializer (dynamo)."""
        self.count += 1
        name = f"const_{self.count}"
        if self.form == "torchscript":
            self.nodes.append(helper.make_node("Constant", [], [name], name=f"/Constant_{self.count}",
                                               value=numpy_helper.from_array(numpy.array(value, dtype=numpy.float32))))
        else:
            self.inits.append(numpy_helper.from_array(numpy.array([value], dtype=numpy.float32), f"val_{self.count}"))
            name = f"val_{self.count}"
        return name

    def op(self, op_type, inputs, scope="", **attrs):
        self.count += 1
        output = f"t{self.count}"
        name = f"{scope}/{op_type}_{self.count}" if self.form == "torchscript" else f"node_{op_type}_{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    def linear(self, x, cin, cout, scope, bias=True):
        """nn.Linear on the last axis as each exporter writes it."""
        if self.form == "torchscript":
            w = self.op("Transpose", [self.weight(f"{scope.strip('/').replace('/', '.')}.weight", [cout, cin])],
                        scope, perm=[1, 0])
            y = self.op("MatMul", [x, w], scope)
            return self.op("Add", [self.weight(f"{scope}.bias", [cout]), y], scope) if bias else y
        y = self.op("MatMul", [x, self.weight(f"val_w{self.count}", [cin, cout])])
        return self.op("Add", [y, self.weight(f"{scope}.bias", [cout])]) if bias else y

    def gelu(self, x, scope):
        if self.form == "dynamo":
            return self.op("Gelu", [x])
        d = self.op("Div", [x, self.scalar(math.sqrt(2))], scope)
        e = self.op("Erf", [d], scope)
        a = self.op("Add", [e, self.scalar(1.0)], scope)
        m = self.op("Mul", [x, a], scope)
        return self.op("Mul", [m, self.scalar(0.5)], scope)

    def save(self, folder, output, name="model.onnx"):
        graph = helper.make_graph(self.nodes, "test",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(self.shape))],
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], self.inits,
                                  value_info=self.infos)
        opset = 17 if self.form == "torchscript" else 20
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch")
        path = os.path.join(str(folder), name)
        onnx.save_model(proto, path)
        return path


def totals(path):
    """report's totals, and the totals of the spec `cnncalc import` writes (they must be equal)."""
    report = cnncalc.analyze(path)
    written = path + ".yaml"
    with open(written, "w", encoding="utf-8") as handle:
        handle.write(to_yaml(cnncalc.load_spec(path)))
    again = cnncalc.analyze(written)
    keys = ("params", "buffers", "macs")
    assert {k: again.totals[k] for k in keys} == {k: report.totals[k] for k in keys}
    return report, {row.name: row for row in report.rows}


# --- ConvNeXt: channels-last, LayerNormalization, GELU, layer scale ---------------------------------

def convnext_block(form, folder):
    """torchvision's CNBlock on a 4 x 8 x 8 map: 7x7 depthwise, permute to channels-last, LayerNorm,
    Linear 4 -> 16, GELU, Linear 16 -> 4, permute back, layer scale (4 x 1 x 1), + input."""
    g = Graph(form, (1, 4, 8, 8))
    s = "/features/features.1/features.1.0/block"
    dw = g.op("Conv", ["x", g.weight("block.0.weight", [4, 1, 7, 7]), g.weight("block.0.bias", [4])], s + "/block.0",
              group=4, kernel_shape=[7, 7], pads=[3, 3, 3, 3])
    last = g.op("Transpose", [dw], s + "/block.1", perm=[0, 2, 3, 1])
    norm = g.op("LayerNormalization", [last, g.weight("ln.weight", [4]), g.weight("ln.bias", [4])], s + "/block.2",
                axis=-1, epsilon=1e-6)
    up = g.linear(norm, 4, 16, s + "/block.3")
    act = g.gelu(up, s + "/block.4")
    down = g.linear(act, 16, 4, s + "/block.5")
    first = g.op("Transpose", [down], s + "/block.6", perm=[0, 3, 1, 2])
    scaled = g.op("Mul", [g.weight("layer_scale", [4, 1, 1]), first], "/features/features.1/features.1.0")
    out = g.op("Add", [scaled, "x"], "/features/features.1/features.1.0")
    return g.save(folder, out)


@pytest.mark.parametrize("form", FORMS)
def test_convnext_block_channels_last(tmp_path, form):
    report, by_type = totals(convnext_block(form, tmp_path))
    types = [row.type for row in report.rows]
    assert types == ["dwconv", "layernorm", "linear", "linear", "scale", "add"]
    assert report.rows[2].act == "gelu"  # GELU (one node, or Div/Erf/Add/Mul/Mul) folded into the linear
    # dwconv 4*7*7 + 4 = 200; LayerNorm 2*4 = 8; linear 4*16 + 16 = 80; linear 16*4 + 4 = 68; scale 4
    assert report.totals["params"] == 200 + 8 + 80 + 68 + 4 == 360
    # dwconv 4*8*8*49 = 12,544; each linear 64 positions * 4*16 = 4,096
    assert report.totals["macs"] == 12544 + 4096 + 4096 == 20736
    assert report.rows[-1].out_shape == (4, 8, 8)


def test_layernorm_written_out_over_channels(tmp_path):
    """timm's LayerNorm2d of older exports: mean over C, (x-u)^2 mean, sqrt(var+eps), divide, scale, shift."""
    g = Graph("torchscript", (1, 6, 5, 5))
    conv = g.op("Conv", ["x", g.weight("conv.weight", [6, 6, 1, 1])], "/conv", kernel_shape=[1, 1])
    mean = g.op("ReduceMean", [conv], "/norm", axes=[1], keepdims=1)
    centred = g.op("Sub", [conv, mean], "/norm")
    square = g.op("Pow", [centred, g.scalar(2.0)], "/norm")
    variance = g.op("ReduceMean", [square], "/norm", axes=[1], keepdims=1)
    root = g.op("Sqrt", [g.op("Add", [variance, g.scalar(1e-6)], "/norm")], "/norm")
    normed = g.op("Div", [centred, root], "/norm")
    out = g.op("Add", [g.op("Mul", [normed, g.weight("norm.weight", [6, 1, 1])], "/norm"),
                       g.weight("norm.bias", [6, 1, 1])], "/norm")
    report, _ = totals(g.save(tmp_path, out))
    assert [row.type for row in report.rows] == ["conv", "layernorm"]
    assert report.totals["params"] == 6 * 6 + 2 * 6 == 48  # conv 36 (no bias); LN scale and shift 12


def gelu_tanh_model(spelling, folder, residual=False):
    """Conv 3 -> 8 (3x3) on 3 x 8 x 8, GELU's tanh approximation 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))),
    conv 8 -> 4 (1x1); ``residual``: x is also added to the GELU (so the GELU cannot be the conv's act).
    Spellings: the TorchScript exporter's (x*(x*x), constants first), torch.export's at opset 18
    (Pow(x, 3); 0.5 * (1 + tanh) then * x), and its one Gelu node (opset 20)."""
    g = Graph("torchscript" if spelling == "torchscript" else "dynamo", (1, 3, 8, 8))
    s = "/1"
    x = g.op("Conv", ["x", g.weight("0.weight", [8, 3, 3, 3]), g.weight("0.bias", [8])], "/0", kernel_shape=[3, 3])
    if spelling == "gelu node":
        y = g.op("Gelu", [x], approximate="tanh")
    elif spelling == "torchscript":
        cube = g.op("Mul", [x, g.op("Mul", [x, x], s)], s)
        inner = g.op("Mul", [g.scalar(math.sqrt(2 / math.pi)),
                             g.op("Add", [x, g.op("Mul", [g.scalar(0.044715), cube], s)], s)], s)
        one_plus = g.op("Add", [g.scalar(1.0), g.op("Tanh", [inner], s)], s)
        y = g.op("Mul", [g.scalar(0.5), g.op("Mul", [x, one_plus], s)], s)
    else:
        cube = g.op("Pow", [x, g.scalar(3.0)])
        inner = g.op("Mul", [g.scalar(0.7978845608028654), g.op("Add", [x, g.op("Mul", [g.scalar(0.044715), cube])])])
        one_plus = g.op("Add", [g.op("Tanh", [inner]), g.scalar(1.0)])
        y = g.op("Mul", [x, g.op("Mul", [g.scalar(0.5), one_plus])])
    if residual:
        y = g.op("Add", [y, x], s)
    out = g.op("Conv", [y, g.weight("2.weight", [4, 8, 1, 1]), g.weight("2.bias", [4])], "/2", kernel_shape=[1, 1])
    return g.save(folder, out)


@pytest.mark.parametrize("spelling", ["torchscript", "dynamo", "gelu node"])
def test_gelu_tanh_form_is_one_gelu(tmp_path, spelling):
    report, _ = totals(gelu_tanh_model(spelling, tmp_path))
    assert [row.type for row in report.rows] == ["conv", "conv"]
    assert report.rows[0].act == "gelu"
    # conv 8*3*3*3 + 8 = 224 params, 8 filters * 6*6 positions * 27 = 7,776 MACs; conv 8*4 + 4 = 36, 4*36*8 = 1,152
    assert report.totals["params"] == 224 + 36 == 260
    assert report.totals["macs"] == 7776 + 1152 == 8928


@pytest.mark.parametrize("spelling", ["torchscript", "dynamo"])
def test_gelu_tanh_form_of_a_tensor_used_again_is_its_own_layer(tmp_path, spelling):
    report, _ = totals(gelu_tanh_model(spelling, tmp_path, residual=True))
    assert [row.type for row in report.rows] == ["conv", "gelu", "add", "conv"]
    assert report.rows[0].act is None
    assert report.totals["macs"] == 8928


# --- a tiny ViT: patches to tokens, class token, position embedding, attention, head ---------------

def tiny_vit(form, folder, distilled=False):
    """3 x 8 x 8 image, 4x4 patches -> 4 tokens of width 8, a class token (5 tokens), 2 heads of 4. DeiT's
    ``distilled`` form: a class and a distillation token (6 tokens, Expand of each token to the batch in
    TorchScript's form, constants torch.export folded), two heads on tokens 0 and 1, averaged."""
    g = Graph(form, (1, 3, 8, 8))
    n = 6 if distilled else 5
    patches = g.op("Conv", ["x", g.weight("patch.weight", [8, 3, 4, 4]), g.weight("patch.bias", [8])], "/patch",
                   kernel_shape=[4, 4], strides=[4, 4])
    flat = g.op("Reshape", [patches, g.ints("to_flat", [1, 8, 4])], "")
    tokens = g.op("Transpose", [flat], "", perm=[0, 2, 1])
    if not distilled:
        learned = [g.weight("class_token" if form == "torchscript" else "expand", [1, 1, 8])]
    elif form == "torchscript":
        learned = [g.op("Expand", [g.weight(name, [1, 1, 8]), g.ints("batch", [1, 1, 8])], "")
                   for name in ("cls_token", "dist_token")]
    else:
        learned = [g.weight("expand", [1, 1, 8]), g.weight("expand_1", [1, 1, 8])]
    joined = g.op("Concat", learned + [tokens], "", axis=1)
    x = g.op("Add", [joined, g.weight("pos_embed", [1, n, 8])], "")
    s = "/blocks/blocks.0/attn"
    norm = g.op("LayerNormalization", [x, g.weight("norm1.weight", [8]), g.weight("norm1.bias", [8])],
                "/blocks/blocks.0/norm1", axis=-1)
    qkv = g.linear(norm, 8, 24, s + "/qkv")
    heads = g.op("Reshape", [qkv, g.ints("to_heads", [1, n, 3, 2, 4])], s)
    qkv5 = g.op("Transpose", [heads], s, perm=[2, 0, 3, 1, 4])  # 3 x 1 x 2 x n x 4
    parts = []
    for i in range(3):
        if form == "torchscript":
            parts.append(g.op("Gather", [qkv5, g.ints(f"index{i}", i)], s, axis=0))
        else:
            piece = g.op("Slice", [qkv5, g.ints(f"start{i}", [i]), g.ints(f"end{i}", [i + 1]), g.ints("axis0", [0])])
            parts.append(g.op("Squeeze", [piece, g.ints("axis0", [0])]))
    q, k, v = parts
    q = g.op("Mul", [q, g.scalar(0.5)], s)  # 1/sqrt(head_dim 4)
    kt = g.op("Transpose", [k], s, perm=[0, 1, 3, 2])
    scores = g.op("MatMul", [q, kt], s)  # 1 x 2 x n x n
    attn = g.op("Softmax", [scores], s, axis=-1)
    mixed = g.op("MatMul", [attn, v], s)  # 1 x 2 x n x 4
    back = g.op("Reshape", [g.op("Transpose", [mixed], s, perm=[0, 2, 1, 3]), g.ints("to_tokens", [1, n, 8])], s)
    proj = g.linear(back, 8, 8, s + "/proj")
    x = g.op("Add", [x, proj], "/blocks/blocks.0")
    first = g.op("Gather", [x, g.ints("zero", 0)], "", axis=1)
    head = g.op("Gemm", [first, g.weight("head.weight", [10, 8]), g.weight("head.bias", [10])], "/head", transB=1)
    if distilled:
        second = g.op("Gather", [x, g.ints("one", 1)], "", axis=1)
        other = g.op("Gemm", [second, g.weight("head_dist.weight", [10, 8]), g.weight("head_dist.bias", [10])],
                     "/head_dist", transB=1)
        head = g.op("Div", [g.op("Add", [head, other], ""), g.scalar(2.0)], "")
    return g.save(folder, head)


@pytest.mark.parametrize("form", FORMS)
def test_tiny_vit_tokens_and_attention(tmp_path, form):
    report, by_name = totals(tiny_vit(form, tmp_path))
    types = [row.type for row in report.rows]
    assert types == ["conv", "tokens", "classtoken", "posembed", "layernorm", "attention", "add", "taketoken", "fc"]
    attention = next(row for row in report.rows if row.type == "attention")
    assert report.spec.layers[5].keys["heads"] == 2
    # qkv 8*24 + 24 = 216, proj 8*8 + 8 = 72
    assert attention.params == 216 + 72 == 288
    # qkv 5 tokens * 8*24 = 960; QK^T 2 heads * 5*5*4 = 200; AV 200; proj 5*8*8 = 320
    assert attention.macs == 960 + 200 + 200 + 320 == 1680
    # conv 8*3*16 + 8 = 392; class token 8; position embedding 5*8 = 40; LN 16; attention 288; head 80 + 10
    assert report.totals["params"] == 392 + 8 + 40 + 16 + 288 + 90 == 834
    # conv 8 * 2*2 * 3*16 = 1,536; attention 1,680; head 8*10 = 80
    assert report.totals["macs"] == 1536 + 1680 + 80 == 3296
    if form == "torchscript":
        assert attention.name == "blocks.0.attn"


@pytest.mark.parametrize("form", FORMS)
def test_deit_distilled_class_and_distillation_tokens_and_two_heads(tmp_path, form):
    report, _ = totals(tiny_vit(form, tmp_path, distilled=True))
    types = [row.type for row in report.rows]
    assert types == ["conv", "tokens", "classtoken", "posembed", "layernorm", "attention", "add", "taketoken", "fc",
                     "taketoken", "fc", "add"]
    assert report.spec.layers[2].keys["count"] == 2
    assert [layer.keys.get("index", 0) for layer in report.spec.layers if layer.type == "taketoken"] == [0, 1]
    assert report.rows[2].out_shape == (6, 8)  # 4 patches + the class and distillation tokens
    # conv 392; the two tokens 2*8 = 16; position embedding 6*8 = 48; LN 16; attention 288; two heads 2*90
    assert report.totals["params"] == 392 + 16 + 48 + 16 + 288 + 2 * 90 == 940
    # conv 1,536; attention: qkv 6*8*24 = 1,152, QK^T and AV 2 heads * 6*6*4 = 288 each, proj 6*8*8 = 384;
    # the heads 2 * 8*10 (their average: no MACs)
    assert report.totals["macs"] == 1536 + 1152 + 288 + 288 + 384 + 160 == 3808


def test_attention_pattern_that_is_not_one_is_refused(tmp_path):
    """QK^T and softmax without the AV product: not an attention layer; one error line, no count."""
    g = Graph("torchscript", (1, 3, 8, 8))
    patches = g.op("Conv", ["x", g.weight("patch.weight", [8, 3, 4, 4])], "/patch", kernel_shape=[4, 4],
                   strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [patches, g.ints("to_flat", [1, 8, 4])], "")], "", perm=[0, 2, 1])
    qkv = g.linear(tokens, 8, 24, "/attn/qkv")
    heads = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [1, 4, 3, 2, 4])], "/attn")], "/attn",
                 perm=[2, 0, 3, 1, 4])
    q = g.op("Gather", [heads, g.ints("zero", 0)], "/attn", axis=0)
    out = g.op("Reshape", [g.op("Transpose", [q], "/attn", perm=[0, 2, 1, 3]), g.ints("back", [1, 4, 8])], "/attn")
    final = g.op("Add", [out, tokens], "")
    with pytest.raises(SpecError, match="attention"):
        cnncalc.analyze(g.save(tmp_path, final))


# --- video: 5-D input, 3-D convs, torch.export's adaptive pool ------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_video_clip_3d_conv_pool_fc(tmp_path, form):
    """r3d-like: 3 x 4 x 8 x 8 clip, conv 3x7x7 stride 1x2x2 pad 1x3x3 (no bias, BN folded or kept), global pool."""
    g = Graph(form, (1, 3, 4, 8, 8))
    conv = g.op("Conv", ["x", g.weight("stem.0.weight", [6, 3, 3, 7, 7])], "/stem/stem.0", kernel_shape=[3, 7, 7],
                strides=[1, 2, 2], pads=[1, 3, 3, 1, 3, 3])
    if form == "torchscript":
        conv = g.op("BatchNormalization", [conv] + [g.weight(f"bn.{n}", [6]) for n in "sbmv"], "/stem/stem.1")
        pooled = g.op("GlobalAveragePool", [g.op("Relu", [conv], "/stem/stem.2")], "/avgpool")
        flat = g.op("Flatten", [pooled], "/flatten", axis=1)
    else:
        mean = g.op("ReduceMean", [g.op("Relu", [conv]), g.ints("axes", [-3, -2, -1])], keepdims=1)
        strided = g.op("Gather", [g.op("Reshape", [mean, g.ints("minus_one", [-1])]),
                                  g.ints("as_strided", numpy.arange(6).reshape(1, 6, 1, 1, 1))], axis=0)
        flat = g.op("Reshape", [strided, g.ints("to_flat", [1, 6])])
    fc = g.op("Gemm", [flat, g.weight("fc.weight", [5, 6]), g.weight("fc.bias", [5])], "/fc", transB=1)
    report, _ = totals(g.save(tmp_path, fc))
    conv_row = report.rows[0]
    assert conv_row.out_shape == (6, 4, 4, 4)  # D: (4 + 2 - 3) + 1 = 4; H, W: (8 + 6 - 7)//2 + 1 = 4
    assert conv_row.params == 6 * 3 * 3 * 7 * 7 == 2646
    assert conv_row.macs == 6 * 4 * 4 * 4 * (3 * 3 * 7 * 7) == 169344
    bn = 12 if form == "torchscript" else 0
    assert report.totals["params"] == 2646 + bn + 6 * 5 + 5
    assert report.totals["buffers"] == bn
    assert report.totals["macs"] == 169344 + 30


# --- what is refused ------------------------------------------------------------------------------

def test_data_dependent_shape_names_the_first_such_node(tmp_path):
    g = Graph("torchscript", (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("w", [4, 3, 1, 1])], "/conv", kernel_shape=[1, 1])
    found = g.op("NonZero", [conv], "/detect")
    g.op("TopK", [conv, g.ints("k", [2])], "/later")
    with pytest.raises(SpecError, match=r"/detect/NonZero_\d+' \(NonZero\): its output's shape depends on"):
        cnncalc.analyze(g.save(tmp_path, found))


def test_channels_last_tensor_into_a_conv_is_refused(tmp_path):
    g = Graph("dynamo", (1, 4, 8, 8))
    last = g.op("Transpose", ["x"], perm=[0, 2, 3, 1])
    conv = g.op("Conv", [last, g.weight("w", [4, 8, 1, 1])], kernel_shape=[1, 1])
    with pytest.raises(SpecError, match="a channels-last tensor"):
        cnncalc.analyze(g.save(tmp_path, conv))


def test_learned_scalar_factor_is_counted_not_dropped(tmp_path):
    g = Graph("torchscript", (1, 4, 8, 8))
    conv = g.op("Conv", ["x", g.weight("conv.weight", [4, 4, 1, 1])], "/conv", kernel_shape=[1, 1])
    out = g.op("Mul", [conv, g.weight("blocks.0.gain", [1])], "/gain")
    report, by_name = totals(g.save(tmp_path, out))
    assert by_name["blocks.0.gain"].type == "scale" and by_name["blocks.0.gain"].params == 1
    assert report.totals["params"] == 16 + 1


def test_batchnorm_folded_by_the_exporter_is_noted(tmp_path):
    """torch.export's optimizer folds BN into the conv and says so in the node's metadata: one note line."""
    g = Graph("dynamo", (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("conv1.weight", [4, 3, 3, 3]), g.weight("conv1.bias", [4])],
                kernel_shape=[3, 3])
    entry = g.nodes[-1].metadata_props.add()
    entry.key, entry.value = "pkg.onnxscript.rewriter.rule_name", "FuseBatchNormIntoConv"
    path = g.save(tmp_path, conv)
    report, _ = totals(path)
    assert report.totals["params"] == 4 * 27 + 4 == 112 and report.totals["buffers"] == 0
    from cli_runner import ok

    notes = [line for line in ok("report", path).splitlines() if line.startswith("note: ")]
    assert notes == ["note: BatchNorm was folded into the convs by the exporter: params are the folded model's "
                     "(a conv bias of C instead of BN's 2C params and 2C buffers), at 1 conv"]


# --- Swin: attention in windows of a channels-last map, PatchMerging ------------------------------------

def tiny_swin(folder):
    """torchvision's shifted_window_attention as the TorchScript exporter writes it, on a 1 x 4 x 4 x 8
    channels-last map: windows of 2 x 2 (4 windows of n = 4 positions), 2 heads of 4, a relative position
    bias gathered from a learned 9 x 2 table by a 16-entry index buffer, then PatchMerging."""
    g = Graph("torchscript", (1, 8, 4, 4))
    s = "/features/features.1/features.1.0/attn"
    x = g.op("Transpose", ["x"], "/features/features.0", perm=[0, 2, 3, 1])
    norm = g.op("LayerNormalization", [x, g.weight("norm1.weight", [8]), g.weight("norm1.bias", [8])],
                "/features/features.1/features.1.0/norm1", axis=-1)
    padded = g.op("Pad", [norm, g.ints("pads", [0] * 8)], s, mode="constant")
    windows = g.op("Reshape", [padded, g.ints("to_windows", [1, 2, 2, 2, 2, 8])], s)
    windows = g.op("Reshape", [g.op("Transpose", [windows], s, perm=[0, 1, 3, 2, 4, 5]),
                               g.ints("to_rows", [4, 4, 8])], s)
    qkv = g.linear(windows, 8, 24, s + "/qkv")
    qkv5 = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [4, 4, 3, 2, 4])], s)], s,
                perm=[2, 0, 3, 1, 4])  # 3 x 4 x 2 x 4 x 4
    q, k, v = (g.op("Gather", [qkv5, g.ints(f"index{i}", i)], s, axis=0) for i in range(3))
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], s), g.op("Transpose", [k], s, perm=[0, 1, 3, 2])], s)
    g.weight("features.1.0.attn.relative_position_bias_table", [9, 2])
    g.ints("features.1.0.attn.relative_position_index", numpy.arange(16) % 9)
    bias = g.op("Gather", ["features.1.0.attn.relative_position_bias_table",
                           "features.1.0.attn.relative_position_index"], s, axis=0)
    bias = g.op("Transpose", [g.op("Reshape", [bias, g.ints("to_bias", [4, 4, 2])], s)], s, perm=[2, 0, 1])
    bias = g.op("Unsqueeze", [bias, g.ints("zero_axis", [0])], s)
    attn = g.op("Softmax", [g.op("Add", [scores, bias], s)], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])
    proj = g.linear(g.op("Reshape", [mixed, g.ints("to_rows2", [4, 4, 8])], s), 8, 8, s + "/proj")
    back = g.op("Reshape", [proj, g.ints("to_windows2", [1, 2, 2, 2, 2, 8])], s)
    back = g.op("Reshape", [g.op("Transpose", [back], s, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_map", [1, 4, 4, 8])],
                s)
    y = g.op("Add", [x, back], "/features/features.1/features.1.0")
    parts = {}
    for h in (0, 1):
        rows = g.op("Slice", [y, g.ints(f"h{h}", [h]), g.ints("big", [2 ** 62]), g.ints("axis1", [1]),
                              g.ints("two", [2])], "/features/features.2")
        for w in (0, 1):
            parts[h, w] = g.op("Slice", [rows, g.ints(f"w{w}", [w]), g.ints("big", [2 ** 62]), g.ints("axis2", [2]),
                                         g.ints("two", [2])], "/features/features.2")
    merged = g.op("Concat", [parts[0, 0], parts[1, 0], parts[0, 1], parts[1, 1]], "/features/features.2", axis=-1)
    return g.save(folder, g.linear(merged, 32, 16, "/features/features.2/reduction", bias=False))


def test_swin_window_attention_and_patch_merging(tmp_path):
    report, by_name = totals(tiny_swin(tmp_path))
    types = [row.type for row in report.rows]
    assert types == ["layernorm", "attention", "add", "pixelunshuffle", "linear"]
    attention = by_name["features.1.0.attn"]
    keys = report.spec.layers[1].keys
    assert (keys["heads"], keys["window"], keys["position"]) == (2, 2, "relative")
    # qkv 8*24 + 24 = 216; proj 8*8 + 8 = 72; the bias table (2*2 - 1)^2 * 2 heads = 18
    assert attention.params == 216 + 72 + 18 == 306
    assert attention.buffers == 4 * 4 == 16  # the relative position index: n*n
    # qkv 16 positions * 8*24 = 3,072; QK^T and AV each 4 windows * 2 heads * 4*4*4 = 512; proj 16*8*8 = 1,024
    assert attention.macs == 3072 + 512 + 512 + 1024 == 5120
    assert by_name[report.rows[3].name].out_shape == (32, 2, 2)  # PatchMerging: 4C x H/2 x W/2
    # LN 16 + attention 306 + reduction 32*16 = 512 (no bias)
    assert report.totals["params"] == 16 + 306 + 512 == 834
    assert report.totals["macs"] == 5120 + 4 * 32 * 16 == 7168


def tiny_timm_swin(folder, form):
    """timm's SwinTransformerBlock as each exporter writes it, on a 1 x 4 x 4 x 8 channels-last map: windows of
    2 x 2 (4 windows of n = 4 positions), 2 heads of 4, the relative position bias (TorchScript: gathered from
    the 9 x 2 table by a 16-entry index; torch.export: folded into one 1 x 2 x 4 x 4 constant), the scores
    viewed per window and the shifted windows' mask added, a buffer of 4 x 4 x 4 (TorchScript writes it as a
    1 x 4 x 1 x 4 x 4 Constant, torch.export as an Unsqueeze of the buffer); then timm's PatchMerging
    (Reshape, Transpose [0, 1, 3, 4, 2, 5], Reshape; TorchScript's last shape from a Shape of the transposed
    tensor), its norm and reduction, and the NHWC head (a mean over H and W)."""
    g = Graph(form, (1, 8, 4, 4))
    b = "/layers/layers.0/blocks/blocks.1"
    s = b + "/attn"
    x = g.op("Transpose", ["x"], "/patch_embed", perm=[0, 2, 3, 1])
    norm = g.op("LayerNormalization", [x, g.weight("norm1.weight", [8]), g.weight("norm1.bias", [8])], b + "/norm1",
                axis=-1)
    windows = g.op("Reshape", [norm, g.ints("to_windows", [1, 2, 2, 2, 2, 8])], b)
    windows = g.op("Reshape", [g.op("Transpose", [windows], b, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_rows", [4, 4, 8])],
                   b)
    qkv = g.linear(windows, 8, 24, s + "/qkv")
    qkv5 = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [4, 4, 3, 2, 4])], s)], s,
                perm=[2, 0, 3, 1, 4])  # 3 x 4 x 2 x 4 x 4
    q, k, v = (g.op("Gather", [qkv5, g.ints(f"index{i}", i)], s, axis=0) for i in range(3))
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], s), g.op("Transpose", [k], s, perm=[0, 1, 3, 2])], s)
    if form == "torchscript":
        g.weight("layers.0.blocks.1.attn.relative_position_bias_table", [9, 2])
        g.nodes.append(helper.make_node("Constant", [], ["onnx::Gather_344"], name="Constant_1714",  # the index
                                        value=numpy_helper.from_array(numpy.arange(16, dtype=numpy.int64) % 9)))
        bias = g.op("Gather", ["layers.0.blocks.1.attn.relative_position_bias_table", "onnx::Gather_344"], s, axis=0)
        bias = g.op("Transpose", [g.op("Reshape", [bias, g.ints("to_bias", [4, 4, 2])], s)], s, perm=[2, 0, 1])
        bias = g.op("Unsqueeze", [bias, g.ints("zero_axis", [0])], s)
        mask = f"{s}/Constant_9_output_0"
        g.nodes.append(helper.make_node("Constant", [], [mask], name=f"{s}/Constant_9", value=numpy_helper.from_array(
            numpy.zeros((1, 4, 1, 4, 4), dtype=numpy.float32))))
    else:
        bias = g.weight("unsqueeze", [1, 2, 4, 4])
        mask = g.op("Unsqueeze", [g.weight("layers.0.blocks.1.attn_mask", [4, 4, 4], 0.0), g.ints("axes02", [0, 2])])
    per_window = g.op("Reshape", [g.op("Add", [scores, bias], s), g.ints("per_window", [-1, 4, 2, 4, 4])], s)
    masked = g.op("Reshape", [g.op("Add", [per_window, mask], s), g.ints("heads_back", [-1, 2, 4, 4])], s)
    mixed = g.op("Transpose", [g.op("MatMul", [g.op("Softmax", [masked], s, axis=-1), v], s)], s, perm=[0, 2, 1, 3])
    proj = g.linear(g.op("Reshape", [mixed, g.ints("to_rows2", [4, 4, 8])], s), 8, 8, s + "/proj")
    back = g.op("Reshape", [proj, g.ints("to_windows2", [1, 2, 2, 2, 2, 8])], b)
    back = g.op("Reshape", [g.op("Transpose", [back], b, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_map", [1, 4, 4, 8])], b)
    y = g.op("Add", [x, back], b)
    m = "/layers/layers.1/downsample"
    split = g.op("Transpose", [g.op("Reshape", [y, g.ints("to_pairs", [1, 2, 2, 2, 2, 8])], m)], m,
                 perm=[0, 1, 3, 4, 2, 5])
    if form == "torchscript":  # flatten(3): the first three of the transposed tensor's dims, then -1
        first = g.op("Slice", [g.op("Shape", [split], m), g.ints("s0", [0]), g.ints("s3", [3]), g.ints("s_axis", [0])],
                     m)
        target = g.op("Concat", [first, g.ints("minus1", [-1])], m, axis=0)
    else:
        target = g.ints("merged", [1, 2, 2, 32])
    merged = g.op("Reshape", [split, target], m)
    merged = g.op("LayerNormalization", [merged, g.weight("merge.norm.weight", [32]), g.weight("merge.norm.bias", [32])],
                  m + "/norm", axis=-1)
    reduced = g.linear(merged, 32, 16, m + "/reduction", bias=False)
    if form == "torchscript":
        pooled = g.op("ReduceMean", [reduced], "/head/global_pool/pool", axes=[1, 2], keepdims=0)
    else:
        pooled = g.op("ReduceMean", [reduced, g.ints("hw", [1, 2])], keepdims=0)
    head = g.op("Gemm", [pooled, g.weight("head.fc.weight", [10, 16]), g.weight("head.fc.bias", [10])], "/head/fc",
                transB=1)
    return g.save(folder, head)


@pytest.mark.parametrize("form", FORMS)
def test_timm_swin_mask_buffer_patch_merging_and_nhwc_head(tmp_path, form):
    report, _ = totals(tiny_timm_swin(tmp_path, form))
    types = [row.type for row in report.rows]
    assert types == ["layernorm", "attention", "add", "pixelunshuffle", "layernorm", "linear", "globalavgpool",
                     "flatten", "fc"]
    keys = report.spec.layers[1].keys
    assert keys["mask"] == "buffer"
    assert keys["position"] == ("relative" if form == "torchscript" else "folded")
    attention = report.rows[1]
    # qkv 8*24 + 24 = 216, proj 8*8 + 8 = 72; the bias: its table (2*2 - 1)^2 * 2 heads = 18 (TorchScript), or
    # the 2 x 4 x 4 = 32 torch.export folded it into; buffers: the mask 4 windows * 4*4 = 64 (and the table's index
    # 4*4 = 16 where the file has it)
    if form == "torchscript":
        assert (attention.params, attention.buffers) == (216 + 72 + 18, 64 + 16)
    else:
        assert (attention.params, attention.buffers) == (216 + 72 + 32, 64)
    # qkv 16*8*24 = 3,072; QK^T and AV 4 windows * 2 heads * 4*4*4 = 512 each; proj 16*8*8 = 1,024
    assert attention.macs == 3072 + 512 + 512 + 1024 == 5120
    assert report.rows[3].out_shape == (32, 2, 2)  # PatchMerging: 4C x H/2 x W/2
    assert report.rows[7].out_shape == (16,)
    # LN 16, attention, the merge's LN 64, reduction 32*16 (no bias), head 16*10 + 10
    assert report.totals["params"] == 16 + attention.params + 64 + 512 + 170
    # attention 5,120; reduction 4 positions * 32*16 = 2,048; head 160
    assert report.totals["macs"] == 5120 + 2048 + 160 == 7328


def test_mean_over_a_channels_last_map_is_a_global_pool_only_over_h_and_w(tmp_path):
    g = Graph("torchscript", (1, 8, 4, 4))
    last = g.op("Transpose", ["x"], "", perm=[0, 2, 3, 1])
    kept = g.op("ReduceMean", [last], "/pool", axes=[1, 2], keepdims=1)  # 1 x 1 x 1 x 8, channels-last
    back = g.op("Transpose", [kept], "", perm=[0, 3, 1, 2])
    report, _ = totals(g.save(tmp_path, back))
    assert [(row.type, row.out_shape) for row in report.rows] == [("globalavgpool", (8, 1, 1))]
    g = Graph("torchscript", (1, 8, 4, 4))
    over_channels = g.op("ReduceMean", [g.op("Transpose", ["x"], "", perm=[0, 2, 3, 1])], "/pool", axes=[3])
    with pytest.raises(SpecError, match=r"ReduceMean over axes \[3\] \(cnncalc reads a reduction over the positions"):
        cnncalc.analyze(g.save(tmp_path, over_channels, "channels.onnx"))


def test_small_external_constant_is_read_only_beside_the_model(tmp_path):
    """torch.export keeps small shape constants in the external data file: read from a plain file name in the
    model's folder, never from a path the model names elsewhere."""
    g = Graph("dynamo", (1, 4, 2, 2))
    pooled = g.op("ReduceMean", ["x", g.ints("axes", [-2, -1])], keepdims=1)
    flat = g.op("Reshape", [pooled, g.ints("minus_one", [-1])])
    strided = g.op("Gather", [flat, g.ints("as_strided", numpy.arange(4).reshape(1, 4, 1, 1))], axis=0)
    out = g.op("Flatten", [strided], axis=1)
    path = g.save(tmp_path, out)
    proto = onnx.load(path)
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    report, _ = totals(path)
    assert [row.type for row in report.rows] == ["globalavgpool", "flatten"]
    for tensor in proto.graph.initializer:  # the same model pointing outside its folder
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../model.onnx.data"
    (tmp_path / "sub").mkdir()
    onnx.save_model(proto, str(tmp_path / "sub" / "model.onnx"))
    with pytest.raises(SpecError, match="is needed by value, but its contents are in an external data file"):
        cnncalc.analyze(str(tmp_path / "sub" / "model.onnx"))


def test_poolformer_groupnorm_and_pool_minus_input(tmp_path):
    """timm's PoolFormer block as the TorchScript exporter writes it: GroupNorm(1) as Reshape to N x 1 x -1,
    InstanceNormalization, Reshape back, Mul and Add of the unsqueezed weight and bias; pool(x) - x."""
    g = Graph("torchscript", (1, 6, 4, 4))
    s = "/stages/stages.0/blocks/blocks.0/norm1"
    grouped = g.op("Reshape", ["x", g.ints("to_groups", [1, 1, -1])], s)
    normed = g.op("InstanceNormalization", [grouped, g.scalar(1.0), g.scalar(0.0)], s)
    back = g.op("Reshape", [normed, g.op("Shape", ["x"], s)], s)
    weight = g.op("Unsqueeze", [g.weight("norm1.weight", [6]), g.ints("axes12", [1, 2])], s)
    bias = g.op("Unsqueeze", [g.weight("norm1.bias", [6]), g.ints("axes12", [1, 2])], s)
    normed = g.op("Add", [g.op("Mul", [back, weight], s), bias], s)
    pooled = g.op("AveragePool", [normed], "/stages/stages.0/blocks/blocks.0/token_mixer/pool", kernel_shape=[3, 3],
                  pads=[1, 1, 1, 1], strides=[1, 1])
    mixed = g.op("Sub", [pooled, normed], "/stages/stages.0/blocks/blocks.0/token_mixer")
    out = g.op("Add", ["x", mixed], "/stages/stages.0/blocks/blocks.0")
    report, _ = totals(g.save(tmp_path, out))
    assert [row.type for row in report.rows] == ["groupnorm", "avgpool", "sub", "add"]
    assert report.spec.layers[0].keys["groups"] == 1
    assert report.totals["params"] == 2 * 6 == 12  # GroupNorm's scale and shift; pool, sub and add: none
    assert report.totals["macs"] == 0


@pytest.mark.parametrize("form", FORMS)
def test_rexnet_shortcut_onto_the_first_channels(tmp_path, form):
    """ReXNet: Concat([x[:, :4] + s, x[:, 4:]]) is x + s padded with 2 zero channels: pad then add."""
    g = Graph(form, (1, 4, 5, 5))
    x = g.op("Conv", ["x", g.weight("conv.weight", [6, 4, 1, 1])], "/features/features.2/conv", kernel_shape=[1, 1])
    head = g.op("Slice", [x, g.ints("zero", [0]), g.ints("four", [4]), g.ints("one", [1])], "/features/features.2")
    tail = g.op("Slice", [x, g.ints("four", [4]), g.ints("big", [2 ** 62]), g.ints("one", [1])],
                "/features/features.2")
    added = g.op("Add", [head, "x"], "/features/features.2")
    out = g.op("Concat", [added, tail], "/features/features.2", axis=1)
    report, _ = totals(g.save(tmp_path, out))
    assert [row.type for row in report.rows] == ["conv", "pad", "add"]
    assert report.rows[1].out_shape == (6, 5, 5) and report.rows[2].out_shape == (6, 5, 5)
    assert report.totals["params"] == 6 * 4 == 24 and report.totals["macs"] == 6 * 25 * 4 == 600


def test_selective_kernel_branches(tmp_path):
    """timm's SelectiveKernel (SKNet): two conv branches stacked (Unsqueeze + Concat), summed (ReduceSum),
    pooled, reduced, expanded to 2C weights, Softmax over the branches, weighted and summed again."""
    g = Graph("torchscript", (1, 4, 6, 6))
    s = "/layer1/layer1.0/conv1"
    paths = [g.op("Conv", ["x", g.weight(f"paths.{i}.weight", [4, 4, 3, 3])], f"{s}/paths.{i}/conv",
                  kernel_shape=[3, 3], pads=[i + 1] * 4, dilations=[i + 1] * 2) for i in range(2)]
    stacked = g.op("Concat", [g.op("Unsqueeze", [p, g.ints("axis1", [1])], s) for p in paths], s, axis=1)
    summed = g.op("ReduceSum", [stacked, g.ints("axis1", [1])], s + "/attn", keepdims=0)
    pooled = g.op("ReduceMean", [summed], s + "/attn", axes=[2, 3], keepdims=1)
    reduced = g.op("Relu", [g.op("Conv", [pooled, g.weight("fc_reduce.weight", [2, 4, 1, 1])], s + "/attn/fc_reduce",
                                 kernel_shape=[1, 1])], s + "/attn")
    selected = g.op("Conv", [reduced, g.weight("fc_select.weight", [8, 2, 1, 1])], s + "/attn/fc_select",
                    kernel_shape=[1, 1])
    weights = g.op("Softmax", [g.op("Reshape", [selected, g.ints("to_branches", [1, 2, 4, 1, 1])], s + "/attn")],
                   s + "/attn", axis=1)
    out = g.op("ReduceSum", [g.op("Mul", [stacked, weights], s), g.ints("axis1", [1])], s, keepdims=0)
    report, _ = totals(g.save(tmp_path, out))
    assert [row.type for row in report.rows] == ["conv", "conv", "add", "globalavgpool", "conv", "conv", "softmax",
                                                 "chunk", "mul", "chunk", "mul", "add"]
    # two 3x3 branches 4*4*9 = 144 each; fc_reduce 4*2 = 8; fc_select 2*8 = 16
    assert report.totals["params"] == 2 * 144 + 8 + 16 == 312
    # branches 4*6*6 * 4*9 = 5,184 each; fc_reduce 8; fc_select 16
    assert report.totals["macs"] == 2 * 5184 + 8 + 16 == 10392
    assert report.rows[-1].out_shape == (4, 6, 6)


def test_resnest_split_attention(tmp_path):
    """timm's ResNeSt SplitAttn (radix 2, cardinality 1): a conv's 2C channels as 2 branches (Reshape to
    N x 2 x C x H x W), summed, pooled, fc1, fc2 to 2C, rSoftMax (Reshape, Transpose, Softmax over the
    radix, Reshape back), weighted and summed."""
    g = Graph("torchscript", (1, 4, 6, 6))
    s = "/layer1/layer1.0/conv2"
    conv = g.op("Conv", ["x", g.weight("conv.weight", [8, 2, 3, 3])], s + "/conv", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1], group=2)
    split = g.op("Reshape", [conv, g.ints("to_radix", [1, 2, 4, 6, 6])], s)
    pooled = g.op("ReduceMean", [g.op("ReduceSum", [split, g.ints("axis1", [1])], s, keepdims=0)], s,
                  axes=[2, 3], keepdims=1)
    fc1 = g.op("Conv", [pooled, g.weight("fc1.weight", [2, 4, 1, 1]), g.weight("fc1.bias", [2])], s + "/fc1",
               kernel_shape=[1, 1])
    fc2 = g.op("Conv", [fc1, g.weight("fc2.weight", [8, 2, 1, 1]), g.weight("fc2.bias", [8])], s + "/fc2",
               kernel_shape=[1, 1])
    r = s + "/rsoftmax"
    soft = g.op("Softmax", [g.op("Transpose", [g.op("Reshape", [fc2, g.ints("to_card", [1, 1, 2, -1])], r)], r,
                                 perm=[0, 2, 1, 3])], r, axis=1)
    flat = g.op("Reshape", [g.op("Reshape", [soft, g.ints("flat", [1, -1])], r), g.ints("to_map", [1, -1, 1, 1])], s)
    weights = g.op("Reshape", [flat, g.ints("to_radix_w", [1, 2, 4, 1, 1])], s)
    out = g.op("ReduceSum", [g.op("Mul", [split, weights], s), g.ints("axis1", [1])], s, keepdims=0)
    report, _ = totals(g.save(tmp_path, out))
    assert [row.type for row in report.rows] == ["conv", "chunk", "chunk", "add", "globalavgpool", "conv", "conv",
                                                 "softmax", "chunk", "mul", "chunk", "mul", "add"]
    # grouped conv 8*2*9 = 144; fc1 4*2 + 2 = 10; fc2 2*8 + 8 = 24
    assert report.totals["params"] == 144 + 10 + 24 == 178
    # conv 8*36 * 2*9 = 5,184; fc1 8; fc2 16
    assert report.totals["macs"] == 5184 + 8 + 16 == 5208
    assert report.rows[-1].out_shape == (4, 6, 6)


def test_weight_standardized_conv_counts_its_weight_and_gain(tmp_path):
    """timm's ScaledStdConv2d (NFNet) as the TorchScript exporter writes it: the conv weight is computed from
    the learned weight (standardized over each filter) and a learned gain per filter: conv + scale."""
    g = Graph("torchscript", (1, 3, 8, 8))
    s = "/stem/conv"
    flat = g.op("Reshape", [g.weight("stem.conv.weight", [4, 3, 3, 3]), g.ints("to_rows", [1, 4, -1])], s)
    mean = g.op("ReduceMean", [flat], s, axes=[2], keepdims=1)
    centred = g.op("Sub", [flat, mean], s)
    std = g.op("Sqrt", [g.op("ReduceMean", [g.op("Mul", [centred, centred], s)], s, axes=[2], keepdims=1)], s)
    standard = g.op("Reshape", [g.op("Div", [centred, std], s), g.ints("to_weight", [4, 3, 3, 3])], s)
    weight = g.op("Mul", [standard, g.weight("stem.conv.gain", [4, 1, 1, 1])], s)
    out = g.op("Conv", ["x", weight, g.weight("stem.conv.bias", [4])], s, kernel_shape=[3, 3])
    report, _ = totals(g.save(tmp_path, out))
    assert [row.type for row in report.rows] == ["conv", "scale"]
    # weight 4*3*3*3 = 108 + bias 4, counted once; gain 4 (the scale)
    assert report.totals["params"] == 108 + 4 + 4 == 116
    assert report.totals["macs"] == 4 * 6 * 6 * 27 == 3888


def test_dynamo_split_with_num_outputs(tmp_path):
    """torch.export writes chunk(2, dim=1) as Split with num_outputs (opset 18+): two equal channel chunks."""
    g = Graph("dynamo", (1, 6, 4, 4))
    g.count += 1
    g.nodes.append(helper.make_node("Split", ["x"], ["a", "b"], name="node_split", axis=1, num_outputs=2))
    out = g.op("Add", ["a", "b"])
    report, _ = totals(g.save(tmp_path, out))
    assert [(row.type, row.out_shape) for row in report.rows] == [("chunk", (3, 4, 4)), ("chunk", (3, 4, 4)),
                                                                   ("add", (3, 4, 4))]


def test_attention_whose_result_is_unused_is_refused(tmp_path):
    g = Graph("torchscript", (1, 3, 8, 8))
    patches = g.op("Conv", ["x", g.weight("patch.weight", [8, 3, 4, 4])], "/patch", kernel_shape=[4, 4],
                   strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [patches, g.ints("to_flat", [1, 8, 4])], "")], "", perm=[0, 2, 1])
    g.op("Transpose", [tokens], "/attn", perm=[1, 0, 2])  # sequence-first, then nothing reads it
    out = g.op("LayerNormalization", [tokens, g.weight("ln.weight", [8]), g.weight("ln.bias", [8])], "/ln", axis=-1)
    with pytest.raises(SpecError, match="attention-like pattern whose result no layer reads"):
        cnncalc.analyze(g.save(tmp_path, out))


# --- Swin V2: scaled cosine attention, a continuous position bias --------------------------------------

def tiny_swin_v2(folder, form, records=True, constant_folding=False):
    """torchvision's shifted_window_attention_v2 on a 1 x 4 x 4 x 8 channels-last map: windows of 2 x 2 (4
    windows of n = 4 positions), 2 heads of 4; q and k divided by their L2 norm (clamped), the scores
    times exp(clamp(logit scale)) per head, plus 16 * sigmoid of a bias an MLP (Linear(2, 16) + ReLU +
    Linear(16, 2), no bias) computes from a 1 x 3 x 3 x 2 coordinates buffer, gathered by a 16-entry index.
    TorchScript keeps the MLP's weights; torch.export runs the first Linear on the coordinates ahead of time
    (a 1 x 3 x 3 x 16 constant), stores the second's weight transposed, the index reshaped to 16 x 1 and
    exp(clamp(logit scale)) as constants of its own, each with its record of what it was folded from
    (``records``). The TorchScript exporter's constant folding (``constant_folding``, its default) stores the
    MLP's weights transposed, as initializers it names ``onnx::MatMul_...``."""
    g = Graph(form, (1, 8, 4, 4))
    s = "/features/features.1/features.1.0/attn"
    x = g.op("Transpose", ["x"], "/features/features.0", perm=[0, 2, 3, 1])
    windows = g.op("Reshape", [x, g.ints("to_windows", [1, 2, 2, 2, 2, 8])], s)
    windows = g.op("Reshape", [g.op("Transpose", [windows], s, perm=[0, 1, 3, 2, 4, 5]),
                               g.ints("to_rows", [4, 4, 8])], s)
    qkv = g.linear(windows, 8, 24, s + "/qkv")
    qkv5 = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [4, 4, 3, 2, 4])], s)], s,
                perm=[2, 0, 3, 1, 4])  # 3 x 4 x 2 x 4 x 4
    q, k, v = (g.op("Gather", [qkv5, g.ints(f"index{i}", i)], s, axis=0) for i in range(3))
    normed = []
    for t in (q, k):
        norm = g.op("Clip", [g.op("ReduceL2", [t], s, axes=[-1], keepdims=1), g.scalar(1e-12)], s)
        normed.append(g.op("Div", [t, g.op("Expand", [norm, g.op("Shape", [t], s)], s)], s))
    scores = g.op("MatMul", [normed[0], g.op("Transpose", [normed[1]], s, perm=[0, 1, 3, 2])], s)
    index = numpy.arange(16) % 9
    if form == "torchscript":
        g.ints("features.1.0.attn.relative_position_index", index)
        g.weight("features.1.0.attn.relative_coords_table", [1, 3, 3, 2])
        w1 = g.weight("onnx::MatMul_1", [2, 16]) if constant_folding else \
            g.op("Transpose", [g.weight("features.1.0.attn.cpb_mlp.0.weight", [16, 2])], s, perm=[1, 0])
        hidden = g.op("Add", [g.weight("features.1.0.attn.cpb_mlp.0.bias", [16]),
                              g.op("MatMul", ["features.1.0.attn.relative_coords_table", w1], s)], s)
        if constant_folding:
            table = g.op("MatMul", [g.op("Relu", [hidden], s), g.weight("onnx::MatMul_2", [16, 2])], s)
        else:
            table = g.linear(g.op("Relu", [hidden], s), 16, 2, s + "/cpb_mlp/cpb_mlp.2", bias=False)
        bias = g.op("Gather", [g.op("Reshape", [table, g.ints("to_table", [-1, 2])], s),
                               "features.1.0.attn.relative_position_index"], s, axis=0)
        logit = g.op("Exp", [g.op("Clip", [g.weight("features.1.0.attn.logit_scale", [2, 1, 1]), "",
                                           g.scalar(4.6)], s)], s)
    else:
        hidden = g.op("Add", [g.weight("val_3", [1, 3, 3, 16]), g.weight("features.1.0.attn.cpb_mlp.0.bias", [16])])
        table = g.op("MatMul", [g.op("Relu", [hidden]), g.weight("val_4", [16, 2])])
        bias = g.op("GatherND", [g.op("Reshape", [table, g.ints("to_table", [9, 2])]),
                                 g.ints("val_15", index.reshape(16, 1))])
        logit = g.weight("exp", [2, 1, 1])
        if records:
            g.folded("val_3", ["features.1.0.attn.cpb_mlp.0.weight", "features.1.0.attn.relative_coords_table",
                               "val_2"])
            g.folded("val_4", ["features.1.0.attn.cpb_mlp.2.weight"])
            g.folded("val_15", ["features.1.0.attn.relative_position_index", "val_12", "val_13"])
            g.folded("exp", ["clamp", "features.1.0.attn.logit_scale", "val_92", "val_93"])
    bias = g.op("Transpose", [g.op("Reshape", [bias, g.ints("to_bias", [4, 4, 2])], s)], s, perm=[2, 0, 1])
    bias = g.op("Mul", [g.op("Sigmoid", [g.op("Unsqueeze", [bias, g.ints("zero_axis", [0])], s)], s),
                        g.scalar(16.0)], s)
    attn = g.op("Softmax", [g.op("Add", [g.op("Mul", [scores, logit], s), bias], s)], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])
    proj = g.linear(g.op("Reshape", [mixed, g.ints("to_rows2", [4, 4, 8])], s), 8, 8, s + "/proj")
    back = g.op("Reshape", [proj, g.ints("to_windows2", [1, 2, 2, 2, 2, 8])], s)
    back = g.op("Reshape", [g.op("Transpose", [back], s, perm=[0, 1, 3, 2, 4, 5]), g.ints("to_map", [1, 4, 4, 8])],
                s)
    return g.save(folder, g.op("Add", [x, back], "/features/features.1/features.1.0"))


def test_swin_v2_cosine_attention_and_continuous_position_bias(tmp_path):
    report, by_name = totals(tiny_swin_v2(tmp_path, "torchscript"))
    assert [row.type for row in report.rows] == ["attention", "add"]
    keys = report.spec.layers[0].keys
    assert (keys["heads"], keys["window"], keys["position"], keys["cosine"], keys["cpb_hidden"]) == (
        2, 2, "continuous", True, 16)
    attention = by_name["features.1.0.attn"]
    # qkv 8*24 + 24 = 216; proj 8*8 + 8 = 72; the MLP 2*16 + 16 + 16*2 = 80; a logit scale per head 2
    assert attention.params == 216 + 72 + 80 + 2 == 370
    # the coordinates 1*3*3*2 = 18 (a buffer, though float) and the index 16
    assert attention.buffers == 18 + 16 == 34
    # qkv 16 positions * 8*24 = 3,072; QK^T and AV each 4 windows * 2 heads * 4*4*4 = 512; proj 16*8*8 = 1,024;
    # the MLP on the 3*3 = 9 offsets: 9 * (2*16 + 16*2) = 576 (the L2 norms, clamp and exp are not MACs)
    assert attention.macs == 3072 + 512 + 512 + 1024 + 576 == 5696


def test_swin_v2_from_torchscript_with_constant_folding_counts_the_transposed_mlp_weights(tmp_path):
    # torch.onnx.export(..., dynamo=False) with its default do_constant_folding=True: the MLP's weights stored
    # transposed (2 x 16, 16 x 2), one value per value: the same params, buffers and MACs as above
    report, by_name = totals(tiny_swin_v2(tmp_path, "torchscript", constant_folding=True))
    attention = by_name["features.1.0.attn"]
    assert (attention.params, attention.buffers, attention.macs) == (370, 34, 5696)
    assert report.spec.layers[0].keys["cpb_hidden"] == 16


def test_swin_v2_from_torch_export_without_its_records_is_refused_naming_the_logit_scale(tmp_path):
    # what each constant was folded from is not told: its params cannot be (see test_onnx_derived.py)
    with pytest.raises(SpecError, match=r"node 'node_Mul_\d+' \(Mul\): cosine attention's logit scale stored as "
                                        r"the 2x1x1 constant 'exp', which the exporter derived"):
        cnncalc.analyze(tiny_swin_v2(tmp_path, "dynamo", records=False))


# --- MaxViT: block and grid partitions of a channels-first map ----------------------------------------

def tiny_maxvit(folder, form, folded=False):
    """torchvision's MaxViT partitions on a 1 x 8 x 4 x 4 map: block attention in 2 x 2 windows (Reshape
    1x8x2x2x2x2, Transpose [0, 2, 4, 3, 5, 1], Reshape 1x4x4x8), LayerNorm, q/k/v projection split three
    ways (TorchScript: Slices; torch.export: a Split), 2 heads of 4, Einsum products, + the partition; then
    back to the map and into a grid partition with its swap [0, 2, 1, 3], a LayerNorm, and back. The
    TorchScript form adds a relative position bias gathered from a 9 x 2 table by a 4 x 4 index;
    torch.export's form goes from one partition to the next without the map between, and has no bias
    (``folded``: the table folded into one 1 x 2 x 4 x 4 constant, as torch.export stores it)."""
    g = Graph(form, (1, 8, 4, 4))
    s = "/blocks.0/layers.0/layers/window_attention"
    split2, to_windows, to_windows6, to_map, to_heads = (
        g.ints("split2", [1, 8, 2, 2, 2, 2]), g.ints("to_windows", [1, 4, 4, 8]),
        g.ints("to_windows6", [1, 2, 2, 2, 2, 8]), g.ints("to_map", [1, 8, 4, 4]), g.ints("to_heads", [1, 4, 4, 2, 4]))
    view = g.op("Reshape", ["x", split2], s + "/partition_op")
    windows = g.op("Reshape", [g.op("Transpose", [view], s + "/partition_op", perm=[0, 2, 4, 3, 5, 1]),
                               to_windows], s + "/partition_op")
    norm = g.op("LayerNormalization", [windows, g.weight("attn_layer.0.weight", [8]),
                                       g.weight("attn_layer.0.bias", [8])], s + "/attn_layer/attn_layer.0", axis=-1)
    a = s + "/attn_layer/attn_layer.1"
    qkv = g.linear(norm, 8, 24, a + "/to_qkv")
    if form == "torchscript":
        last = g.ints("last", [-1])
        parts = [g.op("Slice", [qkv, g.ints(f"start{i}", [8 * i]), g.ints(f"end{i}", [8 * i + 8]), last], a)
                 for i in range(3)]
    else:
        g.count += 1
        parts = [f"split_{i}" for i in range(3)]
        g.nodes.append(helper.make_node("Split", [qkv], parts, name="node_Split_qkv", axis=3, num_outputs=3))
    q, k, v = (g.op("Transpose", [g.op("Reshape", [t, to_heads], a)], a,
                    perm=[0, 1, 3, 2, 4]) for t in parts)  # 1 x 4 windows x 2 heads x 4 positions x 4
    scores = g.op("Einsum", [q, g.op("Mul", [k, g.scalar(0.5)], a)], a, equation="B G H I D, B G H J D -> B G H I J")
    if form == "torchscript":
        g.weight("blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_bias_table", [9, 2])
        g.ints("blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_index",
               (numpy.arange(16) % 9).reshape(4, 4))
        index = g.op("Reshape", ["blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_index",
                                 g.ints("flat", [-1])], a)
        bias = g.op("Gather", ["blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_bias_table",
                               index], a, axis=0)
        bias = g.op("Transpose", [g.op("Reshape", [bias, g.ints("to_bias", [4, 4, 2])], a)], a, perm=[2, 0, 1])
        scores = g.op("Add", [scores, bias], a)
    elif folded:
        scores = g.op("Add", [scores, g.weight("unsqueeze", [1, 2, 4, 4])])
    attn = g.op("Softmax", [scores], a, axis=-1)
    mixed = g.op("Einsum", [attn, v], a, equation="B G H I J, B G H J D -> B G H I D")
    mixed = g.op("Reshape", [g.op("Transpose", [mixed], a, perm=[0, 1, 3, 2, 4]), to_windows],
                 a)
    added = g.op("Add", [windows, g.linear(mixed, 8, 8, a + "/merge")], s)
    d = s + "/departition_op"
    split = g.op("Transpose", [g.op("Reshape", [added, to_windows6], d)], d,
                 perm=[0, 5, 1, 3, 2, 4])  # 1 x 8 x 2 x 2 x 2 x 2
    grid = "/blocks.0/layers.0/layers/grid_attention"
    if form == "torchscript":
        back = g.op("Reshape", [split, to_map], d)
        split = g.op("Reshape", [back, split2], grid + "/partition_op")
    else:
        split = g.op("Reshape", [split, split2])
    cells = g.op("Reshape", [g.op("Transpose", [split], grid, perm=[0, 2, 4, 3, 5, 1]),
                             to_windows], grid)
    swapped = g.op("Transpose", [cells], grid, perm=[0, 2, 1, 3])
    norm = g.op("LayerNormalization", [swapped, g.weight("grid_attention.attn_layer.0.weight", [8]),
                                       g.weight("grid_attention.attn_layer.0.bias", [8])], grid + "/attn_layer.0",
                axis=-1)
    cells = g.op("Transpose", [norm], grid, perm=[0, 2, 1, 3])
    split = g.op("Transpose", [g.op("Reshape", [cells, to_windows6], grid)], grid,
                 perm=[0, 5, 1, 3, 2, 4])
    return g.save(folder, g.op("Reshape", [split, to_map], grid))


@pytest.mark.parametrize("form", FORMS)
def test_maxvit_block_and_grid_partitions(tmp_path, form):
    report, by_name = totals(tiny_maxvit(tmp_path, form))
    assert [row.type for row in report.rows] == ["layernorm", "attention", "add", "layernorm"]
    keys = report.spec.layers[1].keys
    assert (keys["heads"], keys["window"]) == (2, 2)
    attention = report.rows[1]
    # qkv 8*24 + 24 = 216; merge 8*8 + 8 = 72; (TorchScript) the bias table (2*2 - 1)^2 * 2 heads = 18
    table = 18 if form == "torchscript" else 0
    assert attention.params == 216 + 72 + table
    assert attention.buffers == (4 * 4 if form == "torchscript" else 0)  # the index: n*n
    # qkv 16 positions * 8*24 = 3,072; QK^T and AV each 4 windows * 2 heads * 4*4*4 = 512; merge 16*8*8 = 1,024
    assert attention.macs == 3072 + 512 + 512 + 1024 == 5120
    assert [row.out_shape for row in report.rows] == [(8, 4, 4)] * 4  # the map, however the graph holds it
    assert report.totals["params"] == 16 + 216 + 72 + table + 16
    assert report.totals["macs"] == 5120


# --- MLP-Mixer: a Linear across the tokens ------------------------------------------------------------

def tiny_mixer(folder, form, rows=(1, 8, 4)):
    """timm's MixerBlock token MLP on the 4 tokens of width 8 a 4x4/4 conv makes of a 3 x 8 x 8 image:
    LayerNorm, Transpose [0, 2, 1] (8 x 4), Linear(4, 6), GELU, Linear(6, 4), Transpose back, + the tokens."""
    g = Graph(form, (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("stem.proj.weight", [8, 3, 4, 4]), g.weight("stem.proj.bias", [8])],
                "/stem/proj", kernel_shape=[4, 4], strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [conv, g.ints("to_rows", list(rows))], "/stem")], "/stem",
                  perm=[0, 2, 1])
    s = "/blocks/blocks.0"
    norm = g.op("LayerNormalization", [tokens, g.weight("blocks.0.norm1.weight", [8]),
                                       g.weight("blocks.0.norm1.bias", [8])], s + "/norm1", axis=-1)
    mixed = g.op("Transpose", [norm], s, perm=[0, 2, 1])  # 1 x 8 features x 4 tokens
    hidden = g.gelu(g.linear(mixed, 4, 6, s + "/mlp_tokens/fc1"), s + "/mlp_tokens/act")
    back = g.op("Transpose", [g.linear(hidden, 6, 4, s + "/mlp_tokens/fc2")], s, perm=[0, 2, 1])
    return g.save(folder, g.op("Add", [tokens, back], s))


@pytest.mark.parametrize("form", FORMS)
def test_mixer_token_mixing_is_linear_over_tokens(tmp_path, form):
    report, by_name = totals(tiny_mixer(tmp_path, form))
    assert [row.type for row in report.rows] == ["conv", "tokens", "layernorm", "linear", "linear", "add"]
    fc1, fc2 = report.rows[3], report.rows[4]
    assert report.spec.layers[3].keys["over"] == "tokens" and report.spec.layers[3].keys["act"] == "gelu"
    assert fc1.out_shape == (6, 8) and fc2.out_shape == (4, 8)  # 6 (then 4) mixed tokens of width 8
    # fc1 4*6 + 6 = 30 params, 8 features * 4*6 = 192 MACs; fc2 6*4 + 4 = 28, 8 * 6*4 = 192
    assert (fc1.params, fc1.macs, fc2.params, fc2.macs) == (30, 192, 28, 192)
    # conv 3*16*8 + 8 = 392 params, 4 positions * 48*8 = 1,536 MACs; LayerNorm 2*8
    assert report.totals["params"] == 392 + 16 + 30 + 28 == 466
    assert report.totals["macs"] == 1536 + 192 + 192 == 1920


def test_transposed_tokens_into_a_layer_norm_are_refused(tmp_path):
    # a LayerNorm over the token axis (4 tokens of width 8 held 8 x 4): no layer norms over tokens
    g = Graph("dynamo", (1, 8, 2, 2))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("to_rows", [1, 8, 4])])], perm=[0, 2, 1])
    mixed = g.op("Transpose", [tokens], perm=[0, 2, 1])
    norm = g.op("LayerNormalization", [mixed, g.weight("n.weight", [4]), g.weight("n.bias", [4])], axis=-1)
    with pytest.raises(SpecError, match=r"\(LayerNormalization\): a LayerNormalization of 1x8x4 from axis 2"):
        cnncalc.analyze(g.save(tmp_path, norm))


def test_zero_biases_torch_export_removed_are_noted(tmp_path):
    """torch.export's optimizer drops a bias that is all zeros (a freshly built model's) and says so in the
    node's metadata: the params are the graph's, and one note line says what PyTorch counts besides."""

    def removed(rule, call):
        for key, value in (("pkg.onnxscript.rewriter.rule_name", rule), ("pkg.torch.onnx.fx_node", call)):
            entry = g.nodes[-1].metadata_props.add()
            entry.key, entry.value = key, value

    g = Graph("dynamo", (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("stem.proj.weight", [4, 3, 2, 2])], kernel_shape=[2, 2], strides=[2, 2])
    removed("RemoveOptionalBiasFromConv", "%conv2d : [num_users=1] = call_function[target=torch.ops.aten.conv2d"
                                          ".default](args = (%x, %p_stem_proj_weight, %p_stem_proj_bias, [2, 2]))")
    # a conv without a bias: the exporter wrote zeros for it and its optimizer removed them: not noted
    conv = g.op("Conv", [conv, g.weight("conv.weight", [4, 4, 1, 1])], kernel_shape=[1, 1])
    removed("RemoveOptionalBiasFromConv", "%conv2d_1 : [num_users=1] = call_function[target=torch.ops.aten.conv2d"
                                          ".default](args = (%conv2d, %p_conv_weight), kwargs = {})")
    flat = g.op("Flatten", [conv], axis=1)
    head = g.op("Gemm", [flat, g.weight("head.weight", [10, 64])], transB=1)
    removed("RemoveOptionalBiasFromGemm", "%linear : [num_users=1] = call_function[target=torch.ops.aten.linear"
                                          ".default](args = (%flatten, %p_head_weight, %p_head_bias), kwargs = {})")
    path = g.save(tmp_path, head)
    report, _ = totals(path)
    assert report.totals["params"] == 4 * 12 + 4 * 4 + 64 * 10 == 704  # without the stem's 4 and the head's 10
    assert report_notes(path) == [
        f"note: {path}: torch.export's optimizer removed the biases of 2 layers because they were all zeros (14 "
        f"params, first at node '{g.nodes[0].name}'): params count without them, where PyTorch counts them (a "
        f"trained model's biases are kept)"]


def test_position_bias_torch_export_folded_is_counted_as_the_graph_holds_it(tmp_path):
    path = tiny_maxvit(tmp_path, "dynamo", folded=True)
    report, _ = totals(path)
    attention = report.rows[1]
    assert report.spec.layers[1].keys["position"] == "folded"
    # qkv 216 + merge 72 + the folded bias 2 heads * 4*4 = 32 (the model's table, 9 x 2 = 18, is not in the file)
    assert (attention.params, attention.buffers, attention.macs) == (216 + 72 + 32, 0, 5120)
    assert report_notes(path) == [
        f"note: {path}: the exporter folded the position bias tables of 1 attention layer into constants of "
        f"heads x n x n: params count those constants (position: folded), PyTorch the tables they are gathered "
        f"from, and their index buffers; MACs are the same (export with dynamo=False, do_constant_folding=False "
        f"for PyTorch's params)"]


def test_a_map_split_into_windows_and_read_otherwise_is_refused(tmp_path):
    # timm's SpaceToDepth: the same split as MaxViT's partition, then another permutation
    g = Graph("dynamo", (1, 8, 4, 4))
    view = g.op("Reshape", ["x", g.ints("split2", [1, 8, 2, 2, 2, 2])])
    moved = g.op("Transpose", [view], perm=[0, 3, 5, 1, 2, 4])
    with pytest.raises(SpecError, match=r"node 'node_Transpose_\d+' \(Transpose\): input 't\d+' is part of a map "
                                        r"split into windows \(MaxViT's partition\) cnncalc could not place"):
        cnncalc.analyze(g.save(tmp_path, g.op("Reshape", [moved, g.ints("merged", [1, 32, 2, 2])])))


# --- EfficientFormer: keys narrower than the values, attention biases -----------------------------------

def tiny_efficientformer(folder, form):
    """timm's EfficientFormer Attention on the 4 tokens of width 8 of a 1 x 8 x 2 x 2 map: 2 heads, q and k 2
    wide a head, v 4 (attn_ratio 2): qkv Linear(8, 2*2*2 + 8 = 16), Reshape 1 x 4 x 2 x 8, Transpose, Split
    [2, 2, 4] a head, the scores plus biases gathered from a learned 2 x 4 table by a 4 x 4 index (torch.export:
    one stored 2 x 4 x 4 constant), proj Linear(8, 8)."""
    g = Graph(form, (1, 8, 2, 2))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("to_rows", [1, 8, 4])], "/stages/stages.3/downsample")],
                  "/stages/stages.3/downsample", perm=[0, 2, 1])
    s = "/stages/stages.3/blocks/blocks.4/token_mixer"
    qkv = g.linear(tokens, 8, 16, s + "/qkv")
    heads = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [1, 4, 2, 8])], s)], s, perm=[0, 2, 1, 3])
    g.count += 1
    q, k, v = (f"split_{i}" for i in range(3))
    g.nodes.append(helper.make_node("Split", [heads, g.ints("sizes", [2, 2, 4])], [q, k, v], name=s + "/Split", axis=3))
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], s, perm=[0, 1, 3, 2])], s), g.scalar(0.7)], s)
    if form == "torchscript":
        g.weight("stages.3.blocks.4.token_mixer.attention_biases", [2, 4])
        g.ints("stages.3.blocks.4.token_mixer.attention_bias_idxs", [[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1],
                                                                     [3, 2, 1, 0]])
        bias = g.op("Gather", ["stages.3.blocks.4.token_mixer.attention_biases",
                               "stages.3.blocks.4.token_mixer.attention_bias_idxs"], s, axis=1)
    else:
        bias = g.weight("stages.3.blocks.4.token_mixer.lifted_tensor_0", [2, 4, 4])
    attn = g.op("Softmax", [g.op("Add", [scores, bias], s)], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])
    proj = g.linear(g.op("Reshape", [mixed, g.ints("to_rows2", [1, 4, 8])], s), 8, 8, s + "/proj")
    return g.save(folder, g.op("Add", [tokens, proj], "/stages/stages.3/blocks/blocks.4"))


@pytest.mark.parametrize("form", FORMS)
def test_efficientformer_narrow_keys_and_attention_biases(tmp_path, form):
    report, _ = totals(tiny_efficientformer(tmp_path, form))
    assert [row.type for row in report.rows] == ["tokens", "attention", "add"]
    keys, attention = report.spec.layers[1].keys, report.rows[1]
    assert (keys["heads"], keys["key_dim"], keys["position"]) == (
        2, 2, "offsets" if form == "torchscript" else "folded")
    # qkv 8*16 + 16 = 144; proj 8*8 + 8 = 72; the biases: 2 heads * 4 offsets = 8 (torch.export: 2*4*4 = 32)
    assert attention.params == 144 + 72 + (8 if form == "torchscript" else 32)
    assert attention.buffers == (4 * 4 if form == "torchscript" else 0)  # the offset index of each pair
    # qkv 4 tokens * 8*16 = 512; QK^T 2 heads * 4*4 * 2 = 64; AV 2 * 4*4 * 4 = 128; proj 4*8*8 = 256
    assert attention.macs == 512 + 64 + 128 + 256 == 960


# --- MobileViT: a map unfolded into patches, attention across them, folded back -------------------------

def tiny_mobilevit(folder, form):
    """timm's MobileVitBlock transformer on a 1 x 6 x 8 x 8 map in 2 x 2 patches: unfold (Reshape 24x2x4x2,
    Transpose [0, 2, 1, 3], Reshape 1x6x16x4, Transpose [0, 3, 2, 1], Reshape 4x16x6: 4 sequences, one pixel
    of each of the 16 patches), LayerNorm, timm's Attention (2 heads of 3), + its input, and the fold back."""
    g = Graph(form, (1, 6, 8, 8))
    s = "/stages/stages.2/stages.2.1"
    t = s + "/transformer/transformer.0/attn"
    rows, cells = g.ints("rows", [24, 2, 4, 2]), g.ints("cells", [24, 4, 2, 2])
    patches = g.ints("patches", [1, 6, 16, 4])
    x = g.op("Transpose", [g.op("Reshape", ["x", rows], s)], s, perm=[0, 2, 1, 3])
    x = g.op("Transpose", [g.op("Reshape", [x, patches], s)], s, perm=[0, 3, 2, 1])
    seqs = g.op("Reshape", [x, g.ints("merged", [4, 16, 6])], s)
    norm = g.op("LayerNormalization", [seqs, g.weight("stages.2.1.transformer.0.norm1.weight", [6]),
                                       g.weight("stages.2.1.transformer.0.norm1.bias", [6])], t + "/norm1", axis=-1)
    qkv = g.linear(norm, 6, 18, t + "/qkv")
    qkv5 = g.op("Transpose", [g.op("Reshape", [qkv, g.ints("to_heads", [4, 16, 3, 2, 3])], t)], t,
                perm=[2, 0, 3, 1, 4])  # 3 x 4 x 2 x 16 x 3
    if form == "torchscript":
        q, k, v = (g.op("Gather", [qkv5, g.ints(f"index{i}", i)], t, axis=0) for i in range(3))
    else:
        zero = g.ints("zero", [0])
        q, k, v = (g.op("Squeeze", [g.op("Slice", [qkv5, g.ints(f"s{i}", [i]), g.ints(f"e{i}", [i + 1]), zero]),
                                    zero]) for i in range(3))
    scores = g.op("MatMul", [g.op("Mul", [q, g.scalar(0.5)], t), g.op("Transpose", [k], t, perm=[0, 1, 3, 2])], t)
    mixed = g.op("MatMul", [g.op("Softmax", [scores], t, axis=-1), v], t)
    mixed = g.op("Reshape", [g.op("Transpose", [mixed], t, perm=[0, 2, 1, 3]), g.ints("to_rows2", [4, 16, 6])], t)
    added = g.op("Add", [seqs, g.linear(mixed, 6, 6, t + "/proj")], s + "/transformer/transformer.0")
    x = g.op("Reshape", [added, g.ints("unmerged", [1, 4, 16, 6])], s)
    x = g.op("Transpose", [g.op("Reshape", [g.op("Transpose", [x], s, perm=[0, 3, 2, 1]), cells], s)], s,
             perm=[0, 2, 1, 3])
    return g.save(folder, g.op("Reshape", [x, g.ints("to_map", [1, 6, 8, 8])], s))


@pytest.mark.parametrize("form", FORMS)
def test_mobilevit_patches_and_attention_across_them(tmp_path, form):
    report, _ = totals(tiny_mobilevit(tmp_path, form))
    assert [row.type for row in report.rows] == ["layernorm", "attention", "add"]
    assert [row.out_shape for row in report.rows] == [(6, 8, 8)] * 3  # the map, however the graph holds it
    keys, attention = report.spec.layers[1].keys, report.rows[1]
    # 4 sequences (one pixel of each 2x2 patch) of 16 positions: the counts of 4x4 windows
    assert (keys["heads"], keys["window"]) == (2, 4)
    assert attention.params == 6 * 18 + 18 + 6 * 6 + 6 == 168
    # qkv 64 positions * 6*18 = 6,912; QK^T and AV each 4 sequences * 2 heads * 16*16*3 = 6,144; proj 64*6*6
    assert attention.macs == 6912 + 6144 + 6144 + 2304 == 21504
    assert report.totals["params"] == 12 + 168


# --- CoAtNet: attention on a channels-first map, 1x1 conv projections, the output wider ----------------------

def tiny_coatnet(folder, form, records=True):
    """timm's Attention2d(8, 16, dim_head=4) on a 1 x 8 x 4 x 4 map (2 heads, expand_first off): qkv a 1x1 conv
    8 -> 24 viewed as 1 x 2 x 12 x 16 and split in three on axis 2 (TorchScript: Slices; torch.export: a
    Split), the scores plus a relative bias gathered from a 49 x 2 table ((2*4 - 1)^2 offsets) by an index
    TorchScript writes as a Constant node (torch.export: a copy of the table it names itself, with its record
    of what it copied when ``records``, and GatherND), v @ attn^T viewed as the map, proj a 1x1 conv 8 -> 16;
    + a 1x1 conv shortcut 8 -> 16."""
    g = Graph(form, (1, 8, 4, 4))
    s = "/stages/stages.2/blocks/blocks.0/attn"

    def conv(x, name, cin, cout):
        return g.op("Conv", [x, g.weight(f"{name}.weight", [cout, cin, 1, 1]), g.weight(f"{name}.bias", [cout])],
                    "/" + name.replace(".", "/"), kernel_shape=[1, 1])

    heads = g.op("Reshape", [conv("x", "stages.2.blocks.0.attn.qkv", 8, 24), g.ints("to_heads", [1, 2, 12, 16])], s)
    if form == "torchscript":
        axis = g.ints("axis2", [2])
        q, k, v = (g.op("Slice", [heads, g.ints(f"start{i}", [4 * i]), g.ints(f"end{i}", [4 * i + 4]), axis], s)
                   for i in range(3))
    else:
        g.count += 1
        q, k, v = (f"split_{i}" for i in range(3))
        g.nodes.append(helper.make_node("Split", [heads], [q, k, v], name="node_Split_qkv", axis=2, num_outputs=3))
    scores = g.op("Mul", [g.op("MatMul", [g.op("Transpose", [q], s, perm=[0, 1, 3, 2]), k], s), g.scalar(0.5)], s)
    index = (numpy.arange(256) % 49).astype(numpy.int64)
    if form == "torchscript":
        g.weight("stages.2.blocks.0.attn.rel_pos.relative_position_bias_table", [49, 2])
        g.nodes.append(helper.make_node("Constant", [], ["onnx::Gather_389"], name=s + "/Constant_index",
                                        value=numpy_helper.from_array(index)))
        bias = g.op("Gather", ["stages.2.blocks.0.attn.rel_pos.relative_position_bias_table", "onnx::Gather_389"], s,
                    axis=0)
    else:
        g.ints("stages.2.blocks.0.attn.rel_pos.relative_position_index", index.reshape(256, 1))
        index = "stages.2.blocks.0.attn.rel_pos.relative_position_index"
        bias = g.op("GatherND", [g.weight("val_238", [49, 2]), index])
        if records:
            g.folded("val_238", ["stages.2.blocks.0.attn.rel_pos.relative_position_bias_table"])
    bias = g.op("Transpose", [g.op("Reshape", [bias, g.ints("to_bias", [16, 16, 2])], s)], s, perm=[2, 0, 1])
    bias = g.op("Unsqueeze", [bias, g.ints("zero_axis", [0])], s)
    attn = g.op("Softmax", [g.op("Add", [scores, bias], s)], s, axis=-1)
    mixed = g.op("MatMul", [v, g.op("Transpose", [attn], s, perm=[0, 1, 3, 2])], s)  # 1 x 2 x 4 x 16
    proj = conv(g.op("Reshape", [mixed, g.ints("to_map", [1, 8, 4, 4])], s), "stages.2.blocks.0.attn.proj", 8, 16)
    shortcut = conv("x", "stages.2.blocks.0.shortcut.expand", 8, 16)
    return g.save(folder, g.op("Add", [shortcut, proj], "/stages/stages.2/blocks/blocks.0"))


def test_coatnet_attention_on_a_map_widening_its_channels(tmp_path):
    report, by_name = totals(tiny_coatnet(tmp_path, "torchscript"))
    assert [row.type for row in report.rows] == ["conv", "attention", "add"]  # the shortcut, then the attention
    keys, attention = report.spec.layers[1].keys, report.rows[1]
    assert (keys["heads"], keys["out"], keys["position"], keys["window"]) == (2, 16, "relative", 4)  # the whole map
    assert attention.out_shape == (16, 4, 4)
    # qkv 8*24 + 24 = 216; proj 8*16 + 16 = 144; the table (2*4 - 1)^2 * 2 heads = 98
    assert attention.params == 216 + 144 + 98 == 458
    assert attention.buffers == 16 * 16  # the index, a Constant node: PyTorch's relative_position_index
    # qkv 16 positions * 8*24 = 3,072; QK^T and AV each 2 heads * 16*16*4 = 2,048; proj 16*8*16 = 2,048
    assert attention.macs == 3072 + 2048 + 2048 + 2048 == 9216
    assert report.totals["params"] == 458 + 8 * 16 + 16 and report.totals["macs"] == 9216 + 16 * 8 * 16


def test_coatnet_from_torch_export_without_its_records_is_refused_naming_its_derived_table(tmp_path):
    with pytest.raises(SpecError, match=r"\(Add\): a position bias computed from 'val_238', a tensor the exporter "
                                        r"derived from the model's parameters"):
        cnncalc.analyze(tiny_coatnet(tmp_path, "dynamo", records=False))


def test_token_mixing_at_another_input_size_is_refused_in_one_line(tmp_path):
    # the token MLP's weights fix the number of tokens: 4 at 8x8, 16 at --input 16
    with pytest.raises(SpecError, match=r"\(MatMul\): a MatMul mixing 16 tokens by a weight for 4 \(4x6\): the model "
                                        r"was exported for another input size"):
        cnncalc.analyze(tiny_mixer(tmp_path, "dynamo", rows=(1, 8, -1)), input="3x16x16")


# --- LeViT: a Linear whose BatchNorm normalises the tokens' features --------------------------------

def tiny_linear_norm(folder, form, back=None):
    """timm's LinearNorm on the 4 tokens of width 8 a 4x4/4 conv makes of a 3 x 8 x 8 image: Linear(8, 6)
    without bias, the tokens folded to 4 x 6 (Flatten at axis 2, or a Reshape), BatchNorm1d(6), a Reshape
    back (to the Shape of the Linear's output, or a constant 1 x 4 x 6; ``back`` replaces it)."""
    g = Graph(form, (1, 3, 8, 8))
    conv = g.op("Conv", ["x", g.weight("stem.weight", [8, 3, 4, 4])], "/stem", kernel_shape=[4, 4], strides=[4, 4])
    tokens = g.op("Transpose", [g.op("Reshape", [conv, g.ints("to_rows", [1, 8, 4])], "")], "", perm=[0, 2, 1])
    s = "/mlp/ln1"
    y = g.linear(tokens, 8, 6, s + "/linear", bias=False)
    if form == "torchscript":
        folded = g.op("Flatten", [y], s, axis=2)
    else:
        folded = g.op("Reshape", [y, g.ints("to_folded", [4, 6])], allowzero=1)
    norm = g.op("BatchNormalization", [folded] + [g.weight(f"mlp.ln1.bn.{k}", [6], 1.0)
                                                  for k in ("weight", "bias", "running_mean", "running_var")], s + "/bn")
    target = back or (g.op("Shape", [y], s) if form == "torchscript" else g.ints("to_tokens", [1, 4, 6]))
    return g.save(folder, g.op("Reshape", [norm, target], s))


@pytest.mark.parametrize("form", FORMS)
def test_levit_linear_norm_is_a_bn_over_the_token_features(tmp_path, form):
    report, by_name = totals(tiny_linear_norm(tmp_path, form))
    assert [row.type for row in report.rows] == ["conv", "tokens", "linear", "bn"]
    norm = report.rows[3]
    assert norm.out_shape == (4, 6)
    # BatchNorm1d(6): scale and shift 2*6 = 12 params, running mean and variance 2*6 = 12 buffers, no MACs
    assert (norm.params, norm.buffers, norm.macs) == (12, 12, 0)
    # conv 8*3*16 = 384 params, 4 positions * 48*8 = 1,536 MACs; linear 8*6 = 48 params, 4 tokens * 48 = 192
    assert report.totals["params"] == 384 + 48 + 12 == 444
    assert report.totals["buffers"] == 12
    assert report.totals["macs"] == 1536 + 192 == 1728


def test_tokens_folded_into_a_batch_norm_and_not_restored_are_refused(tmp_path):
    # the BatchNorm's 4 x 6 result reshaped to 2 x 12: not the tokens again, so not one bn on them
    path = tiny_linear_norm(tmp_path, "dynamo", back="to_other")
    model = onnx.load(path)
    model.graph.initializer.append(numpy_helper.from_array(numpy.array([2, 12], dtype=numpy.int64), "to_other"))
    onnx.save_model(model, path)
    with pytest.raises(SpecError, match="Reshape of 1x4x6 to 4x6"):
        cnncalc.analyze(path)


def linear_norm(g, x, cin, cout, scope, tokens=4):
    """timm's LinearNorm as each exporter writes it: Linear without bias, the tokens folded to N x cout,
    BatchNorm1d(cout), a Reshape back (TorchScript: to the Shape of the Linear's output; torch.export: to a
    constant 1 x N x cout)."""
    y = g.linear(x, cin, cout, scope + "/linear", bias=False)
    name = scope.strip("/").replace("/", ".")
    if g.form == "torchscript":
        folded = g.op("Flatten", [y], scope, axis=2)
    else:
        folded = g.op("Reshape", [y, g.ints(f"{name}.fold", [tokens, cout])], allowzero=1)
    norm = g.op("BatchNormalization", [folded] + [g.weight(f"{name}.bn.{k}", [cout], 1.0)
                                                  for k in ("weight", "bias", "running_mean", "running_var")], scope)
    target = g.op("Shape", [y], scope) if g.form == "torchscript" else g.ints(f"{name}.back", [1, tokens, cout])
    return g.op("Reshape", [norm, target], scope)


def tiny_levit_attention(folder, form):
    """timm's LeViT Attention on the 4 tokens of width 8 of a 1 x 8 x 2 x 2 map: 2 heads, q and k 2 wide a
    head, v 4 (attn_ratio 2): qkv LinearNorm(8, 2*2*2 + 8 = 16), Reshape 1 x 4 x 2 x 8, Split [2, 2, 4] a head,
    the scores plus biases gathered from a learned 2 x 4 table by a 4 x 4 index (torch.export: one stored
    2 x 4 x 4 constant), Hardswish, proj LinearNorm(8, 8), + the tokens."""
    g = Graph(form, (1, 8, 2, 2))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("to_rows", [1, 8, 4])], "")], "", perm=[0, 2, 1])
    s = "/stages/stages.0/blocks/blocks.0/attn"
    qkv = linear_norm(g, tokens, 8, 16, s + "/qkv")
    g.count += 1
    q, k, v = (f"split_{i}" for i in range(3))
    g.nodes.append(helper.make_node("Split", [g.op("Reshape", [qkv, g.ints("to_heads", [1, 4, 2, 8])], s),
                                             g.ints("sizes", [2, 2, 4])], [q, k, v], name=s + "/Split", axis=3))
    q, v = (g.op("Transpose", [t], s, perm=[0, 2, 1, 3]) for t in (q, v))
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], s, perm=[0, 2, 3, 1])], s), g.scalar(0.7)], s)
    if form == "torchscript":
        g.weight("stages.0.blocks.0.attn.attention_biases", [2, 4])
        index = numpy.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]], dtype=numpy.int64)
        g.nodes.append(helper.make_node("Constant", [], ["onnx::Gather_455"], name=s + "/Constant_index",
                                        value=numpy_helper.from_array(index)))  # as the exporter writes it
        bias = g.op("Gather", ["stages.0.blocks.0.attn.attention_biases", "onnx::Gather_455"], s, axis=1)
    else:
        bias = g.weight("stages.0.blocks.0.attn.lifted_tensor_0", [2, 4, 4])
    attn = g.op("Softmax", [g.op("Add", [scores, bias], s)], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])
    act = g.op("HardSwish", [g.op("Reshape", [mixed, g.ints("to_rows2", [1, 4, 8])], s)], s + "/proj/act")
    proj = linear_norm(g, act, 8, 8, s + "/proj/ln")
    return g.save(folder, g.op("Add", [tokens, proj], "/stages/stages.0/blocks/blocks.0"))


@pytest.mark.parametrize("form", FORMS)
def test_levit_attention_with_batch_normed_projections(tmp_path, form):
    report, _ = totals(tiny_levit_attention(tmp_path, form))
    assert [row.type for row in report.rows] == ["tokens", "attention", "add"]
    keys, attention = report.spec.layers[1].keys, report.rows[1]
    assert (keys["heads"], keys["key_dim"], keys["norm"], keys["proj_act"]) == (2, 2, "bn", "hardswish")
    assert keys["position"] == ("offsets" if form == "torchscript" else "folded")
    assert keys["qkv_bias"] is False and keys["proj_bias"] is False
    # qkv 8*16 + BN 2*16 = 160; proj 8*8 + BN 2*8 = 80; the biases: 2 heads * 4 offsets = 8 (torch.export 2*4*4)
    assert attention.params == 160 + 80 + (8 if form == "torchscript" else 32)
    # the BatchNorms' running statistics 2*16 + 2*8 = 48, and the offset index of each pair 4*4
    assert attention.buffers == 48 + (16 if form == "torchscript" else 0)
    # qkv 4 tokens * 8*16 = 512; QK^T 2 heads * 4*4 * 2 = 64; AV 2 * 4*4 * 4 = 128; proj 4*8*8 = 256
    assert attention.macs == 512 + 64 + 128 + 256 == 960


def test_levit_attention_whose_output_projection_has_no_batch_norm_is_refused(tmp_path):
    path = tiny_levit_attention(tmp_path, "torchscript")
    model = onnx.load(path)
    # the output projection's BatchNorm taken out: its Flatten read straight by the Reshape back
    nodes = list(model.graph.node)
    norm = [n for n in nodes if n.op_type == "BatchNormalization"][-1]
    back = next(n for n in nodes if norm.output[0] in n.input)
    back.input[0] = norm.input[0]
    model.graph.node.remove(norm)
    onnx.save_model(model, path)
    with pytest.raises(SpecError, match="batch-normalised over \\[16\\] features"):
        cnncalc.analyze(path)


def tiny_levit_subsample(folder, form, queries_used=True):
    """timm's LeViT AttentionSubsample on the 16 tokens (a 4 x 4 grid) of width 8 of a 1 x 8 x 4 x 4 map: 2
    heads, q and k 2 wide a head, v 4 (attn_ratio 2); kv LinearNorm(8, 2*(2 + 4) = 12) on the 16 tokens, split
    [2, 4] a head; q LinearNorm(8, 2*2 = 4) on the 4 tokens of every 2nd row and column (Reshape 1 x 4 x 4 x 8,
    a Slice with step 2 on each axis, Reshape 1 x 4 x 8); biases from a learned 2 x 16 table by a 4 x 16 index
    (torch.export: one stored 2 x 4 x 16 constant); Hardswish, proj LinearNorm(8, 12); then a Linear(12, 6)."""
    g = Graph(form, (1, 8, 4, 4))
    tokens = g.op("Transpose", [g.op("Reshape", ["x", g.ints("to_rows", [1, 8, 16])], "")], "", perm=[0, 2, 1])
    s = "/stages/stages.1/downsample/attn_downsample"
    kv = linear_norm(g, tokens, 8, 12, s + "/kv", tokens=16)
    g.count += 1
    g.nodes.append(helper.make_node("Split", [g.op("Reshape", [kv, g.ints("to_heads", [1, 16, 2, 6])], s),
                                             g.ints("sizes", [2, 4])], ["k", "v"], name=s + "/Split", axis=3))
    k, v = g.op("Transpose", ["k"], s, perm=[0, 2, 3, 1]), g.op("Transpose", ["v"], s, perm=[0, 2, 1, 3])
    grid = g.op("Reshape", [tokens, g.ints("to_grid", [1, 4, 4, 8])], s + "/q/down")
    end = 9223372036854775807 if form == "dynamo" else 4
    for axis in (1, 2):
        grid = g.op("Slice", [grid, g.ints("zero", [0]), g.ints("end", [end]), g.ints(f"axis{axis}", [axis]),
                              g.ints("two", [2])], s + "/q/down")
    down = g.op("Reshape", [grid, g.ints("to_queries", [1, 4, 8])], s + "/q/down")
    if not queries_used:  # a Linear of them, and no attention
        return g.save(folder, g.linear(down, 8, 4, s + "/q/ln/linear", bias=False))
    q = linear_norm(g, down, 8, 4, s + "/q/ln")
    q = g.op("Transpose", [g.op("Reshape", [q, g.ints("to_q_heads", [1, 4, 2, 2])], s)], s, perm=[0, 2, 1, 3])
    scores = g.op("Mul", [g.op("MatMul", [q, k], s), g.scalar(0.7)], s)  # 1 x 2 x 4 x 16
    if form == "torchscript":
        g.weight("stages.1.downsample.attn_downsample.attention_biases", [2, 16])
        index = numpy.arange(64, dtype=numpy.int64).reshape(4, 16) % 16
        g.nodes.append(helper.make_node("Constant", [], ["onnx::Gather_761"], name=s + "/Constant_index",
                                        value=numpy_helper.from_array(index)))
        bias = g.op("Gather", ["stages.1.downsample.attn_downsample.attention_biases", "onnx::Gather_761"], s, axis=1)
    else:
        bias = g.weight("stages.1.downsample.attn_downsample.lifted_tensor_4", [2, 4, 16])
    attn = g.op("Softmax", [g.op("Add", [scores, bias], s)], s, axis=-1)
    mixed = g.op("Transpose", [g.op("MatMul", [attn, v], s)], s, perm=[0, 2, 1, 3])  # 1 x 4 x 2 x 4
    act = g.op("HardSwish", [g.op("Reshape", [mixed, g.ints("to_rows2", [1, 4, 8])], s)], s + "/proj/act")
    proj = linear_norm(g, act, 8, 12, s + "/proj/ln")
    return g.save(folder, g.linear(proj, 12, 6, "/stages/stages.1/downsample/mlp/fc", bias=False))


@pytest.mark.parametrize("form", FORMS)
def test_levit_attention_subsample_queries_from_every_other_row_and_column(tmp_path, form):
    report, _ = totals(tiny_levit_subsample(tmp_path, form))
    assert [row.type for row in report.rows] == ["tokens", "attention", "linear"]
    keys, attention = report.spec.layers[1].keys, report.rows[1]
    assert (keys["heads"], keys["key_dim"], keys["stride"], keys["out"], keys["norm"]) == (2, 2, 2, 12, "bn")
    assert keys["position"] == ("offsets" if form == "torchscript" else "folded")
    assert attention.out_shape == (4, 12)  # the 2 x 2 query tokens, 12 wide
    # kv 8*12 + BN 2*12 = 120; q 8*4 + BN 2*4 = 40; proj 8*12 + BN 2*12 = 120; the biases 2 heads * 16 offsets
    # (torch.export: 2 * 4 queries * 16 keys = 128)
    assert attention.params == 120 + 40 + 120 + (32 if form == "torchscript" else 128)
    # BatchNorms' running statistics 2*(12 + 4) + 2*12 = 56; the offset index of each (query, key) pair 4*16
    assert attention.buffers == 56 + (64 if form == "torchscript" else 0)
    # kv 16 tokens * 8*12 = 1,536; q 4 tokens * 8*4 = 128; QK^T 2 heads * 4*16 * 2 = 256; AV 2 * 4*16 * 4 = 512;
    # proj 4 * 8*12 = 384
    assert attention.macs == 1536 + 128 + 256 + 512 + 384 == 2816
    assert report.rows[2].macs == 4 * 12 * 6  # the Linear after it reads the 4 tokens of width 12


def test_subsampled_tokens_that_are_no_attention_queries_are_refused(tmp_path):
    with pytest.raises(SpecError, match="not the queries of an attention"):
        cnncalc.analyze(tiny_levit_subsample(tmp_path, "torchscript", queries_used=False))
