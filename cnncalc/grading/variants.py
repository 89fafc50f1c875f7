"""A different problem for every student: a key's ``vary:`` and ``seed:``.

    vary: {input: [[3, 192, 192], [3, 224, 224]], width: [32, 48, 64]}
    seed: 2024

Each name is ``input`` or a name of the spec's ``params:``, with a list of choices. A student's
variant picks one choice per name, a deterministic function of (seed, name, student id) through
SHA-256 (never Python's ``hash()``, which changes from run to run): the same student always gets the
same numbers, and the sheet written for them is the problem they are graded on.
"""

import hashlib
import itertools

from ..errors import AnswerError, CnnCalcError, did_you_mean
from ..render.shapes import full_shape
from ..spec.params import setting_problem
from .reading import answer_text, input_override

MAX_CHOICES = 100      # per name
MAX_VARIANTS = 1_000   # choices multiplied over the names: `check --key` analyses every one
MAX_SEED_CHARS = 100


def student_id(text):
    """A student id as compared: surrounding spaces and case do not matter (A123 is a123)."""
    return str(text).strip().casefold()


class Vary:
    """The names that vary, their choices, and the seed."""

    def __init__(self, names, choices, seed, line):
        self.names, self.choices, self.seed, self.line = names, choices, seed, line

    @property
    def count(self):
        count = 1
        for options in self.choices:
            count *= len(options)
        return count

    def choose(self, student):
        """The student's values: a tuple of (name, value), one per name, in the key's order."""
        student = student_id(student)
        picked = []
        for name, options in zip(self.names, self.choices):
            digest = hashlib.sha256(f"{self.seed}\x1f{name}\x1f{student}".encode("utf-8")).digest()
            picked.append((name, options[int.from_bytes(digest[:8], "big") % len(options)]))
        return tuple(picked)

    def every(self):
        """Every variant, in the order of the choices."""
        for values in itertools.product(*self.choices):
            yield tuple(zip(self.names, values))


def read_vary(document, file, spec):
    """The key's ``vary`` and ``seed``, checked (None when the key does not vary); AnswerError if wrong."""
    if "vary" not in document:
        if "seed" in document:
            raise AnswerError("'seed' without 'vary': nothing varies", file=file, line=document.line_of("seed"))
        return None
    section, line = document["vary"], document.line_of("vary")
    if not isinstance(section, dict) or not section:
        raise AnswerError("'vary' must be a mapping of names to lists of choices, like vary: {input: "
                          "[[3, 192, 192], [3, 224, 224]], width: [32, 48]}", file=file, line=line)
    names, choices = [], []
    for name, options in section.items():
        where = section.line_of(name) if hasattr(section, "line_of") else line
        if name != "input" and name not in spec.params:
            known = ["input"] + sorted(spec.params)
            raise AnswerError(f"vary: '{answer_text(name)}' is neither input nor a param of {spec.name}"
                              f"{did_you_mean(str(name), known)} (its params: {', '.join(sorted(spec.params)) or 'none'})",
                              file=file, line=where)
        if not isinstance(options, list) or not options:
            raise AnswerError(f"vary: {name} must be a list of choices, like [32, 48, 64]", file=file, line=where)
        if len(options) > MAX_CHOICES:
            raise AnswerError(f"vary: {name} has {len(options):,} choices; the limit is {MAX_CHOICES}", file=file,
                              line=where)
        if name == "input":
            options = [input_override(option, spec, file, where) for option in options]
        else:
            for option in options:
                problem = setting_problem(option)
                if problem:
                    raise AnswerError(f"vary: {name}: {problem}", file=file, line=where)
        if len(set(map(repr, options))) != len(options):
            raise AnswerError(f"vary: {name} lists a choice twice", file=file, line=where)
        names.append(str(name))
        choices.append(list(options))
    seed = document.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, str)) or len(str(seed)) > MAX_SEED_CHARS:
        raise AnswerError(f"'seed' must be a whole number or a word (at most {MAX_SEED_CHARS} characters)",
                          file=file, line=document.line_of("seed"))
    vary = Vary(names, choices, seed, line)
    if vary.count > MAX_VARIANTS:
        raise AnswerError(f"vary makes {vary.count:,} variants; the limit is {MAX_VARIANTS:,}", file=file, line=line)
    return vary


def describe(values):
    """``input 3x224x224, width 48``."""
    return ", ".join(f"{name} {full_shape(value) if name == 'input' else answer_text(value)}"
                     for name, value in values)


def analyze_variant(setting, values, line):
    """The report of one variant; an AnswerError naming it (at the key's ``vary`` line) if it does not run."""
    from .reading import analyze_setting

    chosen = dict(values)
    params = {name: value for name, value in values if name != "input"}
    try:
        return analyze_setting(setting, input=chosen.get("input"), params=params or None, where="vary")
    except CnnCalcError as err:
        raise AnswerError(f"variant {describe(values)}: {err.message}", file=setting.file, line=line) from None
