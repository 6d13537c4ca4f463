"""Publishing Argo Events events: Metaflow's ``ArgoEvent`` (``from metaflow.integrations import
ArgoEvent``) inside a step, and the POST ``flowc trigger --event --target argo`` makes.

An event is a POST of ``{"name": NAME, "payload": {"name": NAME, "id": ..., "timestamp": ...,
...}}`` to the webhook endpoint of the Argo Events event source the flows' Sensors listen to:
the shape their filters match (``body.payload.name``), which Metaflow's publisher sends too.
The URL is ``ArgoEvent(url=...)``, else ``FLOWC_ARGO_WEBHOOK_URL`` (what every task of an Argo
spec compiled with the ``argo_webhook_url`` setting gets), else Metaflow's
``METAFLOW_ARGO_EVENTS_WEBHOOK_URL``; a bearer token for a webhook with an ``authSecret`` is
``access_token=`` or ``FLOWC_ARGO_WEBHOOK_TOKEN``. Standard library only: it runs in tasks.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Callable

from flowc.exceptions import MetaflowException

URL_ENV = "FLOWC_ARGO_WEBHOOK_URL"
METAFLOW_URL_ENV = "METAFLOW_ARGO_EVENTS_WEBHOOK_URL"
TOKEN_ENV = "FLOWC_ARGO_WEBHOOK_TOKEN"
TIMEOUT_SECONDS = 30


class WebhookError(RuntimeError):
    """Why an event was not published, in one line."""


class ArgoEventException(MetaflowException):
    headline = "Argo Event Exception"


def event_body(name: str, payload: dict[str, Any], event_id: str, timestamp: int) -> dict[str, Any]:
    """The POSTed document; a payload's own ``id``/``timestamp`` win, its ``name`` cannot differ."""
    return {"name": name, "payload": {"id": event_id, "timestamp": timestamp, **payload, "name": name}}


def post_event(url: str | None, name: str, payload: dict[str, Any], token: str | None = None) -> str:
    """POST the event ``name`` to the webhook at ``url``; returns the event's id."""
    if not url:
        raise WebhookError(f"no Argo Events webhook URL to publish event {name!r} to: set {URL_ENV}")
    if "name" in payload and payload["name"] != name:
        raise WebhookError(f"a payload's 'name' is the event's name on Argo Events, so it cannot be "
                           f"{payload['name']!r} for event {name!r}")
    body = event_body(name, payload, str(uuid.uuid4()), int(time.time()))
    token = token if token is not None else os.environ.get(TOKEN_ENV, "").strip()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    shown = shown_url(url)
    try:
        request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), method="POST",
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
            pass
    except urllib.error.HTTPError as exc:
        hint = f" (set {TOKEN_ENV})" if exc.code in (401, 403) and not token else ""
        raise WebhookError(f"publish event {name!r} to {shown}: HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, OSError, ValueError, TypeError, http.client.HTTPException) as exc:
        raise WebhookError(f"publish event {name!r}: cannot reach {shown}: {getattr(exc, 'reason', exc)}") from None
    return str(body["payload"]["id"])


def shown_url(url: str) -> str:
    """``url`` as messages show it: no user, password or query (where tokens hide)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port that is not a number
        return "the webhook URL"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class ArgoEvent:
    """An event that starts the flows deployed with ``@trigger(event=name)`` (Metaflow's API).

    ``safe_publish`` publishes only inside a deployed Argo run (one whose spec carries the
    webhook URL) and is a no-op elsewhere; ``publish`` always tries. Errors are printed and
    ``None`` returned unless ``ignore_errors=False``, which raises ``ArgoEventException``.
    """

    def __init__(self, name: str | Callable[[], str], url: str | None = None,
                 payload: dict[str, Any] | None = None, access_token: str | None = None):
        if callable(name):
            name = name()
        if not isinstance(name, str) or not name:
            raise ArgoEventException(f"an Argo event's name must be a non-empty string, not {name!r}")
        self._name = name
        self._url = url
        self._payload = dict(payload or {})
        self._access_token = access_token

    def add_to_payload(self, key: str, value: Any) -> "ArgoEvent":
        """Set ``key`` (often a parameter of the triggered flows) to ``str(value)``."""
        self._payload[key] = str(value)
        return self

    def safe_publish(self, payload: dict[str, Any] | None = None, ignore_errors: bool = True) -> str | None:
        return self.publish(payload=payload, force=False, ignore_errors=ignore_errors)

    def publish(self, payload: dict[str, Any] | None = None, force: bool = True,
                ignore_errors: bool = True) -> str | None:
        """Publish the event; returns its id (None when it was not published)."""
        if not force and not os.environ.get(URL_ENV):
            self._failed(f"Argo Event ({self._name}) was not published outside a deployed Argo run; "
                         "ArgoEvent(...).publish() publishes anyway", ignore_errors)
            return None
        url = self._url or os.environ.get(URL_ENV) or os.environ.get(METAFLOW_URL_ENV)
        try:
            event_id = post_event(url, self._name, {**self._payload, **(payload or {})}, self._access_token)
        except WebhookError as exc:
            self._failed(str(exc), ignore_errors)
            return None
        print(f"Argo Event ({self._name}) published.", file=sys.stderr)
        return event_id

    def _failed(self, message: str, ignore_errors: bool) -> None:
        """Raise ``message``, or with ``ignore_errors`` print it (Metaflow's best effort)."""
        if not ignore_errors:
            raise ArgoEventException(message)
        print(message, file=sys.stderr)
