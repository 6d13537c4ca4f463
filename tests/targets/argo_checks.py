"""Structural checks of generated Argo objects: strict JSON schema and the controller's semantics.

Strict schema (as tests/upstream/README.md describes): nulls stripped, ``IntOrString`` and
``Quantity`` also accept numbers (Kubernetes does), and ``additionalProperties: false`` on every
object definition that lists properties, so an unknown key anywhere fails.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any, Iterator

import jsonschema

from tests.conftest import UPSTREAM

SCHEMAS = UPSTREAM / "argo-schemas"
WORKFLOWS = {"3.7.0": "argo-workflows-v3.7.0.schema.json", "4.1.2": "argo-workflows-v4.1.2.schema.json"}
EVENTS = "argo-events-v1.9.11.schema.json"
DEFINITION = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
    "Sensor": "io.argoproj.events.v1alpha1.Sensor",
}
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TASK_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
RELAXED = ("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity")


def strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def _strict(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


@functools.lru_cache(maxsize=None)
def _definitions(filename: str) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / filename).read_text(encoding="utf-8"))
    definitions = copy.deepcopy(schema["definitions"])
    _strict(definitions)
    for name in RELAXED:
        if name in definitions:
            definitions[name] = {"type": ["string", "integer", "number"]}
    return definitions


@functools.lru_cache(maxsize=None)
def validator(filename: str, kind: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/definitions/{DEFINITION[kind]}", "definitions": _definitions(filename)}
    return jsonschema.Draft202012Validator(root)


@functools.lru_cache(maxsize=None)
def definition_validator(filename: str, definition: str) -> jsonschema.Draft202012Validator:
    """A strict validator of any definition of the schema (e.g. an API request body)."""
    root = {"$ref": f"#/definitions/{definition}", "definitions": _definitions(filename)}
    return jsonschema.Draft202012Validator(root)


def definition_errors(value: Any, filename: str, definition: str) -> list[str]:
    errors = definition_validator(filename, definition).iter_errors(strip_nulls(value))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def schema_errors(doc: dict[str, Any], filename: str) -> list[str]:
    errors = validator(filename, doc["kind"]).iter_errors(strip_nulls(doc))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def workflow_schema_files(doc: dict[str, Any], argo_version: str) -> list[str]:
    """Which Argo schemas an object must satisfy: ``schedule:`` (3.5) exists only before v4."""
    if doc["kind"] == "Sensor":
        return [EVENTS]
    if doc["kind"] == "CronWorkflow" and "schedule" in doc["spec"]:
        return [WORKFLOWS["3.7.0"]]
    return list(WORKFLOWS.values())


# --------------------------------------------------------------------------- semantics


def _depends_names(text: str) -> list[str]:
    cleaned = re.sub(r"&&|\|\||[()!]", " ", text)
    return [word.split(".")[0] for word in cleaned.split()]


def semantic_errors(docs: list[dict[str, Any]]) -> list[str]:
    """What Argo's validator rejects at submit time, for the subset flowc emits."""
    out: list[str] = []
    kinds = [d["kind"] for d in docs]
    if kinds.count("WorkflowTemplate") != 1:
        return [f"expected one WorkflowTemplate, got {kinds}"]
    wt = next(d for d in docs if d["kind"] == "WorkflowTemplate")
    out += list(_template_errors(wt))
    for doc in docs:
        name = doc["metadata"]["name"]
        limit = 52 if doc["kind"] == "CronWorkflow" else 63
        if not LABEL.match(name) or len(name) > limit:
            out.append(f"{doc['kind']} name {name!r} is not a DNS-1123 label of at most {limit} characters")
        if doc["kind"] == "CronWorkflow":
            ref = doc["spec"]["workflowSpec"]["workflowTemplateRef"]["name"]
            if ref != wt["metadata"]["name"]:
                out.append(f"CronWorkflow references {ref!r}")
        if doc["kind"] == "Sensor":
            for trigger in doc["spec"]["triggers"]:
                resource = trigger["template"]["argoWorkflow"]["source"]["resource"]
                if resource["spec"]["workflowTemplateRef"]["name"] != wt["metadata"]["name"]:
                    out.append("Sensor submits another template")
            deps = {d["name"] for d in doc["spec"]["dependencies"]}
            for trigger in doc["spec"]["triggers"]:
                for name in _depends_names(trigger["template"].get("conditions", "")):
                    if name not in deps:
                        out.append(f"Sensor condition names unknown dependency {name!r}")
    return out


