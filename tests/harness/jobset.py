"""A test-only model of the Kubernetes JobSet an Argo resource template creates (``@parallel``).

The interpreter (``argo_interpreter``) hands a ``resource`` template's manifest, after Argo's
``{{...}}`` substitution, to ``run_jobset``, which does what the JobSet controller (v0.12) and the
kubelet would for the subset flowc emits:

- every replicated job's ``replicas`` jobs, in order, each of one pod; the pod's labels and
  annotations are the controller's: ``jobset.sigs.k8s.io/jobset-name``, ``replicatedjob-name``,
  ``job-index`` (within its replicated job), ``job-global-index`` (the replicas of the replicated
  jobs before it plus its job index) and ``global-replicas``; ``valueFrom.fieldRef`` env entries
  read them (the downward API);
- the name from ``generateName`` plus a counter (the API server adds five random characters);
- all pods start together and run to the end (a gang); the JobSet is Completed when every job
  completed (``successPolicy: All``) and Failed when one failed (``failurePolicy.maxRestarts: 0``,
  each job's ``backoffLimit: 0``);
- the resource template's ``successCondition`` / ``failureCondition`` must be the ones on
  ``status.terminalState`` that flowc writes.

Anything else in the manifest is refused with ``InterpreterError`` before a pod runs, or ignored
for a stated reason (placement, labels, DNS: no cluster here).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import yaml

API_VERSION = "jobset.x-k8s.io/v1alpha2"
CONDITIONS = {"successCondition": "status.terminalState == Completed",
              "failureCondition": "status.terminalState == Failed"}
RESOURCE_KEYS = {"action", "manifest", "successCondition", "failureCondition", "setOwnerReference"}
_PLACEMENT = "where the pod runs (no cluster here)"
MODELLED: dict[str, set[str]] = {
    "jobset": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {"replicatedJobs", "successPolicy", "failurePolicy", "network"},
    "replicatedJob": {"name", "replicas", "template"},
    "job": {"completionMode", "parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "template"},
    "pod": {"restartPolicy", "containers"},
    "container": {"name", "image", "command", "args", "env", "workingDir"},
}
IGNORED: dict[str, dict[str, str]] = {
    "pod": {"serviceAccountName": _PLACEMENT, "nodeSelector": _PLACEMENT, "tolerations": _PLACEMENT,
            "volumes": _PLACEMENT},
    "container": {"resources": _PLACEMENT, "imagePullPolicy": _PLACEMENT, "envFrom": "Kubernetes secrets: none here",
                  "volumeMounts": _PLACEMENT},
}


class JobSetError(RuntimeError):
    """The manifest uses something this model does not honour."""


def _keys(kind: str, node: dict[str, Any], where: str) -> None:
    for key in node:
        if key not in MODELLED[kind] and key not in IGNORED.get(kind, {}):
            raise JobSetError(f"{where}.{key}: not modelled (a {kind} may have {sorted(MODELLED[kind])})")


def check_resource(resource: dict[str, Any], where: str) -> None:
    """A resource template this model runs: creating a JobSet, waited for on its terminal state."""
    unknown = set(resource) - RESOURCE_KEYS
    if unknown:
        raise JobSetError(f"{where}: resource keys {sorted(unknown)} are not modelled")
    if resource.get("action") != "create":
        raise JobSetError(f"{where}: only action: create is modelled")
    for key, expected in CONDITIONS.items():
        if resource.get(key) != expected:
            raise JobSetError(f"{where}.{key}: only {expected!r} is modelled")


def _checked(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The replicated jobs of a JobSet within the model, or ``JobSetError``."""
    if document.get("apiVersion") != API_VERSION or document.get("kind") != "JobSet":
        raise JobSetError(f"cannot create a {document.get('apiVersion')}/{document.get('kind')}")
    _keys("jobset", document, "JobSet")
    spec = document["spec"]
    _keys("spec", spec, "spec")
    if spec.get("successPolicy", {"operator": "All"}) != {"operator": "All"}:
        raise JobSetError("only successPolicy operator All over every replicated job is modelled")
    if spec.get("failurePolicy", {}).get("maxRestarts", 0) != 0 or set(spec.get("failurePolicy", {})) - {"maxRestarts"}:
        raise JobSetError("only failurePolicy maxRestarts 0 is modelled")
    jobs = spec["replicatedJobs"]
    for i, rjob in enumerate(jobs):
        where = f"spec.replicatedJobs[{i}]"
        _keys("replicatedJob", rjob, where)
        if not isinstance(rjob.get("replicas", 1), int) or rjob.get("replicas", 1) < 0:
            raise JobSetError(f"{where}.replicas must be a non-negative integer, got {rjob.get('replicas')!r}")
        job = rjob["template"]["spec"]
        _keys("job", job, f"{where}.template.spec")
        if (job.get("parallelism"), job.get("completions"), job.get("backoffLimit")) != (1, 1, 0):
            raise JobSetError(f"{where}: only jobs of one pod without retries are modelled")
        if job.get("completionMode", "Indexed") != "Indexed":  # the webhook's default
            raise JobSetError(f"{where}: only Indexed jobs (pod host names <job>-<index>) are modelled")
        pod = job["template"]["spec"]
        _keys("pod", pod, f"{where}.pod")
        if pod.get("restartPolicy") != "Never" or len(pod["containers"]) != 1:
            raise JobSetError(f"{where}.pod: only restartPolicy Never with one container is modelled")
        _keys("container", pod["containers"][0], f"{where}.pod.containers[0]")
    return jobs


