"""Small, safe arithmetic for block arguments and params: ``planes * 4``, ``ceil(3 * depth)``, ``c // 4``.

Expressions are parsed with :mod:`ast` and walked node by node against a whitelist;
nothing is ever passed to ``eval``. Values are integers, booleans, floats and lists (a list
can only be indexed: ``in_shape[-1]``). Integer arithmetic is exact; ``/`` of two integers
that divide exactly stays an integer, otherwise it is Python's float division. Floats are
IEEE doubles combined exactly as Python combines them, so ``ceil(depth * 3)`` gives what
torchvision's ``int(math.ceil(depth * 3))`` gives, to the bit. ``ceil``, ``floor``, ``round``
and ``int`` turn a float into a whole number: ``round`` rounds halves away from zero
(2.5 -> 3, as by hand and as ``int(x + 0.5)`` in EfficientNet code; not Python's
half-to-even), ``int`` truncates toward zero. Whether a result must be whole is decided
where it is used (a size must; a dropout rate need not). ``**`` is refused before it is
computed when its result would pass +-10^15, every number stays within that bound, and the
length of an expression is bounded so that a hostile spec cannot make the parser or the
arithmetic expensive. There is no attribute syntax: a dotted word (``fpn.p5.inner``) is a layer
name, never handed to this evaluator.
"""

import ast
import math

MAX_EXPRESSION_LENGTH = 200
MAX_MAGNITUDE = 10**15


class ExpressionError(ValueError):
    pass


class Undefined:
    """A name that exists but has no value here (``in_size`` of a flat input); reading it fails with ``why``."""

    __slots__ = ("why",)

    def __init__(self, why):
        self.why = why


