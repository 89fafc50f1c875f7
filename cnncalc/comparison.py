"""Several models side by side, with ratios to the first as the lecture writes them.

``compare(["alexnet@227", "vgg16"])`` analyses each model (``NAME@448`` or ``NAME@3x320x320`` gives a
model its own input, ``NAME[width=1.2,depth=1.1]`` its own params, ``NAME[width=1.2]@300`` both) and
returns a :class:`Comparison`: each model's figures, its ratios to the first
("VGG-16 vs AlexNet: 25x memory, 2.3x params, 19.4x flop") and, with ``stages()``, the per-stage
figures lined up. The second half of this module formats a Comparison (table, JSON, CSV).
"""

from fractions import Fraction

from .errors import one_line
from .render.columns import column_aliases, resolve_columns
from .render.data import csv_text, render_json
from .render.escape import escape_lines
from .render.labels import model_labels
from .render.shapes import full_shape, shape_text
from .render.table import MULTILINE_FORMATS, ROOFLINE_TIME, device_text, tabulate_table
from .render.units import BINARY_UNITS, METRIC_UNITS, bytes_text, count_text, scaled, share_text, time_text
from .report import analyze
from .roofline import FIGURES, attach, check_figures, device as find_device, figures as roofline_figures, plain
from .shapes import split_input

RATIO_KEYS = ("params", "macs", "flops", "flops_2x", "memory_bytes", "param_bytes", "training_bytes", "depth",
              "bytes_moved", "roofline_time_s")


def split_settings(model):
    """``"efficientnet_b0[width=1.2,depth=1.1]"`` -> ``("efficientnet_b0", {"width": 1.2, "depth": 1.1})``.

    Settings are the model's own ``--set`` values; a comma inside parentheses (``max(a, b)``) stays in
    its value. Anything else (and a file that exists under the whole name) is ``(model, {})``.
    """
    import os

    if not isinstance(model, str) or not model.endswith("]") or "[" not in model or os.path.exists(model):
        return model, {}
    from .spec import parse_settings

    base, _, inside = model[:-1].partition("[")
    items, depth, start = [], 0, 0
    for position, char in enumerate(inside):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(inside[start:position])
            start = position + 1
    items.append(inside[start:])
    return base, parse_settings([item for item in items if item.strip()], where=f"{base}[...]")


def split_model(model):
    """A compare argument as (spec, input or None, params): ``NAME[width=1.2]@300`` or ``NAME@300[width=1.2]``."""
    spec, params = split_settings(model)
    spec, own_input = split_input(spec)
    if not params:
        spec, params = split_settings(spec)
    return spec, own_input, params


def weight_depth(report):
    """Weight layers (conv, fc, linear, attention) on the longest path from the input: AlexNet 8, VGG-16 16,
    ResNet-50 50."""
    depth = {"input": 0}
    for row in report.rows:
        depth[row.name] = max(depth.get(name, 0) for name in row.inputs) + row.weight_layers
    return max(depth[row.name] for row in report.rows)


def figures(report, optimizer="sgd"):
    """The exact whole-model figures compare prints, keyed as in the JSON."""
    t = report.totals
    return {
        "input": list(report.input), "params": t["params"], "buffers": t["buffers"], "macs": t["macs"],
        "flops": t["flops"], "flops_2x": t["flops_2x"], "memory_bytes": t["memory_bytes"],
        "peak_memory_bytes": t["peak_memory_bytes"],
        "param_bytes": t["param_bytes"], "training_bytes": report.training_memory(optimizer)["total_bytes"],
        "depth": weight_depth(report), "weight_layers": t["weight_layers"], "layers": t["layers"],
        **roofline_figures(report),  # with a device
    }


def ratio_text(value, base):
    """``value / base`` as the lecture writes it: 2.3x, 19.4x, 123x; below 1 two significant digits (0.11x)."""
    if base == 0:
        return "n/a"
    ratio = Fraction(value, base)
    if ratio >= 100:
        return f"{scaled(value, base)}x"
    if ratio >= 1 or ratio == 0:
        return f"{scaled(value, base, 1)}x"
    digits = 2
    while ratio * 10 ** digits < 10 and digits < 8:
        digits += 1
    return f"{scaled(value, base, digits)}x"


def merged_order(sequences):
    """One order holding every name of every sequence, each sequence's order kept where it can be.

    Names before a sequence's first shared one go first; a name the order already holds moves the
    insertion point to just after it; a sequence sharing no name goes after the others. A linked list
    keyed by name makes each step O(1), so lining up 45k stages costs no more than reading them.
    """
    head = object()  # inserting after `head` puts a name first
    after = {head: None}  # name -> the next name in the order
    tail = head
    for sequence in sequences:
        cursor = head if any(name in after for name in sequence) else tail
        for name in sequence:
            if name in after:
                cursor = name
                continue
            after[name] = after[cursor]
            after[cursor] = name
            if cursor is tail:
                tail = name
            cursor = name
    order = []
    name = after[head]
    while name is not None:
        order.append(name)
        name = after[name]
    return order


