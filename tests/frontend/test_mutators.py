"""Custom decorators and mutators: at compile time exactly the mutator's code runs, isolated
(the module body never does), and its effect is in the IR and every target's spec; at run time
user step decorators wrap steps as in Metaflow."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file, ir
from flowc.compiler.options import CompileOptions, using
from flowc.compiler.render import dump
from tests.frontend.helpers import emit
from tests.harness import run_locally, snapshot

FLOW = '''
from pathlib import Path
from metaflow import (FlowSpec, FlowMutator, StepMutator, UserStepDecorator, step, user_step_decorator,
                      Parameter, USER_SKIP_STEP, environment)

Path("module_body_ran.txt").write_text("the module body ran")  # must never run at compile time
TIMES = 2


@user_step_decorator
def stamp(step_name, flow, inputs=None, attributes=None):
    flow.before = step_name
    yield
    flow.after = step_name + "!"


@user_step_decorator
def skipper(step_name, flow, inputs=None):
    flow.skipped = True
    yield USER_SKIP_STEP


@user_step_decorator
def replace_with(step_name, flow, inputs=None, attributes=None):
    def instead(self):
        self.replaced_by = attributes["label"]
        return True  # the compiled self.next, as Metaflow's replacement contract says
    yield instead


class Forgive(UserStepDecorator):
    def pre_step(self, step_name, flow, inputs=None):
        flow.forgiven = False

    def post_step(self, step_name, flow, exception=None):
        flow.forgiven = exception is not None
        return None, {}  # swallow the failure and take the compiled transition


class RetryEverything(FlowMutator):
    def init(self, times=1):
        self.times = times

    def mutate(self, mutable_flow):
        for name, s in mutable_flow.steps:
            s.add_decorator("retry", deco_kwargs={"times": self.times, "minutes_between_retries": 0})
            s.add_decorator(stamp)
        mutable_flow.add_parameter("extra", Parameter("extra", default=7))
        mutable_flow.remove_parameter("dropped")


class AddEnv(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator(environment, deco_kwargs={"vars": {"FROM_MUTATOR": "yes"}})
        mutable_step.remove_decorator("timeout")


@RetryEverything(times=TIMES)
class MutFlow(FlowSpec):
    dropped = Parameter("dropped", default=1)

    @AddEnv
    @timeout(seconds=5)
    @step
    def start(self):
        import os
        self.env = os.environ.get("FROM_MUTATOR")
        self.x = self.extra
        self.next(self.middle)

    @skipper
    @step
    def middle(self):
        self.never = True
        self.next(self.fails)

    @Forgive
    @step
    def fails(self):
        raise RuntimeError("boom")
        self.next(self.swap)

    @replace_with(label="fallback")
    @step
    def swap(self):
        self.replaced_by = "original"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MutFlow()
'''.replace("Parameter, USER_SKIP_STEP, environment)", "Parameter, USER_SKIP_STEP, environment, timeout)")


def write(tmp_path: Path, source: str = FLOW) -> Path:
    path = tmp_path / "mut_flow.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def test_a_flow_mutator_adds_retry_to_every_step_and_runs_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flow = compile_file(write(tmp_path)).flow
    assert not (tmp_path / "module_body_ran.txt").exists()
    for step in flow.steps:
        assert step.decorator(ir.Retry).times == 2, step.name
    start = flow.step("start")
    assert start.decorator(ir.Environment).vars == (("FROM_MUTATOR", "yes"),)
    assert start.decorator(ir.Timeout) is None  # removed by the step mutator
    assert [(p.name, p.default) for p in flow.parameters] == [("extra", 7)]
    assert [(e.kind, e.name) for e in flow.evaluated] == [("mutator", "RetryEverything"), ("mutator", "AddEnv")]
    assert "evaluated at compile time: mutator RetryEverything: run in isolation on the flow" in dump(flow)


def test_the_mutators_effect_is_in_every_targets_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flow = compile_file(write(tmp_path)).flow
    argo = emit("argo", flow).text
    assert argo.count("retryStrategy:") == len(flow.steps)
    sfn = json.loads(emit("sfn", flow).text)
    retries = [state["Retry"][0]["MaxAttempts"] for state in sfn["States"].values() if "Retry" in state]
    assert retries == [2] * len(flow.steps)
    airflow = emit("airflow", flow).text
    assert airflow.count("retries=2") == len(flow.steps)


def test_user_decorators_and_mutators_at_run_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the module body runs when tasks import the flow (and writes here)
    path = write(tmp_path)
    run_id = run_locally(path, tmp_path / "run")
    artifacts = snapshot(tmp_path / "run" / "datastore", "MutFlow", run_id)
    start, middle, fails, swap = (artifacts[s]["t"] for s in ("start", "middle", "fails", "swap"))
    assert (start["env"], start["x"], start["before"], start["after"]) == ("yes", 7, "start", "start!")
    assert middle["skipped"] is True and "never" not in middle  # USER_SKIP_STEP: the body did not run
    assert fails["forgiven"] is True  # post_step swallowed the exception
    assert swap["replaced_by"] == "fallback"  # the yielded callable ran instead of the step


def test_evaluation_refused_names_the_mutator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with using(CompileOptions(evaluate_code=False)), pytest.raises(CompileError) as info:
        compile_file(write(tmp_path))
    messages = [(d.code, d.message) for d in info.value.diagnostics]
    assert ("FLOW082", "mutator RetryEverything on the flow would run at compile time, and evaluation is "
            "refused (--no-evaluate)") in messages
    assert all(code == "FLOW082" for code, _ in messages)


def test_a_failing_mutator_and_a_bad_added_decorator_point_at_the_mutator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = FLOW.replace('mutable_flow.add_parameter("extra", Parameter("extra", default=7))',
                          'raise ValueError("no way")')
    with pytest.raises(CompileError) as info:
        compile_file(write(tmp_path, source))
    (error,) = [d for d in info.value.diagnostics if d.code == "FLOW083"]
    assert error.message == "mutator RetryEverything on the flow failed: ValueError: no way"
    assert error.span.line == FLOW.splitlines().index("@RetryEverything(times=TIMES)") + 1
    with pytest.raises(CompileError) as info:
        compile_file(write(tmp_path, FLOW.replace("TIMES = 2", "TIMES = -1")))
    assert {d.code for d in info.value.diagnostics} == {"FLOW056"}  # @retry times must be >= 0


def test_a_mutator_on_the_wrong_target_is_misplaced(tmp_path):
    source = FLOW.replace("    @AddEnv\n", "    @RetryEverything\n")
    with pytest.raises(CompileError) as info:
        compile_file(write(tmp_path, source))
    (error,) = info.value.diagnostics
    assert error.code == "FLOW059" and "is a FlowMutator" in error.message


def test_a_mutator_from_a_project_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mutators_lib.py").write_text(textwrap.dedent('''
        from metaflow import FlowMutator

        class Resourceful(FlowMutator):
            def mutate(self, mutable_flow):
                for _, s in mutable_flow.steps:
                    s.add_decorator("resources:cpu=4,memory=16000")
    '''))
    (tmp_path / "flow.py").write_text(textwrap.dedent('''
        from metaflow import FlowSpec, step
        from mutators_lib import Resourceful

        @Resourceful
        class LibFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    '''))
    flow = compile_file(tmp_path / "flow.py").flow
    assert {(s.decorator(ir.Resources).cpu, s.decorator(ir.Resources).memory) for s in flow.steps} == {(4, 16000)}
    assert flow.sources == ("mutators_lib.py",)
