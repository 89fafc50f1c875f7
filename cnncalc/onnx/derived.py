"""Tensors torch.export derived from the model's own, and what they count.

Its optimizer folds a computation on constants into a new initializer the exporter names: a transposed
weight (``val_63``), a copy of a table (CoAtNet's ``val_238``), exp(clamp(logit scale)) (Swin V2's
``exp``), a gain times its constant scale (NF-ResNet's ``view_1``), a Linear run on a constant table (Swin
V2's ``val_3``), a whole standardised weight. It records every tensor each was folded from in the graph's
value_info (``pkg.onnxscript.optimizer.folded_from``). The model's tensors among them (state-dict names,
``features.1.0.attn.logit_scale``) say what such an initializer was computed from; the exporter's literals
(``val_12``) and intermediate results (``clamp``, ``view``) are not the model's, so a tensor folded from
none of the model's is a literal (the zeros it writes for an absent bias), never params.

Params are what the graph holds: a derived tensor counts its own elements where the model's tensor would
count (the same count when the fold keeps one value per value: a transpose, a copy, exp(clamp(x)), a gain
times a constant). Where a fold changes what is counted -- a Linear folded with its constant input, a gain
folded into a weight -- :func:`notes` says what and by how much.

The TorchScript exporter's constant folding (its default) derives tensors too, and records nothing: a Linear's
weight transposed (``onnx::MatMul_12``), a standardised weight reshaped with its gain times its constant
(``onnx::BatchNormalization_7``). :func:`transposed_weight` and :func:`standardisation_roles` read those by
their names and shapes, in a file without torch.export's records only.
"""

import re

from .rope import notes as rope_notes
from .tensors import elements, is_model_name, shape_text, stored_name

FOLDED_FROM = "pkg.onnxscript.optimizer.folded_from"
_QUOTED = re.compile(r"'([^'\n]{1,1000})'")
_MAX_RECORD_CHARS = 100_000
# a tensor the program made (Swin's shift mask filled in forward), which torch.export lifts as a constant and
# names after its module: neither a parameter nor a buffer in PyTorch
_LIFTED = re.compile(r"(lifted_tensor|_tensor_constant)_?\d*$")


def origins(reader, name):
    """The model's tensors the initializer ``name`` was folded from, sorted: empty for a literal the exporter
    made from none of them; None when the graph records nothing for it (a file without the records)."""
    if reader.folded_from is None:
        reader.folded_from = _records(reader.graph)
    return reader.folded_from.get(name)


def _records(graph):
    records = {}
    for info in graph.value_info:
        for entry in info.metadata_props:
            if entry.key == FOLDED_FROM:
                names = _QUOTED.findall(entry.value[:_MAX_RECORD_CHARS])
                records[info.name] = tuple(sorted({name for name in names if is_model_name(name)
                                                   and not _LIFTED.match(name.rsplit(".", 1)[-1])}))
    return records


def copy_of(reader, name):
    """The one model tensor an exporter-named initializer was folded from alone, with literals at most (a
    copy, a transpose, a cast, exp(clamp(x)), x times a constant), or None. Such a tensor counts its own
    elements, as the graph holds it: the same count as the model's where the fold keeps one value per value."""
    made = origins(reader, name)
    return made[0] if made and len(made) == 1 else None


def torchscript_folded(reader, name):
    """Whether the tensor ``name`` is an initializer the TorchScript exporter's constant folding (its default,
    do_constant_folding=True) made from the model's, or an Identity of one: named ``onnx::Mul_12``, in a file
    without torch.export's records (a weight transposed or reshaped, one value per value)."""
    const = reader.consts.get(name)
    stored = stored_name(reader, name, const)
    return (stored.startswith("onnx::") and stored in reader.initializers and const is not None
            and const.dims is not None and origins(reader, stored) is None and not reader.folded_from)


def transposed_weight(reader, name):
    """Whether the 2-D ``name`` is a weight :func:`torchscript_folded`: a Linear's weight folded transposed
    (Swin V2's bias MLP); counted as that weight."""
    return torchscript_folded(reader, name) and len(reader.consts.get(name).dims) == 2


