"""``flowc run`` beyond graph shapes: failures, crashes, timeouts, retries, logs, parameters,
concurrency, Ctrl-C and flows written ``from metaflow import ...`` without Metaflow installed."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowc.local.api import run_flow
from flowc.local import RunError
from flowc.runtime_shim.datastore import TaskKey, open_datastore
from tests.e2e.conftest import FLOWS, flowc_cli
from tests.harness import run_locally, snapshot


def _run(path: Path, tmp_path: Path, *params: str, max_workers: int = 8):
    out = io.StringIO()
    result = run_flow(path, params, datastore=str(tmp_path / "ds"), max_workers=max_workers,
                      stream=out, live=False)
    return result, out.getvalue()


FAILING = '''
    from flowc import FlowSpec, step


    class FailingFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            print("body says hello", self.input)
            if self.input == 2:
                raise ValueError("item two is bad")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_failing_step_exits_non_zero_with_its_traceback(write_flow, tmp_path: Path) -> None:
    path = write_flow("failing_flow", FAILING)
    done = flowc_cli("run", str(path), "--datastore", str(tmp_path / "ds"),
                     "--run-id-file", str(tmp_path / "run_id"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    run_id = (tmp_path / "run_id").read_text()
    assert "body/t_1: attempt 0 failed" in done.stderr
    assert "ValueError: item two is bad" in done.stderr
    assert f"run FailingFlow/{run_id} failed" in done.stderr
    assert f"flowc resume {path} {run_id}" in done.stderr
    store = open_datastore(str(tmp_path / "ds"))
    assert store.read_run("FailingFlow", run_id)["status"] == "failed"
    assert store.read_done(TaskKey("FailingFlow", run_id, "body", "t_1")) is None
    assert store.read_done(TaskKey("FailingFlow", run_id, "join", "t")) is None
    log = store.read_log(TaskKey("FailingFlow", run_id, "body", "t_1"), 0, "stderr").decode()
    assert "ValueError: item two is bad" in log


def test_no_logs_hides_task_output_but_still_shows_a_failure(write_flow, tmp_path: Path) -> None:
    path = write_flow("failing_flow", FAILING)
    done = flowc_cli("run", str(path), "--no-logs", cwd=tmp_path)
    assert done.returncode == 1
    assert "body says hello" not in done.stderr
    assert "    ValueError: item two is bad" in done.stderr


def test_logs_of_every_task_are_stored(write_flow, tmp_path: Path) -> None:
    path = write_flow("logging_flow", '''
        import sys
        from flowc import FlowSpec, step


        class LoggingFlow(FlowSpec):
            @step
            def start(self):
                print("to stdout from start")
                print("to stderr from start", file=sys.stderr)
                self.next(self.end)

            @step
            def end(self):
                print("end", 42)
    ''')
    result, output = _run(path, tmp_path)
    assert "[start/t] to stdout from start\n[start/t] to stderr from start\n" in output
    assert "[end/t] end 42\n" in output
    store = open_datastore(str(tmp_path / "ds"))
    start = TaskKey("LoggingFlow", result.run_id, "start", "t")
    assert store.read_log(start, 0, "stdout") == b"to stdout from start\n"
    assert store.read_log(start, 0, "stderr") == b"to stderr from start\n"
    assert store.read_log(TaskKey("LoggingFlow", result.run_id, "end", "t"), 0, "stdout") == b"end 42\n"


CRASHING = '''
    import os
    import signal
    import time
    from flowc import FlowSpec, current, step


    def wait_for(path):
        """A file barrier: wait (at most 60 s) until ``path`` exists."""
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)


    class CrashFlow(FlowSpec):
        @step
        def start(self):
            self.items = ["fine", "{how}", "fine"]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            if self.input == "fine":
                # Still running when the scheduler handles the crash: it stores the crashed
                # task's log just before it reports the failure.
                wait_for(os.path.join("{ds}", "CrashFlow", "runs", current.run_id, "body", "t_1",
                                      "0", "stderr.log"))
            if self.input == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.input == "exit0":
                os._exit(0)
            if self.input == "segv":
                import ctypes
                ctypes.string_at(0)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


@pytest.mark.parametrize("how,message", [
    ("sigkill", "was killed by SIGKILL"),
    ("segv", "was killed by SIGSEGV"),
    ("exit0", "exited with status 0 before finishing"),
])
def test_a_crashing_task_fails_the_run_not_the_scheduler(write_flow, tmp_path: Path, how: str,
                                                          message: str) -> None:
    path = write_flow("crash_flow", CRASHING.replace("{how}", how).replace("{ds}", str(tmp_path / "ds")))
    result, output = _run(path, tmp_path)
    assert result.status == "failed"
    assert result.failed_tasks == ("body/t_1",)
    assert message in output
    assert "no new tasks start; waiting for 2 running task(s) to finish" in output
    store = open_datastore(str(tmp_path / "ds"))
    assert store.read_run("CrashFlow", result.run_id)["status"] == "failed"
    assert store.read_done(TaskKey("CrashFlow", result.run_id, "join", "t")) is None
    # The crash took down neither the scheduler nor the task's siblings.
    for sibling in ("t_0", "t_2"):
        assert store.read_done(TaskKey("CrashFlow", result.run_id, "body", sibling)) is not None


def test_a_segfaulting_task_dies_even_under_an_inherited_python_handler(write_flow, tmp_path: Path) -> None:
    """Airflow's DAG importer leaves a Python-level SIGSEGV handler in the process; a task forked
    from it must still die of the crash, not spin in the handler (the suite hung on this)."""
    import signal

    path = write_flow("crash_flow", CRASHING.replace("{how}", "segv").replace("{ds}", str(tmp_path / "ds")))
    previous = signal.signal(signal.SIGSEGV, lambda signum, frame: None)
    try:
        result, output = _run(path, tmp_path)
    finally:
        signal.signal(signal.SIGSEGV, previous)
    assert result.status == "failed" and "was killed by SIGSEGV" in output


TIMEOUT = '''
    import signal
    import time
    from flowc import FlowSpec, catch, step, timeout


    class TimeoutFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.slow)

        {decorators}
        @step
        def slow(self):
            {body}
            time.sleep(300)  # far longer than any bound below, however loaded the machine
            self.next(self.end)

        @step
        def end(self):
            self.timed_out = getattr(self, "failure", None) is not None
            self.failure_text = str(getattr(self, "failure", ""))
'''


def test_timeout_stops_a_step_and_fails_the_run(write_flow, tmp_path: Path) -> None:
    path = write_flow("timeout_flow", TIMEOUT.format(decorators="@timeout(seconds=1)", body="pass"))
    started = time.monotonic()
    result, output = _run(path, tmp_path)
    assert time.monotonic() - started < 120  # the step would sleep 300 s
    assert result.status == "failed"
    assert "Timeout" in output and "1 seconds" in output


def test_timeout_then_catch_continues(write_flow, tmp_path: Path) -> None:
    path = write_flow("timeout_flow", TIMEOUT.format(
        decorators='@catch(var="failure", print_exception=False)\n        @timeout(seconds=1)', body="pass"))
    run_id = run_locally(path, tmp_path)
    snap = snapshot(tmp_path / "datastore", "TimeoutFlow", run_id)
    assert snap["end"]["t"]["timed_out"] is True
    assert "timeout" in snap["end"]["t"]["failure_text"].lower()


def test_scheduler_kills_a_step_that_ignores_its_timeout(write_flow, tmp_path: Path) -> None:
    """A step that blocks the shim's alarm is killed by the scheduler after a grace period."""
    path = write_flow("timeout_flow", TIMEOUT.format(
        decorators="@timeout(seconds=1)",
        body="signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])"))
    started = time.monotonic()
    result, output = _run(path, tmp_path)
    assert time.monotonic() - started < 120  # the step would sleep 300 s
    assert result.status == "failed"
    assert "slow/t: attempt 0 timed out and was killed" in output


