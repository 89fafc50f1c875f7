"""Options and error handling shared by the commands."""

import functools
import sys

import click

from ..errors import CnnCalcError, UsageError, did_you_mean, one_line

DTYPES = ("fp32", "fp16", "bf16", "int8", "fp64")
# what a SPEC argument may be, in every command's --help
SPEC_HELP = ("a YAML spec file, a built-in model name (see `cnncalc list`), an ONNX model (.onnx file), or - "
             "for a YAML spec on standard input")


def spec_help(function):
    """Write SPEC_HELP where the docstring says {SPEC} (one wording of what a SPEC may be, in every --help)."""
    function.__doc__ = function.__doc__.replace("{SPEC}", SPEC_HELP)
    return function


def friendly_errors(function):
    """Turn CnnCalcError into one line on stderr and its exit code (1, or 2 for usage errors)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except CnnCalcError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(err.exit_code)
        except RecursionError:
            click.echo("error: the input nests too deeply to process", err=True)
            sys.exit(1)
        except MemoryError:
            click.echo("error: out of memory while processing the input", err=True)
            sys.exit(1)

    return wrapper


class WholeNumber(click.ParamType):
    """An option that takes a whole number: ASCII digits only (cnncalc.numbers), within [minimum, maximum].

    click's own INT would take ``３`` or ``1_000``, and no maximum: a 4,299-digit --batch ended in a
    traceback when its memory figure was printed.
    """

    name = "integer"

    def __init__(self, minimum=1, maximum=None):
        from ..numbers import MAX_BATCH

        self.minimum = minimum
        self.maximum = MAX_BATCH if maximum is None else maximum

    def convert(self, value, param, ctx):
        from ..numbers import read_whole, shown

        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = read_whole(value)
            except ValueError as err:
                self.fail(f"{shown(value)!r} is not a whole number ({err})", param, ctx)
        if not self.minimum <= number <= self.maximum:
            self.fail(f"{number:,} is not in the range {self.minimum:,} to {self.maximum:,}", param, ctx)
        return number


def check_format(fmt, extra=("json", "csv", "simple")):
    """A table format name: json, csv or one of tabulate's; a UsageError otherwise."""
    if fmt in extra:
        return fmt  # known without importing tabulate
    from ..render.table import table_formats

    formats = table_formats()
    if fmt not in formats:
        raise UsageError(f"unknown format '{fmt}'{did_you_mean(fmt, formats)} (choose from: {', '.join(formats)})")
    return fmt


def model_options(function):
    """--input, --batch, --dtype: how to run a model."""
    function = click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True,
                            help="Bytes per element for memory: fp32 4, fp16/bf16 2, int8 1, fp64 8.")(function)
    function = batch_option(function)
    function = click.option("--input", "input_shape", metavar="CxHxW",
                            help="Override the spec's input: 3x224x224, 224x224x3 (H x W x C, when the last size "
                                 "is the spec's channels), 224x320 (H x W), 224 (square) or 1x3x224x224 "
                                 "(N x C x H x W: N is the batch).")(function)
    return function


def device_options(function):
    """--device NAME, --peak FLOPS, --bandwidth BYTES_PER_S: the roofline's device (cnncalc.roofline)."""
    function = click.option("--bandwidth", metavar="BYTES_PER_S", default=None,
                            help="Memory bandwidth in bytes per second, decimal prefixes: 1555G, 3.35T (over "
                                 "the device's; with --peak, for any device).")(function)
    function = click.option("--peak", metavar="FLOPS", default=None,
                            help="Peak FLOP/s at the run's --dtype, decimal prefixes: 19.5T, 312T (over the "
                                 "device's; with --bandwidth, for any device).")(function)
    function = click.option("--device", metavar="NAME", default=None, shell_complete=complete_device,
                            help="Roofline on a device of `cnncalc devices` (t4, a100, jetson-orin-nano, ...): "
                                 "bytes moved, intensity, least time and bound per layer.")(function)
    return function


def complete_device(ctx, param, incomplete):
    from click.shell_completion import CompletionItem

    from ..roofline import device_table

    return [CompletionItem(name) for name in device_table() if name.startswith(incomplete)]


def with_device(report, device, peak, bandwidth):
    """``report`` with its roofline on the device the options name (unchanged when they name none)."""
    if device is None and peak is None and bandwidth is None:
        return report
    from .. import roofline

    return roofline.attach(report, roofline.device(device, report.dtype, peak, bandwidth))


def set_option(function):
    """--set NAME=VALUE (repeatable): values for the spec's ``params:``."""
    return click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
                        help="Set a value of the spec's params: section, e.g. --set width=1.2 (repeatable; the "
                             "value is read as YAML: 1.2, true, relu, or an expression).")(function)


