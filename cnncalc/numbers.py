"""Whole numbers typed by people (command-line options, answer values): ASCII digits only, bounded.

Python's ``int()`` reads more than digits 0-9: ``int("３")`` (fullwidth) and ``int("٣")`` (Arabic-Indic)
are 3, ``int("1_000")`` is 1000, while ``"²".isdigit()`` is true and ``int("²")`` fails; and a
4,300-digit number can be neither converted nor printed on newer Pythons. Every number a person types
goes through :func:`read_whole` (or :func:`read_sizes`): at most MAX_NUMBER_CHARS ASCII digits, so
each value is small enough to convert and to print. Callers add the range that makes sense
(MAX_SIZE for sizes, MAX_BATCH for a batch) and their own message.
"""

import re

# The longest number text read anywhere (spec YAML, options, answers): 100 characters.
MAX_NUMBER_CHARS = 100
# Largest size (channels, height, width, units, kernel...) a spec or an option may write; int32's maximum.
MAX_SIZE = 2**31 - 1
# The largest --batch (and analyze(batch=...)): int32's maximum, like every size.
MAX_BATCH = 2**31 - 1

_DIGITS = re.compile(r"[0-9]+")
# separators between sizes: 3x224x224, 224×224, 3*224*224, [3, 224, 224], 3 224 224
_SIZE_SEPARATORS = re.compile(r"\s*[xX×*,]\s*|\s+")


# A decimal as written in an answer: 34944, 34,944, 0.035, 1.8e9, .5 (ASCII digits only).
DECIMAL = (r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
           r"|[+-]?\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_DECIMAL = re.compile(DECIMAL)
# A decimal's digits after the point and its magnitude are at most 10^40 (1e999999999 would take
# forever to compare exactly).
MAX_EXPONENT = 40


def is_whole_number(value):
    """An int that is not a bool (YAML and JSON give true/false as bools, which Python counts as ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def read_decimal(text):
    """A DECIMAL as an exact ``decimal.Decimal``; ValueError when it is not one, is longer than
    MAX_NUMBER_CHARS or is out of range (see MAX_EXPONENT)."""
    from decimal import Decimal

    if not isinstance(text, str) or len(text.strip()) > MAX_NUMBER_CHARS:
        raise ValueError(f"longer than {MAX_NUMBER_CHARS} characters")
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise ValueError("not a number written with the digits 0-9")
    number = Decimal(text.replace(",", ""))
    if abs(number.as_tuple().exponent) > MAX_EXPONENT or number.adjusted() > MAX_EXPONENT:
        raise ValueError("out of range")
    return number


def read_whole(text):
    """``text`` (surrounding spaces allowed) as a non-negative int; ValueError unless it is 1 to
    MAX_NUMBER_CHARS ASCII digits."""
    if not isinstance(text, str):
        raise ValueError("not text")
    text = text.strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"longer than {MAX_NUMBER_CHARS} characters")
    if not _DIGITS.fullmatch(text):
        raise ValueError("not a whole number written with the digits 0-9")
    return int(text)


def size_parts(text):
    """The sizes of a typed shape as text: ``3x224x224``, ``224×320``, ``[3, 224, 224]``, ``3 224 224`` ->
    ``["3", "224", "224"]``; nothing typed -> ``[]``."""
    cleaned = text.strip().strip("[]()").strip()
    return _SIZE_SEPARATORS.split(cleaned) if cleaned else []


def read_sizes(text):
    """``3x224x224``, ``224×320``, ``[3, 224, 224]`` or ``224`` as a list of ints (ValueError otherwise)."""
    if not isinstance(text, str) or len(text) > 4 * MAX_NUMBER_CHARS:
        raise ValueError("too long")
    return [read_whole(part) for part in size_parts(text) or [""]]


def shown(text, limit=40):
    """A typed value quoted in a message: at most ``limit`` characters (errors escape the rest)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


# The decimal (SI) prefixes of a rate, as datasheets write them: 19.5 TFLOP/s, 1,555 GB/s (1 GB/s = 10^9 B/s).
SI_PREFIXES = {"": 1, "k": 10 ** 3, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15}
# what may follow the prefix, ignored: 19.5T, 19.5 TFLOPS, 19.5TFLOP/s, 130 TOPS, 1555G, 1555 GB/s
RATE_UNITS = ("", "flops", "flop/s", "ops", "op/s", "b/s", "bytes/s")
_RATE = re.compile(r"(?P<number>[0-9.,eE+-]+)\s*(?P<prefix>[kKMGTP]?)(?P<unit>[A-Za-z/]*)")


def read_rate(text):
    """A rate as written on a datasheet or an option (``19.5T``, ``1555G``, ``312 TFLOPS``, ``2039 GB/s``,
    ``8e12``) as an exact positive int or Fraction per second; ValueError otherwise. Prefixes are decimal."""
    from fractions import Fraction

    if is_whole_number(text):
        text = str(text)
    if not isinstance(text, str) or len(text) > MAX_NUMBER_CHARS:
        raise ValueError("not a rate like 19.5T or 1555G")
    match = _RATE.fullmatch(text.strip())
    if not match or match.group("unit").lower() not in RATE_UNITS:
        raise ValueError("not a rate like 19.5T or 1555G")
    value = Fraction(read_decimal(match.group("number"))) * SI_PREFIXES[match.group("prefix")]
    if value <= 0:
        raise ValueError("not above 0")
    return value.numerator if value.denominator == 1 else value
class Tokens(tuple):
    """The shape of a token tensor, ``(N, D)``: N tokens of width D, as a transformer holds them ([N, D],
    printed ``197 x 768``). A plain 2-tuple is a 1-D feature map (``C x L``); this subclass says the width is
    the last size. It compares and hashes as the plain tuple."""

    __slots__ = ()

    def __new__(cls, count, width):
        return super().__new__(cls, (count, width))

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self):
        return f"Tokens({self[0]}, {self[1]})"


def is_tokens(shape):
    return isinstance(shape, Tokens)


def as_shape(value):
    """A shape as a tuple, keeping a Tokens shape what it is."""
    return value if isinstance(value, Tokens) else tuple(value)


def plural(count, word):
    """``1 layer``, ``13 layers``, ``1,000 layers``: a count with its noun (plural made with -s)."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")
