"""What every engine's deploy module shares: preparing a flow, errors, results, run ids.

An engine module (``sfn``, ``argo``, ``airflow``) exposes ``ENGINE`` with ``deploy``,
``trigger``, ``wait`` and ``status`` taking a :class:`Prepared` flow. It talks to its engine only;
compiling goes through ``flowc.build.build`` (the same text ``flowc compile`` writes), so what is
deployed is exactly what a reviewer saw in the committed spec.

Secrets never come from settings: credentials are read from the environment (or the engine's
own profile mechanism) at the moment they are used, and every error message passes through
:func:`redact` before anyone sees it.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Protocol, Sequence

from flowc.build import CodePackage, build, in_project
from flowc.compiler import compile_file, ir
from flowc.compiler.diagnostics import ERROR, CompileError
from flowc.exceptions import ParameterError
from flowc.package import place_archive
from flowc.runtime_shim.params import check_assignments
from flowc.settings import SettingsError, load_settings, value_of
from flowc.targets import Settings

# Setting names that must never be stored (pyproject) or passed on the command line.
_SECRET_KEY = re.compile(r"(token|password|passwd|secret|credential|api_key|access_key)", re.I)

_KEY_WORDS = r"(?:token|password|passwd|secret|signature|credential|api_key|access_key)"
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization schemes: "Bearer x", "Basic x", and "Token x" (capitalized, as in headers).
    (re.compile(r"\b((?i:bearer|basic)|Token)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}\b"), "***"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), "***"),
    # user:password@ in a URL; the password may hold '/' (up to the last '@' of the word).
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^\s/@:]*:[^\s@]*@"), r"\1***@"),
    # key=value, key: value, "key": "a quoted value, spaces and all", aws_secret_access_key=...
    (re.compile(r"(?i)(" + _KEY_WORDS + r"[\w-]*[\"']?\s*[=:]\s*)"
                r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s\"'&,}]+)"), r"\1***"),
)
MAX_MESSAGE = 400
# Environment variables whose values are secrets wherever they turn up (a server may echo them).
SECRET_ENV = ("ARGO_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AIRFLOW_PASSWORD",
              "AIRFLOW_API_TOKEN")
_MIN_SECRET = 4  # shorter values would blank out ordinary words


def known_secrets() -> list[str]:
    """The secret values this process holds, in the forms they may be echoed back in: as they
    are, without an auth scheme, JSON-escaped and URL-quoted; longest first."""
    import json
    import os
    import urllib.parse

    values: set[str] = set()
    for name in SECRET_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            values.update((value, value.split(" ", 1)[-1]))
    server = os.environ.get("ARGO_SERVER", "")
    userinfo = server.partition("://")[2].rpartition("@")[0]
    if userinfo:
        values.add(userinfo.partition(":")[2])
    forms = {form for v in values for form in (v, json.dumps(v)[1:-1], urllib.parse.quote(v, safe=""))}
    return sorted((f for f in forms if len(f) >= _MIN_SECRET), key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` on one line with every known secret value and anything that looks like a
    credential replaced by ``***``."""
    for secret in known_secrets():
        text = text.replace(secret, "***")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def check_header_value(name: str, value: str) -> str:
    """``value`` if it can be sent as an HTTP header: visible ASCII and spaces only. A line break
    would smuggle in a header (and http.client would print the whole value in its error)."""
    if not all(" " <= ch <= "~" for ch in value):
        raise DeployError(f"{name} holds a line break, control or non-ASCII character; "
                          "it cannot be sent as a header (check how it was exported)")
    return value


class DeployError(Exception):
    """One clear line for the user: what failed and, when known, what to do about it."""

    def __init__(self, message: str):
        super().__init__(redact(message))


