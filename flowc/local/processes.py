"""Forked task processes: the flow module is imported once by the scheduler, each task is a fork.

Start-up per task is what makes a local run slow (Metaflow starts a fresh interpreter and imports
the flow for every task). A fork inherits the imported module for free. Each child gets its own
process group, so a crash, a ``sys.exit`` or a runaway subprocess in a step stays in that child,
Ctrl-C in the terminal reaches only the scheduler (which then stops children deliberately), and
a timeout kills the step's whole group. If the scheduler itself dies (``kill -9``), nothing of
the run keeps running: on Linux each task asks the kernel to SIGKILL it then
(``PR_SET_PDEATHSIG``), and a :class:`Watchdog` process, told of every task's group over a pipe,
kills the groups (processes the steps started included) when the pipe closes.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# How long a stopped child may take to exit after SIGTERM before it gets SIGKILL.
TERM_GRACE_SECONDS = 3.0


@dataclass(slots=True)
class Child:
    """One running task process; ``returncode`` follows subprocess' convention (-N: signal N)."""

    pid: int
    label: str
    started: float
    deadline: float | None
    stdout_path: Path
    stderr_path: Path
    pidfd: int | None = None
    returncode: int | None = None
    timed_out: bool = False
    ended: float | None = None
    payload: object = None
    stop_requested_at: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """Linux's prctl(2) through ctypes (looked up once, in the scheduler); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(prctl: Callable[..., int] | None, parent: int) -> None:
    """Have the kernel SIGKILL this task when the scheduler dies, however it dies (kill -9
    included), so no task outlives the run that started it."""
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the scheduler died before the line above took effect
        os._exit(1)


class Watchdog:
    """A small process that outlives a scheduler killed with ``kill -9`` just long enough to
    kill the process groups of its tasks, processes the steps started included.

    The scheduler tells it each task's group over a pipe (``+pid`` when spawned, ``-pid`` when
    reaped); the pipe reaching end-of-file (every write end closed: the scheduler is gone, or
    closed it on the way out) is the signal. Messages are read in order, so a group is only
    killed while the scheduler still counted it as running.
    """

    def __init__(self) -> None:
        read_end, self._write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the watchdog process; covered by the e2e tests
            os.close(self._write_end)
            _watch(read_end)
        os.close(read_end)

    def _send(self, text: str) -> None:
        try:
            os.write(self._write_end, text.encode("ascii"))
        except OSError:
            pass  # a watchdog that is gone cannot help; the run goes on

    def started(self, pid: int) -> None:
        self._send(f"+{pid}\n")

    def ended(self, pid: int) -> None:
        self._send(f"-{pid}\n")

    def forget_in_child(self) -> None:
        """In a forked task: drop the write end, or the pipe would stay open after a crash."""
        os.close(self._write_end)

    def close(self) -> None:
        os.close(self._write_end)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _watch(read_end: int) -> None:
    """The watchdog's whole life: follow the running groups until end-of-file, kill what is left."""
    try:
        os.setpgid(0, 0)  # Ctrl-C in the terminal is for the scheduler, not for the watchdog
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # never keep the caller's pipes open
            os.dup2(devnull, fd)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        running: set[int] = set()
        pending = b""
        while True:
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                pid = int(line[1:])
                (running.add if line[:1] == b"+" else running.discard)(pid)
        for pid in running:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    finally:
        os._exit(0)


def _child_main(body: Callable[[], int], stdout_path: Path, stderr_path: Path,
                prctl: Callable[..., int] | None = None, parent: int = 0) -> None:
    """Runs in the forked child and never returns: every outcome ends in ``os._exit``."""
    code = 1
    try:
        _die_with_parent(prctl, parent)
        os.setpgid(0, 0)
        # A task starts with the default dispositions, whatever the process that forked it had:
        # a Python-level SIGSEGV handler (Airflow's DAG importer installs one) would spin forever
        # on a crashing task instead of letting it die.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGSEGV, signal.SIGBUS,
                    signal.SIGFPE, signal.SIGILL, signal.SIGABRT):
            signal.signal(sig, signal.SIG_DFL)
        for fd, path in ((1, stdout_path), (2, stderr_path)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        # The scheduler may run embedded (tests, notebooks) with sys.stdout replaced by an
        # in-memory object: the step's prints must reach the log files all the same.
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                          closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                          closefd=False)
        # typeshed marks these Final; a forked child replaces them on purpose (see above).
        sys.__stdout__, sys.__stderr__ = sys.stdout, sys.stderr  # type: ignore[misc]
        # A hard crash (segfault, abort) leaves its Python traceback in the task's own log.
        faulthandler.enable(file=sys.stderr)
        result = body()
        code = result if isinstance(result, int) else 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child reports everything and exits
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code & 0xFF if code >= 0 else 1)


