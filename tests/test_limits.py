"""The limits (docs/limits.md): a small file cannot take minutes or gigabytes, and a limit is one error line.

1. expansion work is bounded even when every layer is switched off by `if`;
2. a YAML document holds a bounded number of values, counted before PyYAML builds them;
3. ONNX: nodes named alike, many nodes, a huge graph;
4. the plot draws a bounded number of bars;
5. grading against a large network takes linear time;
6. the spec file's size, its input, repeats, blocks, YAML aliases and layers are refused fast;
7. deep nesting (run in a subprocess, since a C-stack overflow would take pytest down with it);
8. tiny inputs do bounded work (receptive fields saturate, stages merge linearly, long lines keep the C parser).
"""

import json
import os
import time

import pytest

from cli_runner import invoke, ok
from cnncalc import spec as spec_module
from cnncalc.comparison import merged_order
from cnncalc.receptive import FIELD_LIMIT
from cnncalc.spec import loader
from cnncalc.spec.loader import MAX_EXPANDED_NODES, MAX_FILE_BYTES
from helpers import assert_one_line_error, check_both, layers_spec, relu_chain, run_cnncalc

# --- 1. expansion work -------------------------------------------------------------------------


def nested_switched_off(depth, repeat=10):
    """Blocks of blocks, each repeated: 10^depth copies of one layer that `if` switches off."""
    lines = ["input: [3, 8, 8]", "blocks:", "  b0:", "    layers:", "      - {type: relu, if: 'false'}"]
    for level in range(1, depth + 1):
        lines += [f"  b{level}:", "    layers:", f"      - {{type: b{level - 1}, repeat: {repeat}}}"]
    return "\n".join(lines + ["layers:", f"  - {{type: b{depth}}}", "  - {type: relu}"]) + "\n"


@pytest.mark.slow
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
    assert_one_line_error(invoke("validate", path), "to expand (10,000 repeats of 3,003 here)", ":7:")
    assert time.perf_counter() - started < 10


