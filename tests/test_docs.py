"""The README and the docs pages show what a fresh install prints: every fenced block that starts with
`$ cnncalc ...` is that command's output, to the byte (a block ending in `...` is the start of it), and the
quick start's command is the first one shown.

After an intended change of output, `CNNCALC_REWRITE_DOCS=1 pytest tests/test_docs.py` writes the new
output into the pages (blocks ending in `...` are left alone); review the diff before committing it.
"""

import glob
import os
import re
import shlex

import pytest

from cli_runner import runner
from cnncalc.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
BLOCK = re.compile(r"^```\n\$ (cnncalc [^\n]*)\n(.*?)^```$", flags=re.M | re.S)
REWRITE = os.environ.get("CNNCALC_REWRITE_DOCS") == "1"


def read(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        return handle.read()


README = read("README.md")
BLOCKS = [(page, command, shown) for page in PAGES for command, shown in BLOCK.findall(read(page))]


def output_of(command):
    result = runner().invoke(main, shlex.split(command)[1:])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stdout


def test_the_readme_has_printed_blocks():
    commands = [command for page, command, _ in BLOCKS if page == "README.md"]
    assert commands[0] == "cnncalc report alexnet"


def test_every_page_is_linked_from_the_readme():
    for page in PAGES[1:]:
        assert f"]({page})" in README, page


def test_the_first_table_is_what_the_quick_start_prints():
    quick_start = re.search(r"^    pip install \. && (cnncalc [^\n]*)$", README, flags=re.M).group(1)
    assert BLOCKS[0][1] == quick_start


@pytest.mark.parametrize("page, command, shown", BLOCKS, ids=[f"{page}: {command}" for page, command, _ in BLOCKS])
def test_printed_block_is_the_output(page, command, shown, monkeypatch):
    monkeypatch.chdir(ROOT)
    printed = output_of(command)
    if shown.endswith("...\n"):
        assert printed.startswith(shown[:-4])
    elif REWRITE and printed != shown:
        text = read(page)
        old = f"```\n$ {command}\n{shown}```"
        assert text.count(old) == 1, f"{page}: the block of {command} is not unique"
        with open(os.path.join(ROOT, page), "w", encoding="utf-8") as handle:
            handle.write(text.replace(old, f"```\n$ {command}\n{printed}```"))
    else:
        assert printed == shown


def test_the_test_command_keeps_its_form():
    assert re.search(r"^    pip install '\.\[test\]' && pytest$", README, flags=re.M)


def test_the_readme_fits_a_newcomers_screens():
    assert README.count("\n") < 200
