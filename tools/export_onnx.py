"""Export torchvision models to ONNX (opset 17, BatchNorm kept, weights in an external data file).

These files are what `cnncalc report MODEL.onnx` and `cnncalc import MODEL.onnx` are checked on
(tools/check_onnx.py compares them with tests/data/torchvision_totals.csv). PyTorch is not a
dependency of cnncalc or of its tests, so run this with a venv of its own:

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install "torch==2.14.*" "torchvision==0.29.*" onnx
    /tmp/torchvenv/bin/python tools/export_onnx.py /work/onnx-models            # the five models
    /tmp/torchvenv/bin/python tools/export_onnx.py /work/onnx-models --all      # every run of the CSV
    /tmp/torchvenv/bin/python tools/export_onnx.py /work/onnx-models vgg11 --inline   # weights inside

Each model is written as OUT/NAME.onnx (the graph, ~100 KB) plus OUT/NAME.onnx.data (the weights),
with a dynamic batch dimension ("batch") on the input.

What keeps BatchNorm (measured with torch 2.14 / torchvision 0.29 / onnx 1.23):
- the TorchScript exporter (`dynamo=False`) with `do_constant_folding=False`, eval mode: BN stays a
  BatchNormalization node with its scale, bias, mean and var. The exporter deduplicates initializers
  with equal contents (every freshly made BN weight is all ones) and reaches the copies through
  Identity nodes; cnncalc follows those. `training=TrainingMode.PRESERVE` keeps BN too.
- `do_constant_folding=True` (the default) folds each BN into the conv before it: the model then has
  conv biases instead of BN params (fewer params than torchvision).
- the torch.export-based exporter (`dynamo=True`, the default since torch 2.9) asks for opset 18 (it
  cannot convert resnet18 down to 17), and its graph optimizer folds BN away even with
  `do_constant_folding=False` (resnet18 then reports 11,679,912 params, no buffers); with `optimize=False`
  BN stays and each bias-free conv gets a computed zero bias (Shape/Expand/CastLike), which cnncalc does
  not count, so resnet18 reports torchvision's 11,689,512 params and 9,600 buffers. Not used here.
"""

import argparse
import ast
import csv
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV = os.path.join(ROOT, "tests", "data", "torchvision_totals.csv")
DEFAULT = ("resnet18", "mobilenet_v2", "googlenet", "squeezenet1_0", "vgg11")


def runs():
    with open(CSV, encoding="utf-8") as handle:
        return {row["run"]: row for row in csv.DictReader(line for line in handle if not line.startswith("#"))}


def export(run, folder, inline=False):
    import onnx
    import torch
    import torchvision

    text = run["builder_kwargs"].replace("null", "None").replace("false", "False").replace("true", "True")
    model = getattr(torchvision.models, run["model"])(**ast.literal_eval(text)).eval()
    size = [int(s) for s in run["input"].split("x")]
    path = os.path.join(folder, f"{run['run']}.onnx")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, *size),), path, opset_version=17, dynamo=False,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    if not inline:
        proto = onnx.load(path)
        data = os.path.basename(path) + ".data"
        if os.path.exists(os.path.join(folder, data)):
            os.remove(os.path.join(folder, data))  # save_model appends to an existing data file
        onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                        size_threshold=1024)
    sizes = [os.path.getsize(p) for p in (path, path + ".data") if os.path.exists(p)]
    print(f"{run['run']:<20} {path}  {' + '.join(f'{s:,}' for s in sizes)} bytes  "
          f"({time.perf_counter() - start:.1f} s)")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write the .onnx files (outside the repository)")
    parser.add_argument("names", nargs="*", help=f"runs of the totals CSV (default: {', '.join(DEFAULT)})")
    parser.add_argument("--all", action="store_true", help="every run of tests/data/torchvision_totals.csv")
    parser.add_argument("--inline", action="store_true", help="keep the weights inside the .onnx file")
    args = parser.parse_args(argv)
    known = runs()
    names = list(known) if args.all else (args.names or list(DEFAULT))
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"not in {os.path.relpath(CSV, ROOT)}: {', '.join(unknown)}")
    os.makedirs(args.folder, exist_ok=True)
    for name in names:
        export(known[name], args.folder, inline=args.inline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
