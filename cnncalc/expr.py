"""Small, safe arithmetic for block arguments: ``planes * 4``, ``growth * k``, ``c // 4``.

Expressions are parsed with :mod:`ast` and walked node by node against a whitelist;
nothing is ever passed to ``eval``. Only integers and booleans exist: ``/`` must divide
exactly (channel counts are whole numbers), ``**`` is not offered, and the length of an
expression is bounded so that a hostile spec cannot make the parser or the arithmetic
expensive.
"""

MAX_EXPRESSION_LENGTH = 200
MAX_MAGNITUDE = 10**15


class ExpressionError(ValueError):
    pass


def _divisible(value, divisor=8, min_value=None):
    """torchvision's ``_make_divisible``: round to the nearest multiple, never down by >10%."""
    if divisor < 1:
        raise ExpressionError(f"divisible() needs a divisor of at least 1, not {divisor}")
    if min_value is None:
        min_value = divisor
    new = max(min_value, (value + divisor // 2) // divisor * divisor)
    if 10 * new < 9 * value:
        new += divisor
    return new


FUNCTIONS = {"min": min, "max": max, "divisible": _divisible}


def evaluate(text, variables):
    """Evaluate ``text`` with ``variables`` (name -> int/bool). Raises ExpressionError."""
    import ast
    import warnings

    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    tree = _PARSED.get(text)
    if tree is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Python's SyntaxWarnings ("invalid decimal literal") on stderr
                tree = ast.parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            raise ExpressionError(f"cannot read expression '{text}'") from None
        if len(_PARSED) < 10_000:  # a block repeated many times evaluates the same few texts
            _PARSED[text] = tree
    return _Evaluator(variables, text).visit(tree.body)


_PARSED = {}


class _Evaluator:
    def __init__(self, variables, text):
        self.variables = variables
        self.text = text

    def fail(self, why):
        raise ExpressionError(f"{why} in expression '{self.text}'")

    def visit(self, node):
        import ast

        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or isinstance(node.value, int):
                return node.value
            self.fail(f"'{node.value}' is not a whole number")
        if isinstance(node, ast.Name):
            if node.id in self.variables:
                return self.variables[node.id]
            if node.id in ("true", "True"):
                return True
            if node.id in ("false", "False"):
                return False
            from .errors import did_you_mean

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
        self.fail("unsupported syntax")

    def number(self, node):
        value = self.visit(node)
        if not isinstance(value, int):
            self.fail(f"'{value}' is not a whole number")
        return value

    def bounded(self, value):
        if abs(value) > MAX_MAGNITUDE:
            self.fail("number too large")
        return value

    def binary(self, node):
        import ast

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
                return left % right
            if isinstance(op, ast.Div) and left % right:
                self.fail(f"{left} / {right} is not a whole number (use // to round down)")
            return left // right
        self.fail("unsupported operator")

    def compare(self, node):
        import ast

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
