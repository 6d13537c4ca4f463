"""``current``: facts about the running task (Metaflow's ``from metaflow import current``)."""

from __future__ import annotations

import os
from collections import namedtuple
from typing import Any

Parallel = namedtuple("Parallel", ["main_ip", "num_nodes", "node_index", "control_task_id"])


class CardCollector:
    """``current.card``: accepts components and keeps them in memory; flowc renders no cards.

    Steps written for Metaflow's ``@card`` keep working (``current.card.append(...)``,
    ``current.card["id"].append(...)``); the components are dropped when the task ends.
    """

    def __init__(self) -> None:
        self.components: list[object] = []

    def append(self, component: object) -> None:
        self.components.append(component)

    def extend(self, components: list[object]) -> None:
        self.components.extend(components)

    def clear(self) -> None:
        self.components.clear()

    def refresh(self, *args: object, **kwargs: object) -> None:
        return None

    def __getitem__(self, card_id: str) -> "CardCollector":
        return self

    def __setitem__(self, card_id: str, components: list[object]) -> None:
        self.components = list(components)


class Current:
    """Filled in by the runtime shim before a step runs and cleared afterwards.

    Outside a task every field is None and ``is_running_flow`` is False, as in Metaflow.
    ``_manifest`` and ``_datastore`` are private: they back ``graph``, ``run`` and ``task``.
    """

    _FIELDS = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
               "parameter_names", "namespace", "username", "project_name", "branch_name",
               "is_production", "project_flow_name", "parallel", "tags", "trigger")
    _PRIVATE = ("_manifest", "_datastore")

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._card: Any = None

    def _set(self, **values: Any) -> None:
        unknown = set(values) - set(self._FIELDS) - set(self._PRIVATE)
        if unknown:
            raise TypeError(f"unknown current fields {sorted(unknown)}")
        self._values = dict(values)
        self._card = None

    def _clear(self) -> None:
        self._values = {}
        self._card = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._FIELDS:
            return self._values.get(name)
        raise AttributeError(f"current has no attribute {name!r}")

    def __contains__(self, name: str) -> bool:
        return self._values.get(name) is not None or (name in ("card", "graph", "run", "task", "tempdir")
                                                      and self.is_running_flow)

    @property
    def card(self) -> Any:
        if self._card is None:
            self._card = CardCollector()
        return self._card

    @property
    def is_running_flow(self) -> bool:
        return bool(self._values)

    @property
    def pathspec(self) -> str | None:
        if not self._values:
            return None
        return "/".join((self.flow_name, self.run_id, self.step_name, self.task_id))

    @property
    def tempdir(self) -> str | None:
        """A scratch directory for the task (Metaflow's default: the working directory)."""
        return os.environ.get("METAFLOW_TEMPDIR", ".") if self._values else None

    @property
    def graph(self) -> dict[str, Any] | None:
        """The flow's graph in the shape of Metaflow's ``_graph_info``."""
        manifest = self._values.get("_manifest")
        return graph_info(manifest) if manifest is not None else None

    @property
    def run(self) -> Any:
        """The client's Run of the running task (Metaflow's ``current.run``)."""
        if not self._values:
            return None
        from flowc.client import Run

        return Run(f"{self.flow_name}/{self.run_id}", self._values.get("_datastore"), _namespace_check=False)

    @property
    def task(self) -> Any:
        """The client's Task of the running task; it exists for readers once it has finished."""
        if not self._values:
            return None
        from flowc.client import Task

        return Task(self.pathspec, self._values.get("_datastore"), _namespace_check=False)

    def get(self, name: str, default: Any = None) -> Any:
        value = self._values.get(name) if not name.startswith("_") else None
        return default if value is None else value

    def __repr__(self) -> str:
        return f"current({self.pathspec or 'not running'})"


_KINDS = {"foreach": "split-foreach", "split": "split-static", "switch": "split-switch"}


def graph_info(manifest: Any) -> dict[str, Any]:
    """Metaflow's ``_graph_info`` (``file``, ``name``, ``doc``, ``steps``) from a manifest."""
    steps = {}
    for node in manifest.steps:
        kind = node.kind
        if kind == "split" and type(node.transition).__name__ == "Parallel":
            kind = "split-parallel"
        steps[node.name] = {"name": node.name, "type": _KINDS.get(kind, kind), "line": node.span.line,
                            "doc": node.docstring or "", "next": list(node.transition.targets),
                            "decorators": [{"name": d.tag} for d in node.decorators]}
    return {"file": os.path.basename(manifest.path), "name": manifest.name,
            "doc": manifest.docstring or "", "steps": steps,
            "parameters": [{"name": p.name, "type": p.type} for p in manifest.parameters]}


current = Current()
