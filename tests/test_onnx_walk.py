"""The walk over an ONNX graph: which nodes it visits, and which it leaves pending until a layer asks.

A tracer's graph is mostly constants and arithmetic on a computed tensor's shape (TorchScript's flatten:
Shape -> Gather -> Unsqueeze -> Concat -> Reshape). Only the nodes reading the network's input, or what such a
node computes, are visited; the others are evaluated when asked for, and those computed from a Shape once the
walk has passed that Shape. These tests check the numbers and the errors stay what a walk of every node gives.
"""

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import cnncalc  # noqa: E402
from cli_runner import invoke  # noqa: E402
from helpers import assert_one_line_error  # noqa: E402
from test_onnx import model, node, rows  # noqa: E402


def ints(name, values):
    return helper.make_node("Constant", [], [name], name=f"Constant_{name}",
                            value=helper.make_tensor(name, TensorProto.INT64, [len(values)], values))


def flattened(source):
    """TorchScript's x.view(x.size(0), -1) of ``source``, then fc: the target shape computed from its Shape."""
    return [
        node("Shape", [source], ["s"], name="/Shape"),
        ints("zero", [0]),
        node("Gather", ["s", "zero"], ["n"], name="/Gather", axis=0),
        ints("minus_one", [-1]),
        node("Concat", ["n", "minus_one"], ["target"], name="/Concat", axis=0),
        node("Reshape", [source, "target"], ["f"], name="/Reshape"),
        node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="/fc/Gemm", transB=1),
    ]


def traced_flatten():
    """A conv, then :func:`flattened`."""
    return [node("Conv", ["x", "w"], ["c"], name="/conv/Conv", kernel_shape=[3, 3])] + flattened("c")


def test_a_target_computed_from_a_shape_is_evaluated_when_the_reshape_asks(tmp_path):
    # 3x8x8 -> conv 3x3, 4 filters -> 4x6x6 = 144 -> fc 10
    path = model(tmp_path, traced_flatten(), weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]})
    report, by_name = rows(path)
    assert [r.type for r in report.rows] == ["conv", "flatten", "fc"]
    assert by_name["fc"].params == 144 * 10 + 10 == 1450
    assert by_name["fc"].macs == 144 * 10
    assert report.totals["params"] == 4 * 27 + 1450


def test_a_constant_no_layer_asks_for_is_never_evaluated(tmp_path):
    # an operator cnncalc cannot evaluate, on constants only, that nothing reads: the model still reads
    nodes = traced_flatten() + [ints("a", [1, 2]), node("Hardmax", ["a"], ["unused"], name="/unused/Hardmax")]
    path = model(tmp_path, nodes, weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]})
    report, _ = rows(path)
    assert report.totals["params"] == 4 * 27 + 1450


def test_a_constant_reading_a_name_nothing_gives_is_refused_at_its_node(tmp_path):
    nodes = traced_flatten() + [node("Unsqueeze", ["nowhere", "zero"], ["u"], name="/stray/Unsqueeze")]
    path = model(tmp_path, nodes, weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]})
    result = invoke("report", path)
    assert_one_line_error(result, "node '/stray/Unsqueeze'", "input 'nowhere' is not computed by any earlier node")


def test_a_constant_reading_a_later_nodes_output_is_refused_when_asked_for(tmp_path):
    # graph order is the order of evaluation: a node may read only what the nodes before it give
    nodes = traced_flatten()
    nodes.insert(2, node("Unsqueeze", ["later", "axes"], ["u"], name="/early/Unsqueeze"))
    nodes.insert(3, node("Add", ["c", "u"], ["c_plus"], name="/add/Add"))  # asks for u
    nodes.append(ints("later", [3]))
    path = model(tmp_path, nodes, weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]},
                 ints={"axes": [0]})
    result = invoke("report", path)
    assert_one_line_error(result, "node '/early/Unsqueeze'", "input 'later' is not computed by any earlier node")


def test_a_constant_nothing_asks_for_is_not_evaluated_however_placed(tmp_path):
    # as an operator cnncalc cannot evaluate there: a node no layer reads is never evaluated
    nodes = traced_flatten()
    nodes.insert(2, node("Unsqueeze", ["later", "axes"], ["u"], name="/early/Unsqueeze"))
    nodes.append(ints("later", [3]))
    path = model(tmp_path, nodes, weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]},
                 ints={"axes": [0]})
    report, _ = rows(path)
    assert report.totals["params"] == 4 * 27 + 1450


def test_a_computed_tensor_read_before_its_node_is_refused(tmp_path):
    nodes = traced_flatten()
    nodes[0], nodes[1] = nodes[1], nodes[0]  # the Shape of the conv's output before the conv
    path = model(tmp_path, nodes, weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]})
    result = invoke("report", path)
    assert_one_line_error(result, "node '/Shape'", "input 'c' is not computed by any earlier node")


def test_a_shape_derived_constant_read_ahead_of_its_shape_is_not_a_constant_yet(tmp_path):
    # two convs; the second conv's flatten target is computed from its own Shape: the walk reaches the first
    # conv's nodes before that Shape, and the numbers are those of each tensor at its own node
    nodes = [
        node("Conv", ["x", "w"], ["c"], name="/conv/Conv", kernel_shape=[3, 3]),        # 4 x 6 x 6
        node("Conv", ["c", "w2"], ["d"], name="/conv2/Conv", kernel_shape=[3, 3]),      # 2 x 4 x 4
    ] + flattened("d")
    path = model(tmp_path, nodes, weights={"w": [4, 3, 3, 3], "w2": [2, 4, 3, 3], "fc_w": [10, 32], "fc_b": [10]})
    report, by_name = rows(path)
    assert by_name["conv2"].out_shape == (2, 4, 4)
    assert by_name["fc"].params == 32 * 10 + 10
    assert report.totals["params"] == 4 * 27 + 2 * 36 + 330


def test_a_constant_computed_from_a_shape_is_one_once_the_walk_passed_that_shape(tmp_path, monkeypatch):
    # what a pattern looking ahead sees: the Gather of the conv's Shape is no constant while the walk is at the
    # conv (the Shape not visited yet), and is one at the Reshape; the Constant is one from the start
    from cnncalc.onnx.graph import GraphReader

    seen = {}
    visit = GraphReader.visit

    def spying(self, node, *args, **kwargs):
        seen[node.name] = ("n" in self.consts, "zero" in self.consts)
        return visit(self, node, *args, **kwargs)

    monkeypatch.setattr(GraphReader, "visit", spying)
    path = model(tmp_path, traced_flatten(), weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]})
    rows(path)
    assert seen["/conv/Conv"] == (False, True)
    assert seen["/Reshape"] == (True, True)
    assert "/Gather" not in seen and "/Concat" not in seen  # constants: evaluated when the Reshape asked


def test_analyze_reads_the_same_file_twice_alike(tmp_path):
    path = model(tmp_path, traced_flatten(), weights={"w": [4, 3, 3, 3], "fc_w": [10, 144], "fc_b": [10]})
    first, second = cnncalc.analyze(path), cnncalc.analyze(path)
    assert [(r.name, r.out_shape, r.params, r.macs) for r in first.rows] == \
        [(r.name, r.out_shape, r.params, r.macs) for r in second.rows]
