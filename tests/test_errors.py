"""Bad specs and bad options: every one ends in one clear line and exit 1 (2 for usage errors).

Each case runs through click's CliRunner on both `cnncalc report` and `cnncalc validate`, and checks
that stderr is a single `error: FILE:LINE: LAYER: message` line with a helpful message and no
traceback. Expected numbers are worked out by hand in the comments beside them.
"""

import json

import pytest

from cli_runner import invoke, ok
from cnncalc import numbers
from helpers import assert_one_line_error, check_both, layers_spec, usage_error


# --- files that are not specs ---------------------------------------------------------------------

@pytest.mark.parametrize("text, fragments", [
    ("", ["the spec is empty"]),
    ("# only a comment\n", ["the spec is empty"]),
    ("- conv\n- relu\n", ["must be a mapping", "not a list"]),
    ("42\n", ["must be a mapping", "not a number"]),
    ("just some words\n", ["must be a mapping", "not a text"]),
], ids=["empty", "comment-only", "list-document", "number-document", "text-document"])
def test_documents_that_are_not_a_mapping(write, text, fragments):
    check_both(write(text), *fragments)


def test_yaml_syntax_error_names_line_and_column(write):
    path = write("name: x\ninput: [3, 32, 32\nlayers: []\n")
    message = check_both(path, "YAML syntax error", "did not find expected ',' or ']'")
    # libyaml notices at line 3 column 7; the message also points back to the bracket opened on line 2
    assert f"{path}:3:7:" in message and "line 2" in message


def test_tab_indentation_is_named(write):
    path = write("input: [3, 32, 32]\nlayers:\n\t- {type: relu}\n")
    check_both(path, "tabs", line="3:1")


def test_second_yaml_document(write):
    path = write("input: [3, 32, 32]\nlayers: [{type: relu}]\n---\ninput: [3, 8, 8]\n")
    check_both(path, "single document", line=3)


@pytest.mark.parametrize("data, fragment", [
    ("name: caf\xe9\ninput: [3, 4, 4]\nlayers: [{type: relu}]\n".encode("latin-1"), "not UTF-8 text"),
    (bytes(range(256)) * 8, "not a text file"),
    ("input: [3, 4, 4]\nlayers: [{type: relu}]\n".encode("utf-16"), "UTF-16"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
], ids=["latin-1", "binary", "utf-16", "png"])
def test_files_that_are_not_utf8_text(write, data, fragment):
    check_both(write(data), fragment)


def test_utf8_with_byte_order_mark_is_fine(write):
    path = write("\ufeffinput: [3, 4, 4]\nlayers: [{type: relu}]\n".encode("utf-8"))
    assert invoke("validate", path).exit_code == 0


def test_missing_file_and_directory(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    check_both(missing, "no such file")
    check_both(str(tmp_path), "is a directory")


def test_unknown_builtin_name_suggests_a_close_one():
    for command in ("report", "validate"):
        assert_one_line_error(invoke(command, "resnet5"), "'resnet5'", "did you mean 'resnet50'?")
        assert_one_line_error(invoke(command, "alexnt"), "did you mean 'alexnet'?")


def test_several_files_one_line_each(write, tmp_path):
    good = write(layers_spec("{type: relu}"), "good.yaml")
    empty = write("", "empty.yaml")
    missing = str(tmp_path / "missing.yaml")
    result = invoke("validate", good, empty, missing)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {empty}: the spec is empty", f"error: {missing}: no such file"]


# --- input ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["[3, 32, 32, 32, 1]", "3x32x32", "[3, 0, 32]", "[3, -32, 32]", "[true, 32, 32]",
                                   "[3, 32.5, 32]", "[3, .inf, 32]", "[3, .nan, 32]", "[]",
                                   "{c: 3, h: 32, w: 32}", "~"])
def test_malformed_input(write, value):
    check_both(write(layers_spec("{type: relu}", input=value)), "'input' must be [C, H, W]", line=1)


def test_missing_input(write):
    check_both(write("layers:\n  - {type: relu}\n"), "no 'input'")


# --- values of the wrong type ---------------------------------------------------------------------

