"""Hostile and careless input (issue 15): no leaks, no hangs, no tracebacks, no forged output.

One section per kind of problem, each example run through the CLI:
1. errors about a file that is not a spec quote nothing of it; devices and FIFOs are never opened;
2. tiny inputs cannot take minutes or gigabytes (receptive fields saturate, stages merge linearly,
   long lines keep the C parser);
3. numbers people type are ASCII digits, bounded: a usage error, never a traceback;
4. every -o goes through one writer;
5. names are printable (checked at load) and every output format escapes what else they hold;
6. JSON output is strict JSON;
7. the graph's own nodes never collide with a layer's name.
"""

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest

from cli_runner import invoke, ok
from test_robustness import assert_one_line_error as one_error_line
from test_robustness import write  # noqa: F401 (a fixture)
from cnncalc import numbers
from cnncalc.spec import loader
from cnncalc.comparison import merged_order
from cnncalc.render.table import table_formats
from cnncalc.receptive import FIELD_LIMIT

SECRET = "root:*:20228:0:99999:7:::"


def usage_error(result, *fragments):
    """Exit 2 with click's usage message (or one error line), never a traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed with {result.exception!r}") from result.exception
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.stdout)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def run_cnncalc(*args, timeout=60):
    """A real process (for time and memory), running this source tree."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-m", "cnncalc", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


# --- 1. errors about files that are not specs quote nothing of them -----------------------------

@pytest.mark.parametrize("text", [
    SECRET + "\nbin:*:20228:0:99999:7:::\n",                        # /etc/shadow: a YAML mapping of one key
    "Name:\tcat\nUmask:\t0022\nState:\tR (running)\n",             # /proc/self/status
    "processor\t: 0\nmodel name\t: Secret CPU\n\nprocessor\t: 1\nmodel name\t: Secret CPU\n",  # /proc/cpuinfo
    "password: hunter2\npassword: hunter3\n",                       # a duplicate key
    "token: [hunter2\n",                                           # a YAML syntax error
    "key: !!python/object/apply:os.system [hunter2]\n",            # a refused tag
    "- hunter2\n- {secret: hunter2}\n",                            # YAML, not a mapping
], ids=["shadow", "proc-status", "cpuinfo", "duplicate-key", "syntax-error", "tag", "list"])
def test_a_file_that_is_not_a_spec_is_not_quoted(write, text):
    path = write(text, "secret")
    for command in ("report", "validate", "graph"):
        message = one_error_line(invoke(command, path), path)
        for word in ("root", "hunter", "Secret", "processor", "Name", "Umask", "password", "token", "python"):
            assert word not in message.replace(path, ""), message
        assert "not a cnncalc spec" in message or "must be a mapping" in message


def test_check_does_not_quote_a_spec_file_that_is_not_a_spec(write):
    write(SECRET + "\n", "shadow.yaml")
    answers = write("spec: shadow.yaml\nanswers:\n  - {layer: total, params: 1}\n", "answers.yaml")
    result = invoke("check", answers)
    assert result.exit_code == 1
    assert "root:" not in result.stdout + result.stderr and "20228" not in result.stdout + result.stderr


@pytest.mark.parametrize("path", ["/etc/shadow", "/proc/self/status", "/proc/cpuinfo", "/etc/passwd"])
def test_system_files_are_not_quoted(path):
    if not os.path.isfile(path):
        pytest.skip(f"no {path} here")
    result = invoke("report", path)
    message = one_error_line(result, path)
    assert message.startswith(f"error: {path}") and len(message) < len(path) + 150
    assert not re.search(r"'(root|Name|processor)", message), message


def test_a_spec_with_a_syntax_error_still_gets_the_details(write):
    path = write("input: [3, 8, 8]\nlayers: [{type: relu}\n")
    one_error_line(invoke("validate", path), "YAML syntax error", f"{path}:")


