"""AWS Step Functions target: an ASL definition (or a CloudFormation template) running each step
as an AWS Batch job through the runtime shim.

``emit`` first checks what Step Functions cannot express (diagnostics FLOW230-FLOW259, collected
together, at the construct's span), then builds the definition with ``sfn_asl.AslBuilder``; the
CloudFormation format wraps it with ``sfn_cloudformation``. Output is deterministic JSON text.

Where the shim's manifest comes from (never the container overrides, which Batch caps at 8,192
characters): in the ``asl`` format, an S3 object at ``manifest_location()`` that the deploy step
uploads (``flowc ir --json flow.py``); in the ``cloudformation`` format, the job definitions'
``FLOWC_MANIFEST`` environment variable holding the inline ``z:`` form.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, register
from flowc.targets import Emitted, Settings, common
from flowc.targets.sfn_asl import AslBuilder, AslOptions, S3Root, job_name

FORMATS = ("asl", "cloudformation")
OVERRIDES_LIMIT = 8192

NOT_S3 = register("FLOW230", "sfn needs an S3 datastore", """
Step Functions reads foreach indices and switch cases from the datastore with S3 integrations,
and Batch jobs share no disk: the datastore root must be s3://bucket[/prefix].""")
NO_GANG = register("FLOW231", "@parallel / num_parallel on sfn", """
Gangs of tasks (Batch multi-node jobs) are not generated for Step Functions.""")
NO_TRIGGER = register("FLOW232", "@trigger / @trigger_on_finish on sfn", """
Event triggers are not generated for Step Functions; start executions from an EventBridge rule
or another service instead.""")
NO_EXIT_HOOK = register("FLOW233", "@exit_hook on sfn", """
Exit hooks are not generated for Step Functions.""")
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
ENV_NOT_INSTALLED = register("FLOW238", "@pypi / @conda on sfn", """
Packages are not installed by the sfn target: the job's image must already provide them.""")
BAD_FORMAT = register("FLOW239", "unknown sfn format", """
sfn_format (--sfn-format, [tool.flowc] sfn-format) is 'asl' or 'cloudformation'.""")
CRON_NOT_AWS = register("FLOW240", "cron expression EventBridge cannot express", """
EventBridge cron restricts day-of-month or day-of-week, not both (it has no 'either' form).""")

capabilities: dict[str, str] = {
    "linear": "Task (batch:submitJob.sync)",
    "split": "Parallel",
    "foreach": "Distributed Map, ItemReader on the datastore's foreach_indices.json",
    "foreach_multi_step": "Map body with several Tasks",
    "nested_foreach": "Distributed Map in a Distributed Map",
    "switch": "s3:getObject of switch_case.json + Choice",
    "recursion": "Choice looping back through a Pass counting with States.MathAdd",
    "parallel": f"refused ({NO_GANG})",
    "parameters": "execution input, passed to start as FLOWC_PARAMS; defaults by the shim",
    "include_file": "execution input (a path or URL the start task can read)",
    "retry": "Retry (States.ALL, float BackoffRate)",
    "catch": "by the shim (the task exits 0)",
    "timeout": "TimeoutSeconds",
    "resources": "ResourceRequirements",
    "kubernetes": f"sizes used as @resources ({KUBERNETES_IGNORED})",
    "batch": "ResourceRequirements, JobQueue; image/roles via job definitions (cloudformation)",
    "environment": "ContainerOverrides.Environment",
    "secrets": "by the shim (env/file sources)",
    "schedule": "EventBridge Scheduler with timezone (cloudformation)",
    "trigger": f"refused ({NO_TRIGGER})",
    "trigger_on_finish": f"refused ({NO_TRIGGER})",
    "project": "state machine name prefix (cloudformation)",
    "exit_hook": f"refused ({NO_EXIT_HOOK})",
}

# @batch arguments that live in the job definition, not in the submit's overrides.
JOB_DEFINITION_FIELDS = ("image", "iam_role", "execution_role", "shared_memory", "max_swap", "swappiness")


def manifest_text(flow: ir.Flow) -> str:
    """The manifest the ASL format's jobs read (what ``flowc ir --json`` prints)."""
    return ir.dump_manifest(flow)


def manifest_location(flow: ir.Flow, settings: Settings) -> str:
    """Where the ASL format expects the manifest: ``[tool.flowc] sfn_manifest`` if set, else
    ``<datastore>/<Flow>/manifests/<sha256 of the manifest>.json`` (one object per version, so a
    running execution never sees a newer manifest)."""
    explicit = dict(settings.extra).get("sfn_manifest")
    if explicit:
        return str(explicit)
    digest = hashlib.sha256(manifest_text(flow).encode("utf-8")).hexdigest()
    return f"{settings.datastore_root.rstrip('/')}/{flow.name}/manifests/{digest}.json"


def default_job_definition(flow: ir.Flow, settings: Settings) -> str:
    return settings.sfn_job_definition or common.short_name(f"flowc-{flow.name}", 128)


# --------------------------------------------------------------------------- checks


def _error(code: str, construct: str, span: ir.Span, way_out: str) -> Diagnostic:
    return common.unsupported(code, construct, "AWS Step Functions", span, way_out)


def _warning(code: str, message: str, span: ir.Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code=code, message=message, span=span, severity=WARNING, hint=hint)