class Comparison:
    """Analysed models, in the order given; the first is the one the ratios refer to."""

    def __init__(self, reports, specs, optimizer="sgd"):
        self.reports = reports
        self.specs = specs
        self.optimizer = optimizer
        self.labels = model_labels(reports)
        self.figures = [figures(report, optimizer) for report in reports]
        self.device = reports[0].roofline.device if reports and reports[0].roofline else None  # the roofline's

    def ratios(self, index):
        """Model ``index`` against the first: ``{"params": "2.3x", ...}``."""
        first, this = self.figures[0], self.figures[index]
        return {key: ratio_text(this[key], first[key]) for key in RATIO_KEYS if key in this}

    def ratio_lines(self, convention="lecture"):
        """The lecture's sentence for each model after the first: "VGG-16 vs AlexNet: 25x memory, ..."."""
        flop_key, flop_word = ("flops_2x", "FLOPs") if convention == "2x" else ("flops", "flop")
        lines = []
        for index in range(1, len(self.reports)):
            ratios = self.ratios(index)
            roof = f", {ratios['roofline_time_s']} roofline time on {self.device.name}" if self.device else ""
            lines.append(f"{self.labels[index]} vs {self.labels[0]}: {ratios['memory_bytes']} memory, "
                         f"{ratios['params']} params, {ratios[flop_key]} {flop_word}{roof}")
        return lines

    def stages(self):
        """``[(stage, [Row or None per model])]``: rows folded by the first part of their names, lined up."""
        folded = [report.fold(1) for report in self.reports]
        by_name = [{row.name: row for row in rows} for rows in folded]
        order = merged_order([[row.name for row in rows] for rows in folded])
        return [(name, [rows.get(name) for rows in by_name]) for name in order]

    def to_dict(self, by="model", columns=None):
        if by == "stage":
            return _stage_dict(self, stage_keys(columns))
        keys = metric_keys(columns, device=self.device)
        models = []
        for index, report in enumerate(self.reports):
            models.append({
                "label": self.labels[index], "name": report.name, "spec": self.specs[index],
                "input": list(report.input), "batch": report.batch, "dtype": report.dtype,
                "totals": {key: plain(self.figures[index][key]) for key in keys},
                "ratios": {key: text for key, text in self.ratios(index).items() if key in keys},
            })
        device = {"device": self.device.to_dict()} if self.device else {}
        return {"optimizer": self.optimizer, "models": models, "ratio_lines": self.ratio_lines(), **device}

    def _repr_html_(self):
        import html

        lines = "".join(f"<br>{html.escape(line)}" for line in self.ratio_lines())
        return render_compare(self, "html") + (f"<p>{lines[4:]}</p>" if lines else "")

    def __repr__(self):
        return f"<Comparison of {', '.join(self.labels)}>"


def compare(models, input=None, batch=None, dtype="fp32", optimizer="sgd", mode="eval", params=None, device=None,
            peak=None, bandwidth=None):
    """Analyse ``models`` (names, paths, inline specs, ``"name@448"``, ``"name[width=1.2]"`` or ``(spec, input)``
    pairs) side by side.

    ``input`` applies to every model that does not carry its own; ``params`` to every model, under the
    model's own ``[...]`` settings; ``device``, ``peak``, ``bandwidth`` (cnncalc.roofline.device) its roofline.
    """
    found = find_device(device, dtype, peak, bandwidth)
    reports, specs = [], []
    for model in models:
        spec, own_input, own_params = split_model(model)
        settings = {**(params or {}), **own_params}
        reports.append(analyze(spec, input=own_input or input, batch=batch, dtype=dtype, mode=mode,
                               params=settings or None))
        if found is not None:
            attach(reports[-1], found)
        specs.append(one_line(model) if isinstance(model, str) else reports[-1].name)
    if not reports:
        from .errors import UsageError

        raise UsageError("compare needs at least one model")
    return Comparison(reports, specs, optimizer)


# --- formatting ---------------------------------------------------------------------------------

SLIDE_STEPS = {"count": METRIC_UNITS[1:], "bytes": BINARY_UNITS}  # up to G, as the lecture writes totals
STAGE_UNITS = {"count": (1000, "k"), "ops": (10 ** 6, "M"), "bytes": (1024, "KB")}  # as the report table


