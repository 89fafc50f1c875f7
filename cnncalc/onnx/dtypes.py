"""numpy's data types, by name, for :mod:`cnncalc.onnx.small`: how each is stored (struct codes, little-endian
as ONNX stores raw data), the values it holds (integers wrapped to their width, float32 and float16 rounded),
and which a mix of two gives (numpy's promotion)."""

import math
import struct

int64, int32, float32, float64 = "int64", "int32", "float32", "float64"
integer = "integer"

# dtype -> struct code (little-endian, as ONNX stores raw data)
CODES = {"float32": "f", "uint8": "B", "int8": "b", "uint16": "H", "int16": "h", "int32": "i", "int64": "q",
         "bool": "?", "float16": "e", "float64": "d", "uint32": "I", "uint64": "Q"}
_INTS = {"int8": (8, True), "uint8": (8, False), "int16": (16, True), "uint16": (16, False), "int32": (32, True),
         "uint32": (32, False), "int64": (64, True), "uint64": (64, False)}
_FLOATS = ("float16", "float32", "float64")


def itemsize(dtype):
    return struct.calcsize(CODES[dtype])


def issubdtype(dtype, kind):
    return dtype in _INTS if kind == integer else dtype in _FLOATS


def convert(values, dtype):
    """Python numbers as the values a numpy array of ``dtype`` holds (wrapped, rounded)."""
    if dtype in _INTS:
        bits, signed = _INTS[dtype]
        low, high = (-(1 << bits - 1), 1 << bits - 1) if signed else (0, 1 << bits)
        values = [int(v) for v in values]  # nan: ValueError, inf: OverflowError, as numpy's refusal
        if all(low <= v < high for v in values):
            return values
        mask = (1 << bits) - 1
        return [(v & mask) - (1 << bits) if signed and v & mask >= high else v & mask for v in values]
    if dtype == "float64":
        return [float(v) for v in values]
    if dtype in _FLOATS:
        code = CODES[dtype]
        try:
            return list(struct.unpack(f"<{len(values)}{code}", struct.pack(f"<{len(values)}{code}", *values)))
        except (OverflowError, struct.error):
            return [_round(float(v), code) for v in values]
    if dtype == "bool":
        return [bool(v) for v in values]
    raise TypeError(f"data type {dtype!r} not understood")


def _round(value, code):
    try:
        return struct.unpack("<" + code, struct.pack("<" + code, value))[0]
    except (OverflowError, struct.error):
        return math.copysign(math.inf, value)


def _dtype_of(values):
    if values and all(isinstance(v, bool) for v in values):
        return "bool"
    return "int64" if all(isinstance(v, int) for v in values) else "float64"


def result_type(*dtypes):
    """numpy's promotion for the dtypes the reader meets."""
    if all(d == dtypes[0] for d in dtypes):
        return dtypes[0]
    floats = [d for d in dtypes if d in _FLOATS]
    ints = [d for d in dtypes if d in _INTS]
    if floats:
        widest = max(floats, key=_FLOATS.index)
        needed = max((_INTS[d][0] for d in ints), default=0)  # an integer takes a float twice as wide
        return max([widest, "float16" if needed <= 8 else "float32" if needed <= 16 else "float64"],
                   key=_FLOATS.index) if needed else widest
    if ints:
        return max(ints, key=lambda d: (_INTS[d][0], not _INTS[d][1]))
    return "bool"
