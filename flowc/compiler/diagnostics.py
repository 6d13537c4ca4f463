"""Diagnostics: what every pass reports instead of raising.

A diagnostic has a code (``FLOWnnn``), a severity, a message, the span it points at and an
optional hint. Codes live in one registry so ``flowc explain FLOWnnn`` and the docs' catalogue are
generated from the code that emits them. Ranges by owner:

    FLOW001-FLOW099  front end and checker
    FLOW200-FLOW229  Argo Workflows target
    FLOW230-FLOW259  AWS Step Functions target
    FLOW260-FLOW289  Airflow target
    FLOW300-FLOW349  settings, CLI and packaging
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Sequence

from flowc.compiler.ir import NO_SPAN, Span

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    title: str
    explanation: str


REGISTRY: dict[str, Code] = {}


def register(code: str, title: str, explanation: str) -> str:
    """Declare a diagnostic code once, next to the pass that emits it; returns the code."""
    existing = REGISTRY.get(code)
    if existing is not None and existing.title != title:
        raise ValueError(f"diagnostic code {code} registered twice ({existing.title!r}, {title!r})")
    REGISTRY[code] = Code(code, title, inspect.cleandoc(explanation))  # indented docstrings too
    return code


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span = NO_SPAN
    severity: str = ERROR
    hint: str | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.span.path, self.span.line, self.span.column, self.code, self.message)


class CompileError(Exception):
    """Raised with every diagnostic of a failed compilation, sorted by position."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = tuple(sorted(diagnostics, key=lambda d: d.sort_key))
        super().__init__("\n".join(d.message for d in self.diagnostics))


def render_text(diagnostics: Sequence[Diagnostic], source_lines: dict[str, list[str]] | None = None,
                limit: int = 50) -> str:
    """mypy --pretty style: ``path:line:col: severity: message [CODE]``, the line, a caret, a hint."""
    out: list[str] = []
    ordered = sorted(diagnostics, key=lambda d: d.sort_key)
    for diag in ordered[:limit]:
        span = diag.span
        where = f"{span.path}:{span.line}:{span.column}" if span.line else span.path
        out.append(one_line(f"{where}: {diag.severity}: {diag.message} [{diag.code}]"))
        lines = (source_lines or {}).get(span.path)
        if lines and 0 < span.line <= len(lines):
            text = lines[span.line - 1].rstrip("\n").expandtabs(1)
            start = max(span.column - 1, 0)
            end = span.end_column - 1 if span.end_line == span.line else len(text)
            text, start, end = _clip(text, start, end)
            out.append(f"    {text}")
            width = max(end - start, 1)
            out.append("    " + " " * start + "^" + "~" * (width - 1))
        if diag.hint:
            out.append(f"    hint: {diag.hint}")
    if len(ordered) > limit:
        out.append(f"... and {len(ordered) - limit} more")
    errors = sum(d.severity == ERROR for d in ordered)
    # A lone file-level error (missing file, not UTF-8, no flow) stays a one-line message.
    if errors and not (len(ordered) == 1 and not ordered[0].span.line):
        files = len({d.span.path for d in ordered if d.severity == ERROR})
        out.append(f"Found {errors} error{'s' if errors != 1 else ''} in {files} file{'s' if files != 1 else ''}")
    return "\n".join(out) + ("\n" if out else "")


def one_line(text: str) -> str:
    """``text`` with control characters escaped (a file named ``a\nb``), so an error stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _clip(text: str, start: int, end: int, width: int = 120) -> tuple[str, int, int]:
    """At most ``width`` characters of a long source line around the span, so a generated
    100,000-character line does not flood the terminal; returns the shifted span."""
    if len(text) <= width:
        return text, start, end
    left = max(min(start - width // 4, len(text) - width), 0)
    clipped = ("..." if left else "") + text[left:left + width] + ("..." if left + width < len(text) else "")
    shift = left - (3 if left else 0)
    return clipped, start - shift, min(end - shift, len(clipped))


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    """One JSON array, for editors and CI annotations."""
    return json.dumps(
        [
            {
                "path": d.span.path,
                "line": d.span.line,
                "column": d.span.column,
                "end_line": d.span.end_line,
                "end_column": d.span.end_column,
                "severity": d.severity,
                "code": d.code,
                "message": d.message,
                "hint": d.hint,
            }
            for d in sorted(diagnostics, key=lambda d: d.sort_key)
        ],
        indent=2,
    ) + "\n"
