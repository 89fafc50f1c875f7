"""cnncalc schema: the JSON Schema of the spec file, for editors."""

import click

from ..errors import CnnCalcError
from .common import friendly_errors


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the schema to this file instead of printing it.")
@friendly_errors
def schema(output):
    """Print the JSON Schema (draft-07) of the spec file, generated from the layer types.

    Editors use it to validate and complete specs. For VS Code's YAML extension (the YAML language
    server), save it and put this first line in a spec:

    \b
      # yaml-language-server: $schema=./cnncalc.schema.json

    \b
    Example:
      cnncalc schema -o cnncalc.schema.json
    """
    import json

    from ..schema import spec_schema

    text = json.dumps(spec_schema(), indent=2)
    if output is None:
        click.echo(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as err:
        raise CnnCalcError(f"cannot write {output}: {err.strerror or err}") from None
    click.echo(f"wrote {output}", err=True)
