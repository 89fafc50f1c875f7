"""cnncalc page: one self-contained HTML page of one or more models."""

import click

from ..errors import UsageError, one_line
from .common import (DTYPES, batch_option, complete_spec, device_options, friendly_errors, mode_option, set_option,
                     settings_dict, spec_help, write_output)

PAGE_SUFFIXES = (".html", ".htm")


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC[@INPUT]...", shell_complete=complete_spec)
@click.option("--output", "-o", required=True, metavar="FILE.html", help="The page to write.")
@click.option("--input", "input_shape", metavar="CxHxW", help="Input for every SPEC without its own @INPUT.")
@batch_option
@click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True, help="Bytes per element.")
@device_options
@mode_option
@set_option
@friendly_errors
@spec_help
def page(specs, output, input_shape, batch, dtype, device, peak, bandwidth, mode, settings):
    """One HTML page to look at: totals, the lecture table folded to blocks, bars and the layer graph.

    The page is one file that needs no network (no fonts, scripts or pictures fetched): open it from
    disk, mail it, put it on a course page. Blocks open by a click, a box filters layer names, hovering
    a bar or a box of the graph shows its row; without JavaScript the table shows every row. Several
    SPECs give one section each, with the comparison table on top. With --device, the roofline chart
    and each layer's intensity, least time and bound. Each SPEC is {SPEC}; SPEC@448 gives that model
    its own input.

    \b
    Examples:
      cnncalc page resnet50 -o resnet50.html
      cnncalc page alexnet@227 vgg16 resnet50 -o three.html
      cnncalc page mobilenet_v2 --device t4 -o mobilenet_v2_t4.html
    """
    import os

    from ..comparison import compare, render_compare
    from ..render.page import model_section, render_page

    if os.path.splitext(str(output))[1].lower() not in PAGE_SUFFIXES:
        raise UsageError(f"the page is HTML: -o must end in .html or .htm, not '{one_line(click.format_filename(output))}'")

    comparison = compare(specs, input=input_shape, batch=batch, dtype=dtype, mode=mode,
                         params=settings_dict(settings), device=device, peak=peak, bandwidth=bandwidth)
    labels = comparison.labels
    sections = [model_section(report, index, label) for index, (report, label) in
                enumerate(zip(comparison.reports, labels))]
    table = render_compare(comparison, "html") if len(labels) > 1 else None
    ratios = "".join(f"<p>{line}</p>" for line in _escaped(comparison.ratio_lines())) if len(labels) > 1 else ""
    title = " vs ".join(labels) if len(labels) <= 3 else f"{len(labels)} models"
    write_output(output, render_page(sections, title, table and table + ratios, labels))
    click.echo(f"wrote {one_line(click.format_filename(output))}", err=True)


def _escaped(lines):
    from ..render.escape import escape_html

    return [escape_html(line) for line in lines]
