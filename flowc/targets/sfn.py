"""AWS Step Functions target: an ASL definition (or a CloudFormation template) running each step
as an AWS Batch job through the runtime shim.

``emit`` first checks what Step Functions cannot express (its capability table, then the values
and settings it cannot carry: diagnostics FLOW230-FLOW259, collected together, at the construct's
span), then builds the definition with ``sfn_asl.AslBuilder``; the
CloudFormation format wraps it with ``sfn_cloudformation``. Output is deterministic JSON text.

Where the shim's manifest comes from (never the container overrides, which Batch caps at 8,192
characters): in the ``asl`` format, an S3 object at ``manifest_location()`` that the deploy step
uploads (``flowc ir --json flow.py``); in the ``cloudformation`` format, the job definitions'
``FLOWC_MANIFEST`` environment variable holding the manifest's JSON text.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, register
from flowc.plan import FlowPlan, StepPlan
from flowc.targets import (Capability, Settings, Target, common, refused, register_target, supported,
                           unsupported, with_caveat)
from flowc.targets import sfn_events
from flowc.targets.sfn_asl import FORMATS, JOB_DEFINITION_FIELDS, AslBuilder, AslOptions, S3Root, SfnSettings, job_name
from flowc.targets.sfn_hooks import add_exit_hooks

OVERRIDES_LIMIT = 8192

NOT_S3 = register("FLOW230", "sfn needs an S3 datastore", """
Step Functions reads foreach indices and switch cases from the datastore with S3 integrations,
and Batch jobs share no disk: the datastore root must be s3://bucket[/prefix].""")
GANG_MULTINODE = register("FLOW231", "@parallel / num_parallel on sfn: a Batch multi-node job", """
A @parallel step runs as one AWS Batch multi-node parallel job, which needs an EC2 compute
environment (not Fargate) and a job queue that takes multi-node jobs. In the cloudformation format
flowc creates its multi-node job definition; in the asl format the job definition named by the
sfn_multinode_job_definition setting (default: sfn_job_definition's name + '-multinode') is used,
and it must be a multi-node one (Type multinode, main node 0, one node range 0: running the flow's
image).""")
NO_TRIGGER = sfn_events.NEEDS_CFN  # @trigger / @trigger_on_finish in the ASL format (FLOW232)
NEEDS_JOB_DEFINITION = register("FLOW234", "per-step job definition in the ASL format", """
A Batch job's image, roles and Linux parameters live in its job definition, which the ASL format
takes from one setting (sfn_job_definition). Steps that need their own must be compiled with
--sfn-format cloudformation, which creates one job definition per distinct configuration.""")
OVERRIDES_TOO_LARGE = register("FLOW235", "Batch container overrides over 8,192 characters", """
AWS Batch rejects a job whose container overrides exceed 8,192 characters; the step's
@environment is too large. Move large values into the image or a file.""")
KUBERNETES_IGNORED = register("FLOW236", "@kubernetes on sfn", """
Steps run on AWS Batch on Step Functions; @kubernetes' cpu, memory and gpu are used as @resources
and its other arguments are ignored.""")
SCHEDULE_NEEDS_CFN = register("FLOW237", "@schedule in the ASL format", """
A schedule is an EventBridge Scheduler resource next to the state machine; only
--sfn-format cloudformation creates it.""")
DEFINITION_TOO_LARGE = register("FLOW241", "state machine definition over 1 MiB", """
Step Functions refuses a state machine definition over 1,048,576 bytes (about 1,100 steps of
flowc's output). Split the flow into smaller flows.""")
INPUT_TOO_LARGE = register("FLOW242", "execution input over 256 KiB", """
An execution's input (the flow's parameters) and every state's data must stay under 262,144
bytes. flowc's states carry only a small task context; the parameters' default values are what
can grow: keep large values in files (IncludeFile) or the datastore.""")
DEFINITION_LIMIT = 1_048_576
PAYLOAD_LIMIT = 262_144
CRON_NOT_AWS = register("FLOW240", "cron expression EventBridge cannot express", """
EventBridge cron restricts day-of-month or day-of-week, not both (it has no 'either' form).""")

