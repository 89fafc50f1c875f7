"""Grading a class: each submission against the instructor's key alone.

A submission answers in the answer-file form (``answers: [{layer: conv1, output_shape: ...}]``) or by
question id (``q1: 64x56x56``, at the top level or under ``answers:``). The key decides the network,
the questions and the points; whatever a submission says about ``spec``, ``input`` or ``points`` is
ignored with a note, and nothing in a submission is ever opened as a path. A submission that cannot
be read scores 0 of the key's total with its error; the others are still graded.
"""

import os

from ..errors import AnswerError, CnnCalcError
from ..render.shapes import full_shape
from ..spec.loader import Located
from .reading import Claim, EntryProblem, entry_claims, read_document
from .results import MISSING, WRONG, FileResult, Result
from .variants import describe

SUBMISSION_SUFFIXES = (".yaml", ".yml", ".json")  # JSON is YAML: a .json submission is read the same way
DECIDED_BY_KEY = ("spec", "input", "batch", "dtype")
ABOUT_THE_SUBMISSION = ("title", "name", "student")  # accepted and not graded
MAX_SHOWN = 40
MAX_COMPARED_VARIANTS = 64  # a wrong answer is compared with every other variant's value up to this many


def submission_student(path):
    """The student a submission is from: its file name without the extension (alice.yaml: alice)."""
    return os.path.splitext(os.path.basename(str(path)))[0]


def grade_submissions(key, paths, students=None):
    """Each submission against ``key`` (against its student's variant when the key varies); ``students``:
    the student id of each path, else each file's name without its extension."""
    students = students or [None] * len(paths)
    return [grade_submission(key, path, student) for path, student in zip(paths, students)]


def grade_submission(key, path, student=None):
    """One submission file graded against ``key``."""
    path = str(path)
    student = submission_student(path) if student is None else student
    repeats = []
    try:
        if not path.lower().endswith(SUBMISSION_SUFFIXES):
            raise AnswerError("not read: a submission is a .yaml, .yml or .json file", file=path)
        if os.path.islink(path):
            raise AnswerError("not read: a submission may not be a symbolic link", file=path)
        if os.path.exists(path) and not os.path.isfile(path):
            raise AnswerError("not read: not a regular file", file=path)
        document = read_document(path, repeats)
    except CnnCalcError as err:
        return not_graded(key, path, str(err), student)
    return grade_document(key, document, path, student, repeats)


def not_graded(key, file, error, student=None):
    results = [_missing(file, question, "not graded") for question in key.questions]
    return FileResult(file, results, error=error, spec=key.report.name, input=key.report.input,
                      max_points=key.max_points, student=student if key.vary else None)


def grade_document(key, document, file="<submission>", student=None, repeats=()):
    """A submission already read from YAML (or a plain dict) graded against ``key``."""
    if isinstance(document, dict) and not isinstance(document, Located):
        document = Located(document)
    if document is None or (isinstance(document, dict) and not document):
        return not_graded(key, file, str(AnswerError("no answers (the file is empty)", file=file)), student)
    if not isinstance(document, dict):
        return not_graded(key, file, str(AnswerError(
            "a submission is a mapping: answers: [{layer: conv1, params: 23296}] or q1: 64x56x56 by question id",
            file=file, line=getattr(document, "line", None))), student)
    base = key
    if key.vary is not None:
        student = submission_student(file) if student is None else student
        try:
            key = key.for_student(student)
        except CnnCalcError as err:
            return not_graded(base, file, str(err), student)
    reader = _Answers(key)
    for name, line, first in repeats:
        question = key.by_folded.get(str(name).casefold())
        what = f"a second answer to {question.id}" if question else f"{_shown_key(name)} is written again"
        reader.ignored.append(f"line {line}: {what}; the first (line {first}) counts")
    reader.read(document)
    reader.ignored.sort(key=_line_number)
    results = []
    for question in key.questions:
        claim = reader.answers.get(question.id)
        if claim is None or claim.value is None:
            results.append(_missing(file, question, "no answer (~)" if claim is not None else "no answer"))
            continue
        mark = (question.id, type(claim.value).__name__, repr(claim.answer))
        if mark not in key.graded:  # a class writes the same answers again and again: grade each once
            result = key.grader.grade_claim(file, question.target, question.quantity, claim.value, claim.line,
                                            claim.answer, question.points, question.id, question.tolerance)
            if result.status == WRONG and base.vary is not None:
                note = _other_variant_note(base, key, question, claim)
                if note:
                    result.notes.insert(0, note)
            key.graded[mark] = result
        results.append(key.graded[mark].at(file, claim.line))
    return FileResult(file, results, spec=key.report.name, input=key.report.input, max_points=key.max_points,
                      notes=reader.notes, ignored=reader.ignored, student=student if base.vary else None,
                      values=key.values)


