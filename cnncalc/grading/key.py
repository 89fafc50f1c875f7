"""The instructor's answer key: the spec, the input, the questions and their points.

    spec: alexnet                 # built-in name, a path relative to the key, or an inline spec
    input: [3, 227, 227]
    tolerance: 1%                 # key-wide (default: exact)
    questions:
      - {id: q1, layer: conv1, quantity: output_shape, points: 2}
      - {id: q3, layer: conv2, quantity: macs, points: 5, tolerance: 1%}

A key is strict: a count or size is right only at its exact value (34944, 34,944 or 34.944K) unless the
question or the key gives a ``tolerance``. A key may also vary the problem by student (``variants.py``).
A key is checked whole when it is loaded: every problem is one AnswerError naming the key's file and line.
"""

import os

from ..errors import AnswerError, CnnCalcError, shown
from .grader import Grader
from .quantities import QUANTITIES, QUANTITY
from ..spec.loader import Located
from ..spec.language import MAX_NAME_CHARS, check_text
from .reading import (analyze_setting, as_mapping, entry_list, input_order_note, named_setting, read_document,
                      read_points)
from .values import EXACT, ClaimError, parse_tolerance
from .variants import analyze_variant, describe, read_vary

KEY_KEYS = ("spec", "questions", "input", "batch", "dtype", "title", "tolerance", "vary", "seed")
QUESTION_KEYS = ("id", "layer", "quantity", "points", "tolerance")
# words a submission uses for other things: a question id may not be one of them
RESERVED_IDS = ("spec", "input", "batch", "dtype", "title", "answers", "points", "layer", "question", "name")


class Question:
    __slots__ = ("id", "layer", "quantity", "points", "tolerance", "line", "target")

    def __init__(self, id, layer, quantity, points, line, target, tolerance=None):
        self.id, self.layer, self.quantity, self.points, self.line = id, layer, quantity, points, line
        self.target, self.tolerance = target, tolerance

    @property
    def title(self):
        return f"{self.id}: {self.layer} {self.quantity}"


class Key:
    """The key: ``questions`` with their targets in ``report``. A key with ``vary`` grades each student
    against :meth:`for_student`, a Key of the same questions on that student's variant (``values``)."""

    def __init__(self, file, report, questions, title=None):
        self.file = file
        self.report = report
        self.grader = Grader(report)
        self.questions = questions
        self.title = title
        self.by_id = {q.id: q for q in questions}
        self.by_folded = {q.id.casefold(): q for q in questions}
        self.by_pair = {(q.layer, q.quantity): q for q in questions}
        self.warnings = []          # (line, text): printed, not fatal
        self.vary = None
        self.setting = None
        self.values = ()            # this variant's (name, value) pairs; () for the key as written
        self.variants = {}          # values -> Key, each analysed once
        self.compared = {}          # (question id, answer) -> the variants it is right for
        self.networks = {}          # values -> the variant's network as spec text (for sheets)
        self.graded = {}            # (question id, answer) -> its Result, graded once

    @property
    def max_points(self):
        return sum(q.points for q in self.questions)

    def add(self, question):
        self.questions.append(question)
        self.by_id[question.id] = question
        self.by_folded[question.id.casefold()] = question
        self.by_pair[(question.layer, question.quantity)] = question

    def for_student(self, student):
        """The key for one student: this key when nothing varies, else that student's variant."""
        return self if self.vary is None else self.variant(self.vary.choose(student))

    def variant(self, values):
        if values not in self.variants:
            report = analyze_variant(self.setting, values, self.vary.line)
            key = Key(self.file, report, [], self.title)
            key.values, key.vary, key.setting = values, self.vary, self.setting
            for question in self.questions:
                try:
                    target = key.grader.target(question.layer)
                    key.grader.truth(target, question.quantity)
                except (CnnCalcError, ClaimError) as err:
                    raise AnswerError(f"variant {describe(values)}: {question.id}: {getattr(err, 'message', err)}",
                                      file=self.file, line=question.line) from None
                key.add(Question(question.id, question.layer, question.quantity, question.points, question.line,
                                 target, question.tolerance))
            self.variants[values] = key
        return self.variants[values]

    def every_variant(self):
        return [self.variant(values) for values in self.vary.every()] if self.vary else [self]


