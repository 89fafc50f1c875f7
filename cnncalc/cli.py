"""The command line: a thin click layer over the library (the last stage of the pipeline).

Commands live in their own modules under ``cnncalc.commands`` and are imported only when
they run, so ``cnncalc report`` does not pay for ``check`` or ``plot``.
"""

import click

from . import __version__

COMMANDS = {
    "report": ("cnncalc.commands.report", "report", "Per-layer table like the lecture slides, then totals."),
    "compare": ("cnncalc.commands.compare", "compare", "Several models side by side, with ratios to the first."),
    "check": ("cnncalc.commands.check", "check", "Grade homework answers (output shapes, params, flop...)."),
    "key": ("cnncalc.commands.key", "key", "Write an answer key for `check --key` from a spec, true values as comments."),
    "sheet": ("cnncalc.commands.sheet", "sheet", "A student's problem sheet from a key (their own numbers with vary:)."),
    "layer": ("cnncalc.commands.layer", "layer", "One layer, no spec file: shape, params, MACs with arithmetic."),
    "list": ("cnncalc.commands.models", "list_models", "The built-in models."),
    "show": ("cnncalc.commands.models", "show", "Print a built-in model's YAML spec."),
    "validate": ("cnncalc.commands.models", "validate", "Parse and check specs; print errors only."),
    "plot": ("cnncalc.commands.plot", "plot", "Per-layer bar charts of memory, params and flop."),
    "page": ("cnncalc.commands.page", "page", "One self-contained HTML page: totals, folded table, bars, graph."),
    "devices": ("cnncalc.commands.devices", "devices", "The devices of --device: peak FLOP/s per dtype, bandwidth."),
    "graph": ("cnncalc.commands.graph", "graph", "The layer graph as Graphviz dot or Mermaid."),
    "schema": ("cnncalc.commands.schema", "schema", "JSON Schema of the spec file, for editors."),
    "import": ("cnncalc.commands.import_onnx", "import_onnx", "Write an ONNX model as a readable YAML spec."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        module, attribute, _ = COMMANDS[name]
        return examples_last(getattr(importlib.import_module(module), attribute))

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and name not in COMMANDS and not name.startswith("-"):
            from .errors import did_you_mean

            hint = did_you_mean(name, COMMANDS).replace("; did you mean", ". Did you mean")
            ctx.fail(f"No such command '{name}'{hint} (commands: {', '.join(COMMANDS)})")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (_, _, help_text) in COMMANDS.items()])


def examples_last(command):
    """Move the docstring's Example(s) section after the options, so that --help ends with it."""
    import inspect

    for marker in ("\b\nExamples:", "\b\nExample:"):
        head, found, tail = inspect.cleandoc(command.help or "").partition(marker)
        if found and not command.epilog:
            command.help, command.epilog = head.rstrip(), found + tail
            break
    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cnncalc")
def main():
    """Exact shapes, params, MACs, memory and receptive fields of CNNs and vision transformers, from a YAML spec
    or an ONNX file.

    \b
    Shell completion (bash; for zsh or fish use zsh_source or fish_source):
      eval "$(_CNNCALC_COMPLETE=bash_source cnncalc)"

    \b
    Example:
      cnncalc report alexnet --input 3x227x227
    """


examples_last(main)


def run():
    import gc

    # A run builds one large, acyclic structure and exits; the cyclic collector would rescan it
    # again and again as it grows (3x slower on a 20k-layer spec) and has nothing to free.
    gc.disable()
    try:
        main(prog_name="cnncalc")
    finally:
        # the collection Python runs as it exits walks every object still held (the modules of click,
        # protobuf and this package: 2% of reading a large ONNX graph); frozen, they are left to the process's end
        gc.freeze()


if __name__ == "__main__":
    run()
