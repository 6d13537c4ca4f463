"""The catalogue of diagnostic codes: imports every module that registers codes.

Codes are registered next to the pass that emits them; ``flowc explain`` and docs/diagnostics.md
need all of them, so this module loads the front end, the checker and every target. A target
that fails to import (a missing optional dependency) only loses its own codes.
"""

from __future__ import annotations

import importlib

from flowc.compiler.diagnostics import REGISTRY, Code

_MODULES = ("flowc.compiler", "flowc.compiler.frontend", "flowc.compiler.checker", "flowc.settings",
            "flowc.targets.argo", "flowc.targets.sfn", "flowc.targets.airflow")


def load_all() -> dict[str, Code]:
    """Every registered code, sorted by code."""
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    return dict(sorted(REGISTRY.items()))


def explain(code: str) -> Code | None:
    return load_all().get(code.strip().upper())
