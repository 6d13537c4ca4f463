"""``flowc resume``: a new run that clones the origin's successful tasks before the failed (or
named) step and re-runs the rest; foreach widths and switch choices come from the clones."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from flowc.local.api import resume_flow, run_flow
from flowc.local import RunError
from flowc.runtime_shim.datastore import TaskKey, open_datastore
from tests.e2e.conftest import flowc_cli
from tests.harness import snapshot

RESUMABLE = '''
    import os
    import time
    from flowc import FlowSpec, current, step


    class ResumableFlow(FlowSpec):
        @step
        def start(self):
            self.token = time.time_ns()
            self.items = [1, 2, 3]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.body_token = time.time_ns()
            self.doubled = self.input * 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.doubled = [inp.doubled for inp in inputs]
            self.body_tokens = [inp.body_token for inp in inputs]
            self.token = inputs[0].token
            self.next(self.after)

        @step
        def after(self):
            if os.path.exists(os.environ["RESUME_TEST_FLAG"]):
                raise RuntimeError("the flag file is there")
            self.origin = current.origin_run_id
            self.next(self.end)

        @step
        def end(self):
            self.total = sum(self.doubled)
'''


@pytest.fixture
def flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fail.flag"
    path.write_text("fail")
    monkeypatch.setenv("RESUME_TEST_FLAG", str(path))
    return path


def _ds(tmp_path: Path) -> str:
    return str(tmp_path / "ds")


def _quiet() -> dict:
    return {"stream": io.StringIO(), "live": False}


def _origin_of(store, run_id: str, step: str, task: str) -> str | None:
    return store.read_done(TaskKey("ResumableFlow", run_id, step, task)).get("origin_run_id")


def test_resume_reruns_from_the_failed_step(write_flow, tmp_path: Path, flag: Path) -> None:
    path = write_flow("resumable", RESUMABLE)
    first = run_flow(path, datastore=_ds(tmp_path), **_quiet())
    assert first.status == "failed" and first.failed_tasks == ("after/t",)
    flag.unlink()
    second = resume_flow(path, first.run_id, datastore=_ds(tmp_path), **_quiet())
    assert second.status == "succeeded" and second.run_id != first.run_id
    store = open_datastore(_ds(tmp_path))
    for step, task in [("start", "t"), ("body", "t_0"), ("body", "t_2"), ("join", "t")]:
        assert _origin_of(store, second.run_id, step, task) == first.run_id
    assert _origin_of(store, second.run_id, "after", "t") is None
    old = snapshot(_ds(tmp_path), "ResumableFlow", first.run_id)
    new = snapshot(_ds(tmp_path), "ResumableFlow", second.run_id)
    assert new["join"] == old["join"]  # cloned, artifacts and all
    assert new["end"]["t"]["token"] == old["start"]["t"]["token"]
    assert new["after"]["t"]["origin"] == first.run_id
    assert new["end"]["t"]["total"] == 12
    record = store.read_run("ResumableFlow", second.run_id)
    assert record["origin_run_id"] == first.run_id and record["status"] == "succeeded"


def test_resume_from_a_named_step_reruns_it_and_what_follows(write_flow, tmp_path: Path,
                                                             flag: Path) -> None:
    path = write_flow("resumable", RESUMABLE)
    flag.unlink()
    first = run_flow(path, datastore=_ds(tmp_path), **_quiet())
    assert first.status == "succeeded"
    second = resume_flow(path, first.run_id, step="body", datastore=_ds(tmp_path), **_quiet())
    assert second.status == "succeeded"
    store = open_datastore(_ds(tmp_path))
    assert _origin_of(store, second.run_id, "start", "t") == first.run_id
    assert _origin_of(store, second.run_id, "body", "t_1") is None
    old = snapshot(_ds(tmp_path), "ResumableFlow", first.run_id)
    new = snapshot(_ds(tmp_path), "ResumableFlow", second.run_id)
    assert new["start"] == old["start"]
    assert new["join"]["t"]["body_tokens"] != old["join"]["t"]["body_tokens"]
    assert new["end"]["t"]["total"] == old["end"]["t"]["total"] == 12


def test_resume_without_a_failure_or_step_is_refused(write_flow, tmp_path: Path, flag: Path) -> None:
    path = write_flow("resumable", RESUMABLE)
    flag.unlink()
    first = run_flow(path, datastore=_ds(tmp_path), **_quiet())
    with pytest.raises(RunError, match="finished every step; name the step"):
        resume_flow(path, first.run_id, datastore=_ds(tmp_path), **_quiet())
    with pytest.raises(RunError, match="has no such step"):
        resume_flow(path, first.run_id, step="nope", datastore=_ds(tmp_path), **_quiet())
    with pytest.raises(RunError, match="cannot find run 123"):
        resume_flow(path, "123", datastore=_ds(tmp_path), **_quiet())


def test_resume_command_finds_the_latest_run_and_its_flow_file(write_flow, tmp_path: Path,
                                                               flag: Path) -> None:
    path = write_flow("resumable", RESUMABLE)
    env = {"RESUME_TEST_FLAG": str(flag)}
    failed = flowc_cli("run", str(path), "--run-id-file", "first", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    first = (tmp_path / "first").read_text()
    flag.unlink()
    done = flowc_cli("resume", "--run-id-file", "second", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    second = (tmp_path / "second").read_text()
    record = json.loads((tmp_path / ".flowc" / "ResumableFlow" / "runs" / second / "run.json").read_text())
    assert record["origin_run_id"] == first
    again = flowc_cli("resume", f"ResumableFlow/{second}", "--step", "end", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    missing = flowc_cli("resume", "ResumableFlow/404", cwd=tmp_path, env=env)
    assert missing.returncode == 1
    assert "cannot find run 404 of flow ResumableFlow" in missing.stderr


def test_resume_replays_switch_choices_and_recursion(write_flow, tmp_path: Path, flag: Path) -> None:
    path = write_flow("looping", '''
        import os
        from flowc import FlowSpec, step


        class LoopingFlow(FlowSpec):
            @step
            def start(self):
                self.count = 0
                self.next(self.loop)

            @step
            def loop(self):
                self.count += 1
                self.state = "again" if self.count < 3 else "done"
                self.next({"again": self.loop, "done": self.check}, condition="state")

            @step
            def check(self):
                if os.path.exists(os.environ["RESUME_TEST_FLAG"]):
                    raise RuntimeError("not yet")
                self.next(self.end)

            @step
            def end(self):
                self.final = self.count
    ''')
    first = run_flow(path, datastore=_ds(tmp_path), **_quiet())
    assert first.status == "failed"
    flag.unlink()
    second = resume_flow(path, first.run_id, datastore=_ds(tmp_path), **_quiet())
    assert second.status == "succeeded"
    store = open_datastore(_ds(tmp_path))
    for task in ("t", "t_r1", "t_r2"):
        done = store.read_done(TaskKey("LoopingFlow", second.run_id, "loop", task))
        assert done["origin_run_id"] == first.run_id
    snap = snapshot(_ds(tmp_path), "LoopingFlow", second.run_id)
    assert sorted(snap["loop"]) == ["t", "t_r1", "t_r2"]
    assert snap["end"]["t"]["final"] == 3
