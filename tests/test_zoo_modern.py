"""The built-in models of issue 13 against figures measured with PyTorch.

Source of every figure below: tools/modern_reference.py run under torch 2.14.1 and torchvision 0.29.1
(its output is saved in tools/modern_reference.txt). convnext_tiny and efficientnet_b3 are torchvision's
models (weights=None); the others are the PyTorch modules written in that script after their papers.
Conventions as cnncalc's: params are all parameters; buffers are BN running means and variances;
MACs are conv out elements * (Cin/groups) * prod(kernel), transposed conv in elements * (Cout/groups) *
prod(kernel), Linear out elements * in_features (also on channels-last maps), counted with forward hooks.
"""

import pytest

import cnncalc

# (built-in, input, params, buffers, MACs, output shape), as printed by tools/modern_reference.py
REFERENCE = [
    ("convnext_tiny", [3, 224, 224], 28589128, 0, 4455531264, [1000]),
    ("mobilenet_v1", [3, 224, 224], 4231976, 21888, 568740352, [1000]),
    ("resnet20", [3, 32, 32], 269722, 1376, 40551040, [10]),
]


@pytest.mark.parametrize("name, shape, params, buffers, macs, output", REFERENCE,
                         ids=[f"{r[0]}-{'x'.join(map(str, r[1]))}" for r in REFERENCE])
def test_matches_pytorch(name, shape, params, buffers, macs, output):
    report = cnncalc.analyze(name, input="x".join(map(str, shape)))
    totals = report.totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (params, buffers, macs)
    assert list(report.rows[-1].out_shape) == output


def test_default_input_is_the_first_reference_one():
    firsts = {}
    for name, shape, *_ in REFERENCE:
        firsts.setdefault(name, shape)
    for name, shape in firsts.items():
        assert list(cnncalc.analyze(name).input) == shape, name
