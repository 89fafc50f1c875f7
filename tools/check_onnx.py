"""Check ONNX exports of torchvision models against torchvision's params, BN buffers and MACs.

For each OUT/RUN.onnx written by tools/export_onnx.py whose RUN is in tests/data/torchvision_totals.csv:
`cnncalc report RUN.onnx` (the reader), then `cnncalc import RUN.onnx` and a report of the written spec;
both must give the CSV's params, buffers and MACs exactly. Needs only cnncalc and onnx (no torch):

    python tools/check_onnx.py /work/onnx-models                 # every .onnx file there
    python tools/check_onnx.py /work/onnx-models resnet18 vgg11  # only these
    python tools/check_onnx.py --modern /work/scratch/onnx       # tools/export_modern.py's files, both exporters

With --modern, each NAME.ts.onnx and NAME.dynamo.onnx is compared with tools/modern_onnx_reference.txt
(PyTorch's params, buffers and FlopCounterMode MACs). A TorchScript export must match all three. A
torch.export (dynamo) export folds BatchNorm into the convs before it: when the model has BatchNorm it
must match the MACs, have no buffers and the params of the folded model (folded_params: each BN after a
conv, reading its output, goes, the conv keeps its bias or gains one); the line says "BN folded". Biases its optimizer removed
because they were all zeros (a module's own, named in the node's metadata: MLP-Mixer's stem and head) are
taken off PyTorch's params; the line says "zero biases removed". A BatchNorm that follows no conv
(MaxViT's pre-norm) stays, with its running stats as buffers, and so do the buffers that are not BatchNorm's
(PyTorch's buffers less bn_params: relative position indices). A position bias table it folded into a
heads x n x n constant (``position: folded``) adds heads*n*n params less the table's ((2W-1)^2*heads, or
heads*N for attention biases on N tokens, or on a window's n positions where the TorchScript file's layer
reads ``position: offsets``: TinyViT's) and drops the index's n*n buffers; the line says "position bias
folded". The shifted windows' masks timm keeps as buffers (``mask: buffer``) stay buffers in both files.
Other buffers of a BN-folded model (CoAtNet's relative indices) stay. What torch.export derived from
the model's tensors (docs/onnx.md) is taken from the graph's shapes and its optimizer's records of what
each initializer was folded from (value_info metadata): Swin V2's bias MLP whose first Linear (2 -> h) it
ran on the (2W-1)^2 x 2 coordinates table, stored as a 1 x (2W-1) x (2W-1) x h constant, adds
(2W-1)^2*h - 2*h params, drops the 2*(2W-1)^2 coordinates buffers and that Linear's (2W-1)^2*2*h MACs
("position MLP folded"); a conv weight folded whole with its gain (NF-ResNet) drops the gain's Cout params
("gain folded into weight").
MViT V2's relative position tables it stores as the rows it gathers from them (``gathered``: q*k*d
for a (2*max(q, k)-1) x d table) add the difference, worked by the attention rule; the line says "position
tables gathered".

Prints one line per model with the figures and the time `report` took; exit 1 on any mismatch.
"""

import csv
import math
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import cnncalc  # noqa: E402
from cnncalc.spec.writer import to_yaml  # noqa: E402

CSV = os.path.join(ROOT, "tests", "data", "torchvision_totals.csv")
KEYS = ("params", "buffers", "macs")


def expected():
    with open(CSV, encoding="utf-8") as handle:
        return {row["run"]: row for row in csv.DictReader(line for line in handle if not line.startswith("#"))}


def read_and_import(path):
    """The model's report, the seconds it took, and the report of the spec `cnncalc import` writes for it."""
    start = time.perf_counter()
    report = cnncalc.analyze(path)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        written = os.path.join(folder, "imported.yaml")
        with open(written, "w", encoding="utf-8") as handle:
            handle.write(to_yaml(report.spec))
        imported = cnncalc.analyze(written)
    return report, seconds, imported