def test_retry_records_every_attempt(tmp_path: Path) -> None:
    run_id = run_locally(FLOWS / "retry.py", tmp_path)
    store = open_datastore(str(tmp_path / "datastore"))
    flaky = TaskKey("RetryFlow", run_id, "flaky", "t")
    assert store.list_attempts(flaky) == [0, 1]
    assert store.read_attempt(flaky, 0)["status"] == "failed"
    assert store.read_attempt(flaky, 1)["status"] == "succeeded"
    assert b"transient failure on the first attempt" in store.read_log(flaky, 0, "stderr")
    assert store.read_done(flaky)["attempt"] == 1


def test_retries_are_spent_before_the_run_fails(write_flow, tmp_path: Path) -> None:
    path = write_flow("always_fails", '''
        from flowc import FlowSpec, retry, step


        class AlwaysFailsFlow(FlowSpec):
            @retry(times=2, minutes_between_retries=0)
            @step
            def start(self):
                raise RuntimeError("never works")
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    result, output = _run(path, tmp_path)
    assert result.status == "failed"
    assert output.count("retrying") == 2
    assert "start/t: attempt 2 failed" in output
    store = open_datastore(str(tmp_path / "ds"))
    assert store.list_attempts(TaskKey("AlwaysFailsFlow", result.run_id, "start", "t")) == [0, 1, 2]


def test_catch_keeps_the_exception_after_retries(tmp_path: Path) -> None:
    run_id = run_locally(FLOWS / "catch.py", tmp_path)
    store = open_datastore(str(tmp_path / "datastore"))
    boom = TaskKey("CatchFlow", run_id, "boom", "t")
    assert store.list_attempts(boom) == [0, 1]
    snap = snapshot(tmp_path / "datastore", "CatchFlow", run_id)
    assert "ZeroDivisionError" in snap["end"]["t"]["failure_text"]


def test_empty_foreach_is_a_clear_error_and_not_retried(write_flow, tmp_path: Path) -> None:
    path = write_flow("empty_foreach", '''
        from flowc import FlowSpec, retry, step


        class EmptyForeachFlow(FlowSpec):
            @retry(times=3, minutes_between_retries=0)
            @step
            def start(self):
                self.items = []
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    result, output = _run(path, tmp_path)
    assert result.status == "failed"
    assert "is empty" in output
    assert "retrying" not in output


def test_merge_artifacts_conflict_fails_naming_the_artifact(write_flow, tmp_path: Path) -> None:
    path = write_flow("merge_conflict", '''
        from flowc import FlowSpec, step


        class MergeConflictFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.value = 1
                self.next(self.join)

            @step
            def b(self):
                self.value = 2
                self.next(self.join)

            @step
            def join(self, inputs):
                self.merge_artifacts(inputs)
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    result, output = _run(path, tmp_path)
    assert result.status == "failed"
    assert "join/t" in result.failed_tasks[0]
    assert "value" in output and "MergeArtifacts" in output


PARAMS = '''
    from flowc import FlowSpec, Parameter, step


    class ParamFlow(FlowSpec):
        size = Parameter("size", type=int, required=True)
        label = Parameter("label", default="x")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


@pytest.mark.parametrize("params,message", [
    (("size=3", "lable=y"), "ParamFlow has no parameter 'lable'; did you mean 'label'?"),
    (("label=y",), "missing required parameter(s): size"),
    (("size=three",), "parameter 'size': cannot read 'three' as int"),
    (("size",), "expected NAME=VALUE"),
])
def test_bad_parameters_fail_before_any_task(write_flow, tmp_path: Path, params: tuple[str, ...],
                                             message: str) -> None:
    path = write_flow("param_flow", PARAMS)
    with pytest.raises(RunError) as info:
        _run(path, tmp_path, *params)
    assert message in str(info.value)
    assert not (tmp_path / "ds").exists()


def test_bad_parameter_on_the_command_line(write_flow, tmp_path: Path) -> None:
    path = write_flow("param_flow", PARAMS)
    done = flowc_cli("run", str(path), "--param", "size=oops", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("flowc: error: parameter 'size'")
    assert "Traceback" not in done.stderr


def test_compile_errors_are_diagnostics_not_tracebacks(write_flow, tmp_path: Path) -> None:
    path = write_flow("broken_flow", '''
        from flowc import FlowSpec, step


        class BrokenFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.missing)

            @step
            def end(self):
                pass
    ''')
    done = flowc_cli("run", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert "broken_flow.py:7:" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / ".flowc").exists()


SLEEPY = '''
    import os
    import time
    from flowc import FlowSpec, current, step


    class SleepyFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(6))
            self.next(self.body, foreach="items")

        @step
        def body(self):
            {body}
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def _overlap(store, run_id: str, width: int) -> int:
    spans = []
    for i in range(width):
        meta = store.read_attempt(TaskKey("SleepyFlow", run_id, "body", f"t_{i}"), 0)
        spans.append((meta["started_at"], meta["finished_at"]))
    events = sorted([(s, 1) for s, _ in spans] + [(f, -1) for _, f in spans])
    most = running = 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    return most


# A file barrier: each task announces itself and waits (at most 60 s) until two have started, so
# two tasks overlap whenever the scheduler lets them, however slow the machine.
TWO_AT_ONCE = """barrier = os.path.join({tmp!r}, current.run_id)
            os.makedirs(barrier, exist_ok=True)
            open(os.path.join(barrier, str(self.index)), "w").close()
            deadline = time.monotonic() + 60
            while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)"""


def test_tasks_run_concurrently_up_to_max_workers(write_flow, tmp_path: Path) -> None:
    path = write_flow("sleepy_flow", SLEEPY.format(body=TWO_AT_ONCE.format(tmp=str(tmp_path / "barriers"))))
    result, _ = _run(path, tmp_path, max_workers=6)
    assert result.status == "succeeded"
    store = open_datastore(str(tmp_path / "ds"))
    assert _overlap(store, result.run_id, 6) > 1
    limited, _ = _run(path, tmp_path, max_workers=2)
    assert _overlap(store, limited.run_id, 6) == 2


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_the_run_and_its_tasks(write_flow, tmp_path: Path, signum: int) -> None:
    path = write_flow("sleepy_flow", SLEEPY.format(body="time.sleep(60)"))
    env = {**os.environ}
    env.pop("FLOWC_DATASTORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "flowc.cli", "run", str(path), "--datastore",
                             str(tmp_path / "ds"), "--run-id-file", str(tmp_path / "run_id")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    store = open_datastore(str(tmp_path / "ds"))
    deadline = time.monotonic() + 30
    pids: list[int] = []
    while time.monotonic() < deadline and len(pids) < 6:
        time.sleep(0.1)
        if not (tmp_path / "run_id").exists():
            continue
        run_id = (tmp_path / "run_id").read_text()
        metas = [store.read_attempt(TaskKey("SleepyFlow", run_id, "body", f"t_{i}"), 0)
                 for i in range(6)]
        pids = [m["pid"] for m in metas if m]
    assert len(pids) == 6, "the foreach tasks did not start"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "interrupted: stopping 6 running task(s)" in stderr
    assert store.read_run("SleepyFlow", run_id)["status"] == "stopped"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_metaflow_flow_runs_where_metaflow_cannot_be_imported(tmp_path: Path) -> None:
    """An importable ``metaflow`` that raises stands in for "not installed" (and would win if
    flowc did not put its own API in its place)."""
    blocker = tmp_path / "blocker" / "metaflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("the real metaflow is not here")\n')
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(blocker.parent),
                                                      os.environ.get("PYTHONPATH")]))}
    probe = subprocess.run([sys.executable, "-c", "import metaflow"], env={**os.environ, **env},
                           capture_output=True, text=True)
    assert "the real metaflow is not here" in probe.stderr
    done = flowc_cli("run", str(FLOWS / "metaflow_style.py"), "--datastore", str(tmp_path / "ds"),
                     "--run-id-file", str(tmp_path / "run_id"), "--param", "factor=3",
                     cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    snap = snapshot(tmp_path / "ds", "MetaflowStyleFlow", (tmp_path / "run_id").read_text())
    assert snap["join"]["t"]["subtotals"] == [9, 9, 45]
    assert snap["start"]["t"]["flow_seen"] == "MetaflowStyleFlow"


def test_plain_progress_lines_and_run_record(tmp_path: Path) -> None:
    done = flowc_cli("run", str(FLOWS / "branch.py"), "--run-id-file", str(tmp_path / "id"),
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run_id = (tmp_path / "id").read_text()
    lines = done.stderr.splitlines()
    assert any(line.endswith("start/t started") for line in lines)
    assert any("join/t done (attempt 0" in line for line in lines)
    assert f"run BranchFlow/{run_id} succeeded in" in done.stderr
    assert "  left    1 done, 0 running, 0 failed" in lines
    record = json.loads((tmp_path / ".flowc" / "BranchFlow" / "runs" / run_id / "run.json").read_text())
    assert record["status"] == "succeeded" and record["origin_run_id"] is None
    manifest = tmp_path / ".flowc" / "BranchFlow" / "runs" / run_id / "manifest.json"
    assert json.loads(manifest.read_text())["flow"]["name"] == "BranchFlow"


def test_parallel_gang_runs_num_parallel_tasks(write_flow, tmp_path: Path) -> None:
    path = write_flow("gang_flow", '''
        from metaflow import FlowSpec, current, parallel, step


        class GangFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.train, num_parallel=3)

            @parallel
            @step
            def train(self):
                self.node = (current.parallel.node_index, current.parallel.num_nodes)
                self.next(self.join)

            @step
            def join(self, inputs):
                self.nodes = [i.node for i in inputs]
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    run_id = run_locally(path, tmp_path)
    snap = snapshot(tmp_path / "datastore", "GangFlow", run_id)
    assert sorted(snap["train"]) == ["t_0", "t_1", "t_2"]
    assert snap["end"]["t"]["nodes"] == [(0, 3), (1, 3), (2, 3)]


def test_live_progress_redraws_per_step_counts(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_flow(FLOWS / "foreach.py", (), datastore=str(tmp_path / "ds"), stream=out,
                      live=True)
    assert result.status == "succeeded"
    text = out.getvalue()
    assert "\x1b[" in text and "F\x1b[J" in text  # cursor up + clear: the block is redrawn
    final = text.rsplit("\x1b[J", 1)[-1]
    assert "  square  5 done, 0 running, 0 failed" in final
    assert f"ForeachFlow/{result.run_id}  " in text  # the title line with the elapsed time
    assert final.startswith(f"run ForeachFlow/{result.run_id} succeeded in")
    assert "start/t started" not in text  # no per-task lines on a terminal


def test_compile_warnings_are_shown_and_the_run_goes_on(write_flow, tmp_path: Path) -> None:
    path = write_flow("warned_flow", '''
        from flowc import FlowSpec, step


        def mystery(func):
            return func


        class WarnedFlow(FlowSpec):
            @mystery
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    result, output = _run(path, tmp_path)
    assert result.status == "succeeded"
    assert "warned_flow.py:9:5: warning: unknown decorator @mystery" in output


def test_current_names_the_task_the_scheduler_ran(write_flow, tmp_path: Path) -> None:
    path = write_flow("current_flow", '''
        from flowc import FlowSpec, current, step


        class CurrentFlow(FlowSpec):
            @step
            def start(self):
                self.items = ["a", "b"]
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.me = (current.flow_name, current.run_id, current.step_name, current.task_id,
                           current.pathspec, current.retry_count, current.is_running_flow)
                self.next(self.join)

            @step
            def join(self, inputs):
                self.seen = [i.me for i in inputs]
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    run_id = run_locally(path, tmp_path)
    seen = snapshot(tmp_path / "datastore", "CurrentFlow", run_id)["join"]["t"]["seen"]
    assert seen == [("CurrentFlow", run_id, "body", f"t_{i}", f"CurrentFlow/{run_id}/body/t_{i}",
                     0, True) for i in range(2)]


def test_unusable_datastore_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("not a directory")
    done = flowc_cli("run", str(FLOWS / "linear.py"), "--datastore", str(tmp_path / "a_file" / "ds"),
                     cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("flowc: error: ") and "Not a directory" in done.stderr
    assert "Traceback" not in done.stderr
