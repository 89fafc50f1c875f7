"""What the expander makes: a layer of the expanded network (:class:`LayerDecl`), a layer name passed as a
block argument (:class:`LayerWord`) and a resolved reference key (:class:`Reference`)."""

from ..errors import SpecError


class LayerDecl:
    """One layer of the expanded network, before any rule has looked at it."""

    __slots__ = ("name", "type", "keys", "inputs", "file", "line", "key_lines", "block", "train_only", "frozen")

    def __init__(self, name, type, keys, inputs, file, line, key_lines, block, train_only=False, frozen=False):
        self.name = name
        self.type = type
        self.keys = keys
        self.inputs = inputs
        self.file = file
        self.line = line
        self.key_lines = key_lines
        self.block = block
        # part of a branch that runs only in training (GoogLeNet's auxiliary classifiers)
        self.train_only = train_only
        # its params are not trained (frozen: true): counted apart as non-trainable
        self.frozen = frozen

    def error(self, message, key=None):
        """A SpecError located at this layer (and at ``key``'s line when known)."""
        line = self.key_lines.get(key, self.line) if key else self.line
        return SpecError(message, file=self.file, line=line, layer=self.name, key=key)


class LayerWord(str):
    """A word a caller passed as a block argument (``skip: enc4``), with the layer it names where written.

    ``target`` is that layer's full name, or None when the word names no layer there (then it is just a
    word, such as ``relu``, and using it in ``from:`` is an error naming ``line``).
    """

    __slots__ = ("target", "line", "caller")

    def __new__(cls, word, target, line, caller):
        self = super().__new__(cls, word)
        self.target = target
        self.line = line
        self.caller = caller  # (scope, prefix) where it was given, for suggestions
        return self

    def __reduce__(self):
        return str, (str(self),)  # copied or pickled, it is the plain word


class Reference:
    """A reference key's value once resolved: a full layer name, not to be read as an expression."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name
