"""The quantities an answer can claim: one entry each.

``explained_by`` names the tagged lines of a layer's worked arithmetic (``render.explain.explain_data``,
tags from ``rules.EXPLAIN_QUANTITIES``) that a wrong answer is shown; ``total`` is the report
field a block or the whole network sums (None: the quantity is read off the last layer); ``numeric``
says whether a key may give it a ``tolerance``. Adding a quantity is one entry here plus its grading
method of the same name on ``grader.Grader``.
"""


class Quantity:
    __slots__ = ("name", "explained_by", "total", "numeric", "label")

    def __init__(self, name, explained_by, total=None, numeric=True, label=None):
        self.name = name
        self.explained_by = explained_by
        self.total = total
        self.numeric = numeric
        self.label = label or name


_TABLE = (
    Quantity("output_shape", ("size", "output_shape"), numeric=False),
    Quantity("params", ("params",), total="params"),
    Quantity("macs", ("macs",), total="macs", label="MACs"),
    Quantity("flops", ("flops", "macs"), total="flops", label="flop"),
    Quantity("memory_bytes", ("output_shape", "memory"), total="memory_bytes", label="memory"),
    Quantity("memory_kb", ("output_shape", "memory"), total="memory_bytes", label="memory"),
    Quantity("receptive_field", ("receptive_field",), numeric=False),
    Quantity("fits", ("size",), numeric=False),
)

QUANTITY = {q.name: q for q in _TABLE}
QUANTITIES = tuple(QUANTITY)
