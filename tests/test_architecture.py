"""The code reads as one pipeline: every import inside cnncalc (at the top of a module or inside a function)
points to the same stage or an earlier one, so no stage reaches up and there is no import circle."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cnncalc")

# earliest first; a module may import its own stage or any earlier one
STAGES = [
    {"errors", "numbers", "conventions", "shapes", "install"},
    {"spec", "configs", "builtins"},
    {"rules"},
    {"graph", "onnx"},  # the ONNX reader sizes its layers with the rules as it walks
    {"report", "receptive", "roofline"},
    {"render"},
    {"comparison", "grading", "schema"},
    {"commands"},
    {"cli", "__main__", "__init__"},
]
STAGE_OF = {name: index for index, names in enumerate(STAGES) for name in names}


def modules():
    for folder, _, files in os.walk(ROOT):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                yield path, parts


def stage(parts):
    return parts[0] if parts else "__init__"


def imported(path, parts):
    """The top-level cnncalc module (first part under cnncalc) of each internal import, with its line."""
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    if parts[-1] == "__init__":
        package = parts[:-1]
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # from . import x (in cnncalc/__init__ or cli)
                    target = [alias.name for alias in node.names][:1]
                yield target, node.lineno
            elif node.module and node.module.split(".")[0] == "cnncalc":
                yield node.module.split(".")[1:], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cnncalc":
                    yield alias.name.split(".")[1:], node.lineno


def test_every_module_belongs_to_a_stage():
    unplaced = sorted({stage(parts) for _, parts in modules()} - set(STAGE_OF))
    assert not unplaced, f"modules with no stage in tests/test_architecture.py: {unplaced}"


def test_no_import_points_to_a_later_stage():
    wrong = []
    for path, parts in modules():
        here = STAGE_OF[stage(parts)]
        for target, line in imported(path, parts):
            there = stage(target)
            if there in STAGE_OF and STAGE_OF[there] > here:
                wrong.append(f"cnncalc/{'/'.join(parts)}.py:{line} imports {'.'.join(target)} ({there} is a later stage)")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("limit", [440])
def test_no_module_is_too_long_to_read(limit):
    long = [f"{'/'.join(parts)}.py: {n}" for path, parts in modules()
            if (n := sum(1 for _ in open(path, encoding="utf-8"))) > limit]
    assert not long, f"modules over {limit} lines: {long}"
