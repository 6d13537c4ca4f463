"""A test-only interpreter of the Argo Workflows subset flowc emits (and Argo's own examples use).

It runs a ``Workflow``, ``WorkflowTemplate`` or ``CronWorkflow`` document on this machine:
containers and scripts become local processes (the image is ignored; ``python`` means this
interpreter), each pod gets a private ``/tmp`` (paths under ``/tmp/`` are mapped to a fresh
directory per pod), and ``path_map`` maps other in-image directories (such as the code
directory) to local ones. Tasks run one at a time in a deterministic order, which Argo's
semantics allow: only the outcome, not the interleaving, is asserted.

Semantics implemented, after Argo's controller and docs:
- ``{{...}}`` substitution (inputs, outputs, tasks/steps outputs and status, item, workflow
  name and parameters, retries) and ``{{=expr}}`` expressions;
- DAG ``depends`` (``.Succeeded .Failed .Errored .Skipped .Omitted .Daemoned .AnySucceeded
  .AllFailed``, ``&& || !``, parentheses; a bare name means Succeeded, Skipped or Daemoned) and
  legacy ``dependencies``; a task whose ``depends`` is false is Omitted, one whose ``when`` is
  false is Skipped; a DAG fails when one of its target (leaf) tasks failed, an Omitted target
  inheriting the failure of its parents;
- ``steps`` groups (sequential groups, fail on the first failed group);
- ``withItems`` / ``withParam`` / ``withSequence`` (count, start, end, format), ``when`` per item;
- nested DAG/steps templates and recursion (bounded depth);
- ``retryStrategy`` (limit, retryPolicy, backoff duration/factor/cap/maxDuration; sleeps go
  through an injectable ``sleep``), ``activeDeadlineSeconds`` and ``timeout`` on pods;
- output parameters from ``valueFrom.path`` (with ``default``), ``parameter`` and
  ``expression``; ``outputs.result`` is a pod's stdout;
- ``spec.templateDefaults`` merged into each template (lists of named items merged by name).

- ``resource`` templates creating a JobSet (``@parallel``), run by the model in ``jobset``: its
  pods all start at once, with the downward-API facts the JobSet controller gives them;
- ``spec.onExit``: the exit handler runs after the entrypoint with ``{{workflow.status}}``; a
  failed handler fails a workflow that had succeeded (as Argo's controller does).

Every other field of the spec is either modelled, ignored for a stated reason (it changes where or
how fast a pod runs, never the outcome), or refused with an ``InterpreterError`` before anything
runs (``MODELLED`` / ``IGNORED`` below: lifecycle hooks, ``continueOn`` in DAGs,
``failFast``, ``retryStrategy.expression``, artifacts, volumes, suspend/http templates, resources
other than a JobSet,
a misspelt key such as ``dependss``). The document must also pass Argo's published JSON schema,
made strict (``tests/targets/argo_checks.py``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from tests.harness import jobset, k8s
from tests.harness.argo_expr import ExprError, Undefined, evaluate_expr, evaluate_when, stringify

SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED = "Succeeded", "Failed", "Error", "Skipped", "Omitted"
FULFILLED_OK = (SUCCEEDED, SKIPPED)
MAX_DEPTH = 60
BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
POD_TMP = re.compile(r"(?<![\w/.-])/tmp(?=/|$|\s|\")[^\s\"'<>|;&]*")


class InterpreterError(RuntimeError):
    """The spec uses something the interpreter does not model, or refers to nothing."""


# Per kind of object: the keys whose semantics the interpreter implements.
MODELLED: dict[str, frozenset[str]] = {
    "document": frozenset({"apiVersion", "kind", "metadata", "spec"}),
    "cronSpec": frozenset({"workflowSpec"}),
    "spec": frozenset({"entrypoint", "templates", "arguments", "templateDefaults", "workflowTemplateRef",
                       "onExit"}),
    "workflowTemplateRef": frozenset({"name"}),
    "arguments": frozenset({"parameters"}),
    "argument": frozenset({"name", "value"}),
    "template": frozenset({"name", "container", "script", "dag", "steps", "inputs", "outputs",
                           "retryStrategy", "activeDeadlineSeconds", "timeout", "resource"}),
    "templateDefaults": frozenset({"container", "script", "retryStrategy", "activeDeadlineSeconds",
                                   "timeout"}),
    "container": frozenset({"image", "command", "args", "env", "workingDir"}),
    "script": frozenset({"image", "command", "args", "env", "workingDir", "source"}),
    "env": frozenset({"name", "value"}),
    "inputs": frozenset({"parameters"}),
    "inputParameter": frozenset({"name", "value", "default"}),
    "outputs": frozenset({"parameters"}),
    "outputParameter": frozenset({"name", "valueFrom"}),
    "valueFrom": frozenset({"path", "default", "parameter", "expression"}),
    "retryStrategy": frozenset({"limit", "retryPolicy", "backoff"}),
    "backoff": frozenset({"duration", "factor", "cap", "maxDuration"}),
    "dag": frozenset({"tasks", "target"}),
    "task": frozenset({"name", "template", "arguments", "depends", "dependencies", "when",
                       "withItems", "withParam", "withSequence"}),
    "step": frozenset({"name", "template", "arguments", "when", "withItems", "withParam",
                       "withSequence", "continueOn"}),
    "continueOn": frozenset({"failed"}),
    "withSequence": frozenset({"count", "start", "end", "format"}),
}

# Keys that cannot change a run's outcome here, with the reason; anything else is refused.
_PLACEMENT = "where or with what the pod runs (no cluster here)"
IGNORED: dict[str, dict[str, str]] = {
    "cronSpec": {key: "scheduling: the interpreter runs the workflowSpec once" for key in (
        "schedule", "schedules", "timezone", "concurrencyPolicy", "startingDeadlineSeconds",
        "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "suspend")},
    "spec": {"parallelism": "limits concurrency; outcomes do not depend on it",
             "serviceAccountName": _PLACEMENT, "podGC": "cleanup after the run",
             "ttlStrategy": "cleanup after the run", "workflowMetadata": "labels only",
             "podMetadata": "labels only", "nodeSelector": _PLACEMENT, "tolerations": _PLACEMENT,
             "affinity": _PLACEMENT, "imagePullSecrets": _PLACEMENT, "securityContext": _PLACEMENT,
             "priorityClassName": _PLACEMENT, "podPriorityClassName": _PLACEMENT},
    "argument": {"description": "documentation", "enum": "checked when submitting, not running"},
    "template": {"metadata": "labels only", "parallelism": "limits concurrency",
                 "memoize": "a cache hit gives the outputs the pod gives again; pods here always run",
                 "nodeSelector": _PLACEMENT, "tolerations": _PLACEMENT, "affinity": _PLACEMENT,
                 "serviceAccountName": _PLACEMENT, "securityContext": _PLACEMENT,
                 "priorityClassName": _PLACEMENT, "podSpecPatch": _PLACEMENT,
                 "automountServiceAccountToken": _PLACEMENT, "annotations": "documentation"},
    "templateDefaults": {"metadata": "labels only", "nodeSelector": _PLACEMENT,
                         "tolerations": _PLACEMENT, "serviceAccountName": _PLACEMENT,
                         "securityContext": _PLACEMENT},
    "container": {"resources": _PLACEMENT, "imagePullPolicy": _PLACEMENT, "securityContext": _PLACEMENT,
                  "name": "the main container's name"},
    "script": {"resources": _PLACEMENT, "imagePullPolicy": _PLACEMENT, "securityContext": _PLACEMENT,
               "name": "the main container's name"},
    "inputParameter": {"description": "documentation", "enum": "checked when submitting"},
    "outputParameter": {"description": "documentation", "globalName": "not read by any modelled field"},
    "retryStrategy": {"affinity": _PLACEMENT},
}


def check_modelled(document: dict[str, Any]) -> None:
    """Raise ``InterpreterError`` naming the first field the interpreter would not honour."""
    def keys(kind: str, node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        for key in node:
            if key not in MODELLED[kind] and key not in IGNORED.get(kind, {}):
                raise InterpreterError(f"{where}.{key}: not modelled by the test interpreter "
                                       f"(a {kind} may have {sorted(MODELLED[kind])})")

    def each(kind: str, items: Any, where: str) -> None:
        for i, item in enumerate(items or ()):
            keys(kind, item, f"{where}[{i}]")

    def task(kind: str, node: dict[str, Any], where: str) -> None:
        keys(kind, node, where)
        keys("continueOn", node.get("continueOn"), f"{where}.continueOn")
        keys("withSequence", node.get("withSequence"), f"{where}.withSequence")
        keys("arguments", node.get("arguments"), f"{where}.arguments")
        each("argument", (node.get("arguments") or {}).get("parameters"), f"{where}.arguments.parameters")

    def template(kind: str, tmpl: dict[str, Any], where: str) -> None:
        keys(kind, tmpl, where)
        for pod in ("container", "script"):
            keys(pod, tmpl.get(pod), f"{where}.{pod}")
            each("env", (tmpl.get(pod) or {}).get("env"), f"{where}.{pod}.env")
        keys("inputs", tmpl.get("inputs"), f"{where}.inputs")
        each("inputParameter", (tmpl.get("inputs") or {}).get("parameters"), f"{where}.inputs.parameters")
        keys("outputs", tmpl.get("outputs"), f"{where}.outputs")
        for i, param in enumerate((tmpl.get("outputs") or {}).get("parameters") or ()):
            keys("outputParameter", param, f"{where}.outputs.parameters[{i}]")
            keys("valueFrom", param.get("valueFrom"), f"{where}.outputs.parameters[{i}].valueFrom")
        keys("retryStrategy", tmpl.get("retryStrategy"), f"{where}.retryStrategy")
        keys("backoff", (tmpl.get("retryStrategy") or {}).get("backoff"), f"{where}.retryStrategy.backoff")
        if "resource" in tmpl:
            try:
                jobset.check_resource(tmpl["resource"], f"{where}.resource")
            except jobset.JobSetError as exc:
                raise InterpreterError(str(exc)) from None
        keys("dag", tmpl.get("dag"), f"{where}.dag")
        for i, node in enumerate((tmpl.get("dag") or {}).get("tasks") or ()):
            task("task", node, f"{where}.dag.tasks[{i}]")
        for i, group in enumerate(tmpl.get("steps") or ()):
            for j, node in enumerate(group or ()):
                task("step", node, f"{where}.steps[{i}][{j}]")

    keys("document", document, document.get("kind", "document"))
    spec = document.get("spec") or {}
    if document.get("kind") == "CronWorkflow":
        keys("cronSpec", spec, "spec")
        spec = spec.get("workflowSpec") or {}
    keys("spec", spec, "spec")
    keys("workflowTemplateRef", spec.get("workflowTemplateRef"), "spec.workflowTemplateRef")
    keys("arguments", spec.get("arguments"), "spec.arguments")
    each("argument", (spec.get("arguments") or {}).get("parameters"), "spec.arguments.parameters")
    if spec.get("templateDefaults"):
        template("templateDefaults", spec["templateDefaults"], "spec.templateDefaults")
    for i, tmpl in enumerate(spec.get("templates") or ()):
        template("template", tmpl, f"spec.templates[{i}]")


def check_schema(document: dict[str, Any]) -> None:
    """Argo's published JSON schema, strict (unknown keys fail): what the API server accepts."""
    from tests.targets.argo_checks import WORKFLOWS, schema_errors

    cron_v3 = document.get("kind") == "CronWorkflow" and "schedule" in (document.get("spec") or {})
    errors = schema_errors(document, WORKFLOWS["3.7.0" if cron_v3 else "4.1.2"])
    if errors:
        raise InterpreterError(f"{document.get('kind')} fails Argo's schema: " + "; ".join(errors[:5]))


