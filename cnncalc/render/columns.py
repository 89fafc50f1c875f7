"""The one table of columns: the lecture table's (``--columns``) and the CSV / JSON layer keys, with their aliases."""

from .shapes import pad_text, pair_text, shape_text
from .units import BYTE_STEPS, COUNT_STEPS, count_text, human, human_bytes, scaled, share_text, slide_unit, time_text
from ..numbers import plural

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


def _roofline(units_of, title, text, align="right"):
    """A roofline column (``--device``): ``text(units, figure)`` of a row's Roofline (``row.roofline``) and of
    the run's total (``totals["roofline"]``, which the table adds); ``units_of(units)`` names its unit."""
    def bind(units, totals):
        unit = units_of(units)
        cell = lambda figure: "" if figure is None else text(units, figure)  # noqa: E731
        return (f"{title}\n({unit})" if unit else title), lambda row: cell(row.roofline), cell(totals.get("roofline"))

    return bind, align


def _bytes_text(units, figure):
    return count_text(figure.bytes_moved, units, 1024, human_bytes)


def _intensity_text(units, figure):
    intensity = figure.intensity
    return "" if intensity is None else scaled(intensity.numerator, intensity.denominator, 1)


def _time_text(units, figure):
    if figure.time_s is None:
        return ""
    if units == "auto":
        return time_text(figure.time_s)
    per = 10 ** 9 if units == "raw" else 10 ** 6
    value = figure.time_s * per
    return scaled(value.numerator, value.denominator, 0 if units == "raw" else 2)


def _bound_text(units, figure):
    if figure.layers > 1 and figure.time_s:  # a block or the total: the share of its time memory-bound
        return f"memory {share_text(figure.memory_bound_share)}"
    return figure.bound or ""


ROOFLINE_COLUMNS = {
    "bytes": _roofline(lambda units: {"slide": "KB", "raw": "B"}.get(units, ""), "bytes moved", _bytes_text),
    "intensity": _roofline(lambda units: "FLOP/B", "intensity", _intensity_text),
    "time": _roofline(lambda units: {"slide": "us", "raw": "ns"}.get(units, ""), "time", _time_text),
    "bound": _roofline(lambda units: "", "bound", _bound_text, align="left"),
}
# the roofline columns (table and data names), and those of them that need a device
ROOFLINE_KEYS = ("bytes", "intensity", "time", "bound", "bytes_moved", "time_s", "compute_s", "memory_s")
DEVICE_KEYS = ("time", "bound", "time_s", "compute_s", "memory_s")


def _filters_text(row):
    """A layer's filters or units, an attention layer's heads, a folded block's transformer layers (ViT's
    Table 1: `12 layers, 12 heads, MLP 3072`; the layers are its attention layers)."""
    if row.transformer is not None and row.transformer[0]:
        layers, fewest, most, mlp = row.transformer
        heads = f"{fewest}" if fewest == most else f"{fewest}-{most}"
        return f"{layers} layers, {heads} heads" + (f", MLP {mlp}" if mlp else "")
    return plural(row.heads, "head") if row.heads else "" if row.filters is None else str(row.filters)