@pytest.mark.parametrize("keys, fragment", [
    ("filters: 8, kernel: three", "kernel must be a whole number, not 'three'"),
    ("filters: 8, kernel: 2.5", "kernel must be a whole number, not 2.5"),
    ("filters: 8, kernel: .inf", "kernel must be a whole number, not inf"),
    ("filters: 8, kernel: -.inf", "kernel must be a whole number, not -inf"),
    ("filters: 8, kernel: .nan", "kernel must be a whole number, not nan"),
    ("filters: 8, kernel: true", "kernel must be a whole number, not true (a boolean)"),
    ("filters: -8, kernel: 3", "filters must be at least 1, not -8"),
    ("filters: 0, kernel: 3", "filters must be at least 1, not 0"),
    ("filters: 8, kernel: 0", "kernel must be at least 1, not 0"),
    ("filters: 8, kernel: 3, stride: 0", "stride must be at least 1, not 0"),
    ("filters: 8, kernel: 3, pad: -1", "pad must be at least 0, not -1"),
    ("filters: 8, kernel: [3, 3, 3]", "kernel [3, 3, 3] has 3 entries, but the input 3 x 32 x 32 is 2-D (H, W)"),
    ("filters: 8, kernel: [3, 3, 3, 3]", "kernel must be one number or a list of one per spatial axis"),
    ("filters: 8, kernel: {h: 3}", "kernel must be a whole number"),
    ("filters: 8, kernel: 3, bias: 1", "bias must be true or false, not 1"),
    ("filters: 8, kernel: 3, act: rleu", "did you mean 'relu'?"),
    ("filters: 4294967296, kernel: 3", "filters must be at most 2,147,483,647, not 4,294,967,296"),
    ("kernel: 3", "conv needs 'filters'"),
    ("filters: ~, kernel: 3", "conv needs 'filters'"),
], ids=lambda value: value if "kernel" in value and ":" in value else None)
def test_wrong_value_types(write, keys, fragment):
    path = write(layers_spec(f"{{name: conv1, type: conv, {keys}}}"))
    check_both(path, fragment, line=3, layer="conv1")


def test_number_too_long_to_read(write):
    path = write(layers_spec("{name: conv1, type: conv, filters: " + "9" * 5000 + ", kernel: 3}"))
    # the number starts after "  - {name: conv1, type: conv, filters: " (39 characters): column 40
    check_both(path, "a number of 5,000 characters is too long", line="3:40")


# --- types, keys, names and references ------------------------------------------------------------

def test_unknown_type_suggests_a_close_one(write):
    check_both(write(layers_spec("{name: conv1, type: convv, filters: 8, kernel: 3}")),
               "unknown layer type 'convv'; did you mean 'conv'?", line=3, layer="conv1")


def test_unknown_key_suggests_a_close_one(write):
    check_both(write(layers_spec("{name: conv1, type: conv, filter: 8, kernel: 3}")),
               "unknown key 'filter'", "did you mean 'filters'?", line=3, layer="conv1")


def test_unknown_top_level_key(write):
    check_both(write("input: [3, 8, 8]\nlayer:\n  - {type: relu}\n"), "did you mean 'layers'?", line=2)


def test_duplicate_yaml_key(write):
    check_both(write("input: [3, 8, 8]\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n"),
               "duplicate key 'input' (first at line 1)", line=2)


def test_duplicate_layer_names(write):
    check_both(write(layers_spec("{name: a, type: relu}", "{name: a, type: relu}")),
               "duplicate layer name 'a' (first at line 3)", line=4, layer="a")


def test_from_names_an_unknown_layer(write):
    check_both(write(layers_spec("{name: conv1, type: relu}", "{name: b, type: relu, from: conv2}")),
               "unknown layer 'conv2'; did you mean 'conv1'?", line=4, layer="b")


def test_from_names_a_later_layer(write):
    check_both(write(layers_spec("{name: a, type: relu, from: b}", "{name: b, type: relu}")),
               "'b', which comes later (line 4)", line=3, layer="a")


def test_several_inputs_to_a_single_input_layer(write):
    check_both(write(layers_spec("{name: a, type: relu}", "{name: b, type: relu, from: [input, a]}")),
               "relu takes one input, but 'from' gives 2", line=4, layer="b")


