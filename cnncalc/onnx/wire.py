"""An ONNX file's bytes with the large data of its initializers left out, read from the protobuf wire format.

Only initializers' dims are needed, never their data, so the graph is parsed without the weights. The wire
format is walked just deep enough (ModelProto.graph -> GraphProto.initializer -> TensorProto data fields);
anything it cannot walk raises ValueError, and the caller hands protobuf the whole file instead.
"""

from .tensors import MAX_VALUE_ELEMENTS

# An initializer's data larger than this is left unread (its dims are all the reader needs).
KEEP_DATA_BYTES = 8 * MAX_VALUE_ELEMENTS
_TENSOR_DATA_FIELDS = (4, 5, 6, 7, 9, 10, 11)  # TensorProto: float/int32/string/int64/raw/double/uint64 data
_MODEL_GRAPH = 7  # ModelProto.graph
_GRAPH_INITIALIZER = 5  # GraphProto.initializer
_GRAPH_NODE = 1  # GraphProto.node


class TooLarge(Exception):
    """What is kept of the model is larger than the limit given to :func:`without_weights`, or its graph has
    more nodes than that limit (``what`` says which)."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


def without_weights(buffer, limit, max_nodes):
    """The ModelProto in ``buffer`` with its initializers' large data fields left out. TooLarge as soon as
    what is kept passes ``limit`` bytes, before that byte is copied (a 600 MB doc_string is never copied), or
    the graph passes ``max_nodes`` nodes (counted as they are passed over, before protobuf builds any)."""
    budget = [limit]

    def keep(start, end):
        budget[0] -= end - start
        if budget[0] < 0:
            raise TooLarge("bytes")
        return buffer[start:end]

    def tensor_without_data(begin, stop):
        if stop - begin <= KEEP_DATA_BYTES:  # no data field to leave out: kept whole, not walked field by field
            return keep(begin, stop)
        return b"".join(keep(start, end) for number, wire, start, value, end in _fields(buffer, begin, stop)
                        if not (number in _TENSOR_DATA_FIELDS and wire == 2 and end - value > KEEP_DATA_BYTES))

    def graph_without_weights(begin, stop):
        return _rewrite_field(buffer, begin, stop, _GRAPH_INITIALIZER, tensor_without_data, keep,
                              counted=(_GRAPH_NODE, max_nodes))

    return _rewrite_field(buffer, 0, len(buffer), _MODEL_GRAPH, graph_without_weights, keep)


def _rewrite_field(buffer, begin, stop, field_number, rewrite, keep, counted=None):
    """The message in buffer[begin:stop] with each length-delimited field ``field_number`` replaced by
    ``rewrite(payload start, payload end)``; the runs of other fields between are copied (by ``keep``) as
    they are. ``counted``: (a field number, how many of it are allowed)."""
    parts = []
    run = begin  # where the fields not yet copied begin
    count_number, allowed = counted or (None, None)
    position = begin
    while position < stop:
        if count_number is not None and buffer[position] == count_number << 3 | 2:
            position, count = _skip_run(buffer, position, stop)  # the graph's nodes: 20,000 in a video Swin
            allowed -= count
            if allowed < 0:
                raise TooLarge("nodes")
            continue
        number, wire, start, value, end = next(_fields(buffer, position, stop))
        if number == field_number and wire == 2:
            parts.append(keep(run, start))
            parts.append(_field(field_number, rewrite(value, end)))
            run = end
        position = end
    parts.append(keep(run, stop))
    return b"".join(parts)


def _skip_run(buffer, position, stop):
    """The end of the run of length-delimited fields starting at ``position`` whose one-byte key is the
    one there, and how many there are: the fields are passed over in one loop (a field at a time through
    :func:`_fields` cost a microsecond more each)."""
    key, count = buffer[position], 0
    while position < stop and buffer[position] == key:
        position += 1
        length = buffer[position] if position < stop else 0x80
        if length < 0x80:
            position += 1 + length
        elif position + 1 < stop and buffer[position + 1] < 0x80:  # two bytes: a node of 128 bytes to 16 KB
            position += 2 + (length & 0x7F) + (buffer[position + 1] << 7)
        else:
            length, position = _varint(buffer, position, stop)
            position += length
        count += 1
    if position > stop:
        raise ValueError("truncated")
    return position, count


def _varint(buffer, position, stop):
    result = shift = 0
    while True:
        if position >= stop or shift > 63:
            raise ValueError("bad varint")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(buffer, position, stop):
    """(field number, wire type, field start, value start, field end) of each field in a message."""
    while position < stop:
        start = position
        key = buffer[position]
        if key < 0x80:  # a one-byte key (every field number below 16): read here, not by _varint
            position += 1
        else:
            key, position = _varint(buffer, position, stop)
        number, wire = key >> 3, key & 7
        value = position
        if wire == 2:
            length = buffer[position] if position < stop else 0x80
            if length < 0x80:  # a one-byte length (a node of less than 128 bytes)
                value = position + 1
            else:
                length, value = _varint(buffer, position, stop)
            position = value + length
        elif wire == 0:
            _, position = _varint(buffer, position, stop)
        elif wire == 1:
            position += 8
        elif wire == 5:
            position += 4
        else:
            raise ValueError(f"wire type {wire}")
        if position > stop or number == 0:
            raise ValueError("truncated")
        yield number, wire, start, value, position


def _field(number, payload):
    """A length-delimited field: key, length, payload."""
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
