"""cnncalc: exact output shapes, params, MACs, activation memory and receptive fields of CNNs.

    >>> import cnncalc
    >>> report = cnncalc.analyze("alexnet", input="3x227x227")
    >>> report.totals["params"]
    61100840
"""

__version__ = "0.1.0"
__all__ = ["analyze", "compare", "load_spec", "builtin_models", "spec_schema", "CnnCalcError", "SpecError",
           "__version__"]

from .errors import CnnCalcError, SpecError


def analyze(spec_or_name, input=None, batch=None, dtype="fp32", explain=(), mode="eval"):
    """Analyse a network; see :func:`cnncalc.report.analyze`."""
    from .report import analyze as _analyze

    return _analyze(spec_or_name, input=input, batch=batch, dtype=dtype, explain=explain, mode=mode)


def compare(models, input=None, batch=None, dtype="fp32", optimizer="sgd", mode="eval"):
    """Several models side by side (``"resnet50@448"`` gives one its own input); see :mod:`cnncalc.comparison`."""
    from .comparison import compare as _compare

    return _compare(models, input=input, batch=batch, dtype=dtype, optimizer=optimizer, mode=mode)


def spec_schema():
    """The JSON Schema (draft-07) of a spec file, as a dict."""
    from .schema import spec_schema as _spec_schema

    return _spec_schema()


def load_spec(spec_or_name):
    """Parse and expand a spec (path, built-in name or mapping) without computing it."""
    from .report import load_spec as _load_spec

    return _load_spec(spec_or_name)


def builtin_models():
    """Names of the built-in model specs."""
    from .builtins import names

    return names()