def slide_unit(kind, largest, smallest=None):
    """The unit a whole-model row reads best in, as the lecture writes "61.1M params", "0.7 GFLOP":
    (divisor, name, decimals), the unit chosen by the row's largest value; the decimals are enough (up to 3)
    for the ``smallest`` value to keep two significant digits (AlexNet's 714M MACs beside VGG-16's 15.5G:
    0.71 G, not 0.7)."""
    steps = SLIDE_STEPS["bytes" if kind == "bytes" else "count"]
    for index, (divisor, name) in enumerate(steps):
        if largest >= divisor:
            decimals = 1 if largest >= 10 * divisor else 2
            while smallest and decimals < 3 and smallest * 10 ** decimals < 10 * divisor:
                decimals += 1
            if not smallest or smallest * 10 ** decimals >= 10 * divisor or index + 1 == len(steps):
                return divisor, name, decimals
            largest = max(largest, steps[index + 1][0])  # too small to read here: try the next unit down
    return 1, "B" if kind == "bytes" else "", 0


class Metric:
    """A figure compare can print: its JSON key, label and kind (shape, int, count, ops or bytes)."""

    def __init__(self, key, label, kind):
        self.key = key
        self.label = label
        self.kind = kind

    @property
    def numeric(self):
        return self.kind in ("count", "ops", "bytes")

    def title(self, units, unit=None):
        """The row or column title; ``unit`` is a slide_unit, or None for the per-stage fixed units."""
        if units != "slide" or not self.numeric:
            return self.label
        name = unit[1] if unit else STAGE_UNITS[self.kind][1]
        return f"{self.label} ({name})" if name else self.label

    def text(self, value, units, unit=None):
        if value is None:
            return ""
        if self.kind == "shape":
            return full_shape(value) if unit else shape_text(value)
        if self.kind == "int":
            return f"{value:,}"
        if self.kind in ("time", "share"):
            return time_text(value) if self.kind == "time" else share_text(value)
        if units == "slide":
            divisor, _, decimals = unit or (STAGE_UNITS[self.kind][0], "", 0)
            return scaled(value, divisor, decimals)
        return bytes_text(value, units) if self.kind == "bytes" else count_text(value, units, 1)


METRICS = {metric.key: metric for metric in (
    Metric("input", "input", "shape"),
    Metric("params", "params", "count"),
    Metric("buffers", "BN buffers", "count"),
    Metric("macs", "MACs", "ops"),
    Metric("flops", "lecture flop", "ops"),
    Metric("flops_2x", "FLOPs 2x", "ops"),
    Metric("memory_bytes", "activation memory", "bytes"),
    Metric("peak_memory_bytes", "peak live memory", "bytes"),
    Metric("param_bytes", "parameter memory", "bytes"),
    Metric("training_bytes", "training memory", "bytes"),
    Metric("depth", "depth (weight layers)", "int"),
    Metric("weight_layers", "conv + fc layers", "int"),
    Metric("layers", "layers", "int"),
    Metric("bytes_moved", "bytes moved", "bytes"),
    Metric("roofline_time_s", "roofline time", "time"),
    Metric("memory_bound_share", "memory-bound time", "share"),
)}
STAGE_METRICS = {metric.key: metric for metric in (
    Metric("out_shape", "output", "shape"),
    Metric("params", "params", "count"),
    Metric("buffers", "BN buffers", "count"),
    Metric("macs", "MACs", "ops"),
    Metric("flops", "flop", "ops"),
    Metric("flops_2x", "FLOPs 2x", "ops"),
    Metric("memory_bytes", "memory", "bytes"),
)}
DEFAULT_METRICS = ("input", "params", "macs", "flops", "memory_bytes", "param_bytes", "training_bytes", "depth")
DEFAULT_STAGE_METRICS = ("params", "flops", "memory_bytes")
# the words --columns accepts besides the JSON keys
METRIC_ALIASES = dict(column_aliases({**METRICS, **STAGE_METRICS}, by="data"), time="roofline_time_s",
                      roofline_time="roofline_time_s")


def _swap_flop(keys, convention):
    return tuple("flops_2x" if key == "flops" else key for key in keys) if convention == "2x" else keys


def metric_keys(columns=None, convention="lecture", device=False):
    """The figures to print: ``columns`` (a roofline figure needs a ``device``), or the default ones."""
    if not columns:
        return list(_swap_flop(DEFAULT_METRICS, convention)) + (list(FIGURES) if device else [])
    return check_figures(resolve_columns(columns, METRICS, METRIC_ALIASES), device)


def stage_keys(columns=None, convention="lecture"):
    if not columns:
        return list(_swap_flop(DEFAULT_STAGE_METRICS, convention))
    return resolve_columns(columns, STAGE_METRICS, METRIC_ALIASES)