def _divisible(value, divisor=8, min_value=None):
    """torchvision's ``_make_divisible``: round to the nearest multiple, never down by >10%.

    Whole numbers are rounded exactly; a float goes through torchvision's own float arithmetic
    (``int(v + divisor / 2) // divisor * divisor``, then ``new < 0.9 * v``) so that it agrees to the bit.
    """
    if divisor < 1 or not _is_whole(divisor):
        raise ExpressionError(f"divisible() needs a whole divisor of at least 1, not {divisor}")
    divisor = int(divisor)
    if min_value is None:
        min_value = divisor
    if isinstance(value, float):
        new = max(min_value, int(value + divisor / 2) // divisor * divisor)
        return new + divisor if new < 0.9 * value else new
    new = max(min_value, (value + divisor // 2) // divisor * divisor)
    if 10 * new < 9 * value:
        new += divisor
    return new


def _round_half_away(value):
    """2.5 -> 3, -2.5 -> -3; exact for every float (no ``x + 0.5`` rounding error)."""
    from fractions import Fraction

    half = Fraction(1, 2)
    magnitude = math.floor(abs(Fraction(value)) + half)
    return magnitude if value >= 0 else -magnitude


def _is_whole(value):
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


FUNCTIONS = {"min": min, "max": max, "divisible": _divisible, "ceil": math.ceil, "floor": math.floor,
             "round": _round_half_away, "int": int}


def names_in(text):
    """The names an expression reads (empty when it cannot be parsed: evaluating it reports why)."""
    tree = _parse(text)
    if tree is None:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def size(text):
    """The parts (AST nodes) of expression ``text``: what evaluating it costs at most (1 when unreadable)."""
    tree = _parse(text)
    return 1 if tree is None else _SIZES.get(text) or _size_of(tree)


def _size_of(tree):
    return sum(1 for _ in ast.walk(tree))


def _parse(text):
    """The cached AST of ``text``, or None when it is too long or not an expression."""
    import warnings

    if len(text) > MAX_EXPRESSION_LENGTH:
        return None
    tree = _PARSED.get(text)
    if tree is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Python's SyntaxWarnings ("invalid decimal literal") on stderr
                tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None
        if len(_PARSED) < 10_000:  # a block repeated many times evaluates the same few texts
            _PARSED[text] = tree
            _SIZES[text] = _size_of(tree)
    return tree


def evaluate(text, variables):
    """Evaluate ``text`` with ``variables`` (name -> int/float/bool/list). Raises ExpressionError."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    tree = _parse(text)
    if tree is None:
        raise ExpressionError(f"cannot read expression '{text}'")
    return _Evaluator(variables, text).visit(tree.body)


_PARSED = {}
_SIZES = {}


class _Evaluator:
    def __init__(self, variables, text):
        self.variables = variables
        self.text = text

    def fail(self, why):
        raise ExpressionError(f"{why} in expression '{self.text}'")

    def visit(self, node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float)):
                return self.bounded(node.value)
            self.fail(f"'{node.value}' is not a number")
        if isinstance(node, ast.Name):
            if node.id in self.variables:
                value = self.variables[node.id]
                if isinstance(value, Undefined):
                    self.fail(f"'{node.id}' {value.why}")
                return value
            if node.id in ("true", "True"):
                return True
            if node.id in ("false", "False"):
                return False
            from ..errors import did_you_mean

            self.fail(f"unknown name '{node.id}'{did_you_mean(node.id, self.variables)}")
        if isinstance(node, ast.UnaryOp):
            value = self.number(node.operand)
            if isinstance(node.op, ast.USub):
                return -value
            if isinstance(node.op, ast.UAdd):
                return value
            if isinstance(node.op, ast.Not):
                return not value
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return all(values)
            return any(values)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            function = FUNCTIONS.get(node.func.id)
            if function is None:
                self.fail(f"unknown function '{node.func.id}' (known: {', '.join(FUNCTIONS)})")
            args = [self.number(a) for a in node.args]
            try:
                return self.bounded(function(*args))
            except TypeError:
                self.fail(f"wrong number of arguments to {node.func.id}()")
        if isinstance(node, ast.Subscript):
            return self.item(node)
        self.fail("unsupported syntax")

    def item(self, node):
        """``in_shape[1]``, ``in_shape[-1]``: one element of a list."""
        sequence = self.visit(node.value)
        if isinstance(node.slice, ast.Slice) or not isinstance(sequence, list):
            self.fail("unsupported syntax: only a list (such as in_shape) can be indexed, by a whole number")
        index = self.number(node.slice)
        if not _is_whole(index):
            self.fail(f"an index must be a whole number, not {index}")
        if not -len(sequence) <= index < len(sequence):
            self.fail(f"index {index} is outside the list of {len(sequence)}")
        return sequence[int(index)]

    def number(self, node):
        value = self.visit(node)
        if not isinstance(value, (int, float)):
            self.fail(f"'{value}' is not a number")
        return value

    def bounded(self, value):
        if not abs(value) <= MAX_MAGNITUDE:  # also refuses nan and inf
            self.fail("number too large")
        return value

    def binary(self, node):
        left, right = self.number(node.left), self.number(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return self.bounded(left + right)
        if isinstance(op, ast.Sub):
            return self.bounded(left - right)
        if isinstance(op, ast.Mult):
            return self.bounded(left * right)
        if isinstance(op, (ast.FloorDiv, ast.Div, ast.Mod)):
            if right == 0:
                self.fail("division by zero")
            if isinstance(op, ast.Mod):
                return self.bounded(left % right)
            if isinstance(op, ast.Div) and not (isinstance(left, int) and isinstance(right, int) and left % right == 0):
                return self.bounded(left / right)  # Python's division; a size must still come out whole
            return self.bounded(left // right)
        if isinstance(op, ast.Pow):
            return self.power(left, right)
        self.fail("unsupported operator")

    def power(self, base, exponent):
        """``base ** exponent`` (WaveNet's dilation 2 ** i), refused before it is computed if it would pass
        MAX_MAGNITUDE; a negative whole exponent of a whole base gives a fraction."""
        if base == 0 and exponent < 0:
            self.fail("division by zero")
        if abs(base) > 1 and abs(exponent) > MAX_MAGNITUDE.bit_length():
            self.fail("number too large")
        if abs(base) < 1 and base != 0 and exponent < -MAX_MAGNITUDE.bit_length():
            self.fail("number too large")
        try:
            value = base ** exponent
        except (OverflowError, ZeroDivisionError):
            self.fail("number too large")
        if isinstance(value, complex):
            self.fail(f"{base} ** {exponent} is not a real number")
        return self.bounded(value)

    def compare(self, node):
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.visit(right_node)
            try:
                checks = {
                    ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right,
                    ast.LtE: left <= right, ast.Gt: left > right, ast.GtE: left >= right,
                }
            except TypeError:
                self.fail(f"cannot compare {left!r:.40} with {right!r:.40}")
            if type(op) not in checks:
                self.fail("unsupported comparison")
            if not checks[type(op)]:
                return False
            left = right
        return True
