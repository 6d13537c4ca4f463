"""``flowc run`` and ``flowc resume`` as functions: compile, check parameters, schedule.

The CLI only parses options and calls these; tests call them directly (in-process runs are the
same code path as the command, minus the interpreter start).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, TextIO

from flowc.compiler import ir
from flowc.local import RunError, manifest_cache, shim
from flowc.local.resume import find_origin, origin_params, resume_source
from flowc.local.runner import DEFAULT_MAX_WORKERS, RunResult, Scheduler
from flowc.runtime_shim.ids import new_run_id


def compile_flow(flow_file: Path, flow_name: str | None = None, stream: TextIO | None = None,
                 datastore: str | None = None) -> tuple[ir.Flow, Callable[[], None]]:
    """The front end's IR for ``flow_file`` (raises CompileError with diagnostics); warnings
    are printed to ``stream`` (standard error by default) before anything runs.

    With a local ``datastore``, an unchanged flow's manifest comes from its cache; the second
    value stores a fresh one there, for the caller to call once the run is sure to start (bad
    input writes nothing).
    """
    key = manifest_cache.cache_key(flow_file, flow_name) if datastore else None
    cached = manifest_cache.load(datastore, key) if datastore and key else None
    remember: Callable[[], None] = lambda: None
    if cached is not None:
        flow, warnings = cached
    else:
        from flowc.compiler import compile_file
        from flowc.compiler.diagnostics import render_text

        result = compile_file(flow_file, flow_name=flow_name)
        flow, warnings = result.flow, ""
        if result.diagnostics:
            try:
                lines = {str(flow_file): flow_file.read_text(encoding="utf-8").splitlines()}
            except (OSError, UnicodeDecodeError):
                lines = {}
            warnings = render_text(result.diagnostics, lines)
        if datastore and key:
            remember = lambda: manifest_cache.store(datastore, key, flow, warnings)  # noqa: E731
    if warnings:
        out = stream if stream is not None else sys.stderr
        out.write(warnings)
        out.flush()
    return flow, remember


def _run_id_writer(run_id_file: Path | None) -> Callable[[str], None] | None:
    """What announces the run id (``--run-id-file``): called by the scheduler once the run's
    record exists, so whoever reads the id can read the run, and stop it."""
    if run_id_file is None:
        return None

    def announce(run_id: str) -> None:
        run_id_file.write_text(run_id, encoding="utf-8")

    return announce


def run_flow(flow_file: Path, params: tuple[str, ...] = (), *, datastore: str | None = None,
             max_workers: int = DEFAULT_MAX_WORKERS, run_id_file: Path | None = None,
             flow_name: str | None = None, run_id: str | None = None,
             stream: TextIO | None = None, live: bool | None = None,
             echo_logs: bool = True, tags: tuple[str, ...] = (),
             namespace: str | None = None) -> RunResult:
    """``tags`` are the run's user tags; ``namespace`` (``""``: every run) is what the client
    sees inside its tasks instead of the default ``user:<name>``."""
    flow, remember = compile_flow(flow_file, flow_name, stream, _root(datastore))
    values = shim.check_params(flow, params)
    remember()
    run_id = run_id or _unused_run_id(shim.open_datastore(_root(datastore)), flow.name)
    scheduler = Scheduler(flow, flow_file, _root(datastore), run_id, values,
                          max_workers=max_workers, stream=stream, live=live, echo_logs=echo_logs,
                          run_record=run_record(tags, namespace), on_started=_run_id_writer(run_id_file))
    return scheduler.run()


def run_record(tags: tuple[str, ...], namespace: str | None) -> dict[str, Any]:
    """The run.json fields ``--tag`` and ``--namespace`` set (Metaflow: an empty namespace is
    the global one)."""
    record: dict[str, Any] = {"tags": sorted(set(tags))}
    if namespace is not None:
        record["namespace"] = namespace or None
    return record


def resume_flow(flow_file: Path | None = None, origin: str | None = None, *,
                step: str | None = None, datastore: str | None = None,
                max_workers: int = DEFAULT_MAX_WORKERS, run_id_file: Path | None = None,
                flow_name: str | None = None, run_id: str | None = None,
                stream: TextIO | None = None, live: bool | None = None,
                echo_logs: bool = True) -> RunResult:
    """A new run re-running ``step`` (default: the origin's first failed step) and what follows
    it; every successful task before it is cloned from the origin run."""
    store = shim.open_datastore(_root(datastore))
    flow_hint = flow_name
    if flow_file is not None:
        flow, remember = compile_flow(flow_file, flow_name, stream, store.root)
        flow_hint = flow.name
    origin_flow, origin_run_id, record = find_origin(store, flow_hint, origin)
    if flow_file is None:
        recorded = record.get("flow_file")
        if not recorded or not os.path.isfile(recorded):
            raise RunError(f"run {origin_flow}/{origin_run_id} does not record a flow file that "
                           "still exists; pass the flow file: flowc resume FLOW.py RUN_ID")
        flow_file = Path(recorded)
        flow, remember = compile_flow(flow_file, origin_flow, stream, store.root)
    if flow.name != origin_flow:
        raise RunError(f"run {origin_flow}/{origin_run_id} belongs to flow {origin_flow}, "
                       f"not {flow.name}")
    clone = resume_source(store, flow, origin_run_id, record, step)
    values = origin_params(flow, record)
    remember()
    run_id = run_id or _unused_run_id(store, flow.name)
    scheduler = Scheduler(flow, flow_file, store.root, run_id, values, max_workers=max_workers,
                          stream=stream, live=live, clone=clone, echo_logs=echo_logs,
                          on_started=_run_id_writer(run_id_file))
    return scheduler.run()


def _unused_run_id(store: shim.Datastore, flow_name: str) -> str:
    """A fresh time-based id, moved on if a run with it already exists (two runs started in the
    same microsecond on one datastore)."""
    run_id = new_run_id()
    while store.read_run(flow_name, run_id) is not None:
        run_id = str(int(run_id) + 1)
    return run_id


def _root(datastore: str | None) -> str:
    return datastore or os.environ.get("FLOWC_DATASTORE") or ".flowc"