@dataclass(frozen=True, slots=True)
class Action:
    """One object changed (or left alone) on the engine, e.g. ('updated', 'state machine', 'HelloFlow')."""

    verb: str  # created | updated | unchanged | deleted | placed | skipped
    kind: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.verb} {self.kind} {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class Deployment:
    target: str
    name: str  # what runs are started from: state machine, WorkflowTemplate, DAG id
    actions: tuple[Action, ...] = ()
    code_package: str | None = None


TERMINAL_OK = "succeeded"
TERMINAL = frozenset({"succeeded", "failed", "stopped", "timed_out"})


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run as the engine reports it; ``status`` is normalized to running / succeeded / failed /
    stopped / timed_out / queued, ``engine_status`` is the engine's own word."""

    run_id: str
    status: str
    engine_status: str = ""
    started: str | None = None  # ISO 8601, UTC
    finished: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def successful(self) -> bool:
        return self.status == TERMINAL_OK


@dataclass(frozen=True, slots=True)
class Prepared:
    """A compiled flow ready to deploy: its IR, settings, the spec text and the spec's file name."""

    flow_file: Path
    target: str
    flow: ir.Flow
    settings: Settings
    spec: str
    spec_name: str
    code_package: str | None = None
    warnings: tuple[str, ...] = ()

    def option(self, key: str, default: Any = None) -> Any:
        """A setting by its flat name (``argo_server``), or ``default`` when it is unset."""
        value = value_of(self.settings, key)
        return default if value is None else value


class Engine(Protocol):
    name: str

    def deployment_name(self, prepared: Prepared) -> str: ...

    def deploy(self, prepared: Prepared) -> Deployment: ...

    def trigger(self, prepared: Prepared, params: Mapping[str, str],
                run_id: str | None = None) -> RunInfo: ...

    def get_run(self, prepared: Prepared, run_id: str) -> RunInfo: ...

    def status(self, prepared: Prepared, limit: int) -> list[RunInfo]: ...


def check_no_secrets(values: Mapping[str, Any], origin: str) -> None:
    for key in values:
        if _SECRET_KEY.search(key):
            raise DeployError(f"{origin}: {key!r} looks like a credential; flowc never stores "
                              "credentials: pass them through the environment (see docs/deploy.md)")


def prepare(flow_file: Path, target: str, overrides: Mapping[str, Any], *,
            flow_name: str | None = None, with_package: bool = True,
            handled: Collection[str] = ()) -> Prepared:
    """Compile ``flow_file`` for ``target``; when the spec names the flow's code package (code
    'package', the default), upload it where the tasks fetch it (unless ``with_package`` is
    false: commands that only read names). Warnings whose code is in ``handled`` are dropped:
    the engine's deploy step takes care of what they warn about.

    Raises ``CompileError`` for flow errors and ``DeployError`` for everything else.
    """
    check_no_secrets(overrides, "--set")
    flow = in_project(flow_file, compile_file(flow_file, flow_name=flow_name).flow)  # as the spec names it
    try:
        settings = load_settings(flow_file, overrides)
        result = build([flow_file], [target], overrides, flow_name=flow_name)
    except SettingsError as exc:
        raise DeployError(str(exc)) from None
    if not result.ok:
        raise CompileError([d for d in result.diagnostics if d.severity == ERROR])
    (output,) = result.outputs
    package_url = None
    if output.package is not None:
        package_url = output.package.url
        settings = dataclasses.replace(settings, code_package=package_url)
        if with_package:
            upload_package(output.package)
    warnings = tuple(f"{d.code}: {d.message}" for d in result.diagnostics if d.code not in handled)
    return Prepared(flow_file, target, flow, settings, output.text, output.relative.name,
                    package_url, warnings)


def upload_package(package: CodePackage) -> str:
    """Put a code package at its URL (a path or ``s3://``) unless an object of that name, hence
    that content, is already there; returns the URL."""
    if package.url.startswith("s3://"):
        put_s3(package.url, package.data, keep="existing", action=f"upload code package to {package.url}")
        return package.url
    target = Path(package.url.removeprefix("file://"))
    try:
        place_archive(target, package.data, keep_existing=True)
    except OSError as exc:
        raise DeployError(f"cannot write code package {target}: {exc.strerror}") from None
    return package.url


def join_url(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


def _missing(exc: Any) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def put_s3(url: str, body: bytes | Path, *, keep: str, region: str | None = None,
           action: str | None = None) -> bool:
    """Upload ``body`` (bytes, or a file streamed from disk) to ``s3://bucket/key`` unless
    ``keep`` says the object there already serves: ``"existing"`` (content-addressed names: any
    object of that name is this content) or ``"same"`` (its bytes equal ``body``). Returns
    whether it wrote; engine errors become one ``DeployError`` line."""
    bucket, _, key = url[len("s3://"):].partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise DeployError(f"{url}: expected s3://bucket/key")
    with aws_errors(action or f"upload to {url}"):
        import boto3

        s3 = boto3.client("s3", region_name=region)
        try:
            if keep == "existing":
                s3.head_object(Bucket=bucket, Key=key)
                return False
            current = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if current == (body.read_bytes() if isinstance(body, Path) else body):
                return False
        except s3.exceptions.ClientError as exc:
            if not _missing(exc):
                raise
        if isinstance(body, Path):
            s3.upload_file(str(body), bucket, key)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
    return True


class aws_errors:
    """Context manager: botocore's exceptions become one ``DeployError`` line naming the action."""

    def __init__(self, action: str):
        self.action = action

    def __enter__(self) -> "aws_errors":
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, DeployError):
            return
        try:
            from botocore import exceptions as bx
        except ImportError:  # pragma: no cover - boto3 is in the s3/test extras
            raise DeployError("boto3 is not installed: pip install 'flowc[s3]'") from None
        if isinstance(exc, bx.NoCredentialsError):
            raise DeployError(f"{self.action}: no AWS credentials found (set AWS_PROFILE or "
                              "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment)") from None
        if isinstance(exc, bx.NoRegionError):
            raise DeployError(f"{self.action}: no AWS region (set AWS_DEFAULT_REGION or the "
                              "aws_region setting)") from None
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            raise DeployError(f"{self.action}: {error.get('Code', 'error')}: "
                              f"{error.get('Message') or exc}") from None
        if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionError)):
            raise DeployError(f"{self.action}: cannot reach AWS: {exc}") from None
        if isinstance(exc, bx.BotoCoreError):
            raise DeployError(f"{self.action}: {exc}") from None
        if isinstance(exc, ValueError):  # botocore's 'Invalid endpoint: <url>' (never echoed)
            reason = ("the AWS endpoint URL (AWS_ENDPOINT_URL...) is not an http(s) URL"
                      if "endpoint" in str(exc).lower() else str(exc))
            raise DeployError(f"{self.action}: {reason}") from None


