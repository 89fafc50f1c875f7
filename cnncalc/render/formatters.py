"""Turn a Report into text: the lecture table (any tabulate format), JSON, CSV, worked arithmetic.

Stage five of the pipeline: formatters only format; every number comes from the report rows.
Numbers are exact integers until here; rounding happens only in this module.
"""

import textwrap
import types

EXTRA_FORMATS = ("json", "csv")
UNITS = ("slide", "raw", "auto")
# tabulate formats that draw a two-line title; the others get the title on one line
MULTILINE_FORMATS = ("simple", "grid", "fancy_grid", "rounded_grid", "heavy_grid", "mixed_grid", "double_grid",
                     "simple_grid", "outline", "fancy_outline", "heavy_outline", "mixed_outline", "double_outline",
                     "simple_outline", "rounded_outline", "psql", "rst", "presto", "plain")

CONVENTIONS = (
    "Conventions: output = floor((W + 2P - D*(K-1) - 1)/S) + 1; params include biases (BN running stats are "
    "buffers, not params); MACs count conv, fc and linear multiply-accumulates only; flop = MACs + pooling windows "
    "(lecture convention, multiply+add counted as one); memory = output elements x batch x bytes per element, "
    "KB = 1024 B; peak = most memory live at once in inference (layers in order, each output freed after its "
    "last consumer); the network input is not counted."
)


def table_formats():
    import tabulate

    return list(tabulate.tabulate_formats) + list(EXTRA_FORMATS)


# --- escaping: one function per output format, applied to every text cell and line -------------
# Names are printable (the spec's name policy); what else they hold must not become markup, a
# formula, a column or a command in the format they are written in.

def escape_html(text):
    import html

    return html.escape(text, quote=True)


def escape_markdown(text):
    """GitHub / pipe tables: HTML is live in markdown, and `|` splits cells."""
    return escape_html(text).replace("|", "\\|")


def escape_entities(text):
    """mediawiki, textile, moinmoin, youtrack: HTML escaped, and the wiki's own markup as character references."""
    out = []
    for char in text:
        if char in "&<>\"":
            out.append(escape_html(char))
        elif char in "|{}[]'~!*#=_^":
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def escape_backslash_pipe(text):
    """jira, asciidoc: `|` splits cells; a backslash escapes it."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def escape_orgtbl(text):
    return text.replace("|", "\\vert{}")


LATEX_SPECIAL = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
                 "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}",
                 "<": "\\textless{}", ">": "\\textgreater{}"}


def escape_latex(text):
    """LaTeX: `\\input{/etc/passwd}` stays text."""
    return "".join(LATEX_SPECIAL.get(char, char) for char in text)


def escape_rst(text):
    """reStructuredText: no directives (`.. include::`), roles, links or substitutions from a name."""
    text = text.replace("\\", "\\\\").replace("`", "\\`").replace("|", "\\|")
    return "\\" + text if text.lstrip().startswith(("..", "_")) else text


def escape_tsv(text):
    return text.replace("\t", " ")


def escape_csv(text):
    """A spreadsheet runs a cell that starts with = + - @ (or tab, CR) as a formula: a leading ' keeps it text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _unchanged(text):
    return text


# table cells; tabulate escapes html and latex cells itself (but not unsafehtml or latex_raw)
CELL_ESCAPES = {"github": escape_markdown, "pipe": escape_markdown, "mediawiki": escape_entities,
                "textile": escape_entities, "moinmoin": escape_entities, "youtrack": escape_entities,
                "jira": escape_backslash_pipe, "asciidoc": escape_backslash_pipe, "orgtbl": escape_orgtbl, "unsafehtml": escape_html,
                "latex_raw": escape_latex, "rst": escape_rst, "tsv": escape_tsv, "csv": escape_csv}
# the lines printed after a table (summary, ratios, warnings) in the same format
LINE_ESCAPES = dict(CELL_ESCAPES, latex=escape_latex, latex_booktabs=escape_latex, latex_longtable=escape_latex,
                    html=escape_html, csv=_unchanged)