@dataclass
class Node:
    """One node of the run, named like Argo's node names (``wf.task(0:item)``, ``wf[1].step``)."""

    name: str
    template: str
    kind: str  # Pod, DAG, Steps, TaskGroup, Skipped, Omitted
    phase: str = ""
    message: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    backoff: list[float] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    children: list["Node"] = field(default_factory=list)

    @property
    def task(self) -> str:
        """The last segment of the name: the task or step name (with its item suffix)."""
        depth, start = 0, 0
        for i, ch in enumerate(self.name):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if ch == "." and depth == 0:
                start = i + 1
        return self.name[start:]


@dataclass
class Run:
    phase: str
    nodes: list[Node]
    message: str = ""

    def find(self, task: str) -> list[Node]:
        """Nodes whose last name segment is ``task`` or ``task(<item>)``."""
        return [n for n in self.nodes if n.task == task or n.task.startswith(task + "(")]

    def phases(self, task: str) -> list[str]:
        return [n.phase for n in self.find(task)]

    def pods(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "Pod"]


def load_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


class Interpreter:
    def __init__(
        self,
        document: dict[str, Any],
        *,
        parameters: dict[str, str] | None = None,
        workflow_name: str = "wf",
        env: dict[str, str] | None = None,
        path_map: dict[str, str] | None = None,
        workdir: str | Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pod_timeout: float = 120.0,
        shared_paths: Iterable[str | Path] = (),
        max_parallel: int = 1,
        scheduled_time: str = "2026-01-01T00:00:00Z",
        workflow_templates: Iterable[dict[str, Any]] = (),
        pod_python: str = sys.executable,
    ):
        kind = document.get("kind")
        check_schema(document)
        check_modelled(document)
        for template in workflow_templates:
            check_schema(template)
            check_modelled(template)
        spec = document["spec"]
        if kind == "CronWorkflow":
            spec = spec["workflowSpec"]
        elif kind not in ("Workflow", "WorkflowTemplate"):
            raise InterpreterError(f"cannot run a {kind}")
        if "workflowTemplateRef" in spec:
            spec = _from_template(spec, {t["metadata"]["name"]: t for t in workflow_templates})
        self.spec = spec
        self.templates = {t["name"]: t for t in spec.get("templates", ())}
        self.defaults = spec.get("templateDefaults") or {}
        self.name = workflow_name
        self.extra_env = dict(env or {})
        self.path_map = dict(path_map or {})
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="argo-interp-"))
        self.sleep = sleep
        self.pod_timeout = pod_timeout
        # host directories pods share (a test's datastore): never mapped to a pod's private /tmp
        self.shared = tuple(str(p) for p in (*shared_paths, self.workdir, *self.path_map.values()))
        self.nodes: list[Node] = []
        self._pods = 0
        self._lock = threading.Lock()
        # >1 runs the expanded items of a loop concurrently (as Argo does); 1 keeps every run in
        # one deterministic order, which the seeded example tests rely on.
        self.max_parallel = max_parallel
        self.pod_python = pod_python  # what `python` in a container's command is: the image's Python
        declared = {p["name"]: p.get("value") for p in (spec.get("arguments") or {}).get("parameters", ())}
        for key, value in (parameters or {}).items():
            declared[key] = value
        missing = [k for k, v in declared.items() if v is None]
        if missing:
            raise InterpreterError(f"workflow parameters without a value: {missing}")
        self.workflow = {
            "name": workflow_name,
            "parameters": {k: str(v) for k, v in declared.items()},
            "scheduledTime": scheduled_time,
            "namespace": "default",
        }

    # ------------------------------------------------------------------ entry

    def run(self) -> Run:
        entry = self.spec["entrypoint"]
        args = [{"name": k, "value": v} for k, v in self.workflow["parameters"].items()]
        node = self.call_template(entry, args, self.name, depth=0, pass_unknown=True)
        phase, message = node.phase, node.message
        handler = self.spec.get("onExit")
        if handler:
            # Argo runs the exit handler after the entrypoint, whatever its phase, with
            # {{workflow.status}} set; a failed handler fails a workflow that had succeeded.
            self.workflow["status"] = phase
            exit_node = self.call_template(handler, [], f"{self.name}.onExit", depth=0)
            if exit_node.phase != SUCCEEDED and phase == SUCCEEDED:
                phase, message = exit_node.phase, exit_node.message or "exit handler failed"
        return Run(phase, self.nodes, message)

    # ------------------------------------------------------------------ substitution

    def _base_env(self) -> dict[str, Any]:
        return {"workflow": {**self.workflow, "parameters": dict(self.workflow["parameters"])}}

    def substitute(self, value: Any, env: dict[str, Any]) -> Any:
        """Replace every ``{{...}}`` in strings nested anywhere in ``value``."""
        if isinstance(value, str):
            return BRACES.sub(lambda m: self._resolve(m.group(1), env), value)
        if isinstance(value, list):
            return [self.substitute(v, env) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v, env) for k, v in value.items()}
        return value

    def _resolve(self, inner: str, env: dict[str, Any]) -> str:
        text = inner.strip()
        try:
            if text.startswith("="):
                return stringify(evaluate_expr(text[1:], env))
            value: Any = env
            for part in text.split("."):
                if isinstance(value, dict) and part in value:
                    value = value[part]
                else:
                    raise Undefined(text)
            return stringify(value)
        except Undefined as exc:
            raise InterpreterError(f"unable to resolve {{{{{inner}}}}}: {exc}") from None
        except ExprError as exc:
            raise InterpreterError(f"bad expression {{{{{inner}}}}}: {exc}") from None

    # ------------------------------------------------------------------ templates

    def template(self, name: str) -> dict[str, Any]:
        if name not in self.templates:
            raise InterpreterError(f"template {name!r} does not exist")
        tmpl = copy.deepcopy(self.templates[name])
        if self.defaults:
            defaults = copy.deepcopy(self.defaults)
            kinds = ("container", "script", "dag", "steps", "resource", "suspend")
            own = [k for k in kinds if k in tmpl]
            for k in kinds:
                if k not in own:
                    defaults.pop(k, None)
            tmpl = _merge(defaults, tmpl)
        return tmpl

    def call_template(self, name: str, arguments: list[dict[str, Any]], node_name: str,
                      depth: int, pass_unknown: bool = False) -> Node:
        if depth > MAX_DEPTH:
            raise InterpreterError(f"recursion deeper than {MAX_DEPTH} at {node_name}")
        tmpl = self.template(name)
        given = {a["name"]: a.get("value") for a in arguments}
        inputs: dict[str, str] = {}
        base = self._base_env()
        for param in (tmpl.get("inputs") or {}).get("parameters", ()):
            pname = param["name"]
            if pname in given and given[pname] is not None:
                inputs[pname] = str(given[pname])
            elif "value" in param:
                inputs[pname] = self.substitute(str(param["value"]), base)
            elif "default" in param:
                inputs[pname] = self.substitute(str(param["default"]), base)
            else:
                node = Node(node_name, name, "Pod", ERROR, f"input parameter {pname!r} was not supplied")
                self.nodes.append(node)
                return node
        unknown = set(given) - {p["name"] for p in (tmpl.get("inputs") or {}).get("parameters", ())}
        if unknown and not pass_unknown:
            raise InterpreterError(f"{node_name}: arguments {sorted(unknown)} not declared by {name}")
        env = {**base, "inputs": {"parameters": inputs}}
        strategy = tmpl.get("retryStrategy")
        if strategy is None:
            return self._execute(tmpl, env, node_name, depth, attempt=0)
        return self._with_retries(tmpl, env, node_name, depth, strategy)

    def _with_retries(self, tmpl: dict[str, Any], env: dict[str, Any], node_name: str, depth: int,
                      strategy: dict[str, Any]) -> Node:
        limit = int(self.substitute(str(strategy.get("limit", 0)), env)) if "limit" in strategy else None
        policy = strategy.get("retryPolicy", "OnFailure")
        if policy not in ("OnFailure", "OnError", "Always", "OnTransientError"):
            raise InterpreterError(f"{node_name}: unknown retryPolicy {policy!r}")
        backoff = strategy.get("backoff") or {}
        started = 0.0  # time as the backoff sees it: the sum of the delays so far
        delays: list[float] = []
        attempt = 0
        while True:
            node = self._execute(tmpl, env, f"{node_name}({attempt})", depth, attempt)
            # OnTransientError retries only errors Kubernetes reports as transient, which a local
            # process never produces: a plain failure is final, as on Argo.
            retryable = node.phase == FAILED and policy in ("OnFailure", "Always") \
                or node.phase == ERROR and policy in ("OnError", "Always")
            if node.phase == SUCCEEDED or not retryable or (limit is not None and attempt >= limit):
                break
            delay = _backoff_delay(backoff, attempt)
            if "maxDuration" in backoff and started + delay > _duration(backoff["maxDuration"]):
                node.message = (node.message + "; " if node.message else "") + "backoff maxDuration exceeded"
                break
            if delay:
                self.sleep(delay)
            started += delay
            delays.append(delay)
            attempt += 1
        retry = Node(node_name, tmpl["name"], "Retry", node.phase, node.message, node.outputs,
                     attempts=attempt + 1, backoff=delays)
        self.nodes.append(retry)
        return retry

    def _execute(self, tmpl: dict[str, Any], env: dict[str, Any], node_name: str, depth: int,
                 attempt: int) -> Node:
        env = {**env, "retries": str(attempt)}
        try:
            if "container" in tmpl or "script" in tmpl:
                return self._pod(tmpl, env, node_name)
            if "dag" in tmpl:
                return self._dag(tmpl, env, node_name, depth)
            if "steps" in tmpl:
                return self._steps(tmpl, env, node_name, depth)
            if "resource" in tmpl:
                return self._resource(tmpl, env, node_name)
        except InterpreterError as exc:
            node = Node(node_name, tmpl["name"], "Pod", ERROR, str(exc))
            self.nodes.append(node)
            return node
        raise InterpreterError(f"template {tmpl['name']!r}: only container, script, dag, steps and JobSet resource templates are supported")

    # ------------------------------------------------------------------ pods

    def _pod(self, tmpl: dict[str, Any], env: dict[str, Any], node_name: str) -> Node:
        kind = "script" if "script" in tmpl else "container"
        spec = self.substitute(tmpl[kind], env)
        with self._lock:
            self._pods += 1
            pod_tmp = self.workdir / f"pod{self._pods}"
        pod_tmp.mkdir(parents=True)
        tmp = str(pod_tmp / "tmp")
        os.makedirs(tmp)

        def local(text: str) -> str:
            text = POD_TMP.sub(lambda m: m.group(0) if _under(m.group(0), self.shared)
                               else tmp + m.group(0)[len("/tmp"):], text)
            for image_dir, here in self.path_map.items():
                if text == image_dir or text.startswith(image_dir + "/"):
                    text = here + text[len(image_dir):]
            return text

        argv = [local(str(a)) for a in (spec.get("command") or [])]
        if kind == "script":
            script = pod_tmp / "script"
            script.write_text(local(spec.get("source", "")), encoding="utf-8")
            script.chmod(0o755)  # Argo stages scripts executable: `sh -c /argo/staging/script` works
            argv.append(str(script))
        argv += [local(str(a)) for a in (spec.get("args") or [])]
        if not argv:
            raise InterpreterError(f"{node_name}: a container without command is not supported")
        if argv[0] in ("python", "python3"):
            argv[0] = self.pod_python
        declared = []
        for var in spec.get("env") or ():
            if "valueFrom" in var:
                raise InterpreterError(f"{node_name}: env valueFrom is not modelled")
            declared.append((var["name"], local(str(var.get("value", "")))))
        argv, container_env = k8s.expand_container(argv, declared)  # what the kubelet does
        proc_env = {**os.environ, **self.extra_env, **container_env}
        cwd = local(spec["workingDir"]) if spec.get("workingDir") else str(pod_tmp)
        deadline = None
        for key in ("activeDeadlineSeconds", "timeout"):
            if key in tmpl:
                seconds = _duration(self.substitute(str(tmpl[key]), env))
                deadline = seconds if deadline is None else min(deadline, seconds)
        node = Node(node_name, tmpl["name"], "Pod", argv=argv)
        self.nodes.append(node)
        try:
            proc = subprocess.run(argv, env=proc_env, cwd=cwd, capture_output=True, text=True,
                                  timeout=deadline if deadline is not None else self.pod_timeout)
        except subprocess.TimeoutExpired as exc:
            node.phase, node.message = FAILED, "Pod was active on the node longer than the specified deadline"
            node.stdout = _text(exc.stdout)
            node.stderr = _text(exc.stderr)
            if deadline is None:
                node.phase, node.message = ERROR, f"pod ran longer than the interpreter's {self.pod_timeout}s"
            return node
        except OSError as exc:
            node.phase, node.message = ERROR, f"cannot start {argv[0]!r}: {exc}"
            return node
        node.stdout, node.stderr = proc.stdout, proc.stderr
        if proc.returncode != 0:
            node.phase, node.message = FAILED, f"Error (exit code {proc.returncode})"
            return node
        outputs: dict[str, Any] = {"result": proc.stdout.rstrip("\n"), "parameters": {}}
        for param in (tmpl.get("outputs") or {}).get("parameters", ()):
            source = param.get("valueFrom") or {}
            if "path" not in source:
                raise InterpreterError(f"{node_name}: pod output {param['name']!r} needs valueFrom.path")
            path = Path(local(source["path"]))
            if path.is_file():
                outputs["parameters"][param["name"]] = path.read_text(encoding="utf-8").rstrip("\n")
            elif "default" in source:
                outputs["parameters"][param["name"]] = str(source["default"])
            else:
                node.phase, node.message = ERROR, f"output parameter {param['name']!r}: no file {source['path']}"
                return node
        node.phase, node.outputs = SUCCEEDED, outputs
        return node

    def _resource(self, tmpl: dict[str, Any], env: dict[str, Any], node_name: str) -> Node:
        """A JobSet created and waited for (``jobset.run_jobset``); its pods run as this
        template's containers would, one child node each."""
        manifest = self.substitute(tmpl["resource"]["manifest"], env)
        with self._lock:
            self._pods += 1
            suffix = f"{self._pods:05d}"[-5:]

        def run_pod(container: dict[str, Any], pod_name: str, deadline: int | None) -> Node:
            pod_tmpl: dict[str, Any] = {"name": tmpl["name"], "container": container}
            if deadline is not None:
                pod_tmpl["activeDeadlineSeconds"] = deadline
            return self._pod(pod_tmpl, env, f"{node_name}.{pod_name}")

        try:
            state, message, pods = jobset.run_jobset(manifest, suffix, run_pod)
        except jobset.JobSetError as exc:
            raise InterpreterError(f"{node_name}: {exc}") from None
        node = Node(node_name, tmpl["name"], "Resource", SUCCEEDED if state == "Completed" else FAILED,
                    message, {"parameters": {}}, children=pods)
        self.nodes.append(node)
        return node

    # ------------------------------------------------------------------ DAGs

    def _dag(self, tmpl: dict[str, Any], env: dict[str, Any], node_name: str, depth: int) -> Node:
        tasks = tmpl["dag"]["tasks"]
        by_name = {t["name"]: t for t in tasks}
        if len(by_name) != len(tasks):
            raise InterpreterError(f"{tmpl['name']}: duplicate task names")
        deps = {t["name"]: _dependencies(t) for t in tasks}
        for name, names in deps.items():
            for dep in names:
                if dep not in by_name:
                    raise InterpreterError(f"{tmpl['name']}.{name} depends on unknown task {dep!r}")
        results: dict[str, Node] = {}
        scope = {**env, "tasks": {}}
        pending = [t["name"] for t in tasks]
        while pending:
            ready = [n for n in pending if all(d in results for d in deps[n])]
            if not ready:
                raise InterpreterError(f"{tmpl['name']}: dependency cycle among {pending}")
            name = ready[0]
            pending.remove(name)
            task = by_name[name]
            logic = _depends_text(task)
            child_name = f"{node_name}.{name}"
            if logic and not _eval_depends(logic, {d: results[d] for d in deps[name]}):
                node = Node(child_name, task.get("template", ""), "Omitted", OMITTED, "omitted: depends condition not met")
                self.nodes.append(node)
            else:
                node = self._run_task(task, scope, child_name, depth)
            results[name] = node
            scope["tasks"][name] = {"outputs": node.outputs, "status": node.phase}
        phase = _dag_phase(tasks, deps, results, tmpl["dag"].get("target"))
        outputs = self._template_outputs(tmpl, scope) if phase == SUCCEEDED else {}
        node = Node(node_name, tmpl["name"], "DAG", phase, outputs=outputs)
        self.nodes.append(node)
        return node

    def _run_task(self, task: dict[str, Any], scope: dict[str, Any], node_name: str, depth: int) -> Node:
        """A DAG task or a step: expand loops, check ``when``, call the template."""
        items = self._expand(task, scope)
        if items is None:
            return self._run_one(task, scope, node_name, depth)
        def child(i: int) -> Node:
            item = items[i]
            label = stringify(item) if not isinstance(item, (dict, list)) else json.dumps(item, separators=(",", ":"))
            return self._run_one(task, {**scope, "item": item}, f"{node_name}({i}:{label})", depth)

        if self.max_parallel > 1 and len(items) > 1:
            with ThreadPoolExecutor(max_workers=self.max_parallel) as pool:
                children = list(pool.map(child, range(len(items))))
        else:
            children = [child(i) for i in range(len(items))]
        if not children:
            phase, message = SKIPPED, "Skipped, empty params"
        elif any(c.phase in (FAILED, ERROR) for c in children):
            phase, message = FAILED, "child failed"
        else:
            phase, message = SUCCEEDED, ""
        group = Node(node_name, task.get("template", ""), "TaskGroup", phase, message, children=children)
        group.outputs = {"parameters": {}, "result": json.dumps(
            [_as_json(c.outputs.get("result")) for c in children if c.outputs])}
        group.outputs["parameters"] = _aggregate(children)
        self.nodes.append(group)
        return group

    def _run_one(self, task: dict[str, Any], scope: dict[str, Any], node_name: str, depth: int) -> Node:
        if task.get("when"):
            condition = self.substitute(task["when"], scope)
            try:
                run_it = evaluate_when(condition)
            except ExprError as exc:
                raise InterpreterError(f"{node_name}: when {condition!r}: {exc}") from None
            if not run_it:
                node = Node(node_name, task.get("template", ""), "Skipped", SKIPPED,
                            f"when '{condition}' evaluated false")
                self.nodes.append(node)
                return node
        if "template" not in task:
            raise InterpreterError(f"{node_name}: only 'template' references are supported")
        arguments = self.substitute((task.get("arguments") or {}).get("parameters", []), scope)
        return self.call_template(task["template"], arguments, node_name, depth + 1)

    def _expand(self, task: dict[str, Any], scope: dict[str, Any]) -> list[Any] | None:
        if "withItems" in task:
            return list(task["withItems"])
        if "withParam" in task:
            raw = self.substitute(task["withParam"], scope)
            try:
                items = json.loads(raw)
            except json.JSONDecodeError:
                raise InterpreterError(f"withParam value is not JSON: {raw!r}") from None
            if not isinstance(items, list):
                raise InterpreterError(f"withParam value is not a JSON list: {raw!r}")
            return items
        if "withSequence" in task:
            seq = self.substitute(task["withSequence"], scope)
            start = int(seq.get("start", 0))
            if "count" in seq and "end" in seq:
                raise InterpreterError("withSequence takes count or end, not both")
            if "count" in seq:
                values: Iterable[int] = range(start, start + int(seq["count"]))
            else:
                end = int(seq.get("end", 0))
                values = range(start, end + 1) if end >= start else range(start, end - 1, -1)
            fmt = seq.get("format")
            return [fmt % v if fmt else str(v) for v in values]
        return None

    def _template_outputs(self, tmpl: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, str] = {}
        for param in (tmpl.get("outputs") or {}).get("parameters", ()):
            source = param.get("valueFrom") or {}
            if "parameter" in source:
                params[param["name"]] = self.substitute(source["parameter"], scope)
            elif "expression" in source:
                try:
                    params[param["name"]] = stringify(evaluate_expr(source["expression"], scope))
                except ExprError as exc:
                    raise InterpreterError(f"{tmpl['name']} output {param['name']!r}: {exc}") from None
            else:
                raise InterpreterError(f"{tmpl['name']}: output {param['name']!r} needs parameter or expression")
        return {"parameters": params}

    # ------------------------------------------------------------------ steps

    def _steps(self, tmpl: dict[str, Any], env: dict[str, Any], node_name: str, depth: int) -> Node:
        scope = {**env, "steps": {}}
        phase = SUCCEEDED
        for i, group in enumerate(tmpl["steps"]):
            group_nodes = []
            for step in group:
                node = self._run_task(step, scope, f"{node_name}[{i}].{step['name']}", depth)
                group_nodes.append((step, node))
            for step, node in group_nodes:
                scope["steps"][step["name"]] = {"outputs": node.outputs, "status": node.phase}
            failed = [n for s, n in group_nodes if n.phase in (FAILED, ERROR)
                      and not (s.get("continueOn") or {}).get("failed")]
            if failed:
                phase = FAILED
                break
        outputs = self._template_outputs(tmpl, scope) if phase == SUCCEEDED else {}
        node = Node(node_name, tmpl["name"], "Steps", phase, outputs=outputs)
        self.nodes.append(node)
        return node


