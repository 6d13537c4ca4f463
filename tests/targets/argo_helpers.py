"""Compile a flow to Argo and run the spec in the test interpreter against a local datastore."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

from flowc.compiler import compile_file, compile_source
from flowc.plan import build as build_plan
from flowc.targets import Settings, get_target
from tests.conftest import ROOT, target_settings
from tests.harness.argo_interpreter import Run, load_documents, run_spec

CODE_DIR = "/app"


def emit(path: Path, **settings: Any) -> str:
    """The Argo spec of ``path`` (compiled with its path relative to the repo, as CI does)."""
    inside = path.is_absolute() and path.resolve().is_relative_to(ROOT)
    flow = compile_file(path.resolve().relative_to(ROOT) if inside else path).flow
    emitted = get_target("argo").emit(build_plan(flow), target_settings(**settings))
    errors = [d for d in emitted.diagnostics if d.severity == "error"]
    assert not errors, errors
    return emitted.text


def emit_source(source: str, path: str = "flow.py", **settings: Any):
    flow = compile_source(source, path).flow
    return get_target("argo").emit(build_plan(flow), target_settings(**settings))


def run_compiled(path: Path, tmp: Path, parameters: dict[str, str] | None = None,
                 run_id: str = "argo-run", **settings: Any) -> tuple[Run, str]:
    """Compile ``path`` with the datastore in ``tmp`` and run it; returns the run and the spec."""
    text = emit(path, datastore_root=str(tmp / "datastore"), code_dir=CODE_DIR, **settings)
    # a flow outside the repository is compiled from its absolute path: the image holds its name
    image_root = ROOT if path.resolve().is_relative_to(ROOT) else path.resolve().parent
    run = run_spec(text, parameters=parameters, workflow_name=run_id,
                   path_map={CODE_DIR: str(image_root)}, workdir=tmp / "pods", shared_paths=[tmp],
                   max_parallel=4)
    return run, text


def failure_report(run: Run) -> str:
    lines = [f"workflow {run.phase}: {run.message}"]
    for node in run.nodes:
        if node.phase not in ("Succeeded", "Skipped", "Omitted"):
            lines.append(f"- {node.name} [{node.kind}] {node.phase}: {node.message}")
            if node.stderr:
                lines.append("  " + node.stderr.strip().replace("\n", "\n  ")[-3000:])
    return "\n".join(lines)


def documents(text: str) -> list[dict[str, Any]]:
    return load_documents(text)


def with_settings(**changes: Any) -> Settings:
    return target_settings(**changes)


def sensor_submission(sensor: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    """The Workflow a flowc Sensor submits for one event ``body`` (None when no dependency's
    filters match), applying Argo Events' trigger parameters: each ``src.dataKey`` is read from
    the event, ``src.value`` is the fallback, and the result lands at ``dest``."""
    event = {"body": body}
    matched = [d["name"] for d in sensor["spec"]["dependencies"]
               if all(str(_lookup(event, f["path"])) in f["value"] for f in d["filters"]["data"])]
    if not matched:
        return None
    trigger = sensor["spec"]["triggers"][0]["template"]["argoWorkflow"]
    resource = copy.deepcopy(trigger["source"]["resource"])
    for param in trigger.get("parameters", ()):
        src = param["src"]
        value = _lookup(event, src["dataKey"]) if src["dependencyName"] in matched else None
        if value is None:
            value = src.get("value")
        target: Any = resource
        *parents, last = param["dest"].split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = str(value)
    return resource


def _lookup(event: dict[str, Any], path: str) -> Any:
    """gjson-style path: ``.`` separates keys, ``\\.`` is a literal dot."""
    value: Any = event
    for key in re.split(r"(?<!\\)\.", path):
        key = key.replace("\\.", ".")
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value
