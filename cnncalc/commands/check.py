"""cnncalc check: grade homework answer files against the computed network."""

import sys

import click

from .common import friendly_errors

FORMATS = ("text", "json", "gradescope")


@click.command()
@click.argument("answers", nargs=-1, required=True, metavar="ANSWERS...")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text; json ({correct, total, results} for one file, {correct, total, files: [...]} for "
                   "several); gradescope (an autograder results.json).")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the result to FILE instead of standard output (e.g. /autograder/results/results.json).")
@click.option("--quiet", "-q", is_flag=True, help="Text: list only wrong answers, errors and summaries.")
@click.option("--no-explain", is_flag=True, help="Text: leave out the worked arithmetic of wrong answers.")
@friendly_errors
def check(answers, fmt, output, quiet, no_explain):
    """Grade homework answers: output shapes, params, MACs, flop, memory, receptive fields.

    Each ANSWERS file names a spec (a built-in model, a spec file relative to it, or an inline
    spec) and lists claimed values by layer; every claim is marked right or wrong, and a wrong one
    gets the right value and the worked arithmetic. Files are graded independently: a broken file
    is reported and the others are still graded. Exit 0 when every answer is right, 1 otherwise.

    \b
    Answer file:
      spec: alexnet
      input: [3, 227, 227]
      answers:
        - {layer: conv1, output_shape: 56x56x64, params: 23296, memory_kb: 784}
        - {layer: pool1, flops: 0.4M, fits: false}
        - {layer: total, params: 61.1M}

    \b
    Examples:
      cnncalc check examples/cs231n_conv_example.yaml
      cnncalc check students/*.yaml --quiet
      cnncalc check submission.yaml -f gradescope -o /autograder/results/results.json
    """
    from .. import checker

    file_results = checker.check_files(answers)
    if fmt == "text":
        text = checker.render_text(file_results, explain=not no_explain, quiet=quiet)
    else:
        import json

        data = checker.to_json(file_results) if fmt == "json" else checker.to_gradescope(file_results)
        text = json.dumps(data, indent=2)
        _echo_errors(file_results)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        click.echo(checker.overall_summary(file_results) if len(file_results) > 1
                   else checker.file_summary(file_results[0]))
    else:
        click.echo(text)
    sys.exit(0 if all(fr.ok for fr in file_results) else 1)


def _echo_errors(file_results):
    """With JSON output on stdout, problems with the files still reach a person, one line each on stderr."""
    for fr in file_results:
        if fr.error is not None:
            click.echo(f"error: {fr.error}", err=True)
        for result in fr.results:
            if result.status == "error":
                click.echo(f"error: {result.where}: {result.message}", err=True)
