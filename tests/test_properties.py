"""Property-based tests: random valid specs keep the invariants; random mutations never crash.

The generator builds specs layer by layer and works out each output shape itself with the
formulas of DESIGN.md (an oracle independent of cnncalc's rules):
``floor((W + 2P - D*(K-1) - 1) / S) + 1`` for windows (PyTorch's ceil_mode variant for pools) and
``(W - 1)*S - 2P + D*(K-1) + output_pad + 1`` for transposed convolutions.
"""

import json
import math
import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
import yaml  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncalc  # noqa: E402
from cli_runner import invoke  # noqa: E402
from helpers import write_file  # noqa: E402

# CNNCALC_FUZZ_EXAMPLES=5000 explores further (with fresh random seeds) than the quick default run.
EXAMPLES = int(os.environ.get("CNNCALC_FUZZ_EXAMPLES", "0")) or None
SETTINGS = settings(max_examples=EXAMPLES or 60, deadline=None, derandomize=EXAMPLES is None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


# --- the oracle -----------------------------------------------------------------------------------

def window_out(size, kernel, stride, pad, dilation=1, ceil_mode=False):
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad:  # PyTorch: the last window must start inside the input or left pad
        out -= 1
    return out


def transposed_out(size, kernel, stride, pad, dilation, output_pad):
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_pad + 1


# --- random valid specs ---------------------------------------------------------------------------

BLOCKS = {"same": {"args": {"c": None, "k": 3},
                   "layers": [{"name": "conv", "type": "conv", "filters": "c", "kernel": "k", "pad": "k // 2"},
                              {"name": "bn", "type": "bn", "act": "relu"}]}}


class Builder:
    """Draws layers that fit the current shape; ``expected`` is the (name, out shape) of each row."""

    def __init__(self, draw, shape):
        self.draw = draw
        self.shape = shape
        self.current = "input"
        self.layers = []
        self.expected = []
        self.count = 0

    def name(self):
        self.count += 1
        return f"l{self.count}"

    def add(self, layer, shape, rows=None):
        self.layers.append(layer)
        self.expected += rows if rows is not None else [(layer["name"], shape)]
        self.shape = shape
        self.current = layer["name"]

    def ints(self, low, high):
        return self.draw(st.integers(low, max(low, high)))

    def step(self):
        if len(self.shape) == 1:
            kind = self.draw(st.sampled_from(["fc", "relu", "dropout", "softmax", "bn"]))
        else:
            kind = self.draw(st.sampled_from(["conv", "conv", "grouped", "dwconv", "pool", "convtranspose",
                                              "upsample", "adaptive", "global", "bn", "relu", "residual",
                                              "concat", "se", "block", "flatten"]))
        getattr(self, "make_" + kind)()

    # shape-preserving and flat layers
    def make_relu(self):
        self.add({"name": self.name(), "type": self.draw(st.sampled_from(["relu", "sigmoid", "gelu"]))}, self.shape)

    def make_dropout(self):
        self.add({"name": self.name(), "type": "dropout"}, self.shape)

    def make_softmax(self):
        self.add({"name": self.name(), "type": "softmax"}, self.shape)

    def make_bn(self):
        self.add({"name": self.name(), "type": "bn"}, self.shape)

    def make_flatten(self):
        self.add({"name": self.name(), "type": "flatten"}, (math.prod(self.shape),))

    def make_fc(self):
        units = self.ints(1, 32)
        self.add({"name": self.name(), "type": "fc", "units": units, "bias": self.draw(st.booleans())}, (units,))

    # windows
    def conv_window(self):
        c, h, w = self.shape
        pad, dilation = self.ints(0, 2), self.ints(1, 2)
        largest = (min(h, w) + 2 * pad - 1) // dilation + 1
        return self.ints(1, min(largest, 7)), self.ints(1, 3), pad, dilation

    def make_conv(self, groups=1, filters=None, kind="conv"):
        c, h, w = self.shape
        kernel, stride, pad, dilation = self.conv_window()
        filters = filters or self.ints(1, 16)
        layer = {"name": self.name(), "type": kind, "kernel": kernel, "stride": stride, "pad": pad,
                 "dilation": dilation, "bias": self.draw(st.booleans())}
        if kind == "conv":
            layer["filters"] = filters
        if groups > 1 and kind == "conv":
            layer["groups"] = groups
        if self.draw(st.booleans()):
            layer["act"] = "relu"
        out = (filters, window_out(h, kernel, stride, pad, dilation), window_out(w, kernel, stride, pad, dilation))
        self.add(layer, out)

    def make_grouped(self):
        c = self.shape[0]
        groups = self.draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        self.make_conv(groups=groups, filters=groups * self.ints(1, 3))

    def make_dwconv(self):
        self.make_conv(filters=self.shape[0], kind="dwconv")

    def make_pool(self):
        c, h, w = self.shape
        kernel = self.ints(1, min(h, w, 4))
        pad = self.ints(0, kernel // 2)
        stride = self.draw(st.one_of(st.none(), st.integers(1, 3)))
        ceil_mode = self.draw(st.booleans())
        layer = {"name": self.name(), "type": self.draw(st.sampled_from(["maxpool", "avgpool"])),
                 "kernel": kernel, "pad": pad, "ceil_mode": ceil_mode}
        if stride is not None:
            layer["stride"] = stride
        step = stride or kernel
        self.add(layer, (c, window_out(h, kernel, step, pad, 1, ceil_mode), window_out(w, kernel, step, pad, 1,
                                                                                        ceil_mode)))

    def make_convtranspose(self):
        c, h, w = self.shape
        kernel, stride, dilation = self.ints(1, 4), self.ints(1, 3), self.ints(1, 2)
        output_pad = self.ints(0, max(stride, dilation) - 1)
        pad = self.ints(0, 2)
        if min(transposed_out(h, kernel, stride, pad, dilation, output_pad),
               transposed_out(w, kernel, stride, pad, dilation, output_pad)) < 1:
            pad = 0
        filters = self.ints(1, 8)
        out = (filters, transposed_out(h, kernel, stride, pad, dilation, output_pad),
               transposed_out(w, kernel, stride, pad, dilation, output_pad))
        if max(out[1:]) > 256:
            return self.make_relu()
        self.add({"name": self.name(), "type": "convtranspose", "filters": filters, "kernel": kernel,
                  "stride": stride, "pad": pad, "dilation": dilation, "output_pad": output_pad}, out)

    def make_upsample(self):
        c, h, w = self.shape
        scale = self.ints(1, 3)
        if max(h, w) * scale > 256:
            return self.make_relu()
        self.add({"name": self.name(), "type": "upsample", "scale": scale}, (c, h * scale, w * scale))

    def make_adaptive(self):
        size = self.ints(1, 8)
        self.add({"name": self.name(), "type": "adaptiveavgpool", "output": size}, (self.shape[0], size, size))

    def make_global(self):
        self.add({"name": self.name(), "type": "globalavgpool"}, (self.shape[0], 1, 1))

    # branches
    def same_conv(self, source, filters):
        kernel = self.draw(st.sampled_from([1, 3, 5]))
        return {"name": self.name(), "type": "conv", "from": source, "filters": filters, "kernel": kernel,
                "pad": kernel // 2}

    def make_residual(self):
        x, shape = self.current, self.shape
        branch = self.same_conv(x, shape[0])
        self.add(branch, shape)
        self.add({"name": self.name(), "type": "add", "from": [x, branch["name"]], "act": "relu"}, shape)

    def make_concat(self):
        x, (_, h, w) = self.current, self.shape
        a, b = self.same_conv(x, self.ints(1, 8)), self.same_conv(x, self.ints(1, 8))
        self.add(a, (a["filters"], h, w))
        self.add(b, (b["filters"], h, w))
        self.add({"name": self.name(), "type": "concat", "from": [a["name"], b["name"]]},
                 (a["filters"] + b["filters"], h, w))

    def make_se(self):
        x, shape = self.current, self.shape
        self.add({"name": self.name(), "type": "globalavgpool"}, (shape[0], 1, 1))
        self.add({"name": self.name(), "type": "conv", "filters": shape[0], "kernel": 1, "act": "sigmoid"},
                 (shape[0], 1, 1))
        self.add({"name": self.name(), "type": "mul", "from": [x, self.current]}, shape)

    def make_block(self):
        c, h, w = self.shape
        filters, kernel, repeat = self.ints(1, 8), self.draw(st.sampled_from([1, 3])), self.ints(1, 3)
        name = self.name()
        rows = []
        for index in range(repeat):
            rows += [(f"{name}.{index}.conv", (filters, h, w)), (f"{name}.{index}.bn", (filters, h, w))]
        self.add({"name": name, "type": "same", "c": filters, "k": kernel, "repeat": repeat}, (filters, h, w),
                 rows)


@st.composite
def valid_specs(draw):
    """(spec document, expected rows) for a random valid network."""
    if draw(st.integers(0, 9)) == 0:
        shape = (draw(st.integers(1, 64)),)
    else:
        shape = (draw(st.integers(1, 8)), draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    builder = Builder(draw, shape)
    for _ in range(draw(st.integers(1, 8))):
        builder.step()
    document = {"name": "random", "input": list(shape), "blocks": BLOCKS, "layers": builder.layers}
    return document, builder.expected


def dump(document):
    return yaml.safe_dump(document, default_flow_style=None, sort_keys=False, width=1000)


@SETTINGS
@given(valid_specs())
@pytest.mark.slow
def test_random_valid_specs_keep_the_invariants(folder, case):
    document, expected = case
    path = write_file(folder, "spec.yaml", dump(document))
    report = cnncalc.analyze(path)
    rows = report.rows
    assert [(row.name, tuple(row.out_shape)) for row in rows] == [(name, tuple(s)) for name, s in expected]
    for row in rows:
        assert all(size >= 1 for size in row.out_shape)
        assert row.memory_bytes == math.prod(row.out_shape) * 4  # fp32
        assert min(row.receptive_field) >= 1
    for key in ("params", "buffers", "macs", "flops", "memory_bytes"):
        assert report.totals[key] == sum(getattr(row, key) for row in rows), key

    result = invoke("report", path, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert json.loads(json.dumps(data)) == data
    assert [(layer["name"], tuple(layer["out_shape"])) for layer in data["layers"]] == [
        (name, tuple(s)) for name, s in expected]
    for key in ("params", "buffers", "macs", "flops", "memory_bytes"):
        assert data["totals"][key] == report.totals[key] == sum(layer[key] for layer in data["layers"])


# --- random mutations never produce a traceback -------------------------------------------------

NASTY = [-1, 0, 1, 2.5, 1e300, float("inf"), float("-inf"), float("nan"), True, False, None, "three", "",
         "same", "relu", "x * 2", "__import__('os')", "c.real", "1 << 99", [], [0], [1, 2, 3], {}, {"a": 1},
         10**30, 2**31, "input", "l1", ["input", "l1"], "9" * 50]
KEYS = ["name", "type", "from", "filters", "kernel", "stride", "pad", "dilation", "groups", "bias", "act", "units",
        "output", "scale", "output_pad", "ceil_mode", "repeat", "if", "first", "c", "k", "unknown"]
NOISE = list(" \t\n:-[]{}&*!|>#'\",?%@`0a")


def mutate_document(document, rng):
    """Change one thing in the (copied) document: a key's value, a missing key, or a top-level value."""
    document = json.loads(json.dumps(document))  # deep copy of plain data
    choice = rng.randrange(6)
    layers = document["layers"]
    if choice == 0:
        document[rng.choice(["input", "layers", "blocks", "name"])] = rng.choice(NASTY)
    elif choice == 1 and layers:
        layers.pop(rng.randrange(len(layers)))
    elif choice == 2 and layers:
        layer = rng.choice(layers)
        if layer:
            layer.pop(rng.choice(sorted(layer)))
    elif choice == 3:
        block = document["blocks"]["same"]
        target = rng.choice([block["args"], rng.choice(block["layers"]), block])
        target[rng.choice(KEYS + ["args", "layers", "output"])] = rng.choice(NASTY)
    elif layers:
        rng.choice(layers)[rng.choice(KEYS)] = rng.choice(NASTY)
    return document


def mutate_text(text, rng):
    """Delete, insert or duplicate characters and lines at random."""
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(text) + 1)
        choice = rng.randrange(4)
        if choice == 0 and text:
            text = text[:position] + text[position + 1:]
        elif choice == 1:
            text = text[:position] + rng.choice(NOISE) + text[position:]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                index = rng.randrange(len(lines))
                lines.insert(index, lines[index]) if choice == 2 else lines.pop(index)
                text = "".join(lines)
    return text


def assert_no_crash(result, codes=(0, 1)):
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"crashed with {result.exception!r}") from result.exception
    assert result.exit_code in codes, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout


def assert_clean_failure(result):
    assert_no_crash(result)
    if result.exit_code == 1:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@SETTINGS
@given(valid_specs(), st.randoms(use_true_random=False))
def test_mutated_specs_fail_cleanly(folder, case, rng):
    document = mutate_document(case[0], rng)
    assert_clean_failure(invoke("report", write_file(folder, "spec.yaml", dump(document)), "--format", "csv"))


@SETTINGS
@given(valid_specs(), st.randoms(use_true_random=False))
@pytest.mark.slow
def test_mutated_spec_text_fails_cleanly(folder, case, rng):
    text = mutate_text(dump(case[0]), rng)
    assert_clean_failure(invoke("report", write_file(folder, "spec.yaml", text), "--format", "csv"))


@pytest.fixture(scope="module")
def builtin_texts():
    from cnncalc import builtins

    names = [name for name in ("alexnet", "resnet50", "mobilenet_v2", "googlenet", "densenet121")
             if name in builtins.names()]
    texts = []
    for name in names:
        with open(builtins.path_of(name), encoding="utf-8") as handle:
            texts.append(handle.read())
    return texts


@SETTINGS
@given(st.randoms(use_true_random=False))
@pytest.mark.slow
def test_mutated_builtin_specs_fail_cleanly(folder, builtin_texts, rng):
    text = mutate_text(rng.choice(builtin_texts), rng)
    assert_clean_failure(invoke("validate", write_file(folder, "builtin.yaml", text)))


# --- answer files (`cnncalc check`) ---------------------------------------------------------------

ANSWERS = {
    "spec": "alexnet",
    "input": [3, 227, 227],
    "answers": [
        # EECS 498-007 lecture 8 at 3 x 227 x 227: conv1 64 x 56 x 56, (11*11*3 + 1)*64 = 23,296 params
        {"layer": "conv1", "output_shape": "56x56x64", "params": 23296},
        # pool1 64 x 27 x 27: 64*27*27*4/1024 = 182.25 KB; flop 64*27*27 * 3*3 = 419,904
        {"layer": "pool1", "output_shape": [64, 27, 27], "memory_kb": 182.25, "flops": 419904},
        {"layer": "total", "params": "61.1M"},
    ],
}
ANSWER_KEYS = ["layer", "output_shape", "params", "macs", "flops", "memory_bytes", "memory_kb", "receptive_field",
               "fits", "points", "question", "unknown"]


def mutate_answers(rng, inline_spec=None):
    document = json.loads(json.dumps(ANSWERS))
    if inline_spec is not None:
        document["spec"], document["input"] = inline_spec, inline_spec.get("input", [3, 8, 8])
        document["answers"] = [{"layer": "total", "params": 0}]
    choice = rng.randrange(4)
    if choice == 0:
        document[rng.choice(["spec", "input", "answers", "batch", "dtype", "title", "extra"])] = rng.choice(NASTY)
    elif choice == 1:
        document.pop(rng.choice(sorted(document)))
    else:
        answer = rng.choice(document["answers"])
        answer[rng.choice(ANSWER_KEYS)] = rng.choice(NASTY + ["56x56", "64x56x56x1", "1.5K", "12 M", "~3"])
    return document


@SETTINGS
@given(st.randoms(use_true_random=False))
@pytest.mark.slow
def test_mutated_answer_files_never_crash(folder, rng):
    text = dump(mutate_answers(rng))
    if rng.random() < 0.3:
        text = mutate_text(text, rng)
    assert_no_crash(invoke("check", write_file(folder, "answers.yaml", text)))


@SETTINGS
@given(valid_specs(), st.randoms(use_true_random=False))
@pytest.mark.slow
def test_answer_files_with_mutated_inline_specs_never_crash(folder, case, rng):
    text = dump(mutate_answers(rng, inline_spec=mutate_document(case[0], rng)))
    assert_no_crash(invoke("check", write_file(folder, "answers.yaml", text), "--format", "json"))


def test_adaptive_windows_closed_form_matches_the_windows():
    """The rule's closed form against PyTorch's windows [floor(i*n/o), ceil((i+1)*n/o)) listed out."""
    from cnncalc.rules import _adaptive_windows

    for size in range(1, 60):
        for out in range(1, 60):
            lengths = [-(-(i + 1) * size // out) - (i * size // out) for i in range(out)]
            assert _adaptive_windows(size, out) == (max(lengths), sum(lengths)), (size, out)

