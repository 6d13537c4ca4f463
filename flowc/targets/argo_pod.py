"""One step as an Argo container template: the shim command plus what its decorators ask of the pod.

@retry -> ``retryStrategy``; @timeout -> ``activeDeadlineSeconds`` (per attempt, like Metaflow,
plus a grace period: the shim's own timeout fires first);
@resources / @kubernetes / @batch -> requests and limits (the larger value wins, as in Metaflow),
GPU, image, pull policy, node selector, tolerations, service account, labels, annotations,
``/dev/shm``; @kubernetes secrets -> ``envFrom``; @environment -> env. @secrets sources are
resolved by the shim inside the pod (``env:`` / ``file:``; the target refuses others).
@catch needs nothing here: the shim swallows the failure on the last attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowc.compiler import ir
from flowc.compiler.quantities import cpu_cores, mebibytes
from flowc.targets import Settings, common
from flowc.targets import argo_syntax as syn

SIDE_CHANNEL_DIR = "/tmp/flowc"
# The shim enforces @timeout itself (so @catch can record the timeout); the pod's deadline is the
# backstop for a step stuck where the shim cannot interrupt it, so it fires a little later.
DEADLINE_GRACE_SECONDS = 30
WIDTH_OUTPUT = "foreach-width"
CASE_OUTPUT = "switch-case"
INDEX_INPUT = "index-path"
ITERATION_INPUT = "iteration"
RUNTIME_SECRET_PREFIXES = ("env:", "file:")  # resolved by the shim inside the container


@dataclass(frozen=True, slots=True)
class PodInputs:
    """Which run-time values a step's template receives as inputs."""

    index_path: bool
    iteration: bool