def folded_product(reader, name):
    """Whether the initializer ``name`` was folded from two or more of the model's tensors: a product of them
    computed ahead (Swin V2's first bias-MLP Linear run on its coordinates table)."""
    made = origins(reader, name)
    return made is not None and len(made) > 1


# --- what a node's PyTorch call took -----------------------------------------------------------------

FX_NODE = "pkg.torch.onnx.fx_node"
_ARGUMENTS = re.compile(r"args = \((.*?)\), kwargs = ")


def call_arguments(node):
    """The arguments of the PyTorch call torch.export wrote ``node`` for, as its metadata records them
    (``['%view', '%view_1', 'None', 'True', ...]``: ``%p_...`` a parameter, ``%b_...`` a buffer, another
    ``%name`` a tensor the program computed, ``None`` no tensor), or None when it records none."""
    text = next((entry.value[:4000] for entry in node.metadata_props if entry.key == FX_NODE), None)
    found = _ARGUMENTS.search(text) if text else None
    if found is None:
        return None
    parts, depth, current = [], 0, []
    for char in found.group(1):
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += (char in "([{") - (char in ")]}")
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def standardisation_roles(reader, name, steps=6):
    """What each exporter-named initializer of the BatchNormalization that standardises a computed weight
    ``name`` is (weight standardisation: the learned weight normalised per filter by its own mean and
    variance, then scaled and shifted): 'gain' at the scale when the PyTorch call took a tensor there (NF-
    ResNet's gain times a constant: one value per filter), 'literal' where it took None (the exporter's
    zeros or ones). Read from the node's metadata, which names what each argument was; the optimizer may
    have merged equal constants, so a tensor's own record of what it was folded from is not used here.
    Empty when the weight comes from no such node or the metadata is missing."""
    at = reader.makers.get(name)
    for _ in range(steps):  # back through the Reshapes to the BatchNormalization
        if at is None or reader.op_types[at] == "BatchNormalization":
            break
        computed = [n for n in reader.inputs_of[at]  # (an initializer shared through an Identity is one)
                    if n and stored_name(reader, n, reader.consts.get(n)) not in reader.initializers]
        at = reader.makers.get(computed[0]) if len(computed) == 1 else None
    if at is None or reader.op_types[at] != "BatchNormalization":
        return {}
    norm = reader.nodes[at]
    arguments = call_arguments(norm)
    if arguments is None and len(norm.input) >= 3 and origins(reader, norm.input[1]) is None \
            and not reader.folded_from:
        return _folded_by_torchscript(reader, norm)
    if arguments is None or len(arguments) < 3 or len(norm.input) < 3:
        return {}
    roles = {}
    for position in (2, 1):  # the scale last: a tensor the optimizer merged into both places is the gain
        tensor, argument = norm.input[position], arguments[position]
        if tensor in reader.initializers and not is_model_name(tensor):
            roles[tensor] = "literal" if argument == "None" else None if argument.startswith(("%b_", "%c_")) \
                else "gain" if argument.startswith("%") else None  # a buffer's or a lifted constant's: not told
    return roles


def _folded_by_torchscript(reader, norm):
    """The roles in a file without torch.export's records: the TorchScript exporter's constant folding (its
    default) stores the learned weight reshaped to 1 x Cout x K ('weight'), the standardisation's scale, the
    gain times its constant ('gain': one value per filter), and the zeros of its absent shift ('literal') as
    initializers it names ``onnx::BatchNormalization_12`` (or Identities of one of equal values)."""
    roles = {}
    for position, role in ((0, "weight"), (2, "literal"), (1, "gain")):
        if not torchscript_folded(reader, norm.input[position]):
            continue
        const = reader.consts.get(norm.input[position])
        tensor = stored_name(reader, norm.input[position], const)
        if role == "weight" and len(const.dims) >= 3 and const.dims[0] == 1:
            roles[tensor] = role
        elif role == "gain" and len(const.dims) == 1:
            roles[tensor] = role
        elif role == "literal" and len(const.dims) == 1:
            values = const.array()
            if values is not None and not values.any():
                roles[tensor] = role
    return roles


# --- the notes -----------------------------------------------------------------------------------------

