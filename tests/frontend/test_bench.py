"""The benchmark's generated flows are valid and have the advertised size."""

from __future__ import annotations

import importlib.util

import pytest

from flowc.compiler import compile_source
from tests.conftest import ROOT


def _bench():
    spec = importlib.util.spec_from_file_location("compile_bench", ROOT / "benchmarks" / "compile_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("steps", [10, 100, 101])
def test_generated_flow_size(steps):
    flow = compile_source(_bench().generate(steps), "generated.py").flow
    assert len(flow.steps) == steps
    assert {flow.kind(s) for s in flow.steps} >= {"start", "end", "split", "join", "foreach"}
