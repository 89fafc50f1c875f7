"""cnncalc import: turn an ONNX model into a readable YAML spec."""

import click

from ..errors import one_line
from .common import friendly_errors, write_output
from ..numbers import plural


@click.command("import")
@click.argument("model", metavar="MODEL.onnx", type=click.Path())
@click.option("--output", "-o", "output", metavar="SPEC.yaml", default=None,
              help="Write the spec to this file (folders are created) instead of standard output.")
@click.option("--input", "input_shape", metavar="CxHxW",
              help="The input size to read the model at (needed when its size is dynamic): 3x224x224 or 224.")
@click.option("--flat", is_flag=True, help="List every layer; no blocks for repeated structure.")
@friendly_errors
def import_onnx(model, output, input_shape, flat):
    """Write an ONNX model as a YAML spec that reports the same totals.

    Layer names come from the graph (PyTorch's '/layer1/layer1.0/conv1/Conv' becomes layer1.0.conv1),
    activations are folded into the layer before as `act:`, batch norm stays a `bn` layer, and
    structure that repeats (ResNet's residual blocks, Inception modules) is written once as a block
    with arguments for what differs, used by name or with `repeat`. The spec is checked to expand to
    exactly the layers of the model. Weights are never read: only the shapes of the initializers.

    \b
    Example:
      cnncalc import resnet18.onnx -o resnet18.yaml && cnncalc report resnet18.yaml
    """
    import os

    from ..errors import CnnCalcError, UsageError
    from ..builtins import is_onnx_path
    from ..report import analyze, load_spec
    from ..spec.writer import to_yaml

    if os.path.isdir(model):
        raise CnnCalcError(f"{one_line(click.format_filename(model))}: is a directory, not an .onnx file")
    if not is_onnx_path(model):
        raise UsageError(f"{click.format_filename(model)}: import reads .onnx files")
    spec = load_spec(model, input_shape)
    result = analyze(spec)
    totals = result.totals
    shape = "x".join(str(s) for s in spec.input)
    header = [f"Imported by `cnncalc import` from {spec.source}.",
              f"At {shape}: {totals['params']:,} params, {totals['buffers']:,} buffers, {totals['macs']:,} MACs, "
              f"{plural(len(result.rows), 'layer')}."]
    text = to_yaml(spec, header, blocks=not flat)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text)
    click.echo(f"wrote {one_line(click.format_filename(output))}: {plural(len(result.rows), 'layer')}, "
               f"{totals['params']:,} params, "
               f"{totals['macs']:,} MACs", err=True)
