"""Grade homework answers against a computed network: the library behind ``cnncalc check``.

An answer file names a spec and lists claimed values by layer (see DESIGN.md)::

    spec: alexnet            # a built-in name, a path relative to this file, or an inline spec mapping
    input: [3, 227, 227]     # optional override (also batch, dtype)
    answers:
      - {layer: conv1, output_shape: 56x56x64, params: 23296}
      - {layer: total, params: 61.1M}

Every quantity of every answer becomes one :class:`Result`. Claims are read exactly (Decimal and
Fraction, never float) and a rounded claim is judged at the precision it is written in: ``35K`` is
34,944 rounded to thousands, so it is right; ``36K`` is not. ``layer`` may also name a block
(``layer1``, every layer whose name starts with ``layer1.``) or ``total``.
"""

import os
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from .errors import AnswerError, CnnCalcError, did_you_mean
from .formatters import explain_data, full_shape, scaled
from .loader import Located, load_yaml, read_text

QUANTITIES = ("output_shape", "params", "macs", "flops", "memory_bytes", "memory_kb", "receptive_field", "fits")
ANSWER_WORDS = ("layer", "question", "points")
FILE_KEYS = ("spec", "input", "batch", "dtype", "title", "answers")
TOTAL = "total"
RIGHT, WRONG, ERROR = "right", "wrong", "error"

# --- results ------------------------------------------------------------------------------------


