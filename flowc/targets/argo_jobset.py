"""``@parallel`` on Argo: the gang step as a resource template that creates a Kubernetes JobSet
(``jobset.x-k8s.io/v1alpha2``), which schedules the gang's pods together.

The JobSet has two replicated jobs of Indexed one-pod jobs: ``control`` (one job: node 0) and ``worker``
(``num_parallel - 1`` jobs: nodes 1..N-1). Every pod runs the shim exactly as the step's own
container template would (the same command, image, resources and environment, plus what Argo's
``templateDefaults`` would have added), with the index path of the gang's parent; the shim ends
the task's index path with the pod's node index (``flowc.runtime_shim.gang``), so the members
are the tasks ``flowc run`` writes and the join reads them the same way. The pod learns:

- its node index from the ``jobset.sigs.k8s.io/job-global-index`` annotation (the control job
  comes first, so its index is 0 and the workers' are 1..N-1), through the downward API;
- the gang's size from the template's input (a literal, or the parent's ``foreach-width`` output
  when ``num_parallel`` is known only at run time, substituted by Argo into the manifest);
- the control task's address: its stable DNS name on the JobSet's headless service,
  ``<jobset>-control-0-0.<jobset>`` (the subdomain defaults to the JobSet's name, read from the
  ``jobset.sigs.k8s.io/jobset-name`` label, so a generated name works).

Every job must complete (``successPolicy`` All); a failed pod fails its job (``backoffLimit``
0) and the JobSet without restarts: @retry is Argo's ``retryStrategy`` on the resource
template, which creates a fresh JobSet whose pods see the attempt as ``{{retries}}``.
"""

from __future__ import annotations

from typing import Any

from flowc.compiler import ir
from flowc.targets import Settings
from flowc.targets import argo_syntax as syn
from flowc.targets.argo_pod import INDEX_INPUT

API_VERSION = "jobset.x-k8s.io/v1alpha2"
CONTROL = "control"
WORKERS = "worker"
NUM_NODES_INPUT = "num-nodes"
GLOBAL_INDEX = "jobset.sigs.k8s.io/job-global-index"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
JOBSET_NAME_ENV = "FLOWC_JOBSET_NAME"
SUCCESS_CONDITION = "status.terminalState == Completed"
FAILURE_CONDITION = "status.terminalState == Failed"
# Pod host names are <jobset>-worker-<job>-0 and must stay a DNS label (63): a short prefix.
NAME_PREFIX_LIMIT = 30


def gang_size(transition: ir.Parallel) -> str:
    """``num_parallel`` in the template: the literal, or the input Argo substitutes."""
    if transition.num_parallel is not None:
        return str(transition.num_parallel)
    return syn.input_parameter(NUM_NODES_INPUT)


def _workers(transition: ir.Parallel) -> int | str:
    """The worker jobs' count: a number, or an expression tag Argo replaces with one."""
    if transition.num_parallel is not None:
        return transition.num_parallel - 1
    return syn.expression(f"asInt({syn.expr_input(NUM_NODES_INPUT)}) - 1")


def _gang_env(transition: ir.Parallel) -> list[dict[str, Any]]:
    """What the shim reads to know the pod's place in the gang (``runtime_shim.gang``)."""
    main = f"$({JOBSET_NAME_ENV})-{CONTROL}-0-0.$({JOBSET_NAME_ENV})"  # expanded by the kubelet
    return [
        {"name": JOBSET_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOBSET_NAME_LABEL}']"}}},
        {"name": "FLOWC_PARALLEL_NODE_INDEX",
         "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{GLOBAL_INDEX}']"}}},
        {"name": "FLOWC_PARALLEL_NUM_NODES", "value": gang_size(transition)},
        {"name": "FLOWC_PARALLEL_MAIN_IP", "value": main},
    ]


