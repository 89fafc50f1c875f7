"""A newcomer's second hour: install hints that work, help that names every input, exit codes that
agree, notes where numbers surprise. Every point is checked from the outside, through the CLI.

Reference values are the lecture's arithmetic or published figures written out here, never copied from the
program's output.
"""

import json
import os
import re
import sys

import pytest

from cli_runner import invoke, ok, runner
from cnncalc import install
from cnncalc.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# AlexNet (torchvision) at 224: conv1 64*55*55*363, conv2 192*27*27*1600, conv3 384*13*13*1728,
# conv4 256*13*13*3456, conv5 256*13*13*2304, fc 9216*4096 + 4096*4096 + 4096*1000
ALEXNET_224_MACS = 64 * 55 * 55 * 363 + 192 * 27 * 27 * 1600 + 384 * 13 * 13 * 1728 + 256 * 13 * 13 * 3456 \
    + 256 * 13 * 13 * 2304 + 9216 * 4096 + 4096 * 4096 + 4096 * 1000


def spec_file(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- install hints -------------------------------------------------------------------------------------

@pytest.fixture
def own_pip(monkeypatch):
    """PATH's first pip is this interpreter's, so a hint starts with plain `pip`."""
    folder = os.path.dirname(sys.executable)
    monkeypatch.setenv("PATH", folder + os.pathsep + os.environ.get("PATH", ""))
    if not os.path.exists(os.path.join(folder, "pip")):
        pytest.skip("no pip beside this interpreter")


def without_onnx(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    from cnncalc.onnx import reader

    monkeypatch.setattr(reader, "_GENERATED", [])


def test_onnx_hint_in_the_clone_is_dot_extra(tmp_path, monkeypatch, own_pip):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07")
    without_onnx(monkeypatch)
    monkeypatch.chdir(ROOT)  # the tests run from this clone: `pip install '.[onnx]'` is what works here
    result = invoke("report", path)
    assert result.exit_code == 1
    assert result.stderr == f"error: {path}: reading .onnx files needs the onnx package: pip install '.[onnx]'\n"
    assert "cnncalc[onnx]" not in result.stderr  # not on the package index


def test_onnx_hint_elsewhere_names_the_clone(tmp_path, monkeypatch, own_pip):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07")
    without_onnx(monkeypatch)
    monkeypatch.chdir(tmp_path)
    result = invoke("report", path)
    assert result.exit_code == 1 and result.stderr.endswith(f"pip install '{ROOT}[onnx]'\n")


def test_plot_hint_without_matplotlib(tmp_path, monkeypatch, own_pip):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.chdir(ROOT)
    result = invoke("plot", "alexnet", "-o", tmp_path / "a.png")
    assert result.exit_code == 1
    assert result.stderr == "error: matplotlib is needed: pip install '.[plot]'\n"


def installed_copy(monkeypatch, tmp_path, record):
    """This module as if it were an installed copy in site-packages, with ``record`` as its direct_url.json."""
    site = tmp_path / "lib" / "site-packages"
    (site / "cnncalc").mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(install, "PACKAGE_ROOT", str(site / "cnncalc"))
    monkeypatch.setattr(install, "direct_url", lambda: record)


def test_hint_for_a_copy_installed_from_a_clone(tmp_path, monkeypatch, own_pip):
    installed_copy(monkeypatch, tmp_path, {"url": "file://" + ROOT, "dir_info": {}})
    monkeypatch.chdir(tmp_path)
    assert install.install_hint("onnx") == f"pip install '{ROOT}[onnx]'"
    monkeypatch.chdir(ROOT)
    assert install.install_hint("plot") == "pip install '.[plot]'"


def test_hint_for_a_copy_installed_from_git(tmp_path, monkeypatch, own_pip):
    installed_copy(monkeypatch, tmp_path, {"url": "file:///srv/cnncalc",
                                           "vcs_info": {"vcs": "git", "commit_id": "abc", "requested_revision": "v1"}})
    # pip 23 refuses 'cnncalc[onnx] @ git+file:///srv/cnncalc@abc' ("Invalid URL"): the package the extra adds
    assert install.install_hint("onnx") == "pip install 'onnx>=1.12'"


def test_hint_for_a_wheel_or_a_vanished_clone_is_the_package_itself(tmp_path, monkeypatch, own_pip):
    installed_copy(monkeypatch, tmp_path, None)
    assert install.install_hint("onnx") == "pip install 'onnx>=1.12'"
    installed_copy(monkeypatch, tmp_path, {"url": "file://" + str(tmp_path / "gone"), "dir_info": {}})
    assert install.install_hint("plot") == "pip install 'matplotlib>=3.5'"


def test_hint_uses_this_python_when_pip_on_path_is_another(tmp_path, monkeypatch):
    other = tmp_path / "bin"
    other.mkdir()
    (other / "pip").write_text("#!/bin/sh\n")
    (other / "pip").chmod(0o755)
    monkeypatch.setenv("PATH", str(other))
    assert install.pip_command() == f"{sys.executable} -m pip"


def test_the_extras_are_those_of_pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    for extra, requirement in install.EXTRAS.items():
        assert extras[extra] == [requirement]


def test_no_doc_or_message_names_the_absent_package():
    """`pip install 'cnncalc[...]'` fails: cnncalc is not on the package index."""
    for folder in ("cnncalc", "docs"):
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith((".py", ".md")):
                    with open(os.path.join(base, name), encoding="utf-8") as handle:
                        text = handle.read()
                    assert not re.search(r"pip install 'cnncalc\[\w+\]'", text), name
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert not re.search(r"pip install 'cnncalc\[\w+\]'", readme) and "pip install '.[onnx]'" in readme


# --- --help names every input --------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["report", "compare", "graph", "plot", "validate", "page", "key"])
def test_spec_help_names_yaml_builtin_onnx_and_stdin(command):
    text = " ".join(ok(command, "--help").split())
    assert "a YAML spec file, a built-in model name (see `cnncalc list`), an ONNX model (.onnx file), or - for " \
           "a YAML spec on standard input" in text


def test_check_help_names_onnx_specs():
    assert "a .yaml or .onnx file relative to the answer file" in " ".join(ok("check", "--help").split())


def test_layer_help_metavars():
    text = ok("layer", "--help")
    assert "--mode nearest|linear|bilinear|bicubic|trilinear" in text
    assert "--scale FLOAT|HxW" in text
    assert "--mode N" not in text and "--scale N" not in text


@pytest.mark.parametrize("written, meant", [("out_channels", "filters"), ("kernel_size", "kernel"),
                                            ("padding", "pad")])
def test_pytorch_keyword_names_point_to_the_spec_key(tmp_path, written, meant):
    value = {"out_channels": 8, "kernel_size": 3, "padding": 1}[written]
    keys = {"filters": 8, "kernel": 3, meant: None}
    keys.pop(meant)
    body = ", ".join(f"{k}: {v}" for k, v in keys.items())
    path = spec_file(tmp_path, f"input: [3, 8, 8]\nlayers:\n  - {{type: conv, {body}, {written}: {value}}}\n")
    result = invoke("report", path)
    assert result.exit_code == 1
    assert f"unknown key '{written}' for conv; did you mean '{meant}' (PyTorch's {written})?" in result.stderr


def test_in_channels_is_said_to_come_from_the_input(tmp_path):
    path = spec_file(tmp_path, "input: [3, 8, 8]\nlayers:\n  - {type: conv, in_channels: 3, filters: 8, kernel: 3}\n")
    assert "in_channels comes from the layer's input" in invoke("report", path).stderr


def test_layer_option_named_as_pytorch_names_it():
    result = invoke("layer", "conv", "--input", "8x8x3", "--out-channels", "8", "--kernel", "3")
    assert result.exit_code == 2 and "Did you mean '--filters'?" in result.stderr


# --- exit codes: 1 the input's fault, 2 the command line's ----------------------------------------------

@pytest.mark.parametrize("args, option", [
    (("report", "alexnet", "--explain", "conv9"), "--explain conv9"),
    (("graph", "alexnet", "--only", "conv9"), "--only conv9"),
    (("key", "alexnet", "--layers", "conv9"), "--layers conv9"),
    (("key", "alexnet", "--quantities", "parms"), "--quantities parms"),
])
def test_a_name_on_the_command_line_the_model_lacks_is_exit_2(args, option):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {option}: ") and result.stderr.count("\n") == 1
    assert "did you mean" in result.stderr or "nearest: conv5" in result.stderr


def test_the_same_name_in_an_answer_file_is_exit_1(tmp_path):
    path = spec_file(tmp_path, "spec: alexnet\nanswers:\n  - {layer: conv9, params: 1}\n", "answers.yaml")
    result = invoke("check", path)
    assert result.exit_code == 1 and "no layer named 'conv9'" in result.stdout + result.stderr


def test_import_of_a_folder_is_the_usual_one_line(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    result = invoke("import", folder)
    assert result.exit_code == 1
    assert result.stderr == f"error: {folder}: is a directory, not an .onnx file\n"
    assert result.exit_code == invoke("report", folder).exit_code  # as report says of a folder


# --- --batch: MACs per sample, said ---------------------------------------------------------------------

def test_batch_keeps_macs_per_sample_and_says_the_batch_sum():
    out = ok("report", "alexnet", "--batch", "32")
    assert f"per sample: MACs {ALEXNET_224_MACS:,} (714M)" in out
    assert f"batch of 32: MACs {32 * ALEXNET_224_MACS:,} (22.9G)" in out
    assert 32 * ALEXNET_224_MACS == 22_854_031_360
    data = json.loads(ok("report", "alexnet", "--batch", "32", "-f", "json"))
    single = json.loads(ok("report", "alexnet", "-f", "json"))
    assert data["totals"]["macs"] == single["totals"]["macs"] == ALEXNET_224_MACS
    assert data["totals"]["memory_bytes"] == 32 * single["totals"]["memory_bytes"]
    assert "per sample:" not in ok("report", "alexnet")
    assert "MACs and flop per sample" in ok("compare", "alexnet", "vgg16", "--batch", "32")


# --- the fractional stride 1/r after upsampling ---------------------------------------------------------

UPSAMPLED = """input: [4, 8, 8]
layers:
  - {name: up, type: upsample, scale: 2}
  - {name: c, type: conv, filters: 4, kernel: 3, pad: 1}
  - {name: ps, type: pixelshuffle, factor: 2}
"""


def test_effective_stride_after_upsample_and_pixel_shuffle_is_1_over_r(tmp_path):
    path = spec_file(tmp_path, UPSAMPLED)
    layers = {layer["name"]: layer for layer in json.loads(ok("report", path, "-f", "json"))["layers"]}
    # j = 1 at the input; upsample by 2: j = 1/2; a stride-1 conv keeps it; pixel shuffle by 2: 1/2 * 1/2
    assert layers["up"]["effective_stride"] == ["1/2", "1/2"]
    assert layers["c"]["effective_stride"] == ["1/2", "1/2"]
    assert layers["ps"]["effective_stride"] == ["1/4", "1/4"]
    # receptive field in input pixels, rounded up: 1 + (3-1)*1*(1/2) = 2
    assert layers["c"]["receptive_field"] == [2, 2]
    assert "effective stride 1/2 " in ok("report", path, "--explain", "c")
    csv = ok("report", path, "-f", "csv", "--columns", "name,effective_stride").splitlines()
    assert csv[1:4] == ["up,1/2x1/2", "c,1/2x1/2", "ps,1/4x1/4"]
    table = ok("report", path, "--columns", "jump", "--no-footer").splitlines()
    assert [line.split()[-1] for line in table[3:6]] == ["1/2", "1/2", "1/4"]
    plain = json.loads(ok("report", "alexnet", "-f", "json"))["layers"][0]["effective_stride"]
    assert plain == [4, 4]  # a whole stride stays a number


# --- compare, list, plurals, the footer -----------------------------------------------------------------

def compare_rows(out):
    return {line.split("  ")[0].strip(): line.split() for line in out.splitlines() if "  " in line}


def test_compare_keeps_alexnets_714_million_macs():
    rows = compare_rows(ok("compare", "alexnet", "vgg16"))
    # AlexNet 714,188,480 MACs; VGG-16 15,470,264,320 (ptflops / fvcore's 15.47 GMac)
    assert rows["MACs (G)"][-2:] == ["0.71", "15.47"]


def test_compare_headers_stay_narrow():
    out = ok("compare", "efficientnet_b3", "efficientnet_b3[width=1.1,depth=1.2]@260", "--no-footer")
    header = out.split("\n---")[0].splitlines() if "\n---" in out else out.splitlines()[:4]
    assert max(len(line) for line in out.splitlines() if not line.startswith(("EfficientNet", "AlexNet"))) <= 100
    assert any("width=1.1" in line for line in header) and any("@3x260x260" in line for line in header)
    assert all(len(cell.strip()) <= 20 for line in header for cell in line.split("  ") if cell.strip())


def test_list_fits_100_columns():
    out = ok("list")
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "alexnet" in out and "..." in out
    full = json.loads(ok("list", "-f", "json"))
    assert full[0]["source"].startswith("torchvision alexnet; EECS 498-007 lecture 8")


def test_one_layer_is_one_layer(tmp_path):
    path = spec_file(tmp_path, "input: [3, 8, 8]\nlayers:\n  - {type: conv, filters: 2, kernel: 3}\n")
    assert "; 1 layer (1 with weights)" in ok("report", path)
    assert ok("validate", "-v", path) == f"ok: {path}: 1 layer, {2 * 3 * 9 + 2} params\n"


def test_no_footer_and_its_environment_variable(monkeypatch):
    assert "Conventions:" in ok("report", "alexnet")
    assert "Conventions:" not in ok("report", "alexnet", "--no-footer")
    assert "binary units" not in ok("compare", "alexnet", "vgg16", "--no-footer")
    monkeypatch.setenv("CNNCALC_NO_FOOTER", "1")
    assert "Conventions:" not in ok("report", "alexnet")


# --- student answers ------------------------------------------------------------------------------------

def check(tmp_path, answers, *options):
    path = spec_file(tmp_path, f"spec: vgg16\nanswers:\n{answers}", "answers.yaml")
    return runner().invoke(main, ["check", path, *options]), path


def test_a_number_split_at_its_comma_is_one_error_saying_quote_it(tmp_path):
    # VGG-16 conv2.1: 128*(64*3*3) + 128 = 73,856 params, written unquoted inside {...}
    result, path = check(tmp_path, "  - {layer: conv2.1, params: 73,856}\n")
    assert result.exit_code == 1
    assert "wrong" not in result.stdout and "unknown quantity" not in result.stdout
    assert f"{path}:3: params: 73,856 is read as params 73 and a key 856" in result.stdout
    assert "quote it, params: '73,856', or write params: 73856" in result.stdout
    fixed, _ = check(tmp_path, "  - {layer: conv2.1, params: '73,856'}\n")
    assert fixed.exit_code == 0


def test_receptive_field_in_pixels(tmp_path):
    # VGG-16 conv1.1: a 3x3 conv on the input sees 3 pixels; conv1.2 1 + 2 + 2 = 5
    result, _ = check(tmp_path, "  - {layer: conv1.1, receptive_field: 3 pixels}\n"
                                "  - {layer: conv1.2, receptive_field: 5x5 px}\n")
    assert result.exit_code == 0, result.stdout
    bad, _ = check(tmp_path, "  - {layer: conv1.1, receptive_field: three pixels}\n")
    assert "write 11 (input pixels, each axis), 11x11 or [11, 11]" in bad.stdout
    assert "55x55x96" not in bad.stdout


def test_layer_input_with_three_channels_last():
    out = ok("layer", "conv", "--input", "32x48x3", "--filters", "8", "--kernel", "3")
    assert out.startswith("conv on input 3x32x48 (--input 32x48x3 read as H x W x C")
    # (32 - 3)/1 + 1 = 30, (48 - 3)/1 + 1 = 46
    assert "8x30x46" in out


def test_a_close_miss_says_how_many_figures_are_right(tmp_path):
    # VGG-16 has 138,357,544 params (torchvision); 138357000 is right to 5 significant figures (13836...)
    result, _ = check(tmp_path, "  - {layer: total, params: 138357000}\n", "--no-explain")
    assert "0.0%" not in result.stdout
    assert "right to 5 significant figures" in result.stdout


def test_notes_under_a_keys_tolerance_do_not_contradict_it(tmp_path):
    key = spec_file(tmp_path, "spec: vgg16\nquestions:\n  - {id: q1, layer: conv1.1, quantity: params, "
                              "tolerance: 0.1%}\n", "key.yaml")
    # conv1.1: 64*27 + 64 = 1,792; 1800 is 0.45% above, outside 0.1%
    sub = spec_file(tmp_path, "answers:\n  - {question: q1, params: 1800}\n", "sub.yaml")
    result = runner().invoke(main, ["check", "--key", key, sub, "--no-explain"])
    assert result.exit_code == 1
    assert "judged exactly" not in result.stdout
    assert "outside the key's tolerance of 0.1%" in result.stdout


# --- ONNX: notes where numbers surprise, and import ----------------------------------------------------

def onnx_model(tmp_path, nodes, weights=None, ints=None, shape=(1, 3, 8, 8), file="model.onnx"):
    onnx = pytest.importorskip("onnx")
    import numpy
    from onnx import TensorProto, helper, numpy_helper

    initializers = [numpy_helper.from_array(numpy.zeros(dims, dtype=numpy.float32), name)
                    for name, dims in (weights or {}).items()]
    initializers += [numpy_helper.from_array(numpy.array(v, dtype=numpy.int64), n) for n, v in (ints or {}).items()]
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    path = tmp_path / file
    onnx.save_model(proto, str(path))
    return str(path)


def onnx_node(op, inputs, outputs, name, **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def test_a_graph_exported_with_bn_folded_gets_one_note(tmp_path):
    # the TorchScript exporter with do_constant_folding=True names folded conv weights onnx::Conv_N
    folded = onnx_model(tmp_path, [
        onnx_node("Conv", ["x", "onnx::Conv_1", "onnx::Conv_2"], ["c"], "/conv1/Conv", kernel_shape=[3, 3]),
        onnx_node("Relu", ["c"], ["y"], "/relu/Relu")],
        weights={"onnx::Conv_1": [4, 3, 3, 3], "onnx::Conv_2": [4]}, file="folded.onnx")
    result = runner().invoke(main, ["report", folded, "-f", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["totals"]["params"] == 4 * 27 + 4
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "likely exported with batch norm folded into the convs" in notes[0]
    # VGG-like: conv biases, no BN, the module's own names: no note
    named = onnx_model(tmp_path, [
        onnx_node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"], "/features/features.0/Conv",
                  kernel_shape=[3, 3]),
        onnx_node("Relu", ["c"], ["y"], "/features/features.1/Relu")],
        weights={"features.0.weight": [4, 3, 3, 3], "features.0.bias": [4]}, file="named.onnx")
    assert runner().invoke(main, ["report", named]).stderr == ""


def test_convs_with_bn_folded_beside_batch_norms_kept_get_a_note(tmp_path):
    # LeViT from the TorchScript exporter with its defaults: the stem's Conv + BN folded into one conv
    # (onnx::Conv_N weight and bias), the BatchNormalization after each Linear kept: 1 conv said so
    path = onnx_model(tmp_path, [
        onnx_node("Conv", ["x", "onnx::Conv_1", "onnx::Conv_2"], ["c"], "/stem/conv1/Conv", kernel_shape=[3, 3]),
        onnx_node("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"], "/bn/BatchNormalization"),
        onnx_node("Relu", ["n"], ["y"], "/relu/Relu")],
        weights={"onnx::Conv_1": [4, 3, 3, 3], "onnx::Conv_2": [4], "s": [4], "t": [4], "m": [4], "v": [4]},
        file="kept.onnx")
    assert runner().invoke(main, ["report", path]).stderr == ""  # its BN follows it: not folded
    mixed = onnx_model(tmp_path, [
        onnx_node("Conv", ["x", "onnx::Conv_1", "onnx::Conv_2"], ["c"], "/stem/conv1/Conv", kernel_shape=[3, 3]),
        onnx_node("Conv", ["c", "w2"], ["d"], "/stem/conv2/Conv", kernel_shape=[1, 1]),
        onnx_node("BatchNormalization", ["d", "s", "t", "m", "v"], ["y"], "/stem/bn2/BatchNormalization")],
        weights={"onnx::Conv_1": [4, 3, 3, 3], "onnx::Conv_2": [4], "w2": [4, 4, 1, 1], "s": [4], "t": [4],
                 "m": [4], "v": [4]}, file="mixed.onnx")
    notes = [line for line in runner().invoke(main, ["report", mixed]).stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "1 conv with weights and biases named by the exporter (onnx::Conv_...) and no " \
                                "BatchNormalization after them" in notes[0]


def test_import_writes_a_resize_to_the_input_size_as_like_input(tmp_path):
    # FCN's head: a stride-2 conv, then F.interpolate(size=x.shape[-2:]) (a Resize with sizes = the input's)
    path = onnx_model(tmp_path, [
        onnx_node("Conv", ["x", "w"], ["c"], "/classifier/Conv", kernel_shape=[1, 1], strides=[2, 2]),
        onnx_node("Resize", ["c", "", "", "sizes"], ["y"], "/Resize", mode="linear")],
        weights={"w": [5, 3, 1, 1]}, ints={"sizes": [1, 5, 8, 8]}, file="fcn.onnx")
    text = ok("import", path)
    assert "{name: resize, type: upsample, like: input, mode: bilinear}" in text
    assert "scale" not in text
    spec = tmp_path / "fcn.yaml"
    spec.write_text(text)
    layers = json.loads(ok("report", spec, "--input", "3x20x20", "-f", "json"))["layers"]
    assert layers[-1]["out_shape"] == [5, 20, 20]  # as torch: the input's size, not 2 x 10
    direct = json.loads(ok("report", path, "--input", "3x20x20", "-f", "json"))["layers"]
    assert direct[-1]["out_shape"] == [5, 20, 20]  # the .onnx read at 20, its 8 a traced constant


def test_import_folds_repeated_blocks_under_a_wrapper(tmp_path):
    # four identical blocks named as an FCN wrapped in a module names them: net.backbone.layer1.N.*
    nodes, weights, previous = [], {}, "x"
    for index in range(4):
        prefix = f"/net/backbone/layer1/layer1.{index}"
        for part, op in (("conv1", "Conv"), ("relu", "Relu"), ("conv2", "Conv"), ("relu2", "Relu"),
                         ("conv3", "Conv")):
            out = f"b{index}_{part}"
            if op == "Conv":
                weights[f"w{index}{part}"] = [4, 4, 3, 3]
                nodes.append(onnx_node("Conv", [previous, f"w{index}{part}"], [out], f"{prefix}/{part}/Conv",
                                       kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
            else:
                nodes.append(onnx_node("Relu", [previous], [out], f"{prefix}/{part}/Relu"))
            previous = out
    nodes.append(onnx_node("Identity", [previous], ["y"], "/out"))
    path = onnx_model(tmp_path, nodes, weights, shape=(1, 4, 8, 8), file="wrapped.onnx")
    folded, flat = ok("import", path), ok("import", path, "--flat")
    assert "blocks:" in folded and "repeat: 4" in folded
    assert folded.count("\n") < flat.count("\n")
    spec = tmp_path / "wrapped.yaml"
    spec.write_text(folded)
    data = json.loads(ok("report", spec, "-f", "json"))
    assert data["totals"]["params"] == 12 * (4 * 4 * 9)  # twelve bias-free 3x3 convs of 4 -> 4 channels
    assert [layer["name"] for layer in data["layers"]][:2] == ["net.backbone.layer1.0.conv1",
                                                               "net.backbone.layer1.0.conv2"]
