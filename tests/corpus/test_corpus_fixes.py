"""What the outerbounds corpus flows found, reduced to flows of our own (so they are checked
whether or not the external corpus is materialized)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from flowc.compiler import compile_file, ir
from tests.harness import run_locally, snapshot

FLOW = '''
import tomllib
from metaflow import FlowSpec, StepMutator, Config, card, step

DEPS = {"duckdb": "1.3.2"}


class with_deps(StepMutator):
    def mutate(self, mutable_step):
        mutable_step.add_decorator("pypi", deco_kwargs={"packages": DEPS})


class DepsFlow(FlowSpec):
    settings = Config("settings", default="settings.toml", parser=tomllib.loads)

    @card(refresh_interval=1)
    @with_deps
    @step
    def start(self):
        self.depth = self.settings.x.y
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def _flow(tmp_path: Path) -> Path:
    (tmp_path / "settings.toml").write_text("[x]\ny = 1\n", encoding="utf-8")
    path = tmp_path / "deps_flow.py"
    path.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    return path


def test_mutator_constants_imported_parsers_and_card_arguments_compile(tmp_path):
    flow = compile_file(_flow(tmp_path)).flow
    start = next(s for s in flow.steps if s.name == "start")
    decorators = {type(d).tag: d for d in start.decorators}
    assert decorators["pypi"].packages == (("duckdb", "1.3.2"),)  # a dict constant of the mutator's module
    assert decorators["card"].refresh_interval == 1
    assert json.loads(flow.configs[0].value) == {"x": {"y": 1}}  # parser=tomllib.loads, not a string


def test_a_card_step_survives_the_manifest(tmp_path):
    """@card's own ``type`` field must not hide the decorator's tag in the manifest."""
    flow = compile_file(_flow(tmp_path)).flow
    assert ir.from_manifest(json.loads(ir.dump_manifest(flow))) == flow


def test_a_card_step_with_a_mutator_runs(tmp_path):
    path = _flow(tmp_path)
    run_id = run_locally(path, tmp_path / "run")
    steps = snapshot(tmp_path / "run" / "datastore", "DepsFlow", run_id)
    assert [task["depth"] for task in steps["start"].values()] == [1]


REPLACED = '''
from metaflow import FlowSpec, step, user_step_decorator


@user_step_decorator
def fallback(step_name, flow, inputs=None, attributes=None):
    def instead(self):
        self.fell_back = True
        return attributes.get("result")
    yield instead


class ReplacedFlow(FlowSpec):
    @fallback(result=RESULT)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.mark.parametrize("result,runs", [("True", True), ("{}", True), ("None", False)])
def test_a_replacement_that_does_not_ask_for_self_next_fails_the_step(tmp_path, result, runs):
    """Metaflow's contract: a yielded replacement returns True (or next's arguments) to get the
    step's own self.next; returning None means it called self.next itself, or the step fails."""
    path = tmp_path / "replaced_flow.py"
    path.write_text(REPLACED.replace("RESULT", result), encoding="utf-8")
    run_id = run_locally(path, tmp_path / "run", expect_success=False)
    steps = snapshot(tmp_path / "run" / "datastore", "ReplacedFlow", run_id)
    assert ("end" in steps) is runs


def test_an_empty_default_value_goes_through_the_parser(tmp_path):
    """Metaflow 2.19 calls a config's parser on ``default_value=""`` (config-examples' git_info
    parser ignores its text); without a parser the config has no value until one is given."""
    path = tmp_path / "empty_default.py"
    path.write_text(textwrap.dedent('''
        from metaflow import FlowSpec, Config, step

        def stamp(text):
            return {"text": text}

        class EmptyDefault(FlowSpec):
            parsed = Config("parsed", default_value="", parser=stamp)
            unparsed = Config("unparsed", default_value="")

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    '''), encoding="utf-8")
    values = {c.name: json.loads(c.value) for c in compile_file(path).flow.configs}
    assert values == {"parsed": {"text": ""}, "unparsed": None}


CAUGHT = '''
from metaflow import FlowSpec, step, catch


class CaughtFlow(FlowSpec):
    @step
    def start(self):
        self.divisors = [0, 2]
        self.next(self.divide, foreach="divisors")

    @catch(var="divide_failed", print_exception=False)
    @step
    def divide(self):
        self.res = 10 / self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [inp.res for inp in inputs if not inp.divide_failed]
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_catch_var_is_none_where_the_step_succeeded(tmp_path):
    """Metaflow sets @catch's var on every task (None on success), so a join can read it from
    each input, as the full-stack tutorial's catch.py does."""
    path = tmp_path / "caught_flow.py"
    path.write_text(CAUGHT, encoding="utf-8")
    steps = snapshot(tmp_path / "run" / "datastore", "CaughtFlow", run_locally(path, tmp_path / "run"))
    assert sorted(t["divide_failed"] is None for t in steps["divide"].values()) == [False, True]
    assert [t["results"] for t in steps["join"].values()] == [[5.0]]
