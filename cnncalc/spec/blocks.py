"""The ``blocks:`` section: each block's arguments, layers and output, checked but not expanded."""

import re

from ..errors import SpecError, did_you_mean, shown
from .loader import Located
from .language import BLOCK_KEYS, LAYER_WORDS, SHAPE_NAMES
from .params import dependency_order, names_read

_MENTIONS_SHAPE = re.compile(r"\bin_(channels|size|shape)\b")


class Block:
    def __init__(self, name, args, layers, output, line, defaults_order, reads_shapes):
        self.name = name
        self.args = args
        self.layers = layers
        self.output = output
        self.line = line
        self.defaults_order = defaults_order  # arguments in an order where each default comes after those it reads
        self.reads_shapes = reads_shapes  # its text mentions in_channels / in_size / in_shape


def read_blocks(section, file, line):
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise SpecError("'blocks' must be a mapping of block name to definition", file=file, line=line)
    blocks = {}
    for name, body in section.items():
        where = section.line_of(name)
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"block name {name!r} must be letters, digits and _", file=file, line=where)
        if not isinstance(body, dict):
            raise SpecError(f"block '{name}' must be a mapping with 'layers' (and 'args')", file=file, line=where)
        for key in body:
            if key not in BLOCK_KEYS:
                raise SpecError(f"block '{name}': unknown key '{shown(key)}'{did_you_mean(key, BLOCK_KEYS)}",
                                file=file, line=body.line_of(key))
        if "layers" not in body:
            raise SpecError(f"block '{name}' has no 'layers'", file=file, line=where)
        args = body.get("args") or {}
        if not isinstance(args, dict):
            raise SpecError(f"block '{name}': 'args' must be a mapping of argument to default "
                            f"(~ for a required argument)", file=file, line=body.line_of("args"))
        for arg in args:
            if not isinstance(arg, str) or not arg.isidentifier():
                raise SpecError(f"block '{name}': argument name {arg!r} must be an identifier",
                                file=file, line=args.line_of(arg))
            if arg in LAYER_WORDS or arg in SHAPE_NAMES:
                raise SpecError(f"block '{name}': '{arg}' is a reserved word and cannot be an argument",
                                file=file, line=args.line_of(arg))
        output = body.get("output")
        if output is not None and not isinstance(output, str):
            raise SpecError(f"block '{name}': 'output' must name one of its layers", file=file,
                            line=body.line_of("output"))
        # a default may read a param of its own name (`args: {width: width}`): not a cycle
        order = dependency_order(args, lambda arg: names_read(args[arg], args) - {arg}, f"block '{name}': args",
                                  file, args.line_of if isinstance(args, Located) else (lambda key: where))
        reads_shapes = _mentions_shape(body["layers"]) or _mentions_shape(list(args.values()))
        blocks[name] = Block(name, args, body["layers"], output, where, order, reads_shapes)
    return blocks


def _mentions_shape(value):
    """Whether any text inside ``value`` reads in_channels / in_size / in_shape."""
    if isinstance(value, str):
        return bool(_MENTIONS_SHAPE.search(value))
    if isinstance(value, list):
        return any(_mentions_shape(v) for v in value)
    if isinstance(value, dict):
        return any(_mentions_shape(v) for v in value.values())
    return False
