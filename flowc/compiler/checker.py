"""The checker: Metaflow's lint over the analyzed IR, plus flowc's own rules.

It never stops at the first problem. Checks that only make sense on a well-formed graph (loops,
reachability, split/join balance) run only when every transition could be read and names a
known step, so one typo produces one diagnostic instead of a cascade.
"""

from __future__ import annotations

import difflib
import re

from flowc.compiler import ir
from flowc.compiler.diagnostics import Diagnostic, register
from flowc.compiler.frontend import Lowered
from flowc.compiler.graph import Walk, edges, fans_out, walk
from flowc.compiler.parameters import DUPLICATE_PARAMETER

RESERVED_STEP = register("FLOW010", "reserved step name", """
`name`, `next`, `input`, `index` and `cmd` are attributes of every flow; a step cannot use them.""")
INVALID_STEP_NAME = register("FLOW011", "invalid step name", """
Step names may contain only lowercase ASCII letters, digits and underscores (they become task
names on every orchestrator).""")
MISSING_START = register("FLOW012", "no start step", """
Every flow needs a `@step` named `start`: the flow begins there.""")
MISSING_END = register("FLOW013", "no end step", """
Every flow needs a `@step` named `end`: the flow finishes there.""")
END_IS_JOIN = register("FLOW017", "start or end step takes inputs", """
The `start` step has no parent and the `end` step must not be a join: add a separate join step
before `end`.""")
UNKNOWN_TARGET = register("FLOW022", "transition to an unknown step", """
`self.next(...)` names a step that the flow does not define (or a method without `@step`).""")
SWITCH_CASES = register("FLOW026", "switch with fewer than two cases", """
A switch (`self.next({...}, condition=...)`) must offer at least two cases; with one, use a
plain `self.next(self.step)`.""")
LOOP = register("FLOW030", "loop in the flow", """
Flows are acyclic. The one exception is a switch step with a case leading back to itself
(recursion); any other path back to an earlier step is an error.""")
UNREACHABLE = register("FLOW031", "unreachable step", """
No path from `start` leads to this step: call `self.next(self.<step>)` from another step, or
remove it.""")
JOIN_WITHOUT_SPLIT = register("FLOW032", "join without a split", """
The step takes `inputs` (a join) but no split, foreach or parallel step precedes it.""")
JOIN_BALANCE = register("FLOW033", "join does not match its split", """
A join must receive a path from every branch of the split it closes. A branch may reach the join
by several paths only through a switch (its cases, or a recursive step's exit case, may lead
straight into the join): only one case runs, so the join still gets one input per branch, as in
Metaflow.""")
SPLIT_NOT_JOINED = register("FLOW034", "split never joined", """
The `end` step is reached while a split, foreach or parallel step is still open: add a join step
(a step taking `inputs`) before `end`.""")
UNRELATED_JOIN = register("FLOW035", "join of unrelated splits", """
The join's incoming paths come from different splits (or different nesting levels). Every split
needs its own join, innermost first.""")
EMPTY_FOREACH = register("FLOW036", "foreach directly followed by its join", """
A foreach (or parallel) step must lead to at least one step that runs per item before the join.""")
MERGE_WITHOUT_JOIN = register("FLOW038", "branches merge without a join", """
Several branches of a split lead to a step that does not take `inputs`. Make it a join step
(`def step(self, inputs)`) or end each branch separately.""")
PARALLEL_UNDECORATED = register("FLOW040", "num_parallel target without @parallel", """
`self.next(self.x, num_parallel=N)` runs `x` as a gang of N tasks, so `x` needs `@parallel`.""")
PARALLEL_NOT_CALLED = register("FLOW041", "@parallel step not called with num_parallel", """
A `@parallel` step must be reached only through `self.next(self.x, num_parallel=N)`.""")
PARALLEL_NOT_JOINED = register("FLOW042", "@parallel step not followed by a join", """
A `@parallel` step must be followed directly by a join step.""")
PARAMETER_CLASH = register("FLOW075", "parameter clashes with a step", """
A parameter's attribute has the same name as a step or a reserved flow attribute (`name`,
`next`, `input`, `index`, `cmd`, `foreach_stack`, `script_name`): one would hide the other, and
Metaflow never treats such an attribute as a parameter. Rename the attribute; the parameter's
own name (its first argument, the command-line option) may stay, e.g.
`who = Parameter("name", ...)`.""")

RESERVED_STEP_NAMES = frozenset({"name", "next", "input", "index", "cmd"})
# Attributes Metaflow never reads as parameters (they are the flow's own).
RESERVED_ATTRIBUTES = RESERVED_STEP_NAMES | {"foreach_stack", "script_name"}
_STEP_NAME = re.compile(r"^[a-z0-9_]+$")


