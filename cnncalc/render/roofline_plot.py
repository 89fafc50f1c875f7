"""The roofline picture (``cnncalc plot --roofline``): a device's roof, log-log, with every layer as a point.

x is the layer's arithmetic intensity (FLOP per byte moved), y the FLOP/s it can reach there,
``min(peak, intensity x bandwidth)``: the roof. Each layer sits on the roof at its intensity (its roofline
time is its FLOPs over that rate), memory-bound layers (left of the ridge point) in red, compute-bound ones
in blue, each point's area proportional to its share of the model's roofline time. One panel per model.
"""

from .plot import _import_matplotlib, check_path, plain
from .units import rate_text

MEMORY_COLOUR = "#C44E52"
COMPUTE_COLOUR = "#4C72B0"


def roofline_writer(reports, path, depth=None):
    """The drawing as a function that writes it to a binary stream (as plot.plot_writer)."""
    extension = check_path(path)
    figure = build_roofline_figure(reports, depth)

    def save(stream):
        figure.savefig(stream, format=extension[1:], dpi=150)

    return save


def points(report, depth=None):
    """(intensity, attainable FLOP/s, share of the time, memory-bound) per row that does work, as floats."""
    device = report.roofline.device
    total = report.roofline.total.time_s
    out = []
    for row in report.fold(depth):
        figure = row.roofline
        if not figure.flops or not figure.bytes_moved:
            continue
        intensity = figure.intensity
        out.append((float(intensity), float(min(device.peak, intensity * device.bandwidth)),
                    float(figure.time_s / total) if total else 0.0, figure.bound == "memory"))
    return out


def build_roofline_figure(reports, depth=None):
    Figure = _import_matplotlib()
    figure = Figure(figsize=(7 * len(reports), 5.2), layout="constrained")
    axes = figure.subplots(1, len(reports), squeeze=False)[0]
    for ax, report in zip(axes, reports):
        _draw(ax, report, points(report, depth))
    return figure


def _draw(ax, report, dots):
    from matplotlib.lines import Line2D

    device = report.roofline.device
    peak, bandwidth, ridge = float(device.peak), float(device.bandwidth), float(device.ridge)
    lows = [x for x, _, _, _ in dots] or [ridge]
    left, right = min(min(lows), ridge) / 4, max(max(lows), ridge) * 4
    ax.plot([left, ridge, right], [left * bandwidth, peak, peak], color="#333333", linewidth=1.5, zorder=1)
    ax.axvline(ridge, color="#999999", linestyle=":", linewidth=1)
    for memory_bound in (True, False):
        chosen = [dot for dot in dots if dot[3] == memory_bound]
        if chosen:
            ax.scatter([x for x, _, _, _ in chosen], [y for _, y, _, _ in chosen],
                       s=[12 + 600 * share for _, _, share, _ in chosen], alpha=0.6, zorder=2,
                       color=MEMORY_COLOUR if memory_bound else COMPUTE_COLOUR, edgecolors="white", linewidths=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(left, right)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("attainable FLOP/s")
    ax.grid(which="major", alpha=0.3)
    share = report.roofline.total.memory_bound_share or 0
    ax.set_title(plain(f"{report.name} on {device.name} ({device.dtype}, batch {report.batch}): peak "
                       f"{rate_text(device.peak, device.work_unit + '/s')}, {rate_text(device.bandwidth, 'B/s')}; "
                       f"{float(share) * 100:.0f}% of the time memory-bound"), fontsize=9, parse_math=False)
    handles = [Line2D([], [], marker="o", linestyle="", color=MEMORY_COLOUR, label="memory-bound layer"),
               Line2D([], [], marker="o", linestyle="", color=COMPUTE_COLOUR, label="compute-bound layer")]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    ax.text(ridge, peak, f"  ridge {ridge:.1f} FLOP/B", fontsize=8, va="bottom", ha="left")
