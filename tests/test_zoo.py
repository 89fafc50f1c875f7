"""Every built-in model that torchvision has: params, BN buffers and MACs exactly as torchvision 0.29.

The reference figures (tests/data/torchvision_totals.csv) were measured with PyTorch; see its header.
"""

import csv
import os

import pytest

import cnncalc

HERE = os.path.dirname(__file__)


def _reference_rows():
    with open(os.path.join(HERE, "data", "torchvision_totals.csv"), encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


REFERENCE = _reference_rows()
# googlenet_aux is torchvision's googlenet with aux_logits=True: our variant spec of that name.
SPEC_FOR_RUN = {"alexnet_227": "alexnet", "resnet50_160": "resnet50", "resnet50_448": "resnet50"}


@pytest.mark.parametrize("row", REFERENCE, ids=[r["run"] for r in REFERENCE])
def test_totals_match_torchvision(row):
    name = SPEC_FOR_RUN.get(row["run"], row["run"])
    report = cnncalc.analyze(name, input=row["input"])
    totals = report.totals
    assert (totals["params"], totals["buffers"], totals["macs"]) == (
        int(row["params"]), int(row["buffers"]), int(row["macs"]))


def test_every_reference_model_is_built_in():
    names = set(cnncalc.builtin_models())
    missing = {SPEC_FOR_RUN.get(r["run"], r["run"]) for r in REFERENCE} - names
    assert not missing
