"""The spec language: block arguments that name layers, dotted names, the block input's shape, floats,
params and --set, YAML merge keys, ignored keys, `if:` typos and defaults in dependency order.

Every expected number is worked out by hand in the comment beside it (conv params: Cout*Cin*K*K + Cout).
Error cases check the one-line `error: FILE:LINE: LAYER: message` form and exit code.
"""

import json

import pytest

import cnncalc
from cnncalc import spec as spec_module
from cli_runner import invoke, ok


def rows(path, *options):
    """name -> row of `report --format json`."""
    data = json.loads(ok("report", path, "-f", "json", *options))
    return {row["name"]: row for row in data["layers"]}


def one_error(result, *fragments, code=1):
    """Exit ``code`` with one `error: ...` line holding every fragment; the line is returned."""
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- block arguments that name layers, and dotted names ---------------------------------------------

UNET = """\
name: tiny-unet
input: [1, 16, 16]
blocks:
  down:
    args: {c: ~}
    layers:
      - {name: conv1, type: conv, filters: c, kernel: 3, pad: 1}
      - {name: conv2, type: conv, filters: c, kernel: 3, pad: 1}
      - {name: pool, type: maxpool, kernel: 2}
  up:
    args: {c: ~, skip: ~}
    layers:
      - {name: enc4, type: convtranspose, filters: c, kernel: 2, stride: 2}
      - {name: cat, type: concat, from: [enc4, skip]}
layers:
  - {name: enc4, type: down, c: 4}
  - {name: mid, type: conv, filters: 8, kernel: 3, pad: 1}
  - {name: up1, type: up, c: 2, skip: enc4.conv2}
  - {name: head, type: conv, filters: 3, kernel: 1, from: enc4.conv1}
"""


def test_a_block_argument_names_the_callers_layer_even_when_the_block_has_one_of_that_name(write):
    table = rows(write(UNET))
    # `skip: enc4.conv2` is the caller's enc4.conv2 (4 x 16 x 16); `enc4` inside `up` is its own layer
    assert table["up1.cat"]["from"] == ["up1.enc4", "enc4.conv2"]
    # up1.enc4: 8 -> 2 channels, 8x8 -> 16x16; concat: 2 + 4 = 6 channels
    assert table["up1.enc4"]["out_shape"] == [2, 16, 16]
    assert table["up1.cat"]["out_shape"] == [6, 16, 16]
    # head reads enc4.conv1 (4 channels): 3*4*1*1 + 3 = 15
    assert table["head"]["from"] == ["enc4.conv1"] and table["head"]["params"] == 15


def test_an_argument_word_that_names_no_layer_where_it_is_given_is_an_error(write):
    path = write(UNET.replace("skip: enc4.conv2", "skip: enc4.conv3"))
    one_error(invoke("report", path), f"{path}:14: up1.cat: 'from' names argument 'skip', but 'enc4.conv3' "
                                      f"(given at line 18) is not an earlier layer", "did you mean 'enc4.conv2'?")


def test_an_argument_default_names_a_layer_of_the_block(write):
    text = UNET.replace("args: {c: ~, skip: ~}", "args: {c: ~, skip: enc4}").replace(", skip: enc4.conv2", "")
    table = rows(write(text))
    # skip defaults to the block's own enc4 (2 x 16 x 16), not the caller's: 2 + 2 = 4 channels
    assert table["up1.cat"]["from"] == ["up1.enc4", "up1.enc4"] and table["up1.cat"]["out_shape"] == [4, 16, 16]


RESNETISH = """\
input: [3, 8, 8]
blocks:
  basic:
    args: {c: ~, downsample: false}
    layers:
      - {name: conv1, type: conv, filters: c, kernel: 3, pad: 1}
      - {name: relu, type: relu}
      - {name: down, type: conv, filters: c, kernel: 1, from: input, if: downsample}
      - {name: add, type: add, from: [relu, down]}
layers:
  - {name: layer1, type: basic, c: 3, repeat: 2}
  - {name: layer2, type: basic, c: 4, repeat: 2, first: {downsample: true}}
  - {name: a, type: identity, from: layer1.0.conv1}
  - {name: b, type: identity, from: layer2.1.relu}
  - {name: c, type: identity, from: layer1.1.down}
  - {name: d, type: identity, from: layer2.0}
"""


