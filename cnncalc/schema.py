"""A JSON Schema (draft-07) of the spec file, generated from the rules registry.

Every layer type and its keys come from ``rules.RULES``, so a new rule shows up in editors without
touching this module. Inside blocks any value may be an expression over the block's arguments
(``planes * 4``), so numeric keys also accept text.
"""

from . import rules
from .spec import BLOCK_KEYS, IGNORED_TOP_LEVEL_PREFIX, LAYER_WORDS, TOP_LEVEL_KEYS

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
EXPRESSION = {"type": "string", "description": "an expression over block arguments and params, e.g. planes * 4"}


def _whole(minimum):
    return {"anyOf": [{"type": "integer", "minimum": minimum}, EXPRESSION]}


def _sizes(minimum, lengths=(1, 3)):
    """One number (every spatial axis) or a list of one per axis ([l], [h, w], [d, h, w])."""
    return {"anyOf": [{"type": "integer", "minimum": minimum},
                      {"type": "array", "items": _whole(minimum), "minItems": lengths[0], "maxItems": lengths[1]},
                      EXPRESSION]}


def _value_schema(check):
    """The JSON Schema of a key from the function that validates it in rules/keys.py."""
    if check is rules.check_count:
        return _whole(1)
    if check is rules.check_index:
        return _whole(0)
    if check is rules.check_size:
        return _sizes(1)
    if check is rules.check_offset:
        return _sizes(0)
    if check is rules.check_pad:
        return {"anyOf": [{"enum": ["same", "valid"]}, _sizes(0, (1, 6))],
                "description": "one number, one per axis, or before and after on each axis ([top, bottom, left, "
                               "right] in 2-D)"}
    if check is rules.check_channel_pad:
        return {"anyOf": [_whole(0), {"type": "array", "items": _whole(0), "minItems": 2, "maxItems": 2}],
                "description": "channels to add: a total, or [before, after]"}
    if check is rules.check_flag:
        return {"anyOf": [{"type": "boolean"}, EXPRESSION]}
    if check is rules.check_number:
        return {"anyOf": [{"type": "number"}, EXPRESSION]}
    if check is rules.check_scale:
        return {"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                          {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 1,
                           "maxItems": 3}, EXPRESSION]}
    if check is rules.check_activation:
        with_parameter = {"type": "object", "minProperties": 1, "maxProperties": 1,
                          "propertyNames": {"enum": list(rules.ACTIVATION_PARAMETERS)},
                          "additionalProperties": {"type": "number"},
                          "description": "an activation with its parameter, e.g. {leakyrelu: 0.1}"}
        return {"anyOf": [{"enum": list(rules.ACTIVATIONS)}, with_parameter, {"type": "string"}]}
    if check is rules.check_table:
        return {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}}
    if check is rules.check_reference:
        return {"type": "string", "description": "an earlier layer's name (its output size is used)"}
    if hasattr(check, "choices"):
        return {"anyOf": [{"enum": list(check.choices)}, {"type": "string"}]}
    return {}


def _key_schema(check, default):
    schema = dict(_value_schema(check))
    if default is not None and default is not rules.REQUIRED:
        schema["default"] = list(default) if isinstance(default, tuple) else default
    return schema


def _layer_type_schema(rule_):
    """``if type == NAME then`` these keys (and only these, besides the layer words)."""
    properties = {word: {} for word in LAYER_WORDS}
    properties.update({key: _key_schema(check, default) for key, (check, default) in rule_.keys.items()})
    required = [key for key, (_, default) in rule_.keys.items() if default is rules.REQUIRED]
    then = {"description": f"{rule_.name}: {rule_.summary}", "properties": properties, "additionalProperties": False}
    if required:
        then["required"] = required
    return {"if": {"properties": {"type": {"const": rule_.name}}, "required": ["type"]}, "then": then}


