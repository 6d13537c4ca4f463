"""Compile flows to Airflow DAG files for the Airflow tests (paths relative to the repository,
as `flowc compile examples/x.py` sees them)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flowc.compiler import compile_file, compile_source
from flowc.compiler.diagnostics import Diagnostic
from flowc.plan import build as build_plan
from flowc.targets import Emitted, Settings, get_target
from tests.conftest import ROOT, target_settings


def relative(path: Path) -> Path:
    return path.resolve().relative_to(ROOT) if path.is_absolute() else path


def emit(path: Path, **settings: Any) -> str:
    """The DAG file of ``path``; fails the test on any error diagnostic."""
    flow = compile_file(relative(path)).flow
    emitted = get_target("airflow").emit(build_plan(flow), target_settings(**settings))
    errors = [d for d in emitted.diagnostics if d.severity == "error"]
    assert not errors, errors
    return emitted.text


def emit_source(source: str, path: str = "flow.py", **settings: Any) -> Emitted:
    flow = compile_source(source, path).flow
    return get_target("airflow").emit(build_plan(flow), target_settings(**settings))


def codes(diagnostics: tuple[Diagnostic, ...], severity: str | None = None) -> list[str]:
    return [d.code for d in diagnostics if severity is None or d.severity == severity]


def local_settings(datastore: Path, **settings: Any) -> dict[str, Any]:
    """Settings for a DAG that dag.test() runs here: shim subprocesses on this Python, the code
    at the repository root, the datastore in a temporary directory."""
    return {"airflow_operator": "local", "python": sys.executable, "code_dir": str(ROOT),
            "datastore_root": str(datastore), **settings}
