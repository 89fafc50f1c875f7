"""Grading results as text: one line per answer, the right value and worked arithmetic of a wrong one,
a line per file, and a summary of all files or of a class."""

from ..errors import _one_line as one_line
from ..render.shapes import full_shape
from .results import ERROR, MISSING, RIGHT, WRONG, class_stats, number_text
from ..numbers import plural


def result_lines(result, explain=True, keyed=False):
    """A result as text: one line, then (for a wrong one) notes and the worked arithmetic."""
    label = f"{result.question} " if keyed else ""
    worth = f"  ({points_text(result.score, result.points)})" if keyed else ""
    if result.status == MISSING:
        return [f"missing  {label}{result.layer} {result.quantity}: {result.message}{worth}"]
    if result.status == ERROR:
        return [f"error  {label}{result.where}: {result.message}{worth}"]
    answer = answer_shown(result.answer)
    head = f"{result.status:<5}  {label}{result.layer} {result.quantity} = {answer}"
    if result.status == RIGHT:
        extra = []
        if result.read_as == "H x W x C":
            extra.append("read as H x W x C")
        if result.expected is not None and result.notes:
            extra.append(result.notes[0])
        return [head + (f"  ({'; '.join(extra)})" if extra else "") + worth]
    reading = f" (read as {result.read_as})" if result.read_as else ""
    lines = [f"{head}{reading}  [line {result.line}]{worth}", f"       right: {result.expected}"]
    lines += [f"       note: {note}" for note in result.notes]
    if explain:
        lines += [f"         {line}" for line in result.explanation]
    return lines


def variant_text(file_result):
    """`` (student bob: input 3x48x48, width 16)`` for a submission graded against its student's variant."""
    from .variants import describe

    if file_result.student is None:
        return ""
    return f" (student {file_result.student}" + (f": {describe(file_result.values)})" if file_result.values else ")")


def points_text(points, max_points):
    return f"{number_text(points)} of {number_text(max_points)} point{'' if max_points == 1 else 's'}"


def answer_shown(answer):
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
    fr = file_result
    if fr.keyed:
        text = f"{fr.file}: {points_text(fr.points, fr.max_points)}, {fr.correct} of {fr.total} questions right"
        return text + (" (not graded: the file has an error)" if fr.error is not None else "")
    if fr.error is not None:
        return f"{fr.file}: not graded (the file has an error)"
    wrong = sum(1 for r in fr.results if r.status == WRONG)
    errors = sum(1 for r in fr.results if r.status == ERROR)
    return f"{fr.file}: " + summary_text(fr.correct, fr.total, wrong, errors)


def render_text(file_results, explain=True, quiet=False):
    lines = []
    for index, fr in enumerate(file_results):
        if index:
            lines.append("")
        if fr.error is not None:
            lines.append(f"error  {fr.error}")
            lines.append(file_summary(fr))
            continue
        lines.append(f"{fr.file}: {fr.spec}, input {full_shape(fr.input)}{variant_text(fr)}")
        lines += [f"note: {note}" for note in fr.notes]
        for result in fr.results:
            if quiet and result.correct:
                continue
            lines += result_lines(result, explain, fr.keyed)
        lines += [f"ignored  {text}" for text in fr.ignored]
        lines.append(file_summary(fr))
    if len(file_results) > 1:
        lines += ["", run_summary(file_results)]
    return "\n".join(one_line(line) for line in lines)  # a submission's text cannot move the terminal


def overall_summary(file_results):
    results = [r for fr in file_results for r in fr.results]
    wrong = sum(1 for r in results if r.status == WRONG)
    errors = sum(1 for r in results if r.status == ERROR)
    correct = sum(1 for r in results if r.correct)
    text = f"all files: {summary_text(correct, len(results), wrong, errors)}, in {plural(len(file_results), 'file')}"
    broken = sum(1 for fr in file_results if fr.error is not None)
    if broken:
        text += f" ({broken} not graded: the file has an error)"
    return text


def class_summary(file_results):
    """One line: submissions, mean, median, min, max points, the most-missed question."""
    stats = class_stats(file_results)
    each = f"{number_text(stats['max_points'])} point{'' if stats['max_points'] == 1 else 's'} each"
    text = (f"class: {stats['submissions']} submissions, {each}; "
            f"mean {number_text(stats['mean'])}, median {number_text(stats['median'])}, "
            f"min {number_text(stats['min'])}, max {number_text(stats['max'])}")
    most = stats["most_missed"]
    if most:
        text += (f"; most missed: {most['question']} ({most['layer']} {most['quantity']}), missed by "
                 f"{most['missed_by']} of {stats['submissions']}")
    if stats["not_graded"]:
        text += f"; {stats['not_graded']} not graded (the file has an error)"
    return text


def run_summary(file_results):
    """The one line printed when the results went to a file."""
    if len(file_results) == 1:
        return file_summary(file_results[0])
    return class_summary(file_results) if file_results[0].keyed else overall_summary(file_results)
