"""Run the rules over a graph and collect report rows and totals: the importable API.

Stage four of the pipeline. ``analyze("resnet50", input=448)`` returns a :class:`Report`
whose rows know their own numbers; formatting them is the renderers' job (cnncalc.render).
"""


from . import receptive, rules
from .errors import SpecError, UsageError, did_you_mean, suggestion
from .graph import INPUT_INDEX, Graph, group_name
from .numbers import MAX_BATCH, as_shape, is_tokens, is_whole_number, plural, shown
from .shapes import read_input, shown_shape

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}
TOTAL_KEYS = ("params", "buffers", "macs", "flops", "elementwise", "memory_bytes", "weight_layers")
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}  # param-sized tensors the optimizer keeps


class Row:
    """One layer of the report (or, folded, one block): its shapes and what it costs."""

    __slots__ = ("name", "type", "inputs", "in_shape", "out_shape", "params", "buffers", "macs", "flops",
                 "elementwise", "memory_bytes", "receptive_field", "effective_stride", "filters", "kernel",
                 "stride", "pad", "warnings", "explain", "weight_layers", "line", "act", "layers", "train_only",
                 "fits", "train_costs", "frozen", "roofline", "heads", "scratch", "scratch_bytes", "transformer",
                 "products")

    @property
    def flops_2x(self):
        """The other FLOPs convention: 2 x MACs + elementwise work."""
        return 2 * self.macs + self.elementwise

    def __repr__(self):
        shapes = " -> ".join("x".join(map(str, shape)) for shape in (self.in_shape, self.out_shape))
        return (f"<Row {self.name} ({self.type}): {shapes}, {self.params:,} params, {self.macs:,} MACs, "
                f"{self.memory_bytes:,} B>")

    def to_dict(self):
        data = {
            "name": self.name, "type": self.type, "from": list(self.inputs),
            "in_shape": list(self.in_shape), "out_shape": list(self.out_shape),
            "params": self.params, "buffers": self.buffers, "macs": self.macs, "flops": self.flops,
            "flops_2x": self.flops_2x,
            "memory_bytes": self.memory_bytes,
            "receptive_field": list(self.receptive_field),
            "effective_stride": [receptive.stride_json(j) for j in self.effective_stride],
        }
        if is_tokens(self.out_shape):
            data["out_tokens"] = True  # out_shape is N x D (tokens), not a 1-D map's C x L
        for key in ("filters", "kernel", "stride", "act", "heads"):
            value = getattr(self, key)
            if value is not None:
                data[key] = list(value) if isinstance(value, tuple) else value
        if self.pad is not None:
            data["pad"] = [list(p) for p in self.pad]
        if self.kernel is not None:
            data["fits"] = self.fits
        if self.train_only:
            data["train_only"] = True
        if self.frozen:
            data["frozen"] = True
        if self.layers > 1:
            data["layers"] = self.layers
        if self.transformer is not None and self.transformer[0]:  # a folded block holding attention (fold_rows)
            layers, fewest, most, mlp = self.transformer
            data["attention_layers"] = layers
            data["heads"] = fewest if fewest == most else [fewest, most]
            if mlp:
                data["mlp"] = mlp
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.roofline is not None:  # set by cnncalc.roofline.attach
            data.update(self.roofline.to_dict())
        return data


