"""The constants of an ONNX graph (cnncalc.onnx.pending.Constants): a Constant node's tensor is read once for each
distinct value, and a folded node is computed once for each distinct operator, attributes and input Consts."""

import pytest

helper = pytest.importorskip("onnx.helper")
from onnx import TensorProto  # noqa: E402

from cnncalc.onnx.pending import Constants, _after_constant  # noqa: E402


class _Reader:
    opset = 17


def ints(name, values, output, node_name=""):
    tensor = helper.make_tensor(name, TensorProto.INT64, [len(values)], values)
    return helper.make_node("Constant", [], [output], name=node_name, value=tensor)


def test_a_constant_node_is_read_once_for_each_distinct_value_whatever_its_names():
    consts = Constants(_Reader())
    long_name = "/blocks.0/" + "x" * 200 + "/Constant"  # a name of more than 127 bytes: read the long way
    nodes = [ints("v", [1, 2, 3], "a", "/Constant"), ints("v", [1, 2, 3], "b", "/blocks.1/Constant_7"),
             ints("v", [1, 2, 3], "c", long_name), ints("v", [1, 2, 4], "d", "/Constant_8"),
             ints("v", [1, 2, 3], "e" * 300),  # an output name of 300 bytes
             helper.make_node("Constant", [], ["f"], value_ints=[1, 2, 3])]
    for node in nodes:
        consts.constant(node, node.output[:])
    assert consts["a"] is consts["b"] is consts["c"] is consts["e" * 300]  # one tensor, one Const
    assert consts["a"].array().tolist() == [1, 2, 3] and consts["d"].array().tolist() == [1, 2, 4]
    assert consts["f"].array().tolist() == [1, 2, 3] and consts["f"] is not consts["a"]
    assert _after_constant(nodes[2].SerializeToString()) is None  # its name's size takes two bytes
    assert _after_constant(nodes[0].SerializeToString()) == _after_constant(nodes[1].SerializeToString())


def test_a_name_holding_the_operator_bytes_does_not_cut_the_node_there():
    tricky = '/a"\x08Constant' + "\x12\x01z"  # the bytes protobuf writes for op_type "Constant", inside a name
    first, second = ints("v", [5], "a", tricky), ints("v", [6], "b", tricky + "y")
    consts = Constants(_Reader())
    consts.constant(first, ["a"])
    consts.constant(second, ["b"])
    assert consts["a"].array().tolist() == [5] and consts["b"].array().tolist() == [6]


def test_a_folded_node_is_computed_once_for_the_same_attributes_and_input_consts():
    consts = Constants(_Reader())
    for node in (ints("v", [4, 8], "x"), ints("v", [0], "zero"), ints("v", [1], "one")):
        consts.constant(node, node.output[:])
    for name, index, axis in (("g0", "zero", 0), ("g1", "zero", 0), ("g2", "one", 0), ("g3", "zero", -1)):
        node = helper.make_node("Gather", ["x", index], [name], axis=axis)
        consts.fold(node, node.input[:], "Gather", node.output[:])
    assert consts["g0"] is consts["g1"] and consts["g0"].array().tolist() == [4]
    assert consts["g2"].array().tolist() == [8]
    assert consts["g3"] is not consts["g0"] and consts["g3"].array().tolist() == [4]  # another attribute: computed
    node = helper.make_node("Unsqueeze", ["g0", "zero"], ["u0"])
    consts.fold(node, node.input[:], "Unsqueeze", node.output[:])
    again = helper.make_node("Unsqueeze", ["g3", "zero"], ["u1"])  # the same values from another Const
    consts.fold(again, again.input[:], "Unsqueeze", again.output[:])
    assert consts["u0"].array().tolist() == consts["u1"].array().tolist() == [[4]] and consts["u0"] is consts["u1"]