def test_from_takes_the_full_names_the_report_prints(write):
    table = rows(write(RESNETISH))
    assert table["a"]["from"] == ["layer1.0.conv1"]
    assert table["b"]["from"] == ["layer2.1.relu"]
    # layer1.1.down is switched off: it stands for its input, the block's input = layer1.0's output
    assert table["c"]["from"] == ["layer1.0.add"]
    # a repeat copy stands for its output
    assert table["d"]["from"] == ["layer2.0.add"] and table["d"]["out_shape"] == [4, 8, 8]


def test_an_unknown_full_name_suggests_the_closest(write):
    path = write(RESNETISH.replace("from: layer2.1.relu", "from: layer2.1.rleu"))
    one_error(invoke("report", path), f"{path}:14: b: 'from' names an unknown layer 'layer2.1.rleu'",
              "did you mean 'layer2.1.relu'?")


def test_a_full_name_of_a_later_layer_says_it_comes_later(write):
    text = RESNETISH.replace("  - {name: layer1, type: basic, c: 3, repeat: 2}\n",
                             "  - {name: x, type: identity, from: layer1.0.conv1}\n"
                             "  - {name: layer1, type: basic, c: 3, repeat: 2}\n")
    path = write(text)
    one_error(invoke("report", path), f"{path}:11: x: 'from' names 'layer1.0.conv1', which comes later (line 12)")


FPN = """\
input: [3, 8, 8]
params: {fpn: 16}
blocks:
  lateral:
    args: {top: ~}
    layers:
      - {name: conv, type: conv, filters: fpn, kernel: 1, from: top}
  level:
    layers:
      - {name: inner, type: conv, filters: 4, kernel: 3, pad: 1}
layers:
  - {name: fpn.p5, type: level}
  - {name: lat, type: lateral, top: fpn.p5.inner}
  - {name: direct, type: conv, filters: 2, kernel: 1, from: fpn.p5.inner}
  - {name: width, type: conv, filters: fpn // 4, kernel: 1, from: input}
"""


def test_a_dotted_layer_name_starting_with_a_params_name_is_the_layer(write):
    # `fpn` is a param (16) and also the head of the layer name fpn.p5.inner: as a block argument and in
    # `from:` the dotted word is the layer (an expression has no `a.b`), while `fpn // 4` stays arithmetic
    table = rows(write(FPN))
    assert table["lat.conv"]["from"] == ["fpn.p5.inner"] and table["direct"]["from"] == ["fpn.p5.inner"]
    # fpn.p5.inner: 4 channels; lat.conv: 16*4*1*1 + 16 = 80; direct: 2*4 + 2 = 10; width: 4*3 + 4 = 16
    assert (table["lat.conv"]["params"], table["direct"]["params"], table["width"]["params"]) == (80, 10, 16)


def test_a_dotted_word_where_a_number_belongs_says_so(write):
    path = write(FPN.replace("filters: 2, kernel: 1, from: fpn.p5.inner", "filters: fpn.p5, kernel: 1"))
    one_error(invoke("report", path), f"{path}:14: direct: filters must be a whole number, not 'fpn.p5'")


# --- the block input's shape ------------------------------------------------------------------------

SHAPES = """\
input: [3, 12, 10]
blocks:
  widen:
    args: {factor: 2}
    layers:
      - {name: conv, type: conv, filters: in_channels * factor, kernel: 1}
      - {name: pool, type: maxpool, kernel: [in_size, "in_shape[-1]"]}
layers:
  - {name: stem, type: conv, filters: 5, kernel: 3, pad: 1}
  - {name: w, type: widen}
"""