# ---------------------------------------------------------------------- helpers


def run_spec(text_or_doc: str | dict[str, Any], **kwargs: Any) -> Run:
    """Run the first Workflow/WorkflowTemplate/CronWorkflow document of a spec."""
    if isinstance(text_or_doc, str):
        docs = [d for d in load_documents(text_or_doc) if d.get("kind") in ("Workflow", "WorkflowTemplate", "CronWorkflow")]
        document = docs[0]
    else:
        document = text_or_doc
    return Interpreter(document, **kwargs).run()


def _from_template(spec: dict[str, Any], registry: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A workflow submitted from a WorkflowTemplate: the template's spec, with the submitted
    arguments overriding its parameters by name (what ``argo submit --from`` does)."""
    name = spec["workflowTemplateRef"]["name"]
    if name not in registry:
        raise InterpreterError(f"workflowTemplateRef {name!r}: no such WorkflowTemplate")
    merged = copy.deepcopy(registry[name]["spec"])
    given = {p["name"]: p.get("value") for p in (spec.get("arguments") or {}).get("parameters", ())}
    params = (merged.get("arguments") or {}).get("parameters", [])
    for param in params:
        if param["name"] in given:
            param["value"] = given.pop(param["name"])
    if given:
        raise InterpreterError(f"arguments {sorted(given)} are not parameters of {name!r}")
    return merged


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _merge(base: Any, over: Any) -> Any:
    """Strategic merge as templateDefaults use it: maps merge, lists of named maps merge by name."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(over, list) and all(
            isinstance(x, dict) and "name" in x for x in base + over):
        merged = {x["name"]: x for x in base}
        for x in over:
            merged[x["name"]] = _merge(merged[x["name"]], x) if x["name"] in merged else x
        return list(merged.values())
    return over


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms)?")


