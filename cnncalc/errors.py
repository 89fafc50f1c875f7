"""One error hierarchy for every problem a user can cause.

Errors carry where they happened (file, line, layer, key) as fields; they become a
single line of text only at the CLI edge, via ``str()``.
"""


class CnnCalcError(Exception):
    """A problem with user input. ``str(err)`` is the one-line message users see."""

    exit_code = 1

    def __init__(self, message, *, file=None, line=None, layer=None, key=None, column=None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.layer = layer
        self.key = key

    def located(self, *, file=None, line=None, layer=None):
        """Fill in location fields that are still unknown; returns self for ``raise``."""
        if self.file is None:
            self.file = file
        if self.line is None:
            self.line = line
        if self.layer is None:
            self.layer = layer
        return self

    def __str__(self):
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        layer = f"{shown(self.layer, MAX_SHOWN_CHARS * 2)}: " if self.layer else ""
        return shown(f"{where}{layer}{self.message}", MAX_MESSAGE_CHARS)


def one_line(text):
    """Newlines and terminal escapes that came from a file (or a file's name) are shown escaped: one harmless
    line. Every message and every file name printed goes through this."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


_one_line = one_line

# A name from a file (a node, tensor, op type, key, layer) is printed in an error at most this long; a whole
# error line at most MAX_MESSAGE_CHARS, so no name (a 100,000-character ONNX node name) makes a message long.
MAX_SHOWN_CHARS = 100
MAX_MESSAGE_CHARS = 2_000
# a list of names (a model's 500 inputs) shows at most this many
MAX_SHOWN_NAMES = 10


def shown(text, limit=MAX_SHOWN_CHARS):
    """``text`` as an error prints it: escaped as :func:`one_line` does, and cut at ``limit`` characters as
    printed, with a count of the characters cut. Every name an error quotes goes through this."""
    text = str(text)
    if len(text) <= limit and text.isprintable():
        return text
    kept, size = [], 0
    for position, character in enumerate(text):  # stops at the limit: the cost is what is shown
        piece = character if character.isprintable() else repr(character)[1:-1]
        size += len(piece)
        if size > limit:
            return f"{''.join(kept)}... ({len(text) - position:,} more characters)"
        kept.append(piece)
    return "".join(kept)


def shown_names(names, limit=MAX_SHOWN_NAMES, quote="'"):
    """``'a', 'b', 'c' (and 490 more)``: the first ``limit`` of ``names``, each :func:`shown`."""
    names = list(names)
    text = ", ".join(f"{quote}{shown(name)}{quote}" for name in names[:limit])
    return text + (f" (and {len(names) - limit:,} more)" if len(names) > limit else "")


class SpecError(CnnCalcError):
    """A spec file that cannot be read, expanded or computed."""


class AnswerError(CnnCalcError):
    """An answer file (for ``cnncalc check``) that cannot be read."""


class UsageError(CnnCalcError):
    """A bad command-line option value (exit code 2, like click's own usage errors)."""

    exit_code = 2


def note(text):
    """A remark for the user that is neither output nor an error (which reading of an option was taken, a
    built-in used for a missing file): one line on standard error, so piped output stays clean."""
    import sys

    sys.stderr.write(f"note: {shown(text, MAX_MESSAGE_CHARS)}\n")
    # written out now, whatever the stream's buffering: click before 8.2 tests CLIs with a buffered
    # stderr that it never flushes, so an unflushed note was lost there
    sys.stderr.flush()


def suggestion(word, choices, count=3):
    """' (did you mean ...)' preferring names that start with ``word`` (a block's layers), then close ones."""
    word = str(word)
    starting = [str(c) for c in choices if str(c).startswith(word)]
    if starting:
        return f"; did you mean {shown_names(starting, count)}?"
    return did_you_mean(word, choices)


def did_you_mean(word, choices):
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{shown(close[0])}'?" if close else ""
