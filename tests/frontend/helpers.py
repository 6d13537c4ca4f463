"""Shared helpers: compile dedented flow text and look at the result."""

from __future__ import annotations

import textwrap

import pytest

from flowc.compiler import CompileError, CompileResult, compile_source
from flowc.compiler.diagnostics import Diagnostic


def compile_text(source: str, flow_name: str | None = None, path: str = "flow.py") -> CompileResult:
    return compile_source(textwrap.dedent(source), path=path, flow_name=flow_name)


def errors_of(source: str, flow_name: str | None = None) -> tuple[Diagnostic, ...]:
    with pytest.raises(CompileError) as info:
        compile_text(source, flow_name)
    return info.value.diagnostics


def codes_of(source: str) -> list[str]:
    return [d.code for d in errors_of(source)]


def flow_with(steps: str, header: str = "from metaflow import FlowSpec, step", extra: str = "") -> str:
    """A flow class around ``steps`` (indented by 4), with ``extra`` class-level lines first."""
    body = textwrap.indent(textwrap.dedent(extra).strip("\n"), "    ") + "\n\n" if extra.strip() else ""
    return (f"{header}\n\n\nclass TestFlow(FlowSpec):\n" + body
            + textwrap.indent(textwrap.dedent(steps).strip("\n"), "    ") + "\n")


# Indented like the steps written in test functions, so ``"""...""" + LINEAR_END`` dedents.
LINEAR_END = """
        @step
        def end(self):
            pass
"""


def emit(target: str, flow, **settings):
    """A target's output for an analyzed flow, through the plan, with the tests' settings."""
    from flowc.plan import build as build_plan
    from flowc.targets import get_target
    from tests.conftest import target_settings

    return get_target(target).emit(build_plan(flow), target_settings(**settings))
