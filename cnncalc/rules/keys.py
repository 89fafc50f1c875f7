"""Key validators (check_*): each takes (layer, key, value) and returns the value a rule sees, or raises
the layer's error; and the key tables several rules share.

A size key holds an int (every spatial axis) or a tuple (one per axis, checked against the input's
rank by per_axis when the rule runs). Each validator also declares how its keys are written
(:func:`written_as`): the placeholder of its option in `cnncalc layer` and its JSON Schema in
`cnncalc schema`, so a rule's keys are declared in one place.
"""

from ..errors import did_you_mean
from ..numbers import MAX_SIZE, is_whole_number
from ..spec.expr import MAX_MAGNITUDE
from .registry import REQUIRED

ACTIVATIONS = ("relu", "relu6", "leakyrelu", "elu", "selu", "gelu", "sigmoid", "tanh", "silu",
               "swish", "hardswish", "hardsigmoid", "mish", "softplus", "squaredrelu")
# the activations with a parameter, and its name: `act: {leakyrelu: 0.1}`
ACTIVATION_PARAMETERS = {"leakyrelu": "slope", "elu": "alpha", "softplus": "beta"}

# Inside blocks any value may be an expression over the block's arguments (``planes * 4``), so every
# schema below also accepts text.
EXPRESSION = {"type": "string", "description": "an expression over block arguments and params, e.g. planes * 4"}


def whole_schema(minimum):
    return {"anyOf": [{"type": "integer", "minimum": minimum}, EXPRESSION]}


def sizes_schema(minimum, lengths=(1, 3)):
    """One number (every spatial axis) or a list of one per axis ([l], [h, w], [d, h, w])."""
    return {"anyOf": [{"type": "integer", "minimum": minimum},
                      {"type": "array", "items": whole_schema(minimum), "minItems": lengths[0],
                       "maxItems": lengths[1]}, EXPRESSION]}


def written_as(metavar, schema):
    """Declare how the keys a validator checks are written: ``metavar`` (the placeholder of the key's
    option in `cnncalc layer`) and ``schema`` (its JSON Schema, without the default)."""

    def declare(check):
        check.metavar, check.schema = metavar, schema
        return check

    return declare


def _describe(value):
    if isinstance(value, bool):
        return f"{value}".lower() + " (a boolean)"
    return repr(value)


def _int(layer, key, value, minimum):
    if not is_whole_number(value):
        if isinstance(value, float) and value.is_integer() and value == value:
            value = int(value)
        else:
            raise layer.error(f"{key} must be a whole number, not {_describe(value)}", key)
    if value < minimum:
        raise layer.error(f"{key} must be at least {minimum}, not {value}", key)
    if value > MAX_SIZE:
        raise layer.error(f"{key} must be at most {MAX_SIZE:,}, not {value:,}", key)
    return value


def _sizes(layer, key, value, minimum, lengths=(1, 2, 3), what="[d, h, w], [h, w] or [l]"):
    if isinstance(value, (list, tuple)):
        if len(value) not in lengths:
            raise layer.error(f"{key} must be one number or a list of one per spatial axis ({what}), "
                              f"not {value!r}", key)
        return tuple(_int(layer, key, v, minimum) for v in value)
    return _int(layer, key, value, minimum)


@written_as("N", whole_schema(1))
def check_count(layer, key, value):
    return _int(layer, key, value, 1)


@written_as("N|HxW", sizes_schema(1))
def check_size(layer, key, value):
    return _sizes(layer, key, value, 1)


@written_as("N|HxW", sizes_schema(0))
def check_offset(layer, key, value):
    return _sizes(layer, key, value, 0)


@written_as("P|PhxPw|same|valid", {"anyOf": [{"enum": ["same", "valid"]}, sizes_schema(0, (1, 6))],
                                   "description": "one number, one per axis, or before and after on each axis "
                                                  "([top, bottom, left, right] in 2-D)"})
def check_pad(layer, key, value):
    """An int, one per axis, two per axis ([top, bottom, left, right] in 2-D), or the words same/valid."""
    if value in ("same", "valid"):
        return value
    return _sizes(layer, key, value, 0, (1, 2, 3, 4, 6), "one per axis, or before and after on each axis")


@written_as("N", {"anyOf": [{"type": "boolean"}, EXPRESSION]})
def check_flag(layer, key, value):
    if not isinstance(value, bool):
        raise layer.error(f"{key} must be true or false, not {_describe(value)}", key)
    return value


