"""`flowc resume FLOW --target sfn RUN_ID` and `Deployer(...).step_functions().resume(...)` on a
deployed flow, with moto running the executions: the resumed execution clones every task before
the failed step and re-runs the rest."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main
from flowc.client import Run
from tests.deploy.conftest import ROLE, make_project
from tests.harness.moto_sfn import MotoSfn
from tests.sched.flows import RESUMABLE, executed
from tests.sched.resume_scenario import RERUN

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with MotoSfn(tmp_path / "jobs", max_processes=4) as aws:
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint)
        root = tmp_path / "project"
        datastore = f"s3://{aws.bucket}/datastore"
        flow = make_project(root, RESUMABLE, {
            "code_dir": str(root), "python": sys.executable, "datastore_root": datastore,
            "sfn_job_queue": aws.job_queue, "sfn_job_definition": aws.job_definition,
            "sfn_role_arn": ROLE}, name="resume_flow.py").resolve()
        done = CliRunner().invoke(main, ["deploy", str(flow), "-t", "sfn"])
        assert done.exit_code == 0, done.output
        (root / "broken").write_text("")
        failed = CliRunner().invoke(main, ["trigger", str(flow), "-t", "sfn", "--wait", "--timeout", "300"])
        assert failed.exit_code != 0, failed.output
        (root / "broken").unlink()
        (root / "executed.log").unlink()
        yield flow, failed.output.splitlines()[0], datastore


def _check(flow: Path, origin: str, run_id: str, datastore: str) -> None:
    from flowc import deploy

    info = deploy.wait(flow, "sfn", run_id, timeout=300, poll=0.5)
    assert info.status == "succeeded", info
    assert executed(flow.parent) == RERUN
    run = Run(f"ResumeFlow/{run_id}", datastore=datastore)
    assert run.origin_run_id == origin and run.data.result == "big:14:3" and run.data.origin == origin


def test_cli_resume_on_step_functions(deployed) -> None:
    flow, origin, datastore = deployed
    result = CliRunner().invoke(main, ["resume", str(flow), origin, "-t", "sfn"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sfn: started run sfn-") and result.output.strip().endswith(
        f"resuming {origin}")
    _check(flow, origin, result.output.split()[3], datastore)


def test_deployer_resume_and_its_errors(deployed) -> None:
    from flowc import Deployer
    from flowc.deploy import DeployError

    flow, origin, datastore = deployed
    deployer = Deployer(flow).step_functions()
    with pytest.raises(DeployError, match="no such step"):
        deployer.resume(origin, step="nope")
    with pytest.raises(DeployError, match="cannot find run ResumeFlow/sfn-missing"):
        deployer.resume("sfn-missing")
    triggered = deployer.resume(origin)
    _check(flow, origin, triggered.run_id, datastore)


def test_cli_resume_on_argo_names_the_workflow_and_the_template_clones(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the recording Argo Server stand-in: the submitted Workflow is named by the new run
    id, and the deployed WorkflowTemplate, run under that name in the interpreter, clones."""
    import io

    from flowc.local.api import run_flow
    from tests.deploy.argo_fake import FakeArgo
    from tests.harness.argo_interpreter import SUCCEEDED, Interpreter

    root = tmp_path / "project"
    datastore = tmp_path / "ds"
    flow = make_project(root, RESUMABLE, {"namespace": "flows", "datastore_root": str(datastore),
                                          "code_dir": "/app"}, name="resume_flow.py").resolve()
    (root / "broken").write_text("")
    origin = run_flow(flow, (), datastore=str(datastore), stream=io.StringIO(), live=False)
    assert origin.status == "failed"
    (root / "broken").unlink()
    (root / "executed.log").unlink()
    with FakeArgo(token="t") as argo:
        monkeypatch.setenv("ARGO_SERVER", argo.url)
        monkeypatch.setenv("ARGO_TOKEN", "t")
        assert CliRunner().invoke(main, ["deploy", str(flow), "-t", "argo"]).exit_code == 0
        result = CliRunner().invoke(main, ["resume", str(flow), origin.run_id, "-t", "argo"])
        assert result.exit_code == 0, result.output
        run_id = result.output.split()[3]
        submit = argo.requests[-1]["body"]
        template = argo.objects[("workflow-templates", "flows", "resumeflow")]
    assert submit["submitOptions"] == {"name": run_id}
    workflow = Interpreter(template, workflow_name=run_id, path_map={"/app": str(root)},
                           workdir=tmp_path / "pods", shared_paths=[tmp_path]).run()
    assert workflow.phase == SUCCEEDED
    assert executed(root) == RERUN
    run = Run(f"ResumeFlow/{run_id}", datastore=str(datastore))
    assert run.origin_run_id == origin.run_id and run.data.origin == origin.run_id
