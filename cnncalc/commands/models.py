"""cnncalc list / show / validate: the built-in models and spec checking."""

import sys

import click

from .common import complete_builtin, friendly_errors, set_option, settings_dict, spec_help
from ..numbers import plural


@click.command("list")
@click.option("--format", "-f", "fmt", type=click.Choice(("table", "names", "json")), default="table",
              show_default=True, help="A table, bare names (for shell loops), or JSON.")
@friendly_errors
def list_models(fmt):
    """The built-in models.

    \b
    Example:
      cnncalc list
      for m in $(cnncalc list -f names); do cnncalc report $m -f json > $m.json; done
    """
    from .. import builtins
    from ..report import load_spec

    names = builtins.names()
    if fmt == "names":
        click.echo("\n".join(names))
        return
    entries = []
    for name in names:
        spec = load_spec(name)
        entries.append({"name": name, "model": spec.name, "input": list(spec.input), "source": spec.source or ""})
    if fmt == "json":
        import json

        click.echo(json.dumps(entries, indent=2, allow_nan=False))
        return
    from ..render.shapes import full_shape
    from ..render.table import tabulate_table

    rows = [[e["name"], e["model"], full_shape(e["input"]), e["source"]] for e in entries]
    for row in rows:  # the whole text is in `-f json` and in `cnncalc show NAME`
        row[1] = shortened(row[1], MODEL_WIDTH)
    room = LIST_WIDTH - sum(max(len(row[n]) for row in rows) + 2 for n in range(3))
    for row in rows:
        row[3] = shortened(row[3], room)
    click.echo(tabulate_table(rows, ["name", "model", "input", "source"], ["left"] * 4, "simple"))


LIST_WIDTH = 100  # `cnncalc list` fits a 100-column terminal
MODEL_WIDTH = 24


def shortened(text, width):
    """``text`` cut to ``width`` characters at a word, ending in '...' when cut."""
    width = max(width, 10)
    if len(text) <= width:
        return text
    cut = text[:width - 3].rsplit(" ", 1)[0].rstrip(" ,;(")
    return cut + "..."


@click.command()
@click.argument("name", shell_complete=complete_builtin)
@friendly_errors
def show(name):
    """Print a built-in model's YAML spec, to copy and edit.

    \b
    Example:
      cnncalc show resnet50 > my_resnet.yaml
    """
    from .. import builtins

    with open(builtins.resolve(name, files=False), encoding="utf-8") as handle:
        click.echo(handle.read(), nl=False)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--verbose", "-v", is_flag=True, help="Also print a line for each valid spec.")
@click.option("--input", "input_shape", metavar="CxHxW", help="Check the specs at this input size.")
@set_option
@friendly_errors
@spec_help
def validate(specs, verbose, input_shape, settings):
    """Parse and check specs; print errors only (exit 1 if any spec is bad).

    Each SPEC is {SPEC}.

    \b
    Example:
      cnncalc validate students/*.yaml
    """
    from ..errors import CnnCalcError, one_line
    from ..report import analyze

    failed = 0
    params = settings_dict(settings)
    for spec in specs:
        try:
            result = analyze(spec, input=input_shape, params=params)
        except CnnCalcError as err:
            failed += 1
            message = str(err)
            if err.file is None:
                message = f"{one_line(spec)}: {message}"
            click.echo(f"error: {message}{_not_a_spec_hint(spec)}", err=True)
            if err.exit_code == 2:
                sys.exit(2)
            continue
        if verbose:
            shown = "<stdin>" if spec == "-" else one_line(spec)  # as its errors name it
            click.echo(f"ok: {shown}: {plural(len(result.rows), 'layer')}, {result.totals['params']:,} params")
    sys.exit(1 if failed else 0)


def _not_a_spec_hint(path):
    """A key or an answer file given to validate: say which command reads it."""
    from ..errors import CnnCalcError
    from ..spec.loader import load_yaml, read_text

    if not str(path).lower().endswith((".yaml", ".yml")):
        return ""
    try:
        document = load_yaml(read_text(path))
    except (CnnCalcError, OSError):
        return ""
    if isinstance(document, dict) and "questions" in document and "spec" in document:
        return "; this is an answer key: check it with `cnncalc check --key FILE`"
    if isinstance(document, dict) and "answers" in document and "spec" in document:
        return "; this is an answer file: check it with `cnncalc check FILE`"
    return ""
