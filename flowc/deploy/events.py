"""``flowc trigger --event NAME --payload JSON``: publish an event that @trigger flows wait for.

On Step Functions it is one EventBridge ``PutEvents`` entry on the ``sfn_event_bus`` bus in the
shape the compiled rules match (``flowc.targets.sfn_events``: source ``flowc``, detail type the
event's name, detail the payload). No other engine publishes events through flowc yet.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from flowc.deploy.base import DeployError, aws_errors
from flowc.settings import from_values
from flowc.targets.sfn_asl import SfnSettings
from flowc.targets.sfn_events import event_entry

PUBLISHERS = ("sfn",)


def parse_payload(text: str | None) -> dict[str, Any]:
    """The payload, a JSON object (``{}`` when none is given), or a one-line ``DeployError``."""
    if text is None or not text.strip():
        return {}
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise DeployError(f"--payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise DeployError(f"--payload must be a JSON object, not a JSON {type(payload).__name__}")
    return payload


def publish(target: str, name: str, payload_text: str | None, bus: str | None = None,
            settings: Mapping[str, Any] = {}) -> str:
    """Publish the event ``name``; returns the engine's id of the event."""
    if target not in PUBLISHERS:
        raise DeployError(f"flowc trigger --event publishes to {', '.join(PUBLISHERS)} only, not {target!r}")
    if not name.strip():
        raise DeployError("--event needs an event name")
    payload = parse_payload(payload_text)
    resolved = from_values(**settings)
    bus = bus or resolved.of(SfnSettings).event_bus
    try:
        import boto3
    except ImportError:
        raise DeployError("boto3 is not installed: pip install 'flowc[s3]'") from None
    with aws_errors(f"publish event {name!r} on EventBridge bus {bus!r}"):
        client = boto3.client("events", region_name=resolved.aws_region)
        answer = client.put_events(Entries=[event_entry(name, payload, bus)])
    entry = (answer.get("Entries") or [{}])[0]
    if answer.get("FailedEntryCount") or "EventId" not in entry:
        raise DeployError(f"publish event {name!r} on EventBridge bus {bus!r}: "
                          f"{entry.get('ErrorCode', 'failed')}: {entry.get('ErrorMessage', 'no event id')}")
    return str(entry["EventId"])
