"""Check ONNX exports of torchvision models against torchvision's params, BN buffers and MACs.

For each OUT/RUN.onnx written by tools/export_onnx.py whose RUN is in tests/data/torchvision_totals.csv:
`cnncalc report RUN.onnx` (the reader), then `cnncalc import RUN.onnx` and a report of the written spec;
both must give the CSV's params, buffers and MACs exactly. Needs only cnncalc and onnx (no torch):

    python tools/check_onnx.py /work/onnx-models                 # every .onnx file there
    python tools/check_onnx.py /work/onnx-models resnet18 vgg11  # only these

Prints one line per model with the figures and the time `report` took; exit 1 on any mismatch.
"""

import csv
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


def check(path, row):
    start = time.perf_counter()
    report = cnncalc.analyze(path)
    seconds = time.perf_counter() - start
    spec = cnncalc.load_spec(path)
    with tempfile.TemporaryDirectory() as folder:
        written = os.path.join(folder, "imported.yaml")
        with open(written, "w", encoding="utf-8") as handle:
            handle.write(to_yaml(spec))
        imported = cnncalc.analyze(written)
    want = {key: int(row[key]) for key in KEYS}
    got = {key: report.totals[key] for key in KEYS}
    again = {key: imported.totals[key] for key in KEYS}
    ok = got == want and again == want and report.input == tuple(int(s) for s in row["input"].split("x"))
    figures = ", ".join(f"{key} {got[key]:,}" for key in KEYS)
    status = "OK" if ok else f"MISMATCH (torchvision {want}, import {again})"
    print(f"{row['run']:<20} {status}: {figures}; {len(report.rows)} layers; report {seconds:.2f} s")
    return ok


def main(argv):
    folder, names = argv[0], argv[1:]
    rows = expected()
    files = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".onnx"))
    runs = [name for name in files if name in rows and (not names or name in names)]
    results = [check(os.path.join(folder, f"{name}.onnx"), rows[name]) for name in runs]
    print(f"{sum(results)} of {len(results)} models match torchvision")
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
