"""Writing an answer key from a spec: ``cnncalc key SPEC --quantities ... --layers ...``.

Each question carries the true value as a comment, so an instructor can read the key and keep it.
"""

import re

from ..errors import AnswerError, UsageError
from .grader import Grader
from .quantities import QUANTITIES, QUANTITY
from .values import ClaimError

PLAIN = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./\-]*$")


def default_layers(report):
    """The layers with weights, then the whole network."""
    return [row.name for row in report.rows if row.weight_layers] + ["total"]


def key_text(report, spec_text, layers=None, quantities=("output_shape", "params"), points=1, tolerance=None):
    """The YAML of a key asking ``quantities`` of each of ``layers``, the true values as comments."""
    for quantity in quantities:
        if quantity not in QUANTITY:
            from ..errors import did_you_mean

            raise UsageError(f"--quantities {quantity}: unknown quantity '{quantity}'"
                             f"{did_you_mean(quantity, QUANTITIES)} "
                             f"(quantities: {', '.join(QUANTITIES)})")
    grader = Grader(report)
    lines = [f"# Answer key for {report.name}, written by `cnncalc key`; each comment is the true value.",
             "# Grade with: cnncalc check --key THIS_FILE SUBMISSION...",
             "# A count or size is right only at its exact value (34944, 34,944 or 34.944K) unless the key or",
             "# a question gives a tolerance (tolerance: 1% of the exact value, or an amount such as 500).",
             *_spec_lines(spec_text),
             f"input: [{', '.join(str(s) for s in report.input)}]"]
    if report.batch != 1:
        lines.append(f"batch: {report.batch}")
    if report.dtype != "fp32":
        lines.append(f"dtype: {report.dtype}")
    if tolerance is not None:
        text = str(tolerance).strip()
        lines.append(f"tolerance: {text if re.fullmatch(r'[0-9.]+ ?%?', text) else _scalar(text)}")
    lines.append("questions:")
    number = 0
    for layer in layers or default_layers(report):
        try:
            target = grader.target(layer)
        except AnswerError as err:  # a name on the command line, not in an answer file: a usage error
            raise UsageError(f"--layers {layer}: {err.message}") from None
        for quantity in quantities:
            try:
                truth = grader.truth(target, quantity)
            except ClaimError as err:
                lines.append(f"  # skipped {layer} {quantity}: {err}")
                continue
            number += 1
            lines.append(f"  - {{id: q{number}, layer: {_scalar(layer)}, quantity: {quantity}, points: {points}}}"
                         f"   # {truth}")
    if not number:
        raise UsageError("no question could be asked of these layers and quantities")
    return "\n".join(lines) + "\n"


def _spec_lines(spec):
    """``spec: NAME`` (a built-in or a path), or an inline spec (a mapping read from standard input)."""
    if not isinstance(spec, dict):
        return [f"spec: {_scalar(spec)}"]
    import yaml

    text = yaml.safe_dump(_plain(spec), sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
    return ["spec:"] + [f"  {line}" for line in text.splitlines()]


def _plain(value):
    """The spec as plain dicts, lists, numbers and text (what safe_dump writes)."""
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _scalar(text):
    """A YAML scalar: as it is when plain, else double-quoted."""
    import json

    return text if PLAIN.match(text) else json.dumps(text)


def key_listing(key):
    """`check --key KEY` alone: the key as understood, each question with its true value (per variant)."""
    from ..render.shapes import full_shape
    from .results import number_text

    head = (f"{key.file}: {key.report.name}, input {full_shape(key.report.input)}"
            f"{' as written' if key.vary else ''}; {len(key.questions)} "
            f"question{'s' if len(key.questions) != 1 else ''}, {number_text(key.max_points)} point"
            f"{'' if key.max_points == 1 else 's'}; a count or size is right only at its exact value unless a "
            f"tolerance is given")
    lines = [head]
    if key.title:
        lines.append(f"title: {key.title}")
    ids = max(len(q.id) for q in key.questions)  # q9 and q10 start their layers in one column
    width = max(len(f"{q.id:<{ids}}  {q.layer} {q.quantity}") for q in key.questions)
    for question, value in zip(key.questions, _truths(key)):
        about = f"{question.id:<{ids}}  {question.layer} {question.quantity}"
        lines.append(f"{about:<{width}}  {_worth(question):<10}  {value}{_tolerance_text(question)}")
    if key.vary:
        from .variants import describe

        variants = key.every_variant()
        lines.append(f"varies by student (seed {key.vary.seed}): {len(variants)} variants, each checked")
        for variant in variants:
            lines.append(f"  {describe(variant.values)}: "
                         + "; ".join(f"{q.id} {value}" for q, value in zip(variant.questions, _truths(variant))))
    return "\n".join(lines)


def key_listing_data(key):
    data = {"key": key.file, "spec": key.report.name, "input": list(key.report.input), "title": key.title,
            "max_points": key.max_points, "questions": _question_data(key)}
    if key.vary:
        data["seed"] = key.vary.seed
        data["variants"] = [{"values": variant_values(v.values), "questions": _question_data(v)}
                            for v in key.every_variant()]
    return data


def variant_values(values):
    """A variant's values as JSON: {"input": [3, 224, 224], "width": 48}."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in values}


def _question_data(key):
    return [{"id": q.id, "layer": q.layer, "quantity": q.quantity, "points": q.points,
             "tolerance": None if q.tolerance is None or q.tolerance.exact else q.tolerance.text, "value": value}
            for q, value in zip(key.questions, _truths(key))]


def _truths(key):
    return [key.grader.truth(q.target, q.quantity) for q in key.questions]


def _worth(question):
    from .results import number_text

    return f"{number_text(question.points)} point{'' if question.points == 1 else 's'}"


def _tolerance_text(question):
    if question.tolerance is None or question.tolerance.exact:
        return ""
    return f", give or take {question.tolerance.text}"
