"""cnncalc devices: the device table behind --device (peak dense FLOP/s per dtype, memory bandwidth)."""

import click

from .common import check_format, emit, friendly_errors


@click.command()
@click.option("--format", "-f", "fmt", default="simple", show_default=True, metavar="FORMAT",
              help="json, csv, or any tabulate table format (github, grid, ...).")
@friendly_errors
def devices(fmt):
    """The devices --device knows: peak dense FLOP/s per dtype and memory bandwidth, from the vendors'
    datasheets (the figures' sources are comments in the package's devices.yaml). Decimal prefixes:
    1 TFLOP/s = 10^12 FLOP/s, 1 GB/s = 10^9 B/s. The ridge point is the fp32 peak / bandwidth.

    \b
    Examples:
      cnncalc devices
      cnncalc report mobilenet_v2 --device t4 --dtype fp16
      cnncalc report resnet50 --peak 19.5T --bandwidth 1555G
    """
    from fractions import Fraction

    from ..render.data import csv_text, render_json
    from ..render.table import tabulate_table
    from ..render.units import rate_text, scaled
    from ..roofline import PEAK_KEYS, device_table, plain, work_unit

    table = device_table()
    fmt = check_format(fmt)
    if fmt == "json":
        emit(render_json({"devices": [{"name": name, "title": entry["title"],
                                       "peak": {key: plain(value) for key, value in entry["peak"].items()},
                                       "bandwidth": plain(entry["bandwidth"])} for name, entry in table.items()]}))
        return
    keys = [key for key in PEAK_KEYS if any(key in entry["peak"] for entry in table.values())]
    if fmt == "csv":
        emit(csv_text([["name", "title"] + keys + ["bandwidth"]] + [
            [name, entry["title"]] + [plain(entry["peak"].get(key, "")) for key in keys] + [plain(entry["bandwidth"])]
            for name, entry in table.items()]))
        return
    rows = []
    for name, entry in table.items():
        peaks = [rate_text(entry["peak"][key], "").replace(" ", "") if key in entry["peak"] else "" for key in keys]
        ridge = Fraction(entry["peak"]["fp32"]) / entry["bandwidth"] if "fp32" in entry["peak"] else None
        rows.append([name] + peaks + [rate_text(entry["bandwidth"], "B/s"),
                                      "" if ridge is None else scaled(ridge.numerator, ridge.denominator, 1),
                                      entry["title"]])
    headers = ["device"] + [f"{key}\n{work_unit(key)}/s" for key in keys] + ["bandwidth", "ridge fp32\nFLOP/B", "what"]
    aligns = ["left"] + ["right"] * (len(keys) + 2) + ["left"]
    emit(tabulate_table(rows, headers, aligns, fmt) + "\n\nPeaks are dense (no structured sparsity); int8 in "
         "integer operations a second (TOPS). Give --peak and --bandwidth for any other device.")
