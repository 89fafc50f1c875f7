"""--explain: a block's sums, then each layer; suggestions; train-only layers.

Reference values are the lecture's arithmetic written out here, never copied from the program's output.
"""

from cli_runner import data_of, invoke, ok


def test_explain_a_block_sums_its_layers_then_explains_each():
    out = ok("report", "resnet18", "--explain", "layer1.0")
    head = out.split("\n\n")[0].splitlines()
    assert head[0].startswith("layer1.0: a block of 5 layers (layer1.0.conv1 ... layer1.0.add)")
    # two 3x3 convs 64 -> 64 without bias, two batch norms of 2*64
    conv, bn = 64 * 64 * 9, 2 * 64
    assert head[1] == f"params = {conv:,} + {bn} + {conv:,} + {bn} = {2 * conv + 2 * bn:,}"
    macs = 64 * 56 * 56 * 64 * 9
    assert head[2] == f"MACs = {macs:,} + {macs:,} = {2 * macs:,}"
    for name in ("layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2", "layer1.0.bn2", "layer1.0.add"):
        assert f"\n\n{name} (" in out


def test_explain_suggests_by_prefix_first():
    result = invoke("report", "resnet18", "--explain", "layer1.0.con")
    assert result.exit_code == 2  # a name on the command line (docs/commands.md, exit codes)
    assert "did you mean 'layer1.0.conv1', 'layer1.0.conv2'?" in result.stderr
    assert "did you mean 'layer1'?" in invoke("report", "resnet18", "--explain", "layr1").stderr


def test_explain_of_a_train_only_layer_agrees_with_the_table():
    # GoogLeNet's aux1 1x1 conv: 128 filters on 512x4x4, MACs 128*4*4*512 = 1,048,576, memory 128*4*4*4 B
    macs, memory = 128 * 4 * 4 * 512, 128 * 4 * 4 * 4
    out = ok("report", "googlenet_aux", "--explain", "aux1.conv.conv")
    assert out.splitlines()[-1] == (f"runs only in training: in eval mode the table and totals count its MACs, "
                                    f"flop and memory as 0 (--mode train counts MACs {macs:,}, flop {macs:,}, "
                                    f"memory {memory:,} B)")
    data, _ = data_of("report", "googlenet_aux")
    row = next(layer for layer in data["layers"] if layer["name"] == "aux1.conv.conv")
    assert (row["macs"], row["memory_bytes"]) == (0, 0)
    train = ok("report", "googlenet_aux", "--explain", "aux1.conv.conv", "--mode", "train")
    assert "runs only in training" not in train and f"= {macs:,}" in train


def test_norm_params_and_buffers_are_written_with_thousands_commas_as_every_other_count():
    # ResNet-50's layer4.0.bn1 normalises 512 channels: 2*512 = 1,024 params and 1,024 buffers
    line = ok("report", "resnet50", "--explain", "layer4.0.bn1").splitlines()[1]
    assert line == "params = 2*C = 2*512 = 1,024 (scale and shift); buffers = 2*C = 1,024 (running mean and " \
                   "variance, not params)"
    # ViT-B/16's LayerNorm over D = 768: 2*768 = 1,536
    assert "params = 2*C = 2*768 = 1,536 (scale and shift); no buffers" in ok("layer", "layernorm", "--input", "197x768")


def test_explain_of_a_block_of_one_layer_names_it_once(write):
    spec = write("input: [3, 8, 8]\nlayers:\n  - {name: a.conv, type: conv, filters: 2, kernel: 3}\n"
                 "  - {name: b.relu, type: relu}\n")
    # 2 filters of 3x3x3 and their biases: 2*27 + 2 = 56 params
    out = ok("report", spec, "--explain", "a")
    assert out.startswith("a: a block of 1 layer (a.conv), input 3x8x8, output 2x6x6; its row sums them:\n"
                          "params = 56\n")


def test_explain_of_a_layer_with_layers_inside_its_name_is_a_block_of_all_of_them(write):
    # a module with a layer of its own and a child (timm's BottleneckAttn: self_attn and self_attn.pool):
    # 2 filters of 3x3x3 and their biases, 56 params; the 2x2 pool of the 2x6x6 map, flop 2*3*3*4 = 72
    spec = write("input: [3, 8, 8]\nlayers:\n  - {name: a, type: conv, filters: 2, kernel: 3}\n"
                 "  - {name: a.pool, type: avgpool, kernel: 2}\n")
    out = ok("report", spec, "--explain", "a")
    assert out.startswith("a: a block of 2 layers (a ... a.pool), input 3x8x8, output 2x3x3; its row sums them:\n"
                          "params = 56\n")
    assert "\n\na (conv)" in out and "\n\na.pool (avgpool)" in out
