"""@project deployments follow Metaflow's naming on every target: the deployer's own branch
``user.<name>`` by default, ``test.<branch>`` with --branch, ``prod`` / ``prod.<branch>`` with
--production; two users deploying the same flow get two deployments, and the tasks'
``current.branch_name`` is the branch the spec was compiled for (not the pod's user)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from flowc.compiler import compile_source
from flowc.plan import build as build_plan
from flowc.targets import get_target
from tests.conftest import target_settings
from tests.harness.artifacts import snapshot
from tests.targets.argo_helpers import run_compiled

FLOW = '''
from metaflow import FlowSpec, current, project, step

@project(name="fraud")
class ScoreFlow(FlowSpec):
    @step
    def start(self):
        self.branch = current.branch_name
        self.production = current.is_production
        self.qualified = current.project_flow_name
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def names(monkeypatch, user: str, **settings) -> dict[str, str]:
    monkeypatch.setenv("FLOWC_USER", user)
    plan = build_plan(compile_source(FLOW, "score.py").flow)
    out = {}
    for target in ("argo", "sfn", "airflow"):
        result = get_target(target).emit(plan, target_settings(sfn_format="cloudformation", **settings))
        assert result.ok, result.diagnostics
        out[target] = result.text
    argo = next(yaml.safe_load_all(out["argo"]))
    cfn = json.loads(out["sfn"])
    return {
        "argo": argo["metadata"]["name"],
        "argo_env": {e["name"]: e["value"] for e in argo["spec"]["templateDefaults"]["container"]["env"]}[
            "FLOWC_PROJECT_BRANCH"],
        "sfn": cfn["Resources"]["StateMachine"]["Properties"]["StateMachineName"],
        "airflow": next(line for line in out["airflow"].splitlines() if "dag_id=" in line).strip(),
    }


@pytest.mark.parametrize("settings,branch", [
    ({}, "user.alice"),
    ({"branch": "exp"}, "test.exp"),
    ({"production": True}, "prod"),
    ({"production": True, "branch": "eu"}, "prod.eu"),
])
def test_every_target_names_the_deployment_after_its_branch(monkeypatch, settings, branch) -> None:
    got = names(monkeypatch, "alice", **settings)
    assert got["argo"] == f"fraud-{branch}-scoreflow".replace(".", "-")  # a DNS-1123 name
    assert got["argo_env"] == branch
    assert got["sfn"] == f"fraud-{branch}-ScoreFlow".replace(".", "-")
    assert got["airflow"] == f'dag_id="fraud.{branch}.ScoreFlow",'


def test_two_users_do_not_collide(monkeypatch) -> None:
    assert names(monkeypatch, "alice")["argo"] != names(monkeypatch, "bob")["argo"]


def test_tasks_report_the_branch_the_spec_was_compiled_for(tmp_path: Path, monkeypatch) -> None:
    flow = tmp_path / "score.py"
    flow.write_text(FLOW)
    monkeypatch.setenv("FLOWC_USER", "alice")  # the deployer; the pod runs as someone else
    run, _ = run_compiled(flow, tmp_path, production=True)
    assert run.phase == "Succeeded", run.message
    (start,) = snapshot(tmp_path / "datastore", "ScoreFlow", "argo-run")["start"].values()
    assert (start["branch"], start["production"], start["qualified"]) == ("prod", True, "fraud.prod.ScoreFlow")
