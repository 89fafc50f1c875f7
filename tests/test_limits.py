"""Hostile input against the features that landed with params, blocks reading shapes, ONNX and grading.

Each problem found in the audit of issue 15, run through the CLI:
1. expansion work is bounded even when every layer is switched off by `if`;
2. a YAML document holds a bounded number of values, counted before PyYAML builds them;
3. the gradebook CSV and Gradescope's results folder escape submission names; key ids follow the name policy;
4. ONNX: nodes named alike, many nodes, a huge graph, hostile file and producer names.
"""

import csv
import io
import os
import time

import pytest

from cli_runner import invoke
from test_hostile import run_cnncalc
from test_robustness import assert_one_line_error as one_error_line
from test_robustness import write  # noqa: F401 (a fixture)

# --- 1. expansion work -------------------------------------------------------------------------


def nested_switched_off(depth, repeat=10):
    """Blocks of blocks, each repeated: 10^depth copies of one layer that `if` switches off."""
    lines = ["input: [3, 8, 8]", "blocks:", "  b0:", "    layers:", "      - {type: relu, if: 'false'}"]
    for level in range(1, depth + 1):
        lines += [f"  b{level}:", "    layers:", f"      - {{type: b{level - 1}, repeat: {repeat}}}"]
    return "\n".join(lines + ["layers:", f"  - {{type: b{depth}}}", "  - {type: relu}"]) + "\n"


