"""Specs over an engine's limits are compile errors with the measured size, not files the engine
refuses at deploy time (issue: a 5,000-step flow gave a 4.7 MB state machine)."""

from __future__ import annotations

import re

from flowc.compiler import compile_source
from flowc.plan import build as build_plan
from flowc.settings import from_values
from flowc.targets import get_target


def linear_flow(steps: int, name_length: int = 60) -> str:
    names = [f"s{i:04d}_" + "x" * (name_length - 6) for i in range(steps)]
    chain = ["start", *names, "end"]
    body = []
    for here, there in zip(chain, chain[1:]):
        body.append(f"    @step\n    def {here}(self):\n        self.next(self.{there})\n")
    body.append("    @step\n    def end(self):\n        pass\n")
    return "from flowc import FlowSpec, step\n\nclass Big(FlowSpec):\n" + "\n".join(body)


def emit(target: str, source: str, **settings):
    plan = build_plan(compile_source(source, "big.py").flow)
    return get_target(target).emit(plan, from_values(code="image", datastore_root="s3://b/p", **settings))


def test_a_state_machine_over_one_mebibyte_is_refused_with_its_size() -> None:
    result = emit("sfn", linear_flow(1300))
    (error,) = [d for d in result.diagnostics if d.severity == "error"]
    assert error.code == "FLOW241" and result.text == ""
    size = int(re.search(r"is ([\d,]+) bytes", error.message).group(1).replace(",", ""))
    assert 1_048_576 < size < 2_000_000
    assert not [d for d in emit("sfn", linear_flow(1000)).diagnostics if d.severity == "error"]


def test_an_argo_object_over_what_etcd_stores_is_refused_with_its_size() -> None:
    big = "x" * 1_700_000
    source = linear_flow(1).replace("from flowc import FlowSpec, step",
                                    "from flowc import FlowSpec, step, environment").replace(
        "    @step\n    def start", f"    @environment(vars={{'BLOB': '{big}'}})\n    @step\n    def start")
    result = emit("argo", source)
    (error,) = [d for d in result.diagnostics if d.severity == "error"]
    size = int(re.search(r"WorkflowTemplate is ([\d,]+) bytes", error.message).group(1).replace(",", ""))
    assert error.code == "FLOW210" and size > 1_700_000  # the value, in the env and in the manifest
    assert result.text == ""


def test_parameter_defaults_over_the_execution_input_limit_are_refused() -> None:
    source = linear_flow(1).replace("from flowc import FlowSpec, step",
                                    "from flowc import FlowSpec, Parameter, step").replace(
        "class Big(FlowSpec):\n", f"class Big(FlowSpec):\n    blob = Parameter('blob', default='{'y' * 300_000}')\n\n")
    (error,) = [d for d in emit("sfn", source).diagnostics if d.severity == "error"]
    assert error.code == "FLOW242" and "300,0" in error.message and error.span.line == 4