def check(flow: ir.Flow, settings: Settings) -> list[Diagnostic]:
    """Everything this target refuses or warns about, in one pass (several at once)."""
    out: list[Diagnostic] = []
    if settings.sfn_format not in FORMATS:
        out.append(Diagnostic(BAD_FORMAT, f"unknown sfn format {settings.sfn_format!r}", flow.span,
                              ERROR, "use --sfn-format asl or --sfn-format cloudformation"))
    if S3Root.parse(settings.datastore_root) is None:
        out.append(Diagnostic(NOT_S3, f"datastore root {settings.datastore_root!r} is not an s3:// URL; "
                              "AWS Step Functions needs an S3 datastore", flow.span, ERROR,
                              "set --datastore-root s3://bucket/prefix"))
    for step in flow.steps:
        out.extend(_check_step(flow, step, settings))
    for deco in flow.decorators:
        if isinstance(deco, (ir.Trigger, ir.TriggerOnFinish)):
            out.append(_error(NO_TRIGGER, f"@{deco.tag}", deco.span,
                              "start executions from an EventBridge rule, or use --target argo"))
        elif isinstance(deco, ir.ExitHook):
            out.append(_error(NO_EXIT_HOOK, "@exit_hook", deco.span,
                              "run the hook as a last step of the flow, or use --target argo"))
        elif isinstance(deco, ir.Schedule):
            if settings.sfn_format != "cloudformation":
                out.append(_warning(SCHEDULE_NEEDS_CFN, "@schedule is not part of an ASL definition; "
                                    "no schedule is created", deco.span,
                                    "compile with --sfn-format cloudformation to get an EventBridge schedule"))
            else:
                from flowc.targets.sfn_cloudformation import aws_cron

                if aws_cron(deco.cron_expression) is None:
                    out.append(_error(CRON_NOT_AWS, f"@schedule(cron={deco.cron_expression!r})",
                                      deco.span, "restrict day-of-month or day-of-week, not both"))
        elif isinstance(deco, (ir.PypiBase, ir.CondaBase)):
            out.append(_warning(ENV_NOT_INSTALLED, f"@{deco.tag} is not installed by the sfn target",
                                deco.span, "build the packages into the image"))
    return out


def _check_step(flow: ir.Flow, step: ir.Step, settings: Settings) -> Iterator[Diagnostic]:
    if isinstance(step.transition, ir.Parallel):
        yield _error(NO_GANG, "num_parallel", step.next_span or step.span,
                     "use a foreach over range(n), or --target argo")
    for deco in step.decorators:
        if isinstance(deco, ir.ParallelDecorator):
            yield _error(NO_GANG, "@parallel", deco.span, "use a foreach over range(n), or --target argo")
        elif isinstance(deco, ir.Kubernetes):
            yield _warning(KUBERNETES_IGNORED, "@kubernetes is ignored on AWS Step Functions (steps "
                           "run on AWS Batch); its cpu, memory and gpu are used", deco.span,
                           "use @batch or @resources")
        elif isinstance(deco, (ir.Pypi, ir.Conda)):
            yield _warning(ENV_NOT_INSTALLED, f"@{deco.tag} is not installed by the sfn target",
                           deco.span, "build the packages into the image")
        elif isinstance(deco, ir.Batch) and settings.sfn_format != "cloudformation":
            fields = [name for name in JOB_DEFINITION_FIELDS if getattr(deco, name) is not None
                      and not (name == "image" and getattr(deco, name) == settings.image)]
            if fields:
                yield _error(NEEDS_JOB_DEFINITION, "@batch(" + ", ".join(f"{f}=..." for f in fields) + ")"
                             " in the ASL format", deco.span,
                             "compile with --sfn-format cloudformation (one job definition per configuration)")


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


class SfnTarget:
    name = "sfn"
    capabilities = capabilities

    def emit(self, flow: ir.Flow, settings: Settings) -> Emitted:
        diagnostics = check(flow, settings)
        if any(d.severity == ERROR for d in diagnostics):
            return Emitted("", ".json", tuple(diagnostics))
        if settings.sfn_format == "cloudformation":
            from flowc.targets import sfn_cloudformation

            document, builder = sfn_cloudformation.template(flow, settings)
        else:
            job_definition = default_job_definition(flow, settings)
            options = AslOptions(manifest=manifest_location(flow, settings),
                                 job_definitions=tuple((s.name, job_definition) for s in flow.steps))
            builder = AslBuilder(flow, settings, options)
            document = builder.definition()
        diagnostics += list(_size_diagnostics(flow, builder))
        if any(d.severity == ERROR for d in diagnostics):
            return Emitted("", ".json", tuple(diagnostics))
        return Emitted(render(document), ".json", tuple(diagnostics))


def _size_diagnostics(flow: ir.Flow, builder: AslBuilder) -> Iterator[Diagnostic]:
    for step in flow.steps:
        task = builder.task_state(step)
        size = overrides_size(task, common.foreach_depth(step, flow))
        if size > OVERRIDES_LIMIT:
            yield Diagnostic(OVERRIDES_TOO_LARGE,
                             f"the Batch container overrides of step {step.name!r} take up to {size} "
                             f"characters, over AWS Batch's {OVERRIDES_LIMIT}", step.span, ERROR,
                             "move large @environment values into the image or a file")


def render(document: dict[str, Any]) -> str:
    """Deterministic JSON text: keys in the order built, two-space indent, final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


TARGET = SfnTarget()

__all__ = ["TARGET", "check", "manifest_location", "manifest_text", "render", "job_name"]
