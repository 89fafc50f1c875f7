"""Activation memory: peak live memory, frozen params and training memory.

Reference values are hand arithmetic written out beside each figure.
"""

import json

from cli_runner import data_of, ok, runner
from cnncalc.cli import main


def test_peak_live_memory_of_a_chain_is_the_largest_neighbouring_pair():
    data, _ = data_of("report", "alexnet", "--input", "227")
    # a chain holds a layer's input and output at once: largest at pool1, conv1 64x56x56 + pool1 64x27x27
    assert data["totals"]["peak_memory_bytes"] == 4 * (64 * 56 * 56 + 64 * 27 * 27) == 989_440
    out = ok("report", "alexnet", "--input", "227")
    assert "peak live 989,440 B (966 KB)" in out
    assert "peak = most memory live at once in inference" in " ".join(out.split())
    compared, _ = data_of("compare", "alexnet@227", "--columns", "peak_memory")
    assert compared["models"][0]["totals"] == {"peak_memory_bytes": 989_440}


RESIDUAL = """input: [1, 4, 4]
layers:
  - {name: a, type: conv, filters: 2, kernel: 1}
  - {name: b, type: conv, filters: 2, kernel: 1}
  - {name: sum, type: add, from: [a, b]}
  - {name: out, type: relu}
"""


def test_peak_keeps_a_shortcut_alive_until_its_last_consumer():
    result = runner().invoke(main, ["report", "-", "-f", "json"], input=RESIDUAL)
    totals = json.loads(result.stdout)["totals"]
    each = 2 * 4 * 4 * 4  # every output is 2x4x4 fp32 = 128 B
    # at `sum`, a (kept for the shortcut), b and sum are live: 3 x 128; at `out` only sum and out
    assert totals["peak_memory_bytes"] == 3 * each and totals["memory_bytes"] == 4 * each


FROZEN = """input: [3, 8, 8]
blocks:
  stem:
    layers:
      - {name: conv, type: conv, filters: 4, kernel: 3}
      - {name: bn, type: bn}
layers:
  - {name: backbone, type: stem, frozen: true}
  - {name: flat, type: flatten}
  - {name: head, type: fc, units: 10}
"""


def test_frozen_block_params_are_counted_apart():
    # backbone: conv 4*(3*3*3) + 4 = 112, bn 2*4 = 8 -> 120 frozen; head: (4*6*6)*10 + 10 = 1,450 trainable
    frozen, trainable = 4 * 27 + 4 + 2 * 4, 4 * 6 * 6 * 10 + 10
    result = runner().invoke(main, ["report", "-", "-f", "json", "--training", "--optimizer", "adam"], input=FROZEN)
    data = json.loads(result.stdout)
    totals = data["totals"]
    assert (totals["frozen_params"], totals["trainable_params"], totals["params"]) == (
        frozen, trainable, frozen + trainable)
    assert [layer.get("frozen", False) for layer in data["layers"]] == [True, True, False, False]
    # gradients and Adam's two states only for the trainable params
    assert data["training"]["gradient_bytes"] == 4 * trainable
    assert data["training"]["optimizer_bytes"] == 2 * 4 * trainable
    table = runner().invoke(main, ["report", "-"], input=FROZEN).stdout
    assert f"params {frozen + trainable:,} (1.57k; trainable {trainable:,}, frozen {frozen}) + buffers 8" in table
    bad = runner().invoke(main, ["report", "-"], input=FROZEN.replace("frozen: true", "frozen: 3"))
    assert bad.exit_code == 1 and "'frozen' must be true or false" in bad.stderr