@pytest.mark.parametrize("item, fragment", [
    ("relu", "layer 1 must be a mapping like {type: conv"),
    ("[relu]", "layer 1 must be a mapping like {type: conv"),
    ("{name: a, type: relu}: 3", "a mapping key must be a plain value"),
])
def test_layer_that_is_not_a_mapping(write, item, fragment):
    # the item's own line (the first layer is on line 3)
    check_both(write(layers_spec(item)), fragment, line=3)


def test_layers_not_a_list_and_no_layers(write):
    check_both(write("input: [3, 8, 8]\nlayers: {conv1: relu}\n"), "'layers' of the spec must be a list", line=2)
    check_both(write("input: [3, 8, 8]\nlayers: []\n"), "the spec has no layers", line=2)


# --- shapes that do not fit -----------------------------------------------------------------------
# conv 8 filters, 3x3, stride 1, pad 0 on 3 x 32 x 32: (32 - 3 + 0)/1 + 1 = 30, so 8 x 30 x 30.
CONV = "{name: a, type: conv, filters: 8, kernel: 3}"


def test_shape_mismatch_at_add(write):
    check_both(write(layers_spec(CONV, "{name: b, type: add, from: [input, a]}")),
               "mismatch at add", "input gives 3 x 32 x 32, a gives 8 x 30 x 30", line=4, layer="b")


def test_channel_mismatch_at_add(write):
    # same 32 x 32 size (pad 1 keeps it: (32 - 3 + 2)/1 + 1 = 32), channels 3 vs 8
    conv = "{name: a, type: conv, filters: 8, kernel: 3, pad: 1}"
    check_both(write(layers_spec(conv, "{name: b, type: add, from: [input, a]}")),
               "channel mismatch at add", "input gives 3 x 32 x 32, a gives 8 x 32 x 32", line=4, layer="b")


def test_shape_mismatch_at_concat(write):
    check_both(write(layers_spec(CONV, "{name: b, type: concat, from: [input, a]}")),
               "concat needs the same spatial size", "a gives 8 x 30 x 30", line=4, layer="b")


def test_shape_mismatch_at_mul(write):
    check_both(write(layers_spec(CONV, "{name: b, type: mul, from: [input, a]}")),
               "mul needs C x H x W and C x 1 x 1", "a gives 8 x 30 x 30", line=4, layer="b")


@pytest.mark.parametrize("layer", [
    "{name: conv2, type: conv, filters: 8, kernel: 3}",
    "{name: conv2, type: maxpool, kernel: 2}",
    "{name: conv2, type: globalavgpool}",
    "{name: conv2, type: upsample}",
    "{name: conv2, type: mul, from: [flat, flat]}",
])
def test_flat_input_to_a_spatial_layer(write, layer):
    # flatten of 3 x 32 x 32 is 3*32*32 = 3072 values
    check_both(write(layers_spec("{name: flat, type: flatten}", layer)),
               "needs a C x H x W input, but gets a flat vector of 3072", line=4, layer="conv2")


def test_flat_network_input_to_conv(write):
    check_both(write(layers_spec("{name: conv1, type: conv, filters: 8, kernel: 3}", input="[10]")),
               "flat vector of 10", line=3, layer="conv1")


def test_groups_must_divide_the_channels(write):
    check_both(write(layers_spec("{name: conv1, type: conv, filters: 8, kernel: 3, groups: 2}")),
               "groups 2 must divide both the input channels 3 and the filters 8", line=3, layer="conv1")


def test_transposed_conv_output_padding(write):
    up = "{name: up, type: convtranspose, filters: 8, kernel: 3, stride: 2, output_pad: 2}"
    check_both(write(layers_spec(up)), "output_pad 2 must be smaller than stride 2 or dilation 1", line=3, layer="up")


def test_kernel_larger_than_the_padded_input(write):
    # 32 + 2*0 = 32 < 40
    check_both(write(layers_spec("{name: conv2, type: conv, filters: 8, kernel: 40}")),
               "conv2: kernel 40 exceeds the padded input 32", "pad 0", line=3, layer="conv2")