class Report:
    """The analysed network: ``rows`` in topological order, ``totals``, and settings."""

    def __init__(self, spec, input_shape, batch, dtype, rows, mode="eval"):
        self.spec = spec
        self.name = spec.name
        self.source = spec.source
        self.file = spec.file
        self.input = as_shape(input_shape)
        self.batch = batch
        self.dtype = dtype
        self.mode = mode
        self.params = spec.params
        self.bytes_per_element = DTYPE_BYTES[dtype]
        self.rows = rows
        self._by_name = None
        totals = {key: sum(getattr(row, key) for row in rows) for key in TOTAL_KEYS}
        totals["flops_2x"] = 2 * totals["macs"] + totals["elementwise"]
        totals["frozen_params"] = sum(row.params for row in rows if row.frozen)
        totals["trainable_params"] = totals["params"] - totals["frozen_params"]
        totals["peak_memory_bytes"] = peak_memory(rows)
        totals["param_bytes"] = totals["params"] * self.bytes_per_element
        totals["layers"] = len(rows)
        self.totals = totals

    def row(self, name):
        """The row called ``name``; a SpecError suggesting names (a block's layers first) if there is none."""
        if self._by_name is None:
            self._by_name = {row.name: row for row in self.rows}
        found = self._by_name.get(name)
        if found is None:
            blocks = {group_name(row.name, depth) for row in self.rows for depth in range(1, row.name.count(".") + 1)}
            raise SpecError(f"no layer or block named '{name}'{suggestion(name, list(self._by_name) + sorted(blocks))}",
                            file=self.file)
        return found

    def block(self, name):
        """The rows of layer ``name`` (one) or of the block ``name``: every layer named ``name.*``, and the layer
        ``name`` itself when there is one (a module with its own layer and children: BoTNet's self_attn and its
        self_attn.pool)."""
        inside = [row for row in self.rows if row.name == name or row.name.startswith(name + ".")]
        if inside and (len(inside) > 1 or inside[0].name != name):
            return inside
        return [self.row(name)]

    @property
    def warnings(self):
        return [(row.name, text) for row in self.rows for text in row.warnings]

    def training_memory(self, optimizer="sgd"):
        """Bytes to train: activations kept for backward + params + gradients + optimizer state + BN buffers.

        The optimizer keeps OPTIMIZER_STATES[optimizer] param-sized tensors (momentum 1, Adam 2).
        """
        if optimizer not in OPTIMIZER_STATES:
            raise UsageError(f"unknown optimizer '{optimizer}'{did_you_mean(optimizer, OPTIMIZER_STATES)} "
                             f"(choose from {', '.join(OPTIMIZER_STATES)})")
        param_bytes = self.totals["param_bytes"]
        trained_bytes = self.totals["trainable_params"] * self.bytes_per_element  # frozen params need neither
        parts = {"optimizer": optimizer, "activation_bytes": self.totals["memory_bytes"],
                 "param_bytes": param_bytes, "gradient_bytes": trained_bytes,
                 "optimizer_bytes": OPTIMIZER_STATES[optimizer] * trained_bytes,
                 "buffer_bytes": self.totals["buffers"] * self.bytes_per_element}
        parts["total_bytes"] = sum(value for key, value in parts.items() if key.endswith("_bytes"))
        return parts

    def fold(self, depth):  # the rows summed by the first ``depth`` parts of their names (fold_rows); None: all
        return self.rows if depth is None else fold_rows(self.rows, depth)

    def to_dict(self, depth=None, lazy=False):
        """The report as plain data; ``lazy`` gives the layers as an iterator of dicts made one at a time
        (how the JSON formatter writes 100,000 layers without holding them all as dicts)."""
        layers = (row.to_dict() for row in self.fold(depth))
        data = {
            "name": self.name, "source": self.source, "input": list(self.input), "batch": self.batch,
            "dtype": self.dtype, "mode": self.mode,
            "layers": layers if lazy else list(layers),
            "totals": dict(self.totals),
        }
        if self.params:
            data["params"] = dict(self.params)
        if self.roofline is not None:
            self.roofline.extend(data)  # the roofline totals and device
        return data

    roofline = None  # a cnncalc.roofline.Summary once roofline.attach has run
    html_renderer = None  # cnncalc.render sets it when imported (the report stage does not import a later one)

    def _repr_html_(self):
        """Jupyter shows a Report as the lecture table."""
        return self.html_renderer(self, "html") if self.html_renderer else None

    def __repr__(self):
        t = self.totals
        return (f"<Report {self.name} {shown_shape(self.input)}: {plural(len(self.rows), 'layer')}, {t['params']:,} params, "
                f"{t['macs']:,} MACs, "
                f"{t['memory_bytes']:,} activation bytes>")


def peak_memory(rows):
    """Peak live activation memory for inference: the rows run in their (topological) order, each output is
    kept until its last consumer has run (an output nobody reads is freed once written), and the peak is the
    largest sum of outputs live at once, the running layer's inputs and output included. The network input
    is not counted, as in the other totals."""
    last_use = {}
    for index, row in enumerate(rows):
        for name in (row.name, *row.inputs):
            last_use[name] = index
    live = peak = 0
    held = {}
    for index, row in enumerate(rows):
        held[row.name] = row.memory_bytes - row.scratch_bytes  # what the layer writes besides its output is
        live += row.memory_bytes                               # freed once it has run
        peak = max(peak, live)
        live -= row.scratch_bytes
        for name in {row.name, *row.inputs}:
            if last_use[name] == index and name in held:
                live -= held.pop(name)
    return peak


