"""What starts a flow on Argo besides a manual submit: a ``CronWorkflow`` for @schedule and an
Argo Events ``Sensor`` for @trigger / @trigger_on_finish, both referencing the WorkflowTemplate.

@trigger events arrive through one Argo Events event source (``[tool.flowc] argo_events_source``,
default ``flowc-events``, event name ``flowc``, e.g. a webhook) whose payload carries ``name``
(the event's name) and the event's fields. @trigger_on_finish needs no publisher: a ``resource``
event source watching Workflow objects (``argo_workflows_event_source``, default
``flowc-workflows``, event name ``workflows``) reports the upstream workflow, which the sensor
matches by the labels Argo's controller sets (the WorkflowTemplate it came from, phase Succeeded).

The Sensor's one trigger waits for all of its dependencies, as Metaflow does, and hands the run
what started it through the WorkflowTemplate's reserved arguments (empty when the run is
submitted by hand), which the start task reads (``flowc.runtime_shim.trigger``):
``flowc-trigger``, the dependencies' descriptions, and for the i-th dependency
``flowc-trigger-data-i`` (the event's payload, or the upstream workflow's name: its run id),
``flowc-trigger-id-i`` and ``flowc-trigger-time-i`` (the event's context id and time).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from flowc.compiler.diagnostics import ERROR, Diagnostic
from flowc.plan import FlowPlan, Schedule
from flowc.runtime_shim.trigger import ARGO_TRIGGER, argo_arguments
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


def _gjson_key(key: str) -> str:
    """``key`` as one component of a gjson path: every character but letters, digits, ``_``,
    ``-`` and ``:`` escaped with ``\\`` (gjson's own escaping), so a payload field such as
    ``size.kb`` or ``a*b`` is read as it is named."""
    return re.sub(r"([^A-Za-z0-9_:\-])", r"\\\1", key)


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
            out.append((trigger.name, dict(plan.payload_mapping(trigger))))
        else:
            out.append(("\0finished", {"flow": trigger.name}))
    return out, problems


def trigger_arguments(plan: FlowPlan) -> tuple[str, ...]:
    """The reserved workflow arguments of a triggered flow (none for any other)."""
    if not plan.triggers:
        return ()
    return (ARGO_TRIGGER, *(name for index in range(len(plan.triggers)) for name in argo_arguments(index)))


@dataclass(frozen=True, slots=True)
class _Dependency:
    """One dependency of the sensor and what it hands the run: its description (an entry of
    ``flowc-trigger``), where its data lies in the event and the parameters it maps,
    (flow parameter, payload field)."""

    spec: dict[str, Any]
    described: dict[str, str]
    data_key: str
    mapped: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return str(self.spec["name"])


def sensors(plan: FlowPlan, settings: Settings, sources: tuple[str, str], template_name: str,
            labels: dict[str, str], bad: str,
            upstream_template: Callable[[str], str]) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """The Sensor; ``sources`` are the event sources of events and of workflow phases;
    ``upstream_template`` names the WorkflowTemplate of an upstream flow. Its one trigger waits
    for every dependency, as Metaflow starts a flow once all of its events (or upstream flows)
    have arrived."""
    events, problems = _events(plan, bad)
    if not events or problems:
        return [], problems
    dependencies = _dependencies(plan, events, sources, upstream_template)
    meta: dict[str, Any] = {"name": template_name}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    meta["labels"] = labels
    spec: dict[str, Any] = {}
    if settings.service_account:
        spec["template"] = {"serviceAccountName": settings.service_account}
    spec["dependencies"] = [d.spec for d in dependencies]
    spec["triggers"] = [{"template": {
        "name": template_name,
        "conditions": " && ".join(d.name for d in dependencies),
        "argoWorkflow": _submit(plan, template_name, dependencies),
    }}]
    return [{"apiVersion": API_VERSION, "kind": "Sensor", "metadata": meta, "spec": spec}], []


def _dependencies(plan: FlowPlan, events: list[tuple[str, dict[str, str]]], sources: tuple[str, str],
                  upstream_template: Callable[[str], str]) -> list[_Dependency]:
    """The sensor's dependencies, each with the parameters its event maps (only those the
    workflow takes as arguments)."""
    source, workflow_source = sources
    exposed = [p.name for p in plan.flow.parameters if p.default_kind != "runtime"]
    names = syn.NameTable()
    out = []
    for event, mapping in events:
        if event == "\0finished":
            upstream = mapping["flow"]
            out.append(_Dependency({
                "name": names.allocate(f"{upstream}-finished", "finished:" + upstream),
                "eventSourceName": workflow_source,
                "eventName": WORKFLOW_EVENT_NAME,
                "filters": {"data": [
                    {"path": _label_path(TEMPLATE_LABEL), "type": "string",
                     "value": [upstream_template(upstream)]},
                    {"path": _label_path(PHASE_LABEL), "type": "string", "value": ["Succeeded"]},
                ]},
            }, {"type": "run", "flow": upstream.rsplit(".", 1)[-1]}, "body.metadata.name"))
            continue
        out.append(_Dependency({
            "name": names.allocate(event, event),
            "eventSourceName": source,
            "eventName": EVENT_NAME,
            "filters": {"data": [{"path": "body.payload.name", "type": "string", "value": [event]}]},
        }, {"type": "event", "name": event}, "body.payload",
            tuple((param, mapping[param]) for param in exposed if param in mapping)))
    return out


def _submit(plan: FlowPlan, template_name: str, dependencies: list[_Dependency]) -> dict[str, Any]:
    """The trigger's workflow submission. Each mapped parameter is passed explicitly; an event
    without the field falls back to the parameter's default, so it is never blanked (a parameter
    several events map takes the last one's). The reserved arguments tell the start task what
    started the run (``flowc.runtime_shim.trigger``): the dependencies' descriptions, then each
    one's event data, id and time."""
    defaults = {p.name: parameter_default_text(p) for p in plan.flow.parameters}
    arguments: list[dict[str, str]] = []
    sources: list[tuple[str, int, dict[str, Any]]] = []  # (dependency, argument, src)

    def argument(name: str, value: str) -> int:
        for index, existing in enumerate(arguments):
            if existing["name"] == name:
                return index
        arguments.append({"name": name, "value": value})
        return len(arguments) - 1

    for dependency in dependencies:
        for param, payload_field in dependency.mapped:
            src: dict[str, Any] = {"dataKey": "body.payload." + _gjson_key(payload_field)}
            if defaults[param] is not None:
                src["value"] = defaults[param]
            sources.append((dependency.name, argument(param, defaults[param] or ""), src))
    argument(ARGO_TRIGGER, json.dumps([d.described for d in dependencies], separators=(",", ":")))
    for position, dependency in enumerate(dependencies):
        data, event_id, time = argo_arguments(position)
        for name, src in ((data, {"dataKey": dependency.data_key}), (event_id, {"contextKey": "id"}),
                          (time, {"contextKey": "time"})):
            sources.append((dependency.name, argument(name, ""), src))
    return {
        "operation": "submit",
        "source": {"resource": {
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "metadata": {"generateName": template_name + "-"},
            "spec": {"workflowTemplateRef": {"name": template_name}, "arguments": {"parameters": arguments}},
        }},
        "parameters": [{"src": {"dependencyName": name, **src}, "dest": f"spec.arguments.parameters.{index}.value"}
                       for name, index, src in sources],
    }

