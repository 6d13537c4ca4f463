"""``current``: facts about the running task (Metaflow's ``from metaflow import current``)."""

from __future__ import annotations

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
    """Filled in by the runtime shim before a step runs and cleared afterwards."""

    _FIELDS = ("flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
               "parameter_names", "namespace", "username", "project_name", "branch_name",
               "is_production", "project_flow_name", "parallel", "tags", "trigger")

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._card: CardCollector | None = None

    def _set(self, **values: Any) -> None:
        unknown = set(values) - set(self._FIELDS)
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

    @property
    def card(self) -> CardCollector:
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

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def __repr__(self) -> str:
        return f"current({self.pathspec or 'not running'})"


current = Current()
