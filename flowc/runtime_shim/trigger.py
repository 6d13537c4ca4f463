"""What started a run, as ``current.trigger`` shows it (Metaflow's ``Trigger``).

An engine that starts runs from events hands the start task the event inside the execution input
(``FLOWC_PARAMS``), under the key ``TRIGGER_KEY``, which no parameter can take (it is not a Python
identifier)::

    {"flowc:trigger": {"type": "event", "name": "data_ready", "id": "...", "timestamp": "...",
                       "payload": {...}, "parameters": {"alpha": "value"}}}
    {"flowc:trigger": {"type": "run", "name": "metaflow.Upstream.end",
                       "id": "Upstream/<run id>/end/t", "timestamp": "..."}}

The start task takes the mapped parameters from the payload (``parameters``: flow parameter ->
payload field; a field the payload lacks leaves the parameter's default, as in Metaflow) and
records the event, without its payload, as run.json's ``trigger``; every task of the run then
reads it back as ``current.trigger``.
"""

from __future__ import annotations

import datetime
import importlib
import json
from typing import Any, Iterator, NamedTuple

TRIGGER_KEY = "flowc:trigger"
_RECORDED = ("type", "name", "id", "timestamp")


class MetaflowEvent(NamedTuple):
    """One event that started the run: ``type`` is ``event`` or ``run`` (an upstream flow)."""

    name: str
    id: str | None
    timestamp: datetime.datetime | str | None
    type: str


def split_input(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """(the parameter values of an execution input, the events to record). The trigger's
    mapped payload fields are added to the values the input gives explicitly (which win)."""
    values = {k: v for k, v in data.items() if k != TRIGGER_KEY}
    event = data.get(TRIGGER_KEY)
    if not isinstance(event, dict):
        return values, None
    payload = event.get("payload")
    mapping = event.get("parameters") or {}
    if isinstance(payload, dict) and isinstance(mapping, dict):
        for parameter, field in mapping.items():
            if field in payload and payload[field] is not None:
                values.setdefault(str(parameter), payload[field])
    return values, [{k: event.get(k) for k in _RECORDED}]


def events_from_environment(text: str | None) -> list[dict[str, Any]] | None:
    """The events recorded for run.json from ``FLOWC_PARAMS`` (None when no event started the run)."""
    if not text or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None  # params_from_environment reports it
    return split_input(data)[1] if isinstance(data, dict) else None


def _timestamp(value: Any) -> Any:
    """EventBridge's ISO time (or Metaflow's epoch seconds) as a datetime; anything else as is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


class Trigger:
    """The events that started a run, latest first: ``event``/``events``, and for upstream flows
    ``run``/``runs`` (client ``Run`` objects); ``trigger[name]`` finds one by flow or event name."""

    def __init__(self, records: list[dict[str, Any]]):
        events = [MetaflowEvent(str(r.get("name")), r.get("id"), _timestamp(r.get("timestamp")),
                                str(r.get("type") or "event")) for r in records]
        self._events = sorted(events, key=lambda e: str(e.timestamp or ""), reverse=True)

    @classmethod
    def from_record(cls, records: Any) -> "Trigger | None":
        """run.json's ``trigger`` as ``current.trigger`` (None for a run started by hand)."""
        if not isinstance(records, list) or not records:
            return None
        return cls([r for r in records if isinstance(r, dict)])

    @property
    def event(self) -> MetaflowEvent | None:
        return self._events[0] if self._events else None

    @property
    def events(self) -> list[MetaflowEvent] | None:
        return list(self._events) or None

    @property
    def runs(self) -> list[Any] | None:
        """The upstream runs; the client is loaded only when a step asks for them (the shim
        itself never imports it)."""
        if not any(e.type == "run" for e in self._events):
            return None
        client = importlib.import_module("flowc.client")
        runs = [client.Run("/".join(str(e.id).split("/")[:2]), _namespace_check=False)
                for e in self._events if e.type == "run" and e.id]
        return runs or None

    @property
    def run(self) -> Any:
        runs = self.runs
        return runs[0] if runs else None

    def __getitem__(self, key: str) -> Any:
        """The upstream run of flow ``key``, else the event named ``key`` (as Metaflow)."""
        for run in self.runs or []:
            if run.pathspec.split("/")[0] == key:
                return run
        for event in self._events:
            if event.type != "run" and event.name == key:
                return event
        raise KeyError(key)

    def __iter__(self) -> Iterator[MetaflowEvent]:
        return iter(self._events)

    def __contains__(self, key: str) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __repr__(self) -> str:
        return f"Trigger({self._events!r})"
