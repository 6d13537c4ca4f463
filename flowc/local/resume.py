"""Resume: which run to resume from, and which steps re-run.

Metaflow's rule: the named step (default: the first step, in graph order, with a task that did
not finish) and every step reachable from it run again; all other steps' successful tasks are
cloned from the origin run, keeping their artifacts, foreach widths and switch choices.
"""

from __future__ import annotations

import json
from typing import Any

from flowc.compiler import ir
from flowc.local import RunError
from flowc.local.runner import CloneSource
from flowc.runtime_shim import datastore as ds
from flowc.runtime_shim import ids


def graph_order(flow: ir.Flow) -> list[str]:
    """Steps in topological order (a recursive step's self-loop ignored), source order breaking ties."""
    position = {name: i for i, name in enumerate(flow.step_names)}
    indegree = {name: 0 for name in flow.step_names}
    for step in flow.steps:
        for target in step.transition.targets:
            if target != step.name:
                indegree[target] += 1
    ready = sorted((n for n, d in indegree.items() if d == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for target in flow.step(name).transition.targets:
            if target == name:
                continue
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
                ready.sort(key=position.__getitem__)
    return order


def descendants(flow: ir.Flow, step: str) -> frozenset[str]:
    """``step`` and every step reachable from it."""
    seen = {step}
    stack = [step]
    while stack:
        for target in flow.step(stack.pop()).transition.targets:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return frozenset(seen)


def _started(record: dict[str, Any]) -> tuple[float, str]:
    return (float(record.get("started_at") or 0.0), str(record.get("run_id", "")))


def find_origin(store: ds.Datastore, flow_name: str | None,
                origin: str | None) -> tuple[str, str, dict[str, Any]]:
    """(flow, run_id, run record) of the run to resume: ``origin`` may be a run id or
    ``Flow/run_id``; without it, the latest run of ``flow_name`` (or of any flow)."""
    if origin and "/" in origin:
        flow_name, _, origin = origin.partition("/")
    try:
        if flow_name is not None:
            ids.check_flow_name(flow_name)
        if origin is not None:
            ids.check_run_id(origin)
    except ids.InvalidId as exc:
        raise RunError(f"cannot resume: {exc}") from None
    flows = [flow_name] if flow_name else store.list_flows()
    candidates: list[tuple[str, str, dict[str, Any]]] = []
    for name in flows:
        run_ids = [origin] if origin else store.list_runs(name)
        for run_id in run_ids:
            record = store.read_run(name, run_id)
            if record is not None:
                candidates.append((name, run_id, record))
    if not candidates:
        what = f"run {origin}" if origin else "any run"
        where = f" of flow {flow_name}" if flow_name else ""
        raise RunError(f"cannot find {what}{where} in datastore {store.root}")
    if origin and len(candidates) > 1:
        names = ", ".join(f"{n}/{r}" for n, r, _ in candidates)
        raise RunError(f"run id {origin} exists for several flows ({names}); pass Flow/{origin}")
    return max(candidates, key=lambda c: _started(c[2]))


def first_unfinished_step(store: ds.Datastore, flow: ir.Flow, run_id: str) -> str | None:
    """The first step in graph order with a task that started but has no completion marker;
    failing that, the first step that never completed a task (the run stopped before it)."""
    order = graph_order(flow)
    done_steps: set[str] = set()
    for name in order:
        tasks = store.list_tasks(flow.name, run_id, name)
        done = {task_id for task_id, _ in store.iter_done_tasks(flow.name, run_id, name)}
        if any(task_id not in done for task_id in tasks):
            return name
        if done:
            done_steps.add(name)
    for name in order:
        if name not in done_steps:
            return name
    return None


def resume_source(store: ds.Datastore, flow: ir.Flow, origin_run_id: str,
                  record: dict[str, Any], step: str | None) -> CloneSource:
    if step is not None:
        if step not in flow.step_names:
            raise RunError(f"--step {step!r}: {flow.name} has no such step "
                           f"(steps: {', '.join(flow.step_names)})")
    else:
        step = first_unfinished_step(store, flow, origin_run_id)
        if step is None:
            raise RunError(f"run {flow.name}/{origin_run_id} finished every step; name the step "
                           "to re-run from with --step")
    return CloneSource(origin_run_id, descendants(flow, step))


def origin_params(flow: ir.Flow, record: dict[str, Any]) -> dict[str, str]:
    """The origin run's parameters as command-line text (they matter only if start re-runs)."""
    if isinstance(record.get("cli_parameters"), dict):
        return {str(k): str(v) for k, v in record["cli_parameters"].items()}
    known = {p.name: p for p in flow.parameters}
    out: dict[str, str] = {}
    for name, value in (record.get("parameters") or {}).items():
        param = known.get(name)
        if param is None or param.include_file:
            continue
        if param.separator and isinstance(value, list):
            out[name] = param.separator.join(str(v) for v in value)
        elif isinstance(value, (dict, list)) or param.type == "json":
            out[name] = json.dumps(value)
        else:
            out[name] = str(value)
    return out