def parse_params(flow: ir.Flow, pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings checked against the flow's parameters, as ``flowc run`` checks them."""
    try:
        return check_assignments(flow, pairs)
    except ParameterError as exc:
        raise DeployError(str(exc)) from None


def wait_for(get: Callable[[], RunInfo], timeout: float | None, poll: float = 2.0,
             on_change: Callable[[RunInfo], None] | None = None) -> RunInfo:
    """Poll ``get`` until the run is done; raises ``DeployError`` after ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    while True:
        info = get()
        if on_change is not None and info.status != last:
            on_change(info)
            last = info.status
        if info.done:
            return info
        if deadline is not None and time.monotonic() >= deadline:
            raise DeployError(f"run {info.run_id} still {info.status} after {timeout:g}s; "
                              "it keeps running: follow it with flowc status")
        time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))


def format_runs(runs: Sequence[RunInfo]) -> str:
    """A plain table for ``flowc status``: one run per line, columns aligned."""
    if not runs:
        return "no runs yet\n"
    rows = [("RUN ID", "STATUS", "STARTED", "FINISHED")] + [
        (r.run_id, r.status, r.started or "-", r.finished or "-") for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3] + "\n"
                   for row in rows)


def iso(value: Any) -> str | None:
    """A datetime (or ISO text) as ISO 8601 in UTC, seconds precision; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    from datetime import timezone

    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


__all__ = ["Action", "DeployError", "Deployment", "Engine", "Prepared", "RunInfo", "iso",
           "parse_params", "prepare", "redact", "wait_for"]
