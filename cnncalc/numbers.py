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


def read_sizes(text):
    """``3x224x224``, ``224×320``, ``[3, 224, 224]`` or ``224`` as a list of ints (ValueError otherwise)."""
    if not isinstance(text, str) or len(text) > 4 * MAX_NUMBER_CHARS:
        raise ValueError("too long")
    cleaned = text.strip().strip("[]()").strip()
    return [read_whole(part) for part in _SIZE_SEPARATORS.split(cleaned)]


def shown(text, limit=40):
    """A typed value quoted in a message: at most ``limit`` characters (errors escape the rest)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


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