def check(path, row):
    report, seconds, imported = read_and_import(path)
    want = {key: int(row[key]) for key in KEYS}
    got = {key: report.totals[key] for key in KEYS}
    again = {key: imported.totals[key] for key in KEYS}
    ok = got == want and again == want and report.input == tuple(int(s) for s in row["input"].split("x"))
    figures = ", ".join(f"{key} {got[key]:,}" for key in KEYS)
    status = "OK" if ok else f"MISMATCH (torchvision {want}, import {again})"
    print(f"{row['run']:<20} {status}: {figures}; {len(report.rows)} layers; report {seconds:.2f} s")
    return ok


MODERN = os.path.join(ROOT, "tools", "modern_onnx_reference.txt")


def modern(folder, names):
    import cnncalc.errors

    with open(MODERN, encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    results = []
    for row in rows:
        if names and row["run"] not in names:
            continue
        offsets = []  # the TorchScript file's windowed attention layers: True where its bias is by offset (TinyViT)
        for kind in ("ts", "dynamo"):
            path = os.path.join(folder, f"{row['run']}.{kind}.onnx")
            if not os.path.exists(path):
                continue
            label = f"{row['run']}.{kind}"
            want = {key: int(row[key]) for key in KEYS}
            folded = kind == "dynamo" and int(row["bn_params"]) > 0
            if folded:
                folded_params = int(row.get("folded_params") or int(row["params"]) - int(row["bn_params"]) // 2)
                want = {"params": folded_params, "buffers": 0, "macs": want["macs"]}
            removed, note_bias, note_derived = 0, "", ""
            if kind == "dynamo":  # the all-zero biases of a freshly built model its optimizer removed (a note says so)
                from cnncalc.onnx.reader import read_model, removed_biases

                graph = read_model(path).graph
                removed = removed_biases(graph)[1]
                want["params"] -= removed
                note_derived = derived_differences(graph, want)
                if folded:  # a BatchNorm that follows no conv (MaxViT's pre-norm) stays, with its running stats;
                    # the other buffers (a relative position index: CoAtNet's) stay unless folded (below)
                    sizes = {tensor.name: math.prod(tensor.dims) for tensor in graph.initializer}
                    want["buffers"] = int(row["buffers"]) - int(row["bn_params"]) + sum(
                        sizes.get(name, 0) for node in graph.node if node.op_type == "BatchNormalization"
                        for name in node.input[3:5])
            try:
                report, seconds, imported = read_and_import(path)
            except cnncalc.errors.SpecError as err:
                print(f"{label:<28} REFUSED: {str(err)[:220]}")
                results.append(False)
                continue
            windowed = [layer for layer in report.spec.layers if layer.type == "attention" and "window" in layer.keys]
            if kind == "ts":
                offsets = [layer.keys.get("position") == "offsets" for layer in windowed]
            for layer in report.spec.layers:  # a relative position table torch.export folded (position: folded)
                if kind == "dynamo" and layer.keys.get("position") == "folded":
                    heads = layer.keys["heads"]
                    if "window" in layer.keys:  # Swin's, MaxViT's relative table (2W-1)^2 x heads (3-D: per axis)
                        window = layer.keys["window"]
                        sides = list(window) if isinstance(window, (list, tuple)) else [window] * 2
                        n, table = math.prod(sides), math.prod(2 * side - 1 for side in sides) * heads
                        m = n
                        at = windowed.index(layer)
                        if at < len(offsets) and offsets[at]:  # TinyViT's biases by offset in windows: heads x n
                            table = heads * n
                    else:  # EfficientFormer's, LeViT's attention biases on N tokens: heads x N (M queries: a stride)
                        row = report.row(layer.name)  # (EfficientFormerV2's: M queries of a map's N positions)
                        m, n = (math.prod(row.out_shape[1:]), math.prod(row.in_shape[1:])) if len(row.in_shape) == 3 \
                            else (row.out_shape[0], row.in_shape[0])
                        table = heads * n
                    want["params"] += heads * m * n - table
                    want["buffers"] -= m * n
                    note_bias = " (position bias folded)"
                if layer.keys.get("rope") == "table":  # timm's RoPE bands (head width / 4), never read by the graph
                    want["buffers"] -= report.row(layer.name).in_shape[1] // layer.keys["heads"] // 4
                    note_bias = " (RoPE bands not in the file)"
                if kind == "dynamo" and layer.keys.get("gathered"):  # MViT V2's tables as the rows it gathered
                    want["params"] += gathered_difference(report, layer)
                    note_bias = " (position tables gathered)"
            got = {key: report.totals[key] for key in KEYS}
            again = {key: imported.totals[key] for key in KEYS}
            ok = got == want and again == want
            figures = ", ".join(f"{key} {got[key]:,}" for key in KEYS)
            status = "OK" if ok else f"MISMATCH (want {want}; import {again})"
            note = note_bias + note_derived + (" (BN folded)" if folded else "") + (f" (zero biases removed: {removed:,})"
                                                                     if removed else "")
            print(f"{label:<28} {status}{note}: {figures}; {len(report.rows)} layers; report {seconds:.2f} s")
            results.append(ok)
    print(f"{sum(results)} of {len(results)} exports match PyTorch")
    return 0 if results and all(results) else 1


def folded_from(graph):
    """initializer -> the names torch.export's optimizer records it was folded from (value_info metadata)."""
    import ast

    records = {}
    for info in graph.value_info:
        for entry in info.metadata_props:
            if entry.key == "pkg.onnxscript.optimizer.folded_from":
                records[info.name] = ast.literal_eval(entry.value)
    return records


def derived_differences(graph, want):
    """Take into ``want`` the documented differences of what torch.export folded (docs/onnx.md), each from the
    graph's shapes and the optimizer's records of what each initializer was folded from; the line's label."""
    records = folded_from(graph)
    dims = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    labels = []
    # Swin V2's bias MLP: its first Linear (2 -> hidden) run on the (2W-1)^2 x 2 coordinates table, folded into
    # a 1 x (2W-1) x (2W-1) x hidden constant: params + table*hidden - 2*hidden (the constant for the Linear's
    # weight), buffers - 2*table (the coordinates), MACs - 2*table*hidden (that Linear)
    for name, sources in records.items():
        if name in dims and any(source.endswith(".relative_coords_table") for source in sources):
            table, hidden = math.prod(dims[name][:-1]), dims[name][-1]
            want["params"] += table * hidden - 2 * hidden
            want["buffers"] -= 2 * table
            want["macs"] -= 2 * table * hidden
            labels.append("position MLP folded")
    # NF-ResNet's standardised weight folded whole with its gain (one value per filter, Cout x 1 x 1 x 1)
    for node in graph.node:
        weight = node.input[1] if node.op_type == "Conv" and len(node.input) > 1 else ""
        if weight in dims and any(source.endswith(".gain") for source in records.get(weight, ())):
            want["params"] -= dims[weight][0]
            labels.append("gain folded into weight")
    return "".join(f" ({label})" for label in dict.fromkeys(labels))


def gathered_difference(report, layer):
    """The params MViT V2's attention ``layer`` holds as torch.export stores it (``gathered``: some relative
    position tables as the rows gathered from them) less PyTorch's (the tables), by the attention rule."""
    keys = {key: value for key, value in layer.keys.items() if key != "gathered"}
    row = report.row(layer.name)
    one = {"input": {"tokens": list(row.in_shape)}, "layers": [{"name": "x", "type": "attention", **keys}]}
    return row.params - cnncalc.analyze(one).row("x").params


def main(argv):
    if not argv or argv[0] in ("-h", "--help") or (argv[0] == "--modern" and len(argv) < 2) \
            or not os.path.isdir(argv[1] if argv[0] == "--modern" else argv[0]):
        print(__doc__ if argv and argv[0] in ("-h", "--help") else
              "usage: python tools/check_onnx.py [--modern] FOLDER [NAME...] (FOLDER: a folder of .onnx exports)")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] == "--modern":
        return modern(argv[1], argv[2:])
    folder, names = argv[0], argv[1:]
    rows = expected()
    files = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".onnx"))
    runs = [name for name in files if name in rows and (not names or name in names)]
    results = [check(os.path.join(folder, f"{name}.onnx"), rows[name]) for name in runs]
    print(f"{sum(results)} of {len(results)} models match torchvision")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
