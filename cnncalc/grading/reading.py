"""Reading answer files and keys: the YAML document, its spec, its answer entries, its points.

Nothing here grades. A claim is read into a :class:`Claim` (which layer, which quantity, the value
as written); the numbers inside a value are read later by ``values.parse_number``.
"""

import math
import os

from ..errors import AnswerError, CnnCalcError, did_you_mean, shown
from ..spec.loader import Located, load_yaml, read_text
from ..numbers import is_whole_number
from .quantities import QUANTITIES

ANSWER_WORDS = ("layer", "question", "points")
MAX_POINTS = 10 ** 6


class Claim:
    """One claimed value: ``quantity`` of ``layer`` is ``value`` (``answer``: the value as written)."""

    __slots__ = ("layer", "quantity", "value", "answer", "line", "points", "question")

    def __init__(self, layer, quantity, value, line, points=1, question=None):
        self.layer, self.quantity, self.value, self.line = layer, quantity, value, line
        self.answer = answer_text(value)
        self.points, self.question = points, question


class EntryProblem(Exception):
    """An answer entry that cannot be read into claims (``layer``, ``points``: what could be read of it)."""

    def __init__(self, message, line, layer=None, points=1):
        super().__init__(message)
        self.message, self.line, self.layer, self.points = message, line, layer, points


def answer_text(value):
    """The answer as written, as JSON can hold it: YAML's value, but a decimal as its text (182.50 keeps
    its last digit; .nan stays '.nan'), and anything else YAML builds (a date) as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return getattr(value, "text", repr(value))
    if isinstance(value, list):
        return [answer_text(item) for item in value]
    if isinstance(value, dict):
        return {str(key): answer_text(item) for key, item in value.items()}
    return str(value)


def read_document(path, repeats=None, markers=None, kind=None):
    """The YAML of a file (None for an empty one); a CnnCalcError naming the file if it cannot be read.

    ``repeats``: a list that collects keys written twice (the first kept) instead of failing on them.
    ``markers``: the keys that make a text a ``kind`` (a key: spec or questions); a text that fails to load
    and writes none of them is some other file, and nothing of it is quoted (see loader.load_yaml)."""
    path = str(path)
    try:
        return load_yaml(read_text(path), file=path, repeats=repeats, markers=markers, kind=kind)
    except CnnCalcError as err:
        raise err.located(file=path) from None


def as_mapping(document, file, keys, what, kind=None):
    """The document as a Located mapping whose keys are all in ``keys``.

    A mapping with neither of the first two ``keys`` (a key's spec and questions) is some other file (a
    link to /etc/shadow given as ``--key``): it is called not a cnncalc ``kind`` and nothing of it is quoted,
    not even its keys."""
    if isinstance(document, dict) and not isinstance(document, Located):
        document = Located(document)
    markers = keys[:2]
    if not isinstance(document, Located):
        empty = " (the file is empty)" if document is None else ""
        raise AnswerError(f"{what} must be a mapping with {' and '.join(repr(k) for k in markers)}{empty}",
                          file=file, line=getattr(document, "line", 1 if document is not None else None))
    if not any(marker in document for marker in markers):
        raise AnswerError(f"not a cnncalc {kind or what} (a YAML mapping without {' or '.join(map(repr, markers))}; "
                          f"nothing of it is shown)", file=file)
    for key in document:
        if key not in keys:
            raise AnswerError(f"unknown key '{shown(key)}'{did_you_mean(key, keys)} ({what} has {', '.join(keys)})",
                              file=file, line=document.line_of(key))
    return document


def read_points(value):
    """Points for a question or answer: a finite number from 0 to MAX_POINTS; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_POINTS:
        raise ValueError(f"points must be a number from 0 to {MAX_POINTS:,}, not {answer_text(value)!r}")
    return value


