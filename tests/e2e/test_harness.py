"""The shared test harness: snapshots compare equal across runs and executors, and differ when
an artifact does."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import FLOWS
from tests.harness import comparable, run_locally, snapshot


class _Plain:
    def __init__(self, value):
        self.value = value


def test_comparable_turns_identity_objects_into_state() -> None:
    assert comparable(ValueError("x")) == comparable(ValueError("x"))
    assert comparable(ValueError("x")) != comparable(ValueError("y"))
    assert comparable(_Plain([1, ValueError("e")])) == {
        "__object__": "_Plain", "state": {"value": [1, {"__exception__": "ValueError", "message": "e"}]}}
    assert comparable((1, "a", {"k": [2.5]})) == (1, "a", {"k": [2.5]})


def test_two_runs_snapshot_equal_and_hide_private_names(tmp_path: Path) -> None:
    first = run_locally(FLOWS / "foreach.py", tmp_path / "a")
    second = run_locally(FLOWS / "foreach.py", tmp_path / "b")
    one = snapshot(tmp_path / "a" / "datastore", "ForeachFlow", first)
    two = snapshot(tmp_path / "b" / "datastore", "ForeachFlow", second)
    assert one == two
    assert all(not name.startswith("_") for tasks in one.values() for arts in tasks.values()
               for name in arts)
    private = snapshot(tmp_path / "a" / "datastore", "ForeachFlow", first, include_private=True)
    assert any(name.startswith("_") for name in private["square"]["t_0"])


def test_snapshots_differ_when_a_value_does(tmp_path: Path) -> None:
    low = run_locally(FLOWS / "recursion.py", tmp_path / "a", params={"limit": 2})
    high = run_locally(FLOWS / "recursion.py", tmp_path / "b", params={"limit": 3})
    assert (snapshot(tmp_path / "a" / "datastore", "RecursionFlow", low)
            != snapshot(tmp_path / "b" / "datastore", "RecursionFlow", high))


def test_unknown_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no run ForeachFlow/nope"):
        snapshot(tmp_path, "ForeachFlow", "nope")


def test_run_locally_with_threads_alive_uses_a_subprocess(tmp_path: Path) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        threaded = run_locally(FLOWS / "branch.py", tmp_path / "a")
    finally:
        stop.set()
        thread.join()
    direct = run_locally(FLOWS / "branch.py", tmp_path / "b")
    assert (snapshot(tmp_path / "a" / "datastore", "BranchFlow", threaded)
            == snapshot(tmp_path / "b" / "datastore", "BranchFlow", direct))


def test_run_locally_reports_a_failed_run(tmp_path: Path, write_flow) -> None:
    path = write_flow("bad_flow", """
        from flowc import FlowSpec, step


        class BadFlow(FlowSpec):
            @step
            def start(self):
                raise KeyError("nothing here")
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    with pytest.raises(AssertionError, match="KeyError: 'nothing here'"):
        run_locally(path, tmp_path)
    run_id = run_locally(path, tmp_path / "again", expect_success=False)
    assert snapshot(tmp_path / "again" / "datastore", "BadFlow", run_id) == {}
