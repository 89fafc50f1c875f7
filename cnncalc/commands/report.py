"""cnncalc report: the per-layer lecture table of one model."""

import click

from .common import (WholeNumber, check_format, columns_option, complete_spec, convention_option, device_options, emit,
                     footer_option, friendly_errors, mode_option, model_options, optimizer_option, output_file_option,
                     output_options, set_option, settings_dict, spec_help, with_device)


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@model_options
@output_options
@click.option("--depth", type=WholeNumber(), default=None,
              help="Fold the table to blocks: rows summed by the first N parts of their names "
                   "(layer1.0.conv1 -> layer1 at depth 1).")
@click.option("--explain", "explain", multiple=True, metavar="LAYER",
              help="Print the worked arithmetic of LAYER instead of the table (repeatable); a block "
                   "(layer1) gives its summed figures, then each of its layers.")
@mode_option
@columns_option("Columns to print, comma-separated: name, type, input, filters, kernel, stride, pad, output, "
                "rf, jump (effective stride), memory, params, buffers, macs, flop, flops_2x, params%, macs%, flop%, "
                "memory%; the roofline's bytes, intensity, time, bound (time and bound need a device) (with csv/json: "
                "their keys, e.g. in_shape, bytes_moved, time_s).")
@convention_option
@click.option("--training", is_flag=True,
              help="Add the training memory estimate: activations + params + gradients + optimizer state.")
@optimizer_option
@device_options
@set_option
@footer_option
@output_file_option
@friendly_errors
@spec_help
def report(spec, input_shape, batch, dtype, fmt, units, depth, explain, mode, columns, convention, training,
           optimizer, device, peak, bandwidth, settings, no_footer, output):
    """Per-layer table like the lecture slides, then totals.

    SPEC is {SPEC}.

    \b
    Examples:
      cnncalc report alexnet --input 3x227x227
      cnncalc report resnet50 --depth 1 --format github
      cnncalc report vgg16 --format json | jq .totals
      cnncalc report alexnet --explain conv1
      cnncalc report vgg16 --flops-convention 2x --columns name,output,macs,flops_2x
      cnncalc report resnet50 --training --optimizer adam --batch 32
      cnncalc report my_efficientnet.yaml --set width=1.2 --set depth=1.4
      cnncalc report vgg16 --format csv -o tables/vgg16.csv
      cnncalc report mobilenet_v2 --device t4 --dtype fp16
    """
    from ..report import analyze

    fmt = check_format(fmt)
    result = analyze(spec, input=input_shape, batch=batch, dtype=dtype, explain=explain, mode=mode,
                     params=settings_dict(settings))
    result = with_device(result, device, peak, bandwidth)
    if explain:
        from ..errors import SpecError, UsageError
        from ..render.explain import explain_text

        for name in explain:
            try:
                result.block(name)
            except SpecError as err:  # a name on the command line that the model lacks: exit 2, as for --only
                raise UsageError(f"--explain {name}: {err.message}") from None

        emit("\n\n".join(explain_text(result, name) for name in explain), output)
        return
    from ..render import render_report

    emit(render_report(result, fmt, depth=depth, units=units, columns=columns, convention=convention,
                       optimizer=optimizer if training else None, footer=not no_footer), output)
