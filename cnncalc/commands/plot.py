"""cnncalc plot: per-layer bar charts of activation memory, params and flop."""

import click

from ..errors import one_line
from .common import (DTYPES, WholeNumber, batch_option, complete_spec, device_options, friendly_errors, set_option,
                     settings_dict, spec_help, write_output)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC[@INPUT]...", shell_complete=complete_spec)
@click.option("--output", "-o", required=True, metavar="FILE", help="The picture to write: .png, .svg or .pdf.")
@click.option("--input", "input_shape", metavar="CxHxW", help="Input for every SPEC without its own @INPUT.")
@batch_option
@click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True, help="Bytes per element.")
@click.option("--depth", type=WholeNumber(), default=None,
              help="One bar per block: layers summed by the first N parts of their names.")
@click.option("--roofline", is_flag=True,
              help="Draw the device's roofline instead (log-log), every layer a point on it, memory-bound ones "
                   "in red; needs --device (or --peak and --bandwidth).")
@device_options
@set_option
@friendly_errors
@spec_help
def plot(specs, output, input_shape, batch, dtype, depth, roofline, device, peak, bandwidth, settings):
    """Per-layer bar charts of activation memory, params and flop; several models side by side.

    The lecture's point in pictures: memory sits in the early convs, params in the fc layers,
    compute in the convs. Needs matplotlib: pip install '.[plot]' in a clone of cnncalc (a missing
    matplotlib prints the command for this copy).

    Each SPEC is {SPEC}; SPEC@448 gives that model its own input.

    \b
    Examples:
      cnncalc plot alexnet@227 vgg16 -o alexnet_vgg16.png
      cnncalc plot resnet50 --depth 2 -o resnet50.svg
      cnncalc plot mobilenet_v2 resnet50 --roofline --device t4 -o t4.png
    """
    from ..comparison import compare
    from ..errors import UsageError
    from ..render.plot import check_path, plot_writer

    check_path(output)
    if roofline and device is None and (peak is None or bandwidth is None):
        raise UsageError("--roofline needs --device NAME (see `cnncalc devices`) or --peak and --bandwidth")
    comparison = compare(specs, input=input_shape, batch=batch, dtype=dtype, params=settings_dict(settings),
                         device=device, peak=peak, bandwidth=bandwidth)
    if roofline:
        from ..render.roofline_plot import roofline_writer

        write_output(output, roofline_writer(comparison.reports, output, depth=depth))
    else:
        write_output(output, plot_writer(comparison.reports, output, depth=depth))
    click.echo(f"wrote {one_line(click.format_filename(output))}", err=True)
