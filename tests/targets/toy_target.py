"""A fourth target written as one module, as a plugin author would: it prints the plan as JSON.

Loaded with ``FLOWC_TARGETS=tests.targets.toy_target``; nothing else in flowc names it. It refuses
@exit_hook through its capability table, has a setting of its own, and a diagnostic code.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from flowc.compiler.diagnostics import WARNING, Diagnostic, register
from flowc.plan import CONSTRUCTS, FlowPlan
from flowc.targets import (Settings, Target, TargetSettings, refused, register_target, setting,
                           supported)

NO_HOOKS = register("FLOW290", "@exit_hook on toy", """
The toy target prints plans; it has nothing to run a hook with.""")
LOUD = register("FLOW291", "toy's indent setting is large", """
An indent over 8 makes the toy output hard to read.""")


@dataclass(frozen=True, slots=True)
class ToySettings(TargetSettings):
    indent: int = setting(2, "spaces of JSON indentation")


@register_target
class ToyTarget(Target):
    name = "toy"
    title = "Toy"
    extension = ".json"
    settings_type = ToySettings
    capabilities = {
        **{key: supported("printed") for key, _ in CONSTRUCTS},
        "exit_hook": refused(NO_HOOKS, "remove @exit_hook"),
    }

    def check(self, plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
        indent = settings.of(ToySettings).indent
        if indent > 8:
            return [Diagnostic(LOUD, f"indent {indent} is large", plan.flow.span, WARNING)]
        return []

    def render(self, plan: FlowPlan, settings: Settings) -> tuple[str, list[Diagnostic]]:
        steps = [{"name": s.name, "kind": s.kind, "foreach_stack": list(s.foreach_stack),
                  "resources": dataclasses.asdict(s.resources)} for s in plan.steps]
        text = json.dumps({"flow": plan.name, "steps": steps}, indent=settings.of(ToySettings).indent)
        return text + "\n", []
