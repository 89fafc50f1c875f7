"""Read an ONNX model as a spec: the same layer list a YAML spec gives, so every rule and format applies.

Only the graph is read: initializers are known by their dims, never by their data. The file is mapped
and the large data of its initializers skipped before protobuf parses the rest, so a model whose
external weights file is missing still reads, and a 500 MB model reads in the time of its graph. The
few small tensors a graph computes shapes with (Reshape targets, Split sizes, Resize scales, Clip
bounds) are read when they are stored inside the file.

Nodes become layers (see README, "ONNX models"):

* Conv -> ``conv`` (``dwconv`` when depthwise), ConvTranspose -> ``convtranspose``, Gemm and MatMul
  with a constant operand -> ``fc`` (a following Add of a constant vector is its bias),
  BatchNormalization -> ``bn``; their params are the elements of the initializers they use as weights
  (W and B; scale and B for BN, whose mean and var are buffers), so an exported model reports what
  the framework counted.
* Relu, Clip(0, 6), Clip(0, inf), LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu, Selu,
  Softplus, Gelu (and its Erf and tanh forms), x*Sigmoid(x), x*HardSigmoid(x) -> an activation, folded
  into the layer before as ``act:`` when it is that layer's only reader and the layer takes one.
* pools, global pools (and ReduceMean/ReduceMax over H and W), Flatten, Reshape/Squeeze that flatten,
  Concat and Split/Slice on channels (``concat``, ``chunk``, ``slice``), Add, Mul (``add``, ``mul``; of a learned
  vector of one value per channel ``shift``, ``scale``: :mod:`cnncalc.onnx.affine`),
  Reshape-Transpose-Reshape channel shuffles (``shuffle``), Resize/Upsample by whole scales
  (``upsample``; other scales, sizes and modes where the upsample rule takes them), Softmax, LRN; a
  zero Pad before a Conv becomes part of its padding.
* Identity, Cast, Dropout at inference, Quantize/DequantizeLinear pass their input on; Constant and the
  Shape/Gather/Concat/... arithmetic a tracer records for shapes are evaluated on the spot.

This module reads the file; the walk over the graph is :mod:`cnncalc.onnx.graph`, each operator's
mapping is in the table of :mod:`cnncalc.onnx.ops`, and the large initializers are skipped by
:mod:`cnncalc.onnx.wire`. onnx (its generated protobuf module, not the whole package) is loaded only here,
only when an .onnx file is read; numpy is not imported at all (the shape arithmetic is evaluated by
:mod:`cnncalc.onnx.small`).
"""

import os
import re

from ..conventions import FOLDED_BN
from ..errors import SpecError, note
from ..spec.language import MAX_LAYERS
from ..spec.loader import MAX_FILE_BYTES
from .graph import GraphReader
from .wire import TooLarge, without_weights

# Nodes in a model's graph: three per layer the model may have (a tracer's shape arithmetic, constants).
MAX_NODES = 3 * MAX_LAYERS


def install_message():
    """What a missing onnx package says: the install command that works for this copy (cnncalc.install)."""
    from ..install import install_hint

    return f"reading .onnx files needs the onnx package: {install_hint('onnx')}"


def load(path, input=None, file=None):
    """The Spec of the ONNX model at ``path``.

    ``input``: None (the model's own input size), or a function that takes the model's input as
    (C, H, W) -- None for a dynamic size -- and returns the (C, H, W) to read the model at.
    ``file`` is how the file is named in messages (default: ``path``).
    """
    import gc

    # the reader makes some 100,000 small lists, tuples and Consts on a large graph, and none of them is garbage
    # until it returns: the collector's passes over them (and over every object the process holds) are skipped
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load(path, input, file or str(path))
    finally:
        if collecting:
            gc.enable()


def _load(path, input, file):
    model = read_model(path, file)
    walk = None
    try:
        walk = GraphReader(model, file, input, path=str(path))
        spec = walk.spec()
        for text in _export_notes(walk, spec):
            note(f"{file}: {text}")
        return spec
    except (IndexError, KeyError, ValueError, TypeError, AttributeError, ArithmeticError) as err:
        # protobuf parsed it, but it breaks ONNX's own rules (a name that is not UTF-8 text, a missing field)
        raise SpecError(f"not a well-formed ONNX model ({type(err).__name__}: {str(err)[:80]})", file=file) from None
    finally:
        if walk is not None:  # its 100,000 objects freed now, not left in cycles for the collector to walk
            walk.release()


