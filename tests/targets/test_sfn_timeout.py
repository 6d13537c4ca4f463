"""@timeout, alone and under @catch, executed for real as a Step Functions execution on moto
(AWS Batch jobs as local shim processes), compared with ``flowc run``."""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

import pytest

from flowc.compiler import compile_file
from flowc.plan import build as build_plan
from flowc.settings import from_values
from flowc.targets import get_target, sfn
from tests.harness.artifacts import run_locally, snapshot
from tests.harness.moto_sfn import MotoSfn, _environ

logging.getLogger("werkzeug").setLevel(logging.ERROR)

DATASTORE = "s3://flowc-test/datastore"

CAUGHT = """
from flowc import FlowSpec, catch, step, timeout
import time


class CaughtFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @catch(var="problem")
    @timeout(seconds=2)
    @step
    def slow(self):
        time.sleep(30)
        self.finished = True
        self.next(self.end)

    @step
    def end(self):
        self.timed_out = self.problem is not None
"""

UNCAUGHT = CAUGHT.replace("CaughtFlow", "UncaughtFlow").replace('    @catch(var="problem")\n', "")


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory):
    with MotoSfn(tmp_path_factory.mktemp("sfn-timeout"), max_processes=2) as harness:
        yield harness


def execute(aws: MotoSfn, source: str, tmp_path: Path):
    path = tmp_path / "code" / "timeout_flow.py"
    path.parent.mkdir()
    path.write_text(source, encoding="utf-8")
    flow = compile_file(path).flow
    settings = from_values(code="image", code_dir=str(path.parent), python=sys.executable, datastore_root=DATASTORE,
                           sfn_job_queue=aws.job_queue, sfn_job_definition=aws.job_definition)
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    assert not [d for d in emitted.diagnostics if d.severity == "error"], emitted.diagnostics
    location = sfn.manifest_location(flow, settings)
    aws.put_text(location.removeprefix(f"s3://{aws.bucket}/"), sfn.manifest_text(flow))
    result = aws.run(emitted.text, {}, name=f"timeout-{uuid.uuid4().hex[:8]}", timeout=180)
    return flow, path, result


def test_timeout_under_catch_matches_flowc_run(aws: MotoSfn, tmp_path: Path):
    flow, path, result = execute(aws, CAUGHT, tmp_path)
    assert result.status == "SUCCEEDED", (result.error, result.cause, [j["exit_code"] for j in result.jobs])
    slow = [job for job in result.jobs if "slow" in job["command"]]
    assert slow and slow[0]["seconds"] < 25  # the shim stopped the step at its timeout
    with _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
        remote = snapshot(DATASTORE, flow.name, result.name)
    local_id = run_locally(path, tmp_path / "local")
    local = snapshot(tmp_path / "local" / "datastore", flow.name, local_id)
    # the caught exception's message names the run id, the only expected difference
    assert repr(remote) == repr(local).replace(local_id, result.name)
    assert remote["end"]["t"]["timed_out"] is True and "finished" not in remote["slow"]["t"]


def test_timeout_alone_fails_the_execution(aws: MotoSfn, tmp_path: Path):
    flow, _, result = execute(aws, UNCAUGHT, tmp_path)
    assert result.status == "FAILED"
    slow = [job for job in result.jobs if "slow" in job["command"]]
    assert slow and slow[0]["exit_code"] != 0 and slow[0]["seconds"] < 25
    assert "imeout" in Path(slow[0]["log"]).read_text(errors="replace")
    assert not [job for job in result.jobs if "end" in job["command"]]
