"""Running the CLI in-process for tests, the same way on every click version."""

import json

from click.testing import CliRunner

from cnncalc.cli import main


def runner():
    """stdout and stderr apart: click 8.2+ always keeps them apart, click 8.0/8.1 only when asked."""
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(*args):
    """``cnncalc ARGS...``: the click Result (exit_code, stdout, stderr)."""
    return runner().invoke(main, [str(a) for a in args])


def ok(*args):
    """stdout of a run that must succeed."""
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return result.stdout


def data_of(*args, **kwargs):
    """The JSON of ``cnncalc ARGS... -f json`` (which must succeed) and its stderr."""
    result = runner().invoke(main, [str(a) for a in args] + ["-f", "json"], **kwargs)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return json.loads(result.stdout), result.stderr