def output_parameters(step: ir.Step) -> list[dict[str, Any]]:
    """The side-channel files the orchestrator reads back (docs/contracts.md section 4)."""
    if isinstance(step.transition, ir.Foreach):
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
    """JSON text of an IR value (the IR keeps mappings as tuples of pairs)."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple) and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in v) and v:
            return {k: plain(x) for k, x in v}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), separators=(",", ":"), sort_keys=False)


def step_template(flow: ir.Flow, step: ir.Step, name: str, inputs: PodInputs,
                  settings: Settings, exposed_params: tuple[ir.Parameter, ...]) -> dict[str, Any]:
    """The container template that runs ``step`` once."""
    retry: ir.Retry | None = step.decorator(ir.Retry)
    params: list[tuple[str, str]] = []
    if step.name == "start":
        params = [(p.name, syn.workflow_parameter(p.name)) for p in exposed_params]
    needs_side_channel = bool(output_parameters(step))
    argv = common.task_argv(
        flow, settings,
        step=step.name,
        run_id=syn.workflow_name(),
        index_path=syn.input_parameter(INDEX_INPUT) if inputs.index_path else None,
        attempt=syn.retries() if retry is not None and retry.times > 0 else None,
        iteration=syn.input_parameter(ITERATION_INPUT) if inputs.iteration else None,
        side_channel_dir=SIDE_CHANNEL_DIR if needs_side_channel else None,
        params=params,
    )
    template: dict[str, Any] = {"name": name}
    meta = _metadata(step)
    if meta:
        template["metadata"] = meta
    declared = []
    if inputs.index_path:
        declared.append({"name": INDEX_INPUT})
    if inputs.iteration:
        declared.append({"name": ITERATION_INPUT})
    if declared:
        template["inputs"] = {"parameters": declared}
    outputs = output_parameters(step)
    if outputs:
        template["outputs"] = {"parameters": outputs}
    if retry is not None and retry.times > 0:
        strategy: dict[str, Any] = {"limit": retry.times, "retryPolicy": "Always"}
        seconds = round(float(retry.minutes_between_retries) * 60)
        if seconds > 0:
            strategy["backoff"] = {"duration": f"{seconds}s"}
        template["retryStrategy"] = strategy
    timeout: ir.Timeout | None = step.decorator(ir.Timeout)
    if timeout is not None and timeout.total_seconds > 0:
        template["activeDeadlineSeconds"] = timeout.total_seconds + DEADLINE_GRACE_SECONDS
    kube: ir.Kubernetes | None = step.decorator(ir.Kubernetes)
    if kube is not None:
        if kube.service_account:
            template["serviceAccountName"] = kube.service_account
        if kube.node_selector:
            template["nodeSelector"] = dict(kube.node_selector)
        if kube.tolerations:
            template["tolerations"] = [_plain_mapping(t) for t in kube.tolerations]
    container: dict[str, Any] = {"image": _image(step, settings)}
    if kube is not None and kube.image_pull_policy:
        container["imagePullPolicy"] = kube.image_pull_policy
    container["command"] = argv
    env = _env(step)
    if env:
        container["env"] = env
    env_from = _env_from(step)
    if env_from:
        container["envFrom"] = env_from
    resources = _resources(step)
    if resources:
        container["resources"] = resources
    shm = _shared_memory(step)
    if shm:
        container["volumeMounts"] = [{"name": "dshm", "mountPath": "/dev/shm"}]
        template["volumes"] = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm}Mi"}}]
    template["container"] = container
    return template


def _plain_mapping(pairs: Any) -> dict[str, Any]:
    return {k: v for k, v in pairs} if isinstance(pairs, tuple) else dict(pairs)


def _image(step: ir.Step, settings: Settings) -> str:
    for cls in (ir.Kubernetes, ir.Batch):
        deco = step.decorator(cls)
        if deco is not None and deco.image:
            return deco.image
    return settings.image


def _metadata(step: ir.Step) -> dict[str, Any]:
    kube: ir.Kubernetes | None = step.decorator(ir.Kubernetes)
    meta: dict[str, Any] = {}
    if kube is not None and kube.labels:
        meta["labels"] = dict(kube.labels)
    if kube is not None and kube.annotations:
        meta["annotations"] = dict(kube.annotations)
    return meta


def _env(step: ir.Step) -> list[dict[str, str]]:
    env: dict[str, str] = {}
    deco: ir.Environment | None = step.decorator(ir.Environment)
    if deco is not None:
        for key, value in deco.vars:
            env[key] = value if isinstance(value, str) else _json(value)
    return [{"name": k, "value": v} for k, v in env.items()]


def _env_from(step: ir.Step) -> list[dict[str, Any]]:
    names: list[str] = []
    kube: ir.Kubernetes | None = step.decorator(ir.Kubernetes)
    if kube is not None and kube.secrets:
        names += list(kube.secrets)
    seen: dict[str, None] = dict.fromkeys(names)
    return [{"secretRef": {"name": name}} for name in seen]


def _largest(values: list[Any], convert: Any) -> Any:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return max(present, key=convert)


def _cpu_text(value: Any) -> str:
    cores = cpu_cores(value)
    return str(int(cores)) if cores.is_integer() else f"{int(round(cores * 1000))}m"


def _resources(step: ir.Step) -> dict[str, Any]:
    decos = [d for d in (step.decorator(ir.Resources), step.decorator(ir.Kubernetes), step.decorator(ir.Batch))
             if d is not None]
    if not decos:
        return {}
    cpu = _largest([d.cpu for d in decos], cpu_cores)
    memory = _largest([d.memory for d in decos], mebibytes)
    disk = _largest([getattr(d, "disk", None) for d in decos], lambda v: mebibytes(v, "disk"))
    gpu = _largest([d.gpu for d in decos], int)
    requests: dict[str, Any] = {}
    if cpu is not None:
        requests["cpu"] = _cpu_text(cpu)
    if memory is not None:
        requests["memory"] = f"{mebibytes(memory)}Mi"
    if disk is not None:
        requests["ephemeral-storage"] = f"{mebibytes(disk, 'disk')}Mi"
    out: dict[str, Any] = {"requests": requests} if requests else {}
    if gpu:
        kube: ir.Kubernetes | None = step.decorator(ir.Kubernetes)
        vendor = kube.gpu_vendor.lower() if kube is not None else "nvidia"
        out["limits"] = {f"{vendor}.com/gpu": str(int(gpu))}
    return out


def _shared_memory(step: ir.Step) -> int | None:
    values = [d.shared_memory for d in (step.decorator(ir.Resources), step.decorator(ir.Kubernetes))
              if d is not None and d.shared_memory]
    return max(values) if values else None
