"""The page's pictures as inline SVG: per-layer bars (``bar_charts``) and the layer graph (``graph_views``).

The graph is laid out here, simply: a layer's rank is the longest path to it, so parallel branches share
ranks and stand side by side; within a rank boxes sit near the mean column of their inputs. Each edge
carries the shape it moves. A block is one bold box; its own drawing (one level of its names deeper) sits
in a <details> below, which a click on the box opens. Everything drawn is bounded: MAX_BARS bars per chart,
MAX_BOXES boxes per drawing, MAX_DRAWINGS drawings, MAX_WORK rows visited, whatever the network's size.
"""

from collections import deque

from ..graph import group_name
from .diagram import layer_caption
from .escape import escape_html
from .plot import KIND_COLOURS, layer_kind
from .shapes import full_shape
from .units import human, human_bytes

MAX_BARS = 400
MAX_BOXES = 120
MAX_OUTSIDE = 12  # boxes for layers outside a block that feed it or read it
MAX_DRAWINGS = 60
MAX_WORK = 400_000
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 180, 38, 40, 44, 12
CHARTS = (("activation memory", "memory_bytes", human_bytes), ("params", "params", human),
          ("MACs", "macs", human))
CHART_W, CHART_H = 1000, 110


def name_groups(rows, depth):
    """Neighbouring rows grouped by the first ``depth`` parts of their names: [(key, rows)]."""
    groups = []
    for row in rows:
        key = group_name(row.name, depth)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(row)
        else:
            groups.append((key, [row]))
    return groups


def split_level(rows, depth):
    """``rows`` grouped at ``depth``, or deeper while they would make a single group: (groups, depth)."""
    groups = name_groups(rows, depth)
    while len(groups) == 1 and len(rows) > 1:
        depth += 1
        groups = name_groups(rows, depth)
    return groups, depth


def _text(text, limit=28):
    text = str(text)
    return escape_html(text if len(text) <= limit else text[:limit - 1] + "\u2026")


# --- bars ---------------------------------------------------------------------------------------------