def test_in_channels_in_size_and_in_shape_read_the_block_input(write):
    path = write(SHAPES)
    table = rows(path)
    # the block's input is stem: 5 x 12 x 10; conv 5 -> 10 channels: 10*5 + 10 = 60; pool window 12 x 10
    assert table["w.conv"]["params"] == 60 and table["w.conv"]["out_shape"] == [10, 12, 10]
    assert table["w.pool"]["kernel"] == [12, 10] and table["w.pool"]["out_shape"] == [10, 1, 1]
    # another input expands again: 3 x 6 x 4 -> window 6 x 4, still one output pixel
    table = rows(path, "--input", "3x6x4")
    assert table["w.pool"]["kernel"] == [6, 4] and table["w.pool"]["out_shape"] == [10, 1, 1]


def test_in_channels_through_the_api_and_a_parsed_spec_at_another_input(write):
    spec = cnncalc.load_spec(write(SHAPES))
    assert spec.reads_shapes
    assert cnncalc.analyze(spec, input=(3, 4, 4)).row("w.pool").kernel == (4, 4)


def test_shape_names_outside_a_block_or_on_a_flat_input_are_errors(write):
    path = write(SHAPES.replace("filters: 5, kernel: 3", "filters: in_channels, kernel: 3"))
    one_error(invoke("report", path), f"{path}:9: stem: filters: 'in_channels' is only defined inside a block")
    flat = SHAPES.replace("input: [3, 12, 10]", "input: [30]").replace(
        "{name: stem, type: conv, filters: 5, kernel: 3, pad: 1}", "{name: stem, type: fc, units: 5}")
    path = write(flat)
    one_error(invoke("report", path), f"{path}:7: w.pool: kernel: 'in_size' is not defined: the block's input is "
                                      f"flat (5 values)")


def test_a_block_that_does_not_read_shapes_does_not_ask_for_them():
    document = {"input": [3, 8, 8], "blocks": {"b": {"layers": [{"type": "relu"}]}}, "layers": [{"type": "b"}]}
    spec = spec_module.parse(document)  # no shape function given, and none needed
    assert not spec.reads_shapes and [d.name for d in spec.layers] == ["b1.relu1"]
    document["blocks"]["b"]["layers"][0] = {"type": "conv", "filters": "in_channels", "kernel": 1}
    assert spec_module.parse(document).layers[0].keys["filters"] == 3  # the network input needs no rule
    document["layers"].insert(0, {"type": "relu"})
    with pytest.raises(cnncalc.SpecError, match="need layer shapes"):
        spec_module.parse(document)


# --- floats, ceil / floor / round / int ---------------------------------------------------------------

@pytest.mark.parametrize("expression, value", [
    ("ceil(10 * 1.15)", 12),       # 11.5 (11.499999999999998 in floats) -> 12
    ("floor(7.9)", 7),
    ("round(2.5)", 3),             # halves away from zero, not Python's round-half-even (2)
    ("round(3.5)", 4),
    ("round(2.4)", 2),
    ("int(7.9)", 7),
    ("divisible(32 * 1.2, 8)", 40),  # torchvision _make_divisible(38.4, 8): int(42.4) // 8 * 8 = 40
    ("divisible(10, 8)", 16),      # 8 would be more than 10% below 10
    ("12 / 4", 3),                 # whole division stays whole
    ("ceil(3 * 1.4)", 5),          # EfficientNet-B3 depth: int(math.ceil(1.4 * 3)) = 5
    ("max(2, 3.5) * 2", 7),
])
def test_float_expressions_give_whole_sizes(write, expression, value):
    path = write(f"input: [1, 4, 4]\nlayers:\n  - {{name: c, type: conv, filters: \"{expression}\", kernel: 1}}\n")
    # params = value*1*1*1 + value
    assert rows(path)["c"]["params"] == 2 * value


def test_a_size_that_is_not_whole_is_an_error_naming_key_and_value(write):
    path = write("input: [3, 8, 8]\nparams: {width: 0.96}\nlayers:\n"
                 "  - {name: c, type: conv, filters: 32 * width, kernel: 1}\n")
    # 32 * 0.96 = 30.72
    one_error(invoke("report", path), f"{path}:4: c: filters must be a whole number, not 30.72")


