"""The words and limits of the spec language, shared by reading, params, blocks and the expander."""

import re
import unicodedata

from ..errors import SpecError
from .expr import Undefined

MAX_LAYERS = 100_000  # 250,000 let a 3 KB spec take 1.4 GB to report; the largest real CNNs have a few thousand
MAX_REPEAT = 10_000
# Every layer, block use, repeat copy, block argument and switched-off layer expanded costs time and memory,
# layer or not: a repeat of blocks whose layers are all switched off by `if` gives no layers at all, and a
# block of 3,000 arguments repeated 10,000 times took 18 s for 10,000 layers (issue 15).
MAX_EXPANDED = 3 * MAX_LAYERS
EXPANSION_STEPS = "steps (layers, block uses, block arguments, switched-off layers)"
MAX_BLOCK_DEPTH = 16
# Params are copied into every block use's variables, so their number is bounded too.
MAX_PARAMS = 1_000
# Largest size (channels, height, width, units, kernel...) a spec may write; int32's maximum.
MAX_SIZE = 2**31 - 1

# Besides these, any top-level key starting with "x-" is accepted and ignored (a place for anchors),
# as is `defaults`.
TOP_LEVEL_KEYS = ("name", "source", "description", "input", "layers", "blocks", "params", "defaults")
IGNORED_TOP_LEVEL_PREFIX = "x-"
BLOCK_KEYS = ("args", "layers", "output", "description")
LAYER_WORDS = ("name", "type", "from", "if", "repeat", "first", "train_only", "frozen")
# a document that has neither is not a spec at all, and nothing of it is quoted in errors
SPEC_MARKERS = ("input", "layers")
# What a name (layer, network) may hold: printable characters (str.isprintable: no control characters,
# newlines, format characters such as U+202E or zero-width spaces, no separators but the plain space),
# at most MAX_NAME_CHARS; a layer's dotted name after expansion at most MAX_FULL_NAME_CHARS; `source`
# text the same characters, at most MAX_SOURCE_CHARS. Whatever else a name holds (`|`, `<`, `=`, `$`)
# is escaped by each output format.
MAX_NAME_CHARS = 100
MAX_FULL_NAME_CHARS = 200
MAX_SOURCE_CHARS = 1000
# true/false words that a block use passes on to every layer inside it
INHERITED_WORDS = ("train_only", "frozen")
NETWORK_INPUT = "input"
# Layer keys that name another layer, resolved like `from` (earlier layers, the same scope) to full names;
# the rule gets that layer's output shape, which is not an input (no memory, no receptive field).
REFERENCE_KEYS = ("like",)
# Read-only names inside a block: the shape of the block's input.
SHAPE_NAMES = ("in_channels", "in_size", "in_shape")
# a reference to a layer below another: enc4.conv2, layer1.0.conv1 (never an expression)
DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(\.\w+)+$")
# the name a repeated item's keys read its copy's index by (0, 1, ...)
REPEAT_INDEX = "i"
TOP_LEVEL_SHAPES = {name: Undefined("is only defined inside a block (it reads the shape of the block's input)")
                     for name in SHAPE_NAMES}


def check_text(text, what, limit, file=None, line=None, layer=None):
    """The name policy (see MAX_NAME_CHARS): a SpecError unless ``text`` is printable and short enough."""
    if len(text) > limit:
        raise SpecError(f"'{what}' is {len(text):,} characters long; the limit is {limit:,}", file=file, line=line,
                        layer=layer)
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        kind = ("a line break" if bad in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" else
                "a control character" if ord(bad) < 32 or 127 <= ord(bad) < 160 else
                "an invisible or direction-changing character" if unicodedata.category(bad) == "Cf" else
                "a character that does not print")
        raise SpecError(f"'{what}' holds {kind} (U+{ord(bad):04X}); a {what} may hold only printable characters",
                        file=file, line=line, layer=layer)


def whole_or_same(value):
    """A whole float (``224.0``) as an int; anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def kind_of(value):
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean"}.get(type(value), "value")
