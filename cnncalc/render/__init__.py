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
    """The report as ``fmt``; ``optimizer`` adds the training estimate (JSON key ``training``); ``footer``
    false leaves the conventions out of a table."""
    if fmt == "json":
        data = report.to_dict(depth, lazy=True)
        if columns:
            keys = data_columns(columns)
            data["layers"] = ({key: layer[key] for key in keys if key in layer} for layer in data["layers"])
        if optimizer:
            data["training"] = report.training_memory(optimizer)
        return render_json(data)
    if fmt == "csv":
        return render_csv(report, depth, columns)
    return render_table(report, fmt, depth, units, columns, convention, optimizer, footer)


Report.html_renderer = staticmethod(render_report)  # a Report shows itself as this table in Jupyter
