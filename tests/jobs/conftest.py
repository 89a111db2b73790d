import textwrap
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("probe_backend.py")


@pytest.fixture
def write_sweep(tmp_path):
    """Write a sweep file (dedented TOML) into tmp_path and return its path."""

    def write(text: str, name: str = "sweep.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).replace("@PROBE@", str(PROBE)))
        return path

    return write
