"""The analysed layer graph as a diagram: Graphviz dot or Mermaid, with the shapes on the edges.

``to_dot(report)`` / ``to_mermaid(report)``. Layers are boxes grouped in nested clusters by their
hierarchical names (``inception3a`` > ``branch2`` > ...), so an Inception module or a residual block
reads as a unit; ``depth`` folds blocks into single boxes and ``only`` draws one part of the network,
with the layers it connects to outside drawn dashed.
"""

from .shapes import full_shape, pair_text
from ..graph import group_name
from ..numbers import plural

INPUT = "input"  # how a layer's `from` names the network input
OUTPUT = "output"
# The diagram's own nodes are keyed apart from layer names (a layer may be called `output`: LeNet-5's
# is); drawn, they take the first of `output`, `output_`, ... that no layer is called.
INPUT_NODE = ("io", INPUT)
OUTPUT_NODE = ("io", OUTPUT)


class Diagram:
    """Nodes and edges ready to draw: ``nodes`` are (name, caption, kind), kind in layer/block/io/outside."""

    def __init__(self, title):
        self.title = title
        self.nodes = []
        self.edges = []  # (source, target, shape text)
        self._seen = set()
        self._edges_seen = set()  # a set, not the list: 100,000 edges cost no more than reading them

    def add_node(self, name, caption, kind):
        if name not in self._seen:
            self._seen.add(name)
            self.nodes.append((name, caption, kind))

    def add_edge(self, source, target, label):
        edge = (source, target, label)
        if edge not in self._edges_seen:
            self._edges_seen.add(edge)
            self.edges.append(edge)


def layer_caption(row):
    """What a box says under its name: ``conv 3x3 /2, 128 +relu``, ``maxpool 3x3 /2``, ``fc 1000``,
    ``attention 7x7, 3 heads``."""
    if row.type == "block":
        return plural(row.layers, "layer")
    words = [row.type]
    from ..rules import RULES

    if row.kernel is not None and RULES[row.type].category != "global pool":  # a global window has no fixed size
        words.append(full_shape(row.kernel))
        if row.stride is not None and any(s != 1 for s in row.stride):
            words.append("/" + pair_text(row.stride))
    text = " ".join(words)
    if row.filters is not None:
        text += f", {row.filters}"
    if row.heads:
        text += f", {plural(row.heads, 'head')}"  # as the table's filters column says it
    if row.act:
        text += f" +{row.act}"
    return text


def build(report, depth=None, only=None):
    """The Diagram of ``report``: rows folded to ``depth``, restricted to names under ``only``."""
    rows = report.fold(depth)
    key = (lambda name: name) if depth is None else (lambda name: group_name(name, depth))
    out_shape = {INPUT: report.input}
    out_shape.update((row.name, row.out_shape) for row in report.rows)
    inside = _selector(only)
    diagram = Diagram(report.name)
    consumed = set()
    input_caption = f"{INPUT}\n{full_shape(report.input)}"
    if only is None:
        diagram.add_node(INPUT_NODE, input_caption, "io")
    for row in rows:
        if inside(row.name):
            diagram.add_node(row.name, layer_caption(row), "block" if row.type == "block" else "layer")
    for row in report.rows:
        target = key(row.name)
        for source in row.inputs:
            consumed.add(source)
            node = INPUT_NODE if source == INPUT else key(source)
            if node == target or not (inside(target) or (node is not INPUT_NODE and inside(node))):
                continue
            for end in (node, target):
                if end is INPUT_NODE:
                    diagram.add_node(INPUT_NODE, input_caption, "io")
                elif not inside(end):
                    diagram.add_node(end, end, "outside")
            diagram.add_edge(node, target, full_shape(out_shape[source]))
    for row in report.rows:
        if row.name not in consumed and inside(key(row.name)):
            diagram.add_node(OUTPUT_NODE, OUTPUT, "io")
            diagram.add_edge(key(row.name), OUTPUT_NODE, full_shape(row.out_shape))
    if not any(kind in ("layer", "block") for _, _, kind in diagram.nodes):
        from ..errors import UsageError, did_you_mean

        names = [group_name(row.name, 1) for row in report.rows]
        raise UsageError(f"--only {only}: no layer or block named '{only}'{did_you_mean(only, names)}")
    return diagram


def _selector(only):
    if only is None:
        return lambda name: True
    return lambda name: name == only or name.startswith(only + ".")


def node_ids(diagram):
    """Names for the drawing: a layer's own name; the diagram's input and output the first of
    `input`, `input_`, ... that is not a layer's name."""
    taken = {key for key, _, _ in diagram.nodes if isinstance(key, str)}
    ids = {}
    for key, _, _ in diagram.nodes:
        if isinstance(key, str):
            ids[key] = key
            continue
        word = key[1]
        while word in taken:
            word += "_"
        ids[key] = word
        taken.add(word)
    return ids


def _box_label(name, caption, prefix):
    """A layer box: its name relative to the cluster drawn around it, then its caption."""
    return f"{name[len(prefix) + 1:] if prefix else name}\n{caption}"