USE_ITEM = {
    "type": "object", "required": ["use"], "additionalProperties": False,
    "properties": {
        "name": {"type": ["string", "integer"]},
        "use": {"type": "string", "description": "a built-in model or a spec file, used as a backbone"},
        "until": {"type": "string", "description": "the last layer or block of it to keep"},
        "from": {"type": "string"}, "train_only": {"type": ["boolean", "string"]},
        "frozen": {"type": ["boolean", "string"]},
    },
}


def _layer_schema():
    names = list(rules.RULES)
    return {
        "type": "object",
        "required": ["type"],
        "properties": {
            "name": {"type": ["string", "integer"], "description": "unique; a readable default is made"},
            "type": {"anyOf": [{"enum": names}, {"type": "string", "description": "a block name"}],
                     "description": "a layer type or a block defined under 'blocks'"},
            "from": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                     "description": "the layer(s) to take as input ('input' = the network or block input)"},
            "if": {"type": ["boolean", "string"], "description": "switch the layer off when false"},
            "repeat": _whole(1),
            "first": {"type": "object", "description": "arguments that differ in the first repeat"},
            "train_only": {"type": ["boolean", "string"],
                           "description": "a branch that runs only in training (counted with --mode train)"},
        },
        "allOf": [_layer_type_schema(rule_) for rule_ in rules.RULES.values()],
    }


def spec_schema():
    """The JSON Schema of a cnncalc spec file, as a dict."""
    layers = {"type": "array", "minItems": 1,
              "items": {"if": {"type": "object", "required": ["use"]}, "then": {"$ref": "#/definitions/use"},
                        "else": {"$ref": "#/definitions/layer"}}}
    block_keys = {
        "args": {"type": "object", "description": "argument: default (~ for a required argument)",
                 "propertyNames": {"not": {"enum": list(LAYER_WORDS)}}},
        "layers": {"$ref": "#/definitions/layers"},
        "output": {"type": "string", "description": "the block's output layer (default: the last)"},
        "description": {"type": "string"},
    }
    block = {"type": "object", "required": ["layers"], "additionalProperties": False,
             "properties": {key: block_keys.get(key, {}) for key in BLOCK_KEYS}}
    top_keys = {
        "name": {"type": ["string", "number"], "description": "display name"},
        "source": {"type": "string", "description": "where the architecture comes from"},
        "description": {"type": "string"},
        "input": {"anyOf": [{"type": "array", "items": _whole(1), "minItems": 1, "maxItems": 4},
                            {"type": "object", "required": ["tokens"], "additionalProperties": False,
                             "properties": {"tokens": {"type": "array", "items": _whole(1), "minItems": 2,
                                                       "maxItems": 2}}}],
                  "description": "[C, H, W]; [C, L] for 1-D, [C, D, H, W] for 3-D, [N] for a flat input, "
                                 "{tokens: [N, D]} for N tokens of width D"},
        "layers": {"$ref": "#/definitions/layers"},
        "blocks": {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                   "additionalProperties": {"$ref": "#/definitions/block"}},
        "params": {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                   "additionalProperties": {"anyOf": [{"type": ["number", "boolean", "string"]},
                                                      {"type": "array", "items": {"type": ["number", "boolean",
                                                                                           "string"]}}]},
                   "description": "named values usable everywhere (set from the command line with --set NAME=VALUE)"},
        "defaults": {"description": "ignored: a place to park YAML anchors"},
    }
    properties = {key: top_keys.get(key, {}) for key in TOP_LEVEL_KEYS}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "cnncalc network spec",
        "description": "A CNN described layer by layer for cnncalc (see `cnncalc show resnet50`).",
        "type": "object",
        "required": ["input", "layers"],
        "additionalProperties": False,
        "properties": properties,
        "patternProperties": {f"^{IGNORED_TOP_LEVEL_PREFIX}": {"description": "ignored: a place to park YAML anchors"}},
        "definitions": {"layers": layers, "layer": _layer_schema(), "use": USE_ITEM, "block": block},
    }
