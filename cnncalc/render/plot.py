"""Per-layer bar charts of activation memory, params and flop: the lecture's pictures.

They show where each quantity sits: memory in the early convs, params in the fc layers, compute in
the convs. ``plot_reports([report, ...], "out.png")`` draws one row per model and one panel per quantity,
each with its own axis, so many deep models stay readable. matplotlib is optional.
"""

import os
import re

from ..errors import CnnCalcError, UsageError
from .shapes import full_shape
from ..graph import group_name

INSTALL_HINT = "matplotlib is needed: pip install 'cnncalc[plot]'"
FILE_TYPES = (".png", ".svg", ".pdf")
PANELS = (("activation memory", "memory_bytes", "bytes"), ("params", "params", "count"),
          ("lecture flop", "flops", "count"))
UNIT_STEPS = {"bytes": ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB"), (1, "B")),
              "count": ((10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k"), (1, ""))}
KIND_COLOURS = {"conv": "#4C72B0", "fc": "#DD8452", "attention": "#C44E52", "pool": "#55A868", "block": "#8172B2",
                "other": "#B0B0B0"}
MAX_NAMED_BARS = 45
# Past this many rows a panel draws one bar per run of neighbouring layers, as tall as the tallest of them
# and in its colour (a bar is an artist of its own: 100,000 layers took minutes and gigabytes, longer as
# SVG); a panel is a few hundred pixels wide, so the picture is the same.
MAX_DRAWN_BARS = 600


def layer_kind(row):
    """conv, fc, pool, block (folded rows) or other: the colour of the row's bar, from the rule's category."""
    from ..rules import RULES

    if row.type == "block":
        return "block"
    category = RULES[row.type].category
    return {"global pool": "pool", "merge": "other"}.get(category, category)


def shares(rows, field):
    """Percentage of ``field`` held by conv, fc and attention rows: ``{"conv": 6, "fc": 94}`` (rounded)."""
    total = sum(getattr(row, field) for row in rows)
    if not total:
        return {}
    held = {}
    for row in rows:
        kind = layer_kind(row)
        if kind in ("conv", "fc", "attention"):
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
    """Draw the three panels of each report and save them to ``path`` (.png, .svg, .pdf)."""
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
    figure = build_figure(reports, depth)

    def save(stream):
        figure.savefig(stream, format=extension[1:], dpi=150)

    return save


# What XML 1.0 (so SVG) can hold; the rest is dropped from names drawn in a plot.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def plain(text):
    """A name as plot text: drawn as written (callers pass parse_math=False: no `$...$` mathtext), with
    characters an SVG file cannot hold removed."""
    return _NOT_XML.sub("", str(text))


def build_figure(reports, depth=None):
    """One row of three panels (memory, params, flop) per model, each panel with its own y axis and unit,
    so five models of a hundred layers each stay readable; deep nets get their bars labelled by block."""
    Figure = _import_matplotlib()
    columns = [report.fold(depth) for report in reports]
    figure = Figure(figsize=(16, 1.0 + 3.4 * len(reports)), layout="constrained")
    axes = figure.subplots(len(reports), len(PANELS), squeeze=False)
    for line, (report, rows) in enumerate(zip(reports, columns)):
        labels = bar_labels(rows)
        for panel, (title, field, kind) in enumerate(PANELS):
            largest = max(getattr(row, field) for row in rows)
            divisor, unit = axis_unit(largest, kind)
            ax = axes[line][panel]
            _draw_panel(ax, rows, field, divisor, labels, held=shares(report.rows, field))
            ax.set_title(f"{title} ({unit})" if unit else title, fontsize=9)
            ax.set_ylim(0, max(largest / divisor * 1.15, 1e-9))
        axes[line][0].set_ylabel(plain(f"{report.name}\n{full_shape(report.input)}, batch {report.batch}, "
                                       f"{report.dtype}"), fontsize=10, parse_math=False)
    _legend(figure, columns)
    return figure


def label_depth(rows, most=MAX_NAMED_BARS // 2):
    """How many parts of the names label a deep net's bars: the most that still give at most ``most``
    blocks (ResNet's ``layer1``..., DenseNet's ``features.denseblock1``...)."""
    chosen = 1
    for depth in (2, 3):
        if len({group_name(row.name, depth) for row in rows}) > most:
            break
        chosen = depth
    return chosen


def bar_labels(rows):
    """(position, text) ticks: every bar's name when there are few; else one per block at its first bar,
    and of two blocks that start too close together for both labels, the larger (a stem or a transition
    of a layer or three gives way to the block beside it)."""
    if len(rows) <= MAX_NAMED_BARS:
        return [(index, row.name) for index, row in enumerate(rows)]
    depth = label_depth(rows)
    blocks = []  # [first bar, name, bars]
    for index, row in enumerate(rows):
        name = group_name(row.name, depth)
        if blocks and blocks[-1][1] == name:
            blocks[-1][2] += 1
        else:
            blocks.append([index, name, 1])
    spacing = len(rows) / MAX_NAMED_BARS
    kept = []
    for block in blocks:
        if kept and block[0] - kept[-1][0] < spacing:
            if block[2] > kept[-1][2]:
                kept[-1] = block
        else:
            kept.append(block)
    return [(start, name) for start, name, _ in kept]


def _draw_panel(ax, rows, field, divisor, labels, held):
    positions = range(len(rows))
    values = [getattr(row, field) / divisor for row in rows]
    colours = [KIND_COLOURS[layer_kind(row)] for row in rows]
    step = -(-len(rows) // MAX_DRAWN_BARS)
    if step == 1:
        ax.bar(positions, values, width=0.8, color=colours)
    else:
        tallest = [max(range(start, min(start + step, len(rows))), key=values.__getitem__)
                   for start in range(0, len(rows), step)]
        ax.bar([start + (step - 1) / 2 for start in range(0, len(rows), step)], [values[i] for i in tallest],
               width=step * 0.9, color=[colours[i] for i in tallest])
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
    folded = len(labels) < len(rows)
    for position, _ in labels[1:] if folded else ():
        ax.axvline(position - 0.5, color="#999999", linewidth=0.5, alpha=0.6)  # where each block starts
    ax.set_xticks([position for position, _ in labels])
    ax.set_xticklabels([plain(text) for _, text in labels], rotation=45 if folded else 90, fontsize=7,
                       ha="right" if folded else "center", parse_math=False)


def _legend(figure, columns):
    from matplotlib.patches import Patch

    present = [kind for kind in KIND_COLOURS if any(layer_kind(row) == kind for rows in columns for row in rows)]
    handles = [Patch(color=KIND_COLOURS[kind], label=kind) for kind in present]
    try:
        figure.legend(handles=handles, loc="outside upper right", ncol=len(handles), fontsize=8, frameon=False)
    except ValueError:  # matplotlib < 3.7 has no "outside" locations
        figure.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=8, frameon=False)
