"""One self-contained HTML page of one or more reports: totals, conventions, the lecture table folded to
its blocks, per-layer bars and the layer graph as inline SVG (``render_page``).

The page needs nothing but itself: no network (a Content-Security-Policy forbids any fetch), its style and
script inline, every name escaped. Without JavaScript the table shows every row (blocks as subtotal rows)
and the graph's blocks open as <details>; with it, blocks fold and open by a click, a filter box finds
layers and hovering a bar or a box shows its row. Everything drawn is bounded (MAX_TABLE_ROWS, and the
bounds in page_svg), so a 100,000-layer network still writes a page of a few hundred KB.
"""

from collections import deque

from ..conventions import CONVENTIONS, FLOPS_2X_NOTE
from ..report import fold_rows
from .columns import table_columns
from .escape import escape_html
from .page_assets import PAGE_SCRIPT, PAGE_STYLE
from .page_roofline import has_device, roofline_section
from .page_svg import bar_charts, graph_views, name_groups, split_level
from .shapes import full_shape
from .table import params_text, shape_title, warning_lines
from .units import human, human_bytes

MAX_TABLE_ROWS = 1500  # table rows (layers and block rows) per model; blocks past it stay folded
MIN_OPENED = 20  # a block whose rows would pass MAX_TABLE_ROWS opens with its first rows, if this many fit
PAGE_COLUMNS = ("name", "type", "input", "filters", "kernel", "stride", "pad", "output", "rf", "memory", "params",
                "macs", "flop")
DEVICE_COLUMNS = ("intensity", "time", "bound")  # with --device
# (JSON totals key, label, bytes?) of the totals table; the exact integers are what the page shows
TOTALS = (("layers", "layers", False), ("weight_layers", "layers with weights", False), ("params", "params", False),
          ("buffers", "buffers (BN running statistics)", False), ("macs", "MACs", False),
          ("flops", "flop (lecture: MACs + pooling windows)", False),
          ("flops_2x", "FLOPs (2 x MACs + elementwise)", False), ("memory_bytes", "activation memory", True),
          ("peak_memory_bytes", "peak live activation memory", True), ("param_bytes", "parameter memory", True))
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


class Entry:
    """A table row: one layer, or a block (its summed row) whose ``children`` open under it."""

    __slots__ = ("key", "rows", "depth", "row", "children", "cut", "unshown", "id", "parent")

    def __init__(self, key, rows, depth):
        self.key = key
        self.rows = rows
        self.depth = depth  # name parts that make the key
        self.row = rows[0] if len(rows) == 1 else fold_rows(rows, depth)[0]
        self.children = None
        self.cut = False  # a block left folded: opening it would pass MAX_TABLE_ROWS
        self.unshown = 0  # rows of an opened block past MAX_TABLE_ROWS
        self.id = self.parent = None

    @property
    def block(self):
        return len(self.rows) > 1

    def expand(self):
        """The block's entries one level down (a level where every row is in one group is skipped)."""
        groups, depth = split_level(self.rows, self.depth + 1)
        return [Entry(key, rows, depth) for key, rows in groups]


def table_tree(rows, limit=MAX_TABLE_ROWS):
    """The top-level entries (at most ``limit``) and how many more there are; blocks opened breadth first
    while the table stays within ``limit`` rows."""
    top = [Entry(key, group, 1) for key, group in name_groups(rows, 1)]
    hidden = max(0, len(top) - limit)
    top = top[:limit]
    count = len(top)
    queue = deque(entry for entry in top if entry.block)
    while queue:
        entry = queue.popleft()
        children = entry.expand()
        room = limit - count
        if room < min(len(children), MIN_OPENED):
            entry.cut = True
            continue
        if len(children) > room:
            entry.unshown = len(children) - room
            children = children[:room]
        entry.children = children
        count += len(children)
        queue.extend(child for child in children if child.block)
    return top, hidden


def preorder(entries):
    """(entry, False) in table order, each block's row then its children, and (block, True) after the
    children of a block that has rows not shown (where the table says so)."""
    stack = [(entry, False) for entry in reversed(entries)]
    while stack:
        entry, closing = stack.pop()
        yield entry, closing
        if entry.children and not closing:
            if entry.unshown:
                stack.append((entry, True))
            stack.extend((child, False) for child in reversed(entry.children))


def _attribute(text):
    return escape_html(str(text))


