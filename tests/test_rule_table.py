"""The rule table is the one place a layer type is declared: the layer command, plot, graph, schema
and docs follow from it."""

import cnncalc
from cli_runner import invoke, ok, runner
from cnncalc.cli import main


def test_a_new_rule_appears_in_layer_plot_and_graph_at_once():
    import importlib

    from cnncalc import analyze, rules
    from cnncalc.commands import layer as layer_command
    from cnncalc.render.diagram import layer_caption
    from cnncalc.render.plot import layer_kind

    saved = dict(rules.RULES)
    try:
        @rules.rule("blurpool", keys={"kernel": (rules.check_size, rules.REQUIRED)}, category="pool")
        def blurpool(layer, shape):
            """A test-only pool: halves the map."""
            channels, h, w = shape
            cost = rules.Cost((channels, h // 2, w // 2), window=((2, 2, 1), (2, 2, 1)))
            cost.kernel, cost.stride = rules.per_axis(layer, "kernel", layer.p["kernel"], shape), (2, 2)
            return cost

        importlib.reload(layer_command)  # its options are made from the rule table when it is imported
        assert "blurpool" in invoke("layer", "--help").stdout
        assert "output shape     8x4x4" in ok("layer", "blurpool", "--input", "8x8x8", "--kernel", "2")
        row = analyze({"input": [8, 8, 8], "layers": [{"name": "b", "type": "blurpool", "kernel": 2}]}).rows[0]
        assert layer_kind(row) == "pool" and layer_caption(row) == "blurpool 2x2 /2"
        spec = "input: [8, 8, 8]\nlayers:\n  - {name: b, type: blurpool, kernel: 2}\n"
        dot = runner().invoke(main, ["graph", "-"], input=spec)
        assert '"b\\nblurpool 2x2 /2"' in dot.stdout, dot.stdout
        schema = cnncalc.spec_schema()["definitions"]["layer"]
        assert "blurpool" in schema["properties"]["type"]["anyOf"][0]["enum"]
    finally:
        rules.RULES.clear()
        rules.RULES.update(saved)
        importlib.reload(layer_command)


# --- what a rule declares is enough: a test fails here when a new type or key lacks the rest -----------

def test_every_category_has_a_plot_colour():
    from cnncalc.render.plot import KIND_COLOURS, KIND_OF_CATEGORY
    from cnncalc.rules import CATEGORIES, RULES

    for category in set(CATEGORIES) | {rule.category for rule in RULES.values()}:
        assert KIND_OF_CATEGORY.get(category, category) in KIND_COLOURS, (
            f"category {category!r} has no colour in cnncalc/render/plot.py (KIND_COLOURS or KIND_OF_CATEGORY)")


def test_a_category_without_a_colour_is_drawn_as_other(monkeypatch):
    from cnncalc.render.plot import layer_kind, shares
    from cnncalc.rules import RULES

    monkeypatch.setattr(RULES["relu"], "category", "a category with no colour")
    report = cnncalc.analyze({"input": [3, 8, 8], "layers": [{"name": "c", "type": "conv", "filters": 2, "kernel": 1},
                                                             {"name": "r", "type": "relu"}]})
    assert [layer_kind(row) for row in report.rows] == ["conv", "other"]
    # conv 2*(3*1*1) + 2 = 8 params, all of them
    assert shares(report.rows, "params") == {"conv": 100}


def test_a_category_without_a_colour_still_plots(monkeypatch, tmp_path):
    from cnncalc.rules import RULES

    monkeypatch.setattr(RULES["relu"], "category", "a category with no colour")
    result = invoke("plot", "lenet5", "-o", tmp_path / "lenet5.svg")
    assert result.exit_code == 0, (result.stderr, result.exception)


def test_every_key_check_declares_its_option_placeholder_and_schema():
    from cnncalc.rules import RULES

    for rule in RULES.values():
        for key, (check, _) in rule.keys.items():
            assert isinstance(getattr(check, "metavar", None), str) and isinstance(getattr(check, "schema", None),
                                                                                   dict), (
                f"{rule.name}.{key}: its check {check.__name__} needs @written_as(metavar, schema) in "
                f"cnncalc/rules/keys.py")


def test_every_rule_has_a_line_in_the_docs_layer_table():
    import os
    import re

    from cnncalc.rules import RULES

    path = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "spec-format.md")
    with open(path, encoding="utf-8") as handle:
        table = [line for line in handle if line.startswith("| `")]
    documented = {name for line in table for name in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])}
    missing = [name for name in RULES if name not in documented]
    assert not missing, f"layer types missing from the layer table of docs/spec-format.md: {missing}"