@pytest.mark.parametrize("device, fragment", [("/dev/zero", "is a device"), ("/dev/null", "is a device")])
def test_devices_are_refused_before_opening(device, fragment):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    one_error_line(invoke("validate", device), fragment, "not a spec file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    done = run_cnncalc("validate", fifo, timeout=30)  # read as a pipe (issue 22): nobody writes, so it is empty
    assert done.returncode == 1 and "the spec is empty" in done.stderr, done.stderr
    assert time.perf_counter() - started < 20


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_device_named_like_a_model_does_not_hang(tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    done = run_cnncalc("report", fifo, timeout=30)
    assert done.returncode == 1 and "not an ONNX model" in done.stderr, done.stderr
    if os.path.exists("/dev/zero"):
        (tmp_path / "zero.onnx").symlink_to("/dev/zero")
        done = run_cnncalc("report", tmp_path / "zero.onnx", timeout=30)
        assert done.returncode == 1 and "is a device" in done.stderr, done.stderr


def test_folder_and_binary_file(write, tmp_path):
    one_error_line(invoke("report", tmp_path), "is a directory")
    one_error_line(invoke("report", write(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "ls")),
                   "not a text file (binary data)")


# --- 2. tiny inputs do bounded work --------------------------------------------------------------

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


# --- 3. numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["layer", "conv", "--input", "²x²x²", "--filters", "2", "--kernel", "1"], "--input must look like"),
    (["layer", "conv", "--input", "8x8x3", "--filters", "2", "--kernel", "³"], "--kernel must be a whole number"),
    (["layer", "conv", "--input", "８x８x３", "--filters", "2", "--kernel", "1"], "--input must look like"),
    (["layer", "conv", "--input", "8x8x3", "--filters", "2", "--kernel", "1_0"], "--kernel must be a whole number"),
    (["report", "alexnet", "--input", "²x²x²"], "--input must look like"),
    (["report", "alexnet", "--input", "٣x٢٢٧x٢٢٧"], "--input must look like"),
    (["report", "alexnet", "--input", "9" * 5000], "--input must look like"),
])
def test_non_ascii_and_huge_sizes_are_usage_errors(args, fragment):
    one_error_line(invoke(*args), fragment, code=2)


@pytest.mark.parametrize("command", [["report", "alexnet"], ["compare", "alexnet"], ["layer", "relu", "--input", "4"]])
@pytest.mark.parametrize("batch", ["1" * 4299, "３", "1_000", "²", str(2**31), "0", "-1"])
def test_batch_is_ascii_and_bounded(command, batch):
    usage_error(invoke(*command, "--batch", batch), "--batch")


def test_batch_at_its_maximum_prints(write):
    data = json.loads(ok("report", "lenet5", "--batch", str(numbers.MAX_BATCH), "-f", "json"))
    assert data["batch"] == 2**31 - 1


def test_options_that_take_sizes_are_bounded():
    usage_error(invoke("layer", "conv", "--input", "8x8x3", "--filters", "9" * 5000, "--kernel", "1"), "--filters")
    usage_error(invoke("report", "alexnet", "--depth", "²"), "--depth")


def test_the_number_parser():
    assert numbers.read_whole(" 42 ") == 42
    assert numbers.read_sizes("[3, 224, 224]") == [3, 224, 224] == numbers.read_sizes("3×224×224")
    for bad in ("²", "３", "1_000", "", "-1", "+1", "1e3", "0x10", "9" * 101, "٣"):
        with pytest.raises(ValueError):
            numbers.read_whole(bad)


def test_library_batch_is_bounded():
    import cnncalc

    with pytest.raises(cnncalc.CnnCalcError, match="at most 2,147,483,647"):
        cnncalc.analyze("lenet5", batch=2**31)


# --- 4. -o through one writer --------------------------------------------------------------------

@pytest.mark.parametrize("command", [["report", "lenet5"], ["compare", "lenet5", "alexnet"], ["graph", "lenet5"],
                                     ["schema"]])
def test_every_output_option_creates_folders_and_refuses_special_files(tmp_path, command):
    target = tmp_path / "new" / "folder" / "out.txt"
    result = invoke(*command, "-o", target)
    assert result.exit_code == 0, result.stderr
    assert target.read_text(encoding="utf-8").strip() and result.stdout == ""
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]  # no temporary file left behind
    one_error_line(invoke(*command, "-o", tmp_path), "cannot write", "a folder")
    if os.path.exists("/dev/full"):
        one_error_line(invoke(*command, "-o", "/dev/full"), "cannot write", "not a regular file")


# --- 5. names and escaping -----------------------------------------------------------------------

