"""Exceptions a flow may see at run time (Metaflow's names, so ``except`` clauses keep working)."""

from __future__ import annotations

import traceback


class FlowcException(Exception):
    headline = "flowc error"


MetaflowException = FlowcException


class InvalidNextError(FlowcException):
    headline = "invalid self.next()"


class MergeArtifactsException(FlowcException):
    headline = "unresolved artifacts in merge_artifacts"

    def __init__(self, msg: str, unhandled: list[str]):
        super().__init__(msg)
        self.artifact_names = unhandled


class MissingInMergeArtifactsException(FlowcException):
    headline = "artifacts named in include= are missing"

    def __init__(self, msg: str, unhandled: list[str]):
        super().__init__(msg)
        self.artifact_names = unhandled


class ParameterError(FlowcException):
    headline = "bad parameter"


class TimeoutException(FlowcException):
    headline = "@timeout"


class CaughtException:
    """What ``@catch(var=...)`` stores: the exception's type, message and traceback as text.

    Text, not the exception object, so the artifact always unpickles (Metaflow's
    ``MetaflowExceptionWrapper`` makes the same choice).
    """

    def __init__(self, exc: BaseException | None = None):
        if exc is None:
            self.type, self.exception, self.stacktrace = "", "", ""
            return
        self.type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        self.exception = str(exc)
        self.stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __str__(self) -> str:
        return f"{self.type}: {self.exception}"

    def __repr__(self) -> str:
        return f"CaughtException({self.type!r}, {self.exception!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaughtException) and (self.type, self.exception) == (other.type, other.exception)

    def __hash__(self) -> int:
        return hash((self.type, self.exception))


MetaflowExceptionWrapper = CaughtException
