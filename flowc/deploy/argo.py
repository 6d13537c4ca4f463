"""Deploy to Argo Workflows through the Argo Server's REST API (``/api/v1``) with hera's
``WorkflowsService`` (the ``argo`` extra: ``pip install 'flowc[argo]'``).

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
``namespace`` setting) and ``ARGO_TOKEN`` (read per operation, sent as the Authorization header,
never stored or printed).

hera builds the requests and reads the answers into its models; the HTTP session under it
(``_session``) turns every answer hera should not see into one line first: a non-2xx status
(with the server's message), an answer that is not a JSON object, one over 64 MiB, a server that
cannot be reached. A 404 of a lookup that may miss is ``None``, not an error.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from flowc.deploy.base import (Action, DeployError, Deployment, Prepared, RunInfo,
                               check_header_value)

SERVED = ("WorkflowTemplate", "CronWorkflow")
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
CRON_LABEL = "workflows.argoproj.io/cron-workflow"
MANAGED_BY = "app.kubernetes.io/managed-by"
_PHASES = {"": "queued", "Pending": "queued", "Running": "running", "Succeeded": "succeeded",
           "Failed": "failed", "Error": "failed"}
TIMEOUT_SECONDS = 30
MAX_ANSWER_BYTES = 64 * 1024 * 1024


def _truthy(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


class _Missing(Exception):
    """A 404 answer to a lookup that may miss."""


def _hera() -> Any:
    """hera's models and service, or the one-line error naming the extra."""
    try:
        import hera.workflows.models as models
        from hera.workflows.service import WorkflowsService
    except ImportError:
        raise DeployError("hera is not installed: pip install 'flowc[argo]'") from None
    return models, WorkflowsService


@dataclass(frozen=True, slots=True)
class ArgoServer:
    """Where the Argo Server is and how to talk to it (the token is read per operation)."""

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

    def call(self, action: str, operation: Callable[[Any, Any], Any],
             missing_ok: bool = False) -> dict[str, Any] | None:
        """Run ``operation(service, models)`` (one hera call); returns the answer's JSON object,
        ``None`` for a 404 with ``missing_ok``; every failure is a one-line ``DeployError``."""
        models, service_type = _hera()
        token = check_header_value("ARGO_TOKEN", os.environ.get("ARGO_TOKEN", "").strip())
        session = _session(self.base_url, action)
        # hera joins its paths to the host: the base href must end in '/' to be kept
        service = service_type(host=self.base_url + "/", verify_ssl=self.verify_tls, token=token or None,
                               session=session)
        try:
            with warnings.catch_warnings():
                # ARGO_INSECURE_SKIP_VERIFY asked for it; hera calls pydantic's v1-style json()
                warnings.simplefilter("ignore")
                operation(service, models)
        except _Missing:
            if missing_ok:
                return None
            raise DeployError(f"{action}: {session.flowc_error}") from None
        except DeployError:
            raise
        except (TypeError, ValueError, RecursionError, AttributeError, KeyError) as exc:
            if session.flowc_answer is None:  # before any answer: a request hera would not build
                raise DeployError(f"{action}: {type(exc).__name__}: {_reason(exc)}") from None
            # hera's models follow one Argo version (hera 7 requires a CronWorkflow's
            # spec.schedules, which Argo 3.5 does not have): flowc reads the answer itself
        finally:
            session.close()
        return session.flowc_answer


class _Object:
    """A compiled Argo object as a request body that hera sends as is. flowc compiles for the
    Argo version of the ``argo_version`` setting (its tests validate each against that version's
    schema), while hera's models follow one version; hera only calls ``json()`` on a body."""

    def __init__(self, **fields: Any):
        self.fields = fields

    def json(self, **_: Any) -> str:
        return json.dumps(self.fields, sort_keys=True)


def _session(base_url: str, action: str) -> Any:
    """A requests session that hands hera only 2xx answers holding a JSON object (kept as
    ``flowc_answer``), with a timeout, and raises one-line errors for everything else."""
    import requests
    import urllib3

    class Session(requests.Session):
        flowc_answer: dict[str, Any] | None = None
        flowc_error = ""

        def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs.update(timeout=TIMEOUT_SECONDS, stream=True)
            try:
                response = super().request(method, url, *args, **kwargs)
                raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema, ValueError):
                raise DeployError(f"{action}: ARGO_SERVER is not a valid host:port or URL") from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise DeployError(f"{action}: cannot reach the Argo Server at {base_url}: "
                                  f"{_reason(exc)}") from None
            kind = response.headers.get("Content-Type", "no content type")
            if not response.ok:
                self.flowc_error = _http_error(response.status_code, response.reason, raw)
                if response.status_code == 404:
                    raise _Missing()
                raise DeployError(f"{action}: {self.flowc_error}")
            self.flowc_answer = _answer(raw, kind, action)
            response._content = json.dumps(self.flowc_answer).encode("utf-8")
            return response

    return Session()


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (``[Errno 111] Connection refused``)."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if found:
        return found.group(0).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _answer(raw: bytes, kind: str, what: str) -> dict[str, Any]:
    """The JSON object the Argo Server answered, or a one-line ``DeployError`` when the answer
    is not one (an HTML page from a proxy, bytes that are not UTF-8, JSON nested past the
    parser's recursion limit, a list, more than 64 MiB)."""
    if not raw:
        return {}
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


