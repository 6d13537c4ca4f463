"""Exceptions a flow may see at run time, under Metaflow's names (``metaflow.exception``), so
``except`` clauses and ``isinstance`` checks written for Metaflow keep working."""

from __future__ import annotations

import traceback
from typing import Any

__all__ = [
    "MetaflowException", "FlowcException", "MetaflowNotFound", "MetaflowInvalidPathspec",
    "MetaflowNamespaceMismatch", "MetaflowInternalError", "MetaflowTaggingError",
    "MetaflowUnknownUser", "MetaflowDataMissing", "MetaflowInvalidState",
    "InvalidDecoratorAttribute", "CommandException", "ExternalCommandFailed",
    "InvalidNextError", "MergeArtifactsException", "UnhandledInMergeArtifactsException",
    "MissingInMergeArtifactsException", "ParameterError", "TimeoutException",
    "MetaflowExceptionWrapper", "CaughtException",
]


class MetaflowException(Exception):
    """The base of every flowc/Metaflow error: ``.message``, ``.line_no``, ``.source_file``."""

    headline = "Flow failed"

    def __init__(self, msg: str = "", lineno: int | None = None, source_file: str | None = None):
        self.message = msg
        self.line_no = lineno
        self.source_file = source_file
        super().__init__(*((msg,) if msg else ()))

    def __str__(self) -> str:
        where = f"line {self.line_no}" if self.line_no else (self.source_file or "")
        return f"{where}: {self.message}" if where else str(self.message)


FlowcException = MetaflowException


class MetaflowNotFound(MetaflowException, KeyError):
    """A client lookup of a flow, run, step, task or artifact that does not exist (also a
    ``KeyError``, so ``in`` and dict habits work)."""

    headline = "Object not found"


class MetaflowInvalidPathspec(MetaflowException, ValueError):
    headline = "Invalid pathspec"


class MetaflowNamespaceMismatch(MetaflowException):
    """The object exists but is outside the current namespace (see ``flowc.client.namespace``)."""

    headline = "Object not in the current namespace"

    def __init__(self, namespace: str | None = None, msg: str | None = None):
        super().__init__(msg or f"object not in namespace '{namespace}'")
        self.namespace = namespace


class MetaflowInternalError(MetaflowException):
    headline = "Internal error"


class MetaflowTaggingError(MetaflowException):
    headline = "Tagging error"


class MetaflowUnknownUser(MetaflowException):
    headline = "Unknown user"

    def __init__(self, msg: str = "cannot determine the user name: set the USER environment "
                 "variable"):
        super().__init__(msg)


class MetaflowDataMissing(MetaflowException):
    headline = "Data missing"


class MetaflowInvalidState(MetaflowException):
    headline = "Invalid state"


class InvalidDecoratorAttribute(MetaflowException):
    headline = "Unknown decorator attribute"


class CommandException(MetaflowException):
    headline = "Invalid command"


class ExternalCommandFailed(MetaflowException):
    headline = "External command failed"


class InvalidNextError(MetaflowException):
    headline = "Invalid self.next() transition detected"


class MergeArtifactsException(MetaflowException):
    headline = "Unhandled artifacts in merge"

    def __init__(self, msg: str, unhandled: list[str]):
        super().__init__(msg)
        self.artifact_names = unhandled


UnhandledInMergeArtifactsException = MergeArtifactsException


class MissingInMergeArtifactsException(MetaflowException):
    headline = "Missing artifacts in merge"

    def __init__(self, msg: str, unhandled: list[str]):
        super().__init__(msg)
        self.artifact_names = unhandled


class ParameterError(MetaflowException):
    headline = "bad parameter"


class TimeoutException(MetaflowException):
    headline = "@timeout"


class MetaflowExceptionWrapper(Exception):
    """What ``@catch(var=...)`` stores: an ``Exception`` whose ``.type``, ``.exception`` (the
    message) and ``.stacktrace`` are text, so the artifact unpickles anywhere, whatever the
    original exception's class was. ``raise self.err`` in a later step works.

    Pickled as ``(cls, (None,), state)`` -- Metaflow's shape -- because ``Exception``'s own
    pickling would rebuild from ``args`` and lose the attributes.
    """

    type: str | None
    exception: str | None
    stacktrace: str | None

    def __init__(self, exc: BaseException | None = None):
        super().__init__()
        if exc is None:
            return
        self.exception = str(exc)
        self.type = f"{type(exc).__module__}.{type(exc).__name__}"
        self.stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (None,), self.__dict__

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self.__dict__ = dict(state or {})

    def __str__(self) -> str:
        if getattr(self, "stacktrace", None):
            return str(self.stacktrace)
        return f"[no stacktrace]\n{getattr(self, 'type', None)}: {getattr(self, 'exception', None)}"

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, MetaflowExceptionWrapper)
                and (getattr(self, "type", None), getattr(self, "exception", None))
                == (getattr(other, "type", None), getattr(other, "exception", None)))

    def __hash__(self) -> int:
        return hash((getattr(self, "type", None), getattr(self, "exception", None)))


CaughtException = MetaflowExceptionWrapper
