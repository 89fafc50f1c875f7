"""cnncalc graph: the layer graph as Graphviz dot or Mermaid, shapes on the edges."""

import click

from .common import (WholeNumber, complete_spec, emit, friendly_errors, output_file_option, set_option, settings_dict,
                     spec_help)


@click.command()
@click.argument("spec", metavar="SPEC", shell_complete=complete_spec)
@click.option("--format", "-f", "fmt", type=click.Choice(("dot", "mermaid")), default="dot", show_default=True,
              help="dot (Graphviz: pipe to `dot -Tsvg`) or mermaid (renders in GitHub markdown).")
@click.option("--input", "input_shape", metavar="CxHxW", help="Override the spec's input (changes the shapes).")
@click.option("--depth", type=WholeNumber(), default=None,
              help="Fold blocks into single boxes: layers grouped by the first N parts of their names.")
@click.option("--only", metavar="NAME", default=None,
              help="Draw only layer NAME or the block NAME (e.g. inception3a, layer2.0); its neighbours "
                   "outside are drawn dashed.")
@set_option
@output_file_option
@friendly_errors
@spec_help
def graph(spec, fmt, input_shape, depth, only, settings, output):
    """The layer graph as Graphviz dot or Mermaid, with each edge labelled by the shape it carries.

    SPEC is {SPEC}.

    \b
    Examples:
      cnncalc graph googlenet --only inception3a | dot -Tsvg > inception3a.svg
      cnncalc graph resnet50 --only layer1.0 --format mermaid
      cnncalc graph resnet50 --depth 1
    """
    from ..render.diagram import to_dot, to_mermaid
    from ..report import analyze

    result = analyze(spec, input=input_shape, params=settings_dict(settings))
    render = to_dot if fmt == "dot" else to_mermaid
    emit(render(result, depth=depth, only=only), output)
