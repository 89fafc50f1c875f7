"""Per-layer bar charts of activation memory, params and flop: the lecture's pictures.

They show where each quantity sits: memory in the early convs, params in the fc layers, compute in
the convs. ``plot_reports([report, ...], "out.png")`` draws one column per model and one row per
quantity (rows share their y axis, so models compare by height). matplotlib is optional.
"""

import os
import re

from .errors import CnnCalcError, UsageError
from .formatters import full_shape

INSTALL_HINT = "matplotlib is needed: pip install 'cnncalc[plot]'"
FILE_TYPES = (".png", ".svg", ".pdf")
PANELS = (("activation memory", "memory_bytes", "bytes"), ("params", "params", "count"),
          ("lecture flop", "flops", "count"))
UNIT_STEPS = {"bytes": ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB"), (1, "B")),
              "count": ((10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k"), (1, ""))}
KIND_COLOURS = {"conv": "#4C72B0", "fc": "#DD8452", "pool": "#55A868", "block": "#8172B2", "other": "#B0B0B0"}
MAX_NAMED_BARS = 45


def layer_kind(row):
    """conv, fc, pool, block (folded rows) or other: the colour of the row's bar."""
    if row.type in ("conv", "dwconv", "convtranspose"):
        return "conv"
    if row.type == "fc":
        return "fc"
    if "pool" in row.type:
        return "pool"
    return "block" if row.type == "block" else "other"


def shares(rows, field):
    """Percentage of ``field`` held by conv and fc rows: ``{"conv": 6, "fc": 94}`` (rounded)."""
    total = sum(getattr(row, field) for row in rows)
    if not total:
        return {}
    held = {}
    for row in rows:
        kind = layer_kind(row)
        if kind in ("conv", "fc"):
            held[kind] = held.get(kind, 0) + getattr(row, field)
    return {kind: (200 * value + total) // (2 * total) for kind, value in held.items()}


def axis_unit(largest, kind):
    """The divisor and name of the unit that reads ``largest`` best: (1048576, "MB"), (1000000, "M")."""
    for divisor, name in UNIT_STEPS[kind]:
        if largest >= divisor:
            return divisor, name
    return 1, UNIT_STEPS[kind][-1][1]


def _import_matplotlib():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise CnnCalcError(INSTALL_HINT) from None
    return Figure


def check_path(path):
    extension = os.path.splitext(str(path))[1].lower()
    if extension not in FILE_TYPES:
        raise UsageError(f"the plot file must end in {', '.join(FILE_TYPES)}, not '{path}'")
    return extension


def plot_reports(reports, path, depth=None):
    """Draw the three panels for each report side by side and save them to ``path`` (.png, .svg, .pdf)."""
    save = plot_writer(reports, path, depth)
    try:
        with open(path, "wb") as stream:
            save(stream)
    except OSError as err:
        raise CnnCalcError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def plot_writer(reports, path, depth=None):
    """The drawing as a function that writes it to a binary stream, in the format ``path`` ends in.

    The CLI hands it to commands.common.write_output (which writes to a temporary file whose own
    suffix says nothing of the format, so the format is passed explicitly).
    """
    extension = check_path(path)
    figure = _draw(reports, depth)

    def save(stream):
        figure.savefig(stream, format=extension[1:], dpi=150)

    return save


def _draw(reports, depth):
    Figure = _import_matplotlib()
    columns = [report.fold(depth) for report in reports]
    widths = [min(max(0.22 * len(rows) + 1.5, 4.0), 11.0) for rows in columns]
    figure = Figure(figsize=(sum(widths) + 0.8, 9.5), layout="constrained")
    axes = figure.subplots(len(PANELS), len(reports), sharey="row", squeeze=False,
                           gridspec_kw={"width_ratios": widths})
    for panel, (title, field, kind) in enumerate(PANELS):
        largest = max(getattr(row, field) for rows in columns for row in rows)
        divisor, unit = axis_unit(largest, kind)
        for column, rows in enumerate(columns):
            _draw_panel(axes[panel][column], rows, field, divisor, show_names=panel == len(PANELS) - 1,
                        held=shares(reports[column].rows, field))
        axes[panel][0].set_ylabel(f"{title} ({unit})" if unit else title)
        axes[panel][0].set_ylim(0, max(largest / divisor * 1.15, 1e-9))
    for column, report in enumerate(reports):
        axes[0][column].set_title(plain(f"{report.name} ({full_shape(report.input)}, batch {report.batch}, "
                                        f"{report.dtype})"), fontsize=10, parse_math=False)
    _legend(figure, columns)
    return figure


# What XML 1.0 (so SVG) can hold; the rest is dropped from names drawn in a plot.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def plain(text):
    """A name as plot text: drawn as written (callers pass parse_math=False: no `$...$` mathtext), with
    characters an SVG file cannot hold removed."""
    return _NOT_XML.sub("", str(text))


def _draw_panel(ax, rows, field, divisor, show_names, held):
    positions = range(len(rows))
    values = [getattr(row, field) / divisor for row in rows]
    ax.bar(positions, values, width=0.8, color=[KIND_COLOURS[layer_kind(row)] for row in rows])
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    if held:
        text = "  ".join(f"{kind} {percent}%" for kind, percent in sorted(held.items()))
        # the share box goes on the side whose bars are lower, to keep it off the tall bars
        third = max(1, len(values) // 3)
        left = max(values[:third]) < max(values[-third:])
        ax.text(0.01 if left else 0.99, 0.97, text, transform=ax.transAxes, ha="left" if left else "right",
                va="top", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": "#CCCCCC"})
    step = max(1, -(-len(rows) // MAX_NAMED_BARS))
    ax.set_xticks(list(positions)[::step])
    ax.set_xticklabels([plain(row.name) for row in rows][::step] if show_names else [], rotation=90, fontsize=7,
                       parse_math=False)


def _legend(figure, columns):
    from matplotlib.patches import Patch

    present = [kind for kind in KIND_COLOURS if any(layer_kind(row) == kind for rows in columns for row in rows)]
    handles = [Patch(color=KIND_COLOURS[kind], label=kind) for kind in present]
    try:
        figure.legend(handles=handles, loc="outside upper right", ncol=len(handles), fontsize=8, frameon=False)
    except ValueError:  # matplotlib < 3.7 has no "outside" locations
        figure.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=8, frameon=False)
