"""Run-time effects of step decorators: @timeout, @environment and @secrets.

@secrets sources: AWS Secrets Manager (a bare name or ARN, or ``aws-secrets-manager:NAME``;
boto3 imported only then; ``role=`` assumed through STS), ``env:NAME`` and ``file:PATH``.

Each is a context manager that undoes itself, so a scheduler that runs tasks in-process (or in a
forked worker that runs several) never leaks one task's environment into the next. Secret values
are never printed: errors name the source and the key only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import threading
from typing import Any, Iterator, Mapping, Sequence

from flowc.exceptions import FlowcException, TimeoutException


class SecretsError(FlowcException):
    headline = "@secrets"


@contextlib.contextmanager
def enforce_timeout(seconds: float, label: str) -> Iterator[None]:
    """Raise TimeoutException in the step's thread after ``seconds`` (0 means no limit).

    On the main thread this is SIGALRM (which also interrupts ``time.sleep`` and blocking I/O);
    elsewhere an asynchronous exception is raised in the calling thread at its next bytecode.
    """
    if seconds <= 0:
        yield
        return
    message = f"step {label} exceeded its @timeout of {seconds:g} seconds"
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM"):
        def on_alarm(signum: int, frame: object) -> None:
            raise TimeoutException(message)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    ident = threading.get_ident()

    def fire() -> None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(TimeoutException))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except TimeoutException as exc:
        if exc.args:
            raise
        raise TimeoutException(message) from None
    finally:
        timer.cancel()


def _parse_secret_text(text: str, source: str) -> dict[str, str]:
    """A JSON object, or ``KEY=VALUE`` lines (``#`` comments and blank lines ignored)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise SecretsError(f"secret source {source}: not valid JSON") from None
        if not isinstance(data, dict):
            raise SecretsError(f"secret source {source}: expected a JSON object")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    values: dict[str, str] = {}
    for number, line in enumerate(stripped.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SecretsError(f"secret source {source}: line {number} is not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


AWS_PREFIX = "aws-secrets-manager"
# Sources of other secret managers Metaflow knows; flowc refuses them by name.
_OTHER_PROVIDERS = ("gcp-secret-manager", "az-key-vault", "azure-key-vault", "vault", "inline")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def classify_source(source: str) -> tuple[str, str]:
    """``(kind, target)`` for a source: ``env``, ``file`` or ``aws`` (Secrets Manager, the default
    for a bare name or an ARN, or ``aws-secrets-manager:NAME`` / ``aws-secrets-manager.NAME``)."""
    text = str(source)
    for kind in ("env", "file"):
        if text.startswith(kind + ":") and len(text) > len(kind) + 1:
            return kind, text[len(kind) + 1:]
    if text.startswith("arn:"):
        return "aws", text
    for sep in (":", "."):
        if text.startswith(AWS_PREFIX + sep) and len(text) > len(AWS_PREFIX) + 1:
            return "aws", text[len(AWS_PREFIX) + 1:]
    prefix = re.split(r"[:.]", text, maxsplit=1)[0]
    if ":" in text or prefix in _OTHER_PROVIDERS or not text:
        raise SecretsError(f"secret source {text!r}: unknown source; flowc reads "
                           "'aws-secrets-manager:NAME' (or a bare name or ARN), 'env:NAME' and 'file:PATH'")
    return "aws", text


def needs_aws(sources: Sequence[str]) -> bool:
    """Whether any source is read from AWS Secrets Manager (so boto3 must be importable)."""
    kinds = []
    for source in sources:
        try:
            kinds.append(classify_source(source)[0])
        except SecretsError:
            pass
    return "aws" in kinds


def _secrets_manager_client(region: str | None, role: str | None) -> Any:
    """A Secrets Manager client, with ``role`` assumed through STS first when given."""
    try:
        import boto3
    except ImportError:
        raise SecretsError("reading AWS Secrets Manager needs boto3 (pip install boto3)") from None
    session = boto3.session.Session()
    if role:
        creds = session.client("sts").assume_role(RoleArn=role, RoleSessionName="flowc-secrets")
        c = creds["Credentials"]
        session = boto3.session.Session(aws_access_key_id=c["AccessKeyId"],
                                        aws_secret_access_key=c["SecretAccessKey"],
                                        aws_session_token=c["SessionToken"])
    return session.client("secretsmanager", region_name=region)


def _aws_secret(secret_id: str, source: str, role: str | None) -> dict[str, str]:
    """A JSON object secret becomes one variable per key; any other string one variable named
    after the secret (non-alphanumerics as ``_``, upper case)."""
    region = secret_id.split(":")[3] if secret_id.startswith("arn:") and secret_id.count(":") >= 6 else None
    try:
        response = _secrets_manager_client(region, role).get_secret_value(SecretId=secret_id)
    except SecretsError:
        raise
    except Exception as exc:  # noqa: BLE001 - botocore errors; the code only, never a payload
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        if code == "ResourceNotFoundException":
            raise SecretsError(f"secret source {source}: no such secret in AWS Secrets Manager") from None
        raise SecretsError(f"secret source {source}: AWS Secrets Manager refused ({code})") from None
    text = response.get("SecretString")
    if text is None:
        text = bytes(response.get("SecretBinary") or b"").decode("utf-8", "replace")
    if text.strip().startswith("{"):
        return _parse_secret_text(text, source)
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(response.get("Name") or secret_id)).upper()
    return {name: text}


def resolve_secrets(sources: Sequence[str], role: str | None = None) -> dict[str, str]:
    """Every source's variables, later sources winning; values never reach a message. Without
    ``role=``, Secrets Manager is read with ``FLOWC_DEFAULT_SECRETS_ROLE`` (or Metaflow's
    ``METAFLOW_DEFAULT_SECRETS_ROLE``) when set, else with the task's own credentials."""
    role = (role or os.environ.get("FLOWC_DEFAULT_SECRETS_ROLE")
            or os.environ.get("METAFLOW_DEFAULT_SECRETS_ROLE") or None)
    values: dict[str, str] = {}
    for source in sources:
        kind, target = classify_source(source)
        if kind == "env":
            if target not in os.environ:
                raise SecretsError(f"secret source {source}: environment variable {target} is not set")
            raw = os.environ[target]
            values.update(_parse_secret_text(raw, source) if raw.strip().startswith("{") else {target: raw})
        elif kind == "file":
            try:
                with open(target, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise SecretsError(f"secret source {source}: cannot read the file ({exc.strerror})") from None
            values.update(_parse_secret_text(text, source))
        else:
            values.update(_aws_secret(target, source, role))
    bad = sorted(name for name in values if not _ENV_NAME.match(name) or name.startswith("METAFLOW_"))
    if bad:
        raise SecretsError(f"secret keys {', '.join(bad)} are not usable as environment variable names")
    return values


@contextlib.contextmanager
def task_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the step and restore the previous values afterwards."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update({key: str(value) for key, value in variables.items()})
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
