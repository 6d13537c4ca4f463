"""Run ids, and deterministic task ids (docs/contracts.md section 3).

A task is named by what any orchestrator already knows: the step, the foreach index path and the
recursion iteration. A join therefore finds its parents by computing their ids, never by being
handed a list of them.
"""

from __future__ import annotations

import re
import time
from typing import Callable

_TASK_ID = re.compile(r"t((?:_[0-9]+)*)(?:_r([0-9]+))?\Z")
# Run ids come from many engines: flowc run (digits), Argo (workflow names), Step Functions
# (execution names), Airflow (``manual__2024-01-01T00:00:00+00:00``). What none of them needs:
# a path separator, a leading dot (``.``, ``..``), whitespace or control characters.
_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:+~-]{0,254}\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


class InvalidId(ValueError):
    """A flow name, run id, step name, task id, attempt or sha that flowc never produces; every
    datastore key is built from checked parts only, so such a value cannot reach outside its root."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_flow_name(value: object) -> str:
    """A flow is named by its FlowSpec class: a Python identifier."""
    if not isinstance(value, str) or not value.isidentifier():
        raise InvalidId(f"not a flow name: {_shown(value)} (a flow is named by its class name)")
    return value


def check_step_name(value: object) -> str:
    """A step is named by its method: a Python identifier."""
    if not isinstance(value, str) or not value.isidentifier():
        raise InvalidId(f"not a step name: {_shown(value)} (a step is named by its method name)")
    return value


def check_run_id(value: object) -> str:
    if not isinstance(value, str) or not _RUN_ID.match(value):
        raise InvalidId(f"not a run id: {_shown(value)} (letters, digits and _ . : + ~ -, "
                        "not starting with . or -)")
    return value


def check_task_id(value: object) -> str:
    if not isinstance(value, str) or not _TASK_ID.match(value):
        raise InvalidId(f"not a flowc task id: {_shown(value)} (expected t, t_3, t_3_1, t_r2, ...)")
    return value


def check_attempt(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidId(f"not an attempt number: {_shown(value)} (0, 1, 2, ...)")
    return value


def check_sha256(value: object) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidId(f"not a sha256: {_shown(value)} (64 lowercase hex digits)")
    return value


def check_key(key: str) -> str:
    """The last line of defence (keys are built from checked ids): no datastore backend ever
    sees a key with an empty, ``.`` or ``..`` part, a backslash or a NUL."""
    if key and (any(part in ("", ".", "..") for part in key.split("/")) or "\\" in key or "\0" in key):
        raise InvalidId(f"not a datastore key: {key!r}")
    return key


def is_valid(check: Callable[[object], object], value: object) -> bool:
    """Whether ``check`` (one of the functions above) accepts ``value``; for filtering listings."""
    try:
        check(value)
    except InvalidId:
        return False
    return True


def task_id(index_path: tuple[int, ...] = (), iteration: int = 0) -> str:
    """``t``, ``t_3``, ``t_3_1``, ``t_r2``, ``t_3_r2``."""
    if iteration < 0 or any(i < 0 for i in index_path):
        raise ValueError(f"negative index or iteration: {index_path!r}, {iteration!r}")
    text = "t" + "".join("_" + str(i) for i in index_path)
    return text + ("_r%d" % iteration if iteration else "")


def parse_task_id(text: str) -> tuple[tuple[int, ...], int]:
    """The inverse of :func:`task_id`: ``(index_path, iteration)``."""
    match = _TASK_ID.match(check_task_id(text))
    assert match is not None
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
