"""cnncalc sheet: a student's problem sheet from a key (their variant when the key has vary:)."""

import click

from ..errors import one_line
from ..numbers import plural
from .common import friendly_errors, write_output


@click.command()
@click.argument("key_path", metavar="KEY")
@click.option("--student", "-s", metavar="ID", default=None,
              help="The student whose sheet to print: the id their submission is graded by (its file name "
                   "without the extension, or Gradescope's sid, else email).")
@click.option("--roster", "-r", metavar="FILE", default=None,
              help="One sheet per student: FILE has one id a line, or is a CSV with an id column. Needs -o DIR.")
@click.option("--format", "-f", "fmt", type=click.Choice(("markdown", "json")), default="markdown",
              show_default=True, help='markdown, or json: {"student", "values", "questions", ...}.')
@click.option("--answers", "-a", is_flag=True, help="Add the true values (an instructor's copy).")
@click.option("--output", "-o", metavar="PATH", default=None,
              help="Write to PATH: a file for --student, a folder (one ID.md or ID.json each) for --roster.")
@friendly_errors
def sheet(key_path, student, roster, fmt, answers, output):
    """Print a student's problem sheet: the network with their numbers, and the key's questions.

    A key with `vary:` gives each student their own numbers, chosen from (seed, student id): the
    sheet shows the variant `check --key KEY` grades that student's submission against. A key
    without `vary:` gives everyone the same sheet.

    \b
    Examples:
      cnncalc sheet key.yaml --student alice
      cnncalc sheet key.yaml --student alice --answers --format json
      cnncalc sheet key.yaml --roster roster.csv -o sheets/
    """
    import json
    import os

    from ..errors import UsageError
    from ..grading import load_key
    from ..grading.sheets import Sheet, read_roster

    if (student is None) == (roster is None):
        raise UsageError("give --student ID for one sheet, or --roster FILE -o DIR for one per student")
    if roster is not None and not output:
        raise UsageError("--roster writes one sheet per student: name a folder with -o")
    if student is not None and not student.strip():
        raise UsageError("--student needs an id")
    key = load_key(key_path)
    for line, text in key.warnings:
        click.echo(f"warning: {one_line(click.format_filename(key.file))}:{line}: {text}", err=True)

    def text_of(one):
        made = Sheet(key, one, answers)
        return made.markdown() if fmt == "markdown" else json.dumps(made.data(), indent=2, allow_nan=False) + "\n"

    if student is not None:
        text = text_of(student.strip())
        if output:
            write_output(output, text)
            click.echo(f"wrote {one_line(click.format_filename(output))}", err=True)
        else:
            click.echo(text, nl=False)
        return
    ids = read_roster(roster)
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"-o {one_line(click.format_filename(output))}: with --roster -o names a folder, and "
                         f"this is a file")
    suffix = ".md" if fmt == "markdown" else ".json"
    for one in ids:
        write_output(os.path.join(output, one + suffix), text_of(one))
    variants = len({key.for_student(one).values for one in ids})
    click.echo(f"wrote {plural(len(ids), 'sheet')} to {one_line(click.format_filename(output))} "
               f"({plural(variants, 'variant')})")
