"""Is the scheduler of a "running" run still alive? A run record carries its scheduler's identity.

``flowc run`` records the host, the kernel's boot id, its pid namespace, its pid and that pid's
start time (in clock ticks since boot, from ``/proc``). A run killed with ``kill -9`` (or by a power cut) never writes
its final status; any reader can then tell that the run is dead rather than still running: the
host rebooted, the pid is gone, or the pid now belongs to a process that started later.
Standard library only; on a system without ``/proc`` a run is never declared dead.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _pid_namespace() -> str | None:
    """Which pid namespace pids are numbered in (containers on one host share the boot id)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def scheduler_identity() -> dict[str, Any]:
    """What ``run.json`` records about the process scheduling the run."""
    pid = os.getpid()
    return {"scheduler_host": socket.gethostname(), "scheduler_boot_id": _boot_id(),
            "scheduler_pid_namespace": _pid_namespace(), "scheduler_pid": pid,
            "scheduler_start_ticks": _start_ticks(pid)}


def scheduler_gone(record: dict[str, Any]) -> bool:
    """True when ``record`` names a scheduler on this host that is certainly no longer running."""
    pid, ticks = record.get("scheduler_pid"), record.get("scheduler_start_ticks")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if record.get("scheduler_host") != socket.gethostname():
        return False  # another machine's process: nothing to check here
    boot = _boot_id()
    if boot is None:
        return False
    if record.get("scheduler_boot_id") != boot:
        return True
    if record.get("scheduler_pid_namespace") != _pid_namespace():
        return False  # its pid means another process here: nothing to check
    current = _start_ticks(pid)
    return current is None or (isinstance(ticks, int) and current != ticks)