def _pod_spec(step_template: dict[str, Any], defaults: dict[str, Any], transition: ir.Parallel,
              settings: Settings) -> dict[str, Any]:
    """The step's container template as a pod: Argo's ``templateDefaults`` (image, working
    directory, manifest) do not reach a JobSet's pods, so they are written out here."""
    own = step_template["container"]
    container: dict[str, Any] = {"name": "main", "image": own.get("image", defaults.get("image"))}
    for key in ("imagePullPolicy", "command"):
        if key in own:
            container[key] = own[key]
    if "workingDir" in defaults:
        container["workingDir"] = defaults["workingDir"]
    container["env"] = [*defaults.get("env", ()), *own.get("env", ()), *_gang_env(transition)]
    for key in ("envFrom", "resources", "volumeMounts"):
        if key in own:
            container[key] = own[key]
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    account = step_template.get("serviceAccountName") or settings.service_account
    if account:
        pod["serviceAccountName"] = account
    for key in ("nodeSelector", "tolerations"):
        if key in step_template:
            pod[key] = step_template[key]
    pod["containers"] = [container]
    if "volumes" in step_template:
        pod["volumes"] = step_template["volumes"]
    return pod


def _replicated_job(name: str, replicas: int | str, pod: dict[str, Any], metadata: dict[str, Any],
                    deadline: int | None) -> dict[str, Any]:
    # Indexed (the JobSet webhook's default too): the pod's host name is <job>-0, which the
    # headless service resolves, so main_ip is <jobset>-control-0-0.<jobset>.
    job: dict[str, Any] = {"completionMode": "Indexed", "parallelism": 1, "completions": 1, "backoffLimit": 0}
    if deadline is not None:
        job["activeDeadlineSeconds"] = deadline
    template: dict[str, Any] = {"metadata": metadata} if metadata else {}
    job["template"] = {**template, "spec": pod}
    return {"name": name, "replicas": replicas, "template": {"spec": job}}


def jobset(flow: ir.Flow, gang: str, step_template: dict[str, Any], defaults: dict[str, Any],
           transition: ir.Parallel, settings: Settings, labels: dict[str, str]) -> dict[str, Any]:
    """The JobSet of one gang run (its name generated, so each Argo retry makes a new one)."""
    pod = _pod_spec(step_template, defaults, transition, settings)
    metadata = step_template.get("metadata") or {}
    deadline = step_template.get("activeDeadlineSeconds")
    meta: dict[str, Any] = {"generateName": syn.flow_resource_name(f"{flow.name}-{gang}", NAME_PREFIX_LIMIT) + "-"}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    meta["labels"] = {**labels, "flowc/step": syn.dns_name(gang), "flowc/run": syn.workflow_name()}
    return {
        "apiVersion": API_VERSION,
        "kind": "JobSet",
        "metadata": meta,
        "spec": {
            "network": {"enableDNSHostnames": True},
            "successPolicy": {"operator": "All"},
            "failurePolicy": {"maxRestarts": 0},
            "replicatedJobs": [
                _replicated_job(CONTROL, 1, pod, metadata, deadline),
                _replicated_job(WORKERS, _workers(transition), pod, metadata, deadline),
            ],
        },
    }


def manifest_text(document: dict[str, Any], transition: ir.Parallel) -> str:
    """The JobSet as YAML for the resource template; a run-time worker count is written as a
    bare tag, so that after Argo substitutes it the field is a number, not a string."""
    text = syn.dump_yaml([document])
    workers = _workers(transition)
    if isinstance(workers, str):
        quoted = syn.dump_yaml([{"replicas": workers}]).strip()
        assert quoted in text
        text = text.replace(quoted, f"replicas: {workers}")
    return text


def gang_template(name: str, flow: ir.Flow, gang: str, step_template: dict[str, Any],
                  defaults: dict[str, Any], transition: ir.Parallel, settings: Settings,
                  labels: dict[str, str], nested: bool) -> dict[str, Any]:
    """The resource template that runs the gang step ``gang`` and succeeds when its JobSet does."""
    inputs = [{"name": INDEX_INPUT}] if nested else []
    if transition.num_parallel is None:
        inputs.append({"name": NUM_NODES_INPUT})
    template: dict[str, Any] = {"name": name}
    if inputs:
        template["inputs"] = {"parameters": inputs}
    if "retryStrategy" in step_template:
        template["retryStrategy"] = step_template["retryStrategy"]
    document = jobset(flow, gang, step_template, defaults, transition, settings, labels)
    template["resource"] = {
        "action": "create",
        "setOwnerReference": True,
        "successCondition": SUCCESS_CONDITION,
        "failureCondition": FAILURE_CONDITION,
        "manifest": manifest_text(document, transition),
    }
    return template
