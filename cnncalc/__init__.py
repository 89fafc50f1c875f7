"""cnncalc: exact output shapes, params, MACs, activation memory and receptive fields of CNNs.

    >>> import cnncalc
    >>> report = cnncalc.analyze("alexnet", input="3x227x227")
    >>> report.totals["params"]
    61100840
"""

__version__ = "0.1.0"
__all__ = ["analyze", "compare", "load_spec", "builtin_models", "devices", "spec_schema", "CnnCalcError", "SpecError",
           "__version__"]

from .errors import CnnCalcError, SpecError


def analyze(spec_or_name, input=None, batch=None, dtype="fp32", explain=(), mode="eval", params=None, device=None,
            peak=None, bandwidth=None):
    """Analyse a network (``params={"width": 1.2}`` sets its ``params:``); see :func:`cnncalc.report.analyze`.

    ``device="t4"`` (a name of :func:`devices`), or ``peak="19.5T"`` and ``bandwidth="1555G"`` (also over a
    device's figures), adds the roofline: ``row.roofline`` and ``report.roofline`` (see :mod:`cnncalc.roofline`).
    """
    from . import render  # noqa: F401  (a Report then shows itself as the lecture table in Jupyter)
    from . import roofline
    from .report import analyze as _analyze

    report = _analyze(spec_or_name, input=input, batch=batch, dtype=dtype, explain=explain, mode=mode, params=params)
    found = roofline.device(device, report.dtype, peak, bandwidth)
    return report if found is None else roofline.attach(report, found)


def compare(models, input=None, batch=None, dtype="fp32", optimizer="sgd", mode="eval", params=None, device=None,
            peak=None, bandwidth=None):
    """Several models side by side (``"resnet50@448"`` gives one its own input, ``"efficientnet_b0[width=1.2]"``
    its own params; ``device`` as for :func:`analyze`); see :mod:`cnncalc.comparison`."""
    from .comparison import compare as _compare

    return _compare(models, input=input, batch=batch, dtype=dtype, optimizer=optimizer, mode=mode, params=params,
                    device=device, peak=peak, bandwidth=bandwidth)


def devices():
    """The device table: ``{name: {"title", "peak": {dtype: FLOP/s}, "bandwidth": B/s}}`` (exact numbers)."""
    from .roofline import device_table

    return {name: {"title": entry["title"], "peak": dict(entry["peak"]), "bandwidth": entry["bandwidth"]}
            for name, entry in device_table().items()}


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
