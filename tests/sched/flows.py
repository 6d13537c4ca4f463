"""Flows the scheduler-feature tests share (written to a test's directory: each test owns its
files), and what they leave behind to assert on."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

HOOKED = textwrap.dedent('''
    import json
    import os

    from flowc import FlowSpec, Parameter, exit_hook, step

    LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks.log")


    def _record(name, run):
        entry = {"hook": name, "run": None if run is None else run.pathspec,
                 "successful": None if run is None else run.successful,
                 "status": None if run is None else run.status}
        with open(LOG, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\\n")


    def notify_success(run):
        _record("notify_success", run)


    def notify_error(run=None):
        _record("notify_error", run)


    def broken_hook():
        raise RuntimeError("the hook is broken")


    def plain_hook():
        _record("plain_hook", None)


    @exit_hook(on_success=[broken_hook, notify_success, plain_hook], on_error=[notify_error, broken_hook])
    class HookedFlow(FlowSpec):
        fail = Parameter("fail", default=False, type=bool)

        @step
        def start(self):
            self.value = 1
            self.next(self.end)

        @step
        def end(self):
            if self.fail:
                raise RuntimeError("end fails on purpose")
''')


def write_hooked(directory: Path) -> Path:
    path = directory / "hooked_flow.py"
    path.write_text(HOOKED, encoding="utf-8")
    return path


def hook_log(directory: Path) -> list[dict]:
    """What the hooks recorded, in call order ([] when none ran)."""
    path = directory / "hooks.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def expected_hooks(run: str, succeeded: bool) -> list[dict]:
    """What a run's hooks record: the broken one records nothing but does not stop the others."""
    if succeeded:
        return [{"hook": "notify_success", "run": run, "successful": True, "status": "succeeded"},
                {"hook": "plain_hook", "run": None, "successful": None, "status": None}]
    return [{"hook": "notify_error", "run": run, "successful": False, "status": "failed"}]


def recorded_hooks(datastore: Path | str, run_id: str) -> dict:
    """The run record's ``exit_hooks`` entry."""
    from flowc.runtime_shim.datastore import open_datastore

    record = open_datastore(str(datastore)).read_run("HookedFlow", run_id) or {}
    return record.get("exit_hooks") or {}


def expected_record(succeeded: bool) -> dict:
    broken = {"name": "broken_hook", "ok": False, "error": "RuntimeError: the hook is broken"}
    if succeeded:
        return {"status": "succeeded", "hooks": [
            broken, {"name": "notify_success", "ok": True, "error": None},
            {"name": "plain_hook", "ok": True, "error": None}]}
    return {"status": "failed", "hooks": [{"name": "notify_error", "ok": True, "error": None}, broken]}


RESUMABLE = textwrap.dedent('''
    import os
    import time

    from flowc import FlowSpec, current, step

    HERE = os.path.dirname(os.path.abspath(__file__))
    WORK_SECONDS = 4.0


    def executed(step_name):
        """Every task that runs user code says so (cloned tasks never do)."""
        with open(os.path.join(HERE, "executed.log"), "a", encoding="utf-8") as handle:
            handle.write(f"{step_name}/{current.task_id}\\n")


    class ResumeFlow(FlowSpec):
        @step
        def start(self):
            executed("start")
            time.sleep(WORK_SECONDS)
            self.items = [1, 2, 3]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            executed("body")
            time.sleep(WORK_SECONDS)
            self.square = self.input * self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            executed("join")
            self.total = sum(i.square for i in inputs)
            self.n = 0
            self.next(self.loop)

        @step
        def loop(self):
            executed("loop")
            self.n += 1
            self.again = "again" if self.n < 3 else "done"
            self.next({"again": self.loop, "done": self.route}, condition="again")

        @step
        def route(self):
            executed("route")
            self.size = "big" if self.total > 10 else "small"
            self.next({"big": self.big, "small": self.small}, condition="size")

        @step
        def big(self):
            executed("big")
            time.sleep(WORK_SECONDS)
            self.label = "big"
            self.next(self.late)

        @step
        def small(self):
            executed("small")
            self.label = "small"
            self.next(self.late)

        @step
        def late(self):
            executed("late")
            if os.path.exists(os.path.join(HERE, "broken")):
                raise RuntimeError("the late step is broken")
            self.origin = current.origin_run_id
            self.result = f"{self.label}:{self.total}:{self.n}"
            self.next(self.end)

        @step
        def end(self):
            executed("end")
''')


def write_resumable(directory: Path, broken: bool) -> Path:
    path = directory / "resume_flow.py"
    path.write_text(RESUMABLE, encoding="utf-8")
    flag = directory / "broken"
    if broken:
        flag.write_text("", encoding="utf-8")
    elif flag.exists():
        flag.unlink()
    return path


def executed(directory: Path) -> list[str]:
    """The tasks that ran user code since the log was last cleared, sorted."""
    path = directory / "executed.log"
    return sorted(path.read_text(encoding="utf-8").split()) if path.exists() else []
