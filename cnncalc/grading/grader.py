"""Grading one claimed value against the computed network: right or wrong, the right value, and why.

A claim is about a :class:`Target`: one layer, a block (every layer whose name starts with
``layer1.``) or ``total``. Counts and sizes are judged at the precision they are written in
(``35K`` is 34,944 rounded to thousands), or within a key's ``tolerance`` when it gives one.
"""

import difflib
import re
from fractions import Fraction

from ..errors import AnswerError, did_you_mean
from ..numbers import is_tokens
from ..render.shapes import full_shape, layout, pair_text
from ..render.units import human
from .explain import explanation
from .quantities import QUANTITIES, QUANTITY
from .results import ERROR, RIGHT, WRONG, Result
from .values import (ClaimError, decimal_memory_reading, parse_count, parse_flag, parse_memory, parse_sizes,
                     readable_memory, shown)

TOTAL = "total"
# An unknown layer name is answered with the nearest names, found by spelling among at most this many
# names, for at most this many unknown names a network (difflib over a 100,000-layer network took a third
# of a second a name: 300 unknown names in one answer file ran past 20 s).
MAX_SUGGESTION_CHOICES = 1_000
MAX_SUGGESTED_NAMES = 50
ACTIVATION_NAME = re.compile(r"(relu|gelu|silu|elu|sigmoid|tanh|act|swish)", re.IGNORECASE)


class Target:
    """The rows an answer is about and their exact numbers."""

    def __init__(self, report, name, rows, whole=False):
        self.report = report
        self.name = name
        self.rows = rows
        self.whole = whole  # the network total: numbers come from report.totals
        self.single = len(rows) == 1 and rows[0].name == name
        # sums over the rows, each made once: an answer file may ask about one block thousands of times
        self.known = {}

    def once(self, what, compute):
        if what not in self.known:
            self.known[what] = compute()
        return self.known[what]

    def total(self, key):
        if self.whole:
            return self.report.totals[key]
        return self.once(key, lambda: sum(getattr(row, key) for row in self.rows))

    @property
    def last(self):
        return self.rows[-1]


class LayerIndex:
    """A report's rows by name and by every dotted prefix (``layer1``, ``layer1.0``), made once per network:
    finding each answer's layer by scanning every row made an answer file quadratic in the network's size."""

    def __init__(self, report):
        self.by_name = {row.name: row for row in report.rows}
        self.groups = {}
        for row in report.rows:
            parts = row.name.split(".")
            for end in range(1, len(parts)):
                self.groups.setdefault(".".join(parts[:end]), []).append(row)
        tops = sorted({row.name.split(".")[0] for row in report.rows} - set(self.by_name))
        self.choices = (list(self.by_name) + tops)[:MAX_SUGGESTION_CHOICES]
        self.suggestions_left = MAX_SUGGESTED_NAMES


def find_target(report, name, index=None):
    """The target an answer's ``layer`` names; an AnswerError listing the nearest names if none."""
    if name == TOTAL:
        return Target(report, name, list(report.rows), whole=True)
    index = index or LayerIndex(report)
    if name in index.by_name:
        return Target(report, name, [index.by_name[name]])
    members = index.groups.get(name)
    if members:
        return Target(report, name, list(members))
    nearest = ""
    if index.suggestions_left > 0:
        index.suggestions_left -= 1
        nearest = nearest_names(name, index.choices, report.rows)
    raise AnswerError(f"no layer named '{name}' in {report.name}{nearest}")


def nearest_names(name, choices, rows, count=3):
    """'; nearest: a, b, c': for an activation name (relu1) first the layers that apply one as ``act:``
    with the same number (conv1), then the closest names by spelling."""
    name = str(name)
    hosts = []
    activation = ACTIVATION_NAME.match(name) and any(row.act for row in rows)
    if activation:
        number = re.search(r"\d+$", name)
        hosts = [row.name for row in rows if row.act and number and row.name.endswith(number.group())
                 and not row.name[:-len(number.group())][-1:].isdigit()]
    close = hosts + [c for c in difflib.get_close_matches(name, choices, n=count, cutoff=0.0) if c not in hosts]
    text = "; nearest: " + ", ".join(close[:count])
    if activation:
        text += " (an activation written as act: on a layer is part of that layer's row)"
    return text