def notes(reader, spec):
    """One line for each kind of fold whose counts differ from PyTorch's."""
    lines = []
    layers = [layer for layer in spec.layers if layer.keys.get("position") == "continuous_folded"]
    if layers:
        lines.append(_mlp_note(layers))
    weights = folded_weights(reader)
    if weights:
        lines.append(_weight_note(weights))
    return lines + rope_notes(spec)


def mlp_difference(table, hidden):
    """(params, buffers, MACs) a bias MLP whose first Linear (2 -> hidden, Swin V2's on (dy, dx) pairs) was
    folded with its table of ``table`` offsets counts more than PyTorch: the folded constant table x hidden
    for the Linear's weight 2 x hidden, no coordinates buffer (2 x table), not that Linear's MACs."""
    return table * hidden - 2 * hidden, -2 * table, -2 * table * hidden


def _mlp_note(layers):
    params = buffers = macs = 0
    for layer in layers:
        side, hidden = layer.keys["window"], layer.keys.get("cpb_hidden", 512)
        more = mlp_difference((2 * side - 1) ** 2, hidden)
        params, buffers, macs = params + more[0], buffers + more[1], macs + more[2]
    side, hidden = layers[0].keys["window"], layers[0].keys.get("cpb_hidden", 512)
    count = len(layers)
    scales = ("; the logit scales, stored as exp(clamp(scale)), count one a head as in PyTorch"
              if any(layer.keys.get("cosine") for layer in layers) else "")
    return (f"torch.export ran the first Linear of the continuous position bias MLP of {count} attention "
            f"layer{'s' if count > 1 else ''} on its constant coordinates table ahead of time and stored the "
            f"result, a (2W-1)^2 x hidden constant ({2 * side - 1}x{2 * side - 1}x{hidden}; position: "
            f"continuous_folded): params count those constants, {params:,} more than PyTorch, which counts that "
            f"Linear's 2 x hidden weight instead (Swin V2's coordinates are (dy, dx) pairs) and the coordinates "
            f"tables as buffers ({-buffers:,} buffers fewer here); MACs leave out that Linear's (2W-1)^2 x 2 x "
            f"hidden, {-macs:,} that FlopCounterMode counts{scales} (export with dynamo=False for PyTorch's "
            f"figures)")


def folded_weights(reader):
    """(weight, its dims, the model's tensors it was folded from) for each Conv whose weight torch.export
    computed from several of the model's tensors (NF-ResNet's standardised weight with its gain)."""
    found = []
    for op, inputs in zip(reader.op_types, reader.inputs_of):  # as read once by GraphReader.prepare
        weight = inputs[1] if op == "Conv" and len(inputs) > 1 else ""
        if weight in reader.initializers and not is_model_name(weight) and folded_product(reader, weight):
            found.append((weight, tuple(reader.initializers[weight].dims), origins(reader, weight)))
    return found


def gain_difference(dims, made):
    """The params PyTorch counts besides a conv weight of ``dims`` folded from ``made``: its gain when one
    is among them (timm's ScaledStdConv2d: one value per filter), else None (not told by the file)."""
    return dims[0] if any(name.endswith(".gain") for name in made) and len(dims) > 1 else None


def _weight_note(weights):
    name, dims, made = weights[0]
    gains = [gain_difference(d, m) for _, d, m in weights]
    count, held = len(weights), sum(elements(d) for _, d, _ in weights)
    if all(gain is not None for gain in gains):
        counted = (f"PyTorch counts the gain{'s' if count > 1 else ''} besides, one value a filter (timm's "
                   f"ScaledStdConv2d): {sum(gains):,} params")
    else:
        counted = "PyTorch counts the tensors they were computed from, whose sizes the file does not hold"
    return (f"torch.export computed the weight{'s' if count > 1 else ''} of {count} Conv{'s' if count > 1 else ''} "
            f"from several of the model's tensors ahead of time and stored the result ({'first ' if count > 1 else ''}"
            f"'{name}', {shape_text(dims)}, from {' and '.join(made)}): params count the {held:,} values the file "
            f"holds; {counted} (export with dynamo=False for PyTorch's figures)")
