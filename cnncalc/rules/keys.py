"""Key validators (check_*): each takes (layer, key, value) and returns the value a rule sees, or raises
the layer's error; and the key tables several rules share.

A size key holds an int (every spatial axis) or a tuple (one per axis, checked against the input's
rank by per_axis when the rule runs).
"""

from ..errors import did_you_mean
from ..numbers import is_whole_number
from ..spec import MAX_SIZE
from .registry import REQUIRED

ACTIVATIONS = ("relu", "relu6", "leakyrelu", "elu", "selu", "gelu", "sigmoid", "tanh", "silu",
               "swish", "hardswish", "hardsigmoid", "mish", "softplus")
# the activations with a parameter, and its name: `act: {leakyrelu: 0.1}`
ACTIVATION_PARAMETERS = {"leakyrelu": "slope", "elu": "alpha", "softplus": "beta"}


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


def check_count(layer, key, value):
    return _int(layer, key, value, 1)


def check_size(layer, key, value):
    return _sizes(layer, key, value, 1)


def check_offset(layer, key, value):
    return _sizes(layer, key, value, 0)


def check_pad(layer, key, value):
    """An int, one per axis, two per axis ([top, bottom, left, right] in 2-D), or the words same/valid."""
    if value in ("same", "valid"):
        return value
    return _sizes(layer, key, value, 0, (1, 2, 3, 4, 6), "one per axis, or before and after on each axis")


def check_flag(layer, key, value):
    if not isinstance(value, bool):
        raise layer.error(f"{key} must be true or false, not {_describe(value)}", key)
    return value


def check_number(layer, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise layer.error(f"{key} must be a number, not {_describe(value)}", key)
    return value


def check_scale(layer, key, value):
    """A positive number (int or float) or a list of one per spatial axis."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not 1 <= len(values) <= 3:
        raise layer.error(f"{key} must be one number or a list of one per spatial axis, not {value!r}", key)
    for v in values:
        if check_number(layer, key, v) <= 0:
            raise layer.error(f"{key} must be positive, not {v!r}", key)
    return tuple(values) if isinstance(value, (list, tuple)) else value


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
    return check_word


def check_reference(layer, key, value):
    """Another layer's name (resolved by the spec like ``from``); the rule gets that layer's output shape."""
    return layer.references[key]


def check_channel_pad(layer, key, value):
    """Channels to add: a total (split evenly, any odd one after) or [before, after]."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise layer.error(f"{key} must be a number of channels or [before, after], not {value!r}", key)
        return tuple(_int(layer, key, v, 0) for v in value)
    total = _int(layer, key, value, 0)
    return (total // 2, total - total // 2)


def check_index(layer, key, value):
    """A 0-based position: a whole number, 0 or more."""
    return _int(layer, key, value, 0)


WINDOW_KEYS = {"kernel": (check_size, REQUIRED), "stride": (check_size, 1), "pad": (check_pad, 0),
               "dilation": (check_size, 1)}
CONV_KEYS = {"filters": (check_count, REQUIRED), **WINDOW_KEYS, "groups": (check_count, 1),
             "bias": (check_flag, True), "act": (check_activation, None), "connections": (check_table, None),
             "weightnorm": (check_flag, False)}