def test_repeats_of_switched_off_layers_are_bounded(write):
    # 10^15 block copies that give no layer at all: the layer limit never fired, and this ran for ever
    path = write(nested_switched_off(15))
    started = time.perf_counter()
    done = run_cnncalc("report", path, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "switched-off layers" in done.stderr and "to expand" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert time.perf_counter() - started < 30


def test_block_arguments_count_as_expansion_work(write):
    # 3,001 arguments, each a default reading the next, in 10,000 copies of a one-layer block: 18 s
    chain = ", ".join(f"a{i}: a{i + 1}" for i in range(3000)) + ", a3000: 2"
    path = write(f"input: [3, 8, 8]\nblocks:\n  b:\n    args: {{{chain}}}\n"
                 f"    layers: [{{type: conv, filters: a0, kernel: 1}}]\nlayers:\n  - {{type: b, repeat: 10000}}\n")
    started = time.perf_counter()
    one_error_line(invoke("validate", path), "to expand (10,000 repeats of 3,003 here)", ":7:")
    assert time.perf_counter() - started < 10


def test_switched_off_layers_within_the_bound_still_report(write):
    result = invoke("report", write(nested_switched_off(3)), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert '"relu1"' in result.stdout


# --- 2. values in one document -------------------------------------------------------------------

def test_a_document_of_too_many_values_is_refused_before_it_is_built(write):
    # a million `qN: N` lines (16 MiB) took 20+ s and 1.4 GB to load; the limit is 600,000 values
    path = write("input: [3, 8, 8]\nlayers: [{type: relu}]\nx-a: {" + ",".join(f"k{i}" for i in range(310_000)) + "}\n")
    one_error_line(invoke("validate", path), "more than 600,000 values")


def test_a_submission_of_too_many_values_scores_zero(write, tmp_path):
    key = write("spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\n", "key.yaml")
    big = write("".join(f"q{i}: {i}\n" for i in range(310_000)), "big.yaml")
    started = time.perf_counter()
    result = invoke("check", "--key", key, big, "-f", "csv")
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "more than 600,000 values" in result.stdout
    assert time.perf_counter() - started < 20


# --- 3. grading outputs ---------------------------------------------------------------------------

def test_the_gradebook_escapes_submission_names(write, tmp_path, monkeypatch):
    key = write("spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\n", "key.yaml")
    write("q1: 23296\n", "=cmd|' calc'!A0.yaml")
    write("q1: 23296\n", "a\n=HYPERLINK(1),1,1,1,1,.yaml")
    write("- not a mapping\n", "@evil.yaml")
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "--key", key, "=cmd|' calc'!A0.yaml", "a\n=HYPERLINK(1),1,1,1,1,.yaml", "@evil.yaml",
                    "-f", "csv")
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4, lines  # a header and one line per submission: no forged row
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    for row in rows:
        for cell in (row[0], row[5]):
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row
            assert cell.isprintable(), row
    assert rows[0][0] == "'=cmd|' calc'!A0.yaml" and rows[1][0] == "a\\n=HYPERLINK(1),1,1,1,1,.yaml"
    assert rows[2][5].startswith("'@evil.yaml")


def test_gradescope_results_files_are_named_escaped(write, tmp_path):
    key = write("spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\n", "key.yaml")
    first = write("q1: 23296\n", "new\nline\x1b[2J.yaml")
    second = write("q1: 1\n", "bob.yaml")
    out = tmp_path / "results"
    result = invoke("check", "--key", key, first, second, "-f", "gradescope", "-o", out)
    assert result.exit_code == 1, result.stderr
    assert sorted(os.listdir(out)) == ["bob.json", "new\\nline\\x1b[2J.json"]


def test_gradescope_folder_does_not_follow_a_symbolic_link(write, tmp_path):
    key = write("spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\n", "key.yaml")
    victim = write("precious\n", "victim.txt")
    out = tmp_path / "results"
    out.mkdir()
    (out / "alice.json").symlink_to(victim)
    result = invoke("check", "--key", key, write("q1: 23296\n", "alice.yaml"), write("q1: 1\n", "bob.yaml"),
                    "-f", "gradescope", "-o", out)
    assert result.exit_code == 1, result.stderr
    assert open(victim).read() == "precious\n"
    assert not os.path.islink(out / "alice.json") and '"score"' in (out / "alice.json").read_text()


@pytest.mark.parametrize("question, fragment", [
    ("{id: \"q1\\e[31m\", layer: conv1, quantity: params}", "control character"),
    ("{id: \"q1\\nq2\", layer: conv1, quantity: params}", "line break"),
    ("{id: [1], layer: conv1, quantity: params}", "must be text"),
    ("{id: " + "q" * 101 + ", layer: conv1, quantity: params}", "the limit is 100"),
])
def test_key_question_ids_follow_the_name_policy(write, question, fragment):
    key = write(f"spec: alexnet\nquestions:\n  - {question}\n", "key.yaml")
    one_error_line(invoke("check", "--key", key, write("q1: 1\n", "s.yaml")), fragment, "key.yaml:3")


# --- 4. ONNX -------------------------------------------------------------------------------------

def relu_chain(tmp_path, count, name=lambda i: f"r{i}", file="model.onnx", producer="test"):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}"], name=name(i)) for i in range(count)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(f"t{count}", TensorProto.FLOAT, None)])
    path = tmp_path / file
    path.write_bytes(helper.make_model(graph, producer_name=producer).SerializeToString())
    assert onnx is not None
    return str(path)


