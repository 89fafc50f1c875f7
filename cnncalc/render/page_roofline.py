"""The page's roofline (``cnncalc page --device``): the summary, and the device's roof as inline SVG, log-log,
each layer a point on the roof at its arithmetic intensity (memory-bound red, compute-bound blue, its area
its share of the time). The figures are cnncalc.roofline's (attached to the report); this only draws them.
At most MAX_POINTS points: past that, the layers that take the most time.
"""

import math

from .escape import escape_html
from .roofline_plot import COMPUTE_COLOUR, MEMORY_COLOUR
from .table import roofline_lines
from .units import rate_text, share_text, time_text

MAX_POINTS = 400
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 640, 360, 60, 40, 16, 16


def has_device(report):
    return report.roofline is not None and report.roofline.device is not None


def roofline_section(report, ids, sid):
    """The roofline's HTML for a report with a device; '' without one."""
    if not has_device(report):
        return ""
    device = report.roofline.device
    total = report.roofline.total.time_s
    dots = [row for row in report.rows if row.roofline.flops and row.roofline.bytes_moved]
    dropped = max(0, len(dots) - MAX_POINTS)
    if dropped:
        dots = sorted(dots, key=lambda row: row.roofline.time_s, reverse=True)[:MAX_POINTS]
    peak, bandwidth, ridge = float(device.peak), float(device.bandwidth), float(device.ridge)
    xs = [float(row.roofline.intensity) for row in dots] or [ridge]
    left, right = min(min(xs), ridge) / 4, max(max(xs), ridge) * 4
    bottom, top = left * bandwidth, peak * 2
    x_of = _scale(left, right, LEFT, WIDTH - RIGHT)
    y_of = _scale(bottom, top, HEIGHT - BOTTOM, TOP)
    parts = [f'<path class=roof d="M{x_of(left):.1f},{y_of(left * bandwidth):.1f} L{x_of(ridge):.1f},{y_of(peak):.1f} '
             f'L{x_of(right):.1f},{y_of(peak):.1f}" />',
             f'<line class=ridge x1="{x_of(ridge):.1f}" x2="{x_of(ridge):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" />',
             f'<text x="{x_of(ridge) - 6:.1f}" y="{y_of(peak) + 16:.1f}" class=end>ridge {ridge:.1f} {device.work_unit}/B, '
             f'peak {escape_html(rate_text(device.peak, device.work_unit + "/s"))}</text>']
    parts += _axes(left, right, bottom, top, x_of, y_of)
    for row in sorted(dots, key=lambda row: row.roofline.time_s, reverse=True):  # small points drawn last, on top
        figure = row.roofline
        intensity = float(figure.intensity)
        share = float(figure.time_s / total) if total else 0.0
        colour = MEMORY_COLOUR if figure.bound == "memory" else COMPUTE_COLOUR
        label = (f"{row.name}: {intensity:.3g} FLOP/B, {time_text(figure.time_s)}, {figure.bound}-bound, "
                 f"{share * 100:.1f}% of the time")
        parts.append(f'<circle cx="{x_of(intensity):.1f}" cy="{y_of(min(peak, intensity * bandwidth)):.1f}" '
                     f'r="{2.5 + 22 * math.sqrt(share):.1f}" fill="{colour}" data-row="{ids.get(row.name, "")}">'
                     f'<title>{escape_html(label)}</title></circle>')
    lines = "<br>".join(escape_html(line) for line in roofline_lines(report))
    more = f" The {MAX_POINTS} layers taking the most time are drawn ({dropped:,} more are not)." if dropped else ""
    share = report.roofline.total.memory_bound_share
    return (f'<h3>Roofline</h3><p class=meta>{lines}</p>'
            f'<svg class=roofline id="{sid}-roofline" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'role=img aria-label="roofline">{"".join(parts)}</svg>'
            f'<p class=hint><span class=key style="background:{MEMORY_COLOUR}"></span>memory-bound '
            f'<span class=key style="background:{COMPUTE_COLOUR}"></span>compute-bound; a point\'s area is its '
            f'share of the time ({escape_html(share_text(share)) if share is not None else "-"} memory-bound). The '
            f'time is a lower bound: no launch cost, no cache reuse across layers, no overlap.{more}</p>')


def _scale(low, high, start, end):
    span = math.log10(high) - math.log10(low)
    return lambda value: start + (end - start) * (math.log10(max(value, low)) - math.log10(low)) / span


def _axes(left, right, bottom, top, x_of, y_of):
    parts = [f'<line class=axis x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" />',
             f'<line class=axis x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" />',
             f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 6}" class=mid>arithmetic intensity (FLOP per byte '
             f'moved)</text>',
             f'<text x="12" y="{(HEIGHT - BOTTOM) / 2:.0f}" class=mid transform="rotate(-90 12 '
             f'{(HEIGHT - BOTTOM) / 2:.0f})">attainable FLOP/s</text>']
    for power in range(math.ceil(math.log10(left)), math.floor(math.log10(right)) + 1):
        x = x_of(10 ** power)
        parts.append(f'<line class=tick x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" />'
                     f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" class=mid>{_power(power)}</text>')
    for power in range(math.ceil(math.log10(bottom)), math.floor(math.log10(top)) + 1):
        y = y_of(10 ** power)
        parts.append(f'<line class=tick x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" />'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" class=end>{_power(power)}</text>')
    return parts


def _power(power):
    return f"{10 ** power:g}" if -2 <= power <= 3 else f"1e{power}"
