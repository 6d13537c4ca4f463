"""``current``: facts about the running task (Metaflow's ``from metaflow import current``)."""

from __future__ import annotations

import os
from collections import namedtuple
from typing import Any

Parallel = namedtuple("Parallel", ["main_ip", "num_nodes", "node_index", "control_task_id"])


class _Components(list[Any]):
    """A card's components, in order; ``components["id"]`` finds one appended with an id."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for component in self:
                if getattr(component, "component_id", None) == key:
                    return component
            raise KeyError(f"no card component with id {key!r}")
        return super().__getitem__(key)


class _CardView:
    """The components of one ``@card`` of the running step."""

    def __init__(self, spec: Any = None):
        self._spec = spec
        self.components = _Components()
        if spec is not None:
            spec.components = self.components

    def append(self, component: Any, id: str | None = None) -> None:  # noqa: A002
        """A component (``flowc.cards``) or a plain string, which the card shows as text."""
        if id is not None and hasattr(component, "component_id"):
            component.component_id = id
        self.components.append(component)

    def extend(self, components: list[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self.components.clear()

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """Metaflow redraws live cards here; flowc renders every card once, when the task ends."""
        return None


class CardCollector(_CardView):
    """``current.card``: ``append`` goes to the step's default card (its ``@card`` without an
    id, or its only ``@card``); ``current.card["id"]`` is the card with that id. Without a
    ``@card``, components are accepted and dropped, as in Metaflow."""

    def __init__(self, cards: list[Any] | None = None):
        self._views = {id(spec): _CardView(spec) for spec in cards or []}
        self._by_id = {spec.id: self._views[id(spec)] for spec in cards or [] if spec.id}
        plain = [spec for spec in cards or [] if spec.id is None]
        default = plain[0] if plain else (cards[0] if cards and len(cards) == 1 else None)
        if default is not None:
            view = self._views[id(default)]
            self._spec, self.components = view._spec, view.components
        else:
            super().__init__(None)

    def __getitem__(self, card_id: str) -> _CardView:
        view = self._by_id.get(card_id)
        if view is None:
            import sys

            print(f"current.card[{card_id!r}]: the step has no @card(id={card_id!r}); its components "
                  "are dropped", file=sys.stderr)
            view = self._by_id[card_id] = _CardView(None)
        return view

    def __setitem__(self, card_id: str, components: list[Any]) -> None:
        view = self[card_id]
        view.clear()
        view.extend(components)


class Current:
    """Filled in by the runtime shim before a step runs and cleared afterwards.

    Outside a task every field is None and ``is_running_flow`` is False, as in Metaflow.
    ``_manifest``, ``_datastore`` and ``_cards`` are private: the graph, the task's datastore and
    its ``@card`` decorators.
    """

    _FIELDS = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
               "parameter_names", "namespace", "username", "project_name", "branch_name",
               "is_production", "project_flow_name", "parallel", "tags", "trigger")
    _PRIVATE = ("_manifest", "_datastore", "_cards")

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
        return self._values.get(name) is not None or (name in ("card", "graph", "tempdir")
                                                      and self.is_running_flow)

    @property
    def card(self) -> Any:
        if self._card is None:
            self._card = CardCollector(self._values.get("_cards"))
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
        kind = manifest.kind(node)
        if kind == "split" and type(node.transition).__name__ == "Parallel":
            kind = "split-parallel"
        steps[node.name] = {"name": node.name, "type": _KINDS.get(kind, kind), "line": node.span.line,
                            "doc": node.docstring or "", "next": list(node.transition.targets),
                            "decorators": [{"name": d.tag} for d in node.decorators]}
    return {"file": os.path.basename(manifest.path), "name": manifest.name,
            "start_step": manifest.start_step, "end_step": manifest.end_step,
            "doc": manifest.docstring or "", "steps": steps,
            "parameters": [{"name": p.name, "type": p.type} for p in manifest.parameters]}


current = Current()
