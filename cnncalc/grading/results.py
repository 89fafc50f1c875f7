"""What grading produces: one :class:`Result` per graded question or claim, one :class:`FileResult` per file."""

RIGHT, WRONG, ERROR, MISSING = "right", "wrong", "error", "missing"


def number_text(value):
    """Points as people write them: 2, 2.5 (never 2.0)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Result:
    """One graded claim (``error``: it could not be graded; ``missing``: a key's question left unanswered)."""

    __slots__ = ("file", "line", "layer", "quantity", "answer", "status", "expected", "exact", "read_as",
                 "notes", "explanation", "message", "points", "question")

    def __init__(self, file, line, layer, quantity, answer, status, **fields):
        self.file, self.line, self.layer, self.quantity = file, line, layer, quantity
        self.answer, self.status = answer, status
        self.expected = fields.get("expected")
        self.exact = fields.get("exact")
        self.read_as = fields.get("read_as")
        self.notes = fields.get("notes") or []
        self.explanation = fields.get("explanation") or []
        self.message = fields.get("message")
        self.points = fields.get("points", 1)
        self.question = fields.get("question")

    def at(self, file, line):
        """The same grading of the same answer, in another file at another line (a class repeats answers)."""
        copy = Result(file, line, self.layer, self.quantity, self.answer, self.status, expected=self.expected,
                      exact=self.exact, read_as=self.read_as, notes=list(self.notes),
                      explanation=list(self.explanation), message=self.message, points=self.points,
                      question=self.question)
        return copy

    @property
    def correct(self):
        return self.status == RIGHT

    @property
    def score(self):
        return self.points if self.correct else 0

    @property
    def where(self):
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)

    def to_dict(self):
        data = {"line": self.line, "layer": self.layer, "quantity": self.quantity, "answer": self.answer,
                "status": self.status, "correct": self.correct, "points": self.points, "score": self.score}
        for key in ("expected", "exact", "read_as", "question", "message"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.notes:
            data["notes"] = list(self.notes)
        if self.explanation:
            data["explanation"] = list(self.explanation)
        return data


class FileResult:
    """The grading of one file; ``error`` is set when the file could not be graded at all.

    Graded against a key, ``results`` has one entry per question of the key (in its order),
    ``max_points`` is the key's total whatever happened to the file, ``notes`` say what the file tried
    to decide and was not allowed to, and ``ignored`` lists its answers to questions not in the key.
    """

    def __init__(self, file, results=(), error=None, spec=None, input=None, max_points=None, notes=(),
                 ignored=(), student=None, values=()):
        self.file = file
        self.results = list(results)
        self.error = error
        self.spec = spec
        self.input = input
        self._max_points = max_points
        self.notes = list(notes)
        self.ignored = list(ignored)
        self.keyed = max_points is not None
        self.student = student      # against a key that varies: whose variant
        self.values = tuple(values)  # that variant's (name, value) pairs

    @property
    def correct(self):
        return sum(1 for r in self.results if r.correct)

    @property
    def total(self):
        return len(self.results)

    @property
    def points(self):
        return sum(r.score for r in self.results)

    @property
    def max_points(self):
        return self._max_points if self.keyed else sum(r.points for r in self.results)

    @property
    def ok(self):
        return self.error is None and self.correct == self.total

    def to_dict(self):
        data = {"file": self.file, "spec": self.spec, "input": list(self.input) if self.input else None,
                "points": self.points, "max_points": self.max_points, "correct": self.correct, "total": self.total,
                "results": [r.to_dict() for r in self.results]}
        if self.student is not None:
            data["student"] = self.student
            data["variant"] = {name: list(value) if isinstance(value, tuple) else value for name, value in self.values}
        if self.error is not None:
            data["error"] = self.error
        if self.notes:
            data["notes"] = list(self.notes)
        if self.ignored:
            data["ignored"] = list(self.ignored)
        return data


def class_stats(file_results, questions=None):
    """Submissions, mean, median, min and max points, and the most-missed question (by id)."""
    import statistics

    points = [fr.points for fr in file_results]
    missed = {}
    order = list(questions or [])
    for fr in file_results:
        for result in fr.results:
            name = result.question or f"{result.layer} {result.quantity}"
            if name not in missed:
                missed[name] = [0, result]
                if name not in order:
                    order.append(name)
            if not result.correct:
                missed[name][0] += 1
    most = max(order, key=lambda name: missed.get(name, [0])[0], default=None)
    stats = {"submissions": len(file_results), "max_points": max((fr.max_points for fr in file_results), default=0),
             "mean": round(statistics.mean(points), 2) if points else 0,
             "median": statistics.median(points) if points else 0,
             "min": min(points, default=0), "max": max(points, default=0),
             "not_graded": sum(1 for fr in file_results if fr.error is not None),
             "most_missed": None}
    if most is not None and missed.get(most, [0])[0]:
        count, result = missed[most]
        stats["most_missed"] = {"question": most, "layer": result.layer, "quantity": result.quantity,
                                "missed_by": count}
    return stats
