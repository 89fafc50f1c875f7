"""Read YAML safely and remember where every mapping came from.

Only PyYAML's safe loader is used (tags that would build Python objects are refused).
Mappings come back as :class:`Located` dicts that know their line and the line of each
key, so that every later error can name ``file:line``.
"""

import re

from ..errors import SpecError, shown
from ..numbers import MAX_NUMBER_CHARS
from .files import MAX_FILE_BYTES, file_stem, open_regular, read_text  # noqa: F401 (loader.read_text...)

# libyaml's composer recurses in C and overflowed the C stack at 20-50k levels on this machine;
# texts that may nest deeper than this are parsed by the pure-Python loader, whose recursion
# ends in a RecursionError instead.
_C_SAFE_DEPTH = 5_000
# Deeper than this no document can be built anyway (PyYAML builds nested values by recursion).
MAX_YAML_DEPTH = 1_000

MAX_EXPANDED_NODES = 1_000_000
# Values written in one document (scalars, mappings, lists, aliases). PyYAML builds a node, then an
# object, for each: a 16 MiB answer file of a million `qN: N` lines took 20+ s and 1.4 GB to load.
# 600,000 take about 6 s and 400 MB, and admit a written-out chain of the 100,000 layers MAX_LAYERS allows.
# Counted from the parser's events (a stream: a few MB) before anything is built.
MAX_WRITTEN_NODES = 600_000
# Texts shorter than this cannot hold MAX_WRITTEN_NODES values (`{a,b,c}` writes two per two characters).
_COUNT_NODES_FROM = MAX_WRITTEN_NODES

yaml = None  # PyYAML, imported when a text is first read (15 ms of every report on an .onnx file, which needs none)


def _import_yaml():
    global yaml
    if yaml is None:
        import yaml as module

        yaml = module


class Located(dict):
    """A mapping from the spec with its source line and the line of each key."""

    __slots__ = ("line", "key_lines")

    def __init__(self, *args, line=None, key_lines=None):
        super().__init__(*args)
        self.line = line
        self.key_lines = key_lines or {}

    def line_of(self, key):
        return self.key_lines.get(key, self.line)


def _construct_scalar(loader, node):
    """Scalars repeat a lot in specs (`conv`, `3`, `true`); immutable, so build each distinct one once."""
    cache_key = (node.tag, node.value)
    value = loader.scalar_cache.get(cache_key, _MISSING)
    if value is _MISSING:
        value = loader.scalar_cache[cache_key] = loader.construct_object(node, deep=True)
    return value


_MISSING = object()


def _construct_mapping(loader, node):
    """A Located mapping. YAML 1.1 merge keys (``{<<: *c3, name: c2}``) work: a key written in the mapping
    overrides a merged one, and of ``<<: [*a, *b]`` the earlier source wins; two keys written in the
    mapping itself are still a duplicate. A merged key keeps the line where it is written (in the
    anchored mapping). The merge is done here rather than by PyYAML's flatten_mapping, whose order of
    merged pairs has changed between releases."""
    mapping = Located(line=node.start_mark.line + 1)
    sources = []
    scalar = yaml.ScalarNode
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources += _merge_sources(loader, value_node, line)
            continue
        key = _construct_scalar(loader, key_node) if type(key_node) is scalar else loader.construct_object(
            key_node, deep=True)
        try:
            duplicate = key in mapping
        except TypeError:
            raise SpecError("a mapping key must be a plain value", line=line) from None
        if duplicate and loader.repeats is not None:  # asked to keep the first: the repeat is reported
            loader.repeats.append((key, line, mapping.key_lines[key]))
            continue
        if duplicate:
            raise SpecError(f"duplicate key '{shown(key)}' (first at line {mapping.key_lines[key]})", line=line)
        if type(value_node) is scalar:
            mapping[key] = _construct_scalar(loader, value_node)
        else:
            mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    for source in sources:
        for key, value in source.items():
            if key not in mapping:
                mapping[key] = value
                mapping.key_lines[key] = source.line_of(key)
    return mapping


def _merge_sources(loader, node, line):
    """The mappings a ``<<`` key merges, in order of precedence: one mapping, or a list of them."""
    nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not all(isinstance(item, yaml.MappingNode) for item in nodes):
        raise SpecError("'<<' (a merge key) takes a mapping or a list of mappings", line=line)
    return [loader.construct_object(item, deep=True) for item in nodes]


class LocatedList(list):
    """A list from the spec with its source line and the line of each item."""

    __slots__ = ("line", "item_lines")