@pytest.mark.parametrize("name, fragment", [
    ("a\\nb", "a line break (U+000A)"),
    ("a\\e[2Jb", "a control character (U+001B)"),
    ("a\\x07b", "a control character (U+0007)"),
    ("a\\x7fb", "a control character (U+007F)"),
    ("a\\x85b", "a line break (U+0085)"),
    ("a\\x9bb", "a control character (U+009B)"),
    ("a\\u202Egnp", "direction-changing character (U+202E)"),
    ("a\\u200Bb", "direction-changing character (U+200B)"),
    ("a\\u2028b", "a line break (U+2028)"),
    ("a\\tb", "a control character (U+0009)"),
])
def test_names_may_hold_only_printable_characters(write, name, fragment):
    layer = write(f'input: [3, 8, 8]\nlayers:\n  - {{name: "{name}", type: relu}}\n')
    one_error_line(invoke("report", layer), f"{layer}:3:", "'name' holds", fragment)
    network = write(f'name: "{name}"\ninput: [3, 8, 8]\nlayers: [{{type: relu}}]\n', "net.yaml")
    one_error_line(invoke("compare", network), f"{network}:1:", "'name' holds", fragment)
    source = write(f'source: "{name}"\ninput: [3, 8, 8]\nlayers: [{{type: relu}}]\n', "src.yaml")
    one_error_line(invoke("validate", source), f"{source}:1:", "'source' holds", fragment)


def test_name_lengths_are_bounded(write):
    one_error_line(invoke("report", write(f"input: [3, 8, 8]\nlayers: [{{name: {'n' * 101}, type: relu}}]\n")),
                   "101 characters long; the limit is 100")
    blocks = "blocks:\n" + "".join(f"  b{i}: {{layers: [{{name: {'x' * 90}, type: b{i + 1}}}]}}\n" for i in range(3))
    blocks += "  b3: {layers: [{type: relu}]}\n"
    one_error_line(invoke("report", write("input: [3, 8, 8]\n" + blocks + "layers: [{name: top, type: b0}]\n")),
                   "full name is", "the limit is 200")


