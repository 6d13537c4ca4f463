"""The client API and ``flowc show`` / ``flowc logs`` over runs made by the shim."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import flowc
from flowc import client
from flowc.cli import main
from flowc.client import Flow, FlowcNotFound, Run, Step, Task
from tests.runtime_shim.driver import RunFailed, drive, write_flow

FLOW = """
    from metaflow import FlowSpec, Parameter, step

    class ClientFlow(FlowSpec):
        scale = Parameter("scale", default=1)

        @step
        def start(self):
            self.items = ["a", "b", "c"]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            print("body", self.input)
            self.out = self.input * self.scale
            self.next(self.join)

        @step
        def join(self, inputs):
            self.outs = [i.out for i in inputs]
            if self.scale < 0:
                raise ValueError("negative scale")
            self.next(self.end)

        @step
        def end(self):
            self.final = "".join(self.outs)
"""


@pytest.fixture
def runs(tmp_path, monkeypatch):
    # Steps are ordered by when they finished; a fast machine finishes two in the same
    # millisecond (the stored resolution), so the runs here get a clock that always moves on.
    from itertools import count

    from flowc.runtime_shim import task

    ticks = count()
    start = task.now()
    monkeypatch.setattr(task, "now", lambda: round(start + next(ticks) * 0.01, 3))
    path = write_flow(tmp_path, FLOW)
    root = str(tmp_path / "ds")
    drive(path, root, run_id="run-1", params={"scale": "1"})
    drive(path, root, run_id="run-2", params={"scale": "2"})
    with pytest.raises(RunFailed):
        drive(path, root, run_id="run-3", params={"scale": "-1"})
    return root


def test_flow_runs_newest_first_and_latest_successful(runs):
    flow = Flow("ClientFlow", datastore=runs)
    assert [r.id for r in flow.runs()] == ["run-3", "run-2", "run-1"]
    assert flow.latest_run.id == "run-3"
    assert flow.latest_successful_run.id == "run-2"
    assert flow["run-1"].data.final == "abc"


def test_run_step_task_navigation(runs):
    run = Run("ClientFlow/run-2", datastore=runs)
    assert run.successful and run.finished and run.status == "succeeded"
    assert run.data.final == "aabbcc"
    assert run.parameters == {"scale": 2}
    assert [s.id for s in run] == ["end", "join", "body", "start"]
    assert run["join"].task.data.outs == ["aa", "bb", "cc"]
    tasks = run["body"].tasks()
    assert [t.id for t in tasks] == ["t_0", "t_1", "t_2"]
    assert [t.index for t in tasks] == [0, 1, 2]
    assert run["start"].task.index is None
    assert tasks[1]["out"].data == "bb" and tasks[1].data.out == "bb"
    assert tasks[1].stdout == "body b\n"
    assert "out" in tasks[1] and "items" in tasks[1]
    assert tasks[1].artifacts.out.data == "bb" and [a.name for a in tasks[1].artifacts] == ["items", "out", "scale"]
    assert Step("ClientFlow/run-2/body", runs)["t_2"].data.out == "cc"
    assert Task("ClientFlow/run-2/body/t_2", runs).successful


def test_failed_run_reports_failure(runs):
    run = Run("ClientFlow/run-3", datastore=runs)
    assert not run.successful and run.finished and run.status == "failed"
    assert run.data is None
    join = run["join"].task
    assert not join.successful and join.finished
    assert "negative scale" in join.exception.exception and isinstance(join.exception, Exception)
    with pytest.raises(FlowcNotFound):
        join.data


def test_not_found_and_bad_pathspecs(runs):
    with pytest.raises(FlowcNotFound, match="flow Nope has no runs"):
        Flow("Nope", datastore=runs)
    with pytest.raises(FlowcNotFound):
        Run("ClientFlow/run-9", datastore=runs)
    with pytest.raises(KeyError):
        Run("ClientFlow/run-1", datastore=runs)["nope"]
    with pytest.raises(ValueError):
        Run("ClientFlow", datastore=runs)


def test_default_root_and_lazy_top_level_import(runs, monkeypatch):
    monkeypatch.setenv("FLOWC_DATASTORE", runs)
    assert flowc.Flow is Flow and flowc.Run is Run
    assert flowc.Flow("ClientFlow").latest_successful_run.id == "run-2"
    flowc.datastore(runs + "-nowhere")
    try:
        with pytest.raises(FlowcNotFound):
            Flow("ClientFlow")
    finally:
        client._DEFAULT_ROOT = None


def test_show_and_logs_commands(runs):
    cli = CliRunner()
    shown = cli.invoke(main, ["show", "ClientFlow/run-2", "--datastore", runs])
    assert shown.exit_code == 0, shown.output
    assert "Run ClientFlow/run-2: succeeded" in shown.output
    assert "scale = 2" in shown.output
    assert "body                     3/3 tasks succeeded" in shown.output
    assert "final = 'aabbcc'" in shown.output
    failed = cli.invoke(main, ["show", "ClientFlow/run-3", "--datastore", runs])
    assert "Run ClientFlow/run-3: failed" in failed.output
    assert "t attempt 0 failed: negative scale" in failed.output
    one = cli.invoke(main, ["logs", "ClientFlow/run-1/body/t_1", "--datastore", runs])
    assert one.exit_code == 0 and one.output == "body b\n"
    every = cli.invoke(main, ["logs", "ClientFlow/run-1/body", "--datastore", runs])
    assert every.output.splitlines() == [
        "--- ClientFlow/run-1/body/t_0 (attempt 0) ---", "body a",
        "--- ClientFlow/run-1/body/t_1 (attempt 0) ---", "body b",
        "--- ClientFlow/run-1/body/t_2 (attempt 0) ---", "body c"]
    latest = cli.invoke(main, ["show", "ClientFlow", "--datastore", runs, "--no-data"])
    assert latest.output.startswith("Run ClientFlow/run-3: failed") and "artifacts of end" not in latest.output
    assert cli.invoke(main, ["logs", "ClientFlow/run-1/body/t_1", "--stderr", "--datastore", runs]).output == ""
    missing = cli.invoke(main, ["logs", "ClientFlow/run-1/nope", "--datastore", runs])
    assert missing.exit_code == 1 and "has no tasks" in missing.output
