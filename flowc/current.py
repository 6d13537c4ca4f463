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
        """Re-render this card while the task runs (at most once per its ``refresh_interval``;
        the render after the step replaces it). Metaflow's ``data`` argument is not used."""
        live = getattr(self._spec, "live", None)
        if live is not None:
            live.request()


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
    its ``@card`` decorators. ``dir(current)`` lists what Metaflow's lists in the same step: its
    core attributes always, the ones its plugins add (``card``, the ``@project`` fields,
    ``trigger``, ``parallel``) only where that plugin applies. docs/metaflow.md lists what is
    refused.
    """

    _FIELDS = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
               "parameter_names", "namespace", "username", "project_name", "branch_name",
               "is_production", "project_flow_name", "parallel", "tags", "trigger")
    _PRIVATE = ("_manifest", "_datastore", "_cards")
    # Metaflow's Current has these whatever the step (its class properties and ``get``).
    _CORE = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id", "pathspec",
             "task", "run", "namespace", "username", "tags", "tempdir", "graph", "get", "is_running_flow")
    # Added by Metaflow's task and plugins only where they apply: listed when set.
    _ADDED = ("parameter_names", "graph_info", "project_name", "branch_name", "is_user_branch",
              "is_production", "project_flow_name", "trigger", "parallel", "is_parallel")

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
        """Metaflow's rule: the attribute exists and is not None."""
        if name.startswith("_") or name not in dir(self):
            return False
        return getattr(self, name, None) is not None

    def __dir__(self) -> list[str]:
        names = list(self._CORE)
        if self._values:
            names += [name for name in self._ADDED if self._is_set(name)]
        if self._values.get("_cards"):
            names.append("card")
        return sorted(names)

    def _is_set(self, name: str) -> bool:
        if name == "graph_info":  # without building the graph
            return self._values.get("_manifest") is not None
        return getattr(self, name) is not None

    @property
    def card(self) -> Any:
        """The step's cards. Metaflow has no ``current.card`` without ``@card``; flowc accepts the
        components there and drops them (``dir`` and ``in`` follow Metaflow)."""
        if self._card is None:
            self._card = CardCollector(self._values.get("_cards"))
        return self._card

    @property
    def is_user_branch(self) -> bool | None:
        """With ``@project``: True on the ``user.NAME`` branch (no ``--branch``, not production)."""
        branch = self._values.get("branch_name")
        return branch.startswith("user.") if isinstance(branch, str) else None

    @property
    def parallel(self) -> Parallel | None:
        """In a ``@parallel`` step, this node of the gang. Elsewhere in a flow with a
        ``@parallel`` step, Metaflow's single-node default (from the ``MF_PARALLEL_*`` variables);
        in other flows None (Metaflow has no attribute)."""
        gang = self._values.get("parallel")
        if gang is not None:
            return gang
        manifest = self._values.get("_manifest")
        if manifest is None or not any(type(node.transition).__name__ == "Parallel" for node in manifest.steps):
            return None
        return Parallel(os.environ.get("MF_PARALLEL_MAIN_IP", "127.0.0.1"),
                        int(os.environ.get("MF_PARALLEL_NUM_NODES", "1")),
                        int(os.environ.get("MF_PARALLEL_NODE_INDEX", "0")),
                        os.environ.get("MF_PARALLEL_CONTROL_TASK_ID"))

    @property
    def is_parallel(self) -> bool | None:
        """True in a ``@parallel`` step (Metaflow sets it there only)."""
        return True if self._values.get("parallel") is not None else None

    @property
    def task(self) -> Any:
        """The running task as a client ``Task`` (no namespace check, as in Metaflow)."""
        pathspec = self.pathspec
        if pathspec is None:
            return None
        return _client().Task(pathspec, _namespace_check=False)

    @property
    def run(self) -> Any:
        """The running run as a client ``Run``."""
        if not self._values:
            return None
        return _client().Run(f"{self.flow_name}/{self.run_id}", _namespace_check=False)

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
    def graph_info(self) -> dict[str, Any] | None:
        """Metaflow's task sets this next to ``graph``; the same dictionary."""
        return self.graph

    def get(self, name: str, default: Any = None) -> Any:
        """Metaflow's ``getattr(current, name, default)``: ``default`` only for a name that is
        not an attribute here (see ``dir``); an attribute that is None gives None."""
        if name.startswith("_") or name not in dir(self):
            return default
        return getattr(self, name)

    def __repr__(self) -> str:
        return f"current({self.pathspec or 'not running'})"