def test_output_with_more_elements_than_pytorch_can_count(write):
    # each upsample multiplies H and W by 2^20; after two, 3 x 2^45 x 2^45 = 3 * 2^90 elements > 2^63 - 1
    big = "{type: upsample, scale: 1048576}"
    check_both(write(layers_spec(big, "{name: up2, type: upsample, scale: 1048576}", input="[3, 32, 32]")),
               "more than 9,223,372,036,854,775,807 (2^63 - 1) elements", line=4, layer="up2")


# --- the block language ---------------------------------------------------------------------------

BLOCK = "unit: {args: {c: ~, k: 3}, layers: [{name: conv, type: conv, filters: c, kernel: k}]}"


def test_undefined_block_suggests_a_close_one(write):
    check_both(write(layers_spec("{name: s, type: unti, c: 8}", blocks=[BLOCK])),
               "unknown layer type 'unti'; did you mean 'unit'?", layer="s")


def test_recursive_blocks(write):
    blocks = ["a: {layers: [{type: b}]}", "b: {layers: [{type: a}]}"]
    check_both(write(layers_spec("{type: a}", blocks=blocks)), "block 'a' uses itself (a -> b -> a)")


def test_missing_block_argument(write):
    check_both(write(layers_spec("{name: s, type: unit}", blocks=[BLOCK])), "block 'unit' needs argument 'c'", layer="s")


def test_unknown_block_argument_suggests_a_close_one(write):
    check_both(write(layers_spec("{name: s, type: unit, cc: 8}", blocks=[BLOCK])),
               "block 'unit' has no argument 'cc'; did you mean 'c'?", layer="s")


def test_bad_block_argument_value(write):
    check_both(write(layers_spec("{name: s, type: unit, c: lots}", blocks=[BLOCK])),
               "filters must be a whole number, not 'lots'", layer="s.conv")


def test_bad_block_definitions(write):
    check_both(write(layers_spec("{type: relu}", blocks=["unit: [relu]"])), "block 'unit' must be a mapping")
    check_both(write(layers_spec("{type: relu}", blocks=["unit: {args: {c: 1}}"])), "block 'unit' has no 'layers'")
    check_both(write(layers_spec("{type: relu}", blocks=["unit: {layer: []}"])), "did you mean 'layers'?")


@pytest.mark.parametrize("repeat", ["0", "-3", "2.5", "many", "true", "100000000000"])
def test_bad_repeat_counts(write, repeat):
    check_both(write(layers_spec(f"{{name: r, type: relu, repeat: {repeat}}}")),
               "'repeat' must be a whole number from 1 to 10,000", line=3, layer="r")


def test_plain_aliases_and_merge_keys_still_work(write):
    text = "input: [3, 8, 8]\nlayers:\n  - &c {type: conv, filters: 3, kernel: 3, pad: 1}\n  - {<<: *c, name: c2}\n"
    assert invoke("validate", write(text)).exit_code == 0


# --- nothing in a spec runs -----------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/new:os.system",
                                 "!!python/name:os.system", "!!python/module:os", "!custom"])
def test_yaml_tags_that_build_objects_are_refused(write, tmp_path, tag):
    marker = tmp_path / "ran"
    path = write(f"input: [3, 8, 8]\nlayers:\n  - {tag} [\"touch {marker}\"]\n")
    check_both(path, "is not allowed", "plain data", line="3:5")  # the tag starts after "  - "
    assert not marker.exists()


@pytest.mark.parametrize("tag", ["!!set {a, b}", "!!binary aGVsbG8=", "!!omap [{a: 1}]"])
def test_other_non_plain_tags_are_refused(write, tag):
    check_both(write(f"input: [3, 8, 8]\nlayers:\n  - {tag}\n"), "is not allowed", line="3:5")


