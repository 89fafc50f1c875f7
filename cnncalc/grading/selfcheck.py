"""Grading an answer file that decides everything itself: the spec, the input, the answers, the points.

Right for a student checking their own work; a grader uses a key instead (``keyed.py``).
"""

import os

from ..errors import CnnCalcError
from .grader import Grader
from .reading import EntryProblem, analyze_named, as_mapping, entry_claims, entry_list, read_document
from .results import ERROR, FileResult, Result

FILE_KEYS = ("spec", "answers", "input", "batch", "dtype", "title")


def check_files(paths):
    """Grade each answer file independently; a broken file becomes a FileResult with ``error``."""
    return [check_file(path) for path in paths]


def check_file(path):
    path = str(path)
    try:
        document = read_document(path, FILE_KEYS[:2], "answer file")
    except CnnCalcError as err:
        return FileResult(path, error=str(err))
    return check_document(document, file=path, base_dir=os.path.dirname(path) or ".")


def check_document(document, file="<answers>", base_dir="."):
    """Grade an answer document already read from YAML (or a plain dict)."""
    try:
        document = as_mapping(document, file, FILE_KEYS, "an answer file", "answer file")
        report = analyze_named(document, file, base_dir)
        entries = entry_list(document, file, "answers")
    except CnnCalcError as err:
        return FileResult(file, error=str(err))
    grader = Grader(report)
    results = []
    for position, (entry, line) in enumerate(entries, 1):
        results += grade_entry(grader, file, entry, position, line)
    return FileResult(file, results, spec=report.name, input=report.input)


def grade_entry(grader, file, entry, position, item_line):
    try:
        claims, layer_line = entry_claims(entry, position, item_line)
    except EntryProblem as problem:
        return [Result(file, problem.line, problem.layer, None, None, ERROR, message=problem.message,
                       points=problem.points)]
    first = claims[0]
    try:
        target = grader.target(first.layer)
    except CnnCalcError as err:
        # one line for the whole answer, worth all of its claims
        answer = {claim.quantity: claim.answer for claim in claims}
        return [Result(file, layer_line, first.layer, ", ".join(answer), answer, ERROR, message=err.message,
                       points=first.points * len(claims), question=first.question)]
    return [grader.grade_claim(file, target, c.quantity, c.value, c.line, c.answer, c.points, c.question)
            for c in claims]
