"""The invalid corpus: each file marks the diagnostics it must produce inline.

``# E: FLOW022`` on a line expects an error with that code at that line, ``# W: FLOW052`` a
warning; ``# E@file: FLOW004`` expects a file-level error (no line). The set of (line, severity,
code) produced must equal the set marked: a missing or an extra diagnostic fails the case.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file

CORPUS = Path(__file__).parent / "invalid"
MARKER = re.compile(r"#\s*(?P<kind>[EW])(?P<file>@file)?:\s*(?P<codes>FLOW\d{3}(?:\s*,\s*FLOW\d{3})*)")


def expected(path: Path) -> set[tuple[int, str, str]]:
    out = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in MARKER.finditer(line):
            severity = "error" if match["kind"] == "E" else "warning"
            for code in re.split(r"\s*,\s*", match["codes"]):
                out.add((0 if match["file"] else number, severity, code))
    return out


def actual(path: Path) -> set[tuple[int, str, str]]:
    try:
        diagnostics = compile_file(path).diagnostics
    except CompileError as error:
        diagnostics = error.diagnostics
    return {(d.span.line, d.severity, d.code) for d in diagnostics}


CASES = sorted(CORPUS.glob("*.py"))


def test_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_invalid_flow(path: Path):
    want = expected(path)
    assert want, f"{path.name} has no # E: / # W: markers"
    assert any(severity == "error" for _, severity, _ in want)
    assert actual(path) == want


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_errors_point_inside_the_file(path: Path):
    """Every diagnostic names this file, and positioned ones stay within its lines."""
    try:
        compile_file(path)
    except CompileError as error:
        lines = path.read_text(encoding="utf-8").splitlines()
        for diagnostic in error.diagnostics:
            assert diagnostic.span.path == str(path)
            assert 0 <= diagnostic.span.line <= len(lines)
            if diagnostic.span.line:
                assert diagnostic.span.column >= 1
                assert (diagnostic.span.end_line, diagnostic.span.end_column) >= (
                    diagnostic.span.line, diagnostic.span.column)
    else:  # pragma: no cover - test_invalid_flow reports the real problem
        pytest.fail(f"{path.name} compiled without errors")