def fold_rows(rows, depth):
    """``rows`` summed by the first ``depth`` parts of their names (``layer1.0.conv1`` -> ``layer1``), in order."""
    groups = []
    for row in rows:
        key = group_name(row.name, depth)
        if groups and groups[-1].name == key:
            _merge_into(groups[-1], row)
        else:
            groups.append(_group_row(key, row))
    return groups


def _group_row(key, row):
    group = Row()
    for slot in Row.__slots__:
        setattr(group, slot, getattr(row, slot))
    group.name = key
    if key != row.name:
        group.type = "block"
        group.filters = group.kernel = group.stride = group.pad = group.act = group.heads = None
        _add_transformer(group, row)
    group.warnings = list(row.warnings)
    return group


def _add_transformer(group, row):
    """A folded block's transformer layers as the papers' tables give them (ViT's Table 1: layers, heads, MLP
    size): ``(attention layers, fewest heads, most heads, widest linear)``, shown when it holds attention."""
    if row.type == "attention":
        layers, fewest, most, mlp = group.transformer or (0, row.heads, row.heads, 0)
        group.transformer = (layers + 1, min(fewest, row.heads), max(most, row.heads), mlp)
    elif row.type == "linear" and row.filters:
        layers, fewest, most, mlp = group.transformer or (0, None, None, 0)
        group.transformer = (layers, fewest, most, max(mlp, row.filters))


def _merge_into(group, row):
    group.out_shape = row.out_shape
    group.fits = group.fits and row.fits
    group.frozen = group.frozen and row.frozen
    for key in TOTAL_KEYS + ("layers", "scratch_bytes", "products"):
        setattr(group, key, getattr(group, key) + getattr(row, key))
    group.receptive_field = row.receptive_field
    group.effective_stride = row.effective_stride
    group.warnings.extend(row.warnings)
    _add_transformer(group, row)
    if group.roofline is not None:
        group.roofline = group.roofline + row.roofline  # a block's roofline: its layers' summed


def infer_shape(decl, in_shapes, references=None):
    """A layer's output shape from its inputs' shapes (and those its ``like`` names): what the spec expander
    asks for ``in_channels``."""
    return rules.apply(decl, in_shapes, references=references).shape


# what else the expander asks of the rules: a layer's keys checked before any is evaluated
infer_shape.check_keys = rules.check_keys


def load_spec(spec_or_name, params=None, input=None):
    """A Spec from a Spec, a file path (YAML or ONNX), a built-in name or an inline mapping; ``params``
    over its params. ``input`` (as for :func:`analyze`) is the size an ONNX model is read at.
    """
    from . import spec as spec_module

    if isinstance(spec_or_name, spec_module.Spec):
        return spec_or_name.expanded(params=params, shapes=infer_shape) if params else spec_or_name
    if isinstance(spec_or_name, dict):
        return spec_module.parse(spec_or_name, params=params, shapes=infer_shape)
    from . import builtins

    path = builtins.resolve(spec_or_name)
    if builtins.is_onnx_path(path):
        from .onnx.reader import load as load_onnx

        if params:
            raise SpecError(f"an ONNX model has no params to set (given: {', '.join(map(str, params))})", file=path)
        # read at the input analyze will use (which says how it read --input, once)
        at_input = None if input is None else (lambda native: read_input(input, native, quiet=True)[0])
        return load_onnx(path, input=at_input)
    return spec_module.load(path, params=params, shapes=infer_shape)