@pytest.mark.parametrize("expression, fragment", [
    ("1e20 * 1", "number too large"),
    ("in_shape[9]", "index 9 is outside the list of 3"),
    ("factor[0]", "only a list (such as in_shape) can be indexed"),
    ("round(1, 2)", "wrong number of arguments to round()"),
])
def test_float_and_list_expressions_stay_bounded(write, expression, fragment):
    path = write(SHAPES.replace("in_channels * factor", f'"{expression}"'))
    one_error(invoke("report", path), f"{path}:6: w.conv: filters: ", fragment)


# --- params and --set ---------------------------------------------------------------------------------

PARAMS = """\
name: scaled
input: [3, res, res]
params: {width: 1.0, depth: 1.0, base: 8, double: base * 2, res: 8}
blocks:
  stage:
    args: {c: base * width, n: 1}
    layers:
      - {name: conv, type: conv, filters: "round(c)", kernel: 3, pad: 1, repeat: "ceil(n * depth)"}
layers:
  - {name: s1, type: stage}
  - {name: s2, type: stage, c: double * width, n: 2}
"""


def test_params_are_used_in_layers_block_defaults_and_input(write):
    table = rows(write(PARAMS))
    # s1: c = 8 * 1.0 = 8, one conv 3 -> 8: 8*3*9 + 8 = 224; s2: c = 16, two convs: 16*8*9+16 = 1168, 16*16*9+16 = 2320
    assert table["s1.conv.0"]["params"] == 224
    assert [table[f"s2.conv.{i}"]["params"] for i in (0, 1)] == [1168, 2320]
    assert table["s2.conv.1"]["out_shape"] == [16, 8, 8]


def test_set_overrides_params_and_their_dependents(write):
    path = write(PARAMS)
    data = json.loads(ok("report", path, "-f", "json", "--set", "base=4", "--set", "depth=1.5", "--set", "res=6"))
    table = {row["name"]: row for row in data["layers"]}
    # base 4 -> double 8; s1 c = 4: 4*3*9+4 = 112; s2 c = 8, ceil(2 * 1.5) = 3 convs; input 3 x 6 x 6
    assert data["params"] == {"width": 1.0, "depth": 1.5, "base": 4, "double": 8, "res": 6}
    assert data["input"] == [3, 6, 6]
    assert table["s1.conv.0"]["params"] == 112 and "s2.conv.2" in table and "s2.conv.3" not in table
    # width 1.5: s1 c = round(12.0) = 12: 12*3*9 + 12 = 336
    assert cnncalc.analyze(path, params={"width": 1.5}).row("s1.conv.0").params == 336
    # a --set value may be an expression over the other params: double = 8 * 3 = 24; s2 convs 24*8*9+24 = 1752
    assert rows(path, "--set", "double=base * 3")["s2.conv.0"]["params"] == 1752
    assert "s2.conv.0" in ok("graph", path, "--set", "double=base * 3")
    assert ok("validate", "-v", path, "--set", "width=2").startswith("ok: ")
    assert "\nparams: width=1.0, depth=1.0, base=4, double=8, res=8\n" in ok("report", path, "--set", "base=4")


def test_a_param_the_input_is_written_with_says_so_under_another_input(write):
    path = write(PARAMS)  # input: [3, res, res], res = 8
    assert "\nparams: width=1.0, depth=1.0, base=8, double=16, res=8\n" in ok("report", path)
    out = ok("report", path, "--input", "3x6x6")
    assert ("\nparams: width=1.0, depth=1.0, base=8, double=16, res=8 (res gives the spec's input 3x8x8; this run "
            "reads 3x6x6)\n") in out
    # ViT-B/16's image param: torchvision's vit_b_16 at 384 has (24*24 + 1) * 768 position embeddings
    vit = ok("report", "vit_b_16", "--input", "3x384x384")
    assert "image=224 (image gives the spec's input 3x224x224; this run reads 3x384x384)" in vit
    assert "params 86,859,496" in vit