def _export_notes(walk, spec):
    """A line for each way the exporter left the counts otherwise than PyTorch's (a folded BN, folded or
    derived position biases and weights, zero biases removed)."""
    from .derived import notes as derived_notes

    texts = []
    folded_convs = looks_bn_folded(walk) if FOLDED_BN not in (spec.source or "") else 0
    if folded_convs and "BatchNormalization" not in walk.op_types:
        texts.append("no BatchNormalization node, and its convs have weights and biases named by the exporter "
                     "(onnx::Conv_...): likely exported with batch norm folded into the convs "
                     "(do_constant_folding=True or dynamo=True), so params count conv biases instead of BN; "
                     "export with do_constant_folding=False to keep BN")
    elif folded_convs:  # some BatchNormalizations kept (after a Linear: LeViT's), those after convs folded
        texts.append(f"{folded_convs} conv{'s' if folded_convs > 1 else ''} with weights and biases named by the "
                     f"exporter (onnx::Conv_...) and no BatchNormalization after them, where the model has "
                     f"BatchNormalization nodes elsewhere: likely batch norm folded into those convs "
                     f"(do_constant_folding=True), so params count their biases instead of BN; export with "
                     f"do_constant_folding=False to keep BN")
    folded = [layer for layer in spec.layers if layer.keys.get("position") == "folded"]
    if folded:
        # torch.export does it, and so does the TorchScript exporter's constant folding (its default)
        texts.append(f"the exporter folded the position bias tables of {len(folded)} attention layer"
                     f"{'s' if len(folded) > 1 else ''} into constants of heads x n x n: params count those "
                     f"constants (position: folded), PyTorch the tables they are gathered from, and their index "
                     f"buffers; MACs are the same (export with dynamo=False, do_constant_folding=False for "
                     f"PyTorch's params)")
    texts += derived_notes(walk, spec)  # what torch.export derived that counts otherwise than in PyTorch
    gathered = [layer for layer in spec.layers if layer.keys.get("gathered")]
    if gathered:
        texts.append(f"torch.export stored the relative position tables of {len(gathered)} attention layer"
                     f"{'s' if len(gathered) > 1 else ''} as the rows it gathers from them (q x k x d for a table "
                     f"of (2*max(q, k)-1) x d: gathered): params count those rows, PyTorch the tables; MACs are "
                     f"the same (export with dynamo=False for PyTorch's params)")
    removed = removed_biases(walk.graph, walk.op_types, walk.consts, walk.nodes)
    if removed[0]:
        texts.append(f"torch.export's optimizer removed the biases of {removed[0]} layer"
                     f"{'s' if removed[0] > 1 else ''} because they were all zeros ({removed[1]:,} params, first "
                     f"at node '{removed[2][:60]}'): params count without them, where PyTorch counts them (a "
                     f"trained model's biases are kept)")
    return texts


def looks_bn_folded(walk):
    """How many convs of the graph ``walk`` read look as if a BatchNormalization was folded into them: a conv with
    a bias whose weight is an initializer the exporter named (``onnx::Conv_12``, where a module's own parameter
    keeps its name, ``layer1.0.conv1.weight``), and no BatchNormalization reading its output. VGG (no BN, named
    weights) has none."""
    ops, inputs_of = walk.op_types, walk.inputs_of  # as GraphReader.prepare read them
    normalized = {inputs[0] for op, inputs in zip(ops, inputs_of) if op == "BatchNormalization" and inputs} \
        if "BatchNormalization" in ops else ()
    return sum(1 for op, inputs, outputs in zip(ops, inputs_of, walk.outputs_of)
               if op == "Conv" and len(inputs) > 2 and inputs[2] and inputs[1] in walk.initializers
               and inputs[1].startswith("onnx::") and outputs[0] not in normalized)


# aten.conv2d(x, %p_weight, %p_bias) or (x, %view_2, %p_bias): a weight computed from the module's (NF-ResNet's)
_BIAS_ARGUMENT = re.compile(r"args = \(%?[\w.]+, %\w+, %p_\w+")


def removed_biases(graph, ops=None, consts=None, nodes=None):
    """(layers, params, first node) of the all-zero biases torch.export's optimizer removed from Conv and
    Gemm nodes (it says so in each node's metadata; a bias it removed after folding BN into the conv is
    part of the folded model, not counted here). ``ops``, ``nodes``: each node's operator and the nodes as a
    list, when already read; ``consts``: the walk's constants, whose dims size a weight the graph computes
    (else its value_info)."""
    ops = [node.op_type for node in graph.node] if ops is None else ops
    if "Conv" not in ops and "Gemm" not in ops:
        return 0, 0, ""
    dims = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    count = params = 0
    first = ""
    computed = {}  # the dims of the tensors the graph computes, read once when a weight is one
    for node, op in zip(graph.node if nodes is None else nodes, ops):
        if op not in ("Conv", "Gemm") or len(node.input) < 2:
            continue
        meta = {entry.key: entry.value for entry in node.metadata_props}
        if meta.get("pkg.onnxscript.rewriter.rule_name") not in ("RemoveOptionalBiasFromConv",
                                                                  "RemoveOptionalBiasFromGemm"):
            continue
        # the module's own bias (aten.linear(x, %p_head_weight, %p_head_bias)), not the zeros the exporter
        # wrote for a conv without one (aten.conv2d(x, %p_weight))
        if not _BIAS_ARGUMENT.search(meta.get("pkg.torch.onnx.fx_node", "")[:2000]):
            continue
        weight = dims.get(node.input[1]) or (consts[node.input[1]].dims if consts and node.input[1] in consts
                                              else None) or computed.setdefault(0, _computed_dims(graph)).get(
            node.input[1], ())
        transposed = op == "Gemm" and not any(a.name == "transB" and a.i for a in node.attribute)
        if len(weight) >= 2:
            count, params, first = count + 1, params + weight[1 if transposed else 0], first or node.name
    return count, params, first