def _duration(text: Any) -> float:
    """Argo durations: a plain number of seconds, or Go's ``1h2m3s``."""
    raw = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw)
    total = 0.0
    pos = 0
    for m in _DURATION.finditer(raw):
        if m.start() != pos:
            raise InterpreterError(f"bad duration {raw!r}")
        unit = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, None: 1}[m.group(2)]
        total += float(m.group(1)) * unit
        pos = m.end()
    if pos != len(raw):
        raise InterpreterError(f"bad duration {raw!r}")
    return total


def _backoff_delay(backoff: dict[str, Any], attempt: int) -> float:
    if not backoff or "duration" not in backoff:
        return 0.0
    delay = _duration(backoff["duration"]) * float(backoff.get("factor", 1)) ** attempt
    if "cap" in backoff:
        delay = min(delay, _duration(backoff["cap"]))
    return delay


_DEP_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)(?:\.(Succeeded|Failed|Errored|Skipped|Omitted|Daemoned|AnySucceeded|AllFailed))?")


def _depends_text(task: dict[str, Any]) -> str:
    if task.get("depends"):
        return str(task["depends"])
    if task.get("dependencies"):
        return " && ".join(task["dependencies"])
    return ""


def _dependencies(task: dict[str, Any]) -> list[str]:
    text = _depends_text(task)
    stripped = re.sub(r"&&|\|\||[()!]", " ", text)
    names = []
    for word in stripped.split():
        m = _DEP_NAME.fullmatch(word)
        if not m:
            raise InterpreterError(f"cannot read depends {text!r}")
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def _status_of(node: Node, status: str | None) -> bool:
    phase = node.phase
    if status is None:
        return phase in (SUCCEEDED, SKIPPED) or node.kind == "Daemoned"
    if status == "Succeeded":
        return phase == SUCCEEDED
    if status == "Failed":
        return phase == FAILED
    if status == "Errored":
        return phase == ERROR
    if status == "Skipped":
        return phase == SKIPPED
    if status == "Omitted":
        return phase == OMITTED
    if status == "Daemoned":
        return False
    if status == "AnySucceeded":
        return any(c.phase == SUCCEEDED for c in node.children)
    if status == "AllFailed":
        return bool(node.children) and all(c.phase in (FAILED, ERROR) for c in node.children)
    raise InterpreterError(f"unknown status {status}")


