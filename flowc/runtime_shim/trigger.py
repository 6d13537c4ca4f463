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

On Argo the Sensor maps the parameters itself and submits the run once every event it waits
for has arrived (Metaflow's semantics); it hands the start task the events through reserved
workflow arguments, which the start task reads from environment variables of the same names
(``flowc-trigger-data-0`` is ``FLOWC_TRIGGER_DATA_0``): ``flowc-trigger``, the JSON list of what
the Sensor waits for (``{"type": "event", "name": ...}`` or ``{"type": "run", "flow": ...}``), and
for the i-th of them ``argo_arguments(i)``: the event's payload (or the upstream run's id) and
the event's context id and time. ``argo_event`` turns each into the same ``flowc:trigger`` entry.
As on Metaflow's Argo, a payload's own ``id`` and ``timestamp`` (what Metaflow's and flowc's
publishers put there) win over the event source's.
"""

from __future__ import annotations

import datetime
import importlib
import json
from typing import Any, Iterator, Mapping, NamedTuple

TRIGGER_KEY = "flowc:trigger"
ARGO_TRIGGER = "flowc-trigger"  # Argo's reserved workflow argument: what the Sensor waits for
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


def argo_arguments(index: int) -> tuple[str, str, str]:
    """Argo's reserved workflow arguments of the ``index``-th event: its data, id and time."""
    return f"{ARGO_TRIGGER}-data-{index}", f"{ARGO_TRIGGER}-id-{index}", f"{ARGO_TRIGGER}-time-{index}"


def argo_environment_name(argument: str) -> str:
    """The start task's environment variable carrying a reserved Argo argument."""
    return argument.upper().replace("-", "_")


def events_from_environment(environ: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The events recorded for run.json, from ``FLOWC_PARAMS`` or Argo's trigger variables
    (None when no event started the run)."""
    text = environ.get("FLOWC_PARAMS")
    data: Any = None
    if text and text.strip():
        try:
            data = json.loads(text)
        except ValueError:
            return None  # params_from_environment reports it
    if isinstance(data, dict) and TRIGGER_KEY in data:
        return split_input(data)[1]
    try:
        sources = json.loads(environ.get(argo_environment_name(ARGO_TRIGGER)) or "null")
    except ValueError:
        return None
    if not isinstance(sources, list):
        return None  # a run submitted by hand
    recorded: list[dict[str, Any]] = []
    for index, source in enumerate(sources):
        event = argo_event(source, *(environ.get(argo_environment_name(a), "") for a in argo_arguments(index)))
        if event:
            recorded += split_input({TRIGGER_KEY: event})[1] or []
    return recorded or None


def argo_event(source: Any, data: str, event_id: str, time: str) -> dict[str, Any] | None:
    """The ``flowc:trigger`` entry of one event the Sensor waited for, from its description and
    reserved arguments (None for a description that is not one)."""
    if not isinstance(source, dict):
        return None
    if source.get("type") == "run":
        flow = str(source.get("flow"))
        return {"type": "run", "name": f"metaflow.{flow}.end", "id": f"{flow}/{data}/end/t",
                "timestamp": time or None}
    try:
        payload = json.loads(data) if data.strip() else {}
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    return {"type": "event", "name": source.get("name"), "id": payload.get("id") or event_id or None,
            "timestamp": payload.get("timestamp") or time or None, "payload": payload}


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
