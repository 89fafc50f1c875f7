"""cnncalc key: write an answer key for `cnncalc check --key` from a spec."""

import click

from ..errors import one_line
from .common import complete_spec, friendly_errors, model_options, spec_help, write_output


@click.command()
@click.argument("spec", shell_complete=complete_spec)
@click.option("--quantities", metavar="NAME,...", default="output_shape,params", show_default=True,
              help="What to ask of each layer: output_shape, params, macs, flops, memory_bytes, memory_kb, "
                   "receptive_field, fits.")
@click.option("--layers", "-l", metavar="NAME,...", default=None,
              help="Layers, block prefixes (layer1) or total to ask about [default: every layer with weights, "
                   "then total].")
@click.option("--points", type=click.IntRange(min=0, max=10 ** 6), default=1, show_default=True,
              help="Points per question (edit the key to weight them).")
@click.option("--tolerance", "-t", metavar="AMOUNT", default=None,
              help="A key-wide tolerance for counts and memory sizes: 1% of the exact value, or an amount in "
                   "base units (500) [default: exact].")
@click.option("--quiet", "-q", is_flag=True, help="Do not say where the key was written.")
@click.option("--output", "-o", metavar="FILE", default=None,
              help="Write the key to FILE (missing folders are created); a spec path in it is then relative "
                   "to FILE, as `check --key` reads it.")
@model_options
@friendly_errors
@spec_help
def key(spec, quantities, layers, points, tolerance, quiet, output, input_shape, batch, dtype):
    """Write an answer key: one question per layer and quantity, the true value as a comment.

    SPEC is {SPEC} (the key then holds that spec inline). The key names SPEC, the input, and the
    questions with ids q1, q2, ... that students may answer by (q1: 64x56x56) or by layer and
    quantity. Edit points, add tolerance: 1% to a count (a key is exact without one), then grade a class with
    `cnncalc check --key KEY SUBMISSION...`.

    \b
    Example:
      cnncalc key alexnet --input 3x227x227 --quantities output_shape,params,macs --layers conv1,fc6 -o key.yaml
    """
    import os

    from ..builtins import looks_like_path, names
    from ..grading.authoring import key_text
    from ..report import analyze

    spec_text = spec
    if spec == "-":  # standard input is gone once read: the key carries the spec inline
        from ..report import infer_shape
        from ..spec import SPEC_MARKERS, parse
        from ..spec.loader import load_yaml, read_text

        spec_text = load_yaml(read_text("-"), "<stdin>", markers=SPEC_MARKERS)
        spec = parse(spec_text, "<stdin>", shapes=infer_shape)  # errors name <stdin>, as report's do
    report = analyze(spec, input=input_shape, batch=batch, dtype=dtype, explain=True)
    if isinstance(spec_text, dict):
        pass
    elif (looks_like_path(spec) or spec not in names()) and output:
        spec_text = os.path.relpath(os.path.abspath(spec), os.path.dirname(os.path.abspath(output)))
    if tolerance is not None:
        from ..errors import UsageError
        from ..grading.values import ClaimError, parse_tolerance

        try:
            warning = parse_tolerance(tolerance).warning
        except ClaimError as err:
            raise UsageError(f"--tolerance: {err}") from None
        if warning:
            click.echo(f"warning: --tolerance: {warning}", err=True)
    text = key_text(report, spec_text, _names(layers), _names(quantities), points, tolerance)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text)
    if not quiet:
        click.echo(f"wrote {one_line(output)}", err=True)


def _names(text):
    """The names of a comma-separated list, each once (`--layers conv1,conv1` asks of conv1 once)."""
    return list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip())) if text else None
