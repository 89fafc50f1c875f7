"""A student's problem sheet: the network with their numbers and the key's questions (``cnncalc sheet``).

The sheet is written from the same variant ``check --key`` grades that student against
(``Key.for_student``), so what a student is asked is what they are graded on.
"""

import re

from ..errors import CnnCalcError
from ..numbers import as_shape
from ..render.shapes import full_shape, layout
from .authoring import variant_values
from .results import number_text
from .variants import describe

# what an answer to each quantity looks like, for the sheet's answer template
ANSWER_FORMS = {
    "output_shape": "a shape, C x H x W (like 16x32x32)",  # or as SHAPE_FORMS says for other outputs
    "params": "a count, exact (like 34944)",
    "macs": "a count of multiply-accumulates, exact",
    "flops": "the lecture flop (MACs plus pooling windows), exact",
    "memory_bytes": "bytes (like 802816)",
    "memory_kb": "KB, 1 KB = 1024 B (like 182.25)",
    "receptive_field": "one size per axis, or one (like 19)",
    "fits": "true or false",
}
# an output that is not a C x H x W map: its answer's form by its layout
SHAPE_FORMS = {"N x D": "a shape, N x D: tokens x width (like 197x768)", "a flat vector": "a size (like 4096)",
               "C x L": "a shape, C x L (like 16x1000)", "C x D x H x W": "a shape, C x D x H x W (like 64x16x56x56)"}
SAFE_ID = re.compile(r"^[A-Za-z0-9@_+-][A-Za-z0-9@._+-]{0,99}$")


class Sheet:
    """One student's sheet: their variant of the key, shown as markdown or data."""

    def __init__(self, key, student, answers=False):
        self.base = key
        self.student = student
        self.key = key.for_student(student)
        self.answers = answers

    def data(self):
        key = self.key
        questions = []
        for question in key.questions:
            item = {"id": question.id, "layer": question.layer, "quantity": question.quantity,
                    "points": question.points}
            if self.answers:
                item["answer"] = key.grader.truth(question.target, question.quantity)
                if question.tolerance is not None and not question.tolerance.exact:
                    item["tolerance"] = question.tolerance.text
            questions.append(item)
        return {"student": self.student, "values": variant_values(key.values), "questions": questions,
                "title": key.title, "spec": key.report.name, "input": list(key.report.input),
                "network": network_text(self.base, key)}

    def markdown(self):
        key = self.key
        title = key.title or f"{key.report.name}: questions"
        lines = [f"# {title}", "", f"Student: {self.student}", ""]
        if key.values:
            lines += [f"Your numbers: {describe(key.values)}.", ""]
        lines += ["## The network", "", f"Input {full_shape(key.report.input)} ({layout(key.report.input)})"
                  + ("" if key.report.batch == 1 else f", batch {key.report.batch}")
                  + ("" if key.report.dtype == "fp32" else f", {key.report.dtype}")
                  + ". Every layer, with your numbers:", ""]
        # indented code blocks: a sheet pasted into another markdown page cannot close that page's fence
        lines += [f"    {line}" for line in network_text(self.base, key).rstrip("\n").splitlines()]
        lines += ["", "## Questions", ""]
        header = "| id | question | points |" + (" answer |" if self.answers else "")
        lines += [header, "|---|---|---|" + ("---|" if self.answers else "")]
        for question in key.questions:
            row = f"| {question.id} | {question.quantity} of {question.layer} | {number_text(question.points)} |"
            if self.answers:
                row += f" {key.grader.truth(question.target, question.quantity)} |"
            lines.append(row)
        exact = any(q.tolerance is not None and q.tolerance.exact for q in key.questions)
        lines += ["", f"Hand in a YAML file (`{self.student}.yaml`), one line per question"
                  + (" (counts and sizes exact, not rounded)" if exact else "") + ":", ""]
        lines += [f"    {question.id}:    # {_answer_form(question)}" for question in key.questions]
        return "\n".join(lines) + "\n"


def _answer_form(question):
    """How an answer to ``question`` is written: a shape's form follows the layer's output (tokens, a vector...)."""
    if question.quantity == "output_shape":
        return SHAPE_FORMS.get(layout(question.target.last.out_shape), ANSWER_FORMS["output_shape"])
    return ANSWER_FORMS[question.quantity]


def network_text(base, key):
    """The variant's network as a spec with every value written out (made once per variant)."""
    cache = base.__dict__.setdefault("networks", {})
    if key.values not in cache:
        import copy

        from ..spec.writer import to_yaml

        spec = copy.copy(key.report.spec)
        spec.input = as_shape(key.report.input)  # N x D tokens stay tokens (input: {tokens: [N, D]})
        cache[key.values] = to_yaml(spec)
    return cache[key.values]


def read_roster(path):
    """Student ids from a roster: one a line (blank lines and # comments skipped), or a CSV with an ``id``
    column. A CnnCalcError (the file's fault: exit 1) naming the line of an id that cannot name a file, or
    of one listed twice."""
    import csv

    from ..spec.loader import read_text

    text = read_text(path)  # a missing roster is the input's fault, as a missing key is (exit 1)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    header = [cell.strip().lower() for cell in next(csv.reader([first]))] if first else []
    if "," in first and "id" in header:
        column = header.index("id")
        start = lines.index(first) + 1
        rows = [(number, row[column] if column < len(row) else "")
                for number, row in enumerate(csv.reader(lines[start:]), start + 1) if any(c.strip() for c in row)]
    else:
        rows = [(number, line) for number, line in enumerate(lines, 1)
                if line.strip() and not line.lstrip().startswith("#")]
    ids, seen = [], {}
    for number, student in rows:
        student = student.strip()
        if not SAFE_ID.match(student):
            raise CnnCalcError(f"{student[:40]!r} cannot be a student id here (letters, digits and @ . _ + -, at "
                               f"most 100, as it names the sheet's file)", file=path, line=number)
        folded = student.casefold()
        if folded in seen:
            raise CnnCalcError(f"{student} is listed twice (first at line {seen[folded]})", file=path, line=number)
        seen[folded] = number
        ids.append(student)
    if not ids:
        raise CnnCalcError("no student ids", file=path)
    return ids