def _layer_table(report, sid):
    """The table's HTML and the row id of every layer and block name (a layer not shown maps to the folded
    block holding it), for the bars and the graph to point at."""
    top, hidden = table_tree(report.rows)
    device = has_device(report)
    totals = dict(report.totals, roofline=report.roofline.total) if device else report.totals
    bound = [column.bind("slide", totals) for column in table_columns(PAGE_COLUMNS + DEVICE_COLUMNS * device)]
    heads = "".join(f"<th>{escape_html(shape_title(title, report)).replace(chr(10), '<br>')}</th>"
                    for title, _, _ in bound)
    body, ids = [], {}
    for entry, level, closing in _numbered(top, sid):
        if closing:
            body.append(f'<tr class="more" data-p="{entry.id}" style="--d:{level + 1}"><td colspan={len(bound)}>'
                        f'{entry.unshown:,} more rows of {escape_html(entry.key)} not shown (the page shows '
                        f'{MAX_TABLE_ROWS:,} rows; cnncalc report lists them all)</td></tr>')
            continue
        for row in entry.rows if entry.block else (entry.row,):
            ids[row.name] = entry.id
        ids.setdefault(entry.key, entry.id)
        cells = [cell(entry.row) for _, cell, _ in bound]
        name = escape_html(cells[0])
        if entry.block:
            more = "; too many rows to open here" if entry.cut else ""
            name = (f"<span class=tog></span>{name} <small>{entry.row.layers:,} layers{more}</small>")
        kind = "lay cut" if entry.cut else "blk" if entry.block else "lay"
        rest = "".join(f"<td>{escape_html(text)}</td>" for text in cells[1:])
        body.append(f'<tr id="{entry.id}" class="{kind}" data-p="{entry.parent or ""}" '
                    f'data-n="{_attribute(entry.row.name.lower())}" style="--d:{level}">'
                    f'<td class=name>{name}</td>{rest}</tr>')
    total = "".join(f"<td>{escape_html(text)}</td>" for _, _, text in bound)
    if hidden:
        note = f"{hidden:,} more rows not shown (the page shows {MAX_TABLE_ROWS:,}; cnncalc report lists them all)"
        body.append(f'<tr class="more"><td colspan={len(bound)}>{note}</td></tr>')
    table = (f'<table class=layers id="{sid}-table"><thead><tr>{heads}</tr></thead><tbody>{"".join(body)}'
             f'</tbody><tfoot><tr class=total>{total}</tr></tfoot></table>')
    return table, ids


def _numbered(top, sid):
    """(entry, nesting level, closing) in table order (see preorder), each entry given its row id and its
    parent's."""
    levels = {}
    counter = 0
    for entry, closing in preorder(top):
        if not closing:
            entry.id = f"{sid}r{counter}"
            counter += 1
            levels[entry.id] = 0 if entry.parent is None else levels[entry.parent] + 1
            for child in entry.children or ():
                child.parent = entry.id
        yield entry, levels[entry.id], closing


def _totals_table(report, sid):
    t = report.totals
    rows = []
    for key, label, in_bytes in TOTALS:
        value = t[key]
        if key == "buffers" and not value:
            continue
        short = human_bytes(value) if in_bytes else human(value)
        unit = " B" if in_bytes else ""
        rows.append(f'<tr data-key="{key}"><th>{escape_html(label)}</th><td class=exact>{value:,}{unit}</td>'
                    f'<td>{escape_html(short)}</td></tr>')
    return f'<table class=totals id="{sid}-totals">{"".join(rows)}</table>'


def _meta(report):
    parts = [f"input {full_shape(report.input)}", f"batch {report.batch}",
             f"{report.dtype} ({report.bytes_per_element} B/element)", f"mode {report.mode}"]
    if report.params:
        parts.append(params_text(report))
    text = escape_html("; ".join(parts))
    if report.source:
        text += f"<br>source: {escape_html(str(report.source))}"
    return text


def model_section(report, index, label=None):
    """One model's <section>: totals, conventions, the roofline (with a device: cnncalc.roofline.attach),
    the table, the bars, the graph."""
    sid = f"m{index}"
    table, ids = _layer_table(report, sid)
    extra = roofline_section(report, ids, sid)
    warnings = "".join(f"<p class=warn>{escape_html(line)}</p>" for line in warning_lines(report.warnings) if line)
    title = escape_html(label or report.name)
    return f"""<section class=model id="{sid}">
<h2>{title}</h2>
<p class=meta>{_meta(report)}</p>
<h3>Totals</h3>
{_totals_table(report, sid)}
{warnings}<p class=conv>{escape_html(CONVENTIONS)}<br>{escape_html(FLOPS_2X_NOTE)}</p>
{extra}<h3>Layers</h3>
<div class=tools hidden><input type=search class=filter placeholder="filter layer names" aria-label="filter layer names">
<button type=button class=openall>open all</button><button type=button class=closeall>fold all</button>
<span class=count></span></div>
{table}
<h3>Per layer: activation memory, params, MACs</h3>
{bar_charts(report, ids, sid)}
<h3>Layer graph</h3>
<p class=hint>Shapes on the edges; a bold box is a block: click it to open its own graph below. Hover a box or a
bar to see its row.</p>
{graph_views(report, ids, sid)}
</section>"""


def render_page(sections, title, compare_html=None, labels=None):
    """The whole page: ``sections`` are model_section() strings, ``compare_html`` the comparison table."""
    nav = ""
    if labels and len(labels) > 1:
        links = "".join(f'<a href="#m{index}">{escape_html(label)}</a>' for index, label in enumerate(labels))
        nav = f"<nav>{links}</nav>"
    compare = f"<section class=compare><h2>Compared</h2>{compare_html}</section>" if compare_html else ""
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name=viewport content="width=device-width, initial-scale=1">
<title>{escape_html(title)} - cnncalc</title>
<style>{PAGE_STYLE}</style>
</head><body>
<header><h1>{escape_html(title)}</h1>{nav}</header>
{compare}
{"".join(sections)}
<div id=tip hidden></div>
<footer>Written by cnncalc. Exact integer arithmetic; rounding only where a number is shown in a unit.</footer>
<script>{PAGE_SCRIPT}</script>
</body></html>
"""