def _resolve_env(container: dict[str, Any], facts: dict[str, str], where: str) -> dict[str, Any]:
    """The container with ``valueFrom.fieldRef`` entries read from the pod's labels/annotations."""
    env = []
    for var in container.get("env") or ():
        if "valueFrom" not in var:
            env.append(var)
            continue
        path = (var["valueFrom"].get("fieldRef") or {}).get("fieldPath", "")
        for prefix in ("metadata.labels['", "metadata.annotations['"):
            if path.startswith(prefix) and path.endswith("']") and path[len(prefix):-2] in facts:
                env.append({"name": var["name"], "value": facts[path[len(prefix):-2]]})
                break
        else:
            raise JobSetError(f"{where}: env {var['name']!r} reads {path!r}, which the model does not set")
    return {**container, "env": env}


def run_jobset(manifest: str, name_suffix: str,
               run_pod: Callable[[dict[str, Any], str, int | None], Any]) -> tuple[str, str, list[Any]]:
    """Create and run the JobSet in ``manifest``: (``Completed`` or ``Failed``, a message, the pod
    nodes ``run_pod(container, pod name, deadline)`` returned, each with a ``phase``)."""
    document = yaml.safe_load(manifest)
    jobs = _checked(document)
    meta = document.get("metadata") or {}
    name = meta.get("name") or meta["generateName"] + name_suffix
    total = sum(rjob.get("replicas", 1) for rjob in jobs)
    pods: list[tuple[dict[str, Any], str, int | None]] = []
    before = 0
    for rjob in jobs:
        job = rjob["template"]["spec"]
        for index in range(rjob.get("replicas", 1)):
            facts = {"jobset.sigs.k8s.io/jobset-name": name,
                     "jobset.sigs.k8s.io/replicatedjob-name": rjob["name"],
                     "jobset.sigs.k8s.io/job-index": str(index),
                     "jobset.sigs.k8s.io/job-global-index": str(before + index),
                     "jobset.sigs.k8s.io/global-replicas": str(total)}
            pod_name = f"{name}-{rjob['name']}-{index}-0"
            container = _resolve_env(job["template"]["spec"]["containers"][0], facts, pod_name)
            pods.append((container, pod_name, job.get("activeDeadlineSeconds")))
        before += rjob.get("replicas", 1)
    with ThreadPoolExecutor(max_workers=max(1, len(pods))) as pool:  # a gang: all at once
        nodes = list(pool.map(lambda p: run_pod(*p), pods))
    failed = [pod_name for (_, pod_name, _), node in zip(pods, nodes) if node.phase != "Succeeded"]
    if failed:
        return "Failed", f"JobSet {name}: pods {failed} failed", nodes
    return "Completed", "", nodes
