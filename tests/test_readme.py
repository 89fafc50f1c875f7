"""The README shows what a fresh install prints: every fenced block that starts with `$ cnncalc ...` is
that command's output, to the byte (a block ending in `...` is the start of it), and the quick start's
command is the first one shown."""

import os
import re
import shlex

import pytest

from cli_runner import runner
from cnncalc.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
BLOCKS = re.findall(r"^```\n\$ (cnncalc [^\n]*)\n(.*?)^```$", README, flags=re.M | re.S)


def test_the_readme_has_printed_blocks():
    commands = [command for command, _ in BLOCKS]
    assert "cnncalc report alexnet" in commands and "cnncalc compare alexnet vgg16 googlenet resnet50" in commands


def test_the_first_table_is_what_the_quick_start_prints():
    quick_start = re.search(r"^    pip install \. && (cnncalc [^\n]*)$", README, flags=re.M).group(1)
    assert BLOCKS[0][0] == quick_start


@pytest.mark.parametrize("command, shown", BLOCKS, ids=[command for command, _ in BLOCKS])
def test_printed_block_is_the_output(command, shown, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = runner().invoke(main, shlex.split(command)[1:])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if shown.endswith("...\n"):
        assert result.stdout.startswith(shown[:-4])
    else:
        assert result.stdout == shown


def test_the_test_command_keeps_its_form():
    assert re.search(r"^    pip install '\.\[test\]' && pytest$", README, flags=re.M)