@pytest.mark.parametrize("expression, fragment", [
    ("__import__('os').system('touch ran')", "unsupported syntax"),
    ("c.real", "must be a whole number, not 'c.real'"),  # a dotted word is a layer name, never evaluated
    ("(lambda: 3)()", "unsupported syntax"),
    ("[x for x in range(9)]", "unsupported syntax"),
    ("c[0]", "unsupported syntax"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("9 ** 9 ** 9 ** 9", "number too large"),  # ** is bounded before it is computed
    ("1 << 100000", "unsupported operator"),
    ("99999999 * 99999999 * 99999999", "number too large"),
    ("c // 0", "division by zero"),
    ("divisible(c, 0)", "divisor of at least 1"),
    ("c < 'relu'", "'relu' is not a number"),  # floats are numbers too, so not "whole"
    ("k < 3", "cannot compare 'relu' with 3"),
    ("-" * 300 + "1", "longer than 200 characters"),
    ("((((1", "cannot read expression"),
])
def test_expressions_cannot_run_code(write, tmp_path, monkeypatch, expression, fragment):
    monkeypatch.chdir(tmp_path)
    conv = f'{{name: conv, type: conv, filters: "{expression}", kernel: 1}}'
    block = f"unit: {{args: {{c: 8, k: relu}}, layers: [{conv}]}}"
    check_both(write(layers_spec("{name: s, type: unit}", blocks=[block])), fragment, layer="s.conv")
    assert not (tmp_path / "ran").exists()


# --- deep nesting: run in a subprocess, since a C-stack overflow would take pytest down with it -----


# --- usage errors: exit 2 -------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["report", "alexnet", "--input", "3xax3"], "--input must look like"),
    (["report", "alexnet", "--input", "0"], "positive sizes"),
    (["report", "alexnet", "--input", f"3x{2**31}x8"], "at most 2,147,483,647"),
    (["report", "alexnet", "--format", "jsn"], "did you mean 'json'?"),
    (["validate", "alexnet", "--input", "zz"], "--input must look like"),
])
def test_usage_errors_exit_2(args, fragment):
    assert_one_line_error(invoke(*args), fragment, code=2)


@pytest.mark.parametrize("args", [["report"], ["validate"], ["report", "alexnet", "--batch", "0"],
                                  ["report", "alexnet", "--no-such-option"]])
def test_click_usage_errors_exit_2(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


# --- messages stay one harmless line --------------------------------------------------------------

def test_newlines_and_terminal_escapes_from_a_file_are_shown_escaped(write):
    # a name may not hold them at all (the name policy); a key that is not a name is quoted escaped
    path = write('input: [3, 8, 8]\nlayers:\n  - {name: "a\\nb", type: relu}\n')
    check_both(path, "'name' holds a line break (U+000A)", line=3)
    path = write('input: [3, 8, 8]\nlayers:\n  - {name: red, type: relu, "\\e[31mx\\ny": 1}\n')
    message = check_both(path, "unknown key '\\x1b[31mx\\ny'", line=3)
    assert "\x1b" not in message


def test_several_inputs_to_a_block(write):
    check_both(write(layers_spec("{name: a, type: relu}", "{name: s, type: unit, c: 8, from: [input, a]}", blocks=[BLOCK])),
               "block 'unit' takes one input, got 2", line=6, layer="s")


@pytest.mark.parametrize("options, fragment", [
    ({"input": ["3", 8, 8]}, "--input must be whole numbers"),
    ({"input": [3, True, 8]}, "--input must be whole numbers"),
    ({"input": [3, 2.5, 8]}, "--input must be whole numbers"),
    ({"dtype": ["fp32"]}, "unknown dtype"),
    ({"batch": 0}, "batch must be a positive whole number"),
])
def test_library_api_refuses_bad_options(options, fragment):
    import cnncalc

    with pytest.raises(cnncalc.CnnCalcError, match=fragment.replace("-", "\\-")):
        cnncalc.analyze("alexnet", **options)


def test_expressions_print_no_python_warnings(write):
    # Python warns "invalid hexadecimal literal" on stderr while parsing `0x1for`: a second stderr line
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_both(write(layers_spec('{name: c, type: conv, filters: "0x1for", kernel: 1}')),
                   "cannot read expression '0x1for'", line=3, layer="c")
    assert not [w for w in caught if issubclass(w.category, SyntaxWarning)]


# --- numbers people type: ASCII digits, bounded; a usage error, never a traceback ---------------


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
    assert_one_line_error(invoke(*args), fragment, code=2)


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