TABLE_COLUMNS = {column.key: column for column in (
    _text_column("name", "Layer", lambda row: f"{row.name} *" if row.train_only else row.name, "left", "total"),
    _text_column("type", "type", lambda row: row.type, align="left"),
    _text_column("input", "input\nC x H/W", lambda row: shape_text(row.in_shape)),
    _text_column("filters", "filters", lambda row: _filters_text(row)),
    _text_column("kernel", "kernel", lambda row: pair_text(row.kernel)),
    _text_column("stride", "stride", lambda row: pair_text(row.stride)),
    _text_column("pad", "pad", lambda row: pad_text(row.pad)),
    _text_column("output", "output\nC x H/W", lambda row: shape_text(row.out_shape)),
    _text_column("rf", "receptive\nfield", lambda row: pair_text(row.receptive_field)),
    _text_column("jump", "effective\nstride", lambda row: pair_text(row.effective_stride)),  # 1/2 after upsample
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
    *(Column(key, bind, align) for key, (bind, align) in ROOFLINE_COLUMNS.items()),
)}
DEFAULT_COLUMNS = ("name", "input", "filters", "kernel", "stride", "pad", "output", "memory", "params", "flop")
# the table's columns with --device
DEVICE_DEFAULT_COLUMNS = ("name", "type", "output", "flops_2x", "bytes", "intensity", "time", "bound")
# The one table of the words a column goes by: the lecture table's word (report --columns), the CSV / JSON
# key (report -f csv/json, compare), and other words people write. Each column list takes its aliases from it.
COLUMN_WORDS = (
    ("name", "name", ("layer",)),
    ("input", "in_shape", ()),
    ("output", "out_shape", ()),
    ("memory", "memory_bytes", ()),
    ("flop", "flops", ()),
    ("rf", "receptive_field", ()),
    ("jump", "effective_stride", ()),
    ("peak_memory", "peak_memory_bytes", ()),
    ("param_memory", "param_bytes", ()),
    ("training", "training_bytes", ()),
    ("bytes", "bytes_moved", ()),
    ("time", "time_s", ()),
)


def column_aliases(known, by="table"):
    """The other words for the columns of ``known`` (named by the table's word, or ``by="data"`` the CSV /
    JSON key): ``{word: key in known}``."""
    aliases = {}
    for table_word, data_key, others in COLUMN_WORDS:
        key = table_word if by == "table" else data_key
        if key in known:
            aliases.update((word, key) for word in (table_word, data_key) + others if word != key)
    return aliases


# --columns also takes the JSON / CSV name of a table column
TABLE_ALIASES = column_aliases(TABLE_COLUMNS)
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


def table_columns(names=None, convention="lecture", device=False):
    """The table's Column objects: ``names`` chosen with ``--columns``, or the lecture's ten (with a
    ``device``, the roofline's: name, type, output, FLOPs 2x, bytes, intensity, time, bound)."""
    if not names:
        if device:
            return [TABLE_COLUMNS[key] for key in DEVICE_DEFAULT_COLUMNS]
        swap = {"flop": "flops_2x"} if convention == "2x" else {}
        return [TABLE_COLUMNS[swap.get(key, key)] for key in DEFAULT_COLUMNS]
    return [TABLE_COLUMNS[key] for key in resolve_columns(names, TABLE_COLUMNS, TABLE_ALIASES, first="name")]


CSV_COLUMNS = ("name", "type", "from", "in_shape", "out_shape", "filters", "kernel", "stride", "pad", "params",
               "buffers", "macs", "flops", "flops_2x", "memory_bytes", "receptive_field", "effective_stride")


# with --device, after CSV_COLUMNS (compute_s and memory_s in JSON and by --columns only)
ROOFLINE_DATA_COLUMNS = ("bytes_moved", "intensity", "time_s", "bound")
ROOFLINE_MORE_COLUMNS = ("compute_s", "memory_s")


# --columns also takes the table's name of a CSV / JSON column
DATA_ALIASES = column_aliases(CSV_COLUMNS + ROOFLINE_DATA_COLUMNS + ROOFLINE_MORE_COLUMNS, by="data")


def data_columns(names=None, device=False):
    """The CSV / JSON layer keys chosen with ``--columns`` (all of CSV_COLUMNS when none are; with a
    ``device``, the roofline's keys too)."""
    known = CSV_COLUMNS + ROOFLINE_DATA_COLUMNS + ROOFLINE_MORE_COLUMNS
    if not names:
        return list(CSV_COLUMNS + (ROOFLINE_DATA_COLUMNS if device else ()))
    return resolve_columns(names, known, DATA_ALIASES, first="name")