CAPABILITIES: dict[str, Capability] = {
    "linear": supported("Task (batch:submitJob.sync)"),
    "split": supported("Parallel"),
    "foreach": supported("Distributed Map, ItemReader on the datastore's foreach_indices.json"),
    "foreach_multi_step": supported("Map body with several Tasks"),
    "nested_foreach": supported("Distributed Map in a Distributed Map"),
    "switch": supported("s3:getObject of switch_case.json + Choice"),
    "recursion": supported("Choice looping back through a Pass counting with States.MathAdd"),
    "parallel": with_caveat(GANG_MULTINODE, "AWS Batch multi-node parallel job (NodeOverrides.NumNodes; "
                            "a multinode job definition in cloudformation)",
                            "use an EC2 compute environment; in the asl format, a multinode sfn_job_definition"),
    "parameters": supported("execution input, passed to start as FLOWC_PARAMS; defaults by the shim"),
    "include_file": supported("execution input (a path or URL the start task can read)"),
    "retry": supported("Retry (States.ALL, float BackoffRate)"),
    "catch": supported("by the shim (the task exits 0)"),
    "timeout": supported("TimeoutSeconds"),
    "resources": supported("ResourceRequirements"),
    "kubernetes": with_caveat(KUBERNETES_IGNORED, "ignored, but its cpu, memory and gpu size the job",
                              "use @batch or @resources"),
    "batch": supported("ResourceRequirements, JobQueue; image/roles via job definitions (cloudformation)"),
    "environment": supported("ContainerOverrides.Environment"),
    "secrets": supported("by the shim (env/file sources)"),
    "python_environment": supported(common.PYTHON_ENVIRONMENT),
    "card": supported("handled by the shim inside the task"),
    "schedule": supported("EventBridge Scheduler with timezone (cloudformation)"),
    "trigger": supported("EventBridge rule on the sfn_event_bus, payload to parameters by the start "
                         "task (cloudformation; FLOW232 in asl)"),
    "trigger_on_finish": supported("EventBridge rule on the upstream machine's SUCCEEDED status change "
                                   "(cloudformation; FLOW232 in asl)"),
    "project": supported("state machine name prefix (cloudformation)"),
    "exit_hook": supported("Catch on the top-level states to a hook job; the end step goes on to one"),
}



def manifest_text(flow: ir.Flow) -> str:
    """The manifest the ASL format's jobs read (what ``flowc ir --json`` prints)."""
    return ir.dump_manifest(flow)


def manifest_location(flow: ir.Flow, settings: Settings) -> str:
    """Where the ASL format expects the manifest: the ``sfn_manifest`` setting if set, else
    ``<datastore>/<Flow>/manifests/<sha256 of the manifest>.json`` (one object per version, so a
    running execution never sees a newer manifest)."""
    explicit = settings.of(SfnSettings).manifest
    if explicit:
        return explicit
    digest = hashlib.sha256(manifest_text(flow).encode("utf-8")).hexdigest()
    return f"{settings.datastore.rstrip('/')}/{flow.name}/manifests/{digest}.json"


def default_job_definition(flow: ir.Flow, settings: Settings) -> str:
    return settings.of(SfnSettings).job_definition or common.short_name(f"flowc-{flow.name}", 128)


def asl_job_definitions(plan: FlowPlan, settings: Settings) -> tuple[tuple[str, str], ...]:
    """Each step's job definition in the asl format: the shared one, and for @parallel steps the
    multi-node one (a multi-node job cannot run from a container job definition, nor the reverse)."""
    shared = default_job_definition(plan.flow, settings)
    multinode = settings.of(SfnSettings).multinode_job_definition or common.short_name(f"{shared}-multinode", 128)
    return tuple((s.name, multinode if s.step.decorator(ir.ParallelDecorator) else shared) for s in plan.steps)


# --------------------------------------------------------------------------- checks


