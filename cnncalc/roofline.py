"""The roofline: bytes each layer moves, its arithmetic intensity, and on a device the least time it can take.

A stage-four companion of :mod:`cnncalc.report`. ``attach(report, device("t4", report.dtype))`` gives every
row a :class:`Roofline` (``row.roofline``) and the report a :class:`Summary` (``report.roofline``);
``records(report)`` gives them as plain data, one dict per row. The figures follow the design's contract:

- bytes moved = (elements of the inputs read + of the output written) x batch + (params + buffers), all at
  the dtype's bytes per element (params and buffers are read once per batch);
- FLOPs = (2 x MACs + elementwise work) x batch; intensity = FLOPs / bytes moved;
- time = max(FLOPs / peak, bytes / bandwidth), and the layer is memory-bound when the second is larger.

Everything is exact (ints and Fractions of a second) until printed. The total is the sum of the layers'
times: a lower bound (no kernel launch cost, no cache reuse across layers, no overlap of layers).
"""

import os
from fractions import Fraction
from math import prod

from .errors import CnnCalcError, UsageError, did_you_mean
from .numbers import read_rate

DEVICES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "devices.yaml")
PEAK_KEYS = ("fp64", "fp32", "tf32", "fp16", "bf16", "int8")
INTEGER_DTYPES = ("int8",)  # their peaks are operations a second (TOPS), not FLOP/s


def work_unit(dtype):
    """What a peak at ``dtype`` counts: integer operations at int8 (a datasheet's TOPS), floating-point ones else."""
    return "OP" if dtype in INTEGER_DTYPES else "FLOP"
CUSTOM = "custom"  # the name of a device given only by --peak and --bandwidth
_TABLE = []  # the device table, read once


