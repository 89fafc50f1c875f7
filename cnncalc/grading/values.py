"""Reading a claimed value: ``35K``, ``'34,944'``, ``784 KB``, ``55x55x96``, ``true``.

Claims are read exactly (Decimal and Fraction, never float). :func:`parse_number` is the one place
where the text of a numeric answer becomes a number; every count and memory size goes through it.
"""

import re
from fractions import Fraction

from ..render.units import BINARY_UNITS, scaled
from ..numbers import DECIMAL, read_decimal, size_parts
from ..numbers import shown as clipped


class ClaimError(ValueError):
    """A value that cannot be read as the quantity it answers."""


class Number:
    """A numeric claim: its exact value and the half-unit of its last written digit (in base units)."""

    def __init__(self, text, value, tolerance, scale, decimals, unit):
        self.text = text
        self.value = value
        self.tolerance = tolerance
        self.scale = scale
        self.decimals = decimals
        self.unit = unit

    @property
    def rounded(self):
        return self.scale != 1 or self.decimals > 0

    def matches(self, exact, tolerance=None):
        """Within half a unit of the last digit written, or within ``tolerance(exact)`` when given."""
        allowed = self.tolerance if tolerance is None else tolerance(exact)
        return abs(Fraction(exact) - self.value) <= allowed

    def is_tie(self, exact):
        """``exact`` lies halfway between two roundings at the precision written (0.125 MB as 0.12 or 0.13)."""
        return abs(Fraction(exact) - self.value) == self.tolerance

    def render(self, exact, readable=None, default_unit=""):
        """``exact`` written the way the claim is written: same unit (or ``default_unit`` when it has
        none), same number of decimals.

        When that rounds to nothing (16 KB at the precision of ``5 MB`` is ``0 MB``), ``readable(exact)``
        is shown instead, in a unit that makes the number readable.
        """
        text = scaled(exact, self.scale, self.decimals)
        if readable is not None and exact and not text.strip("0.,-"):
            return readable(exact)
        return f"{text}{self.unit if self.unit.strip() else self.unit + default_unit}"


# the number's digits are read by cnncalc.numbers (ASCII only, bounded), like every number a person types
_NUMBER = re.compile(r"^\s*[~≈]?\s*(?P<number>" + DECIMAL + r")(?P<unit>.*?)\s*$")
COUNT_PREFIXES = {"": 1, "k": 10 ** 3, "thousand": 10 ** 3, "m": 10 ** 6, "million": 10 ** 6,
                  "g": 10 ** 9, "billion": 10 ** 9, "t": 10 ** 12}
COUNT_WORDS = ("", "flop", "flops", "mac", "macs", "op", "ops", "param", "params", "parameters", "multiply-adds",
               "mult-adds")
