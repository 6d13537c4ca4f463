"""A target is one module: the toy target in tests/targets/toy_target.py is found by every command
(``flowc targets``, ``compile --target``, ``explain``, ``config``) with no edit anywhere else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from flowc.plan import CONSTRUCTS
from flowc.targets import Capability, Target, TargetSettings, supported
from tests.conftest import ROOT

EXIT_HOOK_FLOW = '''
from flowc import FlowSpec, step, exit_hook

def notify(run):
    pass

@exit_hook(on_success=[notify])
class Hooked(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def flowc(*argv: str, cwd=ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWC_TARGETS": "tests.targets.toy_target", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "flowc.cli", *argv], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_the_toy_target_is_listed_compiled_explained_and_configured(tmp_path):
    matrix = flowc("targets", "--markdown")
    assert matrix.returncode == 0, matrix.stderr
    assert matrix.stdout.splitlines()[0] == "| construct | argo | sfn | airflow | toy |"
    hooks = next(line for line in matrix.stdout.splitlines() if line.startswith("| @exit_hook |"))
    assert hooks.endswith("| refused (FLOW290) |") and hooks.count("refused") == 1

    compiled = flowc("compile", "examples/train.py", "--target", "toy", "--set", "toy_indent=1")
    assert compiled.returncode == 0, compiled.stderr
    plan = json.loads(compiled.stdout)
    assert plan["flow"] == "TrainFlow" and compiled.stdout.startswith('{\n "flow"')
    assert {s["name"] for s in plan["steps"]} >= {"start", "end"}

    explained = flowc("explain", "FLOW290")
    assert explained.returncode == 0 and "@exit_hook on toy" in explained.stdout

    config = flowc("config")
    assert "toy_indent = 2  # default" in config.stdout

    written = flowc("compile", "examples/train.py", "--target", "all", "--output-dir", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["airflow", "argo", "sfn", "toy"]


def test_a_refusal_in_the_table_is_a_diagnostic_at_the_source_line(tmp_path):
    flow = tmp_path / "hooked.py"
    flow.write_text(EXIT_HOOK_FLOW)
    result = flowc("compile", str(flow), "--target", "toy", "--datastore-root", "s3://b/p", "--format", "json")
    assert result.returncode == 1
    (diag,) = json.loads(result.stdout)
    assert (diag["code"], diag["line"]) == ("FLOW290", 7)
    assert diag["message"] == "toy: @exit_hook cannot be expressed on Toy"
    assert diag["hint"] == "remove @exit_hook"


def test_a_typo_in_the_toy_setting_is_refused_with_a_suggestion():
    result = flowc("compile", "examples/train.py", "--target", "toy", "--set", "toy_indnet=3")
    assert result.returncode == 1
    assert "unknown setting 'toy_indnet'; did you mean 'toy_indent'?" in result.stderr


def test_a_capability_table_must_cover_every_construct():
    @dataclass(frozen=True, slots=True)
    class NoSettings(TargetSettings):
        pass

    partial: dict[str, Capability] = {key: supported("x") for key, _ in CONSTRUCTS[1:]}
    with pytest.raises(TypeError, match="missing \\['linear'\\]"):
        type("Partial", (Target,), {"name": "partial", "title": "P", "extension": ".txt",
                                    "settings_type": NoSettings, "capabilities": partial})


def test_no_datastore_root_is_one_error_per_target_naming_where_to_set_it(tmp_path):
    flow = tmp_path / "hooked.py"
    flow.write_text(EXIT_HOOK_FLOW.replace("@exit_hook(on_success=[notify])\n", ""))
    out = tmp_path / "out"
    result = flowc("compile", str(flow), "--target", "argo,sfn", "--output-dir", str(out), "--format", "json")
    assert result.returncode == 1 and not out.exists()
    diags = json.loads(result.stdout)
    assert [(d["code"], d["message"].split(":")[0]) for d in diags] == [("FLOW280", "argo"), ("FLOW280", "sfn")]
    assert "[tool.flowc]" in diags[0]["hint"] and "--datastore-root" in diags[0]["hint"]
