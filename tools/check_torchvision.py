"""Check the built-in specs against torchvision layer by layer: every Conv2d and Linear.

tests/test_zoo.py checks the totals (params, buffers, MACs) against figures measured once with PyTorch;
this developer script checks each conv, fc and linear layer: output shape, params (with bias) and MACs
(conv Cout*H'*W'*(Cin/groups)*Kh*Kw, linear in*out, times H*W on a map as in ConvNeXt). It needs
PyTorch, which the package and its tests never do, so give it a venv of its own:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install "torch==2.14.*" "torchvision==0.29.*" pyyaml   # pyyaml for cnncalc
    /tmp/torchvenv/bin/python tools/check_torchvision.py            # every run in the reference CSV
    /tmp/torchvenv/bin/python tools/check_torchvision.py resnet50   # only the runs named

For each run of tests/data/torchvision_totals.csv (plus vgg13_bn and vgg19_bn, built in and in
torchvision but not in the CSV) it builds the torchvision model with the CSV's builder
arguments (random weights), records every Conv2d/Linear call of one forward pass of a zero image with
hooks, and compares them in order with cnncalc's conv/dwconv/fc/linear rows. If the orders differ (parallel
branches listed in another order) it compares the sorted lists and says so. googlenet_aux runs in
training mode on both sides, since torchvision calls the auxiliary classifiers only then.
Exit status 0 when every run matches, 1 otherwise.
"""

import ast
import csv
import os
import sys

import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import cnncalc  # noqa: E402

CSV = os.path.join(ROOT, "tests", "data", "torchvision_totals.csv")
SPEC_FOR_RUN = {"alexnet_227": "alexnet", "resnet50_160": "resnet50", "resnet50_448": "resnet50"}
TRAIN_MODE = {"googlenet_aux"}  # aux classifiers run only in training
# built-in specs that torchvision has but the totals CSV does not list
EXTRA_RUNS = [{"run": name, "model": name, "builder_kwargs": "{'weights': None}", "input": "3x224x224"}
              for name in ("vgg13_bn", "vgg19_bn")]


def reference_runs():
    with open(CSV, encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#"))) + EXTRA_RUNS


def torch_layers(run, mode):
    """(name, out shape, params, MACs) of every Conv2d/Linear call, in call order."""
    text = run["builder_kwargs"].replace("null", "None").replace("false", "False").replace("true", "True")
    model = getattr(torchvision.models, run["model"])(**ast.literal_eval(text))
    model.train(mode == "train")
    calls = []

    def hook(module, _inputs, output, name):
        shape = tuple(output.shape[1:])
        params = sum(p.numel() for p in module.parameters())
        if isinstance(module, torch.nn.Conv2d):
            macs = output[0].numel() * module.weight[0].numel()  # Cout*H'*W' * (Cin/groups)*Kh*Kw
        else:
            macs = output[0].numel() * module.in_features  # in*out, times H*W on a channels-last map
            if len(shape) > 1:  # ConvNeXt's Linear on H x W x C: cnncalc writes C x H x W
                shape = shape[-1:] + shape[:-1]
        calls.append((name, shape, params, macs))

    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.register_forward_hook(lambda m, i, o, name=name: hook(m, i, o, name))
    size = [int(s) for s in run["input"].split("x")]
    with torch.no_grad():
        model(torch.zeros(1, *size))
    return calls


def cnncalc_layers(run, mode):
    report = cnncalc.analyze(SPEC_FOR_RUN.get(run["run"], run["run"]), input=run["input"], mode=mode)
    return [(row.name, tuple(row.out_shape), row.params, row.macs)
            for row in report.rows if row.type in ("conv", "dwconv", "fc", "linear")]


def mismatches(ours, theirs, limit=3):
    lines = [f"  #{i}: cnncalc {a[0]} {a[1:]} vs torchvision {b[0]} {b[1:]}"
             for i, (a, b) in enumerate(zip(ours, theirs)) if a[1:] != b[1:]]
    return lines[:limit]


def check(run):
    mode = "train" if run["run"] in TRAIN_MODE else "eval"
    ours, theirs = cnncalc_layers(run, mode), torch_layers(run, mode)
    label = f"{run['run']:<20} {run['input']:<10}" + (" (train mode)" if mode == "train" else "")
    if [a[1:] for a in ours] == [b[1:] for b in theirs]:
        print(f"{label} OK: {len(ours)} layers in order")
        return True
    if sorted(a[1:] for a in ours) == sorted(b[1:] for b in theirs):
        print(f"{label} OK: {len(ours)} layers, same multiset but in another order")
        return True
    print(f"{label} MISMATCH: cnncalc {len(ours)} layers, torchvision {len(theirs)}")
    print("\n".join(mismatches(ours, theirs)))
    return False


def main(names):
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    runs = [run for run in reference_runs() if not names or run["run"] in names]
    results = [check(run) for run in runs]
    print(f"{sum(results)} of {len(results)} runs match layer by layer")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
