"""Shared test plumbing: golden files and the flow corpora.

Golden files are compared byte for byte. ``pytest --update-golden`` rewrites only the files that
differ and refuses to run when ``CI`` is set, so a CI run can never bless its own output.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"
EXAMPLES = ROOT / "examples"
SHAPES = ROOT / "tests" / "flows"
UPSTREAM = ROOT / "tests" / "upstream"  # third-party files the tests read, see its README
# The datastore root the repository's pyproject.toml gives its examples; goldens carry it.
TEST_DATASTORE = "s3://flowc-datastore/flowc"
# The reference Metaflow 2.19 the comparison tests run flows under (.ci/run installs it from
# tests/harness/metaflow-requirements.txt). Missing, those tests fail: they never skip.
METAFLOW_PYTHON = Path(os.environ.get("FLOWC_METAFLOW_PYTHON", ROOT / ".venvs" / "metaflow" / "bin" / "python"))


def require_metaflow() -> Path:
    """The reference interpreter, or a failure saying how to install it."""
    if not METAFLOW_PYTHON.exists():
        pytest.fail(f"no Metaflow 2.19 at {METAFLOW_PYTHON}: run .ci/run, or python3 -m venv .venvs/metaflow && "
                    ".venvs/metaflow/bin/pip install -r tests/harness/metaflow-requirements.txt", pytrace=False)
    return METAFLOW_PYTHON


def target_settings(**values: Any) -> Any:
    """Settings from flat keys, with the repository's datastore root and code 'image' (as its
    pyproject.toml gives the examples) unless given."""
    from flowc.settings import from_values

    return from_values(**{"datastore_root": TEST_DATASTORE, "code": "image", **values})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files that differ from the current output")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--update-golden") and os.environ.get("CI"):
        raise pytest.UsageError("--update-golden refuses to run in CI (CI is set)")


class Golden:
    def __init__(self, update: bool):
        self.update = update

    def check(self, relative: str, actual: str) -> None:
        """Compare ``actual`` with ``golden/<relative>`` exactly."""
        path = GOLDEN / relative
        expected = path.read_text(encoding="utf-8") if path.exists() else None
        if expected == actual:
            return
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        if expected is None:
            pytest.fail(f"golden/{relative} does not exist; create it with: pytest --update-golden")
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            fromfile=f"golden/{relative}", tofile="actual"))
        pytest.fail(f"output differs from golden/{relative}; if intended, run: pytest --update-golden\n{diff}")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-golden")))


def example_flows() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def shape_flows() -> list[Path]:
    return sorted(SHAPES.glob("*.py"))
