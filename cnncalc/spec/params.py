"""The ``params:`` section, ``--set NAME=VALUE`` settings, and the order in which values that read
each other (params, block argument defaults) are evaluated."""

from ..errors import SpecError, UsageError
from .expr import MAX_EXPRESSION_LENGTH, MAX_MAGNITUDE, names_in
from .loader import Located, load_yaml
from .language import DOTTED_NAME, LAYER_WORDS, MAX_PARAMS, SHAPE_NAMES, kind_of


def read_params(section, file, line):
    """The ``params:`` mapping: name -> a number, true/false, a word or an expression over other params."""
    if section is None:
        return Located()
    if not isinstance(section, dict):
        raise SpecError("'params' must be a mapping of name to value (params: {width: 1.0, depth: 1.0})",
                        file=file, line=line)
    if len(section) > MAX_PARAMS:
        raise SpecError(f"'params' has {len(section):,} names; the limit is {MAX_PARAMS:,}", file=file, line=line)
    for name, value in section.items():
        where = section.line_of(name)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"params: {name!r} must be a name (letters, digits and _)", file=file, line=where)
        if name in LAYER_WORDS or name in SHAPE_NAMES:
            raise SpecError(f"params: '{name}' is a reserved word", file=file, line=where)
        problem = setting_problem(value, lists=True)
        if problem:
            raise SpecError(f"params: {name}: {problem}", file=file, line=where)
    return section


# the most values a list in params may hold (depths: [2, 2, 6, 2], read as depths[2])
MAX_PARAM_LIST = 256


def setting_problem(value, lists=False):
    """Why ``value`` cannot be a param's value (None when it can): bounded like an expression; with ``lists``
    (the ``params:`` section; not --set), a list of such values, read by index (``depths[2]``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if abs(value) <= MAX_MAGNITUDE else f"{value!r:.40} is outside +-10^15 (or not a number)"
    if isinstance(value, str):
        return None if len(value) <= MAX_EXPRESSION_LENGTH else \
            f"longer than {MAX_EXPRESSION_LENGTH} characters"
    if isinstance(value, list) and lists:
        if len(value) > MAX_PARAM_LIST:
            return f"a list of {len(value):,} values; the limit is {MAX_PARAM_LIST}"
        for item in value:
            problem = setting_problem(item)
            if problem:
                return f"in the list: {problem}"
        return None
    what = "a number, true/false, a word or an expression" + (", or a list of them" if lists else "")
    return f"must be {what}, not {kind_of(value)}"


def parse_settings(items, where="--set"):
    """``["width=1.2", "act=relu"]`` as ``{"width": 1.2, "act": "relu"}``; each value read as a YAML scalar."""
    settings = {}
    for item in items:
        name, equals, text = str(item).partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise UsageError(f"{where} takes NAME=VALUE (like width=1.2), not '{item}'")
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise UsageError(f"{where} {name}: the value is longer than {MAX_EXPRESSION_LENGTH} characters")
        try:
            value = load_yaml(text) if text.strip() else None
        except SpecError as err:
            raise UsageError(f"{where} {name}: cannot read '{text}' ({err.message})") from None
        problem = "needs a value" if value is None else setting_problem(value)
        if problem:
            raise UsageError(f"{where} {name}: {problem}")
        settings[name] = value
    return settings


def dependency_order(raw, references, what, file, line_of):
    """The names of ``raw`` ordered so that each comes after the names its value reads.

    Iterative depth-first search; a cycle (``a: b * 2, b: a``) is one error naming it.
    """
    order, done = [], set()
    for root in raw:
        if root in done:
            continue
        path, on_path = [root], {root}
        stack = [iter(sorted(references(root)))]
        while stack:
            for ref in stack[-1]:
                if ref in done:
                    continue
                if ref in on_path:
                    cycle = " -> ".join(path[path.index(ref):] + [ref])
                    raise SpecError(f"{what}: the values of {cycle} refer to each other in a cycle",
                                    file=file, line=line_of(ref))
                path.append(ref)
                on_path.add(ref)
                stack.append(iter(sorted(references(ref))))
                break
            else:
                stack.pop()
                name = path.pop()
                on_path.discard(name)
                done.add(name)
                order.append(name)
    return order


def names_read(raw, names):
    """The names among ``names`` that a written value reads (a bare word, or an expression's names)."""
    if isinstance(raw, str):
        if raw in names:
            return {raw}
        if raw.isidentifier() or DOTTED_NAME.match(raw):
            return set()
        return names_in(raw) & set(names)
    if isinstance(raw, list):
        return set().union(*(names_read(v, names) for v in raw))
    if isinstance(raw, dict):
        return set().union(*(names_read(v, names) for v in raw.values()))
    return set()