def _computed_dims(graph):
    """The dims torch.export records for the tensors its graph computes (value_info): a computed weight's."""
    return {info.name: tuple(d.dim_value for d in info.type.tensor_type.shape.dim) for info in graph.value_info}


def read_model(path, file=None):
    """The ModelProto at ``path``, weights left where they are; SpecError when it is not a model."""
    file = file or str(path)
    model_class = _model_class(file)
    if os.path.isdir(path):
        raise SpecError("is a directory, not an ONNX model", file=file)
    try:
        data = _read_without_weights(path, file)
    except FileNotFoundError:
        raise SpecError("no such file", file=file) from None
    except OSError as err:
        raise SpecError(f"cannot read file ({err.strerror or err})", file=file) from None
    if data is None or len(data) > MAX_FILE_BYTES:  # parsed, a graph takes some 20 times its size in memory
        raise SpecError(f"the model without its weights is more than {MAX_FILE_BYTES:,} bytes (the limit)", file=file)
    try:
        # what onnx.load(path, load_external_data=False) does, without importing all of onnx,
        # and without the weights' bytes
        model = model_class.FromString(data)
    except Exception as err:  # protobuf's DecodeError and friends: the bytes are not a ModelProto
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise SpecError(f"not an ONNX model (it does not parse as one: {reason})", file=file) from None
    del data
    if not model.HasField("graph") or not model.graph.node:
        raise SpecError("not an ONNX model (it has no graph nodes)", file=file)
    if len(model.graph.node) > MAX_NODES:  # counted before any is read: 1,000,000 Constant nodes took 9 s
        raise SpecError(f"the model has more than {MAX_NODES:,} nodes (the limit)", file=file)
    return model


def _read_without_weights(path, file):
    """The file's bytes with the large data of the graph's initializers left out.

    The file is mapped, not read: only the pages holding the graph and the initializers' headers are
    touched, so a model's size in weights costs nothing. What the wire reader cannot walk is handed to protobuf
    whole, which then says what is wrong.
    """
    import mmap

    from ..spec.loader import open_regular

    with open_regular(path) as handle:  # /dev/zero named x.onnx is refused, a pipe read to the limit
        size = os.fstat(handle.fileno()).st_size
        if size < 1 << 20:  # a small file, or a pipe (size 0): read, at most to just past the limit
            return handle.read(MAX_FILE_BYTES + 1)
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            try:
                return without_weights(view, MAX_FILE_BYTES, MAX_NODES)
            except TooLarge as err:
                if err.what == "nodes":
                    raise SpecError(f"the model has more than {MAX_NODES:,} nodes (the limit)", file=file) from None
                return None
            except ValueError:
                return view[:MAX_FILE_BYTES + 1]  # protobuf says what is wrong, or it is over the limit


_GENERATED = []  # onnx's generated protobuf module, once loaded on its own


def _model_class(file):
    """onnx's ModelProto class. ``import onnx`` costs a second or more (it loads numpy, ml_dtypes and
    its checker); the generated protobuf module it is built on loads in a few ms, so when onnx is not
    imported yet that module is loaded on its own, under a private name (protobuf gives the same
    message classes to onnx if it is imported later)."""
    import importlib.util
    import sys

    onnx = sys.modules.get("onnx")
    if onnx is not None and hasattr(onnx, "ModelProto"):
        return onnx.ModelProto
    if _GENERATED:
        return _GENERATED[0].ModelProto
    try:
        found = importlib.util.find_spec("onnx")
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise SpecError(install_message(), file=file)
    folders = found.submodule_search_locations or []
    generated = os.path.join(folders[0], "onnx_ml_pb2.py") if folders else ""
    if os.path.isfile(generated):
        try:
            spec = importlib.util.spec_from_file_location("cnncalc._onnx_ml_pb2", generated)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _GENERATED.append(module)
            return module.ModelProto
        except Exception:  # an onnx whose layout differs: import it the ordinary way
            pass
    try:
        import onnx
    except ImportError:
        raise SpecError(install_message(), file=file) from None
    return onnx.ModelProto