def test_onnx_nodes_named_alike_are_named_in_linear_time(tmp_path):
    # each name was found by trying r, r_2, r_3...: 100,001 nodes named `r` ran for minutes
    path = relu_chain(tmp_path, 30_000, name=lambda i: "r")
    started = time.perf_counter()
    result = invoke("report", path, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    names = [line.split(",")[0] for line in result.stdout.splitlines()[1:4]]
    assert names == ["r", "r_2", "r_3"]
    assert "\nr_30000," in result.stdout
    assert time.perf_counter() - started < 60


def test_onnx_layer_count_is_bounded_while_reading(tmp_path, monkeypatch):
    from cnncalc.onnx import graph as onnx_graph

    monkeypatch.setattr(onnx_graph, "MAX_LAYERS", 50)
    one_error_line(invoke("report", relu_chain(tmp_path, 51)), "more than 50 layers")
    assert invoke("report", relu_chain(tmp_path, 50, file="fifty.onnx")).exit_code == 0


def test_onnx_graph_size_is_bounded(tmp_path, monkeypatch):
    from cnncalc.onnx import reader as onnx_reader

    path = relu_chain(tmp_path, 2000)  # a graph of some 60 KB; no weights to leave out
    monkeypatch.setattr(onnx_reader, "MAX_FILE_BYTES", 10_000)
    one_error_line(invoke("report", path), "without its weights is more than 10,000 bytes")
    garbage = tmp_path / "garbage.onnx"  # over 1 MiB: mapped, and not copied whole when it does not parse
    garbage.write_bytes(os.urandom(2 << 20))
    one_error_line(invoke("report", garbage), "more than 10,000 bytes")


@pytest.mark.parametrize("file", ["new\nline\x1b[2J.onnx", "n" * 150 + ".onnx"])
def test_onnx_file_and_producer_names_are_shown_escaped(tmp_path, file):
    path = relu_chain(tmp_path, 2, file=file, producer="evil\nsource: x\x1b[31m" * 80)
    result = invoke("report", path, "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert "\\u001b" not in result.stdout and "\\n" not in result.stdout.replace("\\\\n", "")
    imported = tmp_path / "imported.yaml"
    result = invoke("import", path, "-o", imported)
    assert result.exit_code == 0, result.stderr
    assert invoke("report", imported).exit_code == 0


# --- 5. plot -------------------------------------------------------------------------------------

def test_plot_of_many_layers_draws_a_bounded_number_of_bars(write, tmp_path):
    # one bar artist per layer: 100,000 layers (within the limits) took minutes and gigabytes, longer as SVG
    pytest.importorskip("matplotlib")
    from cnncalc.render.plot import MAX_DRAWN_BARS

    path = write("input: [3, 8, 8]\nlayers:\n  - {type: conv, filters: 3, kernel: 1, repeat: 5000}\n")
    out = tmp_path / "many.svg"
    result = invoke("plot", path, "-o", out)
    assert result.exit_code == 0, result.stderr
    bars = out.read_text().count('id="patch_')
    assert 3 * MAX_DRAWN_BARS // 2 < bars < 3 * MAX_DRAWN_BARS + 60, bars


# --- 6. grading against a large network ----------------------------------------------------------

BIG_NET = "input: [3, 8, 8]\nlayers:\n  - {name: conv1, type: conv, filters: 3, kernel: 1, repeat: 9000}\n"


def test_answers_against_a_large_network_take_linear_time(write):
    # each answer's layer was found by scanning every row, each block answer summed and explained every
    # row again, and each unknown name was compared by spelling with every layer name
    write(BIG_NET, "big.yaml")
    answers = ["spec: big.yaml", "answers:"] + ["  - {layer: conv1, params: 1, macs: 1}"] * 3000
    answers += [f"  - {{layer: conv1.{i}, params: 1}}" for i in range(0, 9000, 3)]
    answers += [f"  - {{layer: nope{i}, params: 1}}" for i in range(300)]
    path = write("\n".join(answers) + "\n", "answers.yaml")
    started = time.perf_counter()
    result = invoke("check", path, "-f", "json")
    assert result.exit_code == 1 and "Traceback" not in result.stderr, result.stderr
    assert time.perf_counter() - started < 30
    assert "no layer named 'nope0' in big; nearest: " in result.stdout
    assert "no layer named 'nope299' in big\"" in result.stdout  # past the first 50, no suggestions
    assert result.stdout.count("params of block conv1 = conv1.0 12 + ") == 3000


def test_key_of_a_large_network_takes_linear_time(write, tmp_path):
    path = write(BIG_NET, "big.yaml")
    started = time.perf_counter()
    result = invoke("key", path, "-o", tmp_path / "key.yaml")
    assert result.exit_code == 0, result.stderr
    assert time.perf_counter() - started < 30
    assert (tmp_path / "key.yaml").read_text().count("quantity: params") == 9001
