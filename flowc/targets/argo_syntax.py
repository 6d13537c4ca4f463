"""Argo syntax in one place: DNS-1123 names and every ``{{...}}`` / expr string flowc emits.

Nothing else in the Argo target writes braces or quotes by hand (STYLE.md: one helper per
target-syntax string, as kfp's ``taskOutputParameter``); strings inside expr expressions are JSON
string literals, which expr-lang reads with the same escapes.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import yaml

from flowc.targets.common import short_name

NAME_LIMIT = 63  # DNS-1123 label: WorkflowTemplate, template and task names
CRON_NAME_LIMIT = 52  # CronWorkflow: the controller appends an 11-character timestamp suffix
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_name(name: str, limit: int = NAME_LIMIT) -> str:
    """A DNS-1123 label for ``name``: lower case, ``_`` and ``.`` as ``-``; a name that had to
    lose information (upper case, other characters) gets a hash of the original so that two
    distinct Python names never map to the same label; shortened with a hash past ``limit``."""
    candidate = re.sub(r"[_.]", "-", name)
    cleaned = re.sub(r"[^a-z0-9-]", "", candidate.lower()).strip("-")
    if cleaned != candidate or not _LABEL.match(cleaned):
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}" if cleaned else f"x-{digest}"
    return short_name(cleaned, limit)


def flow_resource_name(flow_name: str, limit: int = NAME_LIMIT) -> str:
    """Resource names keep the readable lower-cased flow name (``MyFlow`` -> ``myflow``): the
    flow name is unique per namespace already, so case folding alone needs no hash."""
    cleaned = re.sub(r"[^a-z0-9-]", "-", flow_name.lower()).strip("-")
    cleaned = re.sub(r"-{2,}", "-", cleaned) or "flow"
    return short_name(cleaned, limit)


class NameTable:
    """Allocates unique names within one namespace (templates of a spec, tasks of a DAG)."""

    def __init__(self, limit: int = NAME_LIMIT):
        self.limit = limit
        self.taken: dict[str, str] = {}  # name -> key that owns it

    def allocate(self, desired: str, key: str) -> str:
        name = dns_name(desired, self.limit)
        if name in self.taken and self.taken[name] != key:
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
            name = short_name(f"{name}-{digest}", self.limit)
        self.taken[name] = key
        return name


# --------------------------------------------------------------------------- {{...}} references


def ref(*path: str) -> str:
    """A simple template tag: ``ref("workflow", "name")`` -> ``{{workflow.name}}``."""
    return "{{" + ".".join(path) + "}}"


def expression(text: str) -> str:
    """An expr-lang template tag: ``{{=text}}``."""
    return "{{=" + text + "}}"


def workflow_name() -> str:
    return ref("workflow", "name")


def workflow_parameter(name: str) -> str:
    return ref("workflow", "parameters", name)


def container_workflow_parameter(name: str) -> str:
    """A workflow parameter inside a container's command or env: with every ``$`` doubled, so the
    kubelet's ``$(VAR)`` expansion gives back the value as submitted (a value ``$(SECRET)`` must
    not read the pod's variable)."""
    return expression(f'sprig.replace("$", "$$", workflow.parameters[{expr_string(name)}])')


_TAG = re.compile(r"(\{\{.*?\}\})")


def container_text(text: str) -> str:
    """A literal for a container's command, args or env value: ``$`` doubled outside template
    tags, which Kubernetes reads as one ``$`` (it expands ``$(VAR)`` and ``$$`` there)."""
    return "".join(part if _TAG.fullmatch(part) else part.replace("$", "$$") for part in _TAG.split(text))


def input_parameter(name: str) -> str:
    return ref("inputs", "parameters", name)


def task_output(task: str, parameter: str) -> str:
    return ref("tasks", task, "outputs", "parameters", parameter)


def item() -> str:
    return ref("item")


def retries() -> str:
    return ref("retries")


def child_index_path(parent: str | None) -> str:
    """The index path of a foreach child: the item alone at the top, else ``parent.item``."""
    return item() if parent is None else parent + "." + item()


# --------------------------------------------------------------------------- expr-lang pieces


def expr_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def expr_task_output(task: str, parameter: str) -> str:
    return f"tasks[{expr_string(task)}].outputs.parameters[{expr_string(parameter)}]"


def expr_task_succeeded(task: str) -> str:
    return f"tasks[{expr_string(task)}].status == {expr_string('Succeeded')}"


def expr_input(name: str) -> str:
    return f"inputs.parameters[{expr_string(name)}]"


def expr_one_of(value: str, options: tuple[str, ...]) -> str:
    """``value == "a"`` or ``(value == "a" || value == "b")``."""
    terms = [f"{value} == {expr_string(option)}" for option in options]
    return terms[0] if len(terms) == 1 else "(" + " || ".join(terms) + ")"


def next_iteration() -> str:
    return expression(f"asInt({expr_input('iteration')}) + 1")


def depends_all(tasks: list[str]) -> str:
    return " && ".join(f"{t}.Succeeded" for t in tasks)


def depends_any(tasks: list[str]) -> str:
    return " || ".join(f"{t}.Succeeded" for t in tasks)


def depends_one_path(tasks: list[str]) -> str:
    """The cases of one switch as one path into a join: each finished without failing (skipped
    or omitted when not chosen) and one of them succeeded."""
    if len(tasks) == 1:
        return f"{tasks[0]}.Succeeded"
    done = " && ".join(f"({t}.Succeeded || {t}.Skipped || {t}.Omitted)" for t in tasks)
    return f"({depends_any(tasks)}) && {done}"


# --------------------------------------------------------------------------- YAML


class _Dumper(yaml.SafeDumper):
    """yaml.safe_dump's dumper, writing multi-line strings as ``|`` blocks and never anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(docs: list[Any], explicit_start: bool = False) -> str:
    """Documents as flowc writes every Kubernetes object: keys in the order built, multi-line
    strings as ``|`` blocks, no anchors, no line wrapping."""
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=1 << 16, explicit_start=explicit_start)