def load_key(path):
    """The key in ``path``; an AnswerError (one line, the key's file and line) if it is not a valid key."""
    path = str(path)
    return key_from_document(read_document(path, markers=KEY_KEYS[:2], kind="key"), path, os.path.dirname(path) or ".")


def key_from_document(document, file="<key>", base_dir="."):
    document = as_mapping(document, file, KEY_KEYS, "a key", "key")
    setting = named_setting(document, file, base_dir)
    report = analyze_setting(setting)
    key = Key(file, report, [], title=document.get("title"))
    key.setting = setting
    note = input_order_note(setting)
    if note:
        key.warnings.append((document.line_of("spec"), note))
    key.vary = read_vary(document, file, setting.spec)
    default = EXACT
    if "tolerance" in document:
        default = read_tolerance(key, document["tolerance"], file, document.line_of("tolerance"))
    for position, (entry, line) in enumerate(entry_list(document, file, "questions"), 1):
        question = read_question(key, entry, position, line, file, default)
        same = key.by_folded.get(question.id.casefold())
        if same is not None:
            raise AnswerError(f"question id '{question.id}' is used twice (first at line {same.line}"
                              f"{'' if same.id == question.id else ' as ' + repr(same.id) + '; ids ignore case'})",
                              file=file, line=question.line)
        pair = (question.layer, question.quantity)
        if pair in key.by_pair:
            raise AnswerError(f"{question.layer} {question.quantity} is asked twice (first as "
                              f"{key.by_pair[pair].id}); an answer by layer could not tell them apart",
                              file=file, line=question.line)
        key.add(question)
    return key


def read_tolerance(key, value, file, line, label="tolerance"):
    try:
        tolerance = parse_tolerance(value)
    except ClaimError as err:
        raise AnswerError(f"{label}: {err}", file=file, line=line) from None
    if tolerance.warning:
        key.warnings.append((line, tolerance.warning))
    return tolerance


def read_question(key, entry, position, item_line, file, default=EXACT):
    def fail(message, field=None):
        raise AnswerError(message, file=file, line=entry.line_of(field) if field in entry else line)

    line = getattr(entry, "line", item_line)
    if isinstance(entry, dict) and not isinstance(entry, Located):
        entry = Located(entry, line=item_line)
    if not isinstance(entry, dict):
        raise AnswerError(f"question {position} must be a mapping like {{id: q1, layer: conv1, quantity: params, "
                          f"points: 2}}", file=file, line=line)
    for field in entry:
        if field not in QUESTION_KEYS:
            fail(f"unknown key '{field}' in a question (a question has {', '.join(QUESTION_KEYS)})", field)
    question_id = entry.get("id", f"q{position}")
    if not isinstance(question_id, (str, int)) or isinstance(question_id, bool):
        fail("a question id must be text, like q1", "id")
    question_id = str(question_id)
    try:  # a name like a layer's: printed in every format and in Gradescope's test names
        check_text(question_id, "question id", MAX_NAME_CHARS)
    except CnnCalcError as err:
        fail(err.message, "id")
    if question_id in RESERVED_IDS or not question_id.strip():
        fail(f"'{question_id}' cannot be a question id (a submission uses it for something else)", "id")
    if "layer" not in entry or "quantity" not in entry:
        fail(f"question {question_id} needs a 'layer' and a 'quantity'")
    layer, quantity = str(entry["layer"]), entry["quantity"]
    if not isinstance(quantity, str) or quantity not in QUANTITY:
        fail(f"unknown quantity '{shown(quantity)}' (quantities: {', '.join(QUANTITIES)})", "quantity")
    try:
        points = read_points(entry.get("points", 1))
    except ValueError as err:
        fail(str(err), "points")
    try:
        target = key.grader.target(layer)
        key.grader.truth(target, quantity)
    except CnnCalcError as err:
        fail(err.message, "layer")
    except ClaimError as err:
        fail(f"{question_id}: {err}", "quantity")
    tolerance = default if QUANTITY[quantity].numeric else None
    if "tolerance" in entry:
        if not QUANTITY[quantity].numeric:
            fail(f"{quantity} is exact; a tolerance is for counts and memory sizes", "tolerance")
        tolerance = read_tolerance(key, entry["tolerance"], file, entry.line_of("tolerance"))
    return Question(question_id, layer, quantity, points, line, target, tolerance)
