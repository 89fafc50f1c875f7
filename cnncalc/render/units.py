"""The unit ladders, written once: k/M/G/T for counts, KB/MB/GB for bytes (1024), and the rounding policy.

Numbers are exact integers until they reach this module; rounding happens only here (half up). Everything
that prints a unit (the table, compare, plot axes, grading feedback, `cnncalc layer`) takes its ladder here.
Rates (FLOP/s, B/s) use the decimal ladder, as datasheets do; times are Fractions of a second until here.
"""


# the ladders, largest first: metric for counts (params, MACs, flop), binary for bytes (the slides' KB = 1024 B)
METRIC_UNITS = ((10 ** 12, "T"), (10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k"))
BINARY_UNITS = ((1024 ** 3, "GB"), (1024 ** 2, "MB"), (1024, "KB"))


def round_half_up(numerator, denominator=1):
    """``numerator / denominator`` (integers) rounded to the nearest integer, halves away from zero."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    numerator, denominator = abs(numerator), abs(denominator)
    return sign * ((2 * numerator + denominator) // (2 * denominator))


def scaled(value, divisor, digits=0):
    """``value / divisor`` rounded half up at ``digits`` decimals, as text with thousands separators."""
    whole = round_half_up(value * 10 ** digits, divisor)
    if digits == 0:
        return f"{whole:,}"
    text = f"{abs(whole):0{digits + 1}d}"
    sign = "-" if whole < 0 else ""
    return f"{sign}{int(text[:-digits]):,}.{text[-digits:]}"


DECIMAL_STEPS = ((10 ** 12, "T"), (10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k"))


def human(value, unit=""):
    """A count with a metric suffix and 3 significant digits: 61,100,840 -> 61.1M."""
    value = int(value)
    for divisor, suffix in METRIC_UNITS:
        if abs(value) >= divisor:
            digits = 2 if abs(value) < 10 * divisor else 1 if abs(value) < 100 * divisor else 0
            return f"{scaled(value, divisor, digits)}{suffix}{unit}"
    return f"{value}{' ' + unit if unit else ''}".rstrip()


def human_bytes(value):
    """Bytes in binary units as on the slides: 802816 -> 784 KB."""
    value = int(value)
    for divisor, suffix in BINARY_UNITS:
        if value >= divisor:
            digits = 0 if value % divisor == 0 else 2 if value < 10 * divisor else 1 if value < 100 * divisor else 0
            return f"{scaled(value, divisor, digits)} {suffix}"
    return f"{value} B"


# the ladders a column or an axis picks one unit from: up to G, down to the plain number
COUNT_STEPS = METRIC_UNITS[1:] + ((1, ""),)
BYTE_STEPS = BINARY_UNITS + ((1, "B"),)
SLIDE_TOTAL_DIGITS = 100  # the slide unit is kept while the model's total reads as at least 100 of it


def slide_unit(total, slide_divisor, steps):
    """The unit of a slide-units column: the lecture's (KB, k, M) unless the model's total would read under
    100 in it (LeNet-5's 60,806 params are not "61 k" with every layer 0): then the largest smaller unit
    in which it reads at least 100, or exact numbers. Returns (divisor, name)."""
    for divisor, name in steps:
        if divisor <= slide_divisor and (total >= SLIDE_TOTAL_DIGITS * divisor or divisor == 1):
            return divisor, name
    return steps[-1]


def count_text(value, units, divisor, auto=human):
    """A count as the units ask: exact (raw), k/M/G (auto), or divided and rounded (slide)."""
    if units == "raw":
        return f"{value:,}"
    if units == "auto":
        return auto(value)
    return scaled(value, divisor)


def bytes_text(value, units, divisor=1024):
    """Bytes as the units ask: exact (raw), KB/MB/GB (auto), or KB rounded (slide)."""
    return count_text(value, units, divisor, auto=human_bytes)


def rate_text(value, unit):
    """A rate on the same decimal ladder, as datasheets write it: ``rate_text(8.1e12, "FLOP/s")`` -> 8.1 TFLOP/s,
    ``rate_text(320e9, "B/s")`` -> 320 GB/s (1 GB/s = 10^9 B/s); 4 significant digits, no trailing zeros."""
    from fractions import Fraction  # here: only rates and times need it (3 ms of every run otherwise)

    value = Fraction(value)
    for divisor, prefix in DECIMAL_STEPS + ((1, ""),):
        if value >= divisor or divisor == 1:
            digits = max(0, 4 - len(str(int(value / divisor))))
            text = scaled(value, divisor, digits)
            return f"{text.rstrip('0').rstrip('.') if '.' in text else text} {prefix}{unit}"


# seconds and their parts: a time is a Fraction of a second until printed here
TIME_STEPS = ((1, "s"), (10 ** 3, "ms"), (10 ** 6, "us"), (10 ** 9, "ns"))


def time_text(seconds, digits=3):
    """A time (a Fraction of a second) with ``digits`` significant digits in s, ms, us or ns: 1.23 ms."""
    from fractions import Fraction

    if not seconds:
        return "0 s"
    for per_second, unit in TIME_STEPS:
        value = Fraction(seconds) * per_second
        if value >= 1 or unit == "ns":
            whole = len(str(int(value))) if value >= 1 else 1
            return f"{scaled(value.numerator, value.denominator, max(0, digits - whole))} {unit}"


def share_text(share, digits=1):
    """A share (a Fraction of 1) in percent: 81.2%."""
    return f"{scaled(100 * share.numerator, share.denominator, digits)}%"
