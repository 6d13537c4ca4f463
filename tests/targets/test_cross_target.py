"""One meaning, every target: for a table of decorator combinations, the values each target's
output carries for a step (read back from the Argo YAML, the ASL JSON and the Airflow file) are
equal. A target that merged decorators its own way would fail here."""

from __future__ import annotations

import ast
import json
import textwrap
from typing import Any

import pytest
import yaml

from flowc.compiler import compile_source
from flowc.plan import build as build_plan
from flowc.compiler.quantities import cpu_cores, mebibytes
from flowc.settings import from_values
from flowc.targets import get_target

CASES = {
    "defaults": "",
    "resources": "@resources(cpu=2, memory=8192, gpu=1)",
    "kubernetes wins when larger": "@kubernetes(cpu=4, memory=16000, disk=20000)\n@resources(cpu=2, memory=4096, disk=5000)",
    "resources wins when larger": "@kubernetes(cpu='500m', memory='2Gi')\n@resources(cpu=3, memory=10000)",
    "batch with resources": "@batch(cpu=8, memory=30000, gpu=2)\n@resources(cpu=2, memory=4096)",
    "environment": "@environment(vars={'MODE': 'fast', 'N': '3'})",
    "retry": "@retry(times=4, minutes_between_retries=1)",
    "retry without delay": "@retry(times=2, minutes_between_retries=0)",
    "timeout": "@timeout(minutes=3, seconds=30)",
    "secrets": "@kubernetes(secrets=['db', 'api'])",
    "everything": "@retry(times=1)\n@timeout(hours=1)\n@environment(vars={'A': 'b'})\n@resources(cpu=1.5, memory=3000)",
}

FLOW = '''
from metaflow import FlowSpec, step, resources, kubernetes, batch, environment, retry, timeout

class Combo(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

{decorators}
    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

SETTINGS = {"datastore_root": "s3://bucket/flowc", "sfn_format": "cloudformation",
            "airflow_operator": "kubernetes"}


def emitted(decorators: str) -> dict[str, str]:
    source = FLOW.replace("{decorators}", textwrap.indent(decorators, "    "))
    plan = build_plan(compile_source(source, "combo.py").flow)
    out = {}
    for name in ("argo", "sfn", "airflow"):
        result = get_target(name).emit(plan, from_values(code="image", **SETTINGS))
        assert result.ok, result.diagnostics
        out[name] = result.text
    return out


# --------------------------------------------------------------------------- readers


def from_argo(text: str) -> dict[str, Any]:
    template = next(t for t in next(yaml.safe_load_all(text))["spec"]["templates"] if t["name"] == "work")
    container = template["container"]
    requests = container["resources"]["requests"]
    limits = container["resources"].get("limits", {})
    retry = template.get("retryStrategy")
    return {
        "cpu": cpu_cores(requests["cpu"]),
        "memory": mebibytes(requests["memory"]),
        "disk": mebibytes(requests["ephemeral-storage"]),
        "gpu": int(limits.get("nvidia.com/gpu", 0)),
        "env": {e["name"]: e["value"] for e in container.get("env", [])},
        "retries": retry["limit"] if retry else 0,
        "retry_delay": int(retry["backoff"]["duration"].rstrip("s")) if retry and "backoff" in retry else 0,
        "timeout": template["activeDeadlineSeconds"] - 30 if "activeDeadlineSeconds" in template else None,
        "secrets": [e["secretRef"]["name"] for e in container.get("envFrom", [])],
    }


def from_sfn(text: str) -> dict[str, Any]:
    definition = json.loads(json.loads(text)["Resources"]["StateMachine"]["Properties"]["DefinitionString"])
    task = definition["States"]["work"]
    overrides = task["Parameters"]["ContainerOverrides"]
    requirements = {r["Type"]: r["Value"] for r in overrides["ResourceRequirements"]}
    retry = task.get("Retry", [{}])[0]
    return {
        "cpu": float(requirements["VCPU"]),
        "memory": int(requirements["MEMORY"]),
        "gpu": int(requirements.get("GPU", 0)),
        "env": {e["Name"]: e["Value"] for e in overrides.get("Environment", [])},
        "retries": retry.get("MaxAttempts", 0),
        # ASL's interval cannot be 0: a retry without delay waits its 1-second minimum
        "retry_delay": retry.get("IntervalSeconds", 0),
        "timeout": task["TimeoutSeconds"] - 30 if "TimeoutSeconds" in task else None,
    }


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Dict) and any(k is None for k in node.keys):  # {**ENV, ...}
        return {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.Name) and node.id == "ENV":
        return {}
    return node


def _seconds(node: ast.Call) -> int:
    (keyword,) = node.keywords
    return int(ast.literal_eval(keyword.value) * {"seconds": 1, "minutes": 60, "hours": 3600}[keyword.arg])


def from_airflow(text: str) -> dict[str, Any]:
    call = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)
                and any(k.arg == "task_id" and ast.literal_eval(k.value) == "work" for k in n.keywords))
    kw = {k.arg: k.value for k in call.keywords}
    resources = {k.arg: ast.literal_eval(k.value) for k in kw["container_resources"].keywords}
    requests, limits = resources["requests"], resources.get("limits", {})
    secrets = []
    if "env_from" in kw:
        for item in kw["env_from"].elts:
            (ref,) = item.keywords
            secrets.append(ast.literal_eval(ref.value.keywords[0].value))
    return {
        "cpu": cpu_cores(requests["cpu"]),
        "memory": mebibytes(requests["memory"]),
        "disk": mebibytes(requests["ephemeral-storage"]),
        "gpu": int(limits.get("nvidia.com/gpu", 0)),
        "env": _literal(kw["env_vars"]),
        "retries": ast.literal_eval(kw["retries"]) if "retries" in kw else 0,
        "retry_delay": _seconds(kw["retry_delay"]) if "retry_delay" in kw else 0,
        "timeout": _seconds(kw["execution_timeout"]) - 30 if "execution_timeout" in kw else None,
        "secrets": secrets,
    }


@pytest.mark.parametrize("case", CASES)
def test_every_target_carries_the_same_values(case: str) -> None:
    texts = emitted(CASES[case])
    argo, sfn, airflow = from_argo(texts["argo"]), from_sfn(texts["sfn"]), from_airflow(texts["airflow"])
    assert argo == airflow, case
    shared = {k: v for k, v in argo.items() if k in sfn}
    if argo["retries"] and argo["retry_delay"] == 0:
        shared["retry_delay"] = 1  # ASL's minimum interval
    assert sfn == shared, case


def test_the_larger_disk_wins_on_every_kubernetes_target() -> None:
    """The disagreement the review found: @kubernetes(disk=20000) with @resources(disk=5000)."""
    texts = emitted(CASES["kubernetes wins when larger"])
    assert from_argo(texts["argo"])["disk"] == from_airflow(texts["airflow"])["disk"] == 20000
    assert from_argo(texts["argo"])["cpu"] == 4 and from_argo(texts["argo"])["memory"] == 16000
    resources_larger = from_argo(emitted(CASES["resources wins when larger"])["argo"])
    assert (resources_larger["cpu"], resources_larger["memory"]) == (3, 10000)
