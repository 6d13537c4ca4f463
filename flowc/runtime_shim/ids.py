"""Run ids, and deterministic task ids (docs/contracts.md section 3).

A task is named by what any orchestrator already knows: the step, the foreach index path and the
recursion iteration. A join therefore finds its parents by computing their ids, never by being
handed a list of them.
"""

from __future__ import annotations

import re
import time

_TASK_ID = re.compile(r"^t((?:_\d+)*)(?:_r(\d+))?$")


def task_id(index_path: tuple[int, ...] = (), iteration: int = 0) -> str:
    """``t``, ``t_3``, ``t_3_1``, ``t_r2``, ``t_3_r2``."""
    if iteration < 0 or any(i < 0 for i in index_path):
        raise ValueError(f"negative index or iteration: {index_path!r}, {iteration!r}")
    text = "t" + "".join("_" + str(i) for i in index_path)
    return text + ("_r%d" % iteration if iteration else "")


def parse_task_id(text: str) -> tuple[tuple[int, ...], int]:
    """The inverse of :func:`task_id`: ``(index_path, iteration)``."""
    match = _TASK_ID.match(text)
    if match is None:
        raise ValueError(f"not a flowc task id: {text!r} (expected t, t_3, t_3_1, t_r2, ...)")
    indices, iteration = match.groups()
    path = tuple(int(part) for part in indices.split("_")[1:]) if indices else ()
    return path, int(iteration or 0)


def format_index_path(index_path: tuple[int, ...]) -> str:
    """The text form used on command lines: ``""``, ``"3"``, ``"3.1"``."""
    return ".".join(str(i) for i in index_path)


def parse_index_path(text: str) -> tuple[int, ...]:
    text = text.strip()
    if not text:
        return ()
    try:
        path = tuple(int(part) for part in text.split("."))
    except ValueError:
        raise ValueError(f"bad index path {text!r}: expected integers joined by '.', e.g. 3.1") from None
    if any(i < 0 for i in path):
        raise ValueError(f"bad index path {text!r}: indices are never negative")
    return path


def pathspec(flow: str, run_id: str, step: str | None = None, task: str | None = None) -> str:
    return "/".join(part for part in (flow, run_id, step, task) if part is not None)


_last_run_stamp = 0


def new_run_id(engine: str | None = None) -> str:
    """Microseconds since the epoch, after ``<engine>-`` for a run an orchestrator executes
    (``1764912345678901``, ``sfn-1764912345678901``), as Metaflow names local and deployed runs:
    sorts in start order, never repeats in one process, and is valid as a Step Functions
    execution name, an Airflow run id and a Kubernetes name."""
    global _last_run_stamp
    _last_run_stamp = max(time.time_ns() // 1000, _last_run_stamp + 1)
    return f"{engine}-{_last_run_stamp}" if engine else str(_last_run_stamp)