class ProcessPool:
    """Forks task bodies and reports them as they end; single-threaded, so forking is safe."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._children: dict[int, Child] = {}
        self._use_pidfd = hasattr(os, "pidfd_open")
        self._frozen = False
        self._prctl = _load_prctl()
        self._watchdog: Watchdog | None = None

    def __len__(self) -> int:
        return len(self._children)

    @property
    def children(self) -> list[Child]:
        return list(self._children.values())

    def spawn(self, label: str, body: Callable[[], int], log_dir: Path,
              timeout: float | None = None, payload: object = None) -> Child:
        log_dir.mkdir(parents=True, exist_ok=True)
        stdout_path, stderr_path = log_dir / "stdout.log", log_dir / "stderr.log"
        sys.stdout.flush()
        sys.stderr.flush()
        if not self._frozen:
            # Move everything imported so far out of the collector's reach: a child's first
            # collection would otherwise touch (and so copy) every page the parent owns.
            gc.freeze()
            self._frozen = True
        if self._watchdog is None:
            self._watchdog = Watchdog()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child process; covered by the e2e tests
            self._watchdog.forget_in_child()
            _child_main(body, stdout_path, stderr_path, self._prctl, parent)
        self._watchdog.started(pid)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
        except OSError:
            pass
        now = time.monotonic()
        child = Child(pid=pid, label=label, started=now,
                      deadline=now + timeout if timeout else None,
                      stdout_path=stdout_path, stderr_path=stderr_path, payload=payload)
        if self._use_pidfd:
            try:
                child.pidfd = os.pidfd_open(pid)
                self._selector.register(child.pidfd, selectors.EVENT_READ, pid)
            except OSError:
                child.pidfd = None
        self._children[pid] = child
        return child

    def wait(self, max_wait: float) -> list[Child]:
        """Children that ended within ``max_wait`` seconds (timeouts enforced on the way)."""
        now = time.monotonic()
        deadlines = [c.deadline for c in self._children.values() if c.deadline and not c.timed_out]
        if deadlines:
            max_wait = max(0.0, min(max_wait, min(deadlines) - now))
        if self._children:
            if self._use_pidfd and all(c.pidfd is not None for c in self._children.values()):
                self._selector.select(max_wait)
            else:
                time.sleep(min(max_wait, 0.005))
        elif max_wait > 0:
            time.sleep(max_wait)
        self._enforce_deadlines()
        return self._reap()

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for child in self._children.values():
            if child.deadline is not None and not child.timed_out and now >= child.deadline:
                child.timed_out = True
                self._signal(child, signal.SIGKILL)
            elif child.stop_requested_at is not None and now - child.stop_requested_at > TERM_GRACE_SECONDS:
                self._signal(child, signal.SIGKILL)

    def _reap(self) -> list[Child]:
        ended: list[Child] = []
        for pid, child in list(self._children.items()):
            try:
                # Peek first (WNOWAIT): while the child is an unreaped zombie its pid, and so its
                # process group id, cannot be reused, so killing the group below is safe.
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
                status: int | None = 1 << 8
            else:
                status = None
                if info is None:
                    continue
            # Whatever the step left running in its process group goes with it.
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            if self._watchdog is not None:
                self._watchdog.ended(pid)  # before the pid can be reused (the waitpid below)
            if status is None:
                _, status = os.waitpid(pid, 0)
            child.returncode = _exit_code(status)
            child.ended = time.monotonic()
            self._forget(child)
            ended.append(child)
        return ended

    def _forget(self, child: Child) -> None:
        del self._children[child.pid]
        if child.pidfd is not None:
            self._selector.unregister(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = None

    def _signal(self, child: Child, signum: int) -> None:
        try:
            os.killpg(child.pid, signum)
        except OSError:
            try:
                os.kill(child.pid, signum)
            except OSError:
                pass

    def terminate_all(self) -> list[Child]:
        """SIGTERM every child, SIGKILL the ones still alive after the grace period; reap all."""
        now = time.monotonic()
        for child in self._children.values():
            child.stop_requested_at = now
            self._signal(child, signal.SIGTERM)
        ended: list[Child] = []
        while self._children:
            ended.extend(self.wait(0.05))
        return ended

    def close(self) -> None:
        self._selector.close()
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        if self._frozen:
            # Hand the objects back to the collector: an embedding process (a test session)
            # would otherwise never free the garbage that existed at the first fork.
            gc.unfreeze()
            self._frozen = False
