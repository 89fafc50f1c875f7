"""The built-in model specs shipped inside the package (the repo's top-level ``configs/``)."""

import os

from .errors import SpecError, did_you_mean, note

STDIN = "-"


def _folder():
    # A source checkout (`python -m cnncalc` or pytest in the repo) uses its own configs/, beside the package,
    # even when another checkout is pip-installed in editable mode (its cnncalc.configs would win otherwise).
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isfile(os.path.join(root, "pyproject.toml")) and os.path.isdir(os.path.join(root, "configs")):
        return os.path.join(root, "configs")
    from . import configs
    return os.path.dirname(configs.__file__)


def names():
    """Built-in model names, sorted."""
    return sorted(f[:-5] for f in os.listdir(_folder()) if f.endswith(".yaml"))


def path_of(name):
    return os.path.join(_folder(), f"{name}.yaml")


# The files a spec can be: YAML, or an ONNX model (read by cnncalc.onnx.reader).
SPEC_SUFFIXES = (".yaml", ".yml", ".onnx")


def looks_like_path(text):
    """A spec argument that names a file rather than a built-in model."""
    return text.endswith(SPEC_SUFFIXES) or os.sep in text or "/" in text


def is_onnx_path(path):
    return str(path).lower().endswith(".onnx")


def builtin_name(text):
    """The built-in model ``text`` names: ``alexnet``, or ``alexnet.yaml`` written as a file name; else None."""
    text = str(text)
    stem, extension = os.path.splitext(text)
    for name in (text, stem if extension in (".yaml", ".yml") else None):
        if name and "/" not in name and os.sep not in name and name in names():
            return name
    return None


def resolve(path_or_name, files=True):
    """A path to a spec file: the argument itself if it is a file (or ``-``, standard input), else a built-in.

    A file name that does not exist but names a built-in (``alexnet.yaml``) is that built-in, with a note.
    ``files=False`` resolves built-ins only.
    """
    text = str(path_or_name)
    if files and (text == STDIN or os.path.exists(text)):
        return text
    name = builtin_name(text)
    if name is not None:
        if name != text:
            note(f"no file '{text}' here; using the built-in model '{name}'")
        return path_of(name)
    if files and looks_like_path(text):
        return text
    raise SpecError(f"'{text}' is neither a spec file nor a built-in model{did_you_mean(text, names())} "
                    f"(see `cnncalc list`)")


def display_name(path):
    """How a spec file is named in messages: built-ins by their short name."""
    if path == STDIN:
        return "<stdin>"
    folder = _folder()
    if os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder):
        return os.path.basename(path)
    return path
