"""The install command to print when an optional package is missing, for the copy of cnncalc that is running.

cnncalc is not on the package index, so installing the extra by the package's name fails everywhere. What works
depends on where this copy came from:

- a clone run in place, or installed from one with ``pip install .`` / ``pip install -e .`` (pip records
  the folder in the distribution's ``direct_url.json``): ``pip install '.[onnx]'`` in that folder,
  ``pip install '/path/to/clone[onnx]'`` from anywhere else (``-e`` kept for an editable install);
- anything else (a wheel, a git URL, a copy whose folder is gone): the extra's own requirement,
  ``pip install 'onnx>=1.12'``, which is all the extra adds. (``'cnncalc[onnx] @ git+file:///...'`` is refused
  by pip 23's requirement parser, so a git install gets this form too.)

``pip`` is the pip of the interpreter running cnncalc when that is the first ``pip`` on PATH; otherwise
the hint says ``/path/to/python -m pip``, so it installs where cnncalc will look.
"""

import os
import sys

# the optional-dependencies of pyproject.toml (tests/test_cli_frictions.py checks that they agree)
EXTRAS = {"onnx": "onnx>=1.12", "plot": "matplotlib>=3.5"}
PACKAGE_ROOT = os.path.dirname(os.path.abspath(__file__))


def install_hint(extra):
    """``pip install ...`` that gives this copy of cnncalc the optional ``extra`` (onnx, plot)."""
    return f"{pip_command()} install {install_target(extra)}"


def install_target(extra):
    """What to give ``pip install`` for ``extra``, quoted for a POSIX shell."""
    clone = source_folder()
    if clone is not None:
        editable = clone[1]
        where = "." if same_folder(clone[0], os.getcwd()) else clone[0]
        return ("-e " if editable else "") + quoted(f"{where}[{extra}]")
    return quoted(EXTRAS[extra])


def source_folder():
    """(folder, editable) of the clone this copy runs from or was installed from, or None.

    Run in place (``python -m cnncalc`` in a clone, or an editable install of it): the folder above the
    package, when it holds the project's pyproject.toml. Installed into site-packages: the local folder that
    its direct_url.json names, when it still holds the project.
    """
    record = direct_url()
    local = record.get("url", "") if record and "dir_info" in record else ""
    folder = None
    if local.startswith("file://"):
        from urllib.parse import unquote, urlparse

        folder = unquote(urlparse(local).path)
    parent = os.path.dirname(PACKAGE_ROOT)
    if is_project(parent):
        editable = bool(folder and same_folder(folder, parent) and record["dir_info"].get("editable"))
        return parent, editable
    if folder and is_project(folder):
        return folder, False
    return None


def direct_url():
    """The direct_url.json (PEP 610) of the installed distribution this copy belongs to, as a dict; None when
    this copy is not an installed one (a clone run in place beside another installed copy), or was installed
    from an index."""
    import json
    from importlib import metadata

    try:
        distribution = metadata.distribution("cnncalc")
        text = distribution.read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        record = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    installed_here = same_folder(os.path.dirname(PACKAGE_ROOT), str(distribution.locate_file("")))
    editable_here = bool(record.get("dir_info", {}).get("editable")) and str(record.get("url", "")).startswith(
        "file://") and is_project(os.path.dirname(PACKAGE_ROOT))
    return record if installed_here or editable_here else None


def is_project(folder):
    """Whether ``folder`` holds cnncalc's pyproject.toml and package."""
    try:
        with open(os.path.join(folder, "pyproject.toml"), encoding="utf-8") as handle:
            text = handle.read(4096)
    except OSError:
        return False
    return 'name = "cnncalc"' in text and os.path.isdir(os.path.join(folder, "cnncalc"))


def same_folder(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def pip_command():
    """``pip`` when the first pip on PATH belongs to this interpreter, else ``/path/to/python -m pip``."""
    import shutil

    found = shutil.which("pip")
    own = os.path.join(os.path.dirname(sys.executable), "pip")
    if found and same_folder(os.path.dirname(found), os.path.dirname(own)) and os.path.exists(own):
        return "pip"
    return f"{quoted(sys.executable)} -m pip"


def quoted(text):
    import shlex

    return shlex.quote(text)