def _eval_depends(text: str, nodes: dict[str, Node]) -> bool:
    """``depends`` is a boolean expression over ``task[.Status]`` terms."""
    def term(m: re.Match[str]) -> str:
        return "true" if _status_of(nodes[m.group(1)], m.group(2)) else "false"

    boolean = _DEP_NAME.sub(term, text)
    try:
        return evaluate_expr(boolean, {})
    except ExprError as exc:
        raise InterpreterError(f"cannot evaluate depends {text!r}: {exc}") from None


def _dag_phase(tasks: list[dict[str, Any]], deps: dict[str, list[str]], results: dict[str, Node],
               target: str | None) -> str:
    """Argo's assessDAGPhase: the DAG fails when a target task failed; an Omitted target takes
    the failure of any parent branch."""
    depended = {d for names in deps.values() for d in names}
    targets = target.split() if target else [t["name"] for t in tasks if t["name"] not in depended]
    memo: dict[str, bool] = {}

    def failed(name: str) -> bool:
        if name not in memo:
            node = results[name]
            if node.phase in (FAILED, ERROR):
                memo[name] = True
            elif node.phase == OMITTED:
                memo[name] = any(failed(d) for d in deps[name])
            else:
                memo[name] = False
        return memo[name]

    return FAILED if any(failed(t) for t in targets) else SUCCEEDED


