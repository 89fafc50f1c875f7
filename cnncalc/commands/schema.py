"""cnncalc schema: the JSON Schema of the spec file, for editors."""

import click

from .common import emit, friendly_errors


@click.command()
@click.option("--output", "-o", metavar="FILE", default=None,
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

    text = json.dumps(spec_schema(), indent=2, allow_nan=False)
    emit(text, output)
