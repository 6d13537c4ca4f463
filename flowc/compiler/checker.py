"""The checker: Metaflow's lint over the analyzed IR, plus flowc's own rules.

It never stops at the first problem. Checks that only make sense on a well-formed graph (loops,
reachability, split/join balance) run only when every transition could be read and names a
known step, so one typo produces one diagnostic instead of a cascade.
"""

from __future__ import annotations

import difflib
import re

from flowc.compiler import ir
from flowc.compiler.diagnostics import WARNING, Diagnostic, register
from flowc.compiler.frontend import Lowered
from flowc.compiler.graph import Walk, edges, walk
from flowc.compiler.parameters import DUPLICATE_PARAMETER

RESERVED_STEP = register("FLOW010", "reserved step name", """
`name`, `next`, `input`, `index` and `cmd` are attributes of every flow; a step cannot use them.""")
INVALID_STEP_NAME = register("FLOW011", "invalid step name", """
Step names may contain only lowercase ASCII letters, digits and underscores (they become task
names on every orchestrator).""")
MISSING_START = register("FLOW012", "no start step", """
Every flow needs a start step: a `@step` named `start`, or one marked `@step(start=True)`; the flow
begins there.""")
MISSING_END = register("FLOW013", "no end step", """
Every flow needs an end step: a `@step` named `end`, or one marked `@step(end=True)`; the flow
finishes there.""")
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
UNSET_ATTRIBUTE = register("FLOW024", "foreach over an attribute never assigned", """
`self.next(..., foreach="items")` fans out over `self.items`: the attribute must exist when the
step ends. No step on the way to this one assigns
it (`self.items = ...`), and it is not a parameter or a class attribute, so every run would fail
there. Usually a typo: see the hint.""")
UNSEEN_ATTRIBUTE = register("FLOW025", "cannot tell whether the foreach attribute is set", """
The attribute named by `foreach=` is not assigned visibly by this step or any
step before it, but some code may set it where flowc cannot see (`setattr(self, ...)`, a helper
method called as `self.helper()`, `self.merge_artifacts(inputs)`, a base class from another
module). A warning: check the name, or assign it with `self.<name> = ...` in the step.""")
UNDEFINED_DECORATOR = register("FLOW063", "decorator name is not defined", """
A decorator's name is neither imported nor defined in the module (nor a builtin), so Python
raises `NameError` when the flow file is loaded and every task fails. Usually a typo of a flowc
or Metaflow decorator, or a missing import: see the hint. (A decorator that is imported or
defined but unknown to flowc is only a warning, FLOW052.)""")

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
        if known and self.flow.start_step in self.steps:
            graph = walk(self.flow)
            # A loop makes the steps after it unreachable and its contexts meaningless: report
            # the loop alone.
            if not self.loops():
                self.unreachable(graph)
                self.balance(graph)
            self.parallel()
            self.fan_out_attributes()
        self.undefined_decorators()
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
        ends = (("start", self.flow.start_step, MISSING_START), ("end", self.flow.end_step, MISSING_END))
        for role, name, code in ends:
            step = self.steps.get(name)
            if step is None:
                hint = (f"method '{name}' is not decorated with @step" if name in self.lowered.helper_methods
                        else f"add a @step method named '{role}', or mark one @step({role}=True)")
                self.error(code, f"flow {self.flow.name} has no '{name}' step", self.flow.span, hint)
            elif step.is_join:
                called = f"the {role} step" + ("" if name == role else f" '{name}'")
                self.error(END_IS_JOIN, f"{called} must not take inputs", step.span,
                           f"add a join step before {name}" if role == "end" else "remove the inputs argument")

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
                hint: str | None
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
        for source, destination in edges(self.flow):
            adjacency[source].append(destination)
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
            elif len({c for c in incoming}) > 1 and step.name == self.flow.end_step:
                splits = ", ".join(f"'{s}'" for s in sorted({c[-1][0] for c in incoming if c}))
                self.error(SPLIT_NOT_JOINED, f"the end step is reached before the split at {splits} is joined",
                           step.span, "add a join step (taking inputs) before end")
            elif len({c for c in incoming}) > 1:
                split_names = sorted({c[-1][0] for c in incoming if c})
                self.error(MERGE_WITHOUT_JOIN, f"step '{step.name}' is reached from several branches"
                           + (f" of '{split_names[0]}'" if len(split_names) == 1 else "") + " but is not a join",
                           step.span, f"make it a join: def {step.name}(self, inputs)")
        end = self.steps.get(self.flow.end_step)
        # An unbalanced join upstream already explains an open split at end: no cascade.
        if end is not None and graph.contexts.get(end.name) and len(self.out) == reported:
            would_be = self.would_be_join(graph, {s for s, _ in graph.contexts[end.name]})
            open_splits = ", ".join(f"'{s}'" for s, _ in graph.contexts[end.name])
            if would_be is not None:
                self.error(SPLIT_NOT_JOINED, f"step '{would_be.name}' looks like the join of the split at "
                           f"{open_splits} but takes no inputs", would_be.span,
                           f"make it a join: def {would_be.name}(self, inputs)")
            else:
                self.error(SPLIT_NOT_JOINED, f"the end step is reached before the split at {open_splits} "
                           "is joined", end.span, "add a join step (taking inputs) before end")

    def would_be_join(self, graph: Walk, splits: set[str]) -> ir.Step | None:
        """The step inside an unjoined split that was meant to join it: it reads ``inputs``, or
        failing that is named like a join; ``None`` when no step says so."""
        facts = self.lowered.facts
        inside = [s for s in self.flow.steps if s.name != self.flow.end_step and not s.is_join
                  and any(split in splits for split, _ in graph.contexts.get(s.name, ()))]
        reading = [s for s in inside if facts is not None and facts.writes(s.name).reads_inputs]
        named = [s for s in inside if "join" in s.name]
        return next(iter(reading or named), None)

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
        split = self.steps[next(s for s in splits if s)]  # the one split: the cases above returned
        if split.fans_out:
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

    def fan_out_attributes(self) -> None:
        """``foreach="itms"``: the attribute fanned out over must be set on the way here."""
        facts = self.lowered.facts
        if facts is None:
            return
        for step in self.flow.steps:
            if not isinstance(step.transition, ir.Foreach):
                continue
            attribute = step.transition.items
            ancestors = self.ancestors(step)
            writes = [facts.writes(s.name) for s in ancestors]
            visible = {a for w in writes for a in w.assigned} | facts.class_names | RESERVED_STEP_NAMES
            visible |= {p.attribute for p in self.flow.parameters}
            if attribute in visible:
                continue
            span = step.next_span or step.span
            hidden = next((w.hidden for w in writes if w.hidden), None) or (
                f"base class {facts.opaque_base}" if facts.opaque_base else None)
            if hidden is not None:
                self.out.append(Diagnostic(
                    UNSEEN_ATTRIBUTE, f"step '{step.name}' has foreach='{attribute}', but no step up to "
                    f"it visibly assigns self.{attribute} ({hidden} may)", span, WARNING,
                    hint=f"assign it with self.{attribute} = ... in '{step.name}'"))
                continue
            close = difflib.get_close_matches(attribute, sorted(visible - RESERVED_STEP_NAMES), n=1)
            if attribute in writes[0].local_names:
                hint = f"'{attribute}' is a local variable of '{step.name}': assign self.{attribute} instead"
            elif close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"assign self.{attribute} in '{step.name}'"
            self.error(UNSET_ATTRIBUTE, f"step '{step.name}' has foreach='{attribute}', but no step up "
                       f"to it assigns self.{attribute}", span, hint)

    def ancestors(self, step: ir.Step) -> list[ir.Step]:
        """``step`` and every step with a path to it."""
        seen = {step.name}
        order = [step]
        for current in order:
            for parent in current.in_steps:
                if parent not in seen and parent in self.steps:
                    seen.add(parent)
                    order.append(self.steps[parent])
        return order

    def undefined_decorators(self) -> None:
        """``@retyr(times=2)``: a decorator whose name the module never binds is a NameError."""
        facts = self.lowered.facts
        if facts is None:
            return
        records = [*self.flow.decorators, *(d for s in self.flow.steps for d in s.decorators)]
        for record in records:
            if not isinstance(record, ir.UnknownDecorator) or not _DOTTED.match(record.name):
                continue
            head = record.name.split(".")[0]
            if facts.binds(head) is not False:
                continue
            known = sorted({*ir.STEP_DECORATORS, *ir.FLOW_DECORATORS})
            close = difflib.get_close_matches(record.name.rsplit(".", 1)[-1], known, n=1)
            hint = (f"did you mean '@{close[0]}'? (and import it)" if close
                    else f"import {head} or define it in the module")
            self.error(UNDEFINED_DECORATOR, f"decorator @{record.name} is not defined: '{head}' is "
                       "neither imported nor defined in the module", record.span, hint)


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def supersede(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop the front end's "unknown decorator" warning where the checker found the name undefined
    (one problem, one diagnostic)."""
    undefined = {d.span for d in diagnostics if d.code == UNDEFINED_DECORATOR}
    return [d for d in diagnostics if not (d.code == "FLOW052" and d.span in undefined)]


def check(flow: ir.Flow, lowered: Lowered) -> list[Diagnostic]:
    """All checker diagnostics for an analyzed flow (``graph.analyze`` already applied)."""
    return _Checker(flow, lowered).run()


__all__ = ["check", "supersede"]
