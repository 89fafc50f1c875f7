"""Untrusted input, each kind run from the outside, through the CLI or the API:

1. the work of each expansion step is bounded (keys checked before they are evaluated, an expression budget);
2. ONNX constant folding has a size budget;  3. ONNX naming is linear;  4. ONNX nodes are counted before
they are built, and nothing past 16 MiB of the graph is copied;  5. three tracebacks;  6. Gradescope names;
7. no line of a file that is not a key or answer file is quoted;  8. `if:` takes true/false only;
9. names in errors are escaped and capped;  10. import and key write what check and report read back;
11. pipes are read with the size limit, check's stderr is escaped in every format, deep YAML names a line.

The large inputs are made here, in tmp folders, and kept as small as shows the problem; where a limit is
large, it is lowered with monkeypatch and the input made to just pass it.
"""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

import cnncalc
from cli_runner import invoke, ok

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LONG_EXPRESSION = "round(" + "+".join(["1.5*2"] * 30) + ")"  # 180 characters, 182 parts


def one_error(result, *fragments, code=1):
    """Exit ``code`` with one `error:` line on stderr holding every fragment, and no traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed with {result.exception!r}") from result.exception
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def run_cnncalc(*args, stdin=None, timeout=60, memory=None):
    """A real process running this tree (for pipes, time and memory); ``memory``: its address-space limit."""
    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "cnncalc", *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env, preexec_fn=limit if memory else None)


@pytest.fixture
def write(tmp_path):
    def write(text, name="spec.yaml"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


# --- 1. bounded work per expansion step --------------------------------------------------------------

UNKNOWN_KEYS = ", ".join(f"k{i}: '{LONG_EXPRESSION}'" for i in range(200))
# one relu repeated 10,000 times with 200 extra keys of long expressions (37 KB): 235 s before
MANY_KEYS = f"input: [3, 8, 8]\nlayers:\n  - {{type: relu, repeat: 10000, {UNKNOWN_KEYS}}}\n"


@pytest.mark.parametrize("how", ["report", "validate", "key", "answers", "inline key"])
def test_unknown_keys_are_refused_before_any_is_evaluated(write, how):
    path = write(MANY_KEYS)
    inline = "spec:\n  " + MANY_KEYS.replace("\n", "\n  ")
    runs = {
        "report": lambda: invoke("report", path),
        "validate": lambda: invoke("validate", path),
        "key": lambda: invoke("key", path),
        "answers": lambda: invoke("check", write(inline + "\nanswers:\n  - {layer: relu1.0, params: 0}\n",
                                                 "answers.yaml")),
        "inline key": lambda: invoke("check", "--key", write(inline + "\nquestions:\n  - {layer: total, "
                                                                      "quantity: params}\n", "key.yaml"),
                                     write("q1: 0\n", "s.yaml")),
    }
    result, seconds = timed(runs[how])
    assert result.exit_code == 1 and "Traceback" not in result.stderr + result.stdout
    assert "unknown key 'k0' for relu" in result.stderr + result.stdout
    assert seconds < 10


BLOCK_OF_EXPRESSIONS = ("input: [3, 8, 8]\nblocks:\n  b:\n    args: {{{args}}}\n    layers: [{{type: relu}}]\n"
                        "layers:\n{uses}")


def test_a_repeat_whose_expressions_would_pass_the_budget_is_refused_at_once(write):
    # a block of 100 expression arguments used 2,900 times: inside the 300,000 steps, 34 s before
    args = ", ".join(f"a{i}: '{LONG_EXPRESSION}'" for i in range(100))
    path = write(BLOCK_OF_EXPRESSIONS.format(args=args, uses="  - {type: b, repeat: 2900}\n"))
    result, seconds = timed(invoke, "validate", path)
    one_error(result, ":7: b1: the spec's expressions take more than 1,000,000 steps", "2,900 repeats of 18,200")
    assert seconds < 10


def test_expression_work_is_counted_in_every_block_use(write, monkeypatch):
    from cnncalc.spec import expander

    monkeypatch.setattr(expander, "MAX_EXPRESSION_WORK", 20_000)
    args = ", ".join(f"a{i}: '{LONG_EXPRESSION}'" for i in range(10))
    uses = "".join("  - {type: b}\n" for _ in range(12))  # 12 x 10 x 182 = 21,840 parts, one use at a time
    result = invoke("validate", write(BLOCK_OF_EXPRESSIONS.format(args=args, uses=uses)))
    one_error(result, "the spec's expressions take more than 20,000 steps", "b11:")
    uses = "".join("  - {type: b}\n" for _ in range(10))  # 18,200: within
    assert invoke("validate", write(BLOCK_OF_EXPRESSIONS.format(args=args, uses=uses), "fits.yaml")).exit_code == 0


def test_real_models_spend_a_small_part_of_the_budget():
    from cnncalc.spec import expander
    from cnncalc.spec.language import MAX_EXPRESSION_WORK

    made = []
    original = expander.Expander.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    expander.Expander.__init__ = spy
    try:
        cnncalc.analyze("efficientnet_b3")  # the built-in that evaluates most: 2,300 parts
    finally:
        expander.Expander.__init__ = original
    assert 0 < max(e.work for e in made) < MAX_EXPRESSION_WORK // 100


# --- 2.-4. ONNX: folding, naming, node count, graph size -----------------------------------------------

onnx = pytest.importorskip("onnx")
import numpy  # noqa: E402  (onnx depends on numpy)
from onnx import NodeProto, TensorProto, helper, numpy_helper  # noqa: E402


def onnx_model(tmp_path, nodes, initializers=(), inputs=None, file="model.onnx", doc=""):
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])]
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              list(initializers))
    model = helper.make_model(graph, producer_name="test")
    model.doc_string = doc
    path = tmp_path / file
    path.write_bytes(model.SerializeToString())
    return str(path)


def relu(name="r", source="x", output="y"):
    return helper.make_node("Relu", [source], [output], name=name)


@pytest.mark.parametrize("op", ["Concat", "Max"])
def test_folding_one_constant_named_100000_times_stays_small(tmp_path, op):
    # 600 KB naming a 4,096-element constant 200,000 times: numpy built a 3.2 GB array (6.5 GB for Max);
    # 100,000 times here: 1.6 GB, past the 1 GiB the process is given
    constant = numpy_helper.from_array(numpy.zeros(4096, dtype=numpy.float32), "c")
    folded = helper.make_node(op, ["c"] * 100_000, ["k"], name="fold", **({"axis": 0} if op == "Concat" else {}))
    path = onnx_model(tmp_path, [folded, relu()], [constant])
    done = run_cnncalc("report", path, "-f", "csv", memory=1 << 30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("r,relu,")


def test_folding_budget_per_model(tmp_path, monkeypatch):
    from cnncalc.onnx import constants

    monkeypatch.setattr(constants, "MAX_FOLDED_ELEMENTS", 10)
    shape = numpy_helper.from_array(numpy.array([1, -1], dtype=numpy.int64), "shape")
    ends = [numpy_helper.from_array(numpy.array([v], dtype=numpy.int64), n) for n, v in (("start", 0), ("end", 2))]
    nodes = [helper.make_node("Concat", ["shape"] * 4, ["s1"], axis=0, name="a"),  # 8 in, 8 out: past 10
             helper.make_node("Slice", ["s1", "start", "end"], ["s2"], name="b"),  # known by its dims only
             helper.make_node("Reshape", ["x", "s2"], ["y"], name="flat")]
    one_error(invoke("report", onnx_model(tmp_path, nodes, [shape] + ends)), "'s2' is needed by value",
              "computed by node 'b' (Slice)")


def test_constants_nothing_asks_for_are_not_evaluated(tmp_path, monkeypatch):
    # a constant node is evaluated when a layer or another constant first asks for its output: one nobody reads,
    # or the indices of a ScatterND (whose result has the dims of the tensor it writes into: half of Swin's
    # constant nodes compute its mask's indices), spends nothing of the budget
    from cnncalc.onnx import constants

    monkeypatch.setattr(constants, "MAX_FOLDED_ELEMENTS", 40)
    shape = numpy_helper.from_array(numpy.array([1, -1], dtype=numpy.int64), "shape")
    mask = numpy_helper.from_array(numpy.zeros((1, 12), dtype=numpy.float32), "mask")
    nodes = [helper.make_node("Concat", ["shape"] * 8, ["unused"], axis=0, name="a"),  # 16 in, 16 out
             helper.make_node("Concat", ["shape"] * 8, ["indices"], axis=0, name="i"),  # 16 in: past 40 with a's
             helper.make_node("ScatterND", ["mask", "indices", "mask"], ["written"], name="scatter"),  # 12 in
             helper.make_node("Shape", ["written"], ["s"], name="s"),  # [1, 12]
             helper.make_node("Concat", ["s"], ["target"], axis=0, name="c"),  # 2 in, 2 out: 28 in all
             helper.make_node("Reshape", ["x", "target"], ["y"], name="flat")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])]
    result = invoke("report", onnx_model(tmp_path, nodes, [shape, mask], inputs=inputs), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("flat,flatten,")


def test_weights_too_large_to_fold_do_not_spend_the_folding_budget(tmp_path):
    # a TorchScript export (do_constant_folding=False) transposes every Linear weight: ViT-B/32's seven
    # 768x2304 and 768x768 ones spent the 10,000,000-element budget, and encoder_layer_2's reshape was refused
    weight = numpy_helper.from_array(numpy.zeros((1536, 1536), dtype=numpy.int8), "w")   # 2,359,296 elements
    shape = numpy_helper.from_array(numpy.array([1, -1], dtype=numpy.int64), "shape")
    nodes = [helper.make_node("Transpose", ["w"], [f"wt{i}"], perm=[1, 0], name=f"t{i}") for i in range(5)]
    nodes += [helper.make_node("Concat", ["shape"], ["s"], axis=0, name="s"),
              helper.make_node("Reshape", ["x", "s"], ["y"], name="flat")]
    result = invoke("report", onnx_model(tmp_path, nodes, [weight, shape]), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].split(",")[:2] == ["flat", "flatten"]


def test_folding_budget_is_not_spent_on_tensors_known_by_their_dims(tmp_path, monkeypatch):
    # Swin's shifted-window masks (150,000 elements a node, never made into arrays) spent the budget
    # before its last stage, whose window Reshape then had no target
    from cnncalc.onnx import constants

    monkeypatch.setattr(constants, "MAX_FOLDED_ELEMENTS", 10)
    mask = numpy_helper.from_array(numpy.zeros(5000, dtype=numpy.float32), "mask")
    shape = numpy_helper.from_array(numpy.array([1, -1], dtype=numpy.int64), "shape")
    nodes = [helper.make_node("Equal", ["mask", "mask"], ["m1"], name="m1"),
             helper.make_node("Where", ["m1", "mask", "mask"], ["m2"], name="m2"),
             helper.make_node("Concat", ["shape"], ["s"], axis=0, name="s"),
             helper.make_node("Reshape", ["x", "s"], ["y"], name="flat")]
    result = invoke("report", onnx_model(tmp_path, nodes, [mask, shape]), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("flat,flatten,")


def test_a_scope_name_of_a_million_parts_is_read_in_linear_time(tmp_path):
    # '/a' 1,000,000 times (2 MB): 44 s in the PyTorch-scope parser before the name was refused
    path = onnx_model(tmp_path, [relu(name="/a" * 1_000_000)])
    result, seconds = timed(invoke, "report", path, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert seconds < 10
    name = result.stdout.splitlines()[1].split(",")[0]
    assert name == ".".join(["a"] * 46) and len(name) <= 100


def test_nodes_are_counted_before_they_are_built(tmp_path, monkeypatch):
    from cnncalc.onnx import reader

    monkeypatch.setattr(reader, "MAX_NODES", 1000)
    constants = []
    for _ in range(1000):
        node = NodeProto()
        node.op_type = "Constant"
        node.output.append("c")
        constants.append(node)
    one_error(invoke("report", onnx_model(tmp_path, constants + [relu()])), "more than 1,000 nodes (the limit)")
    # past 1 MiB the file is walked without its weights; the count is made there, before protobuf reads it
    weights = numpy_helper.from_array(numpy.zeros(300_000, dtype=numpy.float32), "unused")
    big = onnx_model(tmp_path, constants + [relu()], [weights], file="big.onnx")
    assert os.path.getsize(big) > 1 << 20
    one_error(invoke("report", big), "more than 1,000 nodes (the limit)")
    assert invoke("report", onnx_model(tmp_path, constants[:999] + [relu()], file="fits.onnx")).exit_code == 0


def test_a_huge_doc_string_is_not_copied_before_the_size_check(tmp_path):
    import tracemalloc

    weights = numpy_helper.from_array(numpy.zeros(300_000, dtype=numpy.float32), "unused")
    path = onnx_model(tmp_path, [relu()], [weights], doc="d" * (40 << 20))
    tracemalloc.start()
    try:
        result = invoke("report", path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_error(result, "without its weights is more than 16,777,216 bytes")
    assert peak < 24 << 20, peak  # the kept part stops at 16 MiB; the 40 MB text was copied, then joined


# --- 5. tracebacks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("quantity", ["[params]", "{a: 1}"])
def test_a_key_quantity_that_is_not_a_word(write, quantity):
    key = write(f"spec: alexnet\nquestions:\n  - {{id: q1, layer: conv1, quantity: {quantity}}}\n", "key.yaml")
    one_error(invoke("check", "--key", key, write("q1: 1\n", "s.yaml")), "key.yaml:3: unknown quantity")


def test_an_upsample_scale_near_the_float_limit(write):
    path = write("input: [3, 100, 100]\nlayers:\n  - {type: upsample, scale: 1.0e+307}\n")
    one_error(invoke("report", path), ":3: upsample1: scale must be within +-10^15, not 1e+307")


LIKE_THEN_SHAPES = """input: [3, 8, 8]
blocks:
  b:
    layers: [{type: conv, filters: in_channels, kernel: 1}]
