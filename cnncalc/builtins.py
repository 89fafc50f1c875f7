"""The built-in model specs shipped inside the package (the repo's top-level ``configs/``)."""

import os

from .errors import SpecError, did_you_mean


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


def looks_like_path(text):
    """A spec argument that names a file rather than a built-in model."""
    return text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text


def resolve(path_or_name):
    """A path to a spec file: the argument itself if it is a file, else a built-in."""
    text = str(path_or_name)
    if os.path.exists(text) or looks_like_path(text):
        return text
    candidate = path_of(text)
    if os.path.isfile(candidate):
        return candidate
    raise SpecError(f"'{text}' is neither a spec file nor a built-in model{did_you_mean(text, names())} "
                    f"(see `cnncalc list`)")


def display_name(path):
    """How a spec file is named in messages: built-ins by their short name."""
    folder = _folder()
    if os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder):
        return os.path.basename(path)
    return path
