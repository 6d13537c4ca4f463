"""docs/production.md's debugging and resuming steps, on a run made by an engine: a flow compiled
for Argo fails in the test interpreter; `flowc show` and `flowc logs` read what each pod left in
the datastore (a pod's task is `<Flow>/<workflow name>/<step>/<task id>`), and `flowc resume`
finishes the run on this machine, reusing the engine's successful tasks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.targets.argo_helpers import run_compiled

FLOW = '''import os
from metaflow import FlowSpec, Parameter, step


class NightlyFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        print("item", self.input)
        self.value = self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        if not os.path.exists(os.environ["FIXED_FLAG"]):
            raise RuntimeError("the join is not fixed yet")
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def flowc(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowc.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_failed_engine_run_is_read_and_resumed_locally(tmp_path: Path, monkeypatch):
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW, encoding="utf-8")
    flag = tmp_path / "fixed"
    monkeypatch.setenv("FIXED_FLAG", str(flag))
    run, _ = run_compiled(flow, tmp_path, parameters={"alpha": "2"}, run_id="nightly-x7k2p")
    assert run.phase == "Failed"
    datastore = str(tmp_path / "datastore")

    shown = flowc("show", "NightlyFlow/nightly-x7k2p", "--datastore", datastore, cwd=tmp_path)
    assert "Run NightlyFlow/nightly-x7k2p: failed" in shown.stdout
    assert "t attempt 0 failed: the join is not fixed yet" in shown.stdout

    failed = flowc("logs", "NightlyFlow/nightly-x7k2p/join", "--datastore", datastore, cwd=tmp_path)
    assert "RuntimeError: the join is not fixed yet" in failed.stderr
    one_pod = flowc("logs", "NightlyFlow/nightly-x7k2p/each/t_1", "--datastore", datastore, cwd=tmp_path)
    assert one_pod.stdout == "item 2\n"

    flag.touch()
    resumed = flowc("resume", "flow.py", "nightly-x7k2p", "--datastore", datastore, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert "each/t_2 cloned" in resumed.stderr and "join/t done" in resumed.stderr
    latest = flowc("show", "NightlyFlow", "--datastore", datastore, cwd=tmp_path)
    assert ": succeeded" in latest.stdout.splitlines()[0]
    assert "resumed from nightly-x7k2p" in latest.stdout
    assert "total = 12" in latest.stdout and "alpha = 2" in latest.stdout
