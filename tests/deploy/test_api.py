"""The Python API: flowc.api.compile, Runner (flowc run in a child process), Deployer."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import boto3
import pytest

from flowc.api import Deployer, Runner, compile
from flowc.compiler.diagnostics import CompileError
from flowc.deploy.base import DeployError
from tests.conftest import SHAPES
from tests.deploy.conftest import BUCKET, ROLE, make_project

FAILING = '''
    from metaflow import FlowSpec, step

    class FailingFlow(FlowSpec):
        @step
        def start(self):
            raise RuntimeError("failing on purpose")
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_compile_returns_what_the_cli_writes():
    text = compile(SHAPES / "parameters.py", "argo", image="example.com/flows:1")
    cli = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", str(SHAPES / "parameters.py"),
                          "--target", "argo", "--image", "example.com/flows:1"],
                         capture_output=True, text=True, check=True).stdout
    assert text == cli and "image: example.com/flows:1" in text


def test_compile_raises_with_diagnostics_and_wants_one_target(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from flowc import FlowSpec, step\n\nclass BadFlow(FlowSpec):\n"
                   "    @step\n    def start(self):\n        self.next(self.missing)\n\n"
                   "    @step\n    def end(self):\n        pass\n")
    with pytest.raises(CompileError) as info:
        compile(bad, "sfn")
    assert any("missing" in d.message for d in info.value.diagnostics)
    with pytest.raises(ValueError, match="name one target"):
        compile(SHAPES / "linear.py", "all")


def test_runner_runs_locally_and_returns_the_client_run(tmp_path):
    with Runner(SHAPES / "parameters.py", datastore=str(tmp_path / "ds"), cwd=tmp_path) as runner:
        result = runner.run(count=7, verbose=True, options={"depth": 5})
        assert result.status == "successful" and result.returncode == 0, result.stderr
        assert result.pathspec == f"ParametersFlow/{result.run_id}"
        seen = result.run["start"].task.data.seen
        assert seen["count"] == [7, "int"] and seen["verbose"] == [True, "bool"]
        assert seen["options"] == [{"depth": 5}, "dict"]
        assert result.run.successful


def test_runner_reports_a_failed_run_and_refuses_a_bad_flow(tmp_path):
    flow = make_project(tmp_path / "p", FAILING, {})
    with Runner(flow, datastore=str(tmp_path / "ds")) as runner:
        executing = runner.async_run()
        assert executing.wait(timeout=120) is executing
        assert executing.status == "failed" and executing.returncode != 0
        assert "failing on purpose" in executing.stderr + executing.stdout
        assert executing.run_id is not None and not executing.run.successful
    with pytest.raises(CompileError):
        Runner(SHAPES / "nonexistent.py").run()


def test_deployer_creates_triggers_and_lists_on_step_functions(aws, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", {"datastore_root": f"s3://{BUCKET}/ds",
                                                      "sfn_job_definition": "flowc-test"})
    deployed = Deployer(flow, sfn_role_arn=ROLE).step_functions().create()
    assert deployed.name == "ParametersFlow" and deployed.deployment.actions[-1].verb == "created"
    triggered = deployed.trigger(count=7, verbose=True)
    assert triggered.pathspec == f"ParametersFlow/{triggered.run_id}"
    assert triggered.status == "running"
    sfn = boto3.client("stepfunctions")
    (execution,) = sfn.list_executions(
        stateMachineArn=sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"])["executions"]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "count": "7", "verbose": "true"}
    assert [r.run_id for r in deployed.runs()] == [triggered.run_id]
    with pytest.raises(DeployError, match="still running"):
        triggered.wait(timeout=0.1, poll=0.05)
    sfn.stop_execution(executionArn=execution["executionArn"])
    assert triggered.wait(timeout=10, poll=0.05).status == "stopped"
    # a later program triggers the same deployment without deploying again
    again = Deployer(flow, sfn_role_arn=ROLE).step_functions().existing()
    assert again.name == "ParametersFlow" and again.deployment.actions == ()
    assert {r.run_id for r in again.runs()} == {triggered.run_id}
    assert again.trigger().run_id != triggered.run_id
    assert len(again.runs()) == 2
    # settings given to the engine method win over the Deployer's
    with pytest.raises(DeployError, match="Step Functions needs an IAM role"):
        Deployer(flow, sfn_role_arn=ROLE).step_functions(sfn_role_arn="").create()


def test_async_run_can_be_stopped(tmp_path):
    flow = make_project(tmp_path / "p", '''
        import time
        from flowc import FlowSpec, step

        class SlowFlow(FlowSpec):
            @step
            def start(self):
                time.sleep(60)
                self.next(self.end)

            @step
            def end(self):
                pass
    ''', {})
    with Runner(flow, datastore=str(tmp_path / "ds")) as runner:
        executing = runner.async_run()
        assert executing.status == "running"
        deadline = time.monotonic() + 60  # the run id is known once the run has started
        while executing.run_id is None and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        executing.kill()
        assert time.monotonic() - started < 30  # stopped, not waited for
        assert executing.status == "failed" and executing.returncode != 0
        assert executing.run_id and not executing.run.successful