def test_switched_off_layers_within_the_bound_still_report(write):
    result = invoke("report", write(nested_switched_off(3)), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert '"relu1"' in result.stdout


# --- 2. values in one document -------------------------------------------------------------------

@pytest.mark.slow
def test_a_document_of_too_many_values_is_refused_before_it_is_built(write):
    # a million `qN: N` lines (16 MiB) took 20+ s and 1.4 GB to load; the limit is 600,000 values
    path = write("input: [3, 8, 8]\nlayers: [{type: relu}]\nx-a: {" + ",".join(f"k{i}" for i in range(310_000)) + "}\n")
    assert_one_line_error(invoke("validate", path), "more than 600,000 values")


@pytest.mark.slow
def test_a_submission_of_too_many_values_scores_zero(write, tmp_path):
    key = write("spec: alexnet\nquestions:\n  - {layer: conv1, quantity: params}\n", "key.yaml")
    big = write("".join(f"q{i}: {i}\n" for i in range(310_000)), "big.yaml")
    started = time.perf_counter()
    result = invoke("check", "--key", key, big, "-f", "csv")
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "more than 600,000 values" in result.stdout
    assert time.perf_counter() - started < 20


# --- 3. ONNX -------------------------------------------------------------------------------------


@pytest.mark.slow
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
    assert_one_line_error(invoke("report", relu_chain(tmp_path, 51)), "more than 50 layers")
    assert invoke("report", relu_chain(tmp_path, 50, file="fifty.onnx")).exit_code == 0


def test_onnx_graph_size_is_bounded(tmp_path, monkeypatch):
    from cnncalc.onnx import reader as onnx_reader

    path = relu_chain(tmp_path, 2000)  # a graph of some 60 KB; no weights to leave out
    monkeypatch.setattr(onnx_reader, "MAX_FILE_BYTES", 10_000)
    assert_one_line_error(invoke("report", path), "without its weights is more than 10,000 bytes")
    garbage = tmp_path / "garbage.onnx"  # over 1 MiB: mapped, and not copied whole when it does not parse
    garbage.write_bytes(os.urandom(2 << 20))
    assert_one_line_error(invoke("report", garbage), "more than 10,000 bytes")


# --- 4. plot -------------------------------------------------------------------------------------

@pytest.mark.slow
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


# --- 5. grading against a large network ----------------------------------------------------------

BIG_NET = "input: [3, 8, 8]\nlayers:\n  - {name: conv1, type: conv, filters: 3, kernel: 1, repeat: 9000}\n"


@pytest.mark.slow
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


@pytest.mark.slow
def test_key_of_a_large_network_takes_linear_time(write, tmp_path):
    path = write(BIG_NET, "big.yaml")
    started = time.perf_counter()
    result = invoke("key", path, "-o", tmp_path / "key.yaml")
    assert result.exit_code == 0, result.stderr
    assert time.perf_counter() - started < 30
    assert (tmp_path / "key.yaml").read_text().count("quantity: params") == 9001


# --- 6. the spec file: refused fast, before the work -----------------------------------------


def test_file_over_the_size_limit(write):
    path = write("#" * (MAX_FILE_BYTES + 1))
    check_both(path, f"{MAX_FILE_BYTES:,}")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_device_is_refused_before_reading():
    started = time.perf_counter()
    assert_one_line_error(invoke("validate", "/dev/zero"), "is a device, not a spec file")
    assert time.perf_counter() - started < 5


def test_input_beyond_the_size_limit(write):
    check_both(write(layers_spec("{type: relu}", input=f"[3, {2**31}, 32]")), "at most 2,147,483,647", line=1)


def test_huge_adaptive_pool_output_costs_no_time(write):
    # 1 x 1 x 1 pooled to 1 x 100000 x 100000: fine; then a 100000-wide kernel of the next conv fits.
    started = time.perf_counter()
    result = invoke("report", write(layers_spec("{type: adaptiveavgpool, output: 100000}", input="[1, 1, 1]")),
                    "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert time.perf_counter() - started < 2


def assert_fast_refusal(path, *fragments, seconds=2.0):
    started = time.perf_counter()
    message = check_both(path, *fragments)
    # two commands ran; each well under a second
    assert time.perf_counter() - started < 2 * seconds, "expansion bomb was not refused fast"
    return message


def test_nested_repeats_are_refused_fast(write):
    blocks = ["a: {layers: [{type: relu, repeat: 10000}]}", "b: {layers: [{type: a, repeat: 10000}]}",
              "c: {layers: [{type: b, repeat: 10000}]}"]
    assert_fast_refusal(write(layers_spec("{type: c, repeat: 10000}", blocks=blocks)), "more than 100,000 layers")


def test_blocks_of_blocks_are_refused_fast(write):
    # b0 is 10 layers, each b(i) uses b(i-1) ten times: b8 is 10^9 layers
    blocks = ["b0: {layers: [" + ", ".join(["{type: relu}"] * 10) + "]}"]
    blocks += [f"b{i}: {{layers: [" + ", ".join([f"{{type: b{i - 1}}}"] * 10) + "]}" for i in range(1, 9)]
    assert_fast_refusal(write(layers_spec("{type: b8}", blocks=blocks)), "more than 100,000 layers")


@pytest.mark.slow
def test_repeats_given_by_expressions_are_refused_fast(write):
    # the pre-count cannot see `n * 100`; the expander projects after two repeats instead
    blocks = ["a: {args: {n: 1}, layers: [{type: relu, repeat: n * 100}]}",
              "b: {args: {n: 1}, layers: [{type: a, n: n, repeat: n * 100}]}"]
    assert_fast_refusal(write(layers_spec("{type: b, n: 100}", blocks=blocks)), "more than 100,000 layers",
                        "10,000 repeats of 10,000 layers")


def test_yaml_aliases_multiplying_data_are_refused_fast(write):
    # "billion laughs": each anchor lists the previous one ten times: 10^9 values from 100 written
    lines = ["input: [3, 8, 8]", "source: &l0 [" + ", ".join(["x"] * 10) + "]", "blocks:"]
    for i in range(1, 10):
        lines.append(f"  b{i}: {{description: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "], layers: [{type: relu}]}")
    lines.append("layers: [{type: relu}]")
    assert_fast_refusal(write("\n".join(lines) + "\n"), "YAML aliases expand", f"{MAX_EXPANDED_NODES:,}")


def test_yaml_aliases_multiplying_layers_are_refused_fast(write):
    lines = ["input: [3, 8, 8]", "blocks:", "  a0: {layers: &l0 [" + ", ".join(["{type: relu}"] * 10) + "]}"]
    for i in range(1, 9):
        lines.append(f"  a{i}: {{layers: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]}")
    lines.append("layers: *l8")
    assert_fast_refusal(write("\n".join(lines) + "\n"), "YAML aliases expand")


def test_recursive_yaml_alias(write):
    check_both(write("input: [3, 8, 8]\nsource: &a [x, *a]\nlayers: [{type: relu}]\n"), "recursive anchor", line=2)


def test_layer_limit(write, monkeypatch):
    from cnncalc.spec import expander

    for module in (spec_module, expander):  # the count before expanding, and the expander's own
        monkeypatch.setattr(module, "MAX_LAYERS", 100)
    path = write(layers_spec(*["{type: relu}"] * 101))
    check_both(path, "more than 100 layers")
    # layers under `if` may vanish, so only the expander can count them
    path = write(layers_spec(*["{type: relu, if: true}"] * 101))
    check_both(path, "more than 100 layers")


# --- 7. deep nesting: run in a subprocess, since a C-stack overflow would take pytest down with it -----


@pytest.mark.parametrize("make", [
    lambda: "input: [3, 8, 8]\nlayers: " + "[" * 100_000 + "]" * 100_000 + "\n",
    lambda: "input: [3, 8, 8]\nlayers: " + "[" * 4_900 + "]" * 4_900 + "\n",
    lambda: "input: [3, 8, 8]\nlayers: " + "{a: " * 30_000 + "1" + "}" * 30_000 + "\n",
    lambda: "input: [3, 8, 8]\nlayers:\n" + "".join(" " * i + "- \n" for i in range(2_000)),
    lambda: "input: [3, 8, 8]\nlayers:\n  " + "- " * 30_000 + "x\n",
], ids=["flow-100k", "flow-4900", "flow-mappings-30k", "block-indented-2000", "block-dashes-30k"])
@pytest.mark.slow
def test_deeply_nested_yaml(write, make):
    path = write(make())
    for command in ("report", "validate"):
        done = run_cnncalc(command, path)
        assert done.returncode == 1, (done.returncode, done.stderr[-500:])
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), lines[:3]


