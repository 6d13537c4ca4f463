"""The local scheduler: runs a compiled flow's tasks as forked children of one process.

The scheduler imports the flow module once (``load_flow_class``) and forks a child per task
attempt, which then calls the runtime shim's ``run_task`` exactly as a container would call
``python -m flowc.runtime_shim``: same task ids, same datastore, same side channels. Only the
start-up differs. The graph logic is in ``plan``, the processes in ``processes``.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from flowc.compiler import ir
from flowc.local import RunError, shim
from flowc.local.plan import Facts, Planner, PlanError, TaskSlot
from flowc.local.processes import Child, ProcessPool
from flowc.local.progress import Progress

DEFAULT_MAX_WORKERS = 16
# Extra seconds the scheduler waits past a step's @timeout before it kills the task itself;
# the shim raises the timeout inside the step first, so @catch can record it.
TIMEOUT_GRACE_SECONDS = 2.0
_TAIL_LINES = 25
# Lines of each stream of a finished task shown on the console (all are stored).
_ECHO_LINES = 200


@dataclass(frozen=True, slots=True)
class RunResult:
    flow_name: str
    run_id: str
    status: str  # succeeded | failed | stopped
    elapsed: float
    failed_tasks: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return {"succeeded": 0, "stopped": 130}.get(self.status, 1)


@dataclass(frozen=True, slots=True)
class CloneSource:
    """Resume: tasks of steps outside ``rerun`` are copied from ``origin_run_id`` when it has them."""

    origin_run_id: str
    rerun: frozenset[str]


@dataclass(slots=True)
class _Pending:
    key: TaskSlot
    attempt: int = 0
    not_before: float = 0.0


@dataclass(slots=True)
class _State:
    ready: deque[_Pending] = field(default_factory=deque)
    delayed: list[_Pending] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopping: bool = False


class Scheduler:
    """Runs one run to completion (or failure, or Ctrl-C) and records its status."""

    def __init__(self, flow: ir.Flow, flow_file: Path, datastore_root: str, run_id: str,
                 params: dict[str, str], max_workers: int = DEFAULT_MAX_WORKERS,
                 stream: TextIO | None = None, live: bool | None = None,
                 clone: CloneSource | None = None, echo_logs: bool = True,
                 run_record: dict[str, Any] | None = None,
                 on_started: Callable[[str], None] | None = None):
        self.flow = flow
        # told the run id once the run is readable and a Ctrl-C would record it as stopped
        self.on_started = on_started
        self.run_record = run_record
        self.echo_logs = echo_logs
        self.flow_file = flow_file
        self.datastore = shim.open_datastore(datastore_root)
        # A second handle that the scheduler never uses: forked tasks inherit it with no open
        # connections (sharing a socket across a fork is unsafe) and no client set-up to repeat.
        self.task_datastore = shim.open_datastore(self.datastore.root)
        self.run_id = run_id
        self.params = params
        self.max_workers = max(1, max_workers)
        self.stream = stream if stream is not None else sys.stderr
        self.progress = Progress(self.stream, flow.step_names, live=live,
                                 title=f"{flow.name}/{run_id}")
        self.clone = clone
        self._steps = {s.name: s for s in flow.steps}
        self._spawned = 0

    # ------------------------------------------------------------------ public

    def run(self) -> RunResult:
        started = time.monotonic()
        flow_class = shim.load_flow_class(self.flow_file, self.flow)
        shim.prepare_environments(self.flow, self.flow_file, self.datastore.root)
        try:
            shim.start_run(self.datastore, self.flow, self.flow_file, self.run_id, self.params,
                           self.clone.origin_run_id if self.clone else None, self.run_record)
        except (shim.DatastoreError, OSError) as exc:
            raise RunError(f"cannot start a run in datastore {self.datastore.root}: {exc}") from None
        workdir = Path(tempfile.mkdtemp(prefix=f"flowc-{self.run_id}-"))
        pool = ProcessPool()
        state = _State()
        status = "failed"
        restore = _stop_on_sigterm()
        origin = f" (resuming {self.clone.origin_run_id})" if self.clone else ""
        self.progress.message(f"run {self.flow.name}/{self.run_id} started{origin}")
        try:
            if self.on_started is not None:
                self.on_started(self.run_id)
            planner = Planner(self.flow)
            state.ready.extend(_Pending(key) for key in planner.first())
            status = self._loop(planner, pool, state, flow_class, workdir)
        except KeyboardInterrupt:
            _ignore_interrupts()  # a second Ctrl-C must not cut the cleanup short
            self.progress.message(f"interrupted: stopping {len(pool)} running task(s)")
            self._stop_all(pool)
            status = "stopped"
        except BaseException:
            _ignore_interrupts()
            self._stop_all(pool)
            raise
        finally:
            restore()
            pool.close()
            self.progress.close()
            try:
                shim.finish_run(self.datastore, self.flow, self.run_id, status)
            except shim.DatastoreError as exc:
                self.progress.message(f"warning: cannot record the run's status: {exc}")
            shutil.rmtree(workdir, ignore_errors=True)
        try:
            shim.run_exit_hooks(self.datastore, self.flow, flow_class, self.run_id, status, self.stream)
        except shim.DatastoreError as exc:
            self.progress.message(f"warning: cannot record the exit hooks: {exc}")
        elapsed = time.monotonic() - started
        result = RunResult(self.flow.name, self.run_id, status, elapsed, tuple(state.failed))
        self._report(result)
        return result

    def _stop_all(self, pool: ProcessPool) -> None:
        for child in pool.terminate_all():
            if not self._finish_logs(child):
                self._echo(child, child.payload.key, force=True)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ the loop

    def _loop(self, planner: Planner, pool: ProcessPool, state: _State, flow_class: Any,
              workdir: Path) -> str:
        while True:
            now = time.monotonic()
            for pending in [p for p in state.delayed if p.not_before <= now]:
                state.delayed.remove(pending)
                state.ready.append(pending)
            while state.ready and not state.stopping and len(pool) < self.max_workers:
                pending = state.ready.popleft()
                if self._try_clone(planner, pool, pending, state):
                    continue
                self._spawn(pool, pending, flow_class, workdir)
            if not len(pool) and (state.stopping or not (state.ready or state.delayed)):
                break
            wait = 0.2
            if state.delayed and not state.stopping:
                wait = max(0.0, min(wait, min(p.not_before for p in state.delayed) - now))
            for child in pool.wait(wait):
                self._finished(planner, pool, state, child)
            self.progress.tick()
        if state.failed:
            return "failed"
        return "succeeded"

    def _spawn(self, pool: ProcessPool, pending: _Pending, flow_class: Any, workdir: Path) -> None:
        key, attempt = pending.key, pending.attempt
        step = self._steps[key.step]
        # One flat scratch directory per attempt for its captured output.
        self._spawned += 1
        attempt_dir = workdir / str(self._spawned)
        params = self.params if key.step == "start" else {}
        origin = self.clone.origin_run_id if self.clone else None
        if shim.has_environment(self.flow, key.step):  # @pypi/@conda: its own interpreter
            body = shim.environment_task_body(self.flow, self.flow_file, self.task_datastore,
                                              self.run_id, key, attempt, params, origin)
        else:
            body = shim.task_body(flow_class, self.flow, self.task_datastore, self.run_id, key,
                                  attempt, params, attempt_dir, origin)
        timeout = step.decorator(ir.Timeout)
        limit = timeout.total_seconds + TIMEOUT_GRACE_SECONDS if timeout and timeout.total_seconds else None
        pool.spawn(str(key), body, attempt_dir, timeout=limit, payload=pending)
        self.progress.started(key.step, key.task_id, attempt)

    def _finished(self, planner: Planner, pool: ProcessPool, state: _State, child: Child) -> None:
        pending: _Pending = child.payload  # type: ignore[assignment]
        key, attempt = pending.key, pending.attempt
        done = None
        # Output the datastore could not take is shown whatever --no-logs says: never lost silently.
        show_logs = child.returncode == shim.EXIT_LOGS_UNSTORED
        if show_logs:
            child.returncode = 0
        if child.returncode == 0:
            done = shim.task_done(self.datastore, self.flow.name, self.run_id, key)
            if done is None:
                child.returncode = shim.EXIT_RETRYABLE
                with child.stderr_path.open("a", encoding="utf-8") as stderr:
                    stderr.write(f"task {key} exited with status 0 before finishing "
                                 "(os._exit in the step?)\n")
        if child.returncode != 0:
            # The child stores its logs as it exits; one that crashed or was killed could not.
            show_logs = not self._finish_logs(child) or show_logs
        if show_logs and not self.echo_logs:
            self.progress.message(f"warning: the output of {key} could not be stored in the "
                                  f"datastore; here it is")
        self._echo(child, key, force=show_logs)
        if done is not None:
            self.progress.finished(key.step, key.task_id, attempt, child.elapsed, "done")
            if not state.stopping:
                # The foreach width and switch choice, as the shim recorded them.
                self._release(planner, pool, state, key, shim.done_facts(done))
            return
        retry = self._steps[key.step].decorator(ir.Retry)
        times = retry.times if retry else 0
        why = self._describe_failure(child)
        if attempt < times and not state.stopping and child.returncode != shim.EXIT_FINAL:
            self.progress.finished(key.step, key.task_id, attempt, child.elapsed, "retrying", why)
            delay = float(retry.minutes_between_retries) * 60 if retry else 0.0
            state.delayed.append(_Pending(key, attempt + 1, time.monotonic() + delay))
            return
        self.progress.finished(key.step, key.task_id, attempt, child.elapsed, "failed")
        # Its stderr tail goes with the error unless the whole log was just shown.
        self._fail(pool, state, str(key), f"{key}: attempt {attempt} {why}",
                   None if show_logs else child)

    def _release(self, planner: Planner, pool: ProcessPool, state: _State, key: TaskSlot,
                 facts: Facts) -> None:
        try:
            released = planner.finished(key, facts)
        except PlanError as exc:
            self._fail(pool, state, str(key), str(exc), None)
            return
        state.ready.extend(_Pending(k) for k in released)

    def _fail(self, pool: ProcessPool, state: _State, task: str, message: str,
              child: Child | None) -> None:
        """Record a failed task; the first one stops new tasks from starting. Tasks already
        running are left to finish (a failure never takes another task down with it), so their
        results are there for ``flowc resume``; Ctrl-C stops them."""
        state.failed.append(task)
        lines = [f"error: {message}"]
        if child is not None and not self.echo_logs:
            lines.extend("    " + line for line in _tail(child.stderr_path, _TAIL_LINES)[1])
        if not state.stopping and len(pool):
            lines.append(f"no new tasks start; waiting for {len(pool)} running task(s) to finish")
        state.stopping = True
        self.progress.message("\n".join(lines))

    def _try_clone(self, planner: Planner, pool: ProcessPool, pending: _Pending,
                   state: _State) -> bool:
        if self.clone is None or pending.key.step in self.clone.rerun:
            return False
        facts = shim.clone_task(self.datastore, self.flow.name, self.clone.origin_run_id,
                                self.run_id, pending.key)
        if facts is None:
            return False
        self.progress.finished(pending.key.step, pending.key.task_id, 0, 0.0, "cloned")
        self._release(planner, pool, state, pending.key, facts)
        return True

    # ------------------------------------------------------------------ helpers

    def _finish_logs(self, child: Child) -> bool:
        """Store a task's logs for it; False (with a warning) when they could not be stored."""
        pending: _Pending = child.payload  # type: ignore[assignment]
        try:
            shim.store_logs(self.datastore, self.flow.name, self.run_id, pending.key,
                            pending.attempt, child.stdout_path, child.stderr_path)
        except Exception as exc:  # noqa: BLE001 - losing a log must not lose the run
            self.progress.message(f"warning: cannot store logs of {pending.key}: {exc}")
            return False
        return True

    def _echo(self, child: Child, key: TaskSlot, force: bool = False) -> None:
        """Show what a finished task printed, each line prefixed with the task."""
        if not (self.echo_logs or force):
            return
        out: list[str] = []
        for path in (child.stdout_path, child.stderr_path):
            skipped, lines = _tail(path, _ECHO_LINES)
            if skipped:
                out.append(f"[{key}] ... {skipped} earlier line(s) in the stored log "
                           f"(flowc logs {self.flow.name}/{self.run_id}/{key})")
            out.extend(f"[{key}] {line}" for line in lines)
        if out:
            self.progress.message("\n".join(out))

    @staticmethod
    def _describe_failure(child: Child) -> str:
        if child.timed_out:
            return "timed out and was killed"
        if child.returncode is not None and child.returncode < 0:
            try:
                name = signal.Signals(-child.returncode).name
            except ValueError:
                name = f"signal {-child.returncode}"
            return f"was killed by {name}"
        return f"failed (exit code {child.returncode})"

    def _report(self, result: RunResult) -> None:
        pathspec = f"{result.flow_name}/{result.run_id}"
        lines = [f"run {pathspec} {result.status} in {result.elapsed:.2f}s",
                 *self.progress.summary_lines()]
        if result.status == "failed":
            lines.append(f"resume with: flowc resume {self.flow_file} {result.run_id}")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _stop_on_sigterm() -> Callable[[], None]:
    """SIGTERM stops a run the way Ctrl-C does; returns what restores the previous handlers."""
    if not _in_main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _ignore_interrupts() -> None:
    if _in_main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