def cluster_tree(names):
    """Nested clusters from dotted names: ``{prefix: (members, {sub-prefix: ...})}`` for prefixes of 2+ names."""
    def grow(members, level):
        groups = {}
        loose = []
        for name in members:
            parts = name.split(".")
            if len(parts) > level + 1:
                groups.setdefault(".".join(parts[:level + 1]), []).append(name)
            else:
                loose.append(name)
        tree = {}
        for prefix, inner in groups.items():
            if len(inner) > 1:
                tree[prefix] = grow(inner, level + 1)
            else:
                loose.extend(inner)
        return loose, tree

    return grow(names, 0)


# --- Graphviz dot -------------------------------------------------------------------------------

def _dot_quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


DOT_STYLE = {"layer": "shape=box", "block": "shape=box, style=bold", "io": "shape=oval",
             "outside": "shape=box, style=dashed"}


def to_dot(report, depth=None, only=None):
    diagram = build(report, depth, only)
    lines = [f"digraph {_dot_quote(diagram.title)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10];', '  edge [fontname="Helvetica", fontsize=9];']
    captions = {name: (caption, kind) for name, caption, kind in diagram.nodes}
    ids = node_ids(diagram)
    loose, tree = cluster_tree([name for name, _, kind in diagram.nodes if kind in ("layer", "block")])
    for name, caption, kind in diagram.nodes:
        if kind in ("io", "outside"):
            lines.append(f"  {_dot_quote(ids[name])} [label={_dot_quote(caption)}, {DOT_STYLE[kind]}];")
    lines += _dot_cluster(loose, tree, captions, "  ", "")
    for source, target, label in diagram.edges:
        lines.append(f"  {_dot_quote(ids[source])} -> {_dot_quote(ids[target])} [label={_dot_quote(label)}];")
    lines.append("}")
    return "\n".join(lines)


def _dot_cluster(loose, tree, captions, indent, prefix):
    lines = []
    for name in loose:
        caption, kind = captions[name]
        label = _box_label(name, caption, prefix)
        lines.append(f"{indent}{_dot_quote(name)} [label={_dot_quote(label)}, {DOT_STYLE[kind]}];")
    for cluster, (inner_loose, inner_tree) in tree.items():
        lines.append(f"{indent}subgraph {_dot_quote('cluster_' + cluster)} {{")
        lines.append(f"{indent}  label={_dot_quote(cluster)}; style=rounded; color=gray50;")
        lines += _dot_cluster(inner_loose, inner_tree, captions, indent + "  ", cluster)
        lines.append(f"{indent}}}")
    return lines


# --- Mermaid ------------------------------------------------------------------------------------

def _mermaid_text(text):
    """Text inside a Mermaid label: its entity codes (`#lt;`), so no markup (`<script>`, `<img onerror>`),
    quote, markdown string (backtick) or entity from a name survives; our own line breaks as <br/>."""
    text = str(text).replace("#", "#35;")
    for char, code in (("&", "#amp;"), ("<", "#lt;"), (">", "#gt;"), ('"', "#quot;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text.replace("\n", "<br/>")


MERMAID_SHAPE = {"layer": ('["', '"]'), "block": ('[["', '"]]'), "io": ('(["', '"])'), "outside": ('>"', '"]')}


def to_mermaid(report, depth=None, only=None):
    diagram = build(report, depth, only)
    ids = {name: f"n{index}" for index, (name, _, _) in enumerate(diagram.nodes)}
    captions = {name: (caption, kind) for name, caption, kind in diagram.nodes}
    import json

    # the front matter is YAML: the title as a double-quoted scalar (names are printable, so one line)
    lines = [f"---\ntitle: {json.dumps(_mermaid_text(diagram.title), ensure_ascii=False)}\n---", "flowchart TB"]
    for name, caption, kind in diagram.nodes:
        if kind in ("io", "outside"):
            lines.append(_mermaid_node(ids[name], caption, kind, "  "))
    loose, tree = cluster_tree([name for name, _, kind in diagram.nodes if kind in ("layer", "block")])
    counter = iter(range(len(diagram.nodes)))
    lines += _mermaid_cluster(loose, tree, captions, ids, counter, "  ", "")
    for source, target, label in diagram.edges:
        lines.append(f'  {ids[source]} -->|"{_mermaid_text(label)}"| {ids[target]}')
    return "\n".join(lines)


def _mermaid_node(node_id, caption, kind, indent):
    opening, closing = MERMAID_SHAPE[kind]
    return f"{indent}{node_id}{opening}{_mermaid_text(caption)}{closing}"


def _mermaid_cluster(loose, tree, captions, ids, counter, indent, prefix):
    lines = []
    for name in loose:
        caption, kind = captions[name]
        lines.append(_mermaid_node(ids[name], _box_label(name, caption, prefix), kind, indent))
    for cluster, (inner_loose, inner_tree) in tree.items():
        lines.append(f'{indent}subgraph s{next(counter)} ["{_mermaid_text(cluster)}"]')
        lines += _mermaid_cluster(inner_loose, inner_tree, captions, ids, counter, indent + "  ", cluster)
        lines.append(f"{indent}end")
    return lines
