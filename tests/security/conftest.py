"""Shared helpers for the attacker's-eye tests: a small finished run and a booby-trapped pickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main
from tests.runtime_shim.driver import drive, write_flow

FLOW = """
    from metaflow import FlowSpec, step

    class SecFlow(FlowSpec):
        @step
        def start(self):
            self.x = 41
            print("hello from start")
            self.next(self.end)

        @step
        def end(self):
            self.y = self.x + 1
"""


class Trap:
    """Unpickling this touches ``path``: proof that a stored pickle ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def trap_bytes(marker: Path) -> bytes:
    return pickle.dumps(Trap(marker), protocol=5)


@pytest.fixture
def finished_run(tmp_path, monkeypatch):
    """(datastore root, flow file) of one successful run ``SecFlow/r1``."""
    monkeypatch.delenv("FLOWC_DATASTORE", raising=False)
    path = write_flow(tmp_path, FLOW)
    root = tmp_path / "ds"
    drive(path, str(root), run_id="r1")
    return root, path


def task_dir(root: Path, step: str, run_id: str = "r1") -> Path:
    return root / "SecFlow" / "runs" / run_id / step / "t"


def edit_done(root: Path, step: str, change) -> None:
    path = task_dir(root, step) / "DONE.json"
    done = json.loads(path.read_text())
    path.write_text(json.dumps(change(done)))


def cli(*args: str):
    """``flowc ARGS`` in-process: (exit code, combined output, unexpected exception or None)."""
    result = CliRunner().invoke(main, list(args))
    unexpected = None if isinstance(result.exception, SystemExit) or result.exception is None \
        else result.exception
    return result.exit_code, result.output, unexpected


def assert_one_line_error(code: int, output: str, unexpected: BaseException | None) -> None:
    assert unexpected is None, f"traceback instead of an error line: {unexpected!r}"
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowc: error: "), output
    assert "Traceback" not in output
