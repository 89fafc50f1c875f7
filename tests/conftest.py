"""Fixtures every test file may use, and the `slow` marker (see pyproject.toml)."""

import pytest

from helpers import write_file


@pytest.fixture
def write(tmp_path):
    """``write(text, name="spec.yaml")``: the text (str or bytes) written into this test's folder; its path."""

    def write(text, name="spec.yaml"):
        return write_file(tmp_path, name, text)

    return write