layers:
  - {type: conv, filters: 4, kernel: 1, name: c}
  - {type: upsample, like: c}
  - {type: b}
"""


def test_a_like_layer_before_a_block_that_reads_its_input_shape(write):
    path = write(LIKE_THEN_SHAPES)
    assert invoke("validate", path).exit_code == 0
    rows = ok("report", path, "-f", "csv").splitlines()
    assert rows[3].startswith("b1.conv1,conv,upsample1,4x8x8,4x8x8,4,")  # in_channels of the upsample: 4
    report = cnncalc.analyze(cnncalc.load_spec(path))
    assert [row.params for row in report.rows] == [4 * 3 + 4, 0, 4 * 4 + 4]


# --- 6. Gradescope results names ---------------------------------------------------------------------------

KEY = "spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\n"


def test_no_submission_name_stops_the_class(write, tmp_path):
    key = write(KEY, "key.yaml")
    files = [write("q1: 23296\n", "\x01" * 250), write("q1: 23296\n", "a/" + "n" * 250),
             write("q1: 1\n", "b/" + "n" * 250), write("q1: 23296\n", "zed.yaml")]
    out = tmp_path / "results"
    result = invoke("check", "--key", key, *files, "-f", "gradescope", "-o", out)
    assert "Traceback" not in result.stderr and "wrote 4 results files" in result.stdout, result.stderr
    names = sorted(os.listdir(out))
    assert len(names) == 4 and "zed.json" in names
    assert all(len(name.encode()) <= 255 for name in names)
    assert sum(name.startswith("n" * 150) for name in names) == 2


def test_a_results_file_that_cannot_be_written_is_reported_and_the_rest_written(write, tmp_path):
    key = write(KEY, "key.yaml")
    out = tmp_path / "results"
    (out / "alice.json").mkdir(parents=True)  # in the way
    files = [write("q1: 23296\n", name) for name in ("alice.yaml", "bob.yaml", "carol.yaml")]
    result = invoke("check", "--key", key, *files, "-f", "gradescope", "-o", out)
    assert result.exit_code == 1
    assert "alice.yaml: results not written: cannot write" in result.stderr
    assert "wrote 2 results files" in result.stdout
    assert json.loads((out / "carol.json").read_text())["score"] == 1


def test_results_names_are_chosen_in_linear_time():
    from cnncalc.grading import gradescope_names

    class Submission:
        def __init__(self, file):
            self.file = file

    # 20,000 submissions all named answers.yaml took 36 s; and a name that is another's count comes later
    many = [Submission(f"s{i}/answers.yaml") for i in range(20_000)] + [Submission("answers-2.yaml")]
    names, seconds = timed(gradescope_names, many)
    assert names[:3] == ["answers.json", "answers-2.json", "answers-3.json"]
    assert names[-1] == "answers-2-2.json" and len(set(names)) == len(names)
    assert seconds < 2


# --- 7. no line of a file that is not a cnncalc file ---------------------------------------------------------

SHADOW = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"


@pytest.mark.parametrize("as_key", [True, False])
def test_a_link_to_a_system_file_is_not_quoted(write, tmp_path, as_key):
    shadow = write(SHADOW, "shadow")
    link = tmp_path / "link.yaml"
    link.symlink_to(shadow)
    if as_key:
        result = invoke("check", "--key", link, write("q1: 1\n", "s.yaml"))
        one_error(result, "not a cnncalc key (a YAML mapping without 'spec' or 'questions'; nothing of it is shown)")
    else:
        result = invoke("check", link, "-f", "json")
        assert "not a cnncalc answer file" in result.stderr
    assert "root:" not in result.stdout + result.stderr and "19000" not in result.stdout + result.stderr


def test_a_recognised_key_still_names_its_unknown_keys(write):
    key = write("spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\nqestions: 1\n", "key.yaml")
    one_error(invoke("check", "--key", key, write("q1: 1\n", "s.yaml")), "key.yaml:4: unknown key 'qestions'")


# --- 8. if: ---------------------------------------------------------------------------------------------------

IF_SPEC = "input: [3, 8, 8]\nparams: {{use: {use}}}\nlayers:\n  - {{type: conv, filters: 4, kernel: 1}}\n" \
          "  - {{type: relu, if: use}}\n"


@pytest.mark.parametrize("use, setting, shown", [("'false'", None, "not text 'false'"),
                                                 ("true", "use='no'", "not text 'no'"),
                                                 ("1", None, "not number 1")])
def test_if_takes_true_or_false_only(write, use, setting, shown):
    args = ["--set", setting] if setting else []
    one_error(invoke("report", write(IF_SPEC.format(use=use)), *args), ":5: relu1: if: must be true or false", shown)


def test_if_still_takes_booleans_and_comparisons(write):
    path = write(IF_SPEC.format(use="true"))
    assert "relu1" in ok("report", path, "-f", "csv")
    assert "relu1" not in ok("report", path, "-f", "csv", "--set", "use=false")
    compared = write(IF_SPEC.format(use="3").replace("if: use", "if: use >= 2 and not use == 5"), "cmp.yaml")
    assert "relu1" in ok("report", compared, "-f", "csv")


# --- 9. names in errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["node", "op", "tensor", "inputs"])
def test_long_onnx_names_are_cut_in_errors(tmp_path, what):
    long = "N" * 100_000
    if what == "inputs":
        inputs = [helper.make_tensor_value_info(f"in{i}_" + "p" * 80, TensorProto.FLOAT, [1, 3, 8, 8])
                  for i in range(500)]
        path = onnx_model(tmp_path, [relu(source="in0_" + "p" * 80)], inputs=inputs)
        fragment = "(and 490 more)"
    else:
        node = {"node": helper.make_node("Frob", ["x"], ["y"], name=long),
                "op": helper.make_node(long, ["x"], ["y"], name="n"),
                "tensor": relu(source=long)}[what]
        path = onnx_model(tmp_path, [node])
        fragment = "... (99,900 more characters)"
    line = one_error(invoke("report", path), fragment)
    assert len(line) < 2_000, len(line)


def test_an_error_line_is_capped_whatever_it_quotes():
    from cnncalc.errors import MAX_MESSAGE_CHARS, SpecError, shown

    text = str(SpecError("x\x1b" * 10_000, file="f.yaml", line=3))
    assert len(text) < MAX_MESSAGE_CHARS + 40 and "\x1b" not in text and text.endswith(" more characters)")
    assert shown("\n" * 3) == "\\n\\n\\n" and shown("a" * 101) == "a" * 100 + "... (1 more characters)"
    assert shown("\x1b" * 30, 8) == "\\x1b\\x1b... (28 more characters)"


# --- 10. import and key write what is read back ---------------------------------------------------------------

def test_import_shortens_a_deep_pytorch_scope(tmp_path):
    scope = "/" + "/".join(f"module_number{i}" for i in range(16)) + "/Conv"  # 245 characters of path
    weights = numpy_helper.from_array(numpy.zeros((4, 3, 3, 3), dtype=numpy.float32), "w")
    path = onnx_model(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name=scope, kernel_shape=[3, 3])],
                      [weights])
    out = tmp_path / "deep.yaml"
    assert invoke("import", path, "-o", out).exit_code == 0
    name = ok("report", out, "-f", "csv").splitlines()[1].split(",")[0]
    assert name == "module_number11.module_number12.module_number13.module_number14.module_number15"


def test_import_never_writes_a_spec_the_reader_refuses(tmp_path, monkeypatch):
    from cnncalc.spec import loader

    nodes = [relu(name="R" * 90, output="r"), helper.make_node("Concat", ["r"] * 200, ["y"], axis=1, name="cat")]
    path = onnx_model(tmp_path, nodes)
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 10_000)  # the spec would be 18,700 bytes
    out = tmp_path / "out.yaml"
    one_error(invoke("import", path, "-o", out), "as a spec it would be", "more than the 10,000 a spec may be")
    assert not out.exists()
    monkeypatch.undo()
    assert invoke("import", path, "-o", out).exit_code == 0 and invoke("report", out).exit_code == 0


def test_keys_written_by_key_are_read_by_check(write, tmp_path):
    repeated = tmp_path / "repeated.yaml"
    assert invoke("key", "alexnet", "--layers", "conv1,conv1,total", "--quantities", "params,params", "-o",
                  repeated).exit_code == 0
    result = invoke("check", "--key", repeated, write("q1: 23296\n", "s.yaml"))
    assert result.exit_code == 1 and "0 of 2 questions" not in result.stdout and "error" not in result.stderr
    assert "1 of 2 questions right" in result.stdout
    spec = "input: [3, 8, 8]\nparams: {w: 4}\nlayers:\n  - {type: conv, filters: w, kernel: 3}\n"
    done = run_cnncalc("key", "-", stdin=spec)
    assert done.returncode == 0, done.stderr
    inline = write(done.stdout, "inline.yaml")
    result = invoke("check", "--key", inline, write("q1: 4x6x6\nq2: 112\nq3: 4x6x6\nq4: 112\n", "right.yaml"))
    assert result.exit_code == 0, (result.stdout, result.stderr)


# --- 11. pipes, check's stderr, deep YAML ---------------------------------------------------------------------

PIPED = "input: [3, 8, 8]\nlayers:\n  - {type: conv, filters: 4, kernel: 3}\n"


def test_dev_stdin_is_read_with_the_size_limit():
    done = run_cnncalc("report", "/dev/stdin", "-f", "csv", stdin=PIPED)
    assert done.returncode == 0 and "conv1,conv,input,3x8x8,4x6x6" in done.stdout, done.stderr
    done = run_cnncalc("report", "/dev/stdin", stdin="#" * (17 << 20))
    assert done.returncode == 1 and "more than 16,777,216 bytes" in done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_with_a_writer_is_read(tmp_path):
    fifo = tmp_path / "spec.yaml"  # what a shell's <(sed ... spec.yaml) gives
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "w") as stream:
            stream.write(PIPED)

    writer = threading.Thread(target=feed)
    writer.start()
    done = run_cnncalc("report", fifo, "-f", "csv", timeout=30)
    writer.join(timeout=30)
    assert done.returncode == 0 and "conv1,conv,input" in done.stdout, done.stderr


def test_check_json_stderr_is_escaped(write):
    answers = write('spec: alexnet\nanswers:\n  - {layer: "conv1\\e]0;owned\\a\\nright  conv9", params: 5}\n')
    result = invoke("check", answers, "-f", "json")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "\x1b" not in result.stderr and "\x07" not in result.stderr, result.stderr
    assert "\\x1b]0;owned\\x07\\nright  conv9" in lines[0]


def test_yaml_nested_too_deeply_names_a_line(write):
    path = write("input: [3, 8, 8]\nlayers:\n  - {type: relu}\nx-deep: " + "[" * 20_000 + "]" * 20_000 + "\n")
    one_error(invoke("validate", path), ":4: YAML nests more than 1,000 levels deep")


def test_yaml_nested_by_indentation_names_a_line(write):
    lines = ["input: [3, 8, 8]", "layers: [{type: relu}]", "x-deep:"] + ["  " * i + "- " for i in range(1, 600)]
    one_error(invoke("validate", write("\n".join(lines) + "\n")), ":602: YAML nests too deeply to read")
