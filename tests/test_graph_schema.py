"""cnncalc graph (dot, mermaid), cnncalc schema, --help examples and shell completion.

Shapes on the edges are the papers' / torchvision's: ResNet-50 stage outputs (He et al. Table 1),
GoogLeNet inception(3a) 28x28x256 from 192 channels (Szegedy et al. Table 1).
"""

import json
import re

import pytest
import yaml
from click.testing import CliRunner

import cnncalc
from cnncalc import builtins, rules
from cnncalc.cli import COMMANDS, main


def invoke(*args, env=None):
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], env=env, prog_name="cnncalc")


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return result.stdout


DOT_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"\];$')


def dot_edges(text):
    return [DOT_EDGE.match(line).groups() for line in text.splitlines() if "->" in line]


def test_dot_of_a_bottleneck_block():
    out = ok("graph", "resnet50", "--only", "layer1.0")
    assert out.startswith('digraph "ResNet-50" {') and out.rstrip().endswith("}")
    assert out.count("{") == out.count("}")
    edges = dot_edges(out)
    # the shortcut takes the 64x56x56 maxpool output; the block widens it to 256 (64 * 4)
    assert ("maxpool", "layer1.0.conv1", "64x56x56") in edges
    assert ("maxpool", "layer1.0.downsample.0", "64x56x56") in edges
    assert ("layer1.0.conv3", "layer1.0.bn3", "256x56x56") in edges
    assert ("layer1.0.downsample.1", "layer1.0.add", "256x56x56") in edges
    assert ("layer1.0.add", "layer1.1.conv1", "256x56x56") in edges
    assert 'subgraph "cluster_layer1.0"' in out
    assert '"maxpool" [label="maxpool", shape=box, style=dashed]' in out  # a neighbour outside the block


def test_attention_boxes_say_their_heads_and_window():
    # ViT-B/16: 12 heads on 197 tokens of 768 (Dosovitskiy et al. Table 1); Swin-T's first stage: 3 heads in
    # 7x7 windows of the 96 x 56 x 56 map (Liu et al. 2021, section 3.3)
    vit = ok("graph", "vit_b_16", "--only", "encoder.layers.encoder_layer.0")
    assert '"encoder.layers.encoder_layer.0.self_attention" [label="self_attention\\nattention, 12 heads"' in vit
    assert ("encoder.layers.encoder_layer.0.ln_1", "encoder.layers.encoder_layer.0.self_attention",
            "197x768") in dot_edges(vit)
    assert '"features.1.0.attn" [label="attn\\nattention 7x7, 3 heads"' in ok("graph", "swin_t", "--only", "features.1.0")


def test_dot_of_the_whole_alexnet_has_input_and_output():
    edges = dot_edges(ok("graph", "alexnet", "--input", "227"))
    assert edges[0] == ("input", "conv1", "3x227x227")
    assert ("conv1", "pool1", "64x56x56") in edges  # the lecture table: (227 - 11 + 2*2)/4 + 1 = 56
    assert edges[-1] == ("fc8", "output", "1000")
    assert len(edges) == 14  # 13 layers in a chain, plus the output


def test_mermaid_of_an_inception_module():
    out = ok("graph", "googlenet", "--only", "inception3a", "--format", "mermaid")
    assert "flowchart TB" in out
    ids = dict(re.findall(r'^\s*(n\d+)[\[(>]+"([^"<]+)', out, re.M))
    edges = [(ids[a], label, ids[b]) for a, label, b in re.findall(r'(n\d+) -->\|"([^"]*)"\| (n\d+)', out)]
    # four branches read the 192-channel 28x28 input; the concat gives 64 + 128 + 32 + 32 = 256 channels
    assert sum(1 for source, label, _ in edges if source == "maxpool2" and label == "192x28x28") == 4
    assert sum(1 for _, label, target in edges if target == "concat") == 4
    assert {label for source, label, _ in edges if source == "concat"} == {"256x28x28"}
    stripped = [line.strip() for line in out.splitlines()]
    assert sum(line.startswith("subgraph ") for line in stripped) == stripped.count("end") > 0


