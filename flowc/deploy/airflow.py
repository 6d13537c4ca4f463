"""Deploy to Airflow 3: place the DAG file in the dags folder, then use Airflow's REST API
(``apache-airflow-client``) to wait for it to be parsed, unpause it, trigger and follow runs.

``deploy`` writes ``<dags folder>/<flow file stem>.py`` (a directory, atomically, or an
``s3://`` prefix that the deployment syncs to its DAG processors) and leaves it alone when the
content is already there. With an API URL it then waits until the DAG processor has parsed this
version (an import error of that file comes back as one line) and unpauses the DAG. A run is a
DAG run whose ``dag_run_id`` is flowc's run id and whose ``conf`` holds the parameters, typed by
the DAG's own param schema.

Settings: ``airflow_dags_folder`` and ``airflow_api_url`` in ``[tool.flowc]`` (or the
``AIRFLOW_DAGS_FOLDER`` / ``AIRFLOW_API_URL`` environment variables). Credentials only from the
environment, at request time: ``AIRFLOW_API_TOKEN`` (a JWT), or ``AIRFLOW_USERNAME`` and
``AIRFLOW_PASSWORD`` exchanged for one at ``/auth/token``.
"""

from __future__ import annotations

import ast
import hashlib
import http.client
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from flowc.deploy.base import (Action, DeployError, Deployment, Prepared, RunInfo, iso, join_url,
                               put_s3)
from flowc.runtime_shim.ids import new_run_id

PARSE_TIMEOUT_SECONDS = 180
REQUEST_TIMEOUT_SECONDS = 120
_STATES = {"queued": "queued", "running": "running", "success": "succeeded", "failed": "failed"}


