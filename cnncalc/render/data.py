"""CSV and JSON: the report's rows as data."""

import types

from .columns import data_columns
from .escape import escape_cells
from .shapes import full_shape, pad_text, pair_text

def _csv_record(row):
    record = {
        "name": row.name, "type": row.type, "from": " ".join(row.inputs), "in_shape": full_shape(row.in_shape),
        "out_shape": full_shape(row.out_shape), "filters": "" if row.filters is None else row.filters,
        "kernel": pair_text(row.kernel), "stride": pair_text(row.stride), "pad": pad_text(row.pad),
        "params": row.params, "buffers": row.buffers, "macs": row.macs, "flops": row.flops,
        "flops_2x": row.flops_2x, "memory_bytes": row.memory_bytes,
        "receptive_field": full_shape(row.receptive_field), "effective_stride": full_shape(row.effective_stride),
    }
    if row.roofline is not None:
        record.update(row.roofline.to_dict())
    return record


def render_csv(report, depth=None, columns=None):
    """One line per row, then a ``total`` line with the model's totals (text columns left empty)."""
    keys = data_columns(columns, report.roofline is not None and report.roofline.device is not None)
    totals = report.totals if report.roofline is None else report.roofline.extend({"totals": dict(report.totals)})["totals"]
    total = {key: totals.get(key, "") for key in keys}
    total["name"] = "total"
    records = list(map(_csv_record, report.fold(depth))) + [total]
    return csv_text([keys] + [[_cell(record.get(key)) for key in keys] for record in records])


def _cell(value):
    return "" if value is None else value


def csv_text(rows):
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(escape_cells(rows, "csv"))
    return out.getvalue().rstrip("\n")


def render_json(data):
    """JSON with one line per top-level key and per element of a list of objects (layers, results).

    Readable, valid, and written by json's C encoder (``indent=`` would use the slow pure-Python one).
    """
    import json
    from functools import partial

    dumps = partial(json.dumps, allow_nan=False)  # NaN / Infinity are not JSON
    parts = ["{\n"]  # joined once at the end: one copy of a large text, not three
    for key, value in data.items():
        parts.append(f",\n  {dumps(key)}: " if len(parts) > 1 else f"  {dumps(key)}: ")
        if isinstance(value, types.GeneratorType) or isinstance(value, list) and value and isinstance(value[0], dict):
            parts.append("[\n    ")
            for index, item in enumerate(value):
                parts.append(",\n    " + dumps(item) if index else dumps(item))
            parts.append("\n  ]")
        else:
            parts.append(dumps(value))
    parts.append("\n}")
    return "".join(parts)
