"""The compiler: libcst front end -> typed IR -> graph analysis and checks.

Importing this package is cheap and standard-library only; libcst is imported lazily by the front
end, so the runtime shim can read the IR (``flowc.compiler.ir``) without it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from flowc.compiler import guard, ir, names
from flowc.compiler.diagnostics import ERROR, CompileError, Diagnostic, register

READ_ERROR = register("FLOW001", "cannot read the flow file", """
The file does not exist, is a directory, or cannot be read.""")
NOT_TEXT = register("FLOW002", "not a UTF-8 Python file", """
Flow files are Python source in UTF-8. The file is binary or in another encoding.""")


@dataclass(frozen=True, slots=True)
class CompileResult:
    """A checked flow: the analyzed IR and the warnings found on the way (errors raise)."""

    flow: ir.Flow
    diagnostics: tuple[Diagnostic, ...] = ()


def _file_error(code: str, message: str, path: str, line: int = 0, column: int = 0) -> CompileError:
    return CompileError([Diagnostic(code, message, ir.Span(path, line, column, line, column + 1 if line else 0))])


def compile_source(source: str, path: str = "<string>", flow_name: str | None = None,
                   source_sha256: str | None = None) -> CompileResult:
    """Lower, analyze and check ``source``; raises ``CompileError`` with every error found.

    ``source_sha256`` defaults to the hash of ``source`` in UTF-8; ``compile_file`` passes the
    hash of the file's bytes, which is what the runtime shim verifies.
    """
    from flowc.compiler import checker, frontend, graph

    if source_sha256 is None:
        source_sha256 = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    refusal = guard.check_source(source, path)
    if refusal is not None:
        raise CompileError([refusal])
    try:
        lowered = frontend.lower(source, path, flow_name, source_sha256)
        flow = graph.analyze(lowered.flow)
        diagnostics = checker.supersede([*lowered.diagnostics, *names.check_parameter_names(flow),
                                         *checker.check(flow, lowered)])
    except frontend.FrontendError as exc:
        raise CompileError([exc.diagnostic]) from None
    except (RecursionError, MemoryError) as exc:
        # The guard's estimate is conservative, but a caller deep in its own stack may still
        # overflow: a diagnostic, never a traceback.
        raise CompileError([guard.refusal(f"the file is too deeply nested to compile here "
                                          f"({type(exc).__name__})", path, 0)]) from None
    if any(d.severity == ERROR for d in diagnostics):
        raise CompileError(diagnostics)
    return CompileResult(flow, tuple(sorted(diagnostics, key=lambda d: d.sort_key)))


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a flow file, or ``CompileError`` with a one-line reason."""
    return _read(path)[0]


MAX_FLOW_BYTES = 8 * 1024 * 1024
"""Larger than any flow file; a bound so ``/dev/zero`` or a runaway file is refused, not read."""


def read_regular_file(path: str | os.PathLike[str], limit: int = MAX_FLOW_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or ``CompileError`` (FLOW001).

    The file is opened without blocking and checked with ``fstat`` before anything is read, so
    a FIFO, a device (``/dev/zero``) or a directory is refused instead of hanging or filling
    memory.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        what = "broken symbolic link" if os.path.islink(name) else "no such file"
        raise _file_error(READ_ERROR, f"{what}: {name}", name) from None
    except OSError as exc:
        raise _file_error(READ_ERROR, f"cannot read {name}: {exc.strerror or exc}", name) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _file_error(READ_ERROR, f"{name} is a directory, not a flow file", name)
        if not stat.S_ISREG(info.st_mode):
            raise _file_error(READ_ERROR, f"{name} is not a regular file", name)
        if info.st_size > limit:
            raise _file_error(READ_ERROR, f"{name} has {info.st_size:,} bytes, more than the "
                              f"{limit:,} flowc reads", name)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise _file_error(READ_ERROR, f"cannot read {name}: {exc.strerror or exc}", name) from None
    if len(data) > limit:
        raise _file_error(READ_ERROR, f"{name} grew past {limit:,} bytes while being read", name)
    return data


def _read(path: str | os.PathLike[str]) -> tuple[str, str]:
    name = os.fspath(path)
    data = read_regular_file(name)
    if b"\0" in data:
        raise _file_error(NOT_TEXT, f"{name} is a binary file, not Python source", name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _file_error(NOT_TEXT, f"{name} is not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, "
                          f"column {column})", name) from None
    return text.removeprefix("\ufeff"), hashlib.sha256(data).hexdigest()


def compile_file(path: str | os.PathLike[str], flow_name: str | None = None) -> CompileResult:
    """Read and compile a flow file; see ``compile_source``."""
    text, sha = _read(path)
    return compile_source(text, os.fspath(path), flow_name, sha)


__all__ = ["CompileError", "CompileResult", "compile_file", "compile_source", "read_regular_file", "read_source"]