def _stage_figures(row):
    if row is None:
        return None
    return {"out_shape": list(row.out_shape), "params": row.params, "buffers": row.buffers, "macs": row.macs,
            "flops": row.flops, "flops_2x": 2 * row.macs + row.elementwise, "memory_bytes": row.memory_bytes}


def _stage_dict(comparison, keys):
    stages = []
    for name, rows in comparison.stages():
        values = [_stage_figures(row) for row in rows]
        stages.append({"name": name, "models": [None if v is None else {k: v[k] for k in keys} for v in values]})
    return {"by": "stage", "models": comparison.labels, "stages": stages}


def _metric_title(metric, units, optimizer, unit):
    title = metric.title(units, unit)
    return title.replace("training memory", f"training memory, {optimizer}") if metric.key == "training_bytes" \
        else title


def compare_table_rows(comparison, units="slide", columns=None, convention="lecture"):
    rows = []
    for key in metric_keys(columns, convention, comparison.device):
        metric = METRICS[key]
        values = [figures[key] for figures in comparison.figures]
        unit = slide_unit(metric.kind, max(values), min((v for v in values if v), default=None)) \
            if metric.numeric else (1, "", 0)
        rows.append([_metric_title(metric, units, comparison.optimizer, unit)]
                    + [metric.text(value, units, unit) for value in values])
    return rows


def stage_table(comparison, units="slide", columns=None, convention="lecture"):
    """Headers and rows of the per-stage table: one column per model and figure."""
    keys = stage_keys(columns, convention)
    headers = ["stage"] + [f"{label}\n{STAGE_METRICS[key].title(units)}"
                           for label in comparison.labels for key in keys]
    rows = []
    for name, stage_rows in comparison.stages():
        values = [_stage_figures(row) for row in stage_rows]
        rows.append([name] + [STAGE_METRICS[key].text(None if v is None else v[key], units)
                              for v in values for key in keys])
    totals = [None if key == "out_shape" else figures[key] for figures in comparison.figures for key in keys]
    rows.append(["total"] + [STAGE_METRICS[key].text(value, units)
                             for value, key in zip(totals, keys * len(comparison.figures))])
    return headers, rows


def render_compare(comparison, fmt="simple", units="slide", columns=None, convention="lecture", by="model",
                   footer=True):
    """The comparison as a table (any tabulate format), JSON or CSV."""
    if fmt == "json":
        return render_json(comparison.to_dict(by, columns))
    if fmt == "csv":
        return _compare_csv(comparison, by, columns)
    if by == "stage":
        headers, rows = stage_table(comparison, units, columns, convention)
    else:
        headers = [""] + model_labels(comparison.reports, lines=True)
        rows = compare_table_rows(comparison, units, columns, convention)
    if fmt not in MULTILINE_FORMATS:
        headers = [h.replace("\n", " ") for h in headers]
    body = tabulate_table(rows, headers, ["left"] + ["right"] * (len(headers) - 1), fmt)
    if fmt == "html":
        return body
    lines = []
    if len(comparison.reports) > 1:
        lines += [""] + comparison.ratio_lines(convention)
    if footer:
        lines += [""] + _settings_lines(comparison)
    return "\n".join([body] + escape_lines(lines, fmt))


def _settings_lines(comparison):
    import textwrap

    first = comparison.reports[0]
    batch = f"batch {first.batch:,} (MACs and flop per sample, memory for the batch)" if first.batch != 1 else "batch 1"
    text = (f"{batch}, {first.dtype} ({first.bytes_per_element} B/element); memory in binary units "
            f"(1 MB = 1024 KB = 1024*1024 B); depth = conv, fc, linear and attention layers on the longest path; "
            f"training memory = activations + params + gradients + optimizer state ({comparison.optimizer}) + BN buffers.")
    text += f" Roofline on {device_text(comparison.device)}: {ROOFLINE_TIME}" if comparison.device else ""
    return textwrap.wrap(text, 100)


def _compare_csv(comparison, by, columns):
    if by == "stage":
        keys = stage_keys(columns)
        rows = [["stage", "model"] + keys]
        for name, stage_rows in comparison.stages():
            for label, row in zip(comparison.labels, stage_rows):
                values = _stage_figures(row)
                if values is not None:
                    rows.append([name, label] + [_csv_value(values[key]) for key in keys])
        return csv_text(rows)
    keys = metric_keys(columns, device=comparison.device)
    rows = [["model", "spec"] + keys]
    for label, spec, values in zip(comparison.labels, comparison.specs, comparison.figures):
        rows.append([label, spec] + [_csv_value(values[key]) for key in keys])
    return csv_text(rows)


def _csv_value(value):
    return full_shape(value) if isinstance(value, list) else plain(value)