def _client() -> Any:
    """flowc.client, loaded when a step asks for ``current.task``/``run`` and not before: the client
    sits above ``current`` (it reads ``current`` to find the running task's datastore), so this is
    the one import that goes upwards, deferred like ``flowc``'s own PEP 562 ``flowc.Task``."""
    import importlib

    return importlib.import_module("flowc.client")


_KINDS = {"foreach": "split-foreach", "split": "split-static", "switch": "split-switch"}


def _node_type(node: Any) -> str:
    kind = node.kind
    if kind == "split" and type(node.transition).__name__ == "Parallel":
        return "split-parallel"
    return _KINDS.get(kind, kind)


def _node_info(node: Any) -> dict[str, Any]:
    """One entry of ``_graph_info["steps"]``, with the keys Metaflow gives each type."""
    info: dict[str, Any] = {"name": node.name, "type": _node_type(node), "line": node.span.line,
                            "doc": node.docstring or "", "next": list(node.transition.targets),
                            "decorators": [{"name": d.tag} for d in node.decorators]}
    transition = node.transition
    if info["type"] == "split-foreach":
        info["foreach_artifact"] = transition.items
    elif info["type"] == "split-parallel":
        info["num_parallel"] = transition.num_parallel
    elif info["type"] == "split-switch":
        info["condition"] = transition.condition
        info["switch_cases"] = dict(transition.cases)
    if node.matching_join:
        info["matching_join"] = node.matching_join
    return info


def _structure(manifest: Any, first: str, stop: str) -> list[Any]:
    """Metaflow's ``graph_structure``: step names in order, a split as a list of its branches
    (each a list), up to ``stop`` (a split's join, or the end step)."""
    block: list[Any] = []
    name: str | None = first
    while name is not None and name != stop:
        node = manifest.step(name)
        block.append(name)
        kind = _node_type(node)
        if kind in ("split-static", "split-foreach"):
            block.append([_structure(manifest, branch, node.matching_join)
                          for branch in node.transition.targets])
            name = node.matching_join
        elif kind == "split-switch":
            block.append([_structure(manifest, case, stop)
                          for case in node.transition.targets if case != name])
            name = None
        else:
            name = node.transition.targets[0] if node.transition.targets else None
    return block


def graph_info(manifest: Any) -> dict[str, Any]:
    """Metaflow's ``_graph_info`` (``file``, ``start_step``, ``end_step``, ``parameters``,
    ``steps``, ``graph_structure``, ``doc``) from a manifest. Metaflow's ``constants``,
    flow-level ``decorators``, ``extensions`` and per-step ``source_file``/``node_info`` and
    decorator attributes are not carried."""
    end = next(node.name for node in manifest.steps if node.kind == "end")
    structure = _structure(manifest, "start", end) + [end] if end != "start" else [end]
    steps = {name: _node_info(manifest.step(name)) for name in _flatten(structure)}
    steps.update({node.name: _node_info(node) for node in manifest.steps if node.name not in steps})
    return {"file": os.path.basename(manifest.path), "start_step": "start", "end_step": end,
            "parameters": [{"name": p.name, "type": p.type} for p in manifest.parameters],
            "steps": steps, "graph_structure": structure, "doc": manifest.docstring or ""}


def _flatten(structure: list[Any]) -> list[str]:
    names: list[str] = []
    for item in structure:
        names.extend(_flatten(item) if isinstance(item, list) else [item])
    return names


current = Current()
