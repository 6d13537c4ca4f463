"""flowc deploy + trigger --wait on Step Functions, with the execution really running.

moto's Step Functions interpreter runs the deployed state machine and its AWS Batch jobs run as
local shim processes (tests/harness/moto_sfn.py, shared with the sfn target's tests), so this is
the whole path: compile, upload the manifest, create the state machine, start a named execution,
follow it to SUCCEEDED, then read the run's artifacts from the S3 datastore. The parameters given
to ``flowc trigger`` travel as the execution input and reach the start step typed.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main
from flowc.client import Run
from tests.deploy.conftest import ROLE, make_project
from tests.harness.moto_sfn import MotoSfn

pytestmark = pytest.mark.slow


@pytest.fixture
def moto_sfn(tmp_path, monkeypatch):
    with MotoSfn(tmp_path / "jobs", max_processes=2) as harness:
        monkeypatch.setenv("AWS_ENDPOINT_URL", harness.endpoint)
        yield harness
        # moto's config is process-wide: leave executions off for the tests that follow
        request = urllib.request.Request(f"{harness.endpoint}/moto-api/config", method="POST",
                                         data=b'{"stepfunctions": {"execute_state_machine": false}}',
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request).close()


def test_deploy_then_trigger_wait_runs_the_flow(moto_sfn, tmp_path):
    datastore = f"s3://{moto_sfn.bucket}/datastore"
    root = tmp_path / "project"
    flow = make_project(root, "parameters", {
        "code_dir": str(root), "python": sys.executable, "datastore_root": datastore,
        "sfn_job_queue": moto_sfn.job_queue, "sfn_job_definition": moto_sfn.job_definition,
        "sfn_role_arn": ROLE}).resolve()
    runner = CliRunner()
    deployed = runner.invoke(main, ["deploy", str(flow), "-t", "sfn"])
    assert deployed.exit_code == 0, deployed.output
    result = runner.invoke(main, ["trigger", str(flow), "-t", "sfn", "--param", "who=sfn",
                                  "--param", "count=7", "--param", "colors=a,b,c",
                                  "--wait", "--timeout", "240"])
    run_id = result.output.splitlines()[0]
    failed_jobs = [f"{job['name']} exit {job['exit_code']}: " + Path(job["log"]).read_text(errors="replace")[-1500:]
                   for job in moto_sfn.runner.jobs if job["exit_code"]]
    assert result.exit_code == 0, (result.output, failed_jobs)
    assert f"{run_id}: succeeded" in result.output
    run = Run(f"ParametersFlow/{run_id}", datastore=datastore)
    assert run.successful
    seen = run["end"].task.data.seen
    assert seen["who"] == ["sfn", "str"] and seen["count"] == [7, "int"]
    assert seen["colors"] == [["a", "b", "c"], "list"] and seen["ratio"] == [0.5, "float"]