def analyze(spec_or_name, input=None, batch=None, dtype="fp32", explain=(), mode="eval", params=None):
    """Analyse a network: a built-in name, a spec path, an inline spec dict or a parsed Spec.

    ``input`` overrides the spec's input (``(3, 448, 448)``, ``"3x448x448"``, ``448``, or with a batch
    size first, ``"8x3x448x448"``); ``batch`` defaults to that batch size, else 1;
    ``params`` overrides values of the spec's ``params:`` (``{"width": 1.2}``);
    ``explain`` names layers (or ``True`` for all) whose worked arithmetic to keep in ``row.explain``.
    """
    if params is not None and not isinstance(params, dict):
        raise UsageError(f"params must be a mapping of name to value, not {params!r:.60}")
    spec = load_spec(spec_or_name, params, input)
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise UsageError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
    input_shape, input_batch, _ = (spec.input, None, None) if input is None else read_input(input, spec.input)
    if batch is not None and input_batch is not None and batch != input_batch:
        raise UsageError(f"--input {shown_shape(input)} gives batch {input_batch}, but --batch is {batch}")
    if batch is None:
        batch = input_batch or 1
    if not is_whole_number(batch) or batch < 1:
        raise UsageError(f"batch must be a positive whole number, not {shown(repr(batch))}")
    if batch > MAX_BATCH:
        raise UsageError(f"batch must be at most {MAX_BATCH:,}")
    if spec.reads_shapes and input_shape != spec.expanded_input:
        spec = spec.expanded(input=input_shape, shapes=infer_shape)  # its blocks read their input's shape
    graph = Graph(spec)
    if mode not in ("eval", "train"):
        raise UsageError(f"mode must be eval or train, not {mode!r}")
    rows = _run_rules(graph, input_shape, batch, DTYPE_BYTES[dtype], explain)
    if mode == "eval":
        for row in rows:
            if row.train_only:
                # torchvision runs these branches only in training: their weights exist, their work does not
                row.train_costs = (row.macs, row.flops, row.memory_bytes)
                row.macs = row.flops = row.elementwise = row.memory_bytes = row.scratch_bytes = 0
    return Report(spec, input_shape, batch, dtype, rows, mode)


def _run_rules(graph, input_shape, batch, element_bytes, explain):
    explain_all = explain is True
    explain_set = set() if explain_all else set(explain or ())
    shapes = {INPUT_INDEX: input_shape}
    # tokens given as the input (no map made them) have one axis, the tokens
    extent = (input_shape[0],) if is_tokens(input_shape) else tuple(input_shape[1:]) if len(input_shape) > 1 else (1, 1)
    ones = (1,) * len(extent)
    fields = {INPUT_INDEX: (ones, ones, extent)}  # receptive field, effective stride, spatial extent per axis
    rows = []
    for i, decl in enumerate(graph.nodes):
        sources = graph.inputs[i]
        in_shapes = [shapes[s] for s in sources]
        explaining = explain_all or bool(explain_set) and _named_in(decl.name, explain_set)
        references = {key: shapes[index] for key, index in graph.references[i].items()}
        cost = rules.apply(decl, in_shapes, explaining, block_names=graph.spec.blocks, references=references)
        out = cost.shape
        shapes[i] = out
        entering = receptive.merge([fields[s] for s in sources])
        rf, jump, extent = receptive.step(entering, cost.window, out)
        fields[i] = (rf, jump, extent)
        row = Row()
        row.name = decl.name
        row.type = decl.type
        row.inputs = decl.inputs
        row.line = decl.line
        row.in_shape = in_shapes[0]
        row.out_shape = out
        row.params = cost.params
        row.buffers = cost.buffers
        row.macs = cost.macs
        row.flops = cost.flops
        row.elementwise = cost.elementwise
        row.scratch = cost.scratch
        row.scratch_bytes = rules.scratch_elements(cost) * batch * element_bytes
        row.memory_bytes = rules.elements(out) * batch * element_bytes + row.scratch_bytes
        row.receptive_field = tuple(receptive.whole(r) for r in rf)
        row.effective_stride = tuple(receptive.exact(j) for j in jump)  # 1/r after upsampling
        row.filters = cost.filters
        row.kernel = cost.kernel
        row.stride = cost.stride
        row.pad = cost.pad
        row.act = cost.act
        row.heads = cost.heads
        row.transformer = None  # set on a folded block (fold_rows)
        row.products = cost.products
        row.warnings = cost.warnings
        row.explain = cost.explain
        if explaining:
            row.explain = cost.explain + receptive.arithmetic(entering, cost.window, rf, jump, len(sources),
                                                              is_tokens(input_shape))
        row.weight_layers = 1 if rules.RULES[decl.type].weight else 0
        row.layers = 1
        row.train_only = decl.train_only
        row.frozen = decl.frozen
        row.train_costs = None  # (MACs, flop, memory) of a train_only row that eval mode counts as 0
        row.fits = cost.fits
        row.roofline = None
        rows.append(row)
    return rows


def _named_in(name, names):
    """Whether ``name`` or a block holding it (``layer1``, ``layer1.0`` for ``layer1.0.conv1``) is in ``names``."""
    parts = name.split(".")
    return any(".".join(parts[:end]) in names for end in range(1, len(parts) + 1))