@written_as("X", {"anyOf": [{"type": "number"}, EXPRESSION]})
def check_number(layer, key, value):
    """A number within +-10^15, as an expression's every value is (a YAML float such as 1.0e+307 is not: a
    scale that large overflowed to inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise layer.error(f"{key} must be a number, not {_describe(value)}", key)
    if abs(value) > MAX_MAGNITUDE:
        raise layer.error(f"{key} must be within +-10^15, not {value!r:.30}", key)
    return value


@written_as("FLOAT|HxW", {"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                               {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 1,
                                "maxItems": 3}, EXPRESSION]})
def check_scale(layer, key, value):
    """A positive number (int or float) or a list of one per spatial axis."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not 1 <= len(values) <= 3:
        raise layer.error(f"{key} must be one number or a list of one per spatial axis, not {value!r}", key)
    for v in values:
        if check_number(layer, key, v) <= 0:
            raise layer.error(f"{key} must be positive, not {v!r}", key)
    return tuple(values) if isinstance(value, (list, tuple)) else value


@written_as("NAME", {"anyOf": [
    {"enum": list(ACTIVATIONS)},
    {"type": "object", "minProperties": 1, "maxProperties": 1,
     "propertyNames": {"enum": list(ACTIVATION_PARAMETERS)}, "additionalProperties": {"type": "number"},
     "description": "an activation with its parameter, e.g. {leakyrelu: 0.1}"},
    {"type": "string"}]})
def check_activation(layer, key, value):
    """An activation name, or ``{name: parameter}`` for one that has a parameter (``{leakyrelu: 0.1}``).

    The layer keeps it as text: ``relu``, ``leakyrelu(0.1)``.
    """
    if isinstance(value, dict):
        if len(value) != 1:
            raise layer.error(f"{key} must be one activation, like {{leakyrelu: 0.1}}, not {value!r}", key)
        (name, parameter), = value.items()
        if name not in ACTIVATION_PARAMETERS:
            takes = ", ".join(ACTIVATION_PARAMETERS)
            raise layer.error(f"{key}: {name!r} takes no parameter (these do: {takes})"
                              f"{did_you_mean(name, ACTIVATION_PARAMETERS)}", key)
        check_number(layer, f"{key} {name} ({ACTIVATION_PARAMETERS[name]})", parameter)
        return f"{name}({parameter:g})"
    if value not in ACTIVATIONS:
        raise layer.error(f"{key} must be an activation ({', '.join(ACTIVATIONS)}), not {value!r}"
                          f"{did_you_mean(value, ACTIVATIONS)}", key)
    return value


@written_as("N", {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}})
def check_table(layer, key, value):
    """A connection table: for each output map, the list of input maps it reads (0-based)."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) and row for row in value):
        raise layer.error(f"{key} must be a list with one list of input-map indices per filter", key)
    return [[_int(layer, key, i, 0) for i in row] for row in value]


def check_choice(*choices):
    """A checker for one of the words ``choices``."""

    def check_word(layer, key, value):
        if value not in choices:
            raise layer.error(f"{key} must be one of {', '.join(choices)}, not {_describe(value)}"
                              f"{did_you_mean(value, choices)}", key)
        return value

    check_word.choices = choices
    return written_as("|".join(choices), {"anyOf": [{"enum": list(choices)}, {"type": "string"}]})(check_word)


@written_as("N", {"type": "string", "description": "an earlier layer's name (its output size is used)"})
def check_reference(layer, key, value):
    """Another layer's name (resolved by the spec like ``from``); the rule gets that layer's output shape."""
    return layer.references[key]


@written_as("N", {"anyOf": [whole_schema(0), {"type": "array", "items": whole_schema(0), "minItems": 2,
                                                "maxItems": 2}],
                  "description": "channels to add: a total, or [before, after]"})
def check_channel_pad(layer, key, value):
    """Channels to add: a total (split evenly, any odd one after) or [before, after]."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise layer.error(f"{key} must be a number of channels or [before, after], not {value!r}", key)
        return tuple(_int(layer, key, v, 0) for v in value)
    total = _int(layer, key, value, 0)
    return (total // 2, total - total // 2)


@written_as("N|AxB", {"anyOf": [{"type": "array", "items": whole_schema(0), "minItems": 2, "maxItems": 2},
                                 EXPRESSION], "description": "[start, stop]: from start up to, not including, stop"})
def check_range(layer, key, value):
    """A range of positions [start, stop], as Python's ``start:stop``: start included, stop not, start < stop."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise layer.error(f"{key} must be [start, stop] (as x[:, start:stop]), not {_describe(value)}", key)
    start, stop = (_int(layer, key, v, 0) for v in value)
    if start >= stop:
        raise layer.error(f"{key} [{start}, {stop}] is empty: start must be below stop (stop is not included)", key)
    return start, stop


@written_as("N", {})
def check_index(layer, key, value):
    """A 0-based position: a whole number, 0 or more."""
    return _int(layer, key, value, 0)


WINDOW_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, 1), "pad": (check_pad, 0),
               "dilation": (check_size, 1)}
CONV_KEYS = {"filters": (check_count, REQUIRED), **WINDOW_KEYS, "groups": (check_count, 1),
             "bias": (check_flag, True), "act": (check_activation, None), "connections": (check_table, None),
             "weightnorm": (check_flag, False)}
