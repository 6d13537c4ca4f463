"""Which tasks become runnable when a task finishes: the scheduler's graph logic, pure.

A task is ``(step, index_path, iteration)`` (docs/contracts.md section 3). The planner never runs
anything; the runner feeds it each finished task with the two facts only the task can know (a
foreach width, a switch's next step) and gets back the tasks that may start now. Keeping it free
of processes and files lets the scheduling rules be tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.compiler import ir
from flowc.runtime_shim.ids import task_id


class PlanError(RuntimeError):
    """The flow asked for something the graph cannot do (an empty foreach, an unknown case)."""


@dataclass(frozen=True, slots=True, order=True)
class TaskSlot:
    """A task the local scheduler will run, before it has a datastore key: the step, its index
    path and (for a recursive step) its iteration."""

    step: str
    index_path: tuple[int, ...] = ()
    iteration: int = 0

    @property
    def task_id(self) -> str:
        return task_id(self.index_path, self.iteration)

    def __str__(self) -> str:
        return f"{self.step}/{self.task_id}"


@dataclass(frozen=True, slots=True)
class Facts:
    """What a finished task tells the orchestrator (its side channels)."""

    foreach_width: int | None = None
    next_step: str | None = None


def _openers(flow: ir.Flow) -> dict[str, ir.Step]:
    """Each join step -> the split, foreach or parallel step it closes."""
    openers: dict[str, ir.Step] = {}
    for step in flow.steps:
        if not step.is_join:
            continue
        if step.opener is None:
            raise PlanError(f"join step {step.name!r} has no matching split in the manifest "
                            "(was the flow compiled by flowc's front end?)")
        openers[step.name] = flow.step(step.opener)
    return openers


class Planner:
    """Tracks arrivals at joins; a join runs once every branch or foreach child has arrived."""

    def __init__(self, flow: ir.Flow):
        self.flow = flow
        self._steps = {step.name: step for step in flow.steps}
        self._openers = _openers(flow)
        self._expected: dict[tuple[str, tuple[int, ...]], int] = {}
        self._arrived: dict[tuple[str, tuple[int, ...]], int] = {}

    def first(self) -> list[TaskSlot]:
        return [TaskSlot(self.flow.start_step)]

    def finished(self, key: TaskSlot, facts: Facts) -> list[TaskSlot]:
        """The tasks that ``key`` finishing makes runnable, in a deterministic order."""
        step = self._steps[key.step]
        transition = step.transition
        path = key.index_path
        if isinstance(transition, ir.End):
            return []
        if isinstance(transition, ir.Linear):
            return self._arrive(transition.target, path)
        if isinstance(transition, ir.Split):
            self._expect(step, path, len(transition.branches))
            out: list[TaskSlot] = []
            for branch in transition.branches:
                out.extend(self._arrive(branch, path))
            return out
        if isinstance(transition, (ir.Foreach, ir.Parallel)):
            if isinstance(transition, ir.Parallel) and transition.num_parallel is not None:
                width = transition.num_parallel
            elif facts.foreach_width is None:
                raise PlanError(f"{key}: the task did not report its foreach width")
            else:
                width = facts.foreach_width
            if width <= 0:
                raise PlanError(f"{key}: foreach over {getattr(transition, 'items', '?')!r} is "
                                "empty; a foreach needs at least one item")
            self._expect(step, path, width)
            return [TaskSlot(transition.target, path + (i,)) for i in range(width)]
        if isinstance(transition, ir.Switch):
            target = facts.next_step
            if target is None or target not in transition.targets:
                raise PlanError(f"{key}: switch reported next step {target!r}; expected one of "
                                f"{', '.join(transition.targets)}")
            if target == key.step:
                return [TaskSlot(key.step, path, key.iteration + 1)]
            return self._arrive(target, path)
        raise PlanError(f"{key}: unknown transition {transition!r}")  # pragma: no cover

    def _expect(self, opener: ir.Step, path: tuple[int, ...], count: int) -> None:
        if opener.matching_join is not None:
            self._expected[(opener.matching_join, path)] = count

    def _arrive(self, target: str, path: tuple[int, ...]) -> list[TaskSlot]:
        step = self._steps[target]
        if not step.is_join:
            return [TaskSlot(target, path)]
        opener = self._openers[target]
        join_path = path[:-1] if opener.fans_out else path
        slot = (target, join_path)
        self._arrived[slot] = self._arrived.get(slot, 0) + 1
        expected = self._expected.get(slot)
        if expected is None:
            raise PlanError(f"{target}: a parent arrived before {opener.name!r} ran at that level")
        if self._arrived[slot] == expected:
            return [TaskSlot(target, join_path)]
        return []
