"""One step as an Argo container template: the shim command plus what its decorators ask of the pod.

Everything comes resolved from the step's plan (``flowc.plan``): retry ->
``retryStrategy``; timeout -> ``activeDeadlineSeconds`` (per attempt, like Metaflow, plus a grace
period: the shim's own timeout fires first); resources -> requests and limits, ``/dev/shm``; the
pod's image, pull policy, node selector, tolerations, service account, labels, annotations;
Kubernetes secrets -> ``envFrom``; @environment -> env. @secrets sources are
resolved by the shim inside the pod.
@catch needs nothing here: the shim swallows the failure on the last attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowc.compiler import ir
from flowc.plan import Pod, StepPlan
from flowc.runtime_shim.trigger import argo_environment_name
from flowc.targets import Settings, common
from flowc.targets import argo_syntax as syn

SIDE_CHANNEL_DIR = "/tmp/flowc"
DEADLINE_GRACE_SECONDS = common.DEADLINE_GRACE_SECONDS
WIDTH_OUTPUT = "foreach-width"
CASE_OUTPUT = "switch-case"
INDEX_INPUT = "index-path"
ITERATION_INPUT = "iteration"


@dataclass(frozen=True, slots=True)
class PodInputs:
    """Which run-time values a step's template receives as inputs."""

    index_path: bool
    iteration: bool


def output_parameters(step: ir.Step) -> list[dict[str, Any]]:
    """The side-channel files the orchestrator reads back (docs/contracts.md section 4)."""
    if isinstance(step.transition, ir.Foreach) or (
            isinstance(step.transition, ir.Parallel) and step.transition.num_parallel is None):
        return [{"name": WIDTH_OUTPUT, "valueFrom": {"path": f"{SIDE_CHANNEL_DIR}/foreach_width"}}]
    if isinstance(step.transition, ir.Switch):
        return [{"name": CASE_OUTPUT, "valueFrom": {"path": f"{SIDE_CHANNEL_DIR}/switch_case"}}]
    return []


def parameter_default_text(param: ir.Parameter) -> str | None:
    """A literal default as the command-line text the shim parses back (``None`` when none)."""
    if param.default_kind != "literal" or param.default is None:
        return None
    value = param.default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)) and param.separator:
        return param.separator.join(str(v) for v in value)
    if isinstance(value, (list, tuple, dict)) or param.type == "json" and not isinstance(value, str):
        return _json(value)
    return str(value)


def _json(value: Any) -> str:
    """JSON text of an IR value."""
    return json.dumps(ir.plain_value(value), separators=(",", ":"), sort_keys=False)


def step_template(flow: ir.Flow, step: StepPlan, name: str, inputs: PodInputs,
                  settings: Settings, exposed_params: tuple[ir.Parameter, ...],
                  trigger_arguments: tuple[str, ...] = ()) -> dict[str, Any]:
    """The container template that runs ``step`` once; the start step reads what started the run
    from the reserved ``trigger_arguments`` of a triggered flow."""
    params: list[tuple[str, str]] = []
    if step.name == "start":
        params = [(p.name, syn.container_workflow_parameter(p.name)) for p in exposed_params]
    argv = common.task_argv(
        flow, settings,
        step=step.name,
        run_id=syn.workflow_name(),
        index_path=syn.input_parameter(INDEX_INPUT) if inputs.index_path else None,
        attempt=syn.retries() if step.retry is not None else None,
        iteration=syn.input_parameter(ITERATION_INPUT) if inputs.iteration else None,
        side_channel_dir=SIDE_CHANNEL_DIR if output_parameters(step.step) else None,
        params=params,
    )
    template: dict[str, Any] = {"name": name}
    meta = _metadata(step.pod)
    if meta:
        template["metadata"] = meta
    declared = []
    if inputs.index_path:
        declared.append({"name": INDEX_INPUT})
    if inputs.iteration:
        declared.append({"name": ITERATION_INPUT})
    if declared:
        template["inputs"] = {"parameters": declared}
    outputs = output_parameters(step.step)
    if outputs:
        template["outputs"] = {"parameters": outputs}
    if step.retry is not None:
        strategy: dict[str, Any] = {"limit": step.retry.times, "retryPolicy": "Always"}
        if step.retry.delay_seconds > 0:
            strategy["backoff"] = {"duration": f"{step.retry.delay_seconds}s"}
        template["retryStrategy"] = strategy
    if step.timeout_seconds is not None:
        template["activeDeadlineSeconds"] = step.timeout_seconds + DEADLINE_GRACE_SECONDS
    pod = step.pod
    if pod is not None:
        if pod.service_account:
            template["serviceAccountName"] = pod.service_account
        if pod.node_selector:
            template["nodeSelector"] = dict(pod.node_selector)
        if pod.tolerations:
            template["tolerations"] = [dict(t) for t in pod.tolerations]
    container: dict[str, Any] = {"image": step.image or settings.image}
    if pod is not None and pod.image_pull_policy:
        container["imagePullPolicy"] = pod.image_pull_policy
    container["command"] = [syn.container_text(a) for a in argv]
    env = [{"name": k, "value": syn.container_text(v)} for k, v in step.environment]
    if step.name == "start":
        env += [{"name": argo_environment_name(argument), "value": syn.container_workflow_parameter(argument)}
                for argument in trigger_arguments]
    if env:
        container["env"] = env
    if pod is not None and pod.secrets:
        container["envFrom"] = [{"secretRef": {"name": name}} for name in pod.secrets]
    container["resources"] = common.kubernetes_resources(step.resources)
    shm = step.resources.shared_memory_mib
    if shm:
        container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
        template["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm}Mi"}}]
    template["container"] = container
    return template


def _metadata(pod: Pod | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if pod is not None and pod.labels:
        meta["labels"] = dict(pod.labels)
    if pod is not None and pod.annotations:
        meta["annotations"] = dict(pod.annotations)
    return meta
