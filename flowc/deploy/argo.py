"""Deploy to Argo Workflows through the Argo Server's REST API (``/api/v1``), with urllib.

The compiled spec is a YAML stream of Kubernetes objects. ``deploy`` creates or updates each
``WorkflowTemplate`` and ``CronWorkflow`` in it (GET, then POST when missing or PUT with the
current ``resourceVersion``; left alone when the spec is already the one compiled). Kinds the
Argo Server does not serve (an Argo Events ``Sensor``, say) are reported as skipped: apply those
with ``kubectl apply -f``. ``trigger`` submits a Workflow from the template with the parameters as
``NAME=VALUE`` arguments; the Workflow's name is the run id. ``status`` lists the Workflows the
template started.

Connection settings follow the ``argo`` CLI's environment: ``ARGO_SERVER`` (``host:port`` or a
URL; or ``argo_server`` in ``[tool.flowc]``), ``ARGO_SECURE`` (default true: https),
``ARGO_INSECURE_SKIP_VERIFY``, ``ARGO_BASE_HREF``, ``ARGO_NAMESPACE`` (after the spec's and the
``namespace`` setting) and ``ARGO_TOKEN`` (read at request time, sent as the Authorization
header, never stored or printed).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

from flowc.deploy.base import (Action, DeployError, Deployment, Prepared, RunInfo,
                               check_header_value)

SERVED = {  # kind -> (collection path, request body key)
    "WorkflowTemplate": ("workflow-templates", "template"),
    "CronWorkflow": ("cron-workflows", "cronWorkflow"),
}
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
CRON_LABEL = "workflows.argoproj.io/cron-workflow"
MANAGED_BY = "app.kubernetes.io/managed-by"
_PHASES = {"": "queued", "Pending": "queued", "Running": "running", "Succeeded": "succeeded",
           "Failed": "failed", "Error": "failed"}
TIMEOUT_SECONDS = 30


def _truthy(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class ArgoServer:
    """Where the Argo Server is and how to talk to it (the token is read per request)."""

    base_url: str
    verify_tls: bool = True

    @classmethod
    def from_settings(cls, prepared: Prepared) -> "ArgoServer":
        server = prepared.option("argo_server") or os.environ.get("ARGO_SERVER")
        if not server:
            raise DeployError("no Argo Server: set ARGO_SERVER=host:port (or argo_server in "
                              "[tool.flowc])")
        if "@" in server:  # never echoed: the password may hold '/', so no URL parser is trusted
            raise DeployError("ARGO_SERVER must not carry a user or password (user:password@); "
                              "pass the credential in ARGO_TOKEN")
        if "://" not in server:
            secure = _truthy(os.environ.get("ARGO_SECURE"), True)
            server = ("https://" if secure else "http://") + server
        base_href = os.environ.get("ARGO_BASE_HREF", "").strip("/")
        base = server.rstrip("/") + (f"/{base_href}" if base_href else "")
        return cls(base, not _truthy(os.environ.get("ARGO_INSECURE_SKIP_VERIFY"), False))

    def request(self, method: str, path: str, body: Any = None,
                query: Mapping[str, str] | None = None, action: str = "",
                missing_ok: bool = False) -> tuple[int, Any]:
        """One JSON request; returns (status, document). With ``missing_ok`` a 404 is returned as
        ``(404, {})``; every other error raises a one-line ``DeployError``."""
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, sort_keys=True).encode("utf-8")
            headers["Content-Type"] = "application/json"
        token = check_header_value("ARGO_TOKEN", os.environ.get("ARGO_TOKEN", "").strip())
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        try:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
        except ValueError:
            raise DeployError(f"{action or method}: ARGO_SERVER is not a valid host:port or URL") from None
        context = None
        if url.startswith("https://") and not self.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        what = action or f"{method} {path}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as response:
                return response.status, _answer(response, what)
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return 404, {}
            raise DeployError(f"{what}: {_http_error(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeployError(f"{what}: cannot reach the Argo Server at {self.base_url}: {reason}") from None
        except (ValueError, http.client.InvalidURL):  # a port out of range, a bad IPv6 literal
            raise DeployError(f"{what}: ARGO_SERVER is not a valid host:port or URL") from None


MAX_ANSWER_BYTES = 64 * 1024 * 1024


def _answer(response: Any, what: str) -> dict[str, Any]:
    """The JSON object the Argo Server answered, or a one-line ``DeployError`` when the answer
    is not one (an HTML page from a proxy, bytes that are not UTF-8, JSON nested past the
    parser's recursion limit, a list, more than 64 MiB)."""
    raw = response.read(MAX_ANSWER_BYTES + 1)
    if not raw:
        return {}
    kind = response.headers.get("Content-Type", "no content type") if response.headers else "?"
    problem = f"{what}: the Argo Server's answer is not a JSON object ({kind}"
    if len(raw) > MAX_ANSWER_BYTES:
        raise DeployError(f"{problem}, over {MAX_ANSWER_BYTES:,} bytes)")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DeployError(f"{problem}, not UTF-8); is ARGO_SERVER the Argo Server?") from None
    except ValueError:
        raise DeployError(f"{problem}); is ARGO_SERVER the Argo Server?") from None
    except RecursionError:
        raise DeployError(f"{problem}, nested too deeply)") from None
    if not isinstance(document, dict):
        raise DeployError(f"{problem}, a JSON {type(document).__name__})")
    return document


def _http_error(exc: urllib.error.HTTPError) -> str:
    try:
        message = str(json.loads(exc.read(64 * 1024).decode("utf-8", "replace")).get("message", ""))[:500]
    except (ValueError, AttributeError, OSError, RecursionError):
        message = ""
    if exc.code in (401, 403):
        hint = "not authorized: set ARGO_TOKEN" if exc.code == 401 else "forbidden"
        return f"HTTP {exc.code}: {hint}" + (f" ({message})" if message else "")
    if exc.code == 409:
        return f"HTTP 409: name clash: {message or 'the object already exists'}"
    return f"HTTP {exc.code}: {message or exc.reason}"


def _documents(prepared: Prepared) -> list[dict[str, Any]]:
    import yaml

    return [doc for doc in yaml.safe_load_all(prepared.spec) if isinstance(doc, dict)]


def _namespace(prepared: Prepared, doc: Mapping[str, Any]) -> str:
    return (doc.get("metadata", {}).get("namespace") or prepared.settings.namespace
            or os.environ.get("ARGO_NAMESPACE") or "default")


def _entry(prepared: Prepared) -> tuple[str, str, str]:
    """(kind, namespace, name) of the object runs are submitted from: the WorkflowTemplate, else
    the CronWorkflow."""
    docs = _documents(prepared)
    for kind in ("WorkflowTemplate", "CronWorkflow"):
        for doc in docs:
            if doc.get("kind") == kind and doc.get("metadata", {}).get("name"):
                return kind, _namespace(prepared, doc), doc["metadata"]["name"]
    raise DeployError("the argo spec has no WorkflowTemplate or CronWorkflow to deploy; "
                      "apply it with kubectl apply -f instead")


def _field(document: Any, *keys: str) -> Any:
    """``document[k1][k2]...`` of a server answer, None where a level is missing or not an
    object: an odd answer is treated as a missing field, never a traceback."""
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _same(existing: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    """Whether the live object already has the compiled spec, labels and annotations."""
    wanted = doc.get("metadata", {})
    return existing.get("spec") == doc.get("spec") and all(
        _field(existing, "metadata", key, k) == v
        for key in ("labels", "annotations") for k, v in (wanted.get(key) or {}).items())


class ArgoEngine:
    name = "argo"

    def deployment_name(self, prepared: Prepared) -> str:
        return _entry(prepared)[2]

    def deploy(self, prepared: Prepared) -> Deployment:
        server = ArgoServer.from_settings(prepared)
        entry = _entry(prepared)
        actions = []
        for doc in _documents(prepared):
            kind, name = doc.get("kind", "?"), doc.get("metadata", {}).get("name", "?")
            if kind not in SERVED:
                actions.append(Action("skipped", kind, name, "not served by the Argo Server: "
                                      "kubectl apply it"))
                continue
            actions.append(self._apply(server, _namespace(prepared, doc), kind, name, doc))
        if entry[0] == "WorkflowTemplate" and not any(d.get("kind") == "CronWorkflow"
                                                      for d in _documents(prepared)):
            removed = self._remove_stale_cron(server, entry[1], entry[2])
            if removed is not None:
                actions.append(removed)
        return Deployment(self.name, entry[2], tuple(actions), prepared.code_package)

    def _remove_stale_cron(self, server: ArgoServer, namespace: str, name: str) -> Action | None:
        """A CronWorkflow flowc made for this flow when it had ``@schedule``: delete it, so the
        deployment follows the code (one that flowc does not manage is left alone)."""
        ns, item = urllib.parse.quote(namespace, safe=""), urllib.parse.quote(name, safe="")
        path = f"/api/v1/cron-workflows/{ns}/{item}"
        status, cron = server.request("GET", path, action=f"get CronWorkflow {namespace}/{name}",
                                      missing_ok=True)
        if status == 404 or _field(cron, "metadata", "labels", MANAGED_BY) != "flowc":
            return None
        server.request("DELETE", path, action=f"delete CronWorkflow {namespace}/{name}", missing_ok=True)
        return Action("deleted", "CronWorkflow", f"{namespace}/{name}", "the flow has no @schedule")

    def _apply(self, server: ArgoServer, namespace: str, kind: str, name: str,
               doc: dict[str, Any]) -> Action:
        collection, key = SERVED[kind]
        ns = urllib.parse.quote(namespace, safe="")
        item = f"/api/v1/{collection}/{ns}/{urllib.parse.quote(name, safe='')}"
        status, existing = server.request("GET", item, action=f"get {kind} {namespace}/{name}",
                                          missing_ok=True)
        doc = {**doc, "metadata": {**doc.get("metadata", {}), "namespace": namespace}}
        if status == 404:
            server.request("POST", f"/api/v1/{collection}/{ns}", {"namespace": namespace, key: doc},
                           action=f"create {kind} {namespace}/{name}")
            return Action("created", kind, f"{namespace}/{name}")
        if _same(existing, doc):
            return Action("unchanged", kind, f"{namespace}/{name}")
        version = _field(existing, "metadata", "resourceVersion")
        doc["metadata"] = {**doc["metadata"], "resourceVersion": version}
        server.request("PUT", item, {"namespace": namespace, "name": name, key: doc},
                       action=f"update {kind} {namespace}/{name}")
        return Action("updated", kind, f"{namespace}/{name}")

    def trigger(self, prepared: Prepared, params: Mapping[str, str],
                run_id: str | None = None) -> RunInfo:
        server = ArgoServer.from_settings(prepared)
        kind, namespace, name = _entry(prepared)
        options: dict[str, Any] = {}
        if run_id:  # the Workflow's name is the run id
            options["name"] = run_id
        if params:
            options["parameters"] = [f"{k}={v}" for k, v in sorted(params.items())]
        body = {"namespace": namespace, "resourceKind": kind, "resourceName": name,
                "submitOptions": options}
        _, workflow = server.request("POST", f"/api/v1/workflows/{urllib.parse.quote(namespace, safe='')}/submit",
                                     body, action=f"submit a Workflow from {kind} {namespace}/{name}",
                                     missing_ok=True)
        if not workflow:
            raise DeployError(f"{kind} {namespace}/{name} not found: deploy it first with "
                              f"flowc deploy {prepared.flow_file} --target argo")
        return _run_info(workflow)

    def get_run(self, prepared: Prepared, run_id: str) -> RunInfo:
        server = ArgoServer.from_settings(prepared)
        _, namespace, _ = _entry(prepared)
        status, workflow = server.request(
            "GET", f"/api/v1/workflows/{urllib.parse.quote(namespace, safe='')}/{urllib.parse.quote(run_id, safe='')}",
            action=f"get Workflow {namespace}/{run_id}", missing_ok=True)
        if status == 404:
            raise DeployError(f"Workflow {namespace}/{run_id} not found (deleted, or archived)")
        return _run_info(workflow)

    def status(self, prepared: Prepared, limit: int) -> list[RunInfo]:
        server = ArgoServer.from_settings(prepared)
        kind, namespace, name = _entry(prepared)
        label = TEMPLATE_LABEL if kind == "WorkflowTemplate" else CRON_LABEL
        _, listing = server.request(
            "GET", f"/api/v1/workflows/{urllib.parse.quote(namespace, safe='')}",
            query={"listOptions.labelSelector": f"{label}={name}"},
            action=f"list Workflows of {kind} {namespace}/{name}")
        items = listing.get("items") or []
        if not isinstance(items, list):
            raise DeployError("the Argo Server's list of Workflows has no list of items: is "
                              "ARGO_SERVER the Argo Server?")
        runs = [_run_info(w) for w in items]
        return sorted(runs, key=lambda r: (r.started or "~", r.run_id), reverse=True)[:limit]


def _run_info(workflow: Any) -> RunInfo:
    name, status = _field(workflow, "metadata", "name"), _field(workflow, "status") or {}
    phase, times = _field(status, "phase") or "", (_field(status, "startedAt"), _field(status, "finishedAt"))
    if not isinstance(name, str) or not name or not isinstance(status, dict) or not isinstance(phase, str) \
            or not all(t is None or isinstance(t, str) for t in times):
        raise DeployError("the Argo Server answered a Workflow without a string metadata.name, "
                          "status.phase and times: is ARGO_SERVER the Argo Server?")
    return RunInfo(name, _PHASES.get(phase, phase.lower() or "queued"), phase, times[0] or None,
                   times[1] or None)


ENGINE = ArgoEngine()