HOSTILE_NAMES = ['=HYPERLINK("http://evil/?"&A1)', "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                 "a|b|c", "\\\\input{/etc/passwd}", "$\\\\frac{", "@SUM(1+1)", "-2+3", "+cmd", ".. include:: x",
                 "`x <javascript:alert(1)>`_", "#lt;script#gt;", "{{Template}}", "[[Category:x]]"]


@pytest.fixture
def hostile_spec(write):
    layers = "".join(f"  - {{name: {json.dumps(name)}, type: relu}}\n" for name in HOSTILE_NAMES)
    return write(f"name: {json.dumps('<script>x</script>|=1+1')}\ninput: [3, 8, 8]\nlayers:\n{layers}", "hostile.yaml")


RAW_MARKUP = ("<script>", "<img")
PIPE_FORMATS = ("github", "pipe", "jira", "orgtbl", "mediawiki", "textile", "moinmoin", "youtrack", "asciidoc")
MARKUP_FORMATS = ("html", "unsafehtml", "github", "pipe", "mediawiki", "textile", "moinmoin", "youtrack")


@pytest.mark.parametrize("fmt", table_formats())
def test_every_report_format_escapes_names(hostile_spec, fmt):
    out = ok("report", hostile_spec, "-f", fmt, "--columns", "name,output")
    assert "\x1b" not in out and not any(c for c in out if not (c.isprintable() or c in "\n\t"))
    if fmt in MARKUP_FORMATS:
        assert not any(markup in out for markup in RAW_MARKUP), out
    if fmt in PIPE_FORMATS:
        assert "a|b|c" not in out
    if fmt.startswith("latex"):
        assert "\\input{" not in out and "$\\frac" not in out
    if fmt == "rst":
        assert not re.search(r"^\s*\.\. include::", out, re.MULTILINE) and not re.search(r"(?<!\\)`", out)
    if fmt == "tsv":
        assert all(line.count("\t") == 1 for line in out.splitlines() if "\t" in line)
    if fmt == "csv":
        cells = [cell for line in out.splitlines() for cell in line.split(",")]
        assert not [cell for cell in cells if cell.lstrip('"')[:1] in ("=", "+", "-", "@")], out
        assert "'=HYPERLINK" in out and "'@SUM" in out and "'-2+3" in out and "'+cmd" in out


@pytest.mark.parametrize("fmt", ["simple", "github", "html", "latex_raw", "mediawiki", "csv", "json"])
def test_compare_escapes_network_names(hostile_spec, fmt):
    out = ok("compare", "lenet5", hostile_spec, "-f", fmt)
    if fmt not in ("json", "csv", "simple"):
        assert "<script>" not in out
    if fmt == "csv":
        assert not [line for line in out.splitlines() if line[:1] in "=+-@"]
    if fmt == "json":
        json.loads(out)
    # a ratio line per model after the first: the name cannot add another
    if fmt == "simple":
        assert sum(" vs LeNet-5: " in line for line in out.splitlines()) == 1


def test_graph_escapes_markup(hostile_spec):
    mermaid = ok("graph", hostile_spec, "-f", "mermaid")
    assert not any(markup in mermaid for markup in RAW_MARKUP)
    assert "#35;lt;script#35;gt;" in mermaid  # a name written as Mermaid entity codes stays text
    assert mermaid.splitlines()[1].startswith('title: "')
    dot = ok("graph", hostile_spec)
    assert all(line.count('"') % 2 == 0 or '\\"' in line for line in dot.splitlines())


def test_plot_draws_hostile_names(hostile_spec, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "plot.svg"
    result = invoke("plot", hostile_spec, "-o", target)
    assert result.exit_code == 0, (result.stderr, result.exception)
    root = ElementTree.parse(target).getroot()  # valid XML
    assert root.tag.endswith("svg")
    text = target.read_text(encoding="utf-8")
    assert "<script>" not in text


def test_plot_writes_through_the_shared_writer(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "made" / "here.png"
    result = invoke("plot", "lenet5", "-o", target)
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in target.parent.iterdir()] == ["here.png"]
    one_error_line(invoke("plot", "lenet5", "-o", tmp_path / "made"), "the plot file must end in", code=2)


def test_file_names_are_printed_escaped(tmp_path):
    path = tmp_path / "evil\x1b[2J\nok: forged.yaml"
    path.write_text("input: [3, 8, 8]\nlayers: [{type: relu}]\n", encoding="utf-8")
    result = invoke("validate", "-v", path)
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and len(result.stdout.strip().splitlines()) == 1
    bad = tmp_path / "bad\x1b]0;title\x07.yaml"
    bad.write_text("", encoding="utf-8")
    message = one_error_line(invoke("validate", bad), "the spec is empty")
    assert "\x1b" not in message and "\x07" not in message


# --- 6. strict JSON ------------------------------------------------------------------------------

def _strict(text):
    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_outputs_are_strict(hostile_spec):
    _strict(ok("report", hostile_spec, "-f", "json"))
    _strict(ok("compare", "lenet5", hostile_spec, "-f", "json"))
    _strict(ok("layer", "conv", "--input", "8x8x3", "--filters", "2", "--kernel", "1", "-f", "json"))
    from cnncalc.render.data import render_json

    with pytest.raises(ValueError):
        render_json({"x": float("nan")})


# --- 7. the graph's own nodes --------------------------------------------------------------------

DOT_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"\];$')


def test_a_layer_named_output_keeps_its_edges():
    edges = [DOT_EDGE.match(line).groups() for line in ok("graph", "lenet5").splitlines() if "->" in line]
    assert ("F6", "output", "84") in edges  # the layer called output
    assert edges[-1] == ("output", "output_", "10")  # the network's output, apart from it
    mermaid = ok("graph", "lenet5", "-f", "mermaid")
    assert mermaid.count('(["output"])') == 1 and '["output<br/>fc, 10"]' in mermaid


def test_layers_named_like_the_fallback_ids(write):
    path = write("input: [3, 8, 8]\nlayers:\n  - {name: output, type: relu}\n  - {name: output_, type: relu}\n")
    edges = [DOT_EDGE.match(line).groups() for line in ok("graph", path).splitlines() if "->" in line]
    assert edges == [("input", "output", "3x8x8"), ("output", "output_", "3x8x8"), ("output_", "output__", "3x8x8")]


# --- 3 (answers). answer values go through the same number parser ----------------------------------

@pytest.mark.parametrize("claim", ["output_shape: ²x²", "output_shape: ５５x５５x６４", 'params: "２３２９６"',
                                   'params: "٢٣٢٩٦"', f'params: "{"9" * 5000}"', f'output_shape: "{"9" * 5000}x5"',
                                   'params: "1e308"'])
def test_answer_numbers_are_ascii_and_bounded(write, claim):
    answers = write(f"spec: alexnet\nanswers:\n  - {{layer: conv1, {claim}}}\n", "answers.yaml")
    result = invoke("check", answers, "--no-explain")
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stdout + result.stderr
    assert "error" in result.stdout and "right " not in result.stdout
    assert max(map(len, result.stdout.splitlines())) < 300  # a 5,000-digit answer is not echoed whole
