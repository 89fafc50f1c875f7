"""The rule table is the one place a layer type is declared: the layer command, plot, graph, schema
and docs follow from it."""

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
    finally:
        rules.RULES.clear()
        rules.RULES.update(saved)
        importlib.reload(layer_command)