def escape_cells(rows, fmt):
    """Every text cell of ``rows`` escaped for ``fmt``."""
    escape = CELL_ESCAPES.get(fmt)
    if escape is None:
        return rows
    return [[escape(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]


def escape_lines(lines, fmt):
    escape = LINE_ESCAPES.get(fmt, _unchanged)
    return [escape(line) for line in lines]


# --- numbers ----------------------------------------------------------------------------------

def round_half_up(numerator, denominator=1):
    """``numerator / denominator`` (integers) rounded to the nearest integer, halves away from zero."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    numerator, denominator = abs(numerator), abs(denominator)
    return sign * ((2 * numerator + denominator) // (2 * denominator))


def scaled(value, divisor, digits=0):
    """``value / divisor`` rounded half up at ``digits`` decimals, as text with thousands separators."""
    whole = round_half_up(value * 10 ** digits, divisor)
    if digits == 0:
        return f"{whole:,}"
    text = f"{abs(whole):0{digits + 1}d}"
    sign = "-" if whole < 0 else ""
    return f"{sign}{int(text[:-digits]):,}.{text[-digits:]}"


def human(value, unit=""):
    """A count with a metric suffix and 3 significant digits: 61,100,840 -> 61.1M."""
    value = int(value)
    for divisor, suffix in ((10 ** 12, "T"), (10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k")):
        if abs(value) >= divisor:
            digits = 2 if abs(value) < 10 * divisor else 1 if abs(value) < 100 * divisor else 0
            return f"{scaled(value, divisor, digits)}{suffix}{unit}"
    return f"{value}{' ' + unit if unit else ''}".rstrip()


def human_bytes(value):
    """Bytes in binary units as on the slides: 802816 -> 784 KB."""
    value = int(value)
    for divisor, suffix in ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB")):
        if value >= divisor:
            digits = 0 if value % divisor == 0 else 2 if value < 10 * divisor else 1 if value < 100 * divisor else 0
            return f"{scaled(value, divisor, digits)} {suffix}"
    return f"{value} B"


# --- shapes and geometry ----------------------------------------------------------------------

def shape_text(shape):
    """The lecture's ``C x H/W``: ``64 x 56``; non-square maps as ``64 x 56x48``; flat as ``4096``;
    1-D and 3-D maps in full, ``128 x 1981`` and ``64 x 16 x 112 x 112``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{c} x {h}" if h == w else f"{c} x {h}x{w}"
    return " x ".join(str(s) for s in shape)


def full_shape(shape):
    return "x".join(str(s) for s in shape)


def pair_text(sizes):
    """Per-axis sizes as one number when they agree (``3``), else ``3x5`` (``1x2x2`` in 3-D)."""
    if sizes is None:
        return ""
    return str(sizes[0]) if all(s == sizes[0] for s in sizes) else full_shape(sizes)


def pad_text(pad):
    """(before, after) per axis: ``1`` or ``1x2`` when symmetric, else every side (``1,0,2,2``)."""
    if pad is None:
        return ""
    if all(before == after for before, after in pad):
        return pair_text([before for before, _ in pad])
    return ",".join(str(side) for sides in pad for side in sides)


# --- the report table ---------------------------------------------------------------------------

class Column:
    """A table column: its name for ``--columns``, its alignment, and ``bind(units, totals)``, which gives
    its title, a function filling a row's cell, and the totals cell, for one report (units may depend on
    the model's size)."""

    __slots__ = ("key", "bind", "align")

    def __init__(self, key, bind, align="right"):
        self.key = key
        self.bind = bind
        self.align = align


def count_text(value, units, divisor, auto=human):
    """A count as the units ask: exact (raw), k/M/G (auto), or divided and rounded (slide)."""
    if units == "raw":
        return f"{value:,}"
    if units == "auto":
        return auto(value)
    return scaled(value, divisor)


def bytes_text(value, units, divisor=1024):
    """Bytes as the units ask: exact (raw), KB/MB/GB (auto), or KB rounded (slide)."""
    return count_text(value, units, divisor, auto=human_bytes)


COUNT_STEPS = ((10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k"), (1, ""))
BYTE_STEPS = ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB"), (1, "B"))
SLIDE_TOTAL_DIGITS = 100  # the slide unit is kept while the model's total reads as at least 100 of it


def slide_unit(total, slide_divisor, steps):
    """The unit of a slide-units column: the lecture's (KB, k, M) unless the model's total would read under
    100 in it (LeNet-5's 60,806 params are not "61 k" with every layer 0): then the largest smaller unit
    in which it reads at least 100, or exact numbers. Returns (divisor, name)."""
    for divisor, name in steps:
        if divisor <= slide_divisor and (total >= SLIDE_TOTAL_DIGITS * divisor or divisor == 1):
            return divisor, name
    return steps[-1]


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
    _text_column("filters", "filters", lambda row: "" if row.filters is None else str(row.filters)),
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
FLOPS_2X_NOTE = ("FLOPs 2x = 2 x MACs + elementwise work: one op per output element for bias, activations, add, "
                 "mul and scale, two for batch norm, four (five with an affine) for layer/group/instance norm, the "
                 "window for pools, the input points read per interpolated element for upsample.")


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


def table(report, depth=None, units="slide", columns=None, convention="lecture"):
    """The table as text cells: (titles, rows with the total row last, alignments)."""
    chosen = table_columns(columns, convention)
    bound = [column.bind(units, report.totals) for column in chosen]
    rows = [[cell(row) for _, cell, _ in bound] for row in report.fold(depth)]
    rows.append([total for _, _, total in bound])
    map_title = MAP_TITLES.get(len(report.input) - 1, "C x H/W")
    return [title.replace("C x H/W", map_title) for title, _, _ in bound], rows, [column.align for column in chosen]


def summary_lines(report, convention="lecture", optimizer=None):
    t = report.totals
    dtype = f"{report.dtype}, {report.bytes_per_element} B/element"
    lecture = f"flop (lecture) {t['flops']:,} ({human(t['flops'])})"
    doubled = f"FLOPs (2 x MACs + elementwise) {t['flops_2x']:,} ({human(t['flops_2x'])})"
    macs = f"MACs {t['macs']:,} ({human(t['macs'])})"
    flop_line = f"{macs}; {lecture}; {doubled}" if convention != "2x" else f"{doubled}; {macs}; {lecture}"
    lines = [
        f"{report.name}: input {full_shape(report.input)}, batch {report.batch}, {dtype}; "
        f"{t['layers']:,} layers ({t['weight_layers']} with weights)",
        f"params {t['params']:,} ({human(t['params'])}"
        + (f"; trainable {t['trainable_params']:,}, frozen {t['frozen_params']:,}" if t["frozen_params"] else "")
        + ")" + (f" + buffers {t['buffers']:,}" if t["buffers"] else ""),
        flop_line,
        f"activation memory {t['memory_bytes']:,} B ({human_bytes(t['memory_bytes'])}), peak live "
        f"{t['peak_memory_bytes']:,} B ({human_bytes(t['peak_memory_bytes'])}); parameter memory {t['param_bytes']:,} B ({human_bytes(t['param_bytes'])})",
    ]
    if report.params:  # the spec's params: section, with any --set values
        lines.insert(1, "params: " + ", ".join(f"{name}={value}" for name, value in report.params.items()))
    if optimizer:
        lines.append(training_line(report.training_memory(optimizer)))
    return lines


def training_line(training):
    """The training estimate as its sum: activations + params + gradients + optimizer state (+ BN buffers)."""
    from ..report import OPTIMIZER_STATES

    terms = [f"activations {training['activation_bytes']:,}", f"params {training['param_bytes']:,}",
             f"gradients {training['gradient_bytes']:,}",
             f"optimizer state {OPTIMIZER_STATES[training['optimizer']]} x {training['gradient_bytes']:,}"]
    if training["buffer_bytes"]:
        terms.append(f"BN buffers {training['buffer_bytes']:,}")
    total = training["total_bytes"]
    return (f"training estimate ({training['optimizer']}): {' + '.join(terms)} = {total:,} B "
            f"({human_bytes(total)})")


def render_table(report, fmt="simple", depth=None, units="slide", columns=None, convention="lecture",
                 optimizer=None):
    titles, rows, aligns = table(report, depth, units, columns, convention)
    if fmt not in MULTILINE_FORMATS:
        titles = [t.replace("\n", " ") for t in titles]
    body = tabulate_table(rows, titles, aligns, fmt)
    if fmt == "html":
        return body
    lines = [body, ""] + summary_lines(report, convention, optimizer)
    if any(row.train_only for row in report.rows):
        counted = "counted (--mode train)" if report.mode == "train" else "not counted (--mode train counts them)"
        lines.append(f"* runs only in training: params counted; MACs, flop and memory {counted}")
    lines += warning_lines(report.warnings)
    lines += [""] + textwrap.wrap(CONVENTIONS, 100)
    if convention == "2x":
        lines += textwrap.wrap(FLOPS_2X_NOTE, 100)
    return "\n".join([body] + escape_lines(lines[1:], fmt))


def tabulate_table(rows, headers, aligns, fmt):
    """``tabulate.tabulate`` of text cells; the default format is drawn here without importing tabulate."""
    if fmt == "simple" and all(cell.isascii() for row in rows for cell in row):
        return simple_table(rows, headers, aligns)
    import tabulate

    headers, *rows = escape_cells([headers] + list(rows), fmt)  # headers may hold names (compare's models)
    return tabulate.tabulate(rows, headers=headers, tablefmt=fmt, colalign=aligns, disable_numparse=True)


def simple_table(rows, headers, aligns):
    """tabulate's "simple" format, to the byte (tests compare the two), for ASCII text cells.

    Importing tabulate (and the importlib.metadata it pulls in) costs more than the rest of a
    `cnncalc report` run, and its per-cell type sniffing is slow on multi-line headers.
    """
    header_lines = [title.split("\n") for title in headers]
    widths = [max(len(line) for line in lines) + 2 for lines in header_lines]  # tabulate's MIN_PADDING
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    pads = [str.ljust if align == "left" else str.center if align == "center" else str.rjust for align in aligns]
    depth = max(len(lines) for lines in header_lines)
    out = []
    for n in range(depth):
        cells = [pad(lines[n] if n < len(lines) else "", width)
                 for pad, lines, width in zip(pads, header_lines, widths)]
        out.append("  ".join(cells).rstrip())
    out.append("  ".join("-" * width for width in widths))
    for row in rows:
        out.append("  ".join(pad(cell, width) for pad, cell, width in zip(pads, row, widths)).rstrip())
    return "\n".join(out)


def warning_lines(warnings, listed=1):
    """A single warning in full; several as one wrapped line naming the layers (said once per report)."""
    if not warnings:
        return []
    if len(warnings) <= listed:
        return [""] + [f"warning: {name}: {text}" for name, text in warnings]
    names = ", ".join(dict.fromkeys(name for name, _ in warnings))
    text = (f"warning: at {len(warnings)} layers the window does not tile the input and the output size is "
            f"rounded as PyTorch does (down, or up with ceil_mode): {names}. `--explain LAYER` shows the "
            f"arithmetic.")
    return [""] + textwrap.wrap(text, 100, subsequent_indent="  ")


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


def _csv_record(row):
    return {
        "name": row.name, "type": row.type, "from": " ".join(row.inputs), "in_shape": full_shape(row.in_shape),
        "out_shape": full_shape(row.out_shape), "filters": "" if row.filters is None else row.filters,
        "kernel": pair_text(row.kernel), "stride": pair_text(row.stride), "pad": pad_text(row.pad),
        "params": row.params, "buffers": row.buffers, "macs": row.macs, "flops": row.flops,
        "flops_2x": row.flops_2x, "memory_bytes": row.memory_bytes,
        "receptive_field": full_shape(row.receptive_field), "effective_stride": full_shape(row.effective_stride),
    }


def render_csv(report, depth=None, columns=None):
    """One line per row, then a ``total`` line with the model's totals (text columns left empty)."""
    keys = data_columns(columns)
    total = {key: report.totals.get(key, "") for key in keys}
    total["name"] = "total"
    records = list(map(_csv_record, report.fold(depth))) + [total]
    return csv_text([keys] + [[record[key] for key in keys] for record in records])


def csv_text(rows):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(escape_cells(rows, "csv"))
    return out.getvalue().rstrip("\n")


def render_json(data):
    """JSON with one line per top-level key and per element of a list of objects (layers, results).

    Readable, valid, and written by json's C encoder (``indent=`` would use the slow pure-Python one).
    """
    import json
    from functools import partial

    dumps = partial(json.dumps, allow_nan=False)  # NaN / Infinity are not JSON
    parts = ["{\n"]  # joined once at the end: one copy of a large text, not three
    for key, value in data.items():
        parts.append(f",\n  {dumps(key)}: " if len(parts) > 1 else f"  {dumps(key)}: ")
        if isinstance(value, types.GeneratorType) or isinstance(value, list) and value and isinstance(value[0], dict):
            parts.append("[\n    ")
            for index, item in enumerate(value):
                parts.append(",\n    " + dumps(item) if index else dumps(item))
            parts.append("\n  ]")
        else:
            parts.append(dumps(value))
    parts.append("\n}")
    return "".join(parts)


def render_report(report, fmt="simple", depth=None, units="slide", columns=None, convention="lecture",
                  optimizer=None):
    """The report as ``fmt``; ``optimizer`` adds the training estimate (JSON key ``training``)."""
    if fmt == "json":
        data = report.to_dict(depth, lazy=True)
        if columns:
            keys = data_columns(columns)
            data["layers"] = ({key: layer[key] for key in keys if key in layer} for layer in data["layers"])
        if optimizer:
            data["training"] = report.training_memory(optimizer)
        return render_json(data)
    if fmt == "csv":
        return render_csv(report, depth, columns)
    return render_table(report, fmt, depth, units, columns, convention, optimizer)


# --- worked arithmetic ------------------------------------------------------------------------

def explain_text(report, name):
    """``--explain NAME``: a layer's worked arithmetic, or a block's summed figures and then each layer's."""
    rows = report.block(name)
    if len(rows) == 1 and rows[0].name == name:
        return "\n".join(explain_lines(report, rows[0]))
    head = (f"{name}: a block of {len(rows)} layers ({rows[0].name} ... {rows[-1].name}), input "
            f"{full_shape(rows[0].in_shape)}, output {full_shape(rows[-1].out_shape)}; its row sums them:")
    lines = [head]
    for label, field in (("params", "params"), ("MACs", "macs"), ("flop (lecture)", "flops"),
                         ("memory (B)", "memory_bytes")):
        terms = [f"{getattr(row, field):,}" for row in rows if getattr(row, field)]
        total = sum(getattr(row, field) for row in rows)
        lines.append(f"{label} = {' + '.join(terms)} = {total:,}" if len(terms) > 1 else f"{label} = {total:,}")
    return "\n\n".join(["\n".join(lines)] + ["\n".join(explain_lines(report, row)) for row in rows])


def explain_lines(report, row):
    """The lecture-style worked arithmetic for one row (``analyze(..., explain=[name])``), as text lines."""
    return [text for _, text in explain_data(report, row)]


def explain_data(report, row):
    """The worked arithmetic for one row as (quantity, text) pairs, headed by ("layer", ...).

    The rules tag their lines (see rules.EXPLAIN_QUANTITIES); what a rule leaves out (memory, and
    params, MACs or receptive field where it has no arithmetic to show) is filled in here.
    """
    lines = [("layer", f"{row.name} ({row.type}{', then ' + row.act if row.act else ''}), "
                       f"from {', '.join(row.inputs)}: input {full_shape(row.in_shape)}")]
    given = {quantity for quantity, _ in row.explain}
    lines += [entry for entry in row.explain if entry[0] != "receptive_field"]
    lines.append(("output_shape", f"output = {full_shape(row.out_shape)}"))
    count = "*".join(str(s) for s in row.out_shape)
    memory = report.batch * report.bytes_per_element
    for size in row.out_shape:
        memory *= size  # what the output takes, also for a train_only row that eval mode counts as 0
    batch = f" * {report.batch}" if report.batch != 1 else ""
    lines.append(("memory", f"memory = {count}{batch} * {report.bytes_per_element} B = {memory:,} B = "
                            f"{scaled(memory, 1024, 2).rstrip('0').rstrip('.')} KB"))
    if "params" not in given:
        lines.append(("params", f"params = {row.params:,}"))
    if not given & {"macs", "flops"}:
        lines.append(("macs", f"MACs = {row.macs:,}; flop = {row.flops:,}"))
    elif row.flops == row.macs and row.macs:
        lines.append(("flops", f"flop (lecture) = MACs = {row.flops:,}"))
    if "receptive_field" in given:
        lines += [entry for entry in row.explain if entry[0] == "receptive_field"]
    else:
        lines.append(("receptive_field",
                      f"receptive field = {pair_text(row.receptive_field)} input pixels, "
                      f"effective stride {pair_text(row.effective_stride)} (r_out = r_in + (K-1)*D*j_in, "
                      f"j_out = j_in*S)"))
    if row.train_costs:
        macs, flops, memory = row.train_costs
        lines.append(("macs", f"runs only in training: in eval mode the table and totals count its MACs, flop and "
                              f"memory as 0 (--mode train counts MACs {macs:,}, flop {flops:,}, memory {memory:,} B)"))
    return lines
