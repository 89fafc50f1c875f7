"""The lecture table in any tabulate format, with its summary lines, warnings and the conventions footer."""

import textwrap

from ..conventions import CONVENTIONS, FLOPS_2X_NOTE, FOLDED_BN, ROOFLINE_NOTE
from ..numbers import is_tokens
from .columns import MAP_TITLES, table_columns
from .escape import escape_cells, escape_lines
from .shapes import full_shape
from .units import human, human_bytes, rate_text, share_text, time_text
from ..numbers import plural

EXTRA_FORMATS = ("json", "csv")
UNITS = ("slide", "raw", "auto")
# tabulate formats that draw a two-line title; the others get the title on one line
MULTILINE_FORMATS = ("simple", "grid", "fancy_grid", "rounded_grid", "heavy_grid", "mixed_grid", "double_grid",
                     "simple_grid", "outline", "fancy_outline", "heavy_outline", "mixed_outline", "double_outline",
                     "simple_outline", "rounded_outline", "psql", "rst", "presto", "plain")


def table_formats():
    import tabulate

    return list(tabulate.tabulate_formats) + list(EXTRA_FORMATS)


def table(report, depth=None, units="slide", columns=None, convention="lecture"):
    """The table as text cells: (titles, rows with the total row last, alignments)."""
    device = report.roofline is not None and report.roofline.device is not None
    chosen = table_columns(columns, convention, device)
    totals = dict(report.totals, roofline=report.roofline.total) if report.roofline else report.totals
    bound = [column.bind(units, totals) for column in chosen]
    rows = [[cell(row) for _, cell, _ in bound] for row in report.fold(depth)]
    rows.append([total for _, _, total in bound])
    return [shape_title(title, report) for title, _, _ in bound], rows, [column.align for column in chosen]


def shape_title(title, report):
    """A column title with the lecture's ``C x H/W`` as ``report``'s shapes are: ``C x L``, ``N x D``, ``C x D x
    H x W``, and ``, N x D`` added where a map becomes a transformer's tokens."""
    words = "N x D" if is_tokens(report.input) else MAP_TITLES.get(len(report.input) - 1, "C x H/W")
    if not is_tokens(report.input) and any(is_tokens(row.out_shape) for row in report.rows):
        words += ", N x D"  # a transformer's token rows
    elif is_tokens(report.input) and any(len(row.out_shape) == 3 for row in report.rows):
        words += ", C x H/W"  # a map made from tokens (matmul's heads x N x N attention map)
    return title.replace("C x H/W", words)


def _count(value, more=()):
    """``61,100,840 (61.1M)``; a count too small to round is written once (``94``, not ``94 (94)``)."""
    short = [human(value)] if human(value) != f"{value:,}" else []
    notes = short + list(more)
    return f"{value:,}" + (f" ({'; '.join(notes)})" if notes else "")


def _size(value):
    """``2,403,744 B (2.29 MB)``; under a KB, ``544 B`` once."""
    short = human_bytes(value)
    return f"{value:,} B" + ("" if short == f"{value:,} B" else f" ({short})")


def summary_lines(report, convention="lecture", optimizer=None):
    t = report.totals
    dtype = f"{report.dtype}, {report.bytes_per_element} B/element"
    lecture = f"flop (lecture) {_count(t['flops'])}"
    doubled = f"FLOPs (2 x MACs + elementwise) {_count(t['flops_2x'])}"
    macs = f"MACs {_count(t['macs'])}"
    flop_line = f"{macs}; {lecture}; {doubled}" if convention != "2x" else f"{doubled}; {macs}; {lecture}"
    frozen = [f"trainable {t['trainable_params']:,}, frozen {t['frozen_params']:,}"] if t["frozen_params"] else []
    lines = [
        f"{report.name}: input {full_shape(report.input)}, batch {report.batch}, {dtype}; "
        f"{plural(t['layers'], 'layer')} ({t['weight_layers']} with weights)",
        f"params {_count(t['params'], frozen)}" + (f" + buffers {t['buffers']:,}" if t["buffers"] else ""),
        flop_line,
        f"activation memory {_size(t['memory_bytes'])}, peak live {_size(t['peak_memory_bytes'])}; parameter "
        f"memory {_size(t['param_bytes'])}",
    ]
    if report.params:  # the spec's params: section, with any --set values
        lines.insert(1, params_text(report))
    if report.batch != 1:  # MACs and flop stay per sample, as in the lecture tables; the batch's sum said here
        lines[lines.index(flop_line)] = "per sample: " + flop_line
        b = report.batch
        lines.insert(lines.index("per sample: " + flop_line) + 1,
                     f"batch of {b:,}: MACs {b * t['macs']:,} ({human(b * t['macs'])}); flop (lecture) "
                     f"{b * t['flops']:,} ({human(b * t['flops'])})")
    if optimizer:
        lines.append(training_line(report.training_memory(optimizer)))
    if report.roofline is not None and report.roofline.device is not None:
        lines += roofline_lines(report)
    if FOLDED_BN in (report.source or ""):  # an ONNX model exported with BN folded (see onnx/graph.py)
        lines.append(f"note: {report.source[report.source.index(FOLDED_BN):]}")
    return lines


# what compare's roofline time is
ROOFLINE_TIME = ("the least time of a batch, the layers' max(FLOPs / peak, bytes / bandwidth) summed (a lower "
                 "bound; see the conventions).")


def device_text(device):
    """``t4 (NVIDIA T4 16 GB): fp32 peak 8.1 TFLOP/s, 320 GB/s, ridge point 25.3 FLOP/B``."""
    ridge = device.ridge
    title = "" if device.name == "custom" else f" ({device.title})"
    unit = device.work_unit
    return (f"{device.name}{title}: {device.dtype} peak {rate_text(device.peak, unit + '/s')}, "
            f"{rate_text(device.bandwidth, 'B/s')}, ridge point {scaled_fraction(ridge)} {unit}/B")


def scaled_fraction(value, digits=1):
    from .units import scaled

    return scaled(value.numerator, value.denominator, digits)


def roofline_lines(report):
    """The roofline's summary: the device, bytes moved, the least time and the share of it memory-bound."""
    total = report.roofline.total
    text = (f"roofline on {device_text(report.roofline.device)}; bytes moved {total.bytes_moved:,} B "
            f"({human_bytes(total.bytes_moved)}); least time {time_text(total.time_s)} per batch of {report.batch}, "
            f"{share_text(total.memory_bound_share)} of it in memory-bound layers ({total.memory_bound_layers} of "
            f"{total.layers})")
    return textwrap.wrap(text, 100)


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
                 optimizer=None, footer=True):
    """The table, its summary lines and warnings, then (unless ``footer`` is false) the conventions."""
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
    if footer:
        lines += [""] + textwrap.wrap(CONVENTIONS, 100)
    if footer and convention == "2x":
        lines += textwrap.wrap(FLOPS_2X_NOTE, 100)
    if footer and report.roofline is not None and report.roofline.device is not None:
        lines += textwrap.wrap(ROOFLINE_NOTE, 100)
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


def params_text(report):
    """``params: width=1.2, depth=1.4``: the spec's params as this run has them. A param the spec's input is
    written with says so when the run reads another input (``image=224`` under ``--input 3x384x384``)."""
    text = "params: " + ", ".join(f"{name}={value}" for name, value in report.params.items())
    shaping = report.spec.input_params() if report.input != report.spec.input else set()
    if shaping:
        text += (f" ({', '.join(name for name in report.params if name in shaping)} gives the spec's input "
                 f"{full_shape(report.spec.input)}; this run reads {full_shape(report.input)})")
    return text
