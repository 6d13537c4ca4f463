"""Graph analysis: fills ``in_steps``, ``split_parents`` and ``matching_join`` on every step.

Semantics are Metaflow's. Walking from ``start``, a split, foreach or parallel step pushes itself
on the stack of split parents its children see; a join pops the innermost one (and becomes that
split's ``matching_join``); a switch pushes nothing, and a switch case leading back to the
switch step itself (recursion) is not followed. A join's own ``split_parents`` still includes
the split it closes (so ``split_parents[-1]`` tells which split a join joins), as in Metaflow.

Each step is visited once (first visit wins), so the walk is linear; the checker, not this
module, decides whether every path agrees. Standard library only.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass

from flowc.compiler import ir

# A context entry: (split step, the branch child taken out of it).
Context = tuple[tuple[str, str], ...]


def opens_split(step: ir.Step) -> bool:
    """Whether children of ``step`` run in a new split context (split, foreach, parallel); the
    narrower ``Step.fans_out`` says whether they run as indexed tasks (foreach, parallel)."""
    return isinstance(step.transition, (ir.Split, ir.Foreach, ir.Parallel))


def edges(flow: ir.Flow) -> list[tuple[str, str]]:
    """(parent, child) for every transition to a known step, except a switch's self-loop."""
    known = set(flow.step_names)
    out = []
    for step in flow.steps:
        for target in step.transition.targets:
            if target in known and not (target == step.name and isinstance(step.transition, ir.Switch)):
                out.append((step.name, target))
    return out


@dataclass(frozen=True)
class Walk:
    """What the walk from ``start`` found; ``contexts[s]`` is the split context ``s`` runs in."""

    contexts: dict[str, Context]
    order: tuple[str, ...]  # steps reachable from start, in first-visit (depth-first) order

    def edge_context(self, flow_steps: dict[str, ir.Step], parent: str, child: str) -> Context:
        """The context on the edge parent -> child, before a join pops it."""
        context = self.contexts[parent]
        if opens_split(flow_steps[parent]):
            return context + ((parent, child),)
        return context


def walk(flow: ir.Flow) -> Walk:
    steps = {s.name: s for s in flow.steps}
    contexts: dict[str, Context] = {}
    order: list[str] = []
    first = flow.start_step
    if first not in steps:
        return Walk(contexts, ())
    contexts[first] = ()
    order.append(first)
    # Depth-first with an explicit stack (no recursion limit on 2,000-step flows); children are
    # pushed reversed so they are visited in source order.
    stack = [first]
    while stack:
        name = stack.pop()
        step = steps[name]
        children = []
        for target in step.transition.targets:
            if target not in steps or target in contexts:
                continue
            if target == name:
                continue
            context = contexts[name] + (((name, target),) if opens_split(step) else ())
            if steps[target].is_join and context:
                context = context[:-1]
            contexts[target] = context
            order.append(target)
            children.append(target)
        stack.extend(reversed(children))
    return Walk(contexts, tuple(order))


def analyze(flow: ir.Flow) -> ir.Flow:
    """The same flow with ``in_steps``, ``split_parents`` and ``matching_join`` filled in."""
    steps = {s.name: s for s in flow.steps}
    parents: dict[str, list[str]] = {s.name: [] for s in flow.steps}
    for parent, child in edges(flow):
        if parent not in parents[child]:
            parents[child].append(parent)
    result = walk(flow)
    split_parents: dict[str, tuple[str, ...]] = {}
    matching: dict[str, str] = {}
    for name in result.order:
        step = steps[name]
        context = result.contexts[name]
        if step.is_join:
            # Metaflow: a join keeps the split it closes as its innermost split parent.
            incoming = next((result.edge_context(steps, p, name) for p in parents[name] if p in result.contexts),
                            context)
            if len(incoming) > len(context):
                closed = incoming[-1][0]
                matching.setdefault(closed, name)
                context = incoming
        split_parents[name] = tuple(split for split, _ in context)
    new_steps = tuple(
        dataclasses.replace(
            s,
            in_steps=tuple(parents[s.name]),
            split_parents=split_parents.get(s.name, ()),
            matching_join=matching.get(s.name) if opens_split(s) else None,
        )
        for s in flow.steps
    )
    return dataclasses.replace(flow, steps=new_steps)


# --------------------------------------------------------------------------- facts of an analyzed flow


def topological_order(flow: ir.Flow) -> tuple[str, ...]:
    """Steps in a topological order that breaks ties by source order (recursion edges ignored)."""
    position = {name: i for i, name in enumerate(flow.step_names)}
    indegree = dict.fromkeys(position, 0)
    for s in flow.steps:
        for target in set(s.transition.targets):
            if target != s.name and target in indegree:
                indegree[target] += 1
    ready = [position[n] for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = flow.steps[heapq.heappop(ready)].name
        order.append(name)
        for target in set(flow.step(name).transition.targets):
            if target == name or target not in indegree:
                continue
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, position[target])
    return tuple(order)


def enclosing(step: ir.Step) -> tuple[str, ...]:
    """The split, foreach and parallel steps whose region ``step`` runs in, outermost first.

    A join's ``split_parents`` end with the split it closes (Metaflow's convention), but the join
    itself runs outside that region.
    """
    return step.split_parents[:-1] if step.is_join else step.split_parents


def foreach_stack(flow: ir.Flow, step: ir.Step) -> tuple[str, ...]:
    """The foreach and parallel steps enclosing ``step``, outermost first: one per entry of its
    index path."""
    return tuple(p for p in enclosing(step) if flow.step(p).fans_out)
