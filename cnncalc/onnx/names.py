"""Layer names from an exporter's node names: PyTorch's scopes ('/layer1/layer1.0/conv1/Conv'), torch.export's
recorded module paths, and names shortened to the limit by keeping their deepest modules."""

import os

from ..spec.language import MAX_NAME_CHARS


def dynamo_scope(node):
    """torch.export records each node's module path in its metadata: ('encoder.layers.encoder_layer_0.mlp.0',
    'linear') from name_scopes ['', 'encoder', ..., 'encoder.layers.encoder_layer_0.mlp.0', 'linear']."""
    for entry in node.metadata_props:
        if entry.key == "pkg.torch.onnx.name_scopes":
            text = entry.value.strip()
            if not (text.startswith("[") and text.endswith("]")):
                return None
            parts = [part.strip().strip("'\"") for part in text[1:-1].split(",")]
            if len(parts) < 2 or not parts[-1]:
                return None
            op = parts[-1].rstrip("0123456789")
            return parts[-2], (op[:-1] if op.endswith("_") and len(op) > 1 else parts[-1])
    return None


def readers_scope(node, readers):
    """A node torch.export's optimizer wrote without the module path it was made in (``node_Split_376``, a
    chunk): the path its ``readers`` share, and its operator ('stages.1.blocks.2', 'Split'); None when it has
    another name, or they share none."""
    if not node.name.startswith("node_") or not readers:
        return None
    paths = [scope[0].split(".") for scope in map(dynamo_scope, readers) if scope is not None]
    if len(paths) != len(readers):
        return None
    shared = os.path.commonprefix(paths)  # element by element: the modules every reader is in
    return (".".join(shared), node.op_type) if shared else None


_SCOPES = {}  # node name -> its scope (a model names thousands of nodes alike: /a/b/Constant_3)


def torch_scope(name):
    """PyTorch's exporter names nodes '/layer1/layer1.0/conv1/Conv': ('layer1.0.conv1', 'Conv').

    Linear in the name's length (a 2 MB name of a million parts is read in one pass, then shortened)."""
    if not name or not name.startswith("/"):
        return None
    found = _SCOPES.get(name)
    if found is None:
        if len(_SCOPES) > 200_000:
            _SCOPES.clear()
        found = _SCOPES[name] = _scope_of(name)
    return found


def _scope_of(name):
    parts = [part for part in name.split("/") if part]
    if not parts:
        return None
    # a layer name keeps at most the end of its path (see shortened): the last MAX_NAME_CHARS parts give that,
    # each adding at least two characters ('.x'), so a name of a million parts costs no more than one of 100
    parts = parts[-MAX_NAME_CHARS - 1:]
    pieces = []
    previous = ""
    for part in parts[:-1]:
        if previous and part.startswith(previous) and part[len(previous):len(previous) + 1] == ".":
            pieces.append(part[len(previous):])  # 'layer1' then 'layer1.0': the path goes on by '.0'
        else:
            pieces.append(f".{part}" if pieces else part)
        previous = part
    return "".join(pieces), parts[-1]


def shortened(name, limit):
    """A layer name of at most ``limit`` characters: its last dotted parts that fit (the module deepest in the
    scope says most), or the end of its last part. A 16-module-deep PyTorch scope gives names of 138 and more."""
    if len(name) <= limit:
        return name
    kept, total = [], -1
    for part in reversed(name.split(".")):
        if total + 1 + len(part) > limit:
            break
        kept.append(part)
        total += 1 + len(part)
    return ".".join(reversed(kept)) if kept else name[-limit:]


def region_name(region):
    """The name of the attention layer an attention region becomes: its scope, or its weights' module."""
    scope = torch_scope(region.start.name) or dynamo_scope(region.start)
    if scope is not None and scope[0]:
        return scope[0]
    for name in region.names:
        parts = name.split(".")
        if len(parts) > 2:
            while parts and parts[-1] in ("weight", "bias", "qkv", "in_proj_weight", "in_proj_bias", "q", "k", "v"):
                parts.pop()
            if parts:
                return ".".join(parts)
    return None
