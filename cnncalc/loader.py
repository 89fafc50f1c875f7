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
MAX_NESTING = 200
# libyaml's composer recurses in C; past a few ten-thousand levels it overflows the C stack.
# Texts shorter than this cannot nest that deep, so they skip the depth estimate.
_SHORT_TEXT = 10_000

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


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    mapping = Located(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in mapping
        except TypeError:
            raise SpecError("a mapping key must be a plain value", line=line) from None
        if duplicate:
            raise SpecError(f"duplicate key '{key}' (first at line {mapping.key_lines[key]})", line=line)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _make_loader(base):
    class LineLoader(base):
        pass

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    return LineLoader


_LOADERS = {}


def _loader(fast):
    base = _FastLoader if fast else yaml.SafeLoader
    if base not in _LOADERS:
        _LOADERS[base] = _make_loader(base)
    return _LOADERS[base]


def _nesting_estimate(text):
    """An upper bound (roughly) on how deep the YAML in ``text`` nests."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", text):
        depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    block = 0
    for match in re.finditer(r"^( *)(.*)$", text, re.M):
        indent, rest = match.groups()
        if rest:
            block = max(block, len(indent) + rest.count("- ") + rest.count(": ") + 1)
    return deepest + block


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
    fast = len(text) < _SHORT_TEXT or _nesting_estimate(text) <= MAX_NESTING
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
        raise SpecError(f"YAML nests too deeply (limit {MAX_NESTING} levels)", file=file) from None
