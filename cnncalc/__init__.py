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


def analyze(spec_or_name, input=None, batch=None, dtype="fp32", explain=(), mode="eval", params=None):
    """Analyse a network (``params={"width": 1.2}`` sets its ``params:``); see :func:`cnncalc.report.analyze`."""
    from . import render  # noqa: F401  (a Report then shows itself as the lecture table in Jupyter)
    from .report import analyze as _analyze

    return _analyze(spec_or_name, input=input, batch=batch, dtype=dtype, explain=explain, mode=mode, params=params)


def compare(models, input=None, batch=None, dtype="fp32", optimizer="sgd", mode="eval", params=None):
    """Several models side by side (``"resnet50@448"`` gives one its own input, ``"efficientnet_b0[width=1.2]"``
    its own params); see :mod:`cnncalc.comparison`."""
    from .comparison import compare as _compare

    return _compare(models, input=input, batch=batch, dtype=dtype, optimizer=optimizer, mode=mode, params=params)


def spec_schema():
    """The JSON Schema (draft-07) of a spec file, as a dict."""
    from .schema import spec_schema as _spec_schema

    return _spec_schema()


def load_spec(spec_or_name, params=None):
    """Parse and expand a spec (path, built-in name or mapping) without computing it."""
    from .report import load_spec as _load_spec

    return _load_spec(spec_or_name, params)


def builtin_models():
    """Names of the built-in model specs."""
    from .builtins import names

    return names()
