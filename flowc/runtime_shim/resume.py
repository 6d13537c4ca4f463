"""Resume, in one place for ``flowc resume`` and the engines: which steps re-run, and cloning a task.

Metaflow's rule: the restart step (default: the first step, in graph order, with a task that did
not finish) and every step reachable from it run again; every other task is cloned from the
origin run when the origin finished it (its completion marker, attempt records, logs and side
files are copied into the new run; artifacts are content-addressed per flow, so no blob moves
and no user code runs). A task the origin did not finish runs normally.

On an engine the new run's record says it resumes (``prepare_run`` writes it before the engine
starts the run, under the run id the engine will use), and each task's shim clones itself
(``clone_if_resumed``): the spec needs nothing of its own, and foreach widths, switch choices and
recursion come from the clones as they came from the origin's tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowc.compiler import ir
from flowc.runtime_shim import datastore as ds

# Task files the shim writes beside DONE.json that a clone must carry (contracts section 5).
TASK_FILES = ("foreach_indices.json", "switch_case.json")


class ResumeError(ValueError):
    """The origin run cannot be resumed as asked (one line for the user)."""


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """A run resuming ``origin_run_id``: the steps in ``rerun`` run again, the others are cloned."""

    origin_run_id: str
    step: str
    rerun: frozenset[str]

    def clones(self, step: str) -> bool:
        """Whether a task of ``step`` is taken from the origin (when the origin finished it)."""
        return step not in self.rerun

    def to_json(self) -> dict[str, Any]:
        return {"origin_run_id": self.origin_run_id, "step": self.step, "rerun": sorted(self.rerun)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> "ResumePoint":
        return ResumePoint(str(data["origin_run_id"]), str(data["step"]), frozenset(data["rerun"]))


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


def resume_point(store: ds.Datastore, flow: ir.Flow, origin_run_id: str,
                 step: str | None) -> ResumePoint:
    """Where a resume of ``origin_run_id`` restarts: ``step``, or the origin's first unfinished one."""
    if step is not None:
        if step not in flow.step_names:
            raise ResumeError(f"--step {step!r}: {flow.name} has no such step "
                              f"(steps: {', '.join(flow.step_names)})")
    else:
        step = first_unfinished_step(store, flow, origin_run_id)
        if step is None:
            raise ResumeError(f"run {flow.name}/{origin_run_id} finished every step; name the step "
                              "to re-run from with --step")
    return ResumePoint(origin_run_id, step, descendants(flow, step))


def clone_task(store: ds.Datastore, flow_name: str, origin_run_id: str, run_id: str, step: str,
               task_id: str) -> dict[str, Any] | None:
    """Copy a finished task of the origin run into this run; its completion marker (rewritten
    for this run), or ``None`` when the origin did not finish it. The marker is written last,
    as the shim does."""
    origin = ds.TaskKey(flow_name, origin_run_id, step, task_id)
    done = store.read_done(origin)
    if done is None:
        return None
    target = ds.TaskKey(flow_name, run_id, step, task_id)
    for attempt in store.list_attempts(origin):
        meta = store.read_attempt(origin, attempt)
        if meta is not None:
            store.write_attempt(target, attempt, meta)
        for stream in ("stdout", "stderr"):
            data = store.read_log(origin, attempt, stream)
            if data is not None:
                store.save_log(target, attempt, stream, data)
    for name in TASK_FILES:
        data = store.read_task_file(origin, name)
        if data is not None:
            store.write_task_file(target, name, data)
    cloned = dict(done)
    if "run_id" in cloned:
        cloned["run_id"] = run_id
    if "pathspec" in cloned:
        cloned["pathspec"] = target.pathspec
    cloned["origin_run_id"] = origin_run_id
    cloned["origin_pathspec"] = origin.pathspec
    store.write_done(target, cloned)
    return cloned


# --------------------------------------------------------------------------- on the engines


def prepare_run(store: ds.Datastore, flow: ir.Flow, run_id: str, point: ResumePoint) -> dict[str, Any]:
    """Write the record of a new run ``run_id`` that resumes ``point.origin_run_id``, before the
    engine starts it; the origin's parameters come along (they matter only if start re-runs)."""
    if store.read_run(flow.name, run_id) is not None:
        raise ResumeError(f"run {flow.name}/{run_id} already exists")
    origin = store.read_run(flow.name, point.origin_run_id)
    if origin is None:
        raise ResumeError(f"cannot find run {flow.name}/{point.origin_run_id} in datastore {store.root}")
    record = {"flow": flow.name, "run_id": run_id, "status": "running", "created_at": ds.now(),
              "origin_run_id": point.origin_run_id, "resume": point.to_json(),
              "parameters": origin.get("parameters") or {}, **ds.endpoint_fields(flow.start_step, flow.end_step)}
    store.write_run(flow.name, run_id, record)
    return record


def resumed_from(store: ds.Datastore, flow_name: str, run_id: str) -> ResumePoint | None:
    """The resume point the run's record names, if the run resumes another."""
    record = store.read_run(flow_name, run_id) or {}
    data = record.get("resume")
    return ResumePoint.from_json(data) if isinstance(data, dict) else None


def clone_if_resumed(store: ds.Datastore, flow: ir.Flow, run_id: str, step: str,
                     task_id: str) -> tuple[str | None, dict[str, Any] | None]:
    """For a task of run ``run_id``: the origin run id when the run resumes one (for
    ``current.origin_run_id``), and the cloned task's completion marker when the rule clones the
    task and the origin finished it (then nothing else runs: not even the flow's import)."""
    point = resumed_from(store, flow.name, run_id)
    if point is None:
        return None, None
    if not point.clones(step):
        return point.origin_run_id, None
    return point.origin_run_id, clone_task(store, flow.name, point.origin_run_id, run_id, step, task_id)
