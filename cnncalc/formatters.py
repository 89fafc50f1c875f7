"""Turn a Report into text: the lecture table (any tabulate format), JSON, CSV, worked arithmetic.

Stage five of the pipeline: formatters only format; every number comes from the report rows.
Numbers are exact integers until here; rounding happens only in this module.
"""

import textwrap
from fractions import Fraction

EXTRA_FORMATS = ("json", "csv")
UNITS = ("slide", "raw", "auto")

CONVENTIONS = (
    "Conventions: output = floor((W + 2P - D*(K-1) - 1)/S) + 1; params include biases (BN running stats are "
    "buffers, not params); MACs count conv and fc multiply-accumulates only; flop = MACs + pooling windows "
    "(lecture convention, multiply+add counted as one); memory = output elements x batch x bytes per element, "
    "KB = 1024 B; the network input is not counted."
)


def table_formats():
    import tabulate

    return list(tabulate.tabulate_formats) + list(EXTRA_FORMATS)


# --- numbers ----------------------------------------------------------------------------------

def round_half_up(value):
    """Round a Fraction (or int) to the nearest integer, halves away from zero."""
    value = Fraction(value)
    sign = -1 if value < 0 else 1
    value = abs(value)
    return sign * ((2 * value.numerator + value.denominator) // (2 * value.denominator))


def scaled(value, divisor, digits=0):
    """``value / divisor`` rounded half up at ``digits`` decimals, as text with thousands separators."""
    exact = Fraction(value, divisor) * 10 ** digits
    whole = round_half_up(exact)
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
            exact = Fraction(value, divisor)
            digits = 2 if exact < 10 else 1 if exact < 100 else 0
            return f"{scaled(value, divisor, digits)}{suffix}{unit}"
    return f"{value}{' ' + unit if unit else ''}".rstrip()


def human_bytes(value):
    """Bytes in binary units as on the slides: 802816 -> 784 KB."""
    value = int(value)
    for divisor, suffix in ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB")):
        if value >= divisor:
            exact = Fraction(value, divisor)
            digits = 0 if exact == int(exact) else 2 if exact < 10 else 1 if exact < 100 else 0
            return f"{scaled(value, divisor, digits)} {suffix}"
    return f"{value} B"


# --- shapes and geometry ----------------------------------------------------------------------

def shape_text(shape):
    """The lecture's ``C x H/W``: ``64 x 56``; non-square maps as ``64 x 56x48``; flat as ``4096``."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{c} x {h}" if h == w else f"{c} x {h}x{w}"
    return " x ".join(str(s) for s in shape)


def full_shape(shape):
    return "x".join(str(s) for s in shape)


def pair_text(pair):
    if pair is None:
        return ""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def pad_text(pad):
    if pad is None:
        return ""
    (top, bottom), (left, right) = pad
    if top == bottom and left == right:
        return pair_text((top, left))
    return f"{top},{bottom},{left},{right}"


# --- the report table ---------------------------------------------------------------------------

COLUMN_TITLES = {
    "slide": ("Layer", "input\nC x H/W", "filters", "kernel", "stride", "pad", "output\nC x H/W",
              "memory\n(KB)", "params\n(k)", "flop\n(M)"),
    "raw": ("Layer", "input\nC x H/W", "filters", "kernel", "stride", "pad", "output\nC x H/W",
            "memory\n(bytes)", "params", "flop"),
    "auto": ("Layer", "input\nC x H/W", "filters", "kernel", "stride", "pad", "output\nC x H/W",
             "memory", "params", "flop"),
}


def _numbers(row_or_totals, units, get):
    memory, params, flops = get("memory_bytes"), get("params"), get("flops")
    if units == "raw":
        return [f"{memory:,}", f"{params:,}", f"{flops:,}"]
    if units == "auto":
        return [human_bytes(memory), human(params), human(flops)]
    return [scaled(memory, 1024), scaled(params, 1000), scaled(flops, 10 ** 6)]


def table_rows(report, depth=None, units="slide"):
    rows = []
    for row in report.fold(depth):
        geometry = [
            "" if row.filters is None else str(row.filters),
            pair_text(row.kernel), pair_text(row.stride), pad_text(row.pad),
        ]
        rows.append([row.name, shape_text(row.in_shape)] + geometry + [shape_text(row.out_shape)]
                    + _numbers(row, units, lambda key: getattr(row, key)))
    totals = report.totals
    rows.append(["total", "", "", "", "", "", ""] + _numbers(totals, units, totals.__getitem__))
    return rows


def summary_lines(report):
    t = report.totals
    dtype = f"{report.dtype}, {report.bytes_per_element} B/element"
    return [
        f"{report.name}: input {full_shape(report.input)}, batch {report.batch}, {dtype}; "
        f"{t['layers']:,} layers ({t['weight_layers']} with weights)",
        f"params {t['params']:,} ({human(t['params'])})" + (f" + buffers {t['buffers']:,}" if t["buffers"] else ""),
        f"MACs {t['macs']:,} ({human(t['macs'])}); flop (lecture) {t['flops']:,} ({human(t['flops'])}); "
        f"FLOPs (2 x MACs + elementwise) {t['flops_2x']:,} ({human(t['flops_2x'])})",
        f"activation memory {t['memory_bytes']:,} B ({human_bytes(t['memory_bytes'])}); "
        f"parameter memory {t['param_bytes']:,} B ({human_bytes(t['param_bytes'])})",
    ]


def render_table(report, fmt="simple", depth=None, units="slide"):
    import tabulate

    titles = COLUMN_TITLES[units]
    if fmt not in ("simple", "grid", "fancy_grid", "rounded_grid", "heavy_grid", "mixed_grid", "double_grid",
                   "simple_grid", "outline", "fancy_outline", "heavy_outline", "mixed_outline", "double_outline",
                   "simple_outline", "rounded_outline", "psql", "rst", "presto", "plain"):
        titles = [t.replace("\n", " ") for t in titles]
    body = tabulate.tabulate(table_rows(report, depth, units), headers=titles, tablefmt=fmt,
                             colalign=("left", "right", "right", "right", "right", "right", "right",
                                       "right", "right", "right"), disable_numparse=True)
    if fmt == "html":
        return body
    lines = [body, ""] + summary_lines(report)
    lines += warning_lines(report.warnings)
    lines += [""] + textwrap.wrap(CONVENTIONS, 100)
    return "\n".join(lines)


def warning_lines(warnings, listed=3):
    """Each warning in full when there are few; otherwise one wrapped line naming the layers."""
    if not warnings:
        return []
    if len(warnings) <= listed:
        return [""] + [f"warning: {name}: {text}" for name, text in warnings]
    names = ", ".join(dict.fromkeys(name for name, _ in warnings))
    text = (f"warning: at {len(warnings)} layers the window does not tile the input and the output size is "
            f"floored (as PyTorch does): {names}. `--explain LAYER` shows the arithmetic.")
    return [""] + textwrap.wrap(text, 100, subsequent_indent="  ")


CSV_COLUMNS = ("name", "type", "from", "in_shape", "out_shape", "filters", "kernel", "stride", "pad", "params",
               "buffers", "macs", "flops", "flops_2x", "memory_bytes", "receptive_field", "effective_stride")


def render_csv(report, depth=None):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.fold(depth):
        d = row.to_dict()
        writer.writerow([
            d["name"], d["type"], " ".join(d["from"]), full_shape(row.in_shape), full_shape(row.out_shape),
            d.get("filters", ""), pair_text(row.kernel), pair_text(row.stride), pad_text(row.pad),
            d["params"], d["buffers"], d["macs"], d["flops"], d["flops_2x"], d["memory_bytes"],
            full_shape(row.receptive_field), full_shape(row.effective_stride),
        ])
    return out.getvalue().rstrip("\n")


def render_json(data):
    """JSON with one line per top-level key and per element of a list of objects (layers, results).

    Readable, valid, and written by json's C encoder (``indent=`` would use the slow pure-Python one).
    """
    import json

    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n    ".join(json.dumps(item) for item in value)
            parts.append(f"  {json.dumps(key)}: [\n    {items}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}"


def render_report(report, fmt="simple", depth=None, units="slide"):
    if fmt == "json":
        return render_json(report.to_dict(depth))
    if fmt == "csv":
        return render_csv(report, depth)
    return render_table(report, fmt, depth, units)


# --- worked arithmetic ------------------------------------------------------------------------

def explain_lines(report, row):
    """The lecture-style worked arithmetic for one row (``analyze(..., explain=[name])``)."""
    lines = [f"{row.name} ({row.type}{', then ' + row.act if row.act else ''}), "
             f"from {', '.join(row.inputs)}: input {full_shape(row.in_shape)}"]
    lines += row.explain
    lines.append(f"output = {full_shape(row.out_shape)}")
    count = "*".join(str(s) for s in row.out_shape)
    memory = row.memory_bytes
    batch = f" * {report.batch}" if report.batch != 1 else ""
    lines.append(f"memory = {count}{batch} * {report.bytes_per_element} B = {memory:,} B = "
                 f"{scaled(memory, 1024, 2).rstrip('0').rstrip('.')} KB")
    if not any(line.startswith("params") for line in row.explain):
        lines.append(f"params = {row.params:,}")
    if not any(line.startswith(("MACs", "flop")) for line in row.explain):
        lines.append(f"MACs = {row.macs:,}; flop = {row.flops:,}")
    elif row.flops == row.macs and row.macs:
        lines.append(f"flop (lecture) = MACs = {row.flops:,}")
    rf = row.receptive_field
    lines.append(f"receptive field = {pair_text(rf) if rf[0] == rf[1] else full_shape(rf)} input pixels, "
                 f"effective stride {pair_text(row.effective_stride)} "
                 f"(r_out = r_in + (K-1)*D*j_in, j_out = j_in*S)")
    return lines