class _Checker:
    def __init__(self, flow: ir.Flow, lowered: Lowered):
        self.flow = flow
        self.lowered = lowered
        self.steps = {s.name: s for s in flow.steps}
        self.out: list[Diagnostic] = []

    def error(self, code: str, message: str, span: ir.Span, hint: str | None = None) -> None:
        self.out.append(Diagnostic(code, message, span, hint=hint))

    def target_span(self, step: ir.Step, target: str) -> ir.Span:
        return self.lowered.target_spans.get((step.name, target)) or step.next_span or step.span

    def run(self) -> list[Diagnostic]:
        self.names()
        self.start_and_end()
        self.parameters()
        known = self.transitions()
        if known and "start" in self.steps:
            graph = walk(self.flow)
            # A loop makes the steps after it unreachable and its contexts meaningless: report
            # the loop alone.
            if not self.loops():
                self.unreachable(graph)
                self.balance(graph)
            self.parallel()
        return self.out

    def names(self) -> None:
        for step in self.flow.steps:
            if step.name in RESERVED_STEP_NAMES:
                self.error(RESERVED_STEP, f"step name '{step.name}' is reserved", step.span,
                           "choose another name")
            elif not _STEP_NAME.match(step.name):
                self.error(INVALID_STEP_NAME, f"step name '{step.name}' is invalid: use lowercase letters, "
                           "digits and underscores", step.span, f"e.g. '{step.name.lower()}'")

    def start_and_end(self) -> None:
        for name, code in (("start", MISSING_START), ("end", MISSING_END)):
            step = self.steps.get(name)
            if step is None:
                hint = (f"method '{name}' is not decorated with @step" if name in self.lowered.helper_methods
                        else f"add a @step method named '{name}'")
                self.error(code, f"flow {self.flow.name} has no '{name}' step", self.flow.span, hint)
            elif step.is_join:
                self.error(END_IS_JOIN, f"the {name} step must not take inputs", step.span,
                           "add a join step before end" if name == "end" else "remove the inputs argument")

    def parameters(self) -> None:
        seen: dict[str, ir.Parameter] = {}
        attributes: dict[str, ir.Parameter] = {}
        for param in self.flow.parameters:
            first = seen.get(param.name.lower())
            if first is not None:
                self.error(DUPLICATE_PARAMETER, f"parameter name {param.name!r} is already used at line "
                           f"{first.span.line}", param.span)
            elif param.attribute in attributes:
                self.error(DUPLICATE_PARAMETER, f"attribute '{param.attribute}' is assigned twice",
                           param.span)
            seen.setdefault(param.name.lower(), param)
            attributes.setdefault(param.attribute, param)
            if param.attribute in self.steps or param.attribute in RESERVED_ATTRIBUTES:
                what = "a step" if param.attribute in self.steps else "a reserved flow attribute"
                self.error(PARAMETER_CLASH, f"parameter attribute '{param.attribute}' is also {what}",
                           param.span, f"rename the attribute, e.g. {param.attribute}_value = "
                           f"Parameter({param.name!r}, ...); the option stays --{param.name}")

    def transitions(self) -> bool:
        """Unknown targets and switch shapes; whether the graph is well-formed enough to walk."""
        ok = not self.lowered.invalid_transitions
        names = list(self.steps)
        for step in self.flow.steps:
            for target in step.transition.targets:
                if target in self.steps:
                    continue
                ok = False
                if target in self.lowered.helper_methods:
                    hint = f"method '{target}' is not decorated with @step"
                else:
                    close = difflib.get_close_matches(target, names, n=1)
                    hint = f"did you mean '{close[0]}'?" if close else None
                self.error(UNKNOWN_TARGET, f"step '{step.name}' transitions to unknown step '{target}'",
                           self.target_span(step, target), hint)
            if isinstance(step.transition, ir.Switch):
                if len(step.transition.cases) < 2:
                    self.error(SWITCH_CASES, f"switch in step '{step.name}' has fewer than two cases",
                               step.next_span or step.span, "use self.next(self.<step>) instead")
        return ok

    def loops(self) -> bool:
        adjacency: dict[str, list[str]] = {name: [] for name in self.steps}
        for parent, child in edges(self.flow):
            adjacency[parent].append(child)
        state: dict[str, int] = {}  # 1 on the DFS stack, 2 done
        found = False
        for root in self.steps:
            if root in state:
                continue
            path = [root]
            iterators = [iter(adjacency[root])]
            state[root] = 1
            while iterators:
                child = next(iterators[-1], None)
                if child is None:
                    state[path.pop()] = 2
                    iterators.pop()
                    continue
                if state.get(child) == 1:
                    cycle = path[path.index(child):] + [child]
                    parent = self.steps[path[-1]]
                    self.error(LOOP, "loop in the flow: " + " -> ".join(cycle),
                               self.target_span(parent, child),
                               "only a switch may loop, and only back to itself")
                    found = True
                elif child not in state:
                    state[child] = 1
                    path.append(child)
                    iterators.append(iter(adjacency[child]))
        return found

    def unreachable(self, graph: Walk) -> None:
        for step in self.flow.steps:
            if step.name not in graph.contexts:
                self.error(UNREACHABLE, f"step '{step.name}' is unreachable from start", step.span,
                           f"call self.next(self.{step.name}) from another step, or remove it")

    def balance(self, graph: Walk) -> None:
        reported = len(self.out)
        for step in self.flow.steps:
            if step.name not in graph.contexts:
                continue
            parents = [p for p in step.in_steps if p in graph.contexts]
            incoming = [graph.edge_context(self.steps, p, step.name) for p in parents]
            if step.is_join:
                self.join(step, parents, incoming)
            elif len({c for c in incoming}) > 1 and step.name == "end":
                splits = ", ".join(f"'{s}'" for s in sorted({c[-1][0] for c in incoming if c}))
                self.error(SPLIT_NOT_JOINED, f"the end step is reached before the split at {splits} is joined",
                           step.span, "add a join step (taking inputs) before end")
            elif len({c for c in incoming}) > 1:
                splits = sorted({c[-1][0] for c in incoming if c})
                self.error(MERGE_WITHOUT_JOIN, f"step '{step.name}' is reached from several branches"
                           + (f" of '{splits[0]}'" if len(splits) == 1 else "") + " but is not a join",
                           step.span, f"make it a join: def {step.name}(self, inputs)")
        end = self.steps.get("end")
        # An unbalanced join upstream already explains an open split at end: no cascade.
        if end is not None and graph.contexts.get("end") and len(self.out) == reported:
            open_splits = ", ".join(f"'{s}'" for s, _ in graph.contexts["end"])
            self.error(SPLIT_NOT_JOINED, f"the end step is reached before the split at {open_splits} "
                       "is joined", end.span, "add a join step (taking inputs) before end")

    def join(self, step: ir.Step, parents: list[str], incoming: list[tuple]) -> None:
        if not incoming:
            return
        if all(not c for c in incoming):
            self.error(JOIN_WITHOUT_SPLIT, f"step '{step.name}' takes inputs but no split precedes it",
                       step.span, "remove the inputs argument, or add a split before it")
            return
        splits = {c[-1][0] if c else None for c in incoming}
        outer = {c[:-1] for c in incoming}
        if len(splits) > 1 or len(outer) > 1:
            named = ", ".join(f"'{s}'" for s in sorted(s for s in splits if s))
            self.error(UNRELATED_JOIN, f"join step '{step.name}' joins steps from unrelated splits ({named})",
                       step.span, "every split needs its own join, innermost first")
            return
        split = self.steps[next(iter(splits))]
        if isinstance(split.transition, (ir.Foreach, ir.Parallel)):
            if split.name in parents:
                kind = "foreach" if isinstance(split.transition, ir.Foreach) else "parallel"
                self.error(EMPTY_FOREACH, f"{kind} step '{split.name}' is directly followed by its join "
                           f"'{step.name}'", self.target_span(split, step.name),
                           "add at least one step between them")
            return
        branches = set(split.transition.targets)
        # Within one branch only a switch can fork paths, and only one of its cases runs, so
        # several parents per branch are fine: every branch must be covered.
        covered = {c[-1][1] for c in incoming}
        if covered != branches:
            missing = sorted(branches - covered)
            detail = f"; missing the branch from {', '.join(repr(b) for b in missing)}" if missing else ""
            self.error(JOIN_BALANCE, f"join step '{step.name}' expects {len(branches)} paths from split "
                       f"'{split.name}', got {len(parents)}{detail}", step.span)

    def parallel(self) -> None:
        for step in self.flow.steps:
            if isinstance(step.transition, ir.Parallel):
                target = self.steps.get(step.transition.target)
                if target is not None and target.decorator(ir.ParallelDecorator) is None:
                    self.error(PARALLEL_UNDECORATED, f"step '{target.name}' is called with num_parallel "
                               "but has no @parallel decorator", self.target_span(step, target.name),
                               f"add @parallel above @step on '{target.name}'")
            if step.decorator(ir.ParallelDecorator) is None:
                continue
            callers = [self.steps[p] for p in step.in_steps]
            wrong = [c for c in callers if not isinstance(c.transition, ir.Parallel)]
            if wrong or not callers:
                caller = wrong[0].name if wrong else None
                self.error(PARALLEL_NOT_CALLED, f"@parallel step '{step.name}' is not called with "
                           "self.next(..., num_parallel=N)" + (f" from step '{caller}'" if caller else ""),
                           step.decorator(ir.ParallelDecorator).span)
            following = self.steps.get(step.transition.targets[0]) if step.transition.targets else None
            if not isinstance(step.transition, ir.Linear) or following is None or not following.is_join:
                self.error(PARALLEL_NOT_JOINED, f"@parallel step '{step.name}' must be followed directly "
                           "by a join step", step.next_span or step.span)


def check(flow: ir.Flow, lowered: Lowered) -> list[Diagnostic]:
    """All checker diagnostics for an analyzed flow (``graph.analyze`` already applied)."""
    return _Checker(flow, lowered).run()


__all__ = ["check", "fans_out"]