# --- 8. tiny inputs do bounded work ---------------------------------------------------------------


POOL_CHAIN = ("input: [1, 2147483647, 2147483647]\nlayers:\n"
              " - {{type: maxpool, kernel: 2, stride: 2147483647, pad: 1, repeat: {n}}}\n")


def test_receptive_fields_saturate(write):
    # j grows by 2^31 - 1 a layer: after 3 layers it is (2^31-1)^3 > 2^63; the field saturates at 2^63
    data = json.loads(ok("report", write(POOL_CHAIN.format(n=4)), "-f", "json"))
    last = data["layers"][-1]
    assert last["receptive_field"] == [FIELD_LIMIT, FIELD_LIMIT] == [2**63, 2**63]
    assert last["effective_stride"] == [2**63, 2**63]
    assert data["layers"][0]["receptive_field"] == [2, 2]  # 1 + (2-1)*1
    explained = ok("report", write(POOL_CHAIN.format(n=4)), "--explain", "maxpool1.3")
    assert "saturated: at least 2^63" in explained


@pytest.mark.slow
def test_a_250_byte_pool_chain_is_fast_and_small(write):
    path = write(POOL_CHAIN.format(n=10000))
    assert os.path.getsize(path) < 250
    started = time.perf_counter()
    for command in (("validate", path), ("report", path, "-f", "json")):
        done = run_cnncalc(*command, "--input", "1x2147483647x2147483647")
        assert done.returncode == 0, done.stderr[-300:]
        assert "Traceback" not in done.stderr
    assert time.perf_counter() - started < 60  # about 1 s each on an idle machine (was 5-8 s and 0.9 GB)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc to read peak memory")
def test_the_pool_chain_stays_small_in_memory(write):
    from cnncalc.report import analyze

    report = analyze(write(POOL_CHAIN.format(n=3000)))
    # every row's numbers are at most 2^63: 64 bits, not 3000 * 31
    assert max(max(row.receptive_field + row.effective_stride) for row in report.rows) == 2**63


def test_stage_merge_is_linear():
    first = [f"stage{i}" for i in range(100_000)]
    second = [f"stage{i}" for i in range(0, 100_000, 2)] + ["extra"]
    started = time.perf_counter()
    order = merged_order([first, second])
    assert time.perf_counter() - started < 2
    assert order == first[:-1] + ["extra", first[-1]]  # after the last name the two share
    assert merged_order([["a", "c"], ["b", "c", "d"], ["x"]]) == ["b", "a", "c", "d", "x"]


@pytest.mark.slow
def test_compare_by_stage_of_many_stages(write):
    path = write("input: [3, 8, 8]\nlayers:\n" + "".join(f"  - {{name: s{i}, type: relu}}\n" for i in range(20_000)))
    started = time.perf_counter()
    result = invoke("compare", path, path, "--by", "stage", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert time.perf_counter() - started < 60


def test_long_lines_keep_the_c_parser():
    text = "input: [3, 8, 8]\nsource: x\nblocks:\n  b: {description: [" + ", ".join(["word"] * 600) + "], " \
           "layers: [{type: relu}]}\nlayers:\n  - {type: b}\n"
    assert max(map(len, text.splitlines())) > 3000
    assert loader._nesting_bound(text) <= loader._C_SAFE_DEPTH
    # a deep block nesting still goes to the pure-Python parser
    deep = "layers:\n" + "".join(" " * i + "- \n" for i in range(3000))
    assert loader._nesting_bound(deep) > loader._C_SAFE_DEPTH
    assert loader._nesting_bound("a:\n  " + "- " * 3000 + "x\n") > loader._C_SAFE_DEPTH
