"""Every definition flowc writes passes the validators AWS users run in CI: PyPI statelint (every
check on), the npm asl-validator (JS API, path and ARN checks on) and, for CloudFormation output,
cfn-lint. And the validators are awake: each rejects a known-bad definition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, example_flows, shape_flows
from tests.targets.sfn_helpers import (asl_validator, cfn_definition, cfn_lint, emit, emit_source,
                                       statelint_problems)

ALL = [("", p) for p in example_flows()] + [("flows-", p) for p in shape_flows()]
IDS = [prefix + p.stem for prefix, p in ALL]

# Flows that exercise what the corpus does not: every decorator lowered, a schedule with a
# timezone, per-step job definitions.
EXTRA = {
    "decorated": '''
from flowc import FlowSpec, Parameter, step, retry, timeout, resources, batch, environment, schedule

@schedule(cron="15 3 * * 1-5", timezone="America/New_York")
class D(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @retry(times=2)
    @timeout(hours=1)
    @resources(cpu=2, memory=8192, gpu=1)
    @environment(vars={"MODE": "fast"})
    @step
    def start(self):
        self.next(self.end)

    @batch(image="gpu:2", queue="q2", shared_memory=256)
    @step
    def end(self):
        pass
''',
}


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _asl(path: Path) -> dict:
    return json.loads(emit(path))


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_statelint(prefix: str, path: Path) -> None:
    assert statelint_problems(_asl(path)) == []


def test_statelint_on_cloudformation_definitions() -> None:
    for _, path in ALL:
        definition = cfn_definition(json.loads(emit(path, sfn_format="cloudformation")))
        assert statelint_problems(definition) == [], path
    for name, source in EXTRA.items():
        emitted = emit_source(source, sfn_format="cloudformation")
        assert statelint_problems(cfn_definition(json.loads(emitted.text))) == [], name


def test_asl_validator(tmp_path: Path) -> None:
    definitions = {prefix + path.stem: _asl(path) for prefix, path in ALL}
    for _, path in ALL:
        template = json.loads(emit(path, sfn_format="cloudformation"))
        definitions[f"cfn-{path.stem}"] = cfn_definition(template)
    for name, source in EXTRA.items():
        definitions[f"extra-{name}"] = cfn_definition(
            json.loads(emit_source(source, sfn_format="cloudformation").text))
    results = asl_validator(definitions, tmp_path)
    assert {name: errors for name, errors in results.items() if errors} == {}


def test_cfn_lint(tmp_path: Path) -> None:
    templates = {path.stem: emit(path, sfn_format="cloudformation") for path in example_flows()}
    templates.update({name: emit_source(source, sfn_format="cloudformation").text
                      for name, source in EXTRA.items()})
    done = cfn_lint(templates, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_validators_reject_bad_definitions(tmp_path: Path) -> None:
    good = _asl(ROOT / "tests/flows/switch.py")
    jayway = json.loads(json.dumps(good))
    jayway["States"]["start-case"]["ResultPath"] = "$..case[?(@.x)]"  # Metaflow-style Jayway path
    dangling = json.loads(json.dumps(good))
    dangling["States"]["high"]["Next"] = "nowhere"
    assert statelint_problems(jayway) != [] and statelint_problems(dangling) != []
    results = asl_validator({"jayway": jayway, "dangling": dangling, "good": good}, tmp_path)
    assert results["jayway"] and results["dangling"] and results["good"] == []
    template = json.loads(emit(ROOT / "examples/train.py", sfn_format="cloudformation"))
    template["Resources"]["StateMachine"]["Properties"]["RoleArn"] = {"Ref": "NoSuchParameter"}
    assert cfn_lint({"broken": json.dumps(template)}, tmp_path).returncode != 0


def test_statelint_extension_is_only_input_type() -> None:
    """The one field statelint is taught is validated as an enumeration, not waved through."""
    definition = _asl(ROOT / "tests/flows/foreach.py")
    definition["States"]["start-foreach"]["ItemReader"]["ReaderConfig"]["InputType"] = "XML"
    assert statelint_problems(definition) != []
    definition["States"]["start-foreach"]["ItemReader"]["ReaderConfig"]["Other"] = 1
    assert any("Other" in p for p in statelint_problems(definition))