def test_set_errors_are_usage_errors(write):
    path = write(PARAMS)
    one_error(invoke("report", path, "--set", "widht=2"), "scaled has no param 'widht'",
              "did you mean 'width'?", "(its params: width, depth, base, double, res)", code=2)
    one_error(invoke("report", path, "--set", "width"), "--set takes NAME=VALUE", code=2)
    one_error(invoke("report", path, "--set", "width=[1, 2]"), "--set width: must be a number", code=2)
    one_error(invoke("report", path, "--set", "width=1.0e+99"), "--set width: 1e+99 is outside +-10^15", code=2)
    # YAML reads 1e99 as text, so it is an expression: bounded like any other
    one_error(invoke("report", path, "--set", "width=1e99"), f"{path}:3: params: width: number too large")
    one_error(invoke("report", path, "--set", "width=" + "1" * 300), "longer than 200 characters", code=2)
    one_error(invoke("validate", path, "--set", "widht=2"), "no param 'widht'", code=2)
    one_error(invoke("report", "alexnet", "--set", "width=2"), "AlexNet has no param 'width'",
              "it has no 'params:' section", code=2)
    with pytest.raises(cnncalc.CnnCalcError, match="param width: must be a number"):
        cnncalc.analyze(path, params={"width": [1]})
    one_error(invoke("compare", path, f"{path}[widht=2]"), "scaled has no param 'widht'", code=2)


def test_params_in_a_cycle_or_out_of_bounds_are_errors(write):
    path = write(PARAMS.replace("res: 8}", "res: 8, a: b + 1, b: a}"))
    one_error(invoke("report", path), f"{path}:3: params: the values of a -> b -> a refer to each other in a cycle")
    path = write(PARAMS.replace("res: 8}", "res: 8, huge: 1.0e+99}"))
    one_error(invoke("report", path), f"{path}:3: params: huge: 1e+99 is outside +-10^15")
    many = ", ".join(f"p{i}: {i}" for i in range(1001))
    path = write(PARAMS.replace("params: {width: 1.0, depth: 1.0, base: 8, double: base * 2, res: 8}",
                                f"params: {{{many}}}"))
    one_error(invoke("report", path), f"{path}:3: 'params' has 1,001 names; the limit is 1,000")


def test_compare_the_same_model_under_two_settings(write):
    path = write(PARAMS)
    data = json.loads(ok("compare", path, f"{path}[width=2,depth=1.5]@16", "-f", "json", "--columns", "params"))
    first, second = data["models"]
    # first: 224 + 1168 + 2320 = 3712. second: s1 c = 16, ceil(1 * 1.5) = 2 convs: 16*3*9+16 = 448,
    # 16*16*9+16 = 2320; s2 c = 32, ceil(2 * 1.5) = 3 convs: 32*16*9+32 = 4640, then 2 x (32*32*9+32 = 9248);
    # total 448 + 2320 + 4640 + 18496 = 25904
    assert first["totals"]["params"] == 3712 and second["totals"]["params"] == 25904
    assert second["input"] == [3, 16, 16]
    assert second["label"] == "scaled @3x16x16 [width=2,depth=1.5]"
    # --set applies to every model, under each model's own [...] settings
    data = json.loads(ok("compare", path, f"{path}[width=2]", "--set", "base=4", "-f", "json", "--columns", "params"))
    # base 4: s1 c = 4: 112; s2 c = 8, two convs: 8*4*9+8 = 296, 8*8*9+8 = 584
    assert data["models"][0]["totals"]["params"] == 112 + 296 + 584


# --- mappings, merge keys, ignored keys ---------------------------------------------------------------

def test_block_arguments_pass_mappings_through_with_substitution():
    document = {"input": [3, 8, 8],
                "blocks": {"b": {"args": {"slope": 0.1}, "layers": [{"type": "conv", "filters": 4, "kernel": 1,
                                                                     "act": {"leakyrelu": "slope"}}]}},
                "layers": [{"type": "b", "slope": 0.2}]}
    assert spec_module.parse(document).layers[0].keys["act"] == {"leakyrelu": 0.2}


MERGE = """\
input: [3, 8, 8]
defaults:
  c3: &c3 {type: conv, filters: 4, kernel: 3, pad: 1, name: c3}
x-relu: &r {type: relu}
layers:
  - *c3
  - {<<: *c3, name: c2, filters: 2}
  - <<: [*r, {type: conv}]
    name: r1
"""


