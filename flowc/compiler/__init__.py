"""The compiler: libcst front end -> typed IR -> graph analysis and checks.

Importing this package is cheap and standard-library only; libcst is imported lazily by the front
end, so the runtime shim can read the IR (``flowc.compiler.ir``) without it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from flowc.compiler import ir
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
    try:
        lowered = frontend.lower(source, path, flow_name, source_sha256)
    except frontend.FrontendError as exc:
        raise CompileError([exc.diagnostic]) from None
    flow = graph.analyze(lowered.flow)
    diagnostics = checker.supersede([*lowered.diagnostics, *checker.check(flow, lowered)])
    if any(d.severity == ERROR for d in diagnostics):
        raise CompileError(diagnostics)
    return CompileResult(flow, tuple(sorted(diagnostics, key=lambda d: d.sort_key)))


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a flow file, or ``CompileError`` with a one-line reason."""
    return _read(path)[0]


def _read(path: str | os.PathLike[str]) -> tuple[str, str]:
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except FileNotFoundError:
        raise _file_error(READ_ERROR, f"no such file: {name}", name) from None
    except IsADirectoryError:
        raise _file_error(READ_ERROR, f"{name} is a directory, not a flow file", name) from None
    except OSError as exc:
        raise _file_error(READ_ERROR, f"cannot read {name}: {exc.strerror or exc}", name) from None
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


__all__ = ["CompileError", "CompileResult", "compile_file", "compile_source", "read_source"]
