"""The instructor's answer key: the spec, the input, the questions and their points.

    spec: alexnet                 # built-in name, a path relative to the key, or an inline spec
    input: [3, 227, 227]
    questions:
      - {id: q1, layer: conv1, quantity: output_shape, points: 2}
      - {id: q3, layer: conv2, quantity: macs, points: 5, tolerance: 1%}

A key is checked whole when it is loaded: every problem is one AnswerError naming the key's file and line.
"""

import os

from ..errors import AnswerError, CnnCalcError, shown
from .grader import Grader
from .quantities import QUANTITIES, QUANTITY
from ..spec.loader import Located
from ..spec.language import MAX_NAME_CHARS, check_text
from .reading import analyze_named, as_mapping, entry_list, read_document, read_points
from .values import ClaimError, parse_tolerance

KEY_KEYS = ("spec", "questions", "input", "batch", "dtype", "title")
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
    def __init__(self, file, report, questions, title=None):
        self.file = file
        self.report = report
        self.grader = Grader(report)
        self.questions = questions
        self.title = title
        self.by_id = {q.id: q for q in questions}
        self.by_pair = {(q.layer, q.quantity): q for q in questions}

    @property
    def max_points(self):
        return sum(q.points for q in self.questions)


def load_key(path):
    """The key in ``path``; an AnswerError (one line, the key's file and line) if it is not a valid key."""
    path = str(path)
    return key_from_document(read_document(path, KEY_KEYS[:2], "key"), path, os.path.dirname(path) or ".")


def key_from_document(document, file="<key>", base_dir="."):
    document = as_mapping(document, file, KEY_KEYS, "a key", "key")
    report = analyze_named(document, file, base_dir)
    key = Key(file, report, [], title=document.get("title"))
    for position, (entry, line) in enumerate(entry_list(document, file, "questions"), 1):
        question = read_question(key, entry, position, line, file)
        if question.id in key.by_id:
            raise AnswerError(f"question id '{question.id}' is used twice (first at line "
                              f"{key.by_id[question.id].line})", file=file, line=question.line)
        pair = (question.layer, question.quantity)
        if pair in key.by_pair:
            raise AnswerError(f"{question.layer} {question.quantity} is asked twice (first as "
                              f"{key.by_pair[pair].id}); an answer by layer could not tell them apart",
                              file=file, line=question.line)
        key.questions.append(question)
        key.by_id[question.id] = question
        key.by_pair[pair] = question
    return key


def read_question(key, entry, position, item_line, file):
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
    tolerance = None
    if "tolerance" in entry:
        if not QUANTITY[quantity].numeric:
            fail(f"{quantity} is exact; a tolerance is for counts and memory sizes", "tolerance")
        try:
            tolerance = parse_tolerance(entry["tolerance"])
        except ClaimError as err:
            fail(f"tolerance: {err}", "tolerance")
    return Question(question_id, layer, quantity, points, line, target, tolerance)
