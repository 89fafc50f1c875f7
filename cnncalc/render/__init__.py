"""Render a Report: the lecture table, CSV, JSON, worked arithmetic; the diagram, the plot.

Renderers only format: every number comes from the report rows, exact until it reaches ``units``.
"""

from ..report import Report
from .columns import data_columns
from .data import render_csv, render_json
from .explain import explain_data, explain_lines, explain_text
from .table import EXTRA_FORMATS, MULTILINE_FORMATS, UNITS, render_table, table_formats

__all__ = ["render_report", "render_table", "render_csv", "render_json", "explain_text", "explain_lines",
           "explain_data", "table_formats", "EXTRA_FORMATS", "MULTILINE_FORMATS", "UNITS"]


def render_report(report, fmt="simple", depth=None, units="slide", columns=None, convention="lecture",
                  optimizer=None, footer=True):
    """The report as ``fmt``; ``optimizer`` adds the training estimate (JSON key ``training``); a report with a
    roofline attached (cnncalc.roofline) shows it; ``footer`` false leaves the conventions out of a table."""
    _roofline_columns(report, columns)
    if fmt == "json":
        data = report.to_dict(depth, lazy=True)
        if columns:
            keys = data_columns(columns, True)
            data["layers"] = ({key: layer[key] for key in keys if key in layer} for layer in data["layers"])
        if optimizer:
            data["training"] = report.training_memory(optimizer)
        return render_json(data)
    if fmt == "csv":
        return render_csv(report, depth, columns)
    return render_table(report, fmt, depth, units, columns, convention, optimizer, footer)


def _roofline_columns(report, columns):
    """Attach the device-free roofline (bytes, intensity) when --columns asks for it without a device; the
    time and the bound need one."""
    from .columns import DEVICE_KEYS, ROOFLINE_KEYS

    names = [name.strip() for name in (columns.split(",") if isinstance(columns, str) else columns or ())]
    device = report.roofline is not None and report.roofline.device is not None
    if not device and any(name in DEVICE_KEYS for name in names):
        from ..errors import UsageError

        wanted = next(name for name in names if name in DEVICE_KEYS)
        raise UsageError(f"the column '{wanted}' needs a device: --device NAME (see `cnncalc devices`) or "
                         f"--peak and --bandwidth")
    if report.roofline is None and any(name in ROOFLINE_KEYS for name in names):
        from ..roofline import attach

        attach(report)


Report.html_renderer = staticmethod(render_report)  # a Report shows itself as this table in Jupyter
