"""@exit_hook under `flowc run` and the shim's exit-hook mode: the hooks of the run's outcome run
once, see the run, and a failing hook is reported without changing the run's result."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowc.local.api import run_flow
from tests.sched.flows import (expected_hooks, expected_record, hook_log, recorded_hooks,
                               write_hooked)


@pytest.mark.parametrize("fail", [False, True])
def test_flowc_run_calls_the_hooks_of_the_outcome(tmp_path: Path, fail: bool) -> None:
    flow = write_hooked(tmp_path)
    stream = io.StringIO()
    result = run_flow(flow, (f"fail={fail}",), datastore=str(tmp_path / "ds"), stream=stream,
                      live=False)
    assert result.status == ("failed" if fail else "succeeded")
    assert result.exit_code == (1 if fail else 0)
    assert hook_log(tmp_path) == expected_hooks(f"HookedFlow/{result.run_id}", not fail)
    assert recorded_hooks(tmp_path / "ds", result.run_id) == expected_record(not fail)
    assert "exit hook broken_hook failed: RuntimeError: the hook is broken" in stream.getvalue()


def _shim(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    from flowc.compiler import compile_file
    from flowc.runtime_shim.manifest_source import encode_inline

    manifest = encode_inline(compile_file(tmp_path / "hooked_flow.py").flow)
    return subprocess.run([sys.executable, "-m", "flowc.runtime_shim", "--exit-hook",
                           "--flow-file", str(tmp_path / "hooked_flow.py"), "--datastore",
                           str(tmp_path / "ds"), *args],
                          env={**os.environ, "FLOWC_MANIFEST": manifest}, capture_output=True,
                          text=True, cwd=tmp_path)


def test_shim_mode_takes_the_engine_status_and_exits_0_when_a_hook_fails(tmp_path: Path) -> None:
    """A run the engine saw fail (its record still says running: the pod was killed) gets the
    error hooks, and its record says failed."""
    write_hooked(tmp_path)
    from flowc.runtime_shim.datastore import open_datastore

    open_datastore(str(tmp_path / "ds")).write_run("HookedFlow", "r1", {"status": "running"})
    done = _shim(tmp_path, "--run-id", "r1", "--status", "Error")
    assert done.returncode == 0, done.stderr
    assert "exit hook broken_hook failed" in done.stderr
    assert hook_log(tmp_path) == expected_hooks("HookedFlow/r1", False)
    assert recorded_hooks(tmp_path / "ds", "r1") == expected_record(False)


def test_shim_mode_reads_the_status_from_the_datastore(tmp_path: Path) -> None:
    flow = write_hooked(tmp_path)
    result = run_flow(flow, (), datastore=str(tmp_path / "ds"), stream=io.StringIO(), live=False)
    (tmp_path / "hooks.log").unlink()
    done = _shim(tmp_path, "--run-id", result.run_id)
    assert done.returncode == 0, done.stderr
    assert hook_log(tmp_path) == expected_hooks(f"HookedFlow/{result.run_id}", True)


def test_shim_mode_refuses_an_unknown_status(tmp_path: Path) -> None:
    write_hooked(tmp_path)
    done = _shim(tmp_path, "--run-id", "r1", "--status", "maybe")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "flowc shim: error: --status 'maybe': expected succeeded or failed (or Argo's "
        "Succeeded/Failed/Error)"]
    assert hook_log(tmp_path) == []
