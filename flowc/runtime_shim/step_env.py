"""Run-time effects of step decorators: @timeout, @environment and @secrets.

Each is a context manager that undoes itself, so a scheduler that runs tasks in-process (or in a
forked worker that runs several) never leaks one task's environment into the next. Secret values
are never printed: errors name the source and the key only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import threading
from typing import Iterator, Mapping, Sequence

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


def resolve_secrets(sources: Sequence[str]) -> dict[str, str]:
    """``env:NAME`` (a JSON object or a plain value in $NAME) and ``file:PATH`` (JSON or KEY=VALUE)."""
    values: dict[str, str] = {}
    for source in sources:
        kind, _, target = str(source).partition(":")
        if kind == "env" and target:
            if target not in os.environ:
                raise SecretsError(f"secret source {source}: environment variable {target} is not set")
            raw = os.environ[target]
            values.update(_parse_secret_text(raw, source) if raw.strip().startswith("{") else {target: raw})
        elif kind == "file" and target:
            try:
                with open(target, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise SecretsError(f"secret source {source}: cannot read the file ({exc.strerror})") from None
            values.update(_parse_secret_text(text, source))
        else:
            raise SecretsError(f"secret source {source!r}: flowc resolves 'env:NAME' and 'file:PATH' "
                               "sources at run time; mount other secrets into one of those")
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
