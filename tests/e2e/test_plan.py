"""The scheduler's graph rules on hand-built IR: which tasks each finished task releases."""

from __future__ import annotations

import pytest

from flowc.compiler import graph, ir
from flowc.local.plan import Facts, Planner, PlanError, TaskSlot


def _flow(*steps: ir.Step) -> ir.Flow:
    """An analyzed flow, as the manifest the planner reads always is (graph facts filled in)."""
    return graph.analyze(ir.Flow(name="F", path="f.py", source_sha256="0" * 64, steps=steps))


def _drive(planner: Planner, facts: dict[str, Facts]) -> list[TaskSlot]:
    """Run the whole plan, finishing tasks in FIFO order; returns every task in start order."""
    queue = planner.first()
    order: list[TaskSlot] = []
    while queue:
        key = queue.pop(0)
        order.append(key)
        fact = facts.get(f"{key.step}/{key.task_id}", facts.get(key.step, Facts()))
        queue.extend(planner.finished(key, fact))
    return order


def test_split_join_waits_for_every_branch() -> None:
    flow = _flow(
        ir.Step("start", ir.Split(("a", "b")), matching_join="join"),
        ir.Step("a", ir.Linear("join")),
        ir.Step("b", ir.Linear("join")),
        ir.Step("join", ir.Linear("end"), is_join=True),
        ir.Step("end", ir.End()),
    )
    planner = Planner(flow)
    assert planner.finished(TaskSlot("start"), Facts()) == [TaskSlot("a"), TaskSlot("b")]
    assert planner.finished(TaskSlot("a"), Facts()) == []
    assert planner.finished(TaskSlot("b"), Facts()) == [TaskSlot("join")]
    assert planner.finished(TaskSlot("join"), Facts()) == [TaskSlot("end")]
    assert planner.finished(TaskSlot("end"), Facts()) == []


def test_nested_foreach_joins_per_parent_index() -> None:
    flow = _flow(
        ir.Step("start", ir.Foreach("outer", "xs"), matching_join="outer_join"),
        ir.Step("outer", ir.Foreach("inner", "ys"), matching_join="inner_join"),
        ir.Step("inner", ir.Linear("inner_join")),
        ir.Step("inner_join", ir.Linear("outer_join"), is_join=True),
        ir.Step("outer_join", ir.Linear("end"), is_join=True),
        ir.Step("end", ir.End()),
    )
    facts = {"start": Facts(foreach_width=2), "outer/t_0": Facts(foreach_width=1),
             "outer/t_1": Facts(foreach_width=3)}
    order = [str(k) for k in _drive(Planner(flow), facts)]
    assert order == ["start/t", "outer/t_0", "outer/t_1", "inner/t_0_0", "inner/t_1_0",
                     "inner/t_1_1", "inner/t_1_2", "inner_join/t_0", "inner_join/t_1",
                     "outer_join/t", "end/t"]


def test_recursion_counts_iterations_and_leaves_at_the_same_level() -> None:
    flow = _flow(
        ir.Step("start", ir.Foreach("loop", "xs"), matching_join="join"),
        ir.Step("loop", ir.Switch("state", (("again", "loop"), ("done", "after")))),
        ir.Step("after", ir.Linear("join")),
        ir.Step("join", ir.Linear("end"), is_join=True),
        ir.Step("end", ir.End()),
    )
    facts = {"start": Facts(foreach_width=2),
             "loop/t_0": Facts(next_step="loop"), "loop/t_0_r1": Facts(next_step="after"),
             "loop/t_1": Facts(next_step="after")}
    order = [str(k) for k in _drive(Planner(flow), facts)]
    assert order == ["start/t", "loop/t_0", "loop/t_1", "loop/t_0_r1", "after/t_1", "after/t_0",
                     "join/t", "end/t"]


def test_empty_foreach_and_unknown_case_are_errors() -> None:
    flow = _flow(
        ir.Step("start", ir.Foreach("body", "xs"), matching_join="join"),
        ir.Step("body", ir.Switch("c", (("a", "x"), ("b", "y")))),
        ir.Step("x", ir.Linear("join")),
        ir.Step("y", ir.Linear("join")),
        ir.Step("join", ir.Linear("end"), is_join=True),
        ir.Step("end", ir.End()),
    )
    planner = Planner(flow)
    with pytest.raises(PlanError, match="empty"):
        planner.finished(TaskSlot("start"), Facts(foreach_width=0))
    with pytest.raises(PlanError, match="did not report"):
        planner.finished(TaskSlot("start"), Facts())
    with pytest.raises(PlanError, match="expected one of x, y"):
        planner.finished(TaskSlot("body", (0,)), Facts(next_step="z"))


def test_join_without_matching_split_is_rejected() -> None:
    """A manifest that did not come from the front end (no graph facts) is refused."""
    flow = ir.Flow(name="F", path="f.py", source_sha256="0" * 64, steps=(
        ir.Step("start", ir.Split(("a", "b"))),
        ir.Step("a", ir.Linear("join")),
        ir.Step("b", ir.Linear("join")),
        ir.Step("join", ir.Linear("end"), is_join=True),
        ir.Step("end", ir.End()),
    ))
    with pytest.raises(PlanError, match="no matching split"):
        Planner(flow)


def test_graph_order_and_descendants_for_resume() -> None:
    from flowc.local.resume import descendants, graph_order

    flow = _flow(
        ir.Step("start", ir.Split(("b", "a")), matching_join="join"),
        ir.Step("a", ir.Linear("join")),
        ir.Step("b", ir.Switch("c", (("again", "b"), ("done", "b2")))),
        ir.Step("b2", ir.Linear("join")),
        ir.Step("join", ir.Linear("end"), is_join=True),
        ir.Step("end", ir.End()),
    )
    assert graph_order(flow) == ["start", "a", "b", "b2", "join", "end"]
    assert descendants(flow, "b") == {"b", "b2", "join", "end"}
    assert descendants(flow, "a") == {"a", "join", "end"}
    assert descendants(flow, "end") == {"end"}