def _construct_sequence(loader, node):
    scalar = yaml.ScalarNode
    items = LocatedList(_construct_scalar(loader, child) if type(child) is scalar
                        else loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


def _make_loader(base):
    class LineLoader(base):
        _resolved = {}
        repeats = None  # a list: a repeated key keeps its first value and is listed here, not an error

        def __init__(self, stream):
            super().__init__(stream)
            self.scalar_cache = {}
            self.may_alias = not isinstance(stream, str) or "*" in stream

        def resolve(self, kind, value, implicit, _scalar=yaml.ScalarNode):
            # Resolving a plain scalar's tag runs regexes; the answer depends only on the text.
            if kind is _scalar and implicit[0]:
                tag = self._resolved.get(value)
                if tag is None:
                    tag = self._resolved[value] = super().resolve(kind, value, implicit)
                return tag
            return super().resolve(kind, value, implicit)

        def construct_document(self, node):
            if self.may_alias:
                _check_aliases(node)
            return super().construct_document(node)

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
    LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)
    for tag in _NOT_PLAIN_DATA:
        LineLoader.add_constructor(tag, _refuse_tag)
    return LineLoader


# Tags the safe loader would still turn into sets, bytes or pair lists: a spec is plain data.
# `None` is the fallback for every other tag (`!!python/object/apply:...`, `!custom`).
_NOT_PLAIN_DATA = ("tag:yaml.org,2002:binary", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs",
                   "tag:yaml.org,2002:set", None)


def _refuse_tag(loader, node):
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise SpecError(f"YAML tag '{tag}' is not allowed: a spec holds only plain data (mappings, lists, "
                    f"numbers, text, true/false)", line=node.start_mark.line + 1,
                    column=node.start_mark.column + 1)


def _construct_int(loader, node):
    # int() of a long digit string is quadratic (and refused past 4300 digits on newer Pythons).
    if len(node.value) > MAX_NUMBER_CHARS:
        raise SpecError(f"a number of {len(node.value):,} characters is too long (the limit is "
                        f"{MAX_NUMBER_CHARS})", line=node.start_mark.line + 1, column=node.start_mark.column + 1)
    return loader.construct_yaml_int(node)


class WrittenFloat(float):
    """A float that remembers how it was written (``182.50``), so a rounded answer keeps its precision."""


def _construct_float(loader, node):
    value = WrittenFloat(loader.construct_yaml_float(node))
    value.text = node.value
    return value


def _construct_text(loader, node):
    """Dates stay the text they were written as (`name: 2024-03-01`), not datetime objects."""
    return loader.construct_scalar(node)


def _count_nodes(text, loader):
    """Refuse a document of more than MAX_WRITTEN_NODES values before it is built (syntax errors are
    left to the real load, which says where they are)."""
    node_event = yaml.NodeEvent
    count = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, node_event):
            count += 1
            if count > MAX_WRITTEN_NODES:
                raise SpecError(f"more than {MAX_WRITTEN_NODES:,} values (numbers, texts, lists, mappings); "
                                f"the limit is {MAX_WRITTEN_NODES:,}")


def _check_aliases(root):
    """Refuse alias bombs ("billion laughs") and recursive aliases before anything walks the data.

    An alias shares its anchor's node, so the composed document is a graph; its size counted as a
    tree (what repr, str or a walk over the data would visit) must stay within
    max(MAX_EXPANDED_NODES, 2 x the distinct nodes).
    """
    sizes = {}
    active = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in active:
            raise SpecError("a YAML alias refers to a collection that contains it (recursive anchor)",
                            line=node.start_mark.line + 1)
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    expanded = sizes[id(root)]
    if expanded > max(MAX_EXPANDED_NODES, 2 * len(sizes)):
        raise SpecError(f"YAML aliases expand {len(sizes):,} written values to {_roughly(expanded)} (the limit is "
                        f"{MAX_EXPANDED_NODES:,}); use blocks and repeat instead")


def _roughly(count):
    return f"{count:,}" if count < 10**12 else f"about 10^{len(str(count)) - 1}"


def _children(node):
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return ()


_LOADERS = {}


def _loader(fast):
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader
    if base not in _LOADERS:
        _LOADERS[base] = _make_loader(base)
    return _LOADERS[base]