def _other_variant_note(base, key, question, claim):
    """'this is the value for another set of numbers' when the wrong answer is right for another variant."""
    if base.vary.count > MAX_COMPARED_VARIANTS:
        return None
    memo = base.compared
    mark = (question.id, repr(claim.answer))
    if mark not in memo:
        memo[mark] = [other.values for other in base.every_variant()
                      if other.grader.grade_claim("", other.by_id[question.id].target, question.quantity, claim.value,
                                                  claim.line, claim.answer, tolerance=question.tolerance).correct]
    others = [values for values in memo[mark] if values != key.values]
    if not others:
        return None
    return (f"this is the value for another set of numbers ({describe(others[0])}); yours are "
            f"{describe(key.values)}")


def _line_number(text):
    number = text[len("line "):].partition(":")[0]
    return int(number) if text.startswith("line ") and number.isdigit() else 0


def _missing(file, question, message):
    return Result(file, None, question.layer, question.quantity, None, MISSING, points=question.points,
                  question=question.id, message=message)


def _shown_key(key):
    text = str(key)
    return repr(text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "...")


class _Answers:
    """The answers of one submission, matched to the key's questions (the first answer to each counts)."""

    def __init__(self, key):
        self.key = key
        self.answers = {}
        self.lines = {}
        self.notes = []
        self.ignored = []

    def read(self, document):
        decided = [k for k in DECIDED_BY_KEY if k in document]
        if decided:
            report = self.key.report
            self.notes.append(f"{', '.join(decided)} ignored: the key decides the network ({report.name}, input "
                              f"{full_shape(report.input)})")
        if "points" in document:
            self.notes.append("points ignored: the key sets them")
        for name, value in document.items():
            line = document.line_of(name)
            if name in DECIDED_BY_KEY or name in ABOUT_THE_SUBMISSION or name == "points":
                continue
            if name == "answers":
                self.read_answers(value, line)
            else:
                self.by_id(name, value, line)

    def read_answers(self, value, line):
        if isinstance(value, dict):
            for name, answer in value.items():
                self.by_id(name, answer, value.line_of(name) if isinstance(value, Located) else line)
            return
        if not isinstance(value, list):
            self.ignored.append(f"line {line}: 'answers' is neither a list nor a mapping of question ids")
            return
        lines = getattr(value, "item_lines", None) or [line] * len(value)
        points_seen = False
        for position, (entry, item_line) in enumerate(zip(value, lines), 1):
            points_seen = points_seen or (isinstance(entry, dict) and "points" in entry)
            try:
                claims, _ = entry_claims(entry, position, item_line, keyed=True)
            except EntryProblem as problem:
                self.ignored.append(f"line {problem.line}: {problem.message}")
                continue
            for claim in claims:
                self.by_claim(claim)
        if points_seen and "points ignored: the key sets them" not in self.notes:
            self.notes.append("points ignored: the key sets them")

    def by_id(self, name, value, line):
        question = self.key.by_id.get(str(name))
        if question is None:
            question = self.key.by_folded.get(str(name).casefold())
            if question is not None:
                self.notes.append(f"{_shown_key(name)} read as {question.id} (question ids are not case-sensitive)")
        if question is None:
            self.ignored.append(f"line {line}: {_shown_key(name)} is not a question of the key")
            return
        self.take(question, Claim(question.layer, question.quantity, value, line, question=question.id))

    def by_claim(self, claim):
        question = self.key.by_id.get(claim.question) or self.key.by_folded.get(str(claim.question).casefold())
        if question is None or question.quantity != claim.quantity:
            question = self.key.by_pair.get((claim.layer, claim.quantity))
        if question is None:
            about = f"question {claim.question}" if claim.layer is None else claim.layer
            self.ignored.append(f"line {claim.line}: {about} {claim.quantity} is not a question of the key")
            return
        self.take(question, claim)

    def take(self, question, claim):
        if question.id in self.answers:
            self.ignored.append(f"line {claim.line}: a second answer to {question.id}; the first (line "
                                f"{self.lines[question.id]}) counts")
            return
        self.answers[question.id] = claim
        self.lines[question.id] = claim.line
