"""Helpers several test files share: writing a file, the one-line error, a real process, small specs."""

import os
import subprocess
import sys

from cli_runner import invoke

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_file(folder, name, text):
    """Write ``text`` (str or bytes) to ``folder/name``, making folders on the way; the path as a str."""
    path = os.path.join(str(folder), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(text, bytes):
        with open(path, "wb") as handle:
            handle.write(text)
    else:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    return path


def assert_one_line_error(result, *fragments, code=1):
    """Exit ``code``, one `error: ...` line on stderr holding every fragment, no traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed with {result.exception!r}") from result.exception
    err = result.stderr
    assert result.exit_code == code, (result.exit_code, err, result.stdout)
    assert "Traceback" not in err + result.stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def usage_error(result, *fragments):
    """Exit 2 with click's usage message (or one error line), never a traceback."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed with {result.exception!r}") from result.exception
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.stdout)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def report_notes(path):
    """The `note:` lines `cnncalc report PATH` writes to stderr (it must succeed)."""
    result = invoke("report", path)
    assert result.exit_code == 0, result.output
    return [line for line in result.stderr.splitlines() if line.startswith("note: ")]


def run_cnncalc(*args, timeout=120):
    """``python -m cnncalc ARGS...`` as a real process running this source tree (for time, memory, deep
    recursion that would take pytest down with it)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "cnncalc", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def check_both(path, *fragments, line=None, layer=None):
    """`report` and `validate` both refuse ``path`` with the same located one-line message."""
    location = f"{path}:{line}:" if line is not None else f"{path}:"
    layer_part = [f": {layer}: "] if layer else []
    message = assert_one_line_error(invoke("report", path), location, *layer_part, *fragments)
    assert_one_line_error(invoke("validate", path), location, *layer_part, *fragments)
    return message


def layers_spec(*layers, input="[3, 32, 32]", blocks=None):
    """A spec text: ``input`` on line 1, then (blocks), then `layers:` and one layer per line."""
    lines = [f"input: {input}"]
    if blocks:
        lines += ["blocks:"] + [f"  {b}" for b in blocks]
    lines += ["layers:"] + [f"  - {layer}" for layer in layers]
    return "\n".join(lines) + "\n"


def relu_chain(tmp_path, count, name=lambda i: f"r{i}", file="model.onnx", producer="test"):
    """An ONNX file of ``count`` chained Relu nodes (skips the test without the onnx package)."""
    import pytest  # here: benchmarks/ import this folder's helpers without pytest

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}"], name=name(i)) for i in range(count)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info(f"t{count}", TensorProto.FLOAT, None)])
    path = tmp_path / file
    path.write_bytes(helper.make_model(graph, producer_name=producer).SerializeToString())
    assert onnx is not None
    return str(path)
