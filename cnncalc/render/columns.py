"""The one table of columns: the lecture table's (``--columns``) and the CSV / JSON layer keys, with their aliases."""

from .shapes import pad_text, pair_text, shape_text
from .units import BYTE_STEPS, COUNT_STEPS, count_text, human, human_bytes, scaled, slide_unit

class Column:
    """A table column: its name for ``--columns``, its alignment, and ``bind(units, totals)``, which gives
    its title, a function filling a row's cell, and the totals cell, for one report (units may depend on
    the model's size)."""

    __slots__ = ("key", "bind", "align")

    def __init__(self, key, bind, align="right"):
        self.key = key
        self.bind = bind
        self.align = align


def _count_column(key, field, label, slide_divisor, steps=COUNT_STEPS, raw_title=None):
    def bind(units, totals):
        title = raw_title if units == "raw" and raw_title else label
        divisor = 1
        if units == "slide":
            divisor, name = slide_unit(totals[field], slide_divisor, steps)
            title = f"{label}\n({name})" if name else label
        auto = human_bytes if steps is BYTE_STEPS else human

        def text(value):
            return count_text(value, units, divisor, auto)

        return title, lambda row: text(getattr(row, field)), text(totals[field])

    return Column(key, bind)


def _share_column(key, field, label):
    """A row's share of the model's total, in percent with one decimal (``--columns params%``)."""
    def bind(units, totals):
        whole = totals[field]

        def text(value):
            return scaled(100 * value, whole, 1) if whole else ""

        return f"{label}\n(%)", lambda row: text(getattr(row, field)), text(whole)

    return Column(key, bind)


def _text_column(key, title, cell, align="right", total=""):
    return Column(key, lambda units, totals: (title, cell, total), align=align)


TABLE_COLUMNS = {column.key: column for column in (
    _text_column("name", "Layer", lambda row: f"{row.name} *" if row.train_only else row.name, "left", "total"),
    _text_column("type", "type", lambda row: row.type, align="left"),
    _text_column("input", "input\nC x H/W", lambda row: shape_text(row.in_shape)),
    _text_column("filters", "filters", lambda row: f"{row.heads} heads" if row.heads else
                 "" if row.filters is None else str(row.filters)),
    _text_column("kernel", "kernel", lambda row: pair_text(row.kernel)),
    _text_column("stride", "stride", lambda row: pair_text(row.stride)),
    _text_column("pad", "pad", lambda row: pad_text(row.pad)),
    _text_column("output", "output\nC x H/W", lambda row: shape_text(row.out_shape)),
    _text_column("rf", "receptive\nfield", lambda row: pair_text(row.receptive_field)),
    _count_column("memory", "memory_bytes", "memory", 1024, BYTE_STEPS, raw_title="memory\n(bytes)"),
    _count_column("params", "params", "params", 1000),
    _count_column("buffers", "buffers", "buffers", 1000),
    _count_column("macs", "macs", "MACs", 10 ** 6),
    _count_column("flop", "flops", "flop", 10 ** 6),
    _count_column("flops_2x", "flops_2x", "FLOPs 2x", 10 ** 6),
    _share_column("params%", "params", "params"),
    _share_column("macs%", "macs", "MACs"),
    _share_column("flop%", "flops", "flop"),
    _share_column("memory%", "memory_bytes", "memory"),
)}
DEFAULT_COLUMNS = ("name", "input", "filters", "kernel", "stride", "pad", "output", "memory", "params", "flop")
# --columns also takes the JSON / CSV name of a table column
TABLE_ALIASES = {"layer": "name", "in_shape": "input", "out_shape": "output", "memory_bytes": "memory",
                 "flops": "flop", "receptive_field": "rf"}
# the shape columns' title by the input's rank (2-D keeps the lecture's "C x H/W")
MAP_TITLES = {1: "C x L", 3: "C x D x H x W"}


def resolve_columns(names, known, aliases=None, first=None):
    """``--columns`` names (a list or ``"a,b"``) as keys of ``known``, ``first`` always leading.

    Raises UsageError naming the choices for an unknown name.
    """
    from ..errors import UsageError, did_you_mean

    if isinstance(names, str):
        names = names.split(",")
    aliases = aliases or {}
    keys = [first] if first else []
    for name in (n.strip() for n in names):
        key = aliases.get(name, name)
        if key not in known:
            choices = list(known)
            raise UsageError(f"unknown column '{name}'{did_you_mean(name, choices + list(aliases))} "
                             f"(choose from: {', '.join(choices)})")
        if key not in keys:
            keys.append(key)
    return keys


def table_columns(names=None, convention="lecture"):
    """The table's Column objects: ``names`` chosen with ``--columns``, or the lecture's ten."""
    if not names:
        swap = {"flop": "flops_2x"} if convention == "2x" else {}
        return [TABLE_COLUMNS[swap.get(key, key)] for key in DEFAULT_COLUMNS]
    return [TABLE_COLUMNS[key] for key in resolve_columns(names, TABLE_COLUMNS, TABLE_ALIASES, first="name")]


CSV_COLUMNS = ("name", "type", "from", "in_shape", "out_shape", "filters", "kernel", "stride", "pad", "params",
               "buffers", "macs", "flops", "flops_2x", "memory_bytes", "receptive_field", "effective_stride")


# --columns also takes the table's name of a CSV / JSON column
DATA_ALIASES = {"layer": "name", "input": "in_shape", "output": "out_shape", "memory": "memory_bytes",
                "flop": "flops", "rf": "receptive_field"}


def data_columns(names=None):
    """The CSV / JSON layer keys chosen with ``--columns`` (all of CSV_COLUMNS when none are)."""
    if not names:
        return list(CSV_COLUMNS)
    return resolve_columns(names, CSV_COLUMNS, DATA_ALIASES, first="name")
