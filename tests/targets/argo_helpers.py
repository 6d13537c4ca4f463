"""Compile a flow to Argo and run the spec in the test interpreter against a local datastore."""

from __future__ import annotations

import copy
import dataclasses
import json
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


SAMPLE_CONTEXT = {"id": "3a6f0c2e9b8d4f1aa7c5e2d1b0f9e8d7", "source": "flowc-events", "specversion": "1.0",
                  "type": "webhook", "datacontenttype": "application/json", "subject": "flowc",
                  "time": "2026-12-05T09:30:00Z"}


def sensor_submission(sensor: dict[str, Any], *bodies: dict[str, Any],
                      contexts: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The Workflow a flowc Sensor submits once the events ``bodies`` have arrived, in order, each
    with its CloudEvents context (default: ``SAMPLE_CONTEXT``, the id numbered after the first);
    None when no trigger's conditions are met. Argo Events' semantics: each dependency keeps the
    latest event its filters match; a trigger fires when its ``conditions`` (names joined by
    ``&&`` and ``||``, ``&&`` binding tighter) hold; each parameter's ``src.dataKey`` is read from
    that event's data (``{"body": body}``), its ``src.contextKey`` from its context, ``src.value``
    is the fallback (and the value of a source with neither key), and the result lands at ``dest``
    as a string (an object as its JSON)."""
    if contexts is None:
        contexts = [SAMPLE_CONTEXT if i == 0 else {**SAMPLE_CONTEXT, "id": f"{SAMPLE_CONTEXT['id']}-{i}"}
                    for i in range(len(bodies))]
    arrived: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for body, context in zip(bodies, contexts):
        event = {"body": body}
        for dependency in sensor["spec"]["dependencies"]:
            if all(str(_lookup(event, f["path"])) in f["value"] for f in dependency["filters"]["data"]):
                arrived[dependency["name"]] = (event, context)
    for trigger in sensor["spec"]["triggers"]:
        template = trigger["template"]
        if not any(all(name.strip() in arrived for name in group.split("&&"))
                   for group in template["conditions"].split("||")):
            continue
        workflow = template["argoWorkflow"]
        resource = copy.deepcopy(workflow["source"]["resource"])
        for param in workflow.get("parameters", ()):
            value = _resolve(param["src"], arrived)
            if value is None:
                continue
            target: Any = resource
            *parents, last = param["dest"].split(".")
            for key in parents:
                target = target[int(key)] if isinstance(target, list) else target[key]
            target[int(last) if isinstance(target, list) else last] = value
        return resource
    return None


def _resolve(src: dict[str, Any], arrived: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> str | None:
    """One trigger parameter's value, as Argo Events' ResolveParamValue gives it."""
    if src["dependencyName"] not in arrived:
        return src.get("value")
    event, context = arrived[src["dependencyName"]]
    if "dataKey" in src:
        found = _lookup(event, src["dataKey"], missing=_MISSING)
    elif "contextKey" in src:
        found = _lookup(context, src["contextKey"], missing=_MISSING)
    else:
        return src.get("value")
    if found is _MISSING:
        return src.get("value")
    if isinstance(found, str):
        return found
    return json.dumps(found, separators=(",", ":"))  # gjson: raw JSON of objects, numbers, booleans, null


_MISSING = object()


def _lookup(event: dict[str, Any], path: str, missing: Any = None) -> Any:
    """gjson-style path: ``.`` separates keys, ``\\`` makes the next character literal."""
    value: Any = event
    for key in re.findall(r"(?:\\.|[^.\\])+", path):
        key = re.sub(r"\\(.)", r"\1", key)
        if not isinstance(value, dict) or key not in value:
            return missing
        value = value[key]
    return value