def unknown_quantity(key):
    text = f"unknown quantity '{key}'{did_you_mean(key, QUANTITIES)} (quantities: {', '.join(QUANTITIES)})"
    if str(key)[:1].isdigit():
        text += ("; inside {...} a comma separates entries, so quote a value written with commas "
                 "('37,749k') or write it without them")
    return text


class Grader:
    """Grades claims against one report; one grader serves every file graded against the same network."""

    def __init__(self, report):
        self.report = report
        self.decls = {decl.name: decl for decl in report.spec.layers}
        self.targets = {}
        self.index = None

    def target(self, name):
        if name not in self.targets:
            self.index = self.index or LayerIndex(self.report)
            self.targets[name] = find_target(self.report, name, self.index)
        return self.targets[name]

    def grade_claim(self, file, target, quantity, value, line, answer, points=1, question=None, tolerance=None):
        """One Result: ``value`` (as read from YAML) judged as ``quantity`` of ``target``."""
        if quantity not in QUANTITY:
            return Result(file, line, target.name, quantity, answer, ERROR, message=unknown_quantity(quantity),
                          points=points, question=question)
        if value is None:  # `params: ~` (or `params:` with nothing after it)
            return Result(file, line, target.name, quantity, answer, ERROR,
                          message=f"{target.name} {quantity}: no answer given (~)", points=points, question=question)
        try:
            status, fields = getattr(self, quantity)(target, value, tolerance)
        except ClaimError as err:
            return Result(file, line, target.name, quantity, answer, ERROR, message=f"{target.name} {quantity}: {err}",
                          points=points, question=question)
        near_miss = fields.pop("near_miss", [])
        if status == WRONG:
            fields["notes"] = fields.get("notes") or near_miss  # only when no convention explains it
            fields["explanation"] = list(target.once(("explanation", quantity), lambda: explanation(target, quantity)))
        return Result(file, line, target.name, quantity, answer, status, points=points, question=question, **fields)

    def truth(self, target, quantity):
        """The exact value of ``quantity`` for ``target`` as text (for a key's comments); ClaimError if none."""
        key = QUANTITY[quantity].total
        if quantity == "output_shape":
            return f"{full_shape(target.last.out_shape)} (C x H x W)" if len(target.last.out_shape) == 3 \
                else full_shape(target.last.out_shape)
        if quantity == "receptive_field":
            return pair_text(target.last.receptive_field)
        if quantity == "fits":
            return self.fits(target, True, None)[1]["expected"]
        exact = target.total(key)
        if quantity == "memory_kb":
            return f"{exact_kb(exact)} KB = {exact:,} B"
        if key == "memory_bytes":
            return f"{exact:,} B = {readable_memory(exact)}"
        return f"{exact:,}" + (f" ({human(exact)})" if exact >= 1000 else "")

    # --- numbers

    def grade_number(self, claim, exact, alternatives, exact_text, tolerance, default_unit="", readable=None):
        strict = tolerance is not None and tolerance.exact  # a key's question without a tolerance
        shown_exact = claim.render(exact, readable, default_unit)
        if strict:
            shown_exact = exact_text
        elif tolerance is not None:
            shown_exact = f"{exact_text}, give or take {tolerance.text}"
        fields = {"exact": exact, "expected": shown_exact}
        if claim.matches(exact, tolerance):
            if claim.value != exact:
                fields["notes"] = [precision_note(claim, exact, exact_text, shown_exact, tolerance)]
            return RIGHT, fields
        notes = []
        if strict and (claim.matches(exact) or _integer_rounding_note(claim, exact, exact_text)):
            notes.append(f"{claim.text} is {exact_text} rounded, and this key takes only the exact value")
        for label, other in alternatives if not notes else ():  # a rounding of the right value says so alone
            if other != exact and claim.matches(other):
                notes.append(f"{claim.text} equals {label}")
                break
        if tolerance is None:  # under a key's tolerance a plain integer is judged by the tolerance
            notes += _integer_rounding_note(claim, exact, exact_text)
        fields["notes"] = notes
        fields["near_miss"] = _closeness_note(claim, exact, tolerance)
        if exact_text not in shown_exact:
            fields["expected"] = f"{shown_exact} ({exact_text})"
        return WRONG, fields

    def biases(self, target):
        return target.once("biases", lambda: sum(
            row.filters for row in target.rows if row.weight_layers and row.filters and row.name in self.decls
            and self.decls[row.name].keys.get("bias", True) is not False))

    def params(self, target, value, tolerance):
        claim = parse_count(value)
        exact = target.total("params")
        biases, buffers = self.biases(target), target.total("buffers")
        alternatives = []
        if biases:
            alternatives.append((f"the weights-only count, {exact - biases:,} (without the {biases:,} biases); "
                                 f"params include the biases", exact - biases))
        if buffers:
            alternatives.append((f"params + BN running statistics, {exact + buffers:,}; the {buffers:,} running "
                                 f"means and variances are buffers, not params", exact + buffers))
        return self.grade_number(claim, exact, alternatives, f"{exact:,}", tolerance, readable=human)

    def macs(self, target, value, tolerance):
        claim = parse_count(value)
        macs, flops, flops_2x = target.total("macs"), target.total("flops"), self.flops_2x(target)
        alternatives = [
            (f"2 x MACs, {2 * macs:,} (the FLOPs convention that counts a multiply and an add as two); "
             f"MACs count a multiply-add as one", 2 * macs),
            (f"the lecture flop, {flops:,}, which adds the pooling windows; MACs count conv and fc "
             f"multiply-accumulates only", flops),
            (f"2 x MACs + elementwise work, {flops_2x:,} (the other FLOPs convention)", flops_2x),
        ]
        products = target.once("products", lambda: sum(row.products for row in target.rows))
        if products:
            alternatives.append((f"the MACs without the products of two activations, {macs - products:,} (attention's "
                                 f"QK^T and AV, matmul): those are multiply-accumulates too", macs - products))
        return self.grade_number(claim, macs, alternatives, f"{macs:,}", tolerance, readable=human)

    def flops(self, target, value, tolerance):
        claim = parse_count(value)
        macs, flops, flops_2x = target.total("macs"), target.total("flops"), self.flops_2x(target)
        alternatives = [
            (f"the MACs, {macs:,}; the lecture flop also counts each pooling window element", macs),
            (f"2 x MACs, {2 * macs:,} (the FLOPs convention that counts a multiply and an add as two); "
             f"the lecture flop counts a multiply-add as one", 2 * macs),
            (f"2 x MACs + elementwise work, {flops_2x:,} (the other FLOPs convention)", flops_2x),
        ]
        return self.grade_number(claim, flops, alternatives, f"{flops:,}", tolerance, readable=human)

    def flops_2x(self, target):
        if target.whole:
            return self.report.totals["flops_2x"]
        return target.once("flops_2x", lambda: sum(2 * row.macs + row.elementwise for row in target.rows))

    def memory_bytes(self, target, value, tolerance, default_scale=1):
        claim = parse_memory(value, default_scale)
        exact = target.total("memory_bytes")
        per_element = self.report.bytes_per_element * self.report.batch
        elements = exact // per_element
        alternatives = [(f"the number of output elements, {elements:,}; memory = elements x "
                         f"{self.report.bytes_per_element} B ({self.report.dtype})", elements)]
        exact_text = f"{exact:,} B"
        if default_scale == 1024 and tolerance is not None and tolerance.exact:
            exact_text = f"{exact_kb(exact)} KB ({exact:,} B)"
        status, fields = self.grade_number(claim, exact, alternatives, exact_text, tolerance,
                                           " B" if default_scale == 1 else " KB", readable=readable_memory)
        if status == WRONG and not fields["notes"]:
            decimal = decimal_memory_reading(value, default_scale)
            if decimal is not None and decimal.matches(exact):
                fields["notes"] = [f"{claim.text} is the memory in 1000-byte units ({exact:,} B / "
                                   f"{decimal.scale:,}); the slides' KB is 1024 B, MB 1024*1024 B"]
        return status, fields

    def memory_kb(self, target, value, tolerance):
        return self.memory_bytes(target, value, tolerance, default_scale=1024)

    # --- shapes, receptive fields, fits (a key's tolerance does not apply: sizes are exact)

    def output_shape(self, target, value, tolerance):
        claim = parse_sizes(value, "shape")
        true = tuple(target.last.out_shape)
        fields = {"exact": list(true)}
        reading, expected = read_shape(claim, true)
        fields["read_as"], fields["expected"] = reading, expected
        if expected == full_shape(claim) or _same_sizes(claim, true):
            return RIGHT, fields
        notes = []
        if len(claim) != len(true):
            notes.append(f"{shown(value)} has {len(claim)} size{'s' if len(claim) > 1 else ''}; the output has "
                         f"{len(true)} ({layout(target.last.out_shape)})")
        elif len(true) == 3 and sorted(claim) == sorted(true):
            notes.append("the same sizes in another order: C x H x W is channels first, H x W x C channels last")
        elif is_tokens(target.last.out_shape) and sorted(claim) == sorted(true):
            notes.append("the same sizes in another order: tokens are N x D, the number of tokens first, then "
                         "each token's width")
        fields["notes"] = notes
        return WRONG, fields

    def receptive_field(self, target, value, tolerance):
        claim = parse_sizes(value, "receptive field")
        true = tuple(target.last.receptive_field)
        if len(claim) not in (1, len(true)):
            axes = "H x W" if len(true) == 2 else f"one per axis ({len(true)})"
            raise ClaimError(f"a receptive field is one size or {axes}, not {shown(value)}")
        if len(claim) == 1:
            claim = claim * len(true)
        expected = pair_text(true)
        fields = {"exact": list(true), "expected": expected}
        return (RIGHT if claim == true else WRONG), fields

    def fits(self, target, value, tolerance):
        claim = parse_flag(value)
        windowed = [row for row in target.rows if row.kernel is not None]
        if not windowed:
            raise ClaimError(f"{target.name} ({target.last.type}) has no window; fits asks whether a conv or "
                             f"pool window tiles its padded input")
        truth = all(row.fits for row in windowed)
        fields = {"exact": truth, "expected": "true" if truth else "false"}
        return (RIGHT if claim == truth else WRONG), fields