def dag_id(prepared: Prepared) -> str:
    """The ``dag_id=`` literal of the generated DAG file (Airflow's own keyword), else the flow name."""
    for node in ast.walk(ast.parse(prepared.spec)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "dag_id" and isinstance(keyword.value, ast.Constant) \
                        and isinstance(keyword.value.value, str):
                    return keyword.value.value
    return prepared.flow.name


def _setting(prepared: Prepared, key: str) -> str | None:
    return prepared.option(key) or os.environ.get(key.upper()) or None


def _api_url(prepared: Prepared) -> str:
    url = _setting(prepared, "airflow_api_url")
    if not url:
        raise DeployError("no Airflow API: set airflow_api_url in [tool.flowc] (or AIRFLOW_API_URL), "
                          "e.g. http://airflow.example.com:8080")
    return url.rstrip("/")


# Tokens from logins, kept in this process's memory only (never written), so following a run
# does not log in on every poll. Keyed by everything that identifies the login.
_TOKENS: dict[tuple[str, str, str], str] = {}


def _token(base_url: str) -> str:
    token = os.environ.get("AIRFLOW_API_TOKEN", "").strip()
    if token:
        return token
    user, password = os.environ.get("AIRFLOW_USERNAME"), os.environ.get("AIRFLOW_PASSWORD")
    if not user or not password:
        raise DeployError("no Airflow credentials: set AIRFLOW_API_TOKEN, or AIRFLOW_USERNAME and "
                          "AIRFLOW_PASSWORD, in the environment")
    key = (base_url, user, hashlib.sha256(password.encode("utf-8")).hexdigest())
    if key not in _TOKENS:
        _TOKENS[key] = _login(base_url, user, password)
    return _TOKENS[key]


def _login(base_url: str, user: str, password: str) -> str:
    body = json.dumps({"username": user, "password": password}).encode("utf-8")
    try:
        request = urllib.request.Request(f"{base_url}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            token = json.loads(response.read().decode("utf-8"))["access_token"]
        if not isinstance(token, str) or not token:
            raise TypeError("the answer's access_token is not a string")
        return token
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise DeployError(f"Airflow refused the login of {user!r} at {base_url}/auth/token "
                              f"(HTTP {exc.code}): check AIRFLOW_USERNAME/AIRFLOW_PASSWORD") from None
        raise DeployError(f"Airflow login at {base_url}/auth/token: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError, RecursionError,
            http.client.HTTPException) as exc:  # also an answer that is not {"access_token": ...}
        raise DeployError(f"cannot reach Airflow at {base_url}: {getattr(exc, 'reason', exc)}") from None


@contextmanager
def _api(prepared: Prepared, action: str) -> Iterator[Any]:
    """An authenticated ``ApiClient``; the client's exceptions become one ``DeployError`` line."""
    try:
        import airflow_client.client as ac
    except ImportError:
        raise DeployError("apache-airflow-client is not installed: pip install 'flowc[airflow]'") from None
    base = _api_url(prepared)
    configuration = ac.Configuration(host=base, access_token=_token(base))
    configuration.retries = 1
    try:
        with ac.ApiClient(configuration) as client:
            yield client
    except ac.ApiException as exc:
        raise DeployError(f"{action}: {_api_error(exc)}") from None
    except DeployError:
        raise
    except Exception as exc:  # urllib3's connection errors and the like
        if type(exc).__module__.startswith(("urllib3", "socket", "ssl")) or isinstance(exc, OSError):
            raise DeployError(f"{action}: cannot reach Airflow at {base}: {type(exc).__name__}") from None
        raise


def _api_error(exc: Any) -> str:
    try:
        detail = json.loads(exc.body).get("detail") if exc.body else None
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # validation errors: [{"loc": [...], "msg": ...}]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    if isinstance(detail, dict):
        detail = detail.get("message") or json.dumps(detail, sort_keys=True)
    status = exc.status
    if status in (401, 403):
        return f"HTTP {status}: not authorized (check AIRFLOW_API_TOKEN or AIRFLOW_USERNAME/AIRFLOW_PASSWORD)"
    if status == 409:
        return f"HTTP 409: name clash: {detail or exc.reason}"
    return f"HTTP {status}: {detail or exc.reason}"


def _place(prepared: Prepared) -> Action:
    """Write the DAG file into the dags folder; ``unchanged`` when that content is already there."""
    folder = _setting(prepared, "airflow_dags_folder")
    if not folder:
        raise DeployError("no dags folder: set airflow_dags_folder in [tool.flowc] (a directory "
                          "or s3://bucket/prefix the Airflow deployment reads DAGs from)")
    if folder.startswith("s3://"):
        url = join_url(folder, prepared.spec_name)
        written = put_s3(url, prepared.spec.encode("utf-8"), keep="same",
                         region=prepared.option("aws_region"), action=f"upload DAG file to {url}")
        return Action("placed" if written else "unchanged", "DAG file", url)
    target = Path(folder) / prepared.spec_name
    if target.is_file() and target.read_text(encoding="utf-8") == prepared.spec:
        return Action("unchanged", "DAG file", str(target))
    if not target.parent.is_dir():
        raise DeployError(f"dags folder {folder} does not exist")
    # Written beside the target and renamed, so the DAG processor never reads half a file.
    fd, tmp = tempfile.mkstemp(prefix=".flowc-", suffix=".tmp", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(prepared.spec)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return Action("placed", "DAG file", str(target))


def _typed_conf(details: Any, params: Mapping[str, str]) -> dict[str, Any]:
    """Parameter text typed by the DAG's param schema, so Airflow's validation accepts it."""
    schemas = {name: (spec or {}).get("schema", {}) for name, spec in (details.params or {}).items()}
    conf: dict[str, Any] = {}
    for name, text in params.items():
        kind = schemas.get(name, {}).get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        try:
            if "integer" in kinds:
                conf[name] = int(text)
            elif "number" in kinds:
                conf[name] = float(text)
            elif "boolean" in kinds:
                conf[name] = text.strip().lower() in ("1", "true", "yes", "on", "y", "t")
            elif "object" in kinds or "array" in kinds:
                conf[name] = json.loads(text)
            else:
                conf[name] = text
        except ValueError:
            raise DeployError(f"--param {name}={text!r}: not a valid {kinds[0]}") from None
    return conf


class AirflowEngine:
    name = "airflow"

    def deployment_name(self, prepared: Prepared) -> str:
        return dag_id(prepared)

    def deploy(self, prepared: Prepared) -> Deployment:
        placed_at = time.time()
        placed = _place(prepared)
        name = dag_id(prepared)
        if not _setting(prepared, "airflow_api_url"):
            return Deployment(self.name, name, (placed, Action("skipped", "DAG", name,
                              "no airflow_api_url: not checked or unpaused")), prepared.code_package)
        from airflow_client.client.api import dag_api
        from airflow_client.client.models import DAGPatchBody

        with _api(prepared, f"deploy DAG {name}") as client:
            dags = dag_api.DAGApi(client)
            details = self._wait_parsed(prepared, client, name, placed_at if placed.verb == "placed" else None)
            if details.is_paused:
                dags.patch_dag(name, DAGPatchBody(is_paused=False))
                state = Action("unpaused", "DAG", name)
            else:
                state = Action("unchanged", "DAG", name, "already unpaused")
        return Deployment(self.name, name, (placed, state), prepared.code_package)

    def _wait_parsed(self, prepared: Prepared, client: Any, name: str, since: float | None) -> Any:
        """The DAG's details once the processor has parsed the file (after ``since``, if given)."""
        import airflow_client.client as ac
        from airflow_client.client.api import dag_api, import_error_api

        dags, errors = dag_api.DAGApi(client), import_error_api.ImportErrorApi(client)
        timeout = float(prepared.option("airflow_parse_timeout", PARSE_TIMEOUT_SECONDS))
        deadline = time.monotonic() + timeout
        while True:
            found = errors.get_import_errors(filename_pattern=prepared.spec_name).import_errors
            for error in found:
                fresh = since is None or error.timestamp.timestamp() >= since - 1
                if Path(error.filename).name == prepared.spec_name and fresh:
                    lines = [line for line in (error.stack_trace or "").splitlines() if line.strip()]
                    raise DeployError(f"Airflow cannot import {error.filename}: "
                                      f"{lines[-1] if lines else 'import error'}")
            try:
                details = dags.get_dag_details(name)
            except ac.ApiException as exc:
                if exc.status != 404:
                    raise
                details = None
            parsed_at = (details.last_parsed_time if details is not None
                         and Path(details.fileloc or "").name == prepared.spec_name else None)
            if parsed_at is not None and (since is None or parsed_at.timestamp() >= since - 1):
                return details
            if time.monotonic() >= deadline:
                raise DeployError(f"DAG {name} not parsed by Airflow within {timeout:g}s: is "
                                  "the dags folder the one the DAG processor reads?")
            time.sleep(1.0)

    def trigger(self, prepared: Prepared, params: Mapping[str, str],
                run_id: str | None = None) -> RunInfo:
        import airflow_client.client as ac
        from airflow_client.client.api import dag_api, dag_run_api

        name = dag_id(prepared)
        run_id = run_id or new_run_id("airflow")
        with _api(prepared, f"trigger DAG {name}") as client:
            try:
                details = dag_api.DAGApi(client).get_dag_details(name)
            except ac.ApiException as exc:
                if exc.status == 404:
                    raise DeployError(f"DAG {name} not found: deploy it first with flowc deploy "
                                      f"{prepared.flow_file} --target airflow") from None
                raise
            body = ac.TriggerDAGRunPostBody(dag_run_id=run_id, conf=_typed_conf(details, params),
                                            logical_date=None)
            run = dag_run_api.DagRunApi(client).trigger_dag_run(name, body)
        return _run_info(run)

    def get_run(self, prepared: Prepared, run_id: str) -> RunInfo:
        from airflow_client.client.api import dag_run_api

        name = dag_id(prepared)
        with _api(prepared, f"get run {run_id} of DAG {name}") as client:
            return _run_info(dag_run_api.DagRunApi(client).get_dag_run(name, run_id))

    def status(self, prepared: Prepared, limit: int) -> list[RunInfo]:
        from airflow_client.client.api import dag_run_api

        name = dag_id(prepared)
        with _api(prepared, f"list runs of DAG {name}") as client:
            runs = dag_run_api.DagRunApi(client).get_dag_runs(name, limit=limit, order_by=["-run_after"])
        return [_run_info(r) for r in runs.dag_runs]


def _run_info(run: Any) -> RunInfo:
    state = getattr(run.state, "value", run.state) or "queued"
    return RunInfo(run.dag_run_id, _STATES.get(state, state), state, iso(run.start_date),
                   iso(run.end_date))


ENGINE = AirflowEngine()