def test_mermaid_folded_to_stages():
    out = ok("graph", "resnet50", "--depth", "1", "-f", "mermaid")
    labels = re.findall(r'-->\|"([^"]*)"\|', out)
    assert labels == ["3x224x224", "64x112x112", "64x112x112", "64x56x56", "256x56x56", "512x28x28",
                      "1024x14x14", "2048x7x7", "2048x1x1", "2048", "1000"]


def test_graph_errors():
    result = invoke("graph", "alexnet", "--only", "conv9")
    assert result.exit_code == 2 and "no layer or block named 'conv9'; did you mean 'conv" in result.stderr
    assert invoke("graph", "alexnet", "--format", "png").exit_code == 2


def test_schema_is_generated_from_the_rules():
    schema = json.loads(ok("schema"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["required"] == ["input", "layers"]
    layer = schema["definitions"]["layer"]
    types = {clause["if"]["properties"]["type"]["const"]: clause["then"] for clause in layer["allOf"]}
    assert set(types) == set(rules.RULES)
    assert types["conv"]["required"] == ["filters", "kernel"]
    assert types["conv"]["properties"]["stride"]["default"] == 1
    assert types["maxpool"]["properties"]["ceil_mode"]["default"] is False
    assert types["fc"]["additionalProperties"] is False and "units" in types["fc"]["properties"]
    assert set(layer["properties"]["type"]["anyOf"][0]["enum"]) == set(rules.RULES)


@pytest.mark.slow
def test_schema_validates_the_built_ins_and_catches_a_typo(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    path = tmp_path / "cnncalc.schema.json"
    result = invoke("schema", "-o", path)
    assert result.exit_code == 0
    validator = jsonschema.Draft7Validator(json.loads(path.read_text()))
    for name in builtins.names():
        with open(builtins.path_of(name), encoding="utf-8") as handle:
            errors = list(validator.iter_errors(yaml.safe_load(handle)))
        assert not errors, (name, errors[0].message)
    typo = {"input": [3, 32, 32], "layers": [{"type": "conv", "filter": 10, "kernel": 5}]}
    messages = [error.message for error in validator.iter_errors(typo)]
    assert any("'filter' was unexpected" in m for m in messages)
    assert any("'filters' is a required property" in m for m in messages)


def test_python_api_schema():
    assert cnncalc.spec_schema()["title"] == "cnncalc network spec"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_help_ends_with_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.rstrip().splitlines()
    options = lines.index("Options:")
    example = max(i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:"))
    assert example > options, f"{command}: the example should come after the options"
    assert lines[-1].strip().startswith(("cnncalc ", "for ")), lines[-1]


def test_top_level_help_mentions_completion():
    out = ok("--help")
    assert "_CNNCALC_COMPLETE=bash_source cnncalc" in out
    assert out.rstrip().splitlines()[-1].strip().startswith("cnncalc ")


def test_shell_completion_script_and_model_names():
    script = invoke(env={"_CNNCALC_COMPLETE": "bash_source"})
    assert "_cnncalc_completion" in script.stdout
    words = invoke(env={"_CNNCALC_COMPLETE": "bash_complete", "COMP_WORDS": "cnncalc compare resnet1",
                        "COMP_CWORD": "2"})
    assert "plain,resnet18" in words.stdout and "plain,resnet101" in words.stdout


def test_schema_covers_the_new_types_and_n_d_specs():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(cnncalc.spec_schema())
    spec = {"input": [1, 16000], "layers": [
        {"name": "c", "type": "conv", "filters": 8, "kernel": 80, "stride": 4, "act": {"leakyrelu": 0.1}},
        {"type": "layernorm"}, {"type": "groupnorm", "groups": 2}, {"type": "instancenorm", "affine": True},
        {"type": "scale"}, {"type": "linear", "units": 4}, {"type": "upsample", "scale": 1.5, "mode": "linear"},
        {"type": "upsample", "like": "c"}, {"type": "crop", "size": [100]}, {"type": "pad", "pad": [1, 2],
                                                                              "channels": [2, 2]}]}
    assert not list(validator.iter_errors(spec))
    for wrong in ({"type": "upsample", "scale": 0}, {"type": "groupnorm"}, {"type": "crop", "like": 3},
                  {"type": "pixelshuffle"}):
        assert list(validator.iter_errors({"input": [3, 8, 8], "layers": [wrong]})), wrong
