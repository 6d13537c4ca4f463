"""Fixtures for end-to-end runs: a temporary datastore and helpers over ``flowc run``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "tests" / "flows"


@pytest.fixture
def write_flow(tmp_path: Path):
    """Write a dedented flow source to ``tmp_path/<name>.py`` and return its path."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    return write


def flowc_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``flowc ARGS`` in a fresh interpreter, as a user would type it."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("FLOWC_DATASTORE", None)
    return subprocess.run([sys.executable, "-m", "flowc.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