def check(plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
    """Values and settings Step Functions cannot carry, in one pass (the capability table covers
    the constructs)."""
    out: list[Diagnostic] = sfn_events.check(plan, settings)
    cloudformation = settings.of(SfnSettings).format == "cloudformation"
    if S3Root.parse(settings.datastore) is None:
        out.append(Diagnostic(NOT_S3, f"datastore root {settings.datastore!r} is not an s3:// URL; "
                              "AWS Step Functions needs an S3 datastore", plan.flow.span, ERROR,
                              "set --datastore-root s3://bucket/prefix"))
    for step in plan.steps:
        if step.batch is not None and not cloudformation:
            out.extend(_needs_job_definition(step, settings))
    schedule = plan.schedule
    if schedule is not None and not cloudformation:
        out.append(Diagnostic(SCHEDULE_NEEDS_CFN, "@schedule is not part of an ASL definition; no "
                              "schedule is created", schedule.span, WARNING,
                              "compile with --sfn-format cloudformation to get an EventBridge schedule"))
    elif schedule is not None and schedule.aws is None:
        out.append(unsupported(CRON_NOT_AWS, f"@schedule(cron={schedule.expression!r})", "AWS Step Functions",
                               schedule.span, "restrict day-of-month or day-of-week, not both"))
    return out


def _needs_job_definition(step: StepPlan, settings: Settings) -> list[Diagnostic]:
    """@batch arguments that need a job definition of their own, which only CloudFormation makes."""
    assert step.batch is not None
    fields = [name for name in JOB_DEFINITION_FIELDS if getattr(step.batch, name) is not None
              and not (name == "image" and step.batch.image == settings.image)]
    if not fields:
        return []
    return [unsupported(NEEDS_JOB_DEFINITION, "@batch(" + ", ".join(f"{f}=..." for f in fields) + ") in the "
                        "ASL format", "AWS Step Functions", step.batch.span,
                        "compile with --sfn-format cloudformation (one job definition per configuration)")]


def overrides_size(task: dict[str, Any], depth: int) -> int:
    """The container overrides' size as Batch counts it, for the worst case of the run-time values
    (an 80-character run id, five-digit indices, two-digit attempts)."""
    overrides = task["Parameters"]["ContainerOverrides"]
    command = overrides["Command.$"]
    worst = {"$.run": "r" * 80, "$.path": ".".join(["99999"] * depth),
             "$$.State.RetryCount": "99", "$.iter": "99999"}
    for expr, value in worst.items():
        command = command.replace(expr, json.dumps(value))
    evaluated = {
        "command": command,
        "environment": [{"name": e["Name"], "value": e.get("Value", "")}
                        for e in overrides.get("Environment", [])],
        "resourceRequirements": [{"type": r["Type"], "value": r["Value"]}
                                 for r in overrides["ResourceRequirements"]],
    }
    return len(json.dumps(evaluated, separators=(",", ":")))


# --------------------------------------------------------------------------- the target


@register_target
class SfnTarget(Target):
    name = "sfn"
    title = "AWS Step Functions"
    extension = ".json"
    settings_type = SfnSettings
    capabilities = CAPABILITIES
    deploy_engine = "flowc.deploy.sfn"

    def check(self, plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
        return check(plan, settings)

    def render(self, plan: FlowPlan, settings: Settings) -> tuple[str, list[Diagnostic]]:
        flow = plan.flow
        if settings.of(SfnSettings).format == "cloudformation":
            from flowc.targets import sfn_cloudformation

            document, builder = sfn_cloudformation.template(plan, settings)
        else:
            options = AslOptions(manifest=manifest_location(flow, settings),
                                 job_definitions=asl_job_definitions(plan, settings),
                                 environment=tuple(common.spec_environment(plan, settings)))
            builder = AslBuilder(plan, settings, options)
            document = add_exit_hooks(builder)
        return render(document), [*_size_diagnostics(plan, builder), *_limits(plan, builder)]


def _size_diagnostics(plan: FlowPlan, builder: AslBuilder) -> Iterator[Diagnostic]:
    for planned in plan.steps:
        step = planned.step
        task = builder.task_state(step)
        size = overrides_size(task, len(planned.foreach_stack))
        if size > OVERRIDES_LIMIT:
            yield Diagnostic(OVERRIDES_TOO_LARGE,
                             f"the Batch container overrides of step {step.name!r} take up to {size} "
                             f"characters, over AWS Batch's {OVERRIDES_LIMIT}", step.span, ERROR,
                             "move large @environment values into the image or a file")


def _limits(plan: FlowPlan, builder: AslBuilder) -> Iterator[Diagnostic]:
    """The definition's size and the largest execution input, against Step Functions' limits."""
    definition = len(json.dumps(builder.definition(), separators=(",", ":")).encode("utf-8"))
    if definition > DEFINITION_LIMIT:
        yield Diagnostic(DEFINITION_TOO_LARGE, f"the state machine definition is {definition:,} "
                         f"bytes, over Step Functions' {DEFINITION_LIMIT:,}", plan.flow.span, ERROR,
                         "split the flow into smaller flows")
    defaults = {p.name: ir.plain_value(p.default) for p in plan.flow.parameters if p.default_kind == "literal"}
    payload = len(json.dumps(defaults, separators=(",", ":")).encode("utf-8"))
    if payload > PAYLOAD_LIMIT:
        yield Diagnostic(INPUT_TOO_LARGE, f"the parameters' default values make an execution input "
                         f"of {payload:,} bytes, over Step Functions' {PAYLOAD_LIMIT:,}",
                         plan.flow.parameters[0].span, ERROR, "keep large values in files (IncludeFile)")


def render(document: dict[str, Any]) -> str:
    """Deterministic JSON text: keys in the order built, two-space indent, final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"



__all__ = ["FORMATS", "SfnSettings", "SfnTarget", "check", "manifest_location", "manifest_text", "render", "job_name"]