def entry_list(document, file, key):
    """The non-empty list under ``key`` with the line of each item."""
    items = document.get(key)
    line = document.line_of(key) if key in document else document.line
    if isinstance(items, list) and not items:
        raise AnswerError(f"'{key}' is empty; list at least one, like [{{layer: conv1, params: 23296}}]",
                          file=file, line=line)
    if not isinstance(items, list):
        raise AnswerError(f"'{key}' must be a list like [{{layer: conv1, params: 23296}}]", file=file, line=line)
    lines = getattr(items, "item_lines", None) or [line] * len(items)
    return list(zip(items, lines))


def entry_claims(entry, position, item_line, keyed=False):
    """The claims of one answer entry ``{layer: conv1, params: 23296, ...}``; EntryProblem if unreadable.

    ``keyed``: graded against a key, the entry's ``points`` are not read (the key sets them) and an entry
    naming a ``question`` needs no ``layer``.
    """
    if not isinstance(entry, dict):
        raise EntryProblem(f"answer {position} must be a mapping like {{layer: conv1, params: 23296}}",
                           getattr(entry, "line", item_line))
    line_of = entry.line_of if isinstance(entry, Located) else (lambda key: item_line)
    question = entry.get("question")
    question = None if question is None else str(question)
    try:
        points = 1 if keyed else read_points(entry.get("points", 1))
    except ValueError as err:
        raise EntryProblem(str(err), line_of("points")) from None
    quantities = [key for key in entry if key not in ANSWER_WORDS]
    if "layer" not in entry and not (keyed and question is not None):
        raise EntryProblem("answer has no 'layer' (a layer name, a block name or total)",
                           getattr(entry, "line", item_line), points=points)
    layer = str(entry["layer"]) if "layer" in entry else None
    split = split_number(entry, quantities)
    if split:
        raise EntryProblem(split, line_of(quantities[0]), layer, points)
    claims = [Claim(layer, str(key), entry[key], line_of(key), points, question) for key in quantities]
    if not claims:
        raise EntryProblem(f"answer for '{layer or question}' claims nothing (give one of {', '.join(QUANTITIES)})",
                           line_of("layer"), layer, points)
    return claims, line_of("layer") if layer is not None else line_of("question")


def split_number(entry, quantities):
    """The fix, when YAML split a number written with commas: unquoted, ``{params: 73,856}`` is ``params: 73``
    and a key ``856`` with no value (inside {...} a comma separates entries). None when nothing was split."""
    for index, key in enumerate(quantities):
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        groups = []
        for later in quantities[index + 1:]:
            if entry[later] is not None or isinstance(later, bool) or not (
                    isinstance(later, int) or isinstance(later, str) and later.isdigit()):
                break
            groups.append(later)
        if groups:
            written = ",".join([str(value)] + [str(group).zfill(3) for group in groups])
            more = f"a key {groups[0]}" if len(groups) == 1 else "keys " + ", ".join(str(g) for g in groups)
            return (f"{key}: {written} is read as {key} {value} and {more} (inside {{...}} a comma separates "
                    f"entries): quote it, {key}: '{written}', or write {key}: {written.replace(',', '')}")
    return None


def load_named_spec(value, file, line, base_dir):
    """The spec an answer file or key names: a built-in name, a spec file relative to it, or a mapping.

    A path must name a regular file ending in .yaml, .yml or .onnx; anything else is refused before it
    is opened, so that ``spec: /etc/shadow`` reads nothing.
    """
    from .. import builtins
    from .. import spec as spec_module
    from ..report import infer_shape, load_spec

    if isinstance(value, dict):
        return spec_module.parse(value, file=file, shapes=infer_shape)
    if not isinstance(value, str) or not value.strip():
        raise AnswerError(f"'spec' must name a built-in model or a spec file, or be a spec mapping, not "
                          f"{answer_text(value)!r}", file=file, line=line)
    if not builtins.looks_like_path(value) and not value.lower().endswith(builtins.SPEC_SUFFIXES):
        if os.path.isfile(builtins.path_of(value)):
            return load_spec(value)
        raise AnswerError(f"'{value}' is neither a spec file nor a built-in model"
                          f"{did_you_mean(value, builtins.names())} (see `cnncalc list`)", file=file, line=line)
    if not value.lower().endswith(builtins.SPEC_SUFFIXES):
        raise AnswerError(f"spec '{value}' is not a spec file: a spec file's name ends in .yaml or .yml (or .onnx)",
                          file=file, line=line)
    path = os.path.normpath(os.path.join(base_dir, value))  # an absolute value stays as it is
    if not os.path.exists(path):
        raise AnswerError(f"spec file '{value}' not found (a path is relative to {os.path.basename(file)}, so "
                          f"this is {path})", file=file, line=line)
    if not os.path.isfile(path):
        raise AnswerError(f"spec '{value}' is not a regular file", file=file, line=line)
    return load_spec(path)