def _template_errors(wt: dict[str, Any]) -> Iterator[str]:
    spec = wt["spec"]
    templates = spec["templates"]
    names = [t["name"] for t in templates]
    if len(set(names)) != len(names):
        yield f"duplicate template names {names}"
    by_name = {t["name"]: t for t in templates}
    if spec["entrypoint"] not in by_name:
        yield f"entrypoint {spec['entrypoint']!r} is not a template"
    workflow_params = {p["name"] for p in (spec.get("arguments") or {}).get("parameters", ())}
    for t in templates:
        if not LABEL.match(t["name"]) or len(t["name"]) > 63:
            yield f"template name {t['name']!r} is not a DNS-1123 label"
        kinds = [k for k in ("container", "script", "dag", "steps", "resource") if k in t]
        if len(kinds) != 1:
            yield f"template {t['name']!r} has types {kinds}"
        declared = {p["name"] for p in (t.get("inputs") or {}).get("parameters", ())}
        for ref in re.findall(r"\{\{inputs\.parameters\.([^}]+)\}\}", json.dumps(t)):
            if ref not in declared:
                yield f"template {t['name']!r} uses undeclared input {ref!r}"
        for ref in re.findall(r"\{\{workflow\.parameters\.([^}]+)\}\}", json.dumps(t)):
            if ref not in workflow_params:
                yield f"template {t['name']!r} uses unknown workflow parameter {ref!r}"
        if "dag" in t:
            yield from _dag_errors(t, by_name)


def _dag_errors(t: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> Iterator[str]:
    tasks = t["dag"]["tasks"]
    task_names = [task["name"] for task in tasks]
    if len(set(task_names)) != len(task_names):
        yield f"{t['name']}: duplicate task names {task_names}"
    edges: dict[str, list[str]] = {}
    for task in tasks:
        if not TASK_NAME.match(task["name"]) or len(task["name"]) > 63:
            yield f"{t['name']}: bad task name {task['name']!r}"
        if task["template"] not in by_name:
            yield f"{t['name']}.{task['name']}: unknown template {task['template']!r}"
            continue
        deps = _depends_names(task.get("depends", ""))
        edges[task["name"]] = deps
        for dep in deps:
            if dep not in task_names:
                yield f"{t['name']}.{task['name']}: depends on unknown task {dep!r}"
        text = json.dumps(task)
        for ref in re.findall(r"tasks(?:\.|\[\\\")([A-Za-z0-9-]+)", text):
            if ref not in deps:
                yield f"{t['name']}.{task['name']}: reads task {ref!r} it does not depend on"
        target = by_name[task["template"]]
        declared = [p["name"] for p in (target.get("inputs") or {}).get("parameters", ()) if "value" not in p]
        given = [p["name"] for p in (task.get("arguments") or {}).get("parameters", ())]
        if sorted(declared) != sorted(given):
            yield f"{t['name']}.{task['name']}: passes {given} to {task['template']} which takes {declared}"
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> Iterator[str]:
        if state.get(name) == 1:
            yield f"{t['name']}: dependency cycle {' -> '.join(path + (name,))}"
            return
        if state.get(name) == 2:
            return
        state[name] = 1
        for dep in edges.get(name, []):
            yield from visit(dep, path + (name,))
        state[name] = 2

    for name in task_names:
        yield from visit(name, ())