def settings_dict(settings):
    """The --set values as a dict, or None when there are none."""
    if not settings:
        return None
    from ..spec import parse_settings

    return parse_settings(settings)


def batch_option(function):
    """--batch N (default 1, or the N of an N x C x H x W --input)."""
    return click.option("--batch", type=WholeNumber(), default=None,
                        help="Batch size (scales activation memory)  [default: 1, or the N of an NxCxHxW "
                             "--input]")(function)


def output_options(function):
    """--format, --units: how to print a table."""
    from ..render.table import UNITS

    function = click.option("--units", type=click.Choice(UNITS), default="slide",
                            show_default=True,
                            help="slide: KB / thousands / millions rounded like the lecture tables (a smaller unit "
                                 "where a small model's total would read under 100); raw: exact integers; auto: "
                                 "k/M/G with 3 significant digits.")(function)
    function = click.option("--format", "-f", "fmt", default="simple", show_default=True, metavar="FORMAT",
                            help="json, csv, or any tabulate table format (github, grid, latex, html, ...).")(function)
    return function


def columns_option(help_text):
    """--columns a,b,c: which columns to print (validated by the formatter, which knows the names)."""
    return click.option("--columns", "-c", metavar="NAME,...", default=None, help=help_text)


def footer_option(function):
    """--no-footer (or CNNCALC_NO_FOOTER=1): leave out the conventions lines under a table."""
    return click.option("--no-footer", "no_footer", is_flag=True, envvar="CNNCALC_NO_FOOTER",
                        help="Leave out the conventions lines under the table (or set CNNCALC_NO_FOOTER=1 "
                             "to leave them out of every table).")(function)


def convention_option(function):
    """--flops-convention lecture|2x."""
    return click.option("--flops-convention", "convention", type=click.Choice(("lecture", "2x")), default="lecture",
                        show_default=True,
                        help="lecture: flop = MACs + pooling windows (the slides); 2x: FLOPs = 2 x MACs + "
                             "elementwise work of bias, BN, activations, pooling and adds.")(function)


def optimizer_option(function):
    """--optimizer sgd|momentum|adam, for the training memory estimate."""
    return click.option("--optimizer", type=click.Choice(("sgd", "momentum", "adam")), default="sgd",
                        show_default=True,
                        help="Optimizer state in the training estimate: sgd none, momentum 1, adam 2 "
                             "param-sized tensors.")(function)


def mode_option(function):
    """--mode eval|train: whether branches marked train_only (GoogLeNet's auxiliary classifiers) do work."""
    return click.option("--mode", type=click.Choice(("eval", "train")), default="eval", show_default=True,
                        help="train also counts the work of branches that run only in training (train_only: "
                             "true, e.g. GoogLeNet's auxiliary classifiers).")(function)


def complete_builtin(ctx, param, incomplete):
    """Shell completion for a built-in model name."""
    from click.shell_completion import CompletionItem

    from ..builtins import names

    return [CompletionItem(name) for name in names() if name.startswith(incomplete)]


def complete_spec(ctx, param, incomplete):
    """Shell completion for SPEC arguments: the built-in model names, then files."""
    from click.shell_completion import CompletionItem

    return complete_builtin(ctx, param, incomplete) + [CompletionItem(incomplete, type="file")]


def output_file_option(function):
    """--output/-o FILE: write the result there (through write_output) instead of standard output."""
    return click.option("--output", "-o", "output", metavar="FILE", default=None,
                        help="Write the result to FILE instead of printing it (folders are created; the "
                             "file is replaced only once complete).")(function)


def emit(text, output=None):
    """Print ``text``, or write it to ``output`` with write_output and say so on stderr."""
    if output is None:
        click.echo(text)
        return
    write_output(output, text + "\n")
    click.echo(f"wrote {one_line(click.format_filename(output))}", err=True)


def write_output(path, content):
    """Write ``content`` (text, bytes, or a function that writes to a binary handle) to ``path``.

    The one writer behind every ``-o``: missing parent folders are created; the data goes to a
    temporary file beside the target that is renamed over it only when complete, so a failure never
    leaves a half-written file; an existing target that is not a regular file (a device, a folder, a
    pipe) is refused; any failure is one CnnCalcError line, never a traceback.
    """
    import os
    import stat
    import tempfile

    from ..errors import CnnCalcError

    shown = click.format_filename(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise CnnCalcError(f"cannot write {shown}: {err.strerror or err}") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise CnnCalcError(f"cannot write {shown}: it is {kind}")
    folder = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".cnncalc-", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            if callable(content):
                content(stream)
            else:
                stream.write(content.encode("utf-8") if isinstance(content, str) else content)
        if mode is not None:
            os.chmod(temporary, stat.S_IMODE(mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
        temporary = None
    except OSError as err:
        raise CnnCalcError(f"cannot write {shown}: {err.strerror or err}") from None
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
