"""A tiny sequential orchestrator for shim tests: walks the graph and calls ``run_task``.

It knows only what an orchestrator knows (the manifest and each TaskResult), so the shim's own
parent resolution, task ids and side facts are what the tests exercise.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler import compile_file, ir
from flowc.runtime_shim.capture import capture_output
from flowc.runtime_shim.datastore import Datastore, open_datastore
from flowc.runtime_shim.loader import load_flow_class
from flowc.runtime_shim.task import TaskRequest, TaskResult, max_attempts, run_task


class RunFailed(AssertionError):
    def __init__(self, result: TaskResult):
        super().__init__(f"{result.pathspec} failed: {result.error}")
        self.result = result


@dataclass
class Driven:
    flow: ir.Flow
    flow_class: type
    datastore: Datastore
    run_id: str
    results: list[TaskResult] = field(default_factory=list)

    def done(self, step: str, task_id: str = "t") -> dict[str, Any] | None:
        from flowc.runtime_shim.datastore import TaskKey

        return self.datastore.read_done(TaskKey(self.flow.name, self.run_id, step, task_id))

    def artifact(self, step: str, name: str, task_id: str = "t") -> Any:
        from flowc.client import Task

        return getattr(Task(f"{self.flow.name}/{self.run_id}/{step}/{task_id}", self.datastore).data, name)


def write_flow(tmp_path: Path, source: str, name: str = "flow.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def prepare(path: Path) -> tuple[ir.Flow, type]:
    flow = compile_file(path).flow
    return flow, load_flow_class(str(path), flow)


def drive(path: Path, datastore: Datastore | str, run_id: str = "r1",
          params: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Driven:
    """Run every task of the flow in order, retrying per @retry; raise RunFailed on a failure."""
    flow, cls = prepare(path)
    store = datastore if isinstance(datastore, Datastore) else open_datastore(datastore)
    driven = Driven(flow, cls, store, run_id)

    def execute(step: str, index_path: tuple[int, ...], iteration: int) -> TaskResult:
        node = flow.step(step)
        for attempt in range(max_attempts(node)):
            request = TaskRequest(cls, flow, step, run_id, store, index_path, iteration, attempt,
                                  params=(params or {}) if step == "start" else {})
            with capture_output(echo=False) as captured:
                result = run_task(request)
            for stream in ("stdout", "stderr"):
                store.save_log(request.key, attempt, stream, getattr(captured, stream).getvalue())
            driven.results.append(result)
            if result.ok:
                return result
            if not result.retryable:
                break
        raise RunFailed(result)

    def chain(step: str | None, index_path: tuple[int, ...], stop: str | None) -> None:
        iteration = 0
        while step is not None and step != stop:
            node = flow.step(step)
            result = execute(step, index_path, iteration)
            transition = node.transition
            if isinstance(transition, ir.End):
                return
            if isinstance(transition, ir.Linear):
                step, iteration = transition.target, 0
            elif isinstance(transition, ir.Split):
                for branch in transition.branches:
                    chain(branch, index_path, node.matching_join)
                step, iteration = node.matching_join, 0
            elif isinstance(transition, (ir.Foreach, ir.Parallel)):
                for i in range(result.foreach_width or 0):
                    chain(transition.target, (*index_path, i), node.matching_join)
                step, iteration = node.matching_join, 0
            elif isinstance(transition, ir.Switch):
                if result.next_step == step:
                    iteration += 1
                else:
                    step, iteration = result.next_step, 0

    chain("start", (), None)
    return driven
