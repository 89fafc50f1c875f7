"""Read YAML safely and remember where every mapping came from.

Only PyYAML's safe loader is used (tags that would build Python objects are refused).
Mappings come back as :class:`Located` dicts that know their line and the line of each
key, so that every later error can name ``file:line``.
"""

import os
import re

import yaml

from .errors import SpecError

MAX_FILE_BYTES = 32 * 1024 * 1024
# libyaml's composer recurses in C and overflowed the C stack at 20-50k levels on this machine;
# texts that may nest deeper than this are parsed by the pure-Python loader, whose recursion
# ends in a RecursionError instead.
_C_SAFE_DEPTH = 5_000

_FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    try:
        return loader.scalar_cache[cache_key]
    except KeyError:
        value = loader.scalar_cache[cache_key] = loader.construct_object(node, deep=True)
        return value


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    mapping = Located(line=node.start_mark.line + 1)
    scalar = yaml.ScalarNode
    for key_node, value_node in node.value:
        key = _construct_scalar(loader, key_node) if type(key_node) is scalar else loader.construct_object(
            key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in mapping
        except TypeError:
            raise SpecError("a mapping key must be a plain value", line=line) from None
        if duplicate:
            raise SpecError(f"duplicate key '{key}' (first at line {mapping.key_lines[key]})", line=line)
        if type(value_node) is scalar:
            mapping[key] = _construct_scalar(loader, value_node)
        else:
            mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _make_loader(base):
    class LineLoader(base):
        _resolved = {}

        def __init__(self, stream):
            super().__init__(stream)
            self.scalar_cache = {}

        def resolve(self, kind, value, implicit):
            # Resolving a plain scalar's tag runs regexes; the answer depends only on the text.
            if kind is yaml.ScalarNode and implicit[0]:
                try:
                    return self._resolved[value]
                except KeyError:
                    tag = self._resolved[value] = super().resolve(kind, value, implicit)
                    return tag
            return super().resolve(kind, value, implicit)

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    return LineLoader


_LOADERS = {}


def _loader(fast):
    base = _FastLoader if fast else yaml.SafeLoader
    if base not in _LOADERS:
        _LOADERS[base] = _make_loader(base)
    return _LOADERS[base]


def _nesting_bound(text):
    """An upper bound on how deep the YAML in ``text`` can nest.

    Flow collections nest by brackets; block collections need indentation or a `- `/`: ` on the
    line for each level (a sequence may share its parent key's indentation), so twice the longest
    line bounds them.
    """
    depth = deepest = 0
    if text.count("[") + text.count("{") > _C_SAFE_DEPTH:
        for bracket in re.findall(r"[\[\]{}]", text):
            depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
            deepest = max(deepest, depth)
    else:
        deepest = text.count("[") + text.count("{")
    return deepest + 2 * max(map(len, text.splitlines()), default=0)


def read_text(path):
    """The text of a file, or a SpecError saying why it cannot be read."""
    path = str(path)
    try:
        if os.path.isdir(path):
            raise SpecError("is a directory, not a spec file", file=path)
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", file=path)
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise SpecError("no such file", file=path) from None
    except OSError as err:
        raise SpecError(f"cannot read file ({err.strerror})", file=path) from None
    if b"\0" in data:
        raise SpecError("not a text file", file=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(f"not UTF-8 text (bad byte at offset {err.start})", file=path) from None


def load_yaml(text, file=None):
    """Parse YAML text into plain data with Located mappings; errors are SpecError."""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"text is longer than {MAX_FILE_BYTES:,} characters", file=file)
    fast = len(text) < _C_SAFE_DEPTH or _nesting_bound(text) <= _C_SAFE_DEPTH
    try:
        return yaml.load(text, Loader=_loader(fast))
    except SpecError as err:
        raise err.located(file=file)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        if "\t" in problem or "found character '\\t'" in problem:
            problem += " (YAML does not allow tabs for indentation)"
        raise SpecError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as err:
        raise SpecError(f"YAML error: {err}", file=file) from None
    except RecursionError:
        raise SpecError("YAML nests too deeply to read", file=file) from None
