"""Loops whose work is fixed when the model is exported, and the sequences they build, unrolled as the walk
reaches them.

The TorchScript exporter writes ``torch.tensor_split(x, (1,), dim=2)`` (MViT's Pool: the class token set apart
from the tokens of the grid) as a Loop over the split points, each turn inserting a Slice of ``x`` into a
sequence (SequenceEmpty, SequenceInsert), then the last piece inserted, and each piece taken out by
SequenceAt. The trip count is the number of split points, a constant, and the body reads only constants and
``x``: the body is walked once per turn, its counter a constant, so each Slice is read as any other (inside
an attention region, on tokens...). Its ``_squeeze``, an If on whether an axis is 1, is read the same way: the
condition is a size the walk knows, and the branch taken is walked. A Loop whose trip count or condition, or
an If whose condition, the model computes is refused, as before, as data-dependent.

A sequence is held as the list of what was inserted (a computed tensor's Value, or a Const).
"""

from ..errors import shown
from . import small
from .tensors import Const, attributes

OPERATORS = ("Loop", "If", "SequenceEmpty", "SequenceInsert", "SequenceAt", "SequenceConstruct", "SequenceLength")
MAX_UNROLLED_NODES = 20000  # Loop turns and body nodes walked in all, in a model
MAX_SEQUENCE = 64  # tensors in a sequence (each insert copies it: a chain of inserts costs its length squared)
DATA_DEPENDENT = ("its output's shape depends on the values the model computes (detection: NonZero, TopK, RoiAlign, "
                  "NonMaxSuppression...), so cnncalc cannot size the layers after it")


def visit(reader, node, op, names):
    """Read a Loop or sequence node: sets its outputs (sequences in ``reader.sequences``)."""
    sequences = reader.__dict__.setdefault("sequences", {})
    if op == "SequenceEmpty":
        sequences[node.output[0]] = ()
    elif op == "SequenceConstruct":
        if len(names) > MAX_SEQUENCE:
            raise reader.unsupported(node, f"a sequence of more than {MAX_SEQUENCE} tensors")
        sequences[node.output[0]] = tuple(_entry(reader, node, name) for name in names)
    elif op == "SequenceInsert":
        items = list(_sequence(reader, node, names[0]))
        position = _int(reader, node, names[2], "the SequenceInsert position") if len(names) > 2 and names[2] \
            else len(items)
        if len(items) >= MAX_SEQUENCE:
            raise reader.unsupported(node, f"a sequence of more than {MAX_SEQUENCE} tensors")
        if not -len(items) <= position <= len(items):
            raise reader.fail(node, f"position {position} is outside the sequence of {len(items)}")
        items.insert(position, _entry(reader, node, names[1]))  # a negative one counts from the back, as ONNX's
        sequences[node.output[0]] = tuple(items)
    elif op == "SequenceLength":
        count = len(_sequence(reader, node, names[0]))
        reader.consts[node.output[0]] = Const((), value=small.array([count], dtype="int64").reshape(()))
    elif op == "SequenceAt":
        items = _sequence(reader, node, names[0])
        position = _int(reader, node, names[1], "the SequenceAt position")
        if not -len(items) <= position < len(items):
            raise reader.fail(node, f"position {position} is outside the sequence of {len(items)}")
        _put(reader, node.output[0], items[position])
    elif op == "If":
        _if(reader, node, names)
    else:
        _loop(reader, node, names)


def _if(reader, node, names):
    condition = _known(reader, names[0]) if names else None
    branches = attributes(node)
    branch = branches.get("then_branch" if condition else "else_branch")
    if condition is None or branch is None or len(branch.output) != len(node.output):
        raise reader.fail(node, DATA_DEPENDENT)
    _bounded(reader, node, 1, len(branch.node))
    _walk(reader, node, branch.node)
    for name, output in zip(node.output, branch.output):
        _set_carried(reader, name, _carried(reader, node, output.name))


def _bounded(reader, node, turns, count):
    """Count ``turns`` of ``count`` nodes against the model's budget (each turn costs one, an empty body too;
    a Loop inside a body counts each time it is walked); refused past it."""
    spent = reader.__dict__.get("unrolled", 0) + turns * max(count, 1)
    if spent > MAX_UNROLLED_NODES:
        raise reader.unsupported(node, f"a {node.op_type} of {turns:,} turns over {count} nodes (more than "
                                       f"{MAX_UNROLLED_NODES:,} nodes unrolled in the model)")
    reader.unrolled = spent


def _walk(reader, node, nodes):
    for inner in nodes:
        if inner.op_type == "Scan":
            raise reader.fail(inner, DATA_DEPENDENT)
        reader.visit(inner, inner.op_type, tuple(inner.input), tuple(inner.output))


def _entry(reader, node, name):
    if name in reader.values:
        return reader.values[name]
    return reader.const(node, name, "a tensor")


def _put(reader, name, entry):
    if isinstance(entry, Const):
        reader.consts[name] = entry
    else:
        reader.values[name] = entry


def _sequence(reader, node, name):
    found = reader.sequences.get(name)
    if found is None:
        raise reader.unsupported(node, f"input '{shown(name)}' must be a sequence of tensors the walk knows")
    return found


def _int(reader, node, name, what):
    const = reader.ahead(name)
    array = const.array() if const is not None else None
    if array is None or array.size != 1:
        raise reader.unsupported(node, f"{what} '{shown(name)}' must be a known constant")
    return int(array.reshape(-1).tolist()[0])


def _known(reader, name):
    """The single value of a constant, or None."""
    const = reader.ahead(name) if name else None
    array = const.array() if const is not None else None
    return None if array is None or array.size != 1 else array.reshape(-1).tolist()[0]


def _loop(reader, node, names):
    body = attributes(node).get("body")
    trips = _known(reader, names[0]) if names and names[0] else None
    condition = _known(reader, names[1]) if len(names) > 1 and names[1] else True
    if body is None or trips is None or condition is None or len(body.input) != len(names):
        raise reader.fail(node, DATA_DEPENDENT)
    carried = list(names[2:])
    if len(body.output) != 1 + len(carried) or len(node.output) != len(carried):
        raise reader.unsupported(node, "a Loop that collects scan outputs (cnncalc unrolls a Loop whose results "
                                       "are its carried sequences and tensors)")
    trips = max(int(trips), 0)
    _bounded(reader, node, trips, len(body.node))
    state = [_carried(reader, node, name) for name in carried]
    turn = 0
    while turn < trips and condition:
        reader.consts[body.input[0].name] = Const((), value=small.array([turn], dtype="int64").reshape(()))
        reader.consts[body.input[1].name] = Const((), value=small.array([bool(condition)], dtype="bool").reshape(()))
        for formal, entry in zip(body.input[2:], state):
            _set_carried(reader, formal.name, entry)
        _walk(reader, node, body.node)
        condition = _known(reader, body.output[0].name)
        if condition is None:
            raise reader.fail(node, DATA_DEPENDENT)
        state = [_carried(reader, node, output.name) for output in body.output[1:]]
        turn += 1
    for name, entry in zip(node.output, state):
        _set_carried(reader, name, entry)


def _carried(reader, node, name):
    if name in reader.sequences:
        return ("sequence", reader.sequences[name])
    return ("tensor", _entry(reader, node, name))


def _set_carried(reader, name, entry):
    kind, held = entry
    if kind == "sequence":
        reader.sequences[name] = held
    else:
        _put(reader, name, held)