class Result:
    """One graded claim (or one answer that could not be graded: status ``error``)."""

    __slots__ = ("file", "line", "layer", "quantity", "answer", "status", "expected", "exact", "read_as",
                 "notes", "explanation", "message", "points", "question")

    def __init__(self, file, line, layer, quantity, answer, status, **fields):
        self.file, self.line, self.layer, self.quantity = file, line, layer, quantity
        self.answer, self.status = answer, status
        self.expected = fields.get("expected")
        self.exact = fields.get("exact")
        self.read_as = fields.get("read_as")
        self.notes = fields.get("notes") or []
        self.explanation = fields.get("explanation") or []
        self.message = fields.get("message")
        self.points = fields.get("points", 1)
        self.question = fields.get("question")

    @property
    def correct(self):
        return self.status == RIGHT

    @property
    def where(self):
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)

    def to_dict(self):
        data = {"line": self.line, "layer": self.layer, "quantity": self.quantity, "answer": self.answer,
                "status": self.status, "correct": self.correct, "points": self.points}
        for key in ("expected", "exact", "read_as", "question", "message"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.notes:
            data["notes"] = list(self.notes)
        if self.explanation:
            data["explanation"] = list(self.explanation)
        return data


class FileResult:
    """The grading of one answer file; ``error`` is set when the file could not be graded at all."""

    def __init__(self, file, results=(), error=None, spec=None, input=None):
        self.file = file
        self.results = list(results)
        self.error = error
        self.spec = spec
        self.input = input

    @property
    def correct(self):
        return sum(1 for r in self.results if r.correct)

    @property
    def total(self):
        return len(self.results)

    @property
    def ok(self):
        return self.error is None and self.correct == self.total

    def to_dict(self):
        data = {"file": self.file, "spec": self.spec, "input": list(self.input) if self.input else None,
                "correct": self.correct, "total": self.total, "results": [r.to_dict() for r in self.results]}
        if self.error is not None:
            data["error"] = self.error
        return data


# --- reading answer files ---------------------------------------------------------------------


def check_files(paths):
    """Grade each answer file independently; a broken file becomes a FileResult with ``error``."""
    return [check_file(path) for path in paths]


def check_file(path):
    path = str(path)
    try:
        text = read_text(path)
        document = load_yaml(text, file=path)
    except CnnCalcError as err:
        return FileResult(path, error=str(err.located(file=path)))
    return check_document(document, file=path, base_dir=os.path.dirname(path) or ".")


def check_document(document, file="<answers>", base_dir="."):
    """Grade an answer document already read from YAML (or a plain dict)."""
    try:
        document = _as_mapping(document, file)
        report = analyze_answer_spec(document, file, base_dir)
        answers = _answer_list(document, file)
    except CnnCalcError as err:
        return FileResult(file, error=str(err))
    grader = _Grader(report, file)
    results = []
    lines = getattr(answers, "item_lines", None) or [document.line_of("answers")] * len(answers)
    for position, (entry, line) in enumerate(zip(answers, lines), 1):
        results += grader.grade_entry(entry, position, line)
    return FileResult(file, results, spec=report.name, input=report.input)


def _as_mapping(document, file):
    if isinstance(document, dict) and not isinstance(document, Located):
        document = Located(document)
    if not isinstance(document, Located):
        raise AnswerError("an answer file must be a mapping with 'spec' and 'answers'", file=file,
                          line=getattr(document, "line", 1 if document is not None else None))
    for key in document:
        if key not in FILE_KEYS:
            raise AnswerError(f"unknown key '{key}'{did_you_mean(key, FILE_KEYS)} (an answer file has "
                              f"{', '.join(FILE_KEYS)})", file=file, line=document.line_of(key))
    return document


def analyze_answer_spec(document, file, base_dir):
    """The Report the answers are graded against: the named spec at the file's input/batch/dtype."""
    from .report import analyze

    spec = _load_answer_spec(document, file, base_dir)
    line = document.line_of
    input_shape = _input_override(document.get("input"), spec, file, line("input"))
    batch = document.get("batch", 1)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise AnswerError(f"'batch' must be a positive whole number, not {batch!r}", file=file, line=line("batch"))
    dtype = document.get("dtype", "fp32")
    try:
        return analyze(spec, input=input_shape, batch=batch, dtype=dtype, explain=True)
    except CnnCalcError as err:
        key = "dtype" if err.exit_code == 2 else "input" if "input" in document else "spec"
        raise _spec_failure(err, file, line(key)) from None


def _load_answer_spec(document, file, base_dir):
    from . import builtins
    from . import spec as spec_module
    from .report import infer_shape, load_spec

    if "spec" not in document:
        raise AnswerError("the answer file has no 'spec' (a built-in model name, a path relative to the "
                          "answer file, or an inline spec mapping)", file=file, line=document.line)
    value, line = document["spec"], document.line_of("spec")
    try:
        if isinstance(value, dict):
            return spec_module.parse(value, file=file, shapes=infer_shape)
        if not isinstance(value, str) or not value.strip():
            raise AnswerError(f"'spec' must name a built-in model or a spec file, or be a spec mapping, "
                              f"not {value!r}", file=file, line=line)
        relative = os.path.normpath(os.path.join(base_dir, value))  # an absolute value stays as it is
        if os.path.isfile(relative) or builtins.looks_like_path(value):
            return load_spec(relative)
        return load_spec(value)
    except CnnCalcError as err:
        raise _spec_failure(err, file, line) from None


def _spec_failure(err, file, line):
    """A spec problem as one line naming the answer file (and the spec file's line when it is another)."""
    if err.file is None or err.file == file:
        return AnswerError(err.message, file=file, line=err.line or line, layer=err.layer)
    return AnswerError(f"spec: {err}", file=file, line=line)


def _input_override(value, spec, file, line):
    from .errors import UsageError
    from .report import parse_input

    if value is None:
        return None
    try:
        return parse_input(value, spec.input)
    except UsageError:
        raise AnswerError(f"'input' must be [C, H, W], CxHxW or one side such as 227, not {value!r}",
                          file=file, line=line) from None


def _answer_list(document, file):
    answers = document.get("answers")
    if not isinstance(answers, list) or not answers:
        raise AnswerError("'answers' must be a list like [{layer: conv1, params: 23296}]", file=file,
                          line=document.line_of("answers") if "answers" in document else document.line)
    return answers


# --- the claimed values ---------------------------------------------------------------------------


class ClaimError(ValueError):
    """A value that cannot be read as the quantity it answers."""


class Number:
    """A numeric claim: its exact value and the half-unit of its last written digit (in base units)."""

    def __init__(self, text, value, tolerance, scale, decimals, unit):
        self.text = text
        self.value = value
        self.tolerance = tolerance
        self.scale = scale
        self.decimals = decimals
        self.unit = unit

    @property
    def rounded(self):
        return self.scale != 1 or self.decimals > 0

    def matches(self, exact):
        return abs(Fraction(exact) - self.value) <= self.tolerance

    def render(self, exact):
        """``exact`` written the way the claim is written: same unit, same number of decimals."""
        return f"{scaled(exact, self.scale, self.decimals)}{self.unit}"


_NUMBER = re.compile(r"^\s*[~≈]?\s*(?P<number>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?"
                     r"|[+-]?\.\d+(?:[eE][+-]?\d+)?)(?P<unit>.*?)\s*$")
COUNT_PREFIXES = {"": 1, "k": 10 ** 3, "thousand": 10 ** 3, "m": 10 ** 6, "million": 10 ** 6,
                  "g": 10 ** 9, "billion": 10 ** 9, "t": 10 ** 12}
COUNT_WORDS = ("", "flop", "flops", "mac", "macs", "op", "ops", "param", "params", "parameters", "multiply-adds",
               "mult-adds")
MEMORY_UNITS = {"b": 1, "byte": 1, "bytes": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2,
                "mb": 1024 ** 2, "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
DECIMAL_MEMORY = {"kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3}  # SI units: not the slides', noted when used
MAX_CLAIM_LENGTH = 100
MAX_EXPONENT = 40


def parse_number(value):
    """Split a claim into its number (a Decimal, exactly as written) and its unit text."""
    if isinstance(value, bool):
        raise ClaimError(f"{str(value).lower()} is not a number")
    if isinstance(value, int):
        text = str(value)  # exact whatever way YAML allowed it to be written (1_000, 0x3e8)
    elif isinstance(value, float):
        text = getattr(value, "text", repr(value))  # the loader keeps a decimal as written: 182.50
    elif isinstance(value, str):
        text = value
    else:
        raise ClaimError(f"{value!r} is not a number")
    match = _NUMBER.match(text) if len(text) <= MAX_CLAIM_LENGTH else None
    if not match:
        raise ClaimError(f"cannot read '{text}' as a number (write 34944, 34,944, 35K, 0.035M, 1.8 GFLOP)")
    try:
        number = Decimal(match.group("number").replace(",", ""))
    except InvalidOperation:
        raise ClaimError(f"cannot read '{text}' as a number") from None
    if abs(number.as_tuple().exponent) > MAX_EXPONENT or number.adjusted() > MAX_EXPONENT:
        raise ClaimError(f"'{text}' is out of range")  # 1e999999999 would take forever to compare exactly
    return text.strip(), number, match.group("unit")


def _number(text, number, unit_text, scale):
    exponent = number.as_tuple().exponent
    value = Fraction(number) * scale
    tolerance = Fraction(1, 2) * Fraction(10) ** exponent * scale
    return Number(text, value, tolerance, scale, max(-exponent, 0), unit_text)


def parse_count(value):
    """A count (params, MACs, flop): ``34944``, ``34,944``, ``35K``, ``0.035M``, ``1.8 GFLOP``, ``138M``."""
    text, number, unit_text = parse_number(value)
    key = unit_text.replace(" ", "").lower()
    scale = _count_scale(key)
    if scale is None:
        if key in MEMORY_UNITS:
            raise ClaimError(f"'{text}' is a memory size; this quantity is a count (write 35K or 34944)")
        raise ClaimError(f"cannot read the unit '{unit_text.strip()}' in '{text}' (use K, M, G or T, "
                         f"optionally followed by FLOP, MACs or params)")
    return _number(text, number, unit_text, scale)


def _count_scale(key):
    if key in COUNT_WORDS:
        return 1
    for prefix, scale in COUNT_PREFIXES.items():
        if prefix and key.startswith(prefix) and key[len(prefix):] in COUNT_WORDS:
            return scale
    return None


def parse_memory(value, default_scale=1):
    """A memory size: ``802816`` (bytes), ``784 KB``, ``1.1MB`` (KB = 1024 B, as on the slides)."""
    text, number, unit_text = parse_number(value)
    key = unit_text.replace(" ", "").lower()
    if key == "":
        return _number(text, number, unit_text, default_scale)
    if key not in MEMORY_UNITS:
        raise ClaimError(f"cannot read the unit '{unit_text.strip()}' in '{text}' (use B, KB, MB or GB)")
    return _number(text, number, unit_text, MEMORY_UNITS[key])


def decimal_memory_reading(value, default_scale=1):
    """The claim read with 1000-byte KB/MB/GB, or None when it has no such unit."""
    text, number, unit_text = parse_number(value)
    key = unit_text.replace(" ", "").lower() or {1024: "kb"}.get(default_scale)
    if key not in DECIMAL_MEMORY:
        return None
    return _number(text, number, unit_text, DECIMAL_MEMORY[key])


def parse_sizes(value, what):
    """A shape or a receptive field: ``55x55x96``, ``96 x 55 x 55``, ``[96, 55, 55]``, ``11`` -> ints."""
    if isinstance(value, bool):
        raise ClaimError(f"{str(value).lower()} is not a {what}")
    if isinstance(value, int):
        parts = [value]
    elif isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        cleaned = value.strip().strip("[]()").strip()
        parts = re.split(r"\s*[x×X*,]\s*|\s+", cleaned) if cleaned else []
    else:
        raise ClaimError(f"{value!r} is not a {what}")
    sizes = []
    for part in parts:
        if isinstance(part, str) and part.isdigit():
            part = int(part)
        if isinstance(part, bool) or not isinstance(part, int) or part < 1:
            raise ClaimError(f"cannot read {_shown(value)} as a {what} (write 55x55x96, 96x55x55 or "
                             f"[96, 55, 55])")
        sizes.append(part)
    if not sizes:
        raise ClaimError(f"cannot read {_shown(value)} as a {what}")
    return tuple(sizes)


def parse_flag(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "no", "false"):
        return value.strip().lower() in ("yes", "true")
    raise ClaimError(f"fits is true or false, not {_shown(value)}")


def _shown(value):
    return f"'{value}'" if isinstance(value, str) else repr(value)


# --- what is graded: one layer, a block of layers, or the whole network ----------------------------


class Target:
    """The rows an answer is about and their exact numbers."""

    def __init__(self, report, name, rows, whole=False):
        self.report = report
        self.name = name
        self.rows = rows
        self.whole = whole  # the network total: numbers come from report.totals
        self.single = len(rows) == 1 and rows[0].name == name

    def total(self, key):
        if self.whole:
            return self.report.totals[key]
        return sum(getattr(row, key) for row in self.rows)

    @property
    def last(self):
        return self.rows[-1]


def find_target(report, name):
    """The target an answer's ``layer`` names; a CnnCalcError with close names if none."""
    if name == TOTAL:
        return Target(report, name, list(report.rows), whole=True)
    by_name = {row.name: row for row in report.rows}
    if name in by_name:
        return Target(report, name, [by_name[name]])
    members = [row for row in report.rows if row.name.startswith(name + ".")]
    if members:
        return Target(report, name, members)
    choices = list(by_name) + sorted({row.name.split(".")[0] for row in report.rows}) + [TOTAL]
    raise AnswerError(f"no layer named '{name}' in {report.name}{did_you_mean(name, choices)}")


# --- grading -----------------------------------------------------------------------------------------


class _Grader:
    def __init__(self, report, file):
        self.report = report
        self.file = file
        self.decls = {decl.name: decl for decl in report.spec.layers}

    def error(self, line, message, layer=None, quantity=None, answer=None, points=1, question=None):
        return Result(self.file, line, layer, quantity, answer, ERROR, message=message, points=points,
                      question=question)

    def grade_entry(self, entry, position, item_line):
        if not isinstance(entry, dict):
            return [self.error(getattr(entry, "line", item_line),
                               f"answer {position} must be a mapping like {{layer: conv1, params: 23296}}")]
        line_of = entry.line_of if isinstance(entry, Located) else (lambda key: item_line)
        question = entry.get("question")
        question = None if question is None else str(question)
        points = entry.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
            return [self.error(line_of("points"), f"points must be a number of at least 0, not {points!r}")]
        claims = [key for key in entry if key not in ANSWER_WORDS]
        if "layer" not in entry:
            return [self.error(getattr(entry, "line", item_line),
                               "answer has no 'layer' (a layer name, a block name or total)", points=points)]
        name = str(entry["layer"])
        if not claims:
            return [self.error(entry.line_of("layer") if isinstance(entry, Located) else item_line,
                               f"answer for '{name}' claims nothing (give one of {', '.join(QUANTITIES)})",
                               layer=name, points=points)]
        try:
            target = find_target(self.report, name)
        except CnnCalcError as err:
            # one line for the whole answer, worth all of its claims
            answer = {key: self._answer_text(entry, key, line_of) for key in claims}
            return [self.error(line_of("layer"), err.message, name, ", ".join(claims), answer,
                               points * len(claims), question)]
        return [self.grade_claim(target, key, entry[key], line_of(key), points, question,
                                 self._answer_text(entry, key, line_of)) for key in claims]

    def _answer_text(self, entry, key, line_of):
        """The answer as written: YAML's value, but a decimal as its text (182.50 keeps its last digit)."""
        value = entry[key]
        if isinstance(value, float):
            return getattr(value, "text", repr(value))
        return value

    def grade_claim(self, target, quantity, value, line, points, question, answer):
        if quantity not in QUANTITIES:
            return self.error(line, unknown_quantity(quantity), target.name, quantity, answer, points, question)
        try:
            status, fields = GRADERS[quantity](self, target, value)
        except ClaimError as err:
            return self.error(line, f"{target.name} {quantity}: {err}", target.name, quantity, answer, points,
                              question)
        near_miss = fields.pop("near_miss", [])
        if status == WRONG:
            fields["notes"] = fields.get("notes") or near_miss  # only when no convention explains it
            fields["explanation"] = self.explanation(target, quantity)
        return Result(self.file, line, target.name, quantity, answer, status, points=points,
                      question=question, **fields)

    # --- numbers

    def grade_number(self, claim, exact, alternatives, exact_text, default_unit=""):
        shown = claim.render(exact) + ("" if claim.unit.strip() else default_unit)
        fields = {"exact": exact, "expected": shown}
        if claim.matches(exact):
            if claim.value != exact:
                fields["notes"] = [f"{exact_text} is {shown} at the precision written"]
            return RIGHT, fields
        notes = []
        for label, other in alternatives:
            if other != exact and claim.matches(other):
                notes.append(f"{claim.text} equals {label}")
                break
        notes += _integer_rounding_note(claim, exact, exact_text)
        fields["notes"] = notes
        fields["near_miss"] = _closeness_note(claim, exact)
        if shown != exact_text:
            fields["expected"] = f"{shown} ({exact_text})"
        return WRONG, fields

    def biases(self, target):
        total = 0
        for row in target.rows:
            decl = self.decls.get(row.name)
            if row.weight_layers and row.filters and decl is not None and decl.keys.get("bias", True) is not False:
                total += row.filters
        return total

    def params(self, target, value):
        claim = parse_count(value)
        exact = target.total("params")
        biases, buffers = self.biases(target), target.total("buffers")
        alternatives = []
        if biases:
            alternatives.append((f"the weights-only count, {exact - biases:,} (without the {biases:,} biases); "
                                 f"params include the biases", exact - biases))
        if buffers:
            alternatives.append((f"params + BN running statistics, {exact + buffers:,}; the {buffers:,} running "
                                 f"means and variances are buffers, not params", exact + buffers))
        return self.grade_number(claim, exact, alternatives, f"{exact:,}")

    def macs(self, target, value):
        claim = parse_count(value)
        macs, flops, flops_2x = target.total("macs"), target.total("flops"), self.flops_2x(target)
        alternatives = [
            (f"2 x MACs, {2 * macs:,} (the FLOPs convention that counts a multiply and an add as two); "
             f"MACs count a multiply-add as one", 2 * macs),
            (f"the lecture flop, {flops:,}, which adds the pooling windows; MACs count conv and fc "
             f"multiply-accumulates only", flops),
            (f"2 x MACs + elementwise work, {flops_2x:,} (the other FLOPs convention)", flops_2x),
        ]
        return self.grade_number(claim, macs, alternatives, f"{macs:,}")

    def flops(self, target, value):
        claim = parse_count(value)
        macs, flops, flops_2x = target.total("macs"), target.total("flops"), self.flops_2x(target)
        alternatives = [
            (f"the MACs, {macs:,}; the lecture flop also counts each pooling window element", macs),
            (f"2 x MACs, {2 * macs:,} (the FLOPs convention that counts a multiply and an add as two); "
             f"the lecture flop counts a multiply-add as one", 2 * macs),
            (f"2 x MACs + elementwise work, {flops_2x:,} (the other FLOPs convention)", flops_2x),
        ]
        return self.grade_number(claim, flops, alternatives, f"{flops:,}")

    def flops_2x(self, target):
        if target.whole:
            return self.report.totals["flops_2x"]
        return sum(2 * row.macs + row.elementwise for row in target.rows)

    def memory_bytes(self, target, value, default_scale=1):
        claim = parse_memory(value, default_scale)
        exact = target.total("memory_bytes")
        per_element = self.report.bytes_per_element * self.report.batch
        elements = exact // per_element
        alternatives = [(f"the number of output elements, {elements:,}; memory = elements x "
                         f"{self.report.bytes_per_element} B ({self.report.dtype})", elements)]
        status, fields = self.grade_number(claim, exact, alternatives, f"{exact:,} B",
                                           " B" if default_scale == 1 else " KB")
        if status == WRONG and not fields["notes"]:
            decimal = decimal_memory_reading(value, default_scale)
            if decimal is not None and decimal.matches(exact):
                fields["notes"] = [f"{claim.text} is the memory in 1000-byte units ({exact:,} B / "
                                   f"{decimal.scale:,}); the slides' KB is 1024 B, MB 1024*1024 B"]
        return status, fields

    def memory_kb(self, target, value):
        return self.memory_bytes(target, value, default_scale=1024)

    # --- shapes, receptive fields, fits

    def output_shape(self, target, value):
        claim = parse_sizes(value, "shape")
        true = tuple(target.last.out_shape)
        fields = {"exact": list(true)}
        reading, expected = read_shape(claim, true)
        fields["read_as"], fields["expected"] = reading, expected
        if expected == full_shape(claim) or _same_sizes(claim, true):
            return RIGHT, fields
        notes = []
        if len(claim) != len(true):
            notes.append(f"{_shown(value)} has {len(claim)} size{'s' if len(claim) > 1 else ''}; the output has "
                         f"{len(true)} ({'C x H x W' if len(true) == 3 else 'a flat vector'})")
        elif len(true) == 3 and sorted(claim) == sorted(true):
            notes.append("the same sizes in another order: C x H x W is channels first, H x W x C channels last")
        fields["notes"] = notes
        return WRONG, fields

    def receptive_field(self, target, value):
        claim = parse_sizes(value, "receptive field")
        if len(claim) > 2:
            raise ClaimError(f"a receptive field is one size or H x W, not {_shown(value)}")
        if len(claim) == 1:
            claim = claim * 2
        true = tuple(target.last.receptive_field)
        expected = str(true[0]) if true[0] == true[1] else f"{true[0]}x{true[1]}"
        fields = {"exact": list(true), "expected": expected}
        return (RIGHT if claim == true else WRONG), fields

    def fits(self, target, value):
        claim = parse_flag(value)
        windowed = [row for row in target.rows if row.kernel is not None]
        if not windowed:
            raise ClaimError(f"{target.name} ({target.last.type}) has no window; fits asks whether a conv or "
                             f"pool window tiles its padded input")
        truth = all(window_fits(row) for row in windowed)
        fields = {"exact": truth, "expected": "true" if truth else "false"}
        return (RIGHT if claim == truth else WRONG), fields

    # --- worked arithmetic

    def explanation(self, target, quantity):
        if target.single:
            return explain_for(self.report, target.last, quantity)
        return sum_lines(target, quantity)


GRADERS = {
    "output_shape": _Grader.output_shape, "params": _Grader.params, "macs": _Grader.macs,
    "flops": _Grader.flops, "memory_bytes": _Grader.memory_bytes, "memory_kb": _Grader.memory_kb,
    "receptive_field": _Grader.receptive_field, "fits": _Grader.fits,
}


def unknown_quantity(key):
    text = f"unknown quantity '{key}'{did_you_mean(key, QUANTITIES)} (quantities: {', '.join(QUANTITIES)})"
    if str(key)[:1].isdigit():
        text += ("; inside {...} a comma separates entries, so quote a value written with commas "
                 "('37,749k') or write it without them")
    return text


def _same_sizes(claim, true):
    """A flat output written with unit sizes (1x1x4096 for 4096, or 2048 for 2048x1x1)."""
    if len(claim) == len(true):
        return tuple(claim) == tuple(true)
    return [s for s in claim if s != 1] == [s for s in true if s != 1]


def read_shape(claim, true):
    """How a claimed shape is read against the true one, and the right shape written that way."""
    if len(true) != 3 or len(claim) != 3:
        return None, full_shape(true)
    c, h, w = true
    chw, hwc = (c, h, w), (h, w, c)
    if tuple(claim) == chw:
        return "C x H x W", full_shape(chw)
    if tuple(claim) == hwc:
        return "H x W x C", full_shape(hwc)
    as_chw = sum(a == b for a, b in zip(claim, chw))
    as_hwc = sum(a == b for a, b in zip(claim, hwc))
    square_last = claim[0] == claim[1] != claim[2]
    if as_hwc > as_chw or (as_hwc == as_chw and square_last):
        return "H x W x C", full_shape(hwc)
    return "C x H x W", full_shape(chw)


def window_fits(row):
    """Does the row's window tile its padded input exactly ((W + 2P - D*(K-1) - 1) divisible by S)?"""
    return row.fits


def _integer_rounding_note(claim, exact, exact_text):
    """A plain integer with trailing zeros (35000) is judged exactly; say so when it is a rounding."""
    if claim.rounded or claim.value != int(claim.value) or claim.value == 0:
        return []
    whole = int(claim.value)
    zeros = len(str(abs(whole))) - len(str(abs(whole)).rstrip("0"))
    if zeros and abs(exact - whole) <= Fraction(10 ** zeros, 2):
        return [f"{claim.text} is {exact_text} rounded, but a plain integer is judged exactly; write it with a "
                f"unit (K, M, G) to give a rounded answer"]
    return []


def _closeness_note(claim, exact):
    """How far off a near miss is (slides round and sometimes err: EECS 498 prints conv4's 149.5M flop as 145)."""
    if not exact or claim.value <= 0:
        return []
    off = (claim.value - exact) / exact
    if abs(off) > Fraction(1, 10):
        return []
    percent = abs(off) * 100
    return [f"{claim.text} is {float(percent):.1f}% {'above' if off > 0 else 'below'} the exact count (slides round, "
            f"and sometimes err: the arithmetic below is exact)"]


# Which tagged lines of the worked arithmetic (formatters.explain_data) bear on each quantity.
EXPLAINED_BY = {
    "output_shape": ("size", "output_shape"),
    "fits": ("size",),
    "params": ("params",),
    "macs": ("macs",),
    "flops": ("flops", "macs"),
    "memory_bytes": ("output_shape", "memory"),
    "memory_kb": ("output_shape", "memory"),
    "receptive_field": ("receptive_field",),
}


def explain_for(report, row, quantity):
    """The lines of the row's worked arithmetic that bear on ``quantity`` (headed by the layer line)."""
    data = explain_data(report, row)
    wanted = EXPLAINED_BY[quantity]
    picked = [text for tag, text in data[1:] if tag in wanted]
    if quantity == "fits" and not picked:
        picked = [f"{row.type} has a window of {full_shape(row.kernel)} that covers the whole map"]
    return [data[0][1]] + picked


TOTAL_KEYS = {"params": "params", "macs": "macs", "flops": "flops", "memory_bytes": "memory_bytes",
              "memory_kb": "memory_bytes"}


def sum_lines(target, quantity, shown=6):
    """The arithmetic of a block or total: the sum of its layers' numbers, or its last layer's."""
    what = "the network" if target.whole else f"block {target.name}"
    if quantity in ("output_shape", "receptive_field"):
        last = target.last
        return [f"{what} ends at {last.name}"] + explain_for(target.report, last, quantity)[1:]
    if quantity == "fits":
        bad = [f"{row.name}: {text}" for row in target.rows for text in row.warnings if not window_fits(row)]
        return [f"{what}: every window must tile its input"] + (bad or ["every window tiles its input"])
    key = TOTAL_KEYS[quantity]
    terms = [(row.name, getattr(row, key)) for row in target.rows if getattr(row, key)]
    total = target.total(key)
    label = "memory" if key == "memory_bytes" else {"macs": "MACs", "flops": "flop"}.get(key, key)
    if len(terms) > shown:
        head = " + ".join(f"{name} {value:,}" for name, value in terms[:shown - 2])
        tail = " + ".join(f"{name} {value:,}" for name, value in terms[-2:])
        body = f"{head} + ... + {tail} ({len(terms)} layers)"
    else:
        body = " + ".join(f"{name} {value:,}" for name, value in terms) or "0"
    unit = " B" if key == "memory_bytes" else ""
    line = f"{label} of {what} = {body} = {total:,}{unit}"
    if key == "memory_bytes":
        line += f" = {scaled(total, 1024, 2).rstrip('0').rstrip('.')} KB"
    return [line]


# --- output: text, JSON, Gradescope ------------------------------------------------------------------


def result_lines(result, explain=True):
    """A result as text: one line, then (for a wrong one) notes and the worked arithmetic."""
    if result.status == ERROR:
        return [f"error  {result.where}: {result.message}"]
    answer = _answer_shown(result.answer)
    head = f"{result.status:<5}  {result.layer} {result.quantity} = {answer}"
    if result.status == RIGHT:
        extra = []
        if result.read_as == "H x W x C":
            extra.append("read as H x W x C")
        if result.expected is not None and result.notes:
            extra.append(result.notes[0])
        return [head + (f"  ({'; '.join(extra)})" if extra else "")]
    reading = f" (read as {result.read_as})" if result.read_as else ""
    lines = [f"{head}{reading}  [line {result.line}]", f"       right: {result.expected}"]
    lines += [f"       note: {note}" for note in result.notes]
    if explain:
        lines += [f"         {line}" for line in result.explanation]
    return lines


def _answer_shown(answer):
    if isinstance(answer, list):
        return "[" + ", ".join(str(a) for a in answer) + "]"
    if isinstance(answer, bool):
        return str(answer).lower()
    return str(answer)


def summary_text(correct, total, wrong, errors):
    parts = [f"{correct} of {total} answers right"]
    if wrong:
        parts.append(f"{wrong} wrong")
    if errors:
        parts.append(f"{errors} with errors")
    return ", ".join(parts)


def file_summary(file_result):
    if file_result.error is not None:
        return f"{file_result.file}: not graded (the file has an error)"
    wrong = sum(1 for r in file_result.results if r.status == WRONG)
    errors = sum(1 for r in file_result.results if r.status == ERROR)
    return f"{file_result.file}: " + summary_text(file_result.correct, file_result.total, wrong, errors)


def render_text(file_results, explain=True, quiet=False):
    lines = []
    for index, fr in enumerate(file_results):
        if index:
            lines.append("")
        if fr.error is not None:
            lines.append(f"error  {fr.error}")
            lines.append(file_summary(fr))
            continue
        lines.append(f"{fr.file}: {fr.spec}, input {full_shape(fr.input)}")
        for result in fr.results:
            if quiet and result.correct:
                continue
            lines += result_lines(result, explain)
        lines.append(file_summary(fr))
    if len(file_results) > 1:
        lines += ["", overall_summary(file_results)]
    return "\n".join(lines)


def overall_summary(file_results):
    results = [r for fr in file_results for r in fr.results]
    wrong = sum(1 for r in results if r.status == WRONG)
    errors = sum(1 for r in results if r.status == ERROR)
    correct = sum(1 for r in results if r.correct)
    text = f"all files: {summary_text(correct, len(results), wrong, errors)}, in {len(file_results)} files"
    broken = sum(1 for fr in file_results if fr.error is not None)
    if broken:
        text += f" ({broken} not graded: the file has an error)"
    return text


def to_json(file_results):
    """One file: its object; several: ``{"correct", "total", "files": [...]}``."""
    if len(file_results) == 1:
        return file_results[0].to_dict()
    return {"correct": sum(fr.correct for fr in file_results), "total": sum(fr.total for fr in file_results),
            "files": [fr.to_dict() for fr in file_results]}


def to_gradescope(file_results):
    """Gradescope's autograder ``results.json``: one test per claim, a score, and the text summary."""
    tests = []
    several = len(file_results) > 1
    for fr in file_results:
        prefix = f"{fr.file}: " if several else ""
        if fr.error is not None:
            tests.append({"name": f"{prefix}answer file", "score": 0, "max_score": 1, "status": "failed",
                          "output": f"error: {fr.error}"})
            continue
        for result in fr.results:
            name = result.question or f"{result.layer} {result.quantity}"
            tests.append({
                "name": f"{prefix}{name} (line {result.line})",
                "score": result.points if result.correct else 0,
                "max_score": result.points,
                "status": "passed" if result.correct else "failed",
                "output": "\n".join(result_lines(result)),
            })
    score = sum(test["score"] for test in tests)
    max_score = sum(test["max_score"] for test in tests)
    output = "\n".join(file_summary(fr) for fr in file_results)
    return {"score": score, "output": output, "tests": tests, "extra_data": {"max_score": max_score}}
