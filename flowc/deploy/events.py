"""``flowc trigger --event NAME --payload JSON``: publish an event that @trigger flows wait for.

On Step Functions it is one EventBridge ``PutEvents`` entry on the ``sfn_event_bus`` bus in the
shape the compiled rules match (``flowc.targets.sfn_events``: source ``flowc``, detail type the
event's name, detail the payload). On Argo it is a POST to the webhook endpoint of the Argo
Events event source the Sensors listen to (the ``argo_webhook_url`` setting), in the shape their
filters match (``flowc.runtime_shim.argo_events``, which ``ArgoEvent`` in a step uses too); a
bearer token for a webhook with an ``authSecret`` is read from ``FLOWC_ARGO_WEBHOOK_TOKEN``.
Airflow has no events to publish to.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from flowc.deploy.base import DeployError, aws_errors
from flowc.runtime_shim.argo_events import WebhookError, post_event
from flowc.settings import from_values
from flowc.targets.argo import ArgoSettings
from flowc.targets.sfn_asl import SfnSettings
from flowc.targets.sfn_events import event_entry

PUBLISHERS = ("sfn", "argo")


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
    if target == "argo":
        if bus is not None:
            raise DeployError("--bus names an EventBridge bus (sfn); on argo set argo_webhook_url")
        return _post_to_webhook(resolved.of(ArgoSettings).webhook_url, name, payload)
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


def _post_to_webhook(url: str | None, name: str, payload: dict[str, Any]) -> str:
    """POST the event to the Argo Events webhook at ``url``; returns the event's id."""
    if not url:
        raise DeployError("flowc trigger --event --target argo needs the webhook URL of the Argo Events "
                          "event source: --set argo_webhook_url=http://HOST:12000/ENDPOINT (or [tool.flowc])")
    try:
        return post_event(url, name, payload)
    except WebhookError as exc:
        raise DeployError(str(exc).replace("a payload's 'name'", "--payload's 'name'")) from None
