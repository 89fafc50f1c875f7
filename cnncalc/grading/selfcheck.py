"""Grading an answer file that decides everything itself: the spec, the input, the answers, the points.

Right for a student checking their own work; a grader uses a key instead (``keyed.py``).
"""

import os

from ..errors import CnnCalcError
from .grader import Grader
from ..spec.loader import Located
from .reading import (EntryProblem, analyze_named, analyze_setting, as_mapping, entry_claims, entry_list,
                      input_order_note, named_setting, read_document)
from .results import ERROR, FileResult, Result

FILE_KEYS = ("spec", "answers", "input", "batch", "dtype", "title")
# two built-ins a student mixes up: name -> (the other, what it is)
TWINS = {"alexnet": ("alexnet_cs231n", "the CS231n slides' AlexNet (96 filters in conv1, 227x227x3)"),
         "alexnet_cs231n": ("alexnet", "the torchvision layout of the EECS 498 table (64 filters in conv1)")}


def check_files(paths):
    """Grade each answer file independently; a broken file becomes a FileResult with ``error``."""
    return [check_file(path) for path in paths]


def check_file(path):
    path = str(path)
    try:
        document = read_document(path, markers=FILE_KEYS[:2], kind="answer file")
    except CnnCalcError as err:
        return FileResult(path, error=str(err))
    return check_document(document, file=path, base_dir=os.path.dirname(path) or ".")


def check_document(document, file="<answers>", base_dir="."):
    """Grade an answer document already read from YAML (or a plain dict)."""
    try:
        document = as_mapping(document, file, FILE_KEYS, "an answer file", "answer file")
        setting = named_setting(document, file, base_dir)
        report = analyze_setting(setting)
        entries = entry_list(document, file, "answers")
    except CnnCalcError as err:
        return FileResult(file, error=str(err))
    results = grade_entries(Grader(report), file, entries)
    notes = [note for note in (input_order_note(setting), twin_note(document, results, file, base_dir, entries))
             if note]
    return FileResult(file, results, spec=report.name, input=report.input, notes=notes)


def grade_entries(grader, file, entries):
    results = []
    for position, (entry, line) in enumerate(entries, 1):
        results += grade_entry(grader, file, entry, position, line)
    return results


def twin_note(document, results, file, base_dir, entries):
    """When every answer is wrong for spec: alexnet and right for alexnet_cs231n (or the other way round)."""
    name = document.get("spec")
    if not isinstance(name, str) or name not in TWINS or not results or any(r.correct for r in results):
        return None
    other = Located(document, line=document.line, key_lines=document.key_lines)
    other["spec"] = TWINS[name][0]
    try:
        twin = grade_entries(Grader(analyze_named(other, file, base_dir)), file, entries)
    except CnnCalcError:
        return None
    if not all(r.correct for r in twin):
        return None
    return (f"every answer is right for the built-in {TWINS[name][0]}, {TWINS[name][1]}; spec: {name} is "
            f"{TWINS[TWINS[name][0]][1]}")


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
