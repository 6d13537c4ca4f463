"""@trigger / @trigger_on_finish on Step Functions: EventBridge rules in the CloudFormation
template that start the state machine (the ASL format has nowhere to put them: FLOW232).

The event shape (what ``flowc trigger --event NAME --payload JSON`` publishes, and what a rule
matches): an EventBridge event on the ``sfn_event_bus`` bus (default ``flowc``; create it once
with ``aws events create-event-bus --name flowc``) with ``Source`` ``flowc``, ``DetailType`` the
event's name and ``Detail`` the payload, a JSON object.

Each event and each upstream flow is one ``AWS::Events::Rule`` targeting the machine with a role
allowed ``states:StartExecution`` on it. Its input transformer hands the execution the event
under the shim's ``flowc:trigger`` key (``flowc.runtime_shim.trigger``): for an event its id,
time, the whole payload and the parameter mapping, for an upstream flow's success (the
``Step Functions Execution Status Change`` event of the upstream machine, on the default bus)
the upstream run (its execution name). The start task applies the mapping itself: a payload
without a mapped field leaves that parameter's default, which a transformer cannot express
(it has no value for a path the event lacks).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, register
from flowc.plan import FlowPlan, Trigger
from flowc.runtime_shim.trigger import TRIGGER_KEY
from flowc.targets import Settings, common
from flowc.targets.sfn_asl import SfnSettings

SOURCE = "flowc"
STATUS_CHANGE = "Step Functions Execution Status Change"
MACHINE_NAME_LIMIT = 80
_ARN_PREFIX = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"

NEEDS_CFN = register("FLOW232", "@trigger / @trigger_on_finish in the ASL format", """
An event trigger is an EventBridge rule next to the state machine, which an ASL definition
cannot hold: compile with --sfn-format cloudformation (or sfn_format = "cloudformation"), whose
template creates the rules and the role that lets EventBridge start the machine.""")
BAD_TRIGGER = register("FLOW255", "@trigger / @trigger_on_finish EventBridge cannot express", """
Each @trigger event must be a name (or a {"name": ..., "parameters": ...} mapping) known at
compile time, without '<' or '>' (an input transformer's placeholders), whose parameter mapping
names parameters of the flow; each @trigger_on_finish flow a flow name ('Flow', or
'project.branch.Flow' for another @project branch). Other keys (project, project_branch, ...)
are not carried on Step Functions: qualify the flow name instead.""")
ANY_EVENT = register("FLOW256", "@trigger with several events on sfn", """
Metaflow starts a flow with @trigger(events=[a, b]) when all of the events have arrived.
EventBridge rules do not correlate events: on Step Functions each event starts a run by itself.""")


# --------------------------------------------------------------------------- checks


def check(plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
    """The ASL format's refusal, and the triggers a rule cannot carry."""
    if not plan.triggers:
        return []
    if settings.of(SfnSettings).format != "cloudformation":
        spans = {(t.span, t.tag) for t in plan.triggers}
        return [Diagnostic(NEEDS_CFN, f"@{tag} cannot be expressed on AWS Step Functions in the ASL "
                           "format: its EventBridge rule needs the CloudFormation format", span, ERROR,
                           "compile with --sfn-format cloudformation (sfn_format = \"cloudformation\") and "
                           "deploy the template with aws cloudformation deploy (flowc deploy --target sfn "
                           "deploys the ASL format)")
                for span, tag in sorted(spans, key=lambda s: (s[0].line, s[1]))]
    out = [problem for t in plan.triggers for problem in _problems(plan.flow, t)]
    seen: set[tuple[ir.Span, str]] = set()
    for trigger in plan.triggers:
        key = (trigger.span, trigger.tag)
        if trigger.kind == "event" and key not in seen and sum(
                (t.span, t.tag) == key for t in plan.triggers) > 1:
            out.append(Diagnostic(ANY_EVENT, "@trigger with several events: on Step Functions each "
                                  "event starts a run by itself (Metaflow waits for all of them)",
                                  trigger.span, WARNING, "publish one event, or accept a run per event"))
        seen.add(key)
    return out


def _problems(flow: ir.Flow, trigger: Trigger) -> list[Diagnostic]:
    def bad(what: str, hint: str) -> Diagnostic:
        return Diagnostic(BAD_TRIGGER, f"@{trigger.tag} {what}", trigger.span, ERROR, hint)

    if trigger.name is None:
        article = "an" if trigger.kind == "event" else "a"
        return [bad(f"needs {article} {trigger.kind} name known at compile time",
                    f"write @{trigger.tag}({trigger.kind}=\"name\")")]
    if trigger.options:
        return [bad(f"options {', '.join(trigger.options)} cannot be expressed on AWS Step Functions",
                    "qualify the flow name (project.branch.Flow) instead")]
    texts = [trigger.name, *(v for pair in trigger.parameters for v in pair)]
    if any("<" in t or ">" in t for t in texts):
        return [bad(f"{trigger.kind} {trigger.name!r}: names with '<' or '>' cannot be carried by an "
                    "EventBridge input transformer", "rename the event or the field")]
    known = {p.name for p in flow.parameters}
    unknown = sorted(p for p, _ in trigger.parameters if p not in known)
    if unknown:
        return [bad(f"maps {', '.join(map(repr, unknown))}, which the flow has no parameter of",
                    "map payload fields to the flow's parameters")]
    return []


# --------------------------------------------------------------------------- names


def machine_name_of(name: str) -> str:
    """A state machine name from a (possibly ``project.branch.Flow``) flow name: the characters
    Step Functions refuses made ``-``, at most 80 characters."""
    return common.short_name(re.sub(r"[^A-Za-z0-9_-]", "-", name), MACHINE_NAME_LIMIT)


def upstream_flow(flow: ir.Flow, settings: Settings, upstream: str) -> str:
    """An upstream flow's deployed name: in this flow's @project and branch, as Metaflow resolves
    @trigger_on_finish, unless the name is already qualified (``project.branch.Flow``)."""
    identity = common.project_identity(flow, settings)
    if "." in upstream or identity is None:
        return upstream
    return f"{identity.project}.{identity.branch}.{upstream}"


# --------------------------------------------------------------------------- the template


def _placeholders(document: dict[str, Any], raw: tuple[str, ...]) -> str:
    """``document`` as an InputTemplate: JSON where each ``"<name>"`` string of ``raw`` becomes
    a bare ``<name>`` (the value inserted as JSON: an object stays an object)."""
    text = json.dumps(document, ensure_ascii=False)
    for name in raw:
        text = text.replace(json.dumps(f"<{name}>"), f"<{name}>")
    return text


def event_input(trigger: Trigger, mapping: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """The input transformer of a rule on an event: the event, its payload and the parameters
    it maps (``FlowPlan.payload_mapping``), under the shim's key."""
    event = {"type": "event", "name": trigger.name, "id": "<id>", "timestamp": "<time>",
             "payload": "<payload>", "parameters": dict(mapping)}
    return {"InputPathsMap": {"id": "$.id", "time": "$.time", "payload": "$.detail"},
            "InputTemplate": _placeholders({TRIGGER_KEY: event}, ("payload",))}


def finish_input(upstream: str) -> dict[str, Any]:
    """The input transformer of a rule on an upstream flow's success: its run, as Metaflow names
    it (``metaflow.<Flow>.end``, the end task's pathspec; the execution name is the run id)."""
    flow = upstream.rsplit(".", 1)[-1]  # the datastore knows the flow by its class name
    event = {"type": "run", "name": f"metaflow.{flow}.end", "id": f"{flow}/<run>/end/t",
             "timestamp": "<time>"}
    return {"InputPathsMap": {"run": "$.detail.name", "time": "$.time"},
            "InputTemplate": _placeholders({TRIGGER_KEY: event}, ())}


def rules(plan: FlowPlan, settings: Settings, role_arn: Any) -> dict[str, dict[str, Any]]:
    """One rule per event and upstream flow, by logical id, each starting the machine with
    ``role_arn``; the CloudFormation template adds the role and the bus parameter."""
    out: dict[str, dict[str, Any]] = {}
    for trigger in plan.triggers:
        assert trigger.name is not None, "checked by check()"
        if trigger.kind == "event":
            logical, rule = "TriggerOn" + camel(trigger.name), _event_rule(plan, trigger, role_arn)
        else:
            upstream = upstream_flow(plan.flow, settings, trigger.name)
            logical, rule = "TriggerOnFinish" + camel(trigger.name), _finish_rule(plan, upstream, role_arn)
        while logical in out:
            logical += "X"
        out[logical] = rule
    return out


def camel(name: str) -> str:
    """A CloudFormation logical id's part from any name: ``data-ready`` -> ``DataReady``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _target(transformer: dict[str, Any], role_arn: Any) -> list[dict[str, Any]]:
    return [{"Id": "state-machine", "Arn": {"Ref": "StateMachine"}, "RoleArn": role_arn,
             "InputTransformer": transformer}]


def _event_rule(plan: FlowPlan, trigger: Trigger, role_arn: Any) -> dict[str, Any]:
    return {"Type": "AWS::Events::Rule", "Properties": {
        "Description": f"{plan.flow.name} on @trigger event {trigger.name}, compiled by flowc",
        "EventBusName": {"Ref": "EventBusName"},
        "EventPattern": {"source": [SOURCE], "detail-type": [trigger.name]},
        "State": "ENABLED",
        "Targets": _target(event_input(trigger, plan.payload_mapping(trigger)), role_arn),
    }}


def _finish_rule(plan: FlowPlan, upstream: str, role_arn: Any) -> dict[str, Any]:
    return {"Type": "AWS::Events::Rule", "Properties": {
        "Description": f"{plan.flow.name} on @trigger_on_finish {upstream}, compiled by flowc",
        "EventPattern": {"source": ["aws.states"], "detail-type": [STATUS_CHANGE],
                         "detail": {"status": ["SUCCEEDED"],
                                    "stateMachineArn": [{"Fn::Sub": _ARN_PREFIX + machine_name_of(upstream)}]}},
        "State": "ENABLED",
        "Targets": _target(finish_input(upstream), role_arn),
    }}


def event_entry(name: str, payload: dict[str, Any], bus: str) -> dict[str, Any]:
    """The ``PutEvents`` entry ``flowc trigger --event`` publishes: what the rules above match."""
    return {"Source": SOURCE, "DetailType": name, "Detail": json.dumps(payload), "EventBusName": bus}
