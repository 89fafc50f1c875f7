"""cnncalc compare: several models side by side, with ratios to the first."""

import click

from .common import (check_format, columns_option, complete_spec, convention_option, device_options, emit,
                     footer_option, friendly_errors, mode_option, model_options, optimizer_option, output_file_option,
                     output_options, set_option, settings_dict, spec_help)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC[@INPUT]...", shell_complete=complete_spec)
@model_options
@output_options
@click.option("--by", type=click.Choice(("model", "stage")), default="model", show_default=True,
              help="model: one column per model; stage: per-stage figures lined up (rows folded by the "
                   "first part of their names: layer1, inception3a, ...).")
@columns_option("Figures to print, comma-separated: input, params, buffers, macs, flop, flops_2x, memory, "
                "peak_memory, param_memory, training, depth, weight_layers, layers, and with a device bytes_moved, "
                "roofline_time, memory_bound_share (--by stage: output, params, buffers, macs, flop, flops_2x, "
                "memory).")
@convention_option
@optimizer_option
@mode_option
@device_options
@set_option
@footer_option
@output_file_option
@friendly_errors
@spec_help
def compare(specs, input_shape, batch, dtype, fmt, units, by, columns, convention, optimizer, mode, device, peak,
            bandwidth, settings, no_footer, output):
    """Several models side by side, with each model's ratio to the first.

    Each SPEC is {SPEC}; SPEC@448 or SPEC@3x320x320 gives that model its own
    input (--input sets the others); 'SPEC[width=1.2,depth=1.1]' its own params (over --set, which
    applies to every model). Quote the brackets for the shell.

    \b
    Examples:
      cnncalc compare alexnet@227 vgg16
      cnncalc compare alexnet vgg16 googlenet resnet50 --units raw --format github
      cnncalc compare resnet18 resnet50 --by stage
      cnncalc compare resnet50 resnet50@448 --format csv --columns params,macs,memory
      cnncalc compare my_net.yaml 'my_net.yaml[width=1.2]@260'
      cnncalc compare resnet50 mobilenet_v2 efficientnet_b0 --device jetson-orin-nano
    """
    from ..comparison import compare as compare_models, render_compare

    fmt = check_format(fmt)
    comparison = compare_models(specs, input=input_shape, batch=batch, dtype=dtype, optimizer=optimizer, mode=mode,
                                params=settings_dict(settings), device=device, peak=peak, bandwidth=bandwidth)
    emit(render_compare(comparison, fmt, units=units, columns=columns, convention=convention, by=by,
                        footer=not no_footer), output)
