"""What starts a flow on Argo besides a manual submit: a ``CronWorkflow`` for @schedule and an
Argo Events ``Sensor`` for @trigger / @trigger_on_finish, both referencing the WorkflowTemplate.

@trigger events arrive through one Argo Events event source (``[tool.flowc] argo_events_source``,
default ``flowc-events``, event name ``flowc``, e.g. a webhook) whose payload carries ``name``
(the event's name) and the event's fields. @trigger_on_finish needs no publisher: a ``resource``
event source watching Workflow objects (``argo_workflows_event_source``, default
``flowc-workflows``, event name ``workflows``) reports the upstream workflow, which the sensor
matches by the labels Argo's controller sets (the WorkflowTemplate it came from, phase Succeeded).
"""

from __future__ import annotations

from typing import Any, Callable

from flowc.compiler.diagnostics import ERROR, Diagnostic
from flowc.plan import FlowPlan, Schedule
from flowc.targets import Settings
from flowc.targets import argo_syntax as syn
from flowc.targets.argo_pod import parameter_default_text

API_VERSION = "argoproj.io/v1alpha1"
DEFAULT_EVENT_SOURCE = "flowc-events"
EVENT_NAME = "flowc"
DEFAULT_WORKFLOW_SOURCE = "flowc-workflows"
WORKFLOW_EVENT_NAME = "workflows"
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
PHASE_LABEL = "workflows.argoproj.io/phase"


def cron_workflow(settings: Settings, version: str, schedule: Schedule, template_name: str,
                  name: str, labels: dict[str, str], bad_cron: str) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    if schedule.unix is None:
        return None, [Diagnostic(bad_cron, f"cron {schedule.expression!r} cannot be expressed on argo",
                                 schedule.span, ERROR, "use a 5-field cron expression")]
    meta: dict[str, Any] = {"name": name}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    meta["labels"] = labels
    spec: dict[str, Any] = {}
    if version == "3.5":
        spec["schedule"] = schedule.unix
    else:
        spec["schedules"] = [schedule.unix]
    if schedule.timezone:
        spec["timezone"] = schedule.timezone
    spec["concurrencyPolicy"] = "Allow"
    spec["workflowSpec"] = {"workflowTemplateRef": {"name": template_name}}
    return {"apiVersion": API_VERSION, "kind": "CronWorkflow", "metadata": meta, "spec": spec}, []


def _label_path(label: str) -> str:
    """A gjson path to a label of the watched object (dots in the key escaped)."""
    return "body.metadata.labels." + label.replace(".", "\\.")


def _events(plan: FlowPlan, bad: str) -> tuple[list[tuple[str, dict[str, str]]], list[Diagnostic]]:
    """(event name, {flow parameter: payload field}) for every event that starts the flow; an
    upstream flow's finish is ``("\0finished", {"flow": name})``."""
    out: list[tuple[str, dict[str, str]]] = []
    problems: list[Diagnostic] = []
    for trigger in plan.triggers:
        if trigger.name is None:
            what = "event must be a name or a mapping with 'name' and 'parameters'" if trigger.kind == "event" \
                else "flow must be a flow name"
            problems.append(Diagnostic(bad, f"@{trigger.tag} {what} known at compile time", trigger.span, ERROR))
        elif trigger.kind == "event":
            out.append((trigger.name, dict(trigger.parameters)))
        else:
            out.append(("\0finished", {"flow": trigger.name}))
    return out, problems


def sensors(plan: FlowPlan, settings: Settings, sources: tuple[str, str], template_name: str,
            labels: dict[str, str], bad: str,
            upstream_template: Callable[[str], str]) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """The Sensor; ``sources`` are the event sources of events and of workflow phases;
    ``upstream_template`` names the WorkflowTemplate of an upstream flow."""
    events, problems = _events(plan, bad)
    if not events or problems:
        return [], problems
    dependencies, mapped = _dependencies(plan, events, sources, upstream_template)
    meta: dict[str, Any] = {"name": template_name}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    meta["labels"] = labels
    spec: dict[str, Any] = {}
    if settings.service_account:
        spec["template"] = {"serviceAccountName": settings.service_account}
    spec["dependencies"] = dependencies
    spec["triggers"] = [{"template": {
        "name": template_name,
        "conditions": " || ".join(str(d["name"]) for d in dependencies),
        "argoWorkflow": _submit(plan, template_name, mapped),
    }}]
    return [{"apiVersion": API_VERSION, "kind": "Sensor", "metadata": meta, "spec": spec}], []


def _dependencies(plan: FlowPlan, events: list[tuple[str, dict[str, str]]], sources: tuple[str, str],
                  upstream_template: Callable[[str], str]
                  ) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The sensor's dependencies, and (dependency, parameter, payload field) for each parameter
    an event maps (only the parameters the workflow takes as arguments)."""
    source, workflow_source = sources
    exposed = {p.name for p in plan.flow.parameters if p.default_kind != "runtime"}
    dependencies: list[dict[str, Any]] = []
    names = syn.NameTable()
    mapped = []
    for event, mapping in events:
        if event == "\0finished":
            upstream = mapping["flow"]
            dependencies.append({
                "name": names.allocate(f"{upstream}-finished", "finished:" + upstream),
                "eventSourceName": workflow_source,
                "eventName": WORKFLOW_EVENT_NAME,
                "filters": {"data": [
                    {"path": _label_path(TEMPLATE_LABEL), "type": "string",
                     "value": [upstream_template(upstream)]},
                    {"path": _label_path(PHASE_LABEL), "type": "string", "value": ["Succeeded"]},
                ]},
            })
            continue
        dep = names.allocate(event, event)
        dependencies.append({
            "name": dep,
            "eventSourceName": source,
            "eventName": EVENT_NAME,
            "filters": {"data": [{"path": "body.payload.name", "type": "string", "value": [event]}]},
        })
        mapped += [(dep, param, field) for param, field in mapping.items() if param in exposed]
    return dependencies, mapped


def _submit(plan: FlowPlan, template_name: str, mapped: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The trigger's workflow submission. Each mapped parameter is passed explicitly; an event
    without the field (or another event of the same sensor) falls back to the parameter's
    default, so it is never blanked."""
    flow = plan.flow
    defaults = {p.name: parameter_default_text(p) for p in flow.parameters}
    workflow_args = [{"name": p.name, "value": defaults[p.name] or ""} for p in flow.parameters
                     if any(p.name == q for _, q, _ in mapped)]
    trigger_params = []
    for dep, param, payload_field in mapped:
        index = [a["name"] for a in workflow_args].index(param)
        src: dict[str, Any] = {"dependencyName": dep, "dataKey": f"body.payload.{payload_field}"}
        if defaults[param] is not None:
            src["value"] = defaults[param]
        trigger_params.append({"src": src, "dest": f"spec.arguments.parameters.{index}.value"})
    workflow_spec: dict[str, Any] = {"workflowTemplateRef": {"name": template_name}}
    if workflow_args:
        workflow_spec["arguments"] = {"parameters": workflow_args}
    argo_workflow: dict[str, Any] = {
        "operation": "submit",
        "source": {"resource": {
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "metadata": {"generateName": template_name + "-"},
            "spec": workflow_spec,
        }},
    }
    if trigger_params:
        argo_workflow["parameters"] = trigger_params
    return argo_workflow
