"""The receptive field, per axis, layer by layer: r_out = r_in + (K-1)*D*j_in, j_out = j_in*S (merges take the
largest r), exact (fractions after an upsample), bounded, with the worked step for --explain."""

import math

from . import rules
from .numbers import Tokens

def whole(value):
    return value if isinstance(value, int) else math.ceil(value)


def arithmetic(entering, window, rf, jump, merged, tokens=False):
    """The receptive-field step of _receptive_field with the numbers substituted, for --explain (``tokens``: the
    network's input is tokens, whose one axis is N)."""
    rf_in, jump_in, extent = entering
    steps = _window_steps(window, extent)
    if steps is None or not all(isinstance(v, int) for v in rf_in + jump_in + sum(steps, ())):
        return []  # unchanged, or a fractional step (upsampling) that the generic line covers
    if window == "global":
        terms = [(f"{r} + ({k}-1)*{j}", f"{j}*{k}") for r, j, (k, s, d) in zip(rf_in, jump_in, steps)]
        formula, jump_formula, note = "r_in + (W_in-1)*j_in", "j_in*W_in", \
            " (every token)" if tokens else " (the window is the whole map)"
    else:
        terms = [(f"{r} + ({k}-1)*{d}*{j}", f"{j}*{s}") for r, j, (k, s, d) in zip(rf_in, jump_in, steps)]
        formula, jump_formula, note = "r_in + (K-1)*D*j_in", "j_in*S", ""
    if merged > 1:
        formula += " (the largest field of the merged inputs)"
    if FIELD_LIMIT in rf + jump:
        note += " (saturated: at least 2^63)"
    axes = [(*t, r, j) for t, r, j in zip(terms, rf, jump)]
    labels = ("N",) if tokens else rules.AXIS_NAMES[len(axes)]
    if len(axes) > 1 and all(axis == axes[0] for axis in axes):
        axes, labels = axes[:1], ("/".join(labels),)
    return [("receptive_field", f"receptive field {label} = {formula} = {terms_text} = {r} input {'tokens' if tokens else 'pixels'}{note}; "
                                f"effective stride = {jump_formula} = {jump_text} = {j}")
            for label, (terms_text, jump_text, r, j) in zip(labels, axes)]


def _window_steps(window, extent):
    """A layer's window per axis as (K, S, D); a global window is the whole map, (W, W, 1)."""
    if window == "global":
        return tuple((e, e, 1) for e in extent)
    return window


def merge(sources):
    """Receptive-field state entering a layer: a merge takes the largest r of its inputs per axis, and
    the effective stride of its largest map (a squeeze-excitation gate is 1x1 with a huge stride)."""
    if len(sources) == 1:
        return sources[0]
    _, jump, extent = max(sources, key=lambda f: (rules.elements(f[2]), -f[1][0]))
    rf = tuple(max(f[0][axis] for f in sources) for axis in range(len(jump)))
    return rf, jump, extent


# A receptive field and an effective stride grow geometrically with depth (a chain of stride-2^31
# pools adds 31 bits a layer, and every row keeps its own): both saturate at FIELD_LIMIT, far past any
# input, which then reads "at least 2^63". A fractional stride (after upsampling) is kept exact while
# its denominator is at most FIELD_DENOMINATOR, then rounded up to a multiple of 1/FIELD_DENOMINATOR.
FIELD_LIMIT = 2**63
FIELD_DENOMINATOR = 2**64


def _bounded(value):
    if value >= FIELD_LIMIT:
        return FIELD_LIMIT
    if not isinstance(value, int) and value.denominator > FIELD_DENOMINATOR:
        from fractions import Fraction

        value = Fraction(-(-value.numerator * FIELD_DENOMINATOR // value.denominator), FIELD_DENOMINATOR)
    return value


def step(entering, window, out_shape):
    """Receptive field step: r_out = r_in + (K-1)*D*j_in, j_out = j_in*S, per axis (bounded, see FIELD_LIMIT)."""
    rf, jump, extent = entering
    steps = _window_steps(window, extent)
    if steps is not None:
        rf = tuple(_bounded(r + (k - 1) * d * j) for r, j, (k, s, d) in zip(rf, jump, steps))
        jump = tuple(_bounded(j * s) for j, (k, s, d) in zip(jump, steps))
    if isinstance(out_shape, Tokens):
        pass  # tokens keep the map they were made of: its extent, for a later global window
    elif len(out_shape) > 1:
        extent = tuple(out_shape[1:])
    elif window == "global":
        extent = (1,) * len(extent)
    return rf, jump, extent