_INDICATORS = re.compile(r"[ \t?:-]*")
_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting_bound(text):
    """An upper bound on how deep the YAML in ``text`` can nest.

    Flow collections nest by brackets. A block collection nests only by indentation, or by a `- `,
    `? ` or `: ` indicator before a line's content (`- - - x`); a sequence may share its parent key's
    indentation, so twice the widest run of leading spaces and indicators bounds them. A long line
    (a 3,000-character flow list) costs nothing here, so it still gets libyaml's C parser.
    """
    depth = deepest = 0
    if text.count("[") + text.count("{") > _C_SAFE_DEPTH:
        for bracket in re.findall(r"[\[\]{}]", text):
            depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
            deepest = max(deepest, depth)
    else:
        deepest = text.count("[") + text.count("{")
    lead = max((_INDICATORS.match(line).end() for line in text.splitlines()), default=0)
    return deepest + 2 * lead + 2


def _is_tab(text, mark):
    """Whether the character an error points at (or the indentation before it) is a tab."""
    lines = text.splitlines()
    if mark.line >= len(lines):
        return False
    line = lines[mark.line]
    return "\t" in line[:mark.column + 1] and not line[:mark.column].strip(" \t-")


def mentions_key(text, keys):
    """Whether ``text`` writes one of ``keys`` as a mapping key (``input:``, ``{layers: ...``): a cheap
    look, before or without parsing, at whether a file is meant to be one of ours."""
    pattern = r"(?:^|[{,])[ \t]*[\"']?(?:%s)[\"']?[ \t]*:" % "|".join(map(re.escape, keys))
    return re.search(pattern, text, re.MULTILINE) is not None


def load_yaml(text, file=None, markers=None, kind="spec", repeats=None):
    """Parse YAML text into plain data with Located mappings; errors are SpecError.

    ``markers`` are the keys that make a text a ``kind`` (a spec: ``input``, ``layers``). A text that
    fails to load and writes none of them is some other file (``/etc/shadow``, ``/proc/cpuinfo``): the
    error then says only that, and quotes nothing of it. ``repeats``: a list to which a key written twice
    in one mapping is added as (key, line, first line), its first value kept, instead of an error.
    """
    _import_yaml()
    try:
        return _load_yaml(text, file, repeats)
    except SpecError as err:
        if markers and not mentions_key(text, markers):
            what = "not YAML" if err.message.startswith("YAML syntax error") else "YAML"
            raise SpecError(f"not a cnncalc {kind} ({what} without {' or '.join(map(repr, markers))}; "
                            f"nothing of it is shown)", file=file) from None
        raise


def _load_yaml(text, file, repeats=None):
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"text is longer than {MAX_FILE_BYTES:,} characters", file=file)
    if text.count("[") + text.count("{") > MAX_YAML_DEPTH:
        depth, line = _deepest_line(text)
        if depth > MAX_YAML_DEPTH:  # PyYAML's scanner takes seconds on thousands of open brackets, then fails
            raise SpecError(f"YAML nests more than {MAX_YAML_DEPTH:,} levels deep (deepest at this line)",
                            file=file, line=line)
    fast = len(text) < _C_SAFE_DEPTH or _nesting_bound(text) <= _C_SAFE_DEPTH
    try:
        if len(text) >= _COUNT_NODES_FROM:
            _count_nodes(text, _loader(fast))
        if repeats is None:
            return yaml.load(text, Loader=_loader(fast))
        loader = _loader(fast)(text)
        loader.repeats = repeats
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except SpecError as err:
        raise err.located(file=file)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        if err.context and problem.startswith("but "):
            problem = f"{err.context}, {problem}"  # "expected a single document in the stream, but found another"
        elif err.context and err.context_mark and mark and err.context_mark.line != mark.line:
            problem += f" ({err.context} at line {err.context_mark.line + 1})"
        if mark and _is_tab(text, mark):
            problem += " (YAML does not allow tabs for indentation; use spaces)"
        raise SpecError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as err:
        raise SpecError(f"YAML error: {err}", file=file) from None
    except RecursionError:
        raise SpecError("YAML nests too deeply to read (this line is where it nests deepest)", file=file,
                        line=_deepest_line(text)[1]) from None


def _deepest_line(text):
    """(how deep, the first line where) ``text`` nests deepest: by brackets, or by indentation and `- `."""
    depth = best = 0
    best_line = 1
    for number, line in enumerate(text.splitlines(), 1):
        peak = depth
        for bracket in _BRACKETS.findall(line):
            depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
            peak = max(peak, depth)
        nesting = max(peak, _INDICATORS.match(line).end() // 2)
        if nesting > best:
            best, best_line = nesting, number
    return best, best_line