def bar_charts(report, ids, sid):
    """Three charts (memory, params, MACs), one bar per layer; past MAX_BARS layers one bar per run of
    neighbours, as tall as the tallest of them."""
    rows = report.rows
    step = -(-len(rows) // MAX_BARS)
    runs = [rows[start:start + step] for start in range(0, len(rows), step)]
    width = CHART_W / len(runs)
    charts = []
    for title, field, unit in CHARTS:
        top = max(getattr(row, field) for row in rows)
        bars = []
        for index, run in enumerate(runs):
            row = max(run, key=lambda r: getattr(r, field))
            value = getattr(row, field)
            if not value:
                continue
            height = max(1.0, (CHART_H - 20) * value / top)
            label = row.name if len(run) == 1 else f"{row.name} (tallest of {len(run):,} layers)"
            bars.append(f'<rect x="{index * width:.1f}" y="{CHART_H - height:.1f}" width="{max(width * 0.8, 0.6):.1f}" '
                        f'height="{height:.1f}" fill="{KIND_COLOURS[layer_kind(row)]}" data-row="{ids.get(row.name, "")}">'
                        f'<title>{escape_html(label)}: {escape_html(unit(value))}</title></rect>')
        caption = f"{title} per layer (tallest {unit(top)})" if top else f"{title}: none"
        charts.append(f'<svg class=bars viewBox="0 0 {CHART_W} {CHART_H}" role=img aria-label="{escape_html(title)}">'
                      f'<text x="2" y="12">{escape_html(caption)}</text>{"".join(bars)}</svg>')
    keys = "".join(f'<span class=key style="background:{colour}"></span>{kind} ' for kind, colour in KIND_COLOURS.items()
                   if kind != "block")
    more = f" One bar per {step:,} neighbouring layers (the tallest)." if step > 1 else ""
    return f'<div class=charts id="{sid}-bars">{"".join(charts)}<p class=hint>{keys}{more}</p></div>'


# --- graph --------------------------------------------------------------------------------------------

class Drawing:
    """One drawing: the boxes of ``rows`` grouped at ``depth``, the outside layers they touch, the edges."""

    def __init__(self, rows, depth, prefix, context):
        shapes, consumers, report_input = context
        groups, depth = split_level(rows, depth)
        self.more = max(0, len(groups) - MAX_BOXES)
        groups = groups[:MAX_BOXES]
        self.prefix = prefix
        self.nodes = {}  # key -> (label, caption, kind, rows)
        node_of = {}
        for key, members in groups:
            kind = "blk" if len(members) > 1 else "lay"
            caption = f"{len(members):,} layers" if kind == "blk" else layer_caption(members[0])
            self.nodes[("in", key)] = (key, caption, kind, members, depth)
            for row in members:
                node_of[row.name] = ("in", key)
        inside = set(node_of)
        all_names = {row.name for row in rows}
        self.edges = {}  # (source, target) -> shape text
        outside = 0
        for row in (row for _, members in groups for row in members):
            target = node_of[row.name]
            for source in row.inputs:
                if source in node_of:
                    start = node_of[source]
                elif source in all_names:
                    continue  # a layer past MAX_BOXES
                else:
                    start = ("out", source)
                    if start not in self.nodes:
                        if outside >= MAX_OUTSIDE:
                            continue
                        outside += 1
                        caption = full_shape(report_input) if source == "input" else "outside"
                        self.nodes[start] = (source, caption, "io", (), 0)
                if start != target:
                    self.edges.setdefault((start, target), full_shape(shapes[source]))
            readers = consumers.get(row.name, ())
            if not readers:
                self.nodes.setdefault(("end", ""), ("output", "", "io", (), 0))
                self.edges.setdefault((target, ("end", "")), full_shape(row.out_shape))
            away = [reader for reader in readers if reader not in inside and reader not in all_names]
            if away:
                end = ("out", away[0]) if len(away) == 1 else ("readers", row.name)
                if end not in self.nodes:
                    if outside >= MAX_OUTSIDE:
                        continue
                    outside += 1
                    name = away[0] if len(away) == 1 else f"{len(away)} layers"
                    self.nodes[end] = (name, "outside, reading it", "io", (), 0)
                self.edges.setdefault((target, end), full_shape(row.out_shape))
        if self.more:
            last = ("in", groups[-1][0])
            self.nodes[("more", "")] = (f"{self.more:,} more not drawn", "see the table", "io", (), 0)
            self.edges[(last, ("more", ""))] = ""

    def layout(self):
        """{node: (column, rank)}: rank by longest path, columns near the mean of the inputs' columns."""
        incoming = {}
        for source, target in self.edges:
            incoming.setdefault(target, []).append(source)
        rank = {}
        for node in self.nodes:  # inputs come before the layers reading them
            rank[node] = 1 + max((rank.get(s, 0) for s in incoming.get(node, ())), default=-1)
        by_rank = {}
        for node in self.nodes:
            by_rank.setdefault(rank[node], []).append(node)
        column = {}
        for level in sorted(by_rank):
            wanted = []
            for order, node in enumerate(by_rank[level]):
                sources = [column[s] for s in incoming.get(node, ()) if s in column]
                wanted.append((sum(sources) / len(sources) if sources else 0, order, node))
            place = None
            for want, _, node in sorted(wanted):
                place = round(want) if place is None else max(round(want), place + 1)
                column[node] = place
        left = min(column.values())
        return {node: (column[node] - left, rank[node]) for node in self.nodes}

    def svg(self, ids, opens):
        places = self.layout()
        width = (max(c for c, _ in places.values()) + 1) * (BOX_W + GAP_X) + 2 * MARGIN
        height = (max(r for _, r in places.values()) + 1) * (BOX_H + GAP_Y) + 2 * MARGIN
        parts = []
        fan_in = {}
        for _, target in self.edges:
            fan_in[target] = fan_in.get(target, 0) + 1
        xy = {node: (MARGIN + c * (BOX_W + GAP_X), MARGIN + r * (BOX_H + GAP_Y)) for node, (c, r) in places.items()}
        for (source, target), label in self.edges.items():
            (x1, y1), (x2, y2) = xy[source], xy[target]
            x1, y1, x2 = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2
            bend = BOX_W * 0.65 if x1 == x2 and places[target][1] - places[source][1] > 1 else 0
            parts.append(f'<path d="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1 + GAP_Y:.0f} {x2 + bend:.0f},{y2 - GAP_Y:.0f} '
                         f'{x2:.0f},{y2:.0f}" class=edge />')
            if label:  # beside the end with one edge: above a target that has one input, else below the source
                near_target = fan_in[target] == 1 or bend
                lx = (x2 if near_target else x1) + bend * 0.75 + 4
                ly = (y2 - 8 if not bend else (y1 + y2) / 2) if near_target else y1 + 14
                parts.append(f'<text x="{lx:.0f}" y="{ly:.0f}" class=shape>{escape_html(label)}</text>')
        for node, (name, caption, kind, members, _) in self.nodes.items():
            x, y = xy[node]
            shown = name[len(self.prefix) + 1:] if self.prefix and name.startswith(self.prefix + ".") else name
            row_id = ids.get(name) or (ids.get(members[0].name, "") if members else "")
            target = f' data-open="{opens[node]}"' if node in opens else ""
            parts.append(f'<g class="node {kind}" transform="translate({x},{y})" data-row="{row_id}"{target}>'
                         f'<title>{escape_html(name)}</title><rect width="{BOX_W}" height="{BOX_H}" rx="5" />'
                         f'<text x="{BOX_W // 2}" y="15" class=nm>{_text(shown)}</text>'
                         f'<text x="{BOX_W // 2}" y="30" class=cap>{_text(caption, 32)}</text></g>')
        return (f'<div class=graph><svg class=graph width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg></div>')


def graph_views(report, ids, sid):
    """The network's drawing and, breadth first while within the bounds, a drawing for each block."""
    shapes = {"input": report.input}
    consumers = {}
    for row in report.rows:
        shapes[row.name] = row.out_shape
        for source in row.inputs:
            consumers.setdefault(source, []).append(row.name)
    context = (shapes, consumers, report.input)
    top = Drawing(report.rows, 1, "", context)
    work = len(report.rows)
    drawn = {None: top}
    children = {None: []}
    titles = {}
    queue = deque([(None, top)])
    count = 0
    opens_of = {}
    while queue:
        key, drawing = queue.popleft()
        opens = opens_of.setdefault(key, {})
        for node, (name, _, kind, members, depth) in drawing.nodes.items():
            if kind != "blk" or count >= MAX_DRAWINGS or work + len(members) > MAX_WORK:
                continue
            count += 1
            work += len(members)
            gid = f"{sid}g{count}"
            opens[node] = gid
            inner = Drawing(members, depth + 1, name, context)
            drawn[gid], children[gid], titles[gid] = inner, [], name
            children[key].append(gid)
            queue.append((gid, inner))

    def html(key):
        inner = "".join(html(child) for child in children[key])
        picture = drawn[key].svg(ids, opens_of.get(key, {}))
        if key is None:
            return picture + inner
        return (f'<details id="{key}" class=block><summary>{escape_html(titles[key])}</summary>'
                f'{picture}{inner}</details>')

    return f'<div id="{sid}-graph">{html(None)}</div>'
