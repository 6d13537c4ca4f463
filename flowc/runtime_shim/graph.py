"""Finding a task's parents from the manifest and the datastore alone.

Task ids are a pure function of (step, index path, iteration), so a task computes its parents'
ids instead of being told them: a foreach child's parent runs one level up, a foreach join
gathers ``width`` children one level down, a switch's successor checks which case the switch
took, and the step after a recursive step looks up that step's last iteration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowc.compiler import ir
from flowc.runtime_shim.datastore import Datastore, TaskKey
from flowc.runtime_shim.ids import format_index_path, parse_task_id, task_id


class GraphError(RuntimeError):
    """The datastore does not hold the parents this task needs (an orchestration error)."""


@dataclass(frozen=True)
class ParentTask:
    step: str
    index_path: tuple[int, ...]
    iteration: int
    task_id: str
    done: dict[str, Any]


def fans_out_to(parent: ir.Step, child: str) -> bool:
    """Whether ``parent`` is a foreach/parallel step whose body starts at ``child``."""
    return parent.fans_out and parent.transition.targets == (child,)


def split_of(flow: ir.Flow, join: str) -> ir.Step | None:
    opener = flow.step(join).opener
    return flow.step(opener) if opener is not None else None


def last_iteration(ds: Datastore, flow: str, run_id: str, step: str,
                   index_path: tuple[int, ...], listings: dict[str, list[str]] | None = None) -> int | None:
    """The highest finished iteration of ``step`` at ``index_path``, or None.

    ``listings`` caches the step's task listing across the lookups of one join.
    """
    if listings is None:
        listings = {}
    if step not in listings:
        listings[step] = ds.list_tasks(flow, run_id, step)
    best: int | None = None
    for tid in listings[step]:
        try:
            path, iteration = parse_task_id(tid)
        except ValueError:
            continue
        if path == index_path and (best is None or iteration > best):
            if ds.read_done(TaskKey(flow, run_id, step, tid)) is not None:
                best = iteration
    return best


def finished(ds: Datastore, flow: ir.Flow, run_id: str, step: str, index_path: tuple[int, ...],
             listings: dict[str, list[str]] | None = None) -> ParentTask | None:
    """The finished task of ``step`` at ``index_path`` (its last iteration if it recurses)."""
    iteration = 0
    if flow.step(step).is_recursive:
        found = last_iteration(ds, flow.name, run_id, step, index_path, listings)
        if found is None:
            return None
        iteration = found
    tid = task_id(index_path, iteration)
    done = ds.read_done(TaskKey(flow.name, run_id, step, tid))
    if done is None:
        return None
    return ParentTask(step, index_path, iteration, tid, done)


def leads_to(parent: ParentTask, child: str) -> bool:
    switch = parent.done.get("switch")
    return switch is None or switch.get("next_step") == child


def foreach_width(done: dict[str, Any], step: str) -> int:
    facts = done.get("foreach")
    if not facts:
        raise GraphError(f"step {step!r} finished without recording a foreach width")
    return int(facts["width"])


def resolve_parents(ds: Datastore, flow: ir.Flow, run_id: str, step: str,
                    index_path: tuple[int, ...], iteration: int) -> list[ParentTask]:
    """The finished parent tasks of one task, in split-index order for a join."""
    node = flow.step(step)
    where = f"{flow.name}/{run_id}/{step}/{task_id(index_path, iteration)}"
    if iteration > 0:
        previous = task_id(index_path, iteration - 1)
        done = ds.read_done(TaskKey(flow.name, run_id, step, previous))
        if done is None:
            raise GraphError(f"{where}: iteration {iteration - 1} of {step!r} has not finished")
        return [ParentTask(step, index_path, iteration - 1, previous, done)]
    others = [name for name in node.in_steps if name != step]
    if not others:
        return []
    if node.is_join:
        return _join_parents(ds, flow, run_id, node, index_path, others, where)
    for name in others:
        parent_path = index_path[:-1] if fans_out_to(flow.step(name), step) else index_path
        if fans_out_to(flow.step(name), step) and not index_path:
            raise GraphError(f"{where}: a foreach body task needs an index path (--index-path)")
        found = finished(ds, flow, run_id, name, parent_path)
        if found is not None and leads_to(found, step):
            return [found]
    raise GraphError(f"{where}: none of its parents ({', '.join(others)}) has finished at index "
                     f"path {format_index_path(index_path)!r}")


def _join_parents(ds: Datastore, flow: ir.Flow, run_id: str, node: ir.Step,
                  index_path: tuple[int, ...], others: list[str], where: str) -> list[ParentTask]:
    split = split_of(flow, node.name)
    if split is not None and split.fans_out:
        owner = finished(ds, flow, run_id, split.name, index_path)
        if owner is None:
            raise GraphError(f"{where}: foreach step {split.name!r} has not finished")
        width = foreach_width(owner.done, split.name)
        parents = []
        listings: dict[str, list[str]] = {}
        for i in range(width):
            found = [p for p in (finished(ds, flow, run_id, name, (*index_path, i), listings)
                                 for name in others)
                     if p is not None and leads_to(p, node.name)]
            if not found:
                raise GraphError(f"{where}: foreach child {i} of {split.name!r} has not finished "
                                 f"(looked in {', '.join(others)})")
            parents.append(found[0])
        return parents
    parents = [p for p in (finished(ds, flow, run_id, name, index_path) for name in others)
               if p is not None and leads_to(p, node.name)]
    if not parents:
        raise GraphError(f"{where}: none of the branches ({', '.join(others)}) has finished")
    return parents
