"""Issue 13 item 9: ``kill -9`` of ``flowc run`` leaves no task running, and the run it leaves
behind reads as failed, not as running forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowc.client import Run
from flowc.runtime_shim.liveness import scheduler_gone
from flowc.runtime_shim.datastore import open_datastore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

FLOW = '''
    import os
    import subprocess
    import time
    from flowc import FlowSpec, step


    class OrphanFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            helper = subprocess.Popen(["sleep", "120"])  # a process the step starts itself
            for pid in (helper.pid, os.getpid()):  # the test's barrier: both are running
                with open(os.path.join({barrier!r}, str(pid)), "w"):
                    pass
            time.sleep(120)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return False
    return text[text.rfind(")") + 2:].split()[0] != "Z"


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_kill_9_of_the_scheduler_takes_its_tasks_and_reads_as_failed(write_flow, tmp_path: Path):
    """Two tasks, each with a process of its own: after kill -9 of flowc run none of the four
    is left (the kernel kills the tasks, the watchdog their process groups)."""
    barrier = tmp_path / "running"
    barrier.mkdir()
    path = write_flow("orphan_flow", FLOW.format(barrier=str(barrier)))
    env = {k: v for k, v in os.environ.items() if k != "FLOWC_DATASTORE"}
    proc = subprocess.Popen([sys.executable, "-m", "flowc.cli", "run", str(path), "--datastore",
                             str(tmp_path / "ds"), "--run-id-file", str(tmp_path / "run_id")],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        _wait(lambda: len(os.listdir(barrier)) == 4 or proc.poll() is not None, 60,
              "the foreach tasks did not start")
        pids = [int(name) for name in os.listdir(barrier)]
        assert len(pids) == 4 and all(_alive(pid) for pid in pids)
        run_id = (tmp_path / "run_id").read_text()
        record = open_datastore(str(tmp_path / "ds")).read_run("OrphanFlow", run_id)
        assert record["status"] == "running" and not scheduler_gone(record)

        proc.kill()
        proc.wait(timeout=10)
        _wait(lambda: not any(_alive(pid) for pid in pids), 30, "tasks outlived their scheduler")

        run = Run(f"OrphanFlow/{run_id}", str(tmp_path / "ds"))
        assert run.record["status"] == "running"  # nobody was left to say otherwise ...
        assert run.status == "failed" and not run.successful  # ... yet it reads as dead
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_record_of_a_process_that_is_gone_or_reused_reads_as_dead(tmp_path):
    from flowc.runtime_shim.liveness import scheduler_identity

    me = scheduler_identity()
    assert not scheduler_gone(me)
    assert scheduler_gone({**me, "scheduler_boot_id": "another-boot"})
    assert scheduler_gone({**me, "scheduler_start_ticks": me["scheduler_start_ticks"] - 1})  # pid reused
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert scheduler_gone({**me, "scheduler_pid": child.pid})
    assert not scheduler_gone({**me, "scheduler_host": "elsewhere"})  # cannot tell: not dead
    assert not scheduler_gone({**me, "scheduler_pid": child.pid,  # another container's pid
                               "scheduler_pid_namespace": "pid:[1]"})
    assert not scheduler_gone({"status": "running"})  # engine runs record no scheduler
