"""A recording stand-in for the Argo Server's REST API, on loopback, for the deploy tests.

No Argo server can run in this environment (it needs Kubernetes). This HTTP server records every
request flowc makes (method, path, query, Authorization header, JSON body) so the tests can
assert the exact requests, and keeps just enough state (objects with resourceVersions, submitted
Workflows) to answer them the way the Argo Server's API documents: 404 for a missing object, 409
for a name clash or a stale resourceVersion, 401 for a wrong token. It does not run workflows:
a test moves a Workflow's phase itself.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEYS = {"workflow-templates": "template", "cron-workflows": "cronWorkflow"}
# The request body each call must be, as named in Argo's published JSON schema (the OpenAPI
# document's definitions): bodies are validated strictly, an unknown key anywhere is an error.
REQUESTS = {
    ("POST", "workflow-templates"): "io.argoproj.workflow.v1alpha1.WorkflowTemplateCreateRequest",
    ("PUT", "workflow-templates"): "io.argoproj.workflow.v1alpha1.WorkflowTemplateUpdateRequest",
    ("POST", "cron-workflows"): "io.argoproj.workflow.v1alpha1.CreateCronWorkflowRequest",
    ("PUT", "cron-workflows"): "io.argoproj.workflow.v1alpha1.UpdateCronWorkflowRequest",
    ("POST", "submit"): "io.argoproj.workflow.v1alpha1.WorkflowSubmitRequest",
}


def request_errors(method: str, parts: list[str], body: Any) -> list[str]:
    """Where ``body`` breaks Argo's schema for this call (empty when the call has no body)."""
    from tests.targets.argo_checks import WORKFLOWS, definition_errors

    definition = REQUESTS.get((method, parts[-1] if parts[-1] == "submit" else parts[0]))
    if definition is None or len(parts) > 3:
        return []
    if body is None:
        return ["a body is required"]
    cron = (body.get("cronWorkflow") or {}).get("spec") or {} if isinstance(body, dict) else {}
    filename = WORKFLOWS["3.7.0" if "schedule" in cron else "4.1.2"]
    return definition_errors(body, filename, definition)


class FakeArgo:
    def __init__(self, token: str | None = None):
        self.token = token
        self.requests: list[dict[str, Any]] = []
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0
        self.invalid: list[str] = []  # request bodies that broke Argo's schema
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                parsed = urllib.parse.urlsplit(self.path)
                record = {"method": self.command, "path": parsed.path,
                          "query": dict(urllib.parse.parse_qsl(parsed.query)),
                          "authorization": self.headers.get("Authorization"), "body": body}
                with fake.lock:
                    fake.requests.append(record)
                    status, reply = fake.answer(self.command, parsed.path, record["query"], body,
                                                self.headers.get("Authorization"))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> "FakeArgo":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if exc[0] is None:  # a test that passed must not have sent a body Argo would reject
            assert not self.invalid, "request bodies that break Argo's schema:\n" + "\n".join(self.invalid)

    def calls(self) -> list[str]:
        """The requests so far as 'METHOD /path' lines, then forgets them."""
        out = [f"{r['method']} {r['path']}" for r in self.requests]
        self.requests.clear()
        return out

    # -- the API

    def answer(self, method: str, path: str, query: dict[str, str], body: Any,
               authorization: str | None) -> tuple[int, Any]:
        if self.token is not None and authorization != f"Bearer {self.token}":
            return 401, {"code": 16, "message": "token not valid for running mode"}
        parts = path.strip("/").split("/")[2:]  # after api/v1
        errors = request_errors(method, parts, body)
        if errors:
            self.invalid.append(f"{method} {path}: " + "; ".join(errors))
            return 400, {"code": 3, "message": "; ".join(errors)}
        if parts[0] in KEYS:
            return self._objects(method, parts, body)
        if parts[0] == "workflows":
            return self._workflows(method, parts, query, body)
        return 404, {"code": 5, "message": "Not Found"}

    def _objects(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        collection, namespace = parts[0], parts[1]
        if method in ("GET", "DELETE"):
            found = self.objects.get((collection, namespace, parts[2]))
            if found is None:
                return 404, {"code": 5, "message": f"{parts[2]} not found"}
            if method == "DELETE":
                del self.objects[(collection, namespace, parts[2])]
                return 200, {}
            return 200, found
        obj = json.loads(json.dumps(body[KEYS[collection]]))
        name = obj["metadata"]["name"]
        key = (collection, namespace, name)
        if method == "POST" and key in self.objects:
            return 409, {"code": 6, "message": f'{collection} "{name}" already exists'}
        if method == "PUT":
            current = self.objects.get(key)
            if current is None:
                return 404, {"code": 5, "message": f"{name} not found"}
            if obj["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return 409, {"code": 10, "message": "the object has been modified"}
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = obj
        return 200, obj

    def _workflows(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        namespace = parts[1]
        if method == "POST" and parts[2:] == ["submit"]:
            collection = {"WorkflowTemplate": "workflow-templates", "CronWorkflow": "cron-workflows"}[
                body["resourceKind"]]
            if (collection, namespace, body["resourceName"]) not in self.objects:
                return 404, {"code": 5, "message": "not found"}
            name = body["submitOptions"].get("name") or f"{body['resourceName']}-{len(self.workflows) + 1:05d}"
            label = ("workflows.argoproj.io/workflow-template" if collection == "workflow-templates"
                     else "workflows.argoproj.io/cron-workflow")
            workflow = {"metadata": {"name": name, "namespace": namespace,
                                     "labels": {label: body["resourceName"]}},
                        "spec": {"arguments": {"parameters": body["submitOptions"].get("parameters", [])}},
                        "status": {}}
            self.workflows[(namespace, name)] = workflow
            return 200, workflow
        if method == "GET" and len(parts) == 3:
            found = self.workflows.get((namespace, parts[2]))
            return (200, found) if found else (404, {"code": 5, "message": "not found"})
        if method == "GET" and len(parts) == 2:
            key, _, value = query.get("listOptions.labelSelector", "").partition("=")
            items = [w for (ns, _), w in self.workflows.items()
                     if ns == namespace and w["metadata"]["labels"].get(key) == value]
            return 200, {"metadata": {}, "items": items or None}
        return 404, {"code": 5, "message": "Not Found"}
