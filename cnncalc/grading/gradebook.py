"""Grading results as data: the gradebook CSV, JSON, and Gradescope's autograder results.json."""

import csv
import io
import os

from ..errors import one_line
from ..render.escape import escape_csv
from .feedback import file_summary, result_lines, variant_text
from .results import ERROR, MISSING, RIGHT, WRONG, class_stats, number_text
from .variants import describe

CSV_COLUMNS = ("file", "points", "max_points", "correct", "total", "error")
# a question's status in the gradebook: an answer that could not be read is "unreadable"
CSV_STATUS = {RIGHT: "right", WRONG: "wrong", ERROR: "unreadable", MISSING: "missing"}


def to_csv(file_results, key=None):
    """One row per file: ``file,points,max_points,correct,total,error``; against a key, then one column per
    question (its points scored: ``q1``...) and one per question's status (``q1_status``...: right, wrong,
    unreadable, missing), and for a key that varies ``student`` and ``variant``.

    The error cell holds the file's error, or the reason of each answer that could not be read. Cells are
    escaped as every CSV cell is: one line (a submission named ``a\nb.yaml`` cannot forge a row), and no
    cell a spreadsheet runs (``=cmd|...yaml``).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ids = [q.id for q in key.questions] if key is not None else []
    varies = key is not None and key.vary is not None
    writer.writerow(list(CSV_COLUMNS) + ids + [f"{qid}_status" for qid in ids] + (["student", "variant"] if varies
                                                                                   else []))
    for fr in file_results:
        by_id = {r.question: r for r in fr.results}
        unreadable = [f"{r.question or r.layer}: {r.message}" for r in fr.results if r.status == ERROR]
        row = [_cell(fr.file), number_text(fr.points), number_text(fr.max_points), fr.correct, fr.total,
               _cell(fr.error or "; ".join(unreadable))]
        row += [number_text(by_id[qid].score) if qid in by_id else "0" for qid in ids]
        row += ["unreadable" if fr.error is not None else CSV_STATUS[by_id[qid].status] if qid in by_id
                else "missing" for qid in ids]
        if varies:
            row += [_cell(fr.student or ""), _cell(describe(fr.values))]
        writer.writerow(row)
    return out.getvalue().rstrip("\n")


def _cell(text):
    return escape_csv(one_line(text))


def to_json(file_results, key=None):
    """Against a key: ``{"key", "max_points", "submissions": [...], "summary"}``. Without one, one file is
    its object and several are ``{"correct", "total", "files": [...]}``."""
    if key is not None:
        return {"key": key.file, "spec": key.report.name, "max_points": key.max_points,
                "submissions": [fr.to_dict() for fr in file_results],
                "summary": class_stats(file_results, [q.id for q in key.questions])}
    if len(file_results) == 1:
        return file_results[0].to_dict()
    return {"correct": sum(fr.correct for fr in file_results), "total": sum(fr.total for fr in file_results),
            "files": [fr.to_dict() for fr in file_results]}


def to_gradescope(file_result):
    """Gradescope's autograder ``results.json`` for one submission: a test per question or answer."""
    fr = file_result
    tests = []
    if fr.error is not None and not fr.results:
        tests.append({"name": "answer file", "score": 0, "max_score": 1, "status": "failed",
                      "output": f"error: {fr.error}", "visibility": "visible"})
    for result in fr.results:
        name = result.question or f"{result.layer} {result.quantity}"
        if fr.keyed:
            name = f"{result.question}: {result.layer} {result.quantity}"
        elif result.line is not None:
            name += f" (line {result.line})"
        if fr.error is not None:
            output = f"not graded: {fr.error}"
        elif result.status == MISSING:
            output = "no answer"
        else:
            output = "\n".join(result_lines(result))
        tests.append({"name": name, "score": result.score, "max_score": result.points,
                      "status": "passed" if result.correct else "failed", "output": output,
                      "visibility": "visible"})
    output = [file_summary(fr) + variant_text(fr)] + [f"note: {note}" for note in fr.notes] + [f"ignored: {text}" for text in fr.ignored]
    max_score = fr.max_points if fr.keyed or fr.results else 1
    return {"score": fr.points, "max_score": max_score, "output": "\n".join(output), "visibility": "visible",
            "tests": tests}


# A results file's name without its count and `.json`, in UTF-8 bytes: a file name is at most 255 bytes, and
# a submission named with 250 control characters (each escaped as 4) or 250 UTF-8 letters would pass that.
MAX_RESULT_STEM_BYTES = 150


def gradescope_names(file_results):
    """A results file name per submission, for a folder of them: ``alice.json``, ``alice-2.json``...

    Always a valid file name (escaped as the name is printed, at most MAX_RESULT_STEM_BYTES before its count)
    and unique, found in linear time: each stem remembers the last count it was given."""
    names, used, last = [], set(), {}
    for fr in file_results:
        stem = _result_stem(fr.file)
        count = last.get(stem, 1)
        name = f"{stem}.json" if count == 1 else f"{stem}-{count}.json"
        while name in used:
            count += 1
            name = f"{stem}-{count}.json"
        last[stem] = count
        used.add(name)
        names.append(name)
    return names


def gradescope_student(path):
    """The student of a Gradescope submission (``/autograder/submission/answers.yaml``): the first user's
    ``sid`` in ``/autograder/submission_metadata.json``, else their email; None when there is none.

    The metadata is read from the folder above the submission's, never from the submission's own folder,
    where a student could put a file of that name to choose their variant.
    """
    import json

    from ..errors import CnnCalcError
    from ..spec.loader import read_text

    folder = os.path.dirname(os.path.dirname(os.path.abspath(str(path))))
    metadata = os.path.join(folder, "submission_metadata.json")
    if not os.path.isfile(metadata):
        return None
    try:
        users = json.loads(read_text(metadata)).get("users") or [{}]
        first = users[0] if isinstance(users, list) and isinstance(users[0], dict) else {}
    except (CnnCalcError, ValueError, AttributeError):
        return None
    for field in ("sid", "email"):
        value = first.get(field)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _result_stem(file):
    # escaped as the name is printed: no line break or terminal escape in a file name the folder gets
    stem = one_line(os.path.splitext(os.path.basename(str(file)))[0])
    stem = stem.encode("utf-8", "replace")[:MAX_RESULT_STEM_BYTES].decode("utf-8", "ignore")
    return stem or "submission"
