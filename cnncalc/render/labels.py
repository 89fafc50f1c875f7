"""The names a comparison gives its models: each model's name, with what sets it apart from another of the
same name (its input, its params, the file it was read from)."""

import os

from ..errors import one_line
from ..spec.files import file_stem
from .shapes import full_shape


def model_labels(reports, lines=False):
    """Display names, with the input and the params that differ added where two models would share one:
    ``EfficientNet-B3 @3x260x260 [width=1.1,depth=1.2]``; with ``lines``, the table's column headers, one part a line
    (a header 50 characters wide made the table as wide)."""
    labels = []
    for report in reports:
        twins = [other for other in reports if other.name == report.name]
        parts = [report.name]
        if any(other.input != report.input for other in twins):
            parts.append(f"@{full_shape(report.input)}")
        changed = [key for key in report.params if any(other.params.get(key) != report.params[key] for other in twins)]
        settings = [f"{key}={report.params[key]}" for key in changed]
        if lines:
            labels.append("\n".join(parts + settings))
        else:
            labels.append(" ".join(parts) + (" [" + ",".join(settings) + "]" if settings else ""))
    for label in set(labels):  # models alike read from different files: told apart by where they are
        alike = [index for index, other in enumerate(labels) if other == label]
        files = [str(reports[index].file) if reports[index].file else "" for index in alike]
        if len(alike) > 1 and "" not in files and len(set(files)) == len(files):
            for index, file, where in zip(alike, files, _telling_paths(files)):
                where = one_line(where)
                named_by_file = reports[index].name == file_stem(file)  # an ONNX model's name is its file's
                labels[index] = where if named_by_file else f"{label}{chr(10) if lines else ' '}({where})"
    return [f"{label} #{index + 1}" if labels.count(label) > 1 else label for index, label in enumerate(labels)]


def _telling_paths(files):
    """The shortest ends of the paths ``files`` (all different) that tell them apart: a/model.onnx, b/model.onnx."""
    parts = [os.path.normpath(os.path.abspath(file)).split(os.sep) for file in files]
    for depth in range(1, max(len(p) for p in parts) + 1):
        ends = ["/".join(p[-depth:]) for p in parts]
        if len(set(ends)) == len(ends):
            return ends
    return files
