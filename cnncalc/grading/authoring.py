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


def key_text(report, spec_text, layers=None, quantities=("output_shape", "params"), points=1):
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
             f"spec: {_scalar(spec_text)}",
             f"input: [{', '.join(str(s) for s in report.input)}]"]
    if report.batch != 1:
        lines.append(f"batch: {report.batch}")
    if report.dtype != "fp32":
        lines.append(f"dtype: {report.dtype}")
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


def _scalar(text):
    """A YAML scalar: as it is when plain, else double-quoted."""
    import json

    return text if PLAIN.match(text) else json.dumps(text)