def exact_kb(size):
    """A byte count in KB, every digit (1024 = 2^10: at most ten decimals): 186,624 -> '182.25'."""
    whole, rest = divmod(size, 1024)
    digits = f"{rest * 10 ** 10 // 1024:010d}".rstrip("0")
    return f"{whole:,}" + (f".{digits}" if digits else "")


def precision_note(claim, exact, exact_text, shown_exact, tolerance):
    """Why a claim that is not the exact value is right."""
    if tolerance is not None:
        return f"{claim.text} is within {tolerance.text} of {exact_text}, the key's tolerance"
    if claim.is_tie(exact):
        return (f"{exact_text} lies halfway between two roundings at the precision written; "
                f"{claim.text} is one of them")
    return f"{exact_text} is {shown_exact} at the precision written"


def _same_sizes(claim, true):
    """A flat output written with unit sizes (1x1x4096 for 4096, or 2048 for 2048x1x1)."""
    if len(claim) == len(true):
        return tuple(claim) == tuple(true)
    return [s for s in claim if s != 1] == [s for s in true if s != 1]


def read_shape(claim, true):
    """How a claimed shape is read against the true one, and the right shape written that way."""
    if len(true) != 3 or len(claim) != 3:
        return None, full_shape(true)
    c, h, w = true
    chw, hwc = (c, h, w), (h, w, c)
    if tuple(claim) == chw:
        return "C x H x W", full_shape(chw)
    if tuple(claim) == hwc:
        return "H x W x C", full_shape(hwc)
    as_chw = sum(a == b for a, b in zip(claim, chw))
    as_hwc = sum(a == b for a, b in zip(claim, hwc))
    square_last = claim[0] == claim[1] != claim[2]
    if as_hwc > as_chw or (as_hwc == as_chw and square_last):
        return "H x W x C", full_shape(hwc)
    return "C x H x W", full_shape(chw)


