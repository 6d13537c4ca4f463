"""Artifacts of a finished run, per step and task id, in a form any two executors can compare.

``snapshot`` reads the datastore directly (completion markers and blobs), so it works the same on
a run made by ``flowc run``, an Argo workflow, a Step Functions execution or an Airflow DAG, as
long as they share the datastore layout of docs/contracts.md.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from flowc.runtime_shim import datastore as ds

# Objects whose class keeps object identity as equality (exceptions, plain classes) become
# dictionaries of what they hold, so equal runs give equal snapshots.
_PLAIN = (str, bytes, int, float, bool, type(None), complex)


def comparable(value: Any, _depth: int = 0) -> Any:
    """``value`` with identity-compared objects replaced by their type and state."""
    if isinstance(value, _PLAIN) or _depth > 20:
        return value
    if isinstance(value, BaseException):
        return {"__exception__": type(value).__name__, "message": str(value)}
    if isinstance(value, dict):
        return {k: comparable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(comparable(v, _depth + 1) for v in value)
    if isinstance(value, (set, frozenset)):
        return value
    if type(value).__eq__ is object.__eq__:
        state = getattr(value, "__dict__", None)
        if state is None and hasattr(type(value), "__slots__"):
            state = {name: getattr(value, name, None) for name in type(value).__slots__}
        return {"__object__": type(value).__qualname__, "state": comparable(state, _depth + 1)}
    return value


def _artifact_refs(done: dict[str, Any]) -> dict[str, ds.ArtifactRef]:
    raw = done.get("artifacts") or {}
    return {name: ds.ArtifactRef.from_json(ref) for name, ref in raw.items()}


def snapshot(datastore_root: str | Path, flow_name: str, run_id: str,
             include_private: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
    """``{step: {task_id: {artifact: value}}}`` for every finished task of the run.

    Names starting with ``_`` (the shim's bookkeeping) are left out unless ``include_private``.
    Steps and tasks are in sorted order; values pass through :func:`comparable`.
    """
    store = ds.open_datastore(str(datastore_root))
    if store.read_run(flow_name, run_id) is None and not store.list_steps(flow_name, run_id):
        raise LookupError(f"no run {flow_name}/{run_id} in {store.root}")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for step in store.list_steps(flow_name, run_id):
        tasks: dict[str, dict[str, Any]] = {}
        for task_id, done in store.iter_done_tasks(flow_name, run_id, step):
            values = {}
            for name, ref in sorted(_artifact_refs(done).items()):
                if name.startswith("_") and not include_private:
                    continue
                values[name] = comparable(store.load_artifact(flow_name, name, ref))
            tasks[task_id] = values
        if tasks:
            out[step] = dict(sorted(tasks.items()))
    return out


def run_locally(flow_path: str | Path, tmpdir: str | Path, params: dict[str, Any] | None = None,
                max_workers: int = 8, expect_success: bool = True) -> str:
    """Run ``flow_path`` with ``flowc run`` with the datastore at ``tmpdir/datastore``; returns
    the run id.

    The scheduler runs in this process (tasks are still forked children) unless other threads
    are alive here (a moto server, say): forking a threaded process can deadlock a child, so
    then it runs as ``python -m flowc.cli run`` instead. ``params`` values are passed as
    command-line text (``str(value)``; lists and dicts as JSON). Raises AssertionError with the
    run's output when the run fails and ``expect_success``.
    """
    pairs = []
    for name, value in (params or {}).items():
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        pairs.append(f"{name}={text}")
    datastore = Path(tmpdir) / "datastore"
    if threading.active_count() > 1:
        return _run_in_subprocess(Path(flow_path), pairs, datastore, max_workers, expect_success)
    from flowc.local.api import run_flow

    stream = io.StringIO()
    result = run_flow(Path(flow_path), tuple(pairs), datastore=str(datastore),
                      max_workers=max_workers, stream=stream, live=False)
    if expect_success and result.status != "succeeded":
        raise AssertionError(f"flowc run {flow_path} {result.status}:\n{stream.getvalue()}")
    return result.run_id


def _run_in_subprocess(flow_path: Path, pairs: list[str], datastore: Path, max_workers: int,
                       expect_success: bool) -> str:
    datastore.mkdir(parents=True, exist_ok=True)
    run_id_file = datastore / ".run_id"
    argv = [sys.executable, "-m", "flowc.cli", "run", str(flow_path), "--datastore", str(datastore),
            "--max-workers", str(max_workers), "--run-id-file", str(run_id_file)]
    for pair in pairs:
        argv += ["--param", pair]
    done = subprocess.run(argv, capture_output=True, text=True)
    if expect_success and done.returncode != 0:
        raise AssertionError(f"flowc run {flow_path} exited {done.returncode}:\n{done.stderr}")
    return run_id_file.read_text(encoding="utf-8")
