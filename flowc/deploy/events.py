"""``flowc trigger --event NAME --payload JSON``: publish an event that @trigger flows wait for.

On Step Functions it is one EventBridge ``PutEvents`` entry on the ``sfn_event_bus`` bus in the
shape the compiled rules match (``flowc.targets.sfn_events``: source ``flowc``, detail type the
event's name, detail the payload). On Argo it is a POST to the webhook endpoint of the Argo
Events event source the Sensors listen to (the ``argo_webhook_url`` setting), in the shape their
filters match (``flowc.targets.argo_events.webhook_body``); a bearer token for a webhook with an
``authSecret`` is read from ``FLOWC_ARGO_WEBHOOK_TOKEN``. Airflow has no events to publish to.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Mapping

from flowc.deploy.base import DeployError, aws_errors
from flowc.settings import from_values
from flowc.targets.argo import ArgoSettings
from flowc.targets.argo_events import webhook_body
from flowc.targets.sfn_asl import SfnSettings
from flowc.targets.sfn_events import event_entry

PUBLISHERS = ("sfn", "argo")
TOKEN_ENV = "FLOWC_ARGO_WEBHOOK_TOKEN"
REQUEST_TIMEOUT_SECONDS = 30


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
    if "name" in payload and payload["name"] != name:
        raise DeployError(f"--payload's 'name' is the event's name on Argo Events, so it cannot be "
                          f"{payload['name']!r} for event {name!r}")
    body = webhook_body(name, payload, str(uuid.uuid4()), int(time.time()))
    headers = {"Content-Type": "application/json"}
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    shown = _without_credentials(url)
    try:
        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS):
            pass
    except urllib.error.HTTPError as exc:
        hint = f" (set {TOKEN_ENV})" if exc.code in (401, 403) and not token else ""
        raise DeployError(f"publish event {name!r} to {shown}: HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise DeployError(f"publish event {name!r}: cannot reach {shown}: {getattr(exc, 'reason', exc)}") from None
    return str(body["payload"]["id"])


def _without_credentials(url: str) -> str:
    """``url`` as errors show it: no user, password or query (where tokens hide)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port that is not a number
        return "the argo_webhook_url"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