def device_table():
    """``{name: {"title", "peak": {dtype: FLOP/s}, "bandwidth": B/s}}`` from the shipped devices.yaml."""
    if not _TABLE:
        import yaml

        with open(DEVICES_FILE, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
        table = {}
        for name, entry in raw.items():
            table[name] = {"title": entry["title"], "bandwidth": read_rate(str(entry["bandwidth"])),
                           "peak": {key: read_rate(str(entry["peak"][key])) for key in PEAK_KEYS
                                    if key in entry["peak"]}}
        _TABLE.append(table)
    return _TABLE[0]


class Device:
    """A device as a run sees it: ``peak`` FLOP/s at the run's dtype and ``bandwidth`` B/s (exact)."""

    __slots__ = ("name", "title", "dtype", "peak", "bandwidth")

    def __init__(self, name, title, dtype, peak, bandwidth):
        self.name, self.title, self.dtype, self.peak, self.bandwidth = name, title, dtype, peak, bandwidth

    @property
    def work_unit(self):
        """What the peak counts (see :func:`work_unit`)."""
        return work_unit(self.dtype)

    @property
    def ridge(self):
        """The ridge point: the intensity (FLOP per byte) above which a layer is compute-bound."""
        return Fraction(self.peak) / self.bandwidth

    def to_dict(self):
        return {"name": self.name, "title": self.title, "dtype": self.dtype, "peak_flops": _number(self.peak),
                "bandwidth": _number(self.bandwidth), "ridge_point": rounded(self.ridge)}

    def __repr__(self):
        return f"<Device {self.name}: {float(self.peak):.4g} FLOP/s at {self.dtype}, {float(self.bandwidth):.4g} B/s>"


def _rate(value, option):
    try:
        return read_rate(value)
    except ValueError as err:
        example = "19.5T" if option == "--peak" else "1555G"
        raise UsageError(f"{option} must be a rate like {example}, not '{str(value)[:40]}' ({err})") from None


def device(name=None, dtype="fp32", peak=None, bandwidth=None):
    """The Device ``name`` (a short name of the table, or a Device) at ``dtype``, with ``peak`` and
    ``bandwidth`` (``"19.5T"``, ``"1555G"`` or numbers) over its figures; without a name both are needed.
    None when nothing is given. An unknown name or a dtype the device has no figure for is a UsageError."""
    if isinstance(name, Device):
        return name
    if name is None and peak is None and bandwidth is None:
        return None
    peak = None if peak is None else _rate(peak, "--peak")
    bandwidth = None if bandwidth is None else _rate(bandwidth, "--bandwidth")
    if name is None:
        if peak is None or bandwidth is None:
            raise UsageError("--peak and --bandwidth go together without --device (or give --device NAME; "
                             "see `cnncalc devices`)")
        return Device(CUSTOM, f"--peak {_plain(peak)} FLOP/s, --bandwidth {_plain(bandwidth)} B/s", dtype, peak,
                      bandwidth)
    table = device_table()
    if not isinstance(name, str) or name.lower() not in table:
        raise UsageError(f"unknown device '{str(name)[:40]}'{did_you_mean(str(name).lower(), table)} "
                         f"(see `cnncalc devices`, or give --peak and --bandwidth)")
    name = name.lower()
    entry = table[name]
    if peak is None:
        if dtype not in entry["peak"]:
            raise UsageError(f"the device table has no {dtype} peak for {name} (it lists "
                             f"{', '.join(entry['peak'])}); give --peak")
        peak = entry["peak"][dtype]
    return Device(name, entry["title"], dtype, peak, bandwidth or entry["bandwidth"])


class Roofline:
    """One row's roofline: ``flops`` and ``bytes_moved`` (ints); on a device ``compute_s``, ``memory_s``,
    ``time_s`` (Fractions of a second; a block's are the sums of its layers') and ``memory_bound_s`` (the
    part of ``time_s`` spent in memory-bound layers). ``parts`` holds a layer's terms for --explain."""

    __slots__ = ("flops", "bytes_moved", "compute_s", "memory_s", "time_s", "memory_bound_s", "layers",
                 "memory_bound_layers", "parts")

    def __init__(self, flops, bytes_moved, dev=None, parts=None):
        self.flops = flops
        self.bytes_moved = bytes_moved
        self.parts = parts
        self.layers = 1
        if dev is None:
            self.compute_s = self.memory_s = self.time_s = self.memory_bound_s = self.memory_bound_layers = None
            return
        self.compute_s = Fraction(flops) / dev.peak
        self.memory_s = Fraction(bytes_moved) / dev.bandwidth
        memory_bound = self.memory_s > self.compute_s
        self.time_s = max(self.compute_s, self.memory_s)
        self.memory_bound_s = self.time_s if memory_bound else Fraction(0)
        self.memory_bound_layers = 1 if memory_bound else 0

    @property
    def intensity(self):
        """FLOPs per byte moved (a Fraction), or None for a row that moves nothing."""
        return Fraction(self.flops, self.bytes_moved) if self.bytes_moved else None

    @property
    def bound(self):
        """"memory" or "compute" (a block: where most of its time goes); None without a device or without work
        (a training-only branch in eval mode)."""
        if not self.time_s:
            return None
        return "memory" if 2 * self.memory_bound_s > self.time_s else "compute"

    @property
    def memory_bound_share(self):
        """The share of the time spent in memory-bound layers (a Fraction), or None."""
        return None if not self.time_s else self.memory_bound_s / self.time_s

    def __add__(self, other):
        total = Roofline(self.flops + other.flops, self.bytes_moved + other.bytes_moved)
        total.layers = self.layers + other.layers
        if self.time_s is not None and other.time_s is not None:
            for key in ("compute_s", "memory_s", "time_s", "memory_bound_s", "memory_bound_layers"):
                setattr(total, key, getattr(self, key) + getattr(other, key))
        return total

    def to_dict(self):
        """The JSON fields of a row: bytes_moved and flops exact, intensity and time_s rounded floats."""
        data = {"bytes_moved": self.bytes_moved, "intensity": rounded(self.intensity)}
        if self.time_s is not None:
            data.update(time_s=rounded(self.time_s), compute_s=rounded(self.compute_s),
                        memory_s=rounded(self.memory_s), bound=self.bound)
        return data

    def __repr__(self):
        time = "" if self.time_s is None else f", {float(self.time_s):.4g} s {self.bound}-bound"
        return f"<Roofline {self.flops:,} FLOPs, {self.bytes_moved:,} B{time}>"


class Summary:
    """The whole run: the device and the sum of every layer's Roofline (``total``)."""

    def __init__(self, dev, total):
        self.device = dev
        self.total = total

    def extend(self, data):
        """Add the roofline to a report's JSON ``data``: totals bytes_moved, time_s, memory_bound_share,
        memory_bound_layers, and the device (with its ridge point)."""
        t = self.total
        data["totals"]["bytes_moved"] = t.bytes_moved
        if t.time_s is not None:
            data["totals"].update(time_s=rounded(t.time_s), memory_bound_share=rounded(t.memory_bound_share),
                                  memory_bound_layers=t.memory_bound_layers)
        if self.device is not None:
            data["device"] = self.device.to_dict()
        return data


def layer_roofline(row, in_shapes, batch, element_bytes, dev=None, runs=True):
    """The Roofline of one layer (``in_shapes``: the shapes it reads); a layer that does not run (a
    training-only branch in eval mode) moves and computes nothing."""
    reads = tuple(prod(shape) for shape in in_shapes)
    writes = prod(row.out_shape)
    weights = row.params + row.buffers
    if not runs:
        reads, writes, weights = tuple(0 for _ in reads), 0, 0
    bytes_moved = ((sum(reads) + writes) * batch + weights) * element_bytes
    flops = row.flops_2x * batch if runs else 0
    return Roofline(flops, bytes_moved, dev, parts=(reads, writes, weights, batch, element_bytes))


def attach(report, dev=None):
    """Give every row of ``report`` its Roofline on ``dev`` (a Device, or None for bytes and intensity only)
    and the report its Summary; returns the report."""
    if dev is not None and not isinstance(dev, Device):
        raise CnnCalcError(f"attach needs a Device (see cnncalc.roofline.device), not {dev!r:.60}")
    shapes = {"input": report.input}
    shapes.update((row.name, row.out_shape) for row in report.rows)
    total = None
    for row in report.rows:
        runs = not (row.train_only and report.mode == "eval")
        row.roofline = layer_roofline(row, [shapes[name] for name in row.inputs], report.batch,
                                      report.bytes_per_element, dev, runs)
        total = row.roofline if total is None else total + row.roofline
    report.roofline = Summary(dev, total)
    return report


# the whole-run figures compare prints with a device
FIGURES = ("bytes_moved", "roofline_time_s", "memory_bound_share")


def check_figures(keys, dev):
    """``keys`` (compare's figures), unless one is a roofline figure and there is no device: a UsageError."""
    if dev is None and set(keys) & set(FIGURES):
        raise UsageError(f"the roofline figures ({', '.join(FIGURES)}) need --device NAME or --peak and --bandwidth")
    return keys


def plain(value):
    """A figure for JSON or CSV: a Fraction (a time, a share) as a rounded float, anything else as it is."""
    return rounded(value) if isinstance(value, Fraction) else value


def figures(report):
    """A report's whole-run roofline figures as compare keys them (empty without a device): bytes_moved,
    roofline_time_s (a Fraction) and memory_bound_share (a Fraction)."""
    if report.roofline is None or report.roofline.device is None:
        return {}
    total = report.roofline.total
    return {"bytes_moved": total.bytes_moved, "roofline_time_s": total.time_s,
            "memory_bound_share": total.memory_bound_share}


def records(report, depth=None):
    """Per-row roofline data (rows folded to ``depth`` as in the table): name, type, flops, bytes_moved,
    intensity, and on a device compute_s, memory_s, time_s and bound; exact ints, Fractions for the rest."""
    if report.roofline is None:
        attach(report)
    out = []
    for row in report.fold(depth):
        r = row.roofline
        out.append({"name": row.name, "type": row.type, "flops": r.flops, "bytes_moved": r.bytes_moved,
                    "intensity": r.intensity, "compute_s": r.compute_s, "memory_s": r.memory_s,
                    "time_s": r.time_s, "bound": r.bound})
    return out


def rounded(value, digits=6):
    """A Fraction as a float of ``digits`` significant digits (for JSON); None stays None."""
    return None if value is None else float(f"{float(value):.{digits}g}")


def _number(value):
    return value if isinstance(value, int) else rounded(value)


def _plain(value):
    return f"{value:,}" if isinstance(value, int) else f"{float(value):,.6g}"
