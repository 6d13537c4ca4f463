"""@exit_hook on Argo: the workflow's ``onExit`` handler, one pod running the shim's exit-hook mode
with ``{{workflow.status}}`` (Succeeded, Failed or Error), which picks on_success or on_error.

Argo marks a workflow failed when its exit handler fails; the shim's hook mode exits 0 once the
hooks ran (a hook's failure is reported in its log and the run record), so only a handler that
could not run at all (no image, no datastore) shows on the workflow.
"""

from __future__ import annotations

from typing import Any

from flowc.plan import FlowPlan, Resources
from flowc.targets import common
from flowc.targets import argo_syntax as syn
from flowc.targets.base import Settings
from flowc.targets.exit_hooks import has_exit_hooks, hook_argv

HANDLER = "exit-hooks"


def add_exit_handler(spec: dict[str, Any], plan: FlowPlan, settings: Settings,
                     templates: syn.NameTable) -> None:
    """Set ``spec.onExit`` and append its template when the flow has exit hooks."""
    if not has_exit_hooks(plan):
        return
    name = templates.allocate(HANDLER, "exit-hooks")
    argv = hook_argv(plan, settings, run_id=syn.workflow_name(), status=syn.ref("workflow", "status"))
    spec["onExit"] = name
    spec["templates"].append({"name": name, "container": {
        "image": settings.image,
        "command": [syn.container_text(a) for a in argv],
        "resources": common.kubernetes_resources(Resources()),
    }})