_TAIL_BYTES = 256 << 10  # the console shows at most this much of a log's end ...
_LINE_CHARS = 2000  # ... and at most this much of one line


def _tail(path: Path, limit: int) -> tuple[int, list[str]]:
    """(lines left out, the last ``limit`` lines) of a log file, reading at most its last
    256 KiB and cutting each line at 2,000 characters: a 100 MB single-line log is neither
    echoed whole nor read into memory (the datastore keeps all of it)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            if not size:
                return 0, []
            start = max(0, size - _TAIL_BYTES)
            newlines = _count_newlines(handle, start)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return 0, []
    if start and b"\n" in data:  # began inside a line: its end alone would mislead
        data = data[data.index(b"\n") + 1:]
        newlines += 1
    text = data.decode("utf-8", errors="replace")
    lines = text.rstrip("\n").splitlines() if text.strip() else []
    skipped = newlines + max(0, len(lines) - limit)
    return skipped, [_cut(line) for line in lines[-limit:]]


def _count_newlines(handle: Any, end: int) -> int:
    """Newlines in the first ``end`` bytes, counted a chunk at a time."""
    handle.seek(0)
    count = 0
    while handle.tell() < end:
        chunk = handle.read(min(1 << 20, end - handle.tell()))
        if not chunk:
            break
        count += chunk.count(b"\n")
    return count


def _cut(line: str) -> str:
    if len(line) <= _LINE_CHARS:
        return line
    return f"{line[:_LINE_CHARS]}... ({len(line) - _LINE_CHARS} more characters in the stored log)"
