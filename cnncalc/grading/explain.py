"""The worked arithmetic shown under a wrong answer, picked by tag from ``render.explain.explain_data``."""

from ..render.explain import explain_data

from ..render.shapes import full_shape

from ..render.units import scaled
from .quantities import QUANTITY
from ..numbers import plural


def explanation(target, quantity):
    """The lines for one layer, or the sum over a block or the whole network."""
    if target.single:
        return explain_for(target.report, target.last, quantity)
    return sum_lines(target, quantity)


def explain_for(report, row, quantity):
    """The lines of the row's worked arithmetic that bear on ``quantity`` (headed by the layer line)."""
    data = explain_data(report, row)
    wanted = QUANTITY[quantity].explained_by
    picked = [text for tag, text in data[1:] if tag in wanted]
    if quantity == "fits" and not picked:
        picked = [f"{row.type} has a window of {full_shape(row.kernel)} that covers the whole map"]
    return [data[0][1]] + picked


def sum_lines(target, quantity, shown=6):
    """The arithmetic of a block or total: the sum of its layers' numbers, or its last layer's."""
    what = "the network" if target.whole else f"block {target.name}"
    key = QUANTITY[quantity].total
    if quantity == "fits":
        bad = [f"{row.name}: {text}" for row in target.rows for text in row.warnings if not row.fits]
        return [f"{what}: every window must tile its input"] + (bad or ["every window tiles its input"])
    if key is None:
        last = target.last
        return [f"{what} ends at {last.name}"] + explain_for(target.report, last, quantity)[1:]
    terms = [(row.name, getattr(row, key)) for row in target.rows if getattr(row, key)]
    total = target.total(key)
    if len(terms) > shown:
        head = " + ".join(f"{name} {value:,}" for name, value in terms[:shown - 2])
        tail = " + ".join(f"{name} {value:,}" for name, value in terms[-2:])
        body = f"{head} + ... + {tail} ({plural(len(terms), 'layer')})"
    else:
        body = " + ".join(f"{name} {value:,}" for name, value in terms) or "0"
    unit = " B" if key == "memory_bytes" else ""
    line = f"{QUANTITY[quantity].label} of {what} = {body} = {total:,}{unit}"
    if key == "memory_bytes":
        line += f" = {scaled(total, 1024, 2).rstrip('0').rstrip('.')} KB"
    return [line]