def test_merge_keys_with_overrides_and_parked_anchors(write):
    table = rows(write(MERGE))
    # c3: 4*3*9 + 4 = 112; c2 overrides name and filters: 2*4*9 + 2 = 74; r1 takes relu (the first merge wins)
    assert table["c3"]["params"] == 112 and table["c2"]["params"] == 74
    assert table["r1"]["type"] == "relu"


def test_merge_keys_keep_the_line_where_a_key_is_written_and_refuse_written_duplicates(write):
    path = write(MERGE.replace("{<<: *c3, name: c2, filters: 2}", "{<<: *c3, name: c2, filtres: 2}"))
    one_error(invoke("report", path), f"{path}:7: c2: unknown key 'filtres' for conv")
    path = write(MERGE.replace("  - <<: [*r, {type: conv}]\n", "  - <<: [*r, {type: conv}]\n    name: r0\n"))
    one_error(invoke("report", path), f"{path}:10: duplicate key 'name' (first at line 9)")


def test_x_keys_and_defaults_are_ignored_other_keys_are_not(write):
    path = write("input: [3, 8, 8]\nx-notes: {any: thing}\ndefaults: [1, 2]\nlayers:\n  - {type: relu}\n")
    assert list(rows(path)) == ["relu1"]
    path = write("input: [3, 8, 8]\nxnotes: 1\nlayers:\n  - {type: relu}\n")
    one_error(invoke("report", path), f"{path}:2: unknown top-level key 'xnotes'", "starting with 'x-' are ignored")


def test_the_schema_accepts_params_x_keys_and_defaults():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(cnncalc.spec_schema())
    document = {"input": [3, "res", "res"], "params": {"res": 8, "width": 1.5}, "x-anchors": {"a": 1},
                "defaults": [1], "layers": [{"type": "conv", "filters": "8 * width", "kernel": 1}]}
    assert not list(validator.iter_errors(document))
    assert list(validator.iter_errors({**document, "xanchors": 1}))


# --- if: typos, defaults in dependency order ----------------------------------------------------------

def test_a_misspelled_argument_in_if_is_an_error(write):
    path = write(RESNETISH.replace("if: downsample", "if: dowsample"))
    one_error(invoke("report", path), f"{path}:8: layer1.0.down: if: 'dowsample' is not an argument or param",
              "did you mean 'downsample'?", "(arguments and params: c, downsample)")


@pytest.mark.parametrize("word, kept", [("'False'", False), ("'True'", True), ("false", False), ("on", True)])
def test_true_and_false_words_in_if(write, word, kept):
    text = f"input: [1, 4, 4]\nlayers:\n  - {{name: a, type: relu}}\n  - {{name: b, type: relu, if: {word}}}\n"
    assert ("b" in rows(write(text))) == kept


def test_argument_defaults_are_resolved_in_dependency_order(write):
    text = ("input: [1, 4, 4]\nblocks:\n  b:\n    args: {a: b * 2, b: c + 1, c: 3}\n    layers:\n"
            "      - {name: conv, type: conv, filters: a, kernel: 1}\nlayers:\n  - {name: x, type: b}\n"
            "  - {name: y, type: b, c: 1}\n")
    table = rows(write(text))
    # x: c = 3, b = 4, a = 8: 8*1 + 8 = 16; y: c = 1, b = 2, a = 4: 4*8 + 4 = 36
    assert table["x.conv"]["params"] == 16 and table["y.conv"]["params"] == 36


def test_argument_defaults_in_a_cycle_are_an_error(write):
    path = write("input: [1, 4, 4]\nblocks:\n  b:\n    args: {a: b * 2, b: a + 1}\n    layers:\n"
                 "      - {type: conv, filters: a, kernel: 1}\nlayers:\n  - {type: b}\n")
    one_error(invoke("report", path), f"{path}:4: block 'b': args: the values of a -> b -> a refer to each other")