MEMORY_UNITS = {"b": 1, "byte": 1, "bytes": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2,
                "mb": 1024 ** 2, "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
DECIMAL_MEMORY = {"kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3}  # SI units: not the slides', noted when used
MAX_CLAIM_LENGTH = 100


def parse_number(value):
    """Split a claim into its number (a Decimal, exactly as written) and its unit text."""
    if isinstance(value, bool):
        raise ClaimError(f"{str(value).lower()} is not a number")
    if isinstance(value, int):
        text = str(value)  # exact whatever way YAML allowed it to be written (1_000, 0x3e8)
    elif isinstance(value, float):
        text = getattr(value, "text", repr(value))  # the loader keeps a decimal as written: 182.50
    elif isinstance(value, str):
        text = value
    else:
        raise ClaimError(f"{value!r} is not a number")
    match = _NUMBER.match(text) if len(text) <= MAX_CLAIM_LENGTH else None
    if not match:
        raise ClaimError(f"cannot read '{clipped(text)}' as a number (write 34944, 34,944, 35K, 0.035M, "
                         f"1.8 GFLOP)")
    try:
        number = read_decimal(match.group("number"))
    except ValueError as err:
        raise ClaimError(f"cannot read '{clipped(text)}' as a number ({err})") from None
    return text.strip(), number, match.group("unit")


def _number(text, number, unit_text, scale):
    exponent = number.as_tuple().exponent
    value = Fraction(number) * scale
    tolerance = Fraction(1, 2) * Fraction(10) ** exponent * scale
    return Number(text, value, tolerance, scale, max(-exponent, 0), unit_text)


def parse_count(value):
    """A count (params, MACs, flop): ``34944``, ``34,944``, ``35K``, ``0.035M``, ``1.8 GFLOP``, ``138M``."""
    text, number, unit_text = parse_number(value)
    key = unit_text.replace(" ", "").lower()
    scale = _count_scale(key)
    if scale is None:
        if key in MEMORY_UNITS:
            raise ClaimError(f"'{text}' is a memory size; this quantity is a count (write 35K or 34944)")
        raise ClaimError(f"cannot read the unit '{unit_text.strip()}' in '{text}' (use K, M, G or T, "
                         f"optionally followed by FLOP, MACs or params)")
    return _number(text, number, unit_text, scale)


def _count_scale(key):
    if key in COUNT_WORDS:
        return 1
    for prefix, scale in COUNT_PREFIXES.items():
        if prefix and key.startswith(prefix) and key[len(prefix):] in COUNT_WORDS:
            return scale
    return None


def parse_memory(value, default_scale=1):
    """A memory size: ``802816`` (bytes), ``784 KB``, ``1.1MB`` (KB = 1024 B, as on the slides)."""
    text, number, unit_text = parse_number(value)
    key = unit_text.replace(" ", "").lower()
    if key == "":
        return _number(text, number, unit_text, default_scale)
    if key not in MEMORY_UNITS:
        raise ClaimError(f"cannot read the unit '{unit_text.strip()}' in '{text}' (use B, KB, MB or GB)")
    return _number(text, number, unit_text, MEMORY_UNITS[key])


def decimal_memory_reading(value, default_scale=1):
    """The claim read with 1000-byte KB/MB/GB, or None when it has no such unit."""
    text, number, unit_text = parse_number(value)
    key = unit_text.replace(" ", "").lower() or {1024: "kb"}.get(default_scale)
    if key not in DECIMAL_MEMORY:
        return None
    return _number(text, number, unit_text, DECIMAL_MEMORY[key])


SIZES_HINT = {"shape": "write 55x55x96, 96x55x55 or [96, 55, 55]",
              "receptive field": "write 11 (input pixels, each axis), 11x11 or [11, 11]"}


def parse_sizes(value, what):
    """A shape or a receptive field: ``55x55x96``, ``96 x 55 x 55``, ``[96, 55, 55]``, ``11`` -> ints."""
    if isinstance(value, bool):
        raise ClaimError(f"{str(value).lower()} is not a {what}")
    if isinstance(value, int):
        parts = [value]
    elif isinstance(value, list):
        parts = value
    elif isinstance(value, str):
        cleaned = value
        if what == "receptive field":  # "11 pixels", "11x11 px": the unit the question is asked in
            cleaned = re.sub(r"\s*(input\s+)?(pixels?|px)\s*$", "", value.strip(), flags=re.I)
        parts = size_parts(cleaned)
    else:
        raise ClaimError(f"{value!r} is not a {what}")
    sizes = []
    for part in parts:
        size = _whole_size(part)
        if size is None:
            raise ClaimError(f"cannot read {shown(value)} as a {what} ({SIZES_HINT.get(what, SIZES_HINT['shape'])})")
        sizes.append(size)
    if not sizes:
        raise ClaimError(f"cannot read {shown(value)} as a {what}")
    return tuple(sizes)


def _whole_size(part):
    """One size of a shape: a whole number of at least 1 written without a point or unit, else None.
    Its digits are read by parse_number, like every other number in an answer."""
    if isinstance(part, bool) or not isinstance(part, (int, str)):
        return None
    try:
        _, number, unit = parse_number(part)
    except ClaimError:
        return None
    if unit.strip() or number.as_tuple().exponent != 0 or number < 1:
        return None
    return int(number)


def parse_flag(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "no", "false"):
        return value.strip().lower() in ("yes", "true")
    raise ClaimError(f"fits is true or false, not {shown(value)}")


def shown(value):
    return f"'{clipped(value)}'" if isinstance(value, str) else clipped(repr(value))


class Tolerance:
    """A key's ``tolerance``: ``tolerance(exact)`` is the largest accepted distance from ``exact``.

    ``exact``: the key gave none, so only the exact value is right (in any form that denotes it exactly).
    """

    def __init__(self, text, amount, relative, exact=False):
        self.text, self.amount, self.relative, self.exact = text, amount, relative, exact

    @property
    def warning(self):
        """Why a tolerance looks like a mistake (0.01 with no %: a hundredth of a unit, not 1%), or None."""
        if self.relative or self.exact or not 0 < self.amount < 1:
            return None
        return (f"tolerance {self.text} has no %, so it is an absolute amount ({self.text} of a unit: in effect "
                f"exact); write {float(self.amount * 100):g}% for a relative tolerance")

    def __call__(self, exact):
        return abs(Fraction(exact)) * self.amount / 100 if self.relative else self.amount


def parse_tolerance(value):
    """A key's ``tolerance``: ``1%`` of the exact value, or an absolute amount in base units (``500``)."""
    text, number, unit_text = parse_number(value)
    if number < 0:
        raise ClaimError(f"a tolerance is at least 0, not '{text}'")
    unit = unit_text.strip()
    if unit not in ("", "%"):
        raise ClaimError(f"cannot read '{text}' as a tolerance (write 1% or an amount such as 500)")
    return Tolerance(text, Fraction(number), relative=unit == "%")


EXACT = Tolerance("exact", Fraction(0), relative=False, exact=True)


def readable_memory(size):
    """A byte count in the unit that reads best: 16,384 -> '16 KB', 1,179,648 -> '1.12 MB'."""
    for scale, unit in BINARY_UNITS:
        if abs(size) >= scale:
            return f"{scaled(size, scale, 2).rstrip('0').rstrip('.')} {unit}"
    return f"{size:,} B"
