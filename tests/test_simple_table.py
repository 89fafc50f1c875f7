"""The default table is drawn without tabulate (for start-up time); it must equal tabulate's "simple"."""

import pytest
import tabulate

import cnncalc
from cnncalc.render import table as formatters


def tabulate_simple(rows, headers, aligns):
    return tabulate.tabulate(rows, headers=headers, tablefmt="simple", colalign=aligns, disable_numparse=True)


@pytest.mark.parametrize("model, options", [
    ("alexnet", {}), ("lenet5", {"units": "raw"}), ("googlenet_aux", {}), ("resnet50", {"depth": 1}),
    ("inception_v3", {"units": "auto"}), ("shufflenet_v2_x1_0", {"columns": ["type", "rf", "macs", "output"]}),
])
def test_simple_table_equals_tabulate(model, options):
    report = cnncalc.analyze(model)
    depth, units, columns = options.get("depth"), options.get("units", "slide"), options.get("columns")
    headers, rows, aligns = formatters.table(report, depth, units, columns)
    assert formatters.simple_table(rows, headers, aligns) == tabulate_simple(rows, headers, aligns)


def test_non_ascii_names_go_through_tabulate_for_wide_characters():
    rows, headers, aligns = [["합성곱1", "3"]], ["Layer", "params"], ["left", "right"]
    assert formatters.tabulate_table(rows, headers, aligns, "simple") == tabulate_simple(rows, headers, aligns)


def test_centered_and_ragged_headers():
    rows = [["a", "1", "xyz"], ["bbbbbbbbbbbb", "", "q"]]
    headers, aligns = ["one\ntwo\nthree", "n", "mid\ndle"], ["left", "right", "center"]
    assert formatters.simple_table(rows, headers, aligns) == tabulate_simple(rows, headers, aligns)