def test_check_grades_a_spec_whose_block_reads_its_input(write):
    answers = write("spec:\n  input: [3, 8, 8]\n  blocks:\n"
                    "    b: {layers: [{name: conv, type: conv, filters: in_channels * 2, kernel: 1}]}\n"
                    "  layers:\n    - {name: stem, type: conv, filters: 4, kernel: 1}\n    - {name: w, type: b}\n"
                    "answers:\n  - {layer: w.conv, params: 40, output_shape: [8, 8, 8]}\n", name="answers.yaml")
    # w.conv: in_channels = 4 -> 8 filters: 8*4*1*1 + 8 = 40
    result = invoke("check", answers)
    assert result.exit_code == 0, (result.stdout, result.stderr)


def test_in_channels_follows_each_repeat_copy(write):
    path = write("input: [1, 4, 4]\nblocks:\n  double:\n    layers:\n"
                 "      - {name: conv, type: conv, filters: in_channels * 2, kernel: 1}\n"
                 "layers:\n  - {name: d, type: double, repeat: 3}\n")
    table = rows(path)
    # copy 0 reads 1 channel -> 2, copy 1 reads 2 -> 4, copy 2 reads 4 -> 8; params 2*1+2, 4*2+4, 8*4+8
    assert [table[f"d.{i}.conv"]["params"] for i in range(3)] == [4, 12, 40]


def test_a_layer_word_passes_through_nested_blocks_resolved_where_first_written(write):
    text = """\
input: [2, 4, 4]
blocks:
  inner:
    args: {skip: ~}
    layers:
      - {name: conv, type: conv, filters: 3, kernel: 1}
      - {name: cat, type: concat, from: [conv, skip]}
  outer:
    args: {skip: ~}
    layers:
      - {name: conv, type: conv, filters: 5, kernel: 1}
      - {name: in1, type: inner, skip: skip}
      - {name: in2, type: inner, skip: conv}
layers:
  - {name: conv, type: conv, filters: 7, kernel: 1}
  - {name: o, type: outer, skip: conv}
"""
    table = rows(write(text))
    # o.in1's skip is the top-level conv (7 channels), passed on by outer; o.in2's is outer's own conv (5)
    assert table["o.in1.cat"]["from"] == ["o.in1.conv", "conv"] and table["o.in1.cat"]["out_shape"][0] == 3 + 7
    assert table["o.in2.cat"]["from"] == ["o.in2.conv", "o.conv"] and table["o.in2.cat"]["out_shape"][0] == 3 + 5


def test_a_spec_with_argument_words_pickles_and_copies_as_plain_words():
    import copy
    import pickle

    document = {"input": [3, 8, 8], "blocks": {"b": {"args": {"a": "relu"}, "layers": [{"type": "relu", "name": "r"},
                                                                                     {"type": "bn", "act": "a"}]}},
                "layers": [{"type": "b", "a": "relu6"}]}
    layers = spec_module.parse(document).layers
    assert pickle.loads(pickle.dumps(layers))[1].keys["act"] == "relu6"
    assert type(copy.deepcopy(layers)[1].keys["act"]) is str


def test_a_word_that_is_both_a_block_layer_and_an_argument_is_an_error(write):
    path = write(UNET.replace("{name: enc4, type: convtranspose", "{name: skip, type: convtranspose")
                 .replace("from: [enc4, skip]", "from: [skip]"))
    one_error(invoke("report", path), f"{path}:14: up1.cat: 'from' names 'skip', which is both a layer here and an "
                                      f"argument; rename one")


def test_an_argument_default_may_read_the_param_of_its_own_name(write):
    path = write("input: [1, 4, 4]\nparams: {width: 3}\nblocks:\n  b:\n    args: {width: width}\n    layers:\n"
                 "      - {name: conv, type: conv, filters: width, kernel: 1}\nlayers:\n  - {name: x, type: b}\n"
                 "  - {name: y, type: b, width: 5}\n")
    table = rows(path)
    # x: width = the param 3: 3*1 + 3 = 6; y: 5*3 + 5 = 20
    assert table["x.conv"]["params"] == 6 and table["y.conv"]["params"] == 20