def _integer_rounding_note(claim, exact, exact_text):
    """A plain integer with trailing zeros (35000) is judged exactly; say so when it is a rounding."""
    if claim.rounded or claim.value != int(claim.value) or claim.value == 0:
        return []
    whole = int(claim.value)
    zeros = len(str(abs(whole))) - len(str(abs(whole)).rstrip("0"))
    if zeros and abs(exact - whole) <= Fraction(10 ** zeros, 2):
        return [f"{claim.text} is {exact_text} rounded, but a plain integer is judged exactly; write it with a "
                f"unit (K, M, G) to give a rounded answer"]
    return []


def _closeness_note(claim, exact, tolerance=None):
    """How far off a near miss is (slides round and sometimes err: EECS 498 prints conv4's 149.5M flop as 145)."""
    if not exact or claim.value <= 0:
        return []
    off = (claim.value - exact) / exact
    if abs(off) > Fraction(1, 10):
        return []
    percent = abs(off) * 100
    if tolerance is not None:
        return [f"{claim.text} is {_percent_text(percent)}% {'above' if off > 0 else 'below'} the exact count, "
                f"outside the key's tolerance of {tolerance.text}"]
    if percent >= Fraction(1, 20):
        return [f"{claim.text} is {float(percent):.1f}% {'above' if off > 0 else 'below'} the exact count (slides "
                f"round, and sometimes err: the arithmetic below is exact)"]
    # closer than 0.05%, which "0.0% above" would tell nothing about: how many figures are right
    figures = _agreeing_figures(Fraction(claim.value), Fraction(exact))
    if figures and _significant(Fraction(exact), figures) == Fraction(claim.value):
        return [f"{claim.text} is the exact count rounded: right to {figures} significant figures"]
    return [f"{claim.text} is {'above' if off > 0 else 'below'} the exact count by {_percent_text(percent)}%: right to "
            f"{figures} significant figure{'' if figures == 1 else 's'} (the arithmetic below is exact)"]


def _percent_text(percent):
    """A percentage to two significant figures, never in e-notation (0.00000072, not 7.2e-07)."""
    from decimal import Decimal

    return format(Decimal(f"{float(percent):.2g}"), "f")


def _significant(value, figures):
    """``value`` (a positive Fraction) rounded half up to ``figures`` significant figures."""
    exponent = 0
    while value >= 10 ** exponent:
        exponent += 1
    while value < Fraction(10) ** (exponent - 1):
        exponent -= 1
    step = Fraction(10) ** (exponent - figures)
    return (value / step + Fraction(1, 2)).__floor__() * step


def _agreeing_figures(claim, exact, most=20):
    """The most significant figures to which ``claim`` and ``exact`` round alike (0 if not even one)."""
    agreeing = 0
    for figures in range(1, most + 1):
        if _significant(claim, figures) != _significant(exact, figures):
            break
        agreeing = figures
    return agreeing