def _aggregate(children: list[Node]) -> dict[str, str]:
    """A task group's outputs.parameters.X: the JSON list of the children's values."""
    names: list[str] = []
    for child in children:
        for key in (child.outputs.get("parameters") or {}):
            if key not in names:
                names.append(key)
    return {k: json.dumps([_as_json((c.outputs.get("parameters") or {}).get(k)) for c in children])
            for k in names}


def _as_json(value: Any) -> Any:
    """Aggregated outputs hold each child's value parsed as JSON when it is JSON (as Argo does)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.harness.argo_interpreter SPEC.yaml [-p name=value] [--map /app=.]``:
    run a spec here and print each node, for debugging a compiled flow by hand."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("spec")
    parser.add_argument("-p", "--parameter", action="append", default=[], help="name=value")
    parser.add_argument("--map", action="append", default=[], help="IMAGE_DIR=LOCAL_DIR")
    parser.add_argument("--name", default="wf", help="workflow name (the flowc run id)")
    parser.add_argument("--shared", action="append", default=[],
                        help="a host directory under /tmp that pods share (e.g. the datastore); other "
                             "/tmp paths are private to each pod")
    args = parser.parse_args(argv)
    params = dict(p.split("=", 1) for p in args.parameter)
    path_map = dict(m.split("=", 1) for m in args.map)
    path_map = {k: str(Path(v).resolve()) for k, v in path_map.items()}
    run = run_spec(Path(args.spec).read_text(encoding="utf-8"), parameters=params, path_map=path_map,
                   workflow_name=args.name, shared_paths=[str(Path(p).resolve()) for p in args.shared])
    for node in run.nodes:
        print(f"{node.phase:<10} {node.kind:<9} {node.name}" + (f"  ({node.message})" if node.message else ""))
    print(f"workflow {run.phase}")
    return 0 if run.phase == SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())