def _http_error(code: int, reason: str, raw: bytes) -> str:
    try:
        message = str(json.loads(raw[:64 * 1024].decode("utf-8", "replace")).get("message", ""))[:500]
    except (ValueError, AttributeError, RecursionError):
        message = ""
    message = " ".join(message.split())  # one line, whatever the server wrote
    if code in (401, 403):
        hint = "not authorized: set ARGO_TOKEN" if code == 401 else "forbidden"
        return f"HTTP {code}: {hint}" + (f" ({message})" if message else "")
    if code == 409:
        return f"HTTP 409: name clash: {message or 'the object already exists'}"
    return f"HTTP {code}: {message or reason}"


def _documents(prepared: Prepared) -> list[dict[str, Any]]:
    import yaml

    return [doc for doc in yaml.safe_load_all(prepared.spec) if isinstance(doc, dict)]


def _namespace(prepared: Prepared, doc: Mapping[str, Any]) -> str:
    return _object_name(doc.get("metadata", {}).get("namespace") or prepared.settings.namespace
                        or os.environ.get("ARGO_NAMESPACE") or "default", "namespace")


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
        cron = server.call(f"get CronWorkflow {namespace}/{name}",
                           lambda api, _: api.get_cron_workflow(name, namespace=namespace), missing_ok=True)
        if cron is None or _field(cron, "metadata", "labels", MANAGED_BY) != "flowc":
            return None
        server.call(f"delete CronWorkflow {namespace}/{name}",
                    lambda api, _: api.delete_cron_workflow(name, namespace=namespace), missing_ok=True)
        return Action("deleted", "CronWorkflow", f"{namespace}/{name}", "the flow has no @schedule")

    def _apply(self, server: ArgoServer, namespace: str, kind: str, name: str,
               doc: dict[str, Any]) -> Action:
        template = kind == "WorkflowTemplate"
        existing = server.call(f"get {kind} {namespace}/{name}", lambda api, _: (
            api.get_workflow_template if template else api.get_cron_workflow)(name, namespace=namespace),
            missing_ok=True)
        doc = {**doc, "metadata": {**doc.get("metadata", {}), "namespace": namespace}}
        key = "template" if template else "cronWorkflow"
        if existing is None:
            body = _Object(namespace=namespace, **{key: doc})
            server.call(f"create {kind} {namespace}/{name}", lambda api, _: (
                api.create_workflow_template if template else api.create_cron_workflow)(body, namespace=namespace))
            return Action("created", kind, f"{namespace}/{name}")
        if _same(existing, doc):
            return Action("unchanged", kind, f"{namespace}/{name}")
        version = _field(existing, "metadata", "resourceVersion")
        doc["metadata"] = {**doc["metadata"], "resourceVersion": version}
        body = _Object(namespace=namespace, name=name, **{key: doc})
        server.call(f"update {kind} {namespace}/{name}", lambda api, _: (
            api.update_workflow_template if template else api.update_cron_workflow)(name, body, namespace=namespace))
        return Action("updated", kind, f"{namespace}/{name}")

    def trigger(self, prepared: Prepared, params: Mapping[str, str],
                run_id: str | None = None) -> RunInfo:
        server = ArgoServer.from_settings(prepared)
        kind, namespace, name = _entry(prepared)
        options: dict[str, Any] = {}
        if run_id:  # the Workflow's name is the run id
            options["name"] = _object_name(run_id, "run id")
        if params:
            options["parameters"] = [f"{k}={v}" for k, v in sorted(params.items())]
        workflow = server.call(f"submit a Workflow from {kind} {namespace}/{name}", lambda api, m: api.submit_workflow(
            m.WorkflowSubmitRequest(namespace=namespace, resource_kind=kind, resource_name=name,
                                    submit_options=m.SubmitOpts(**options)), namespace=namespace),
            missing_ok=True)
        if not workflow:
            raise DeployError(f"{kind} {namespace}/{name} not found: deploy it first with "
                              f"flowc deploy {prepared.flow_file} --target argo")
        return _run_info(workflow)

    def get_run(self, prepared: Prepared, run_id: str) -> RunInfo:
        server = ArgoServer.from_settings(prepared)
        _, namespace, _ = _entry(prepared)
        name = _object_name(run_id, "run id")
        workflow = server.call(f"get Workflow {namespace}/{run_id}",
                               lambda api, _: api.get_workflow(name, namespace=namespace), missing_ok=True)
        if workflow is None:
            raise DeployError(f"Workflow {namespace}/{run_id} not found (deleted, or archived)")
        return _run_info(workflow)

    def status(self, prepared: Prepared, limit: int) -> list[RunInfo]:
        server = ArgoServer.from_settings(prepared)
        kind, namespace, name = _entry(prepared)
        label = TEMPLATE_LABEL if kind == "WorkflowTemplate" else CRON_LABEL
        listing = server.call(f"list Workflows of {kind} {namespace}/{name}", lambda api, _: api.list_workflows(
            namespace=namespace, label_selector=f"{label}={name}")) or {}
        items = listing.get("items") or []
        if not isinstance(items, list):
            raise DeployError("the Argo Server's list of Workflows has no list of items: is "
                              "ARGO_SERVER the Argo Server?")
        runs = [_run_info(w) for w in items]
        return sorted(runs, key=lambda r: (r.started or "~", r.run_id), reverse=True)[:limit]


def _object_name(value: str, what: str) -> str:
    """A Kubernetes object name (hera puts names into request paths as they are)."""
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
        raise DeployError(f"{what} {value!r} is not a Kubernetes object name (lower-case letters, "
                          "digits, '-' and '.')")
    return value


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