def analyze_named(document, file, base_dir):
    """The Report a document's ``spec`` (at its ``input``, ``batch``, ``dtype``) describes."""
    return analyze_setting(named_setting(document, file, base_dir))


class Setting:
    """What a document says to analyse: its spec, input (None: the spec's), batch and dtype, and where."""

    def __init__(self, document, file, spec, input, batch, dtype):
        self.document, self.file, self.spec = document, file, spec
        self.input, self.batch, self.dtype = input, batch, dtype


def named_setting(document, file, base_dir):
    line = document.line_of
    if "spec" not in document:
        raise AnswerError("no 'spec' (a built-in model name, a spec file relative to this file, or an inline "
                          "spec mapping)", file=file, line=document.line)
    try:
        spec = load_named_spec(document["spec"], file, line("spec"), base_dir)
    except CnnCalcError as err:
        raise spec_failure(err, file, line("spec")) from None
    input_shape = input_override(document.get("input"), spec, file, line("input"))
    batch = document.get("batch", 1)
    if not is_whole_number(batch) or batch < 1:
        raise AnswerError(f"'batch' must be a positive whole number, not {batch!r}", file=file, line=line("batch"))
    return Setting(document, file, spec, input_shape, batch, document.get("dtype", "fp32"))


def input_order_note(setting):
    """A note when the spec's own input looks like H x W x C (``[32, 32, 3]``): a spec's input is C x H x W."""
    shape = tuple(setting.spec.input)
    if setting.input is not None or len(shape) != 3 or shape[2] not in (1, 3) or shape[0] <= shape[2]:
        return None
    c, h, w = shape
    return (f"the spec's input [{c}, {h}, {w}] is read as C x H x W, {c} channels of {h}x{w}; a {c}x{h} image "
            f"with {w} channel{'s' if w > 1 else ''} is written input: [{w}, {c}, {h}]")


def analyze_setting(setting, input=None, params=None, where=None):
    """The Report of ``setting`` (at another ``input`` and ``params`` when given); ``where``: the key word
    whose line an error names instead of the usual one."""
    from ..report import analyze

    document, file = setting.document, setting.file
    try:
        return analyze(setting.spec, input=input or setting.input, batch=setting.batch, dtype=setting.dtype,
                       explain=True, params=params)
    except CnnCalcError as err:
        key = where or ("dtype" if err.exit_code == 2 else "input" if "input" in document else "spec")
        raise spec_failure(err, file, document.line_of(key)) from None


def spec_failure(err, file, line):
    """A spec problem as one line naming the answer file (and the spec file's line when it is another)."""
    if err.file is None or err.file == file:
        return AnswerError(err.message, file=file, line=err.line or line, layer=err.layer)
    return AnswerError(f"spec: {err}", file=file, line=line)


def input_override(value, spec, file, line):
    from ..errors import UsageError
    from ..shapes import parse_input

    if value is None:
        return None
    try:
        return parse_input(value, spec.input)
    except UsageError:
        raise AnswerError(f"'input' must be [C, H, W], CxHxW or one side such as 227, not {value!r}",
                          file=file, line=line) from None
