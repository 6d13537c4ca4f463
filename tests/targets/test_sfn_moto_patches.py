"""Each moto patch of tests/harness/moto_sfn.py is needed: the scenario it fixes passes with every
patch installed and fails with that one left out (so a moto upgrade that fixes the bug shows up
here as a failing "without" case, and the patch can go)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from flowc.targets.sfn_asl import call, fmt, path
from tests.harness.moto_sfn import PATCHES, MotoSfn

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _batch_task(aws: MotoSfn, code: str, **extra) -> dict:
    """A ``batch:submitJob.sync`` Task running ``python -c code`` with ``X=hello`` in its env."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::batch:submitJob.sync",
        "Parameters": {
            "JobName": "probe",
            "JobQueue": aws.job_queue,
            "JobDefinition": aws.job_definition,
            "ContainerOverrides": {
                "Command": [sys.executable, "-c", code],
                "Environment": [{"Name": "X", "Value": "hello"}],
            },
        },
        "ResultPath": None,
        **extra,
    }


def _machine(state: dict) -> dict:
    return {"StartAt": "probe", "States": {"probe": {**state, "End": True}}}


def test_every_patch_has_a_test():
    tested = {"batch_case", "batch_runs_jobs", "retry_token", "sdk_body", "env_growth", "map_failures",
              "cfn_state_machine", "describe_jobs_race",
              "node_overrides"}  # tests/targets/test_parallel_sfn_moto_patch.py
    assert set(PATCHES) == tested


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_batch_case(tmp_path: Path, patched: bool):
    without = () if patched else ("batch_case",)
    with MotoSfn(tmp_path, without=without) as aws:
        result = aws.run(_machine(_batch_task(aws, "pass")))
    if patched:
        assert result.status == "SUCCEEDED", result.cause
    else:
        assert result.status == "FAILED"
        assert "JobName" in (result.cause or "") + (result.error or "")


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_batch_runs_jobs(tmp_path: Path, patched: bool):
    code = ("import os, pathlib; pathlib.Path('marker').write_text(os.environ['X'] + ' '"
            " + os.environ['AWS_BATCH_JOB_ATTEMPT'] + ' ' + os.environ['AWS_BATCH_JOB_ID']);"
            " raise SystemExit(3)")
    without = () if patched else ("batch_runs_jobs",)
    with MotoSfn(tmp_path, without=without) as aws:
        result = aws.run(_machine(_batch_task(aws, code)))
    marker = tmp_path / "marker"
    if patched:
        # The command ran with the overrides' environment, and its exit code failed the job.
        assert result.status == "FAILED"
        assert result.error == "States.TaskFailed"
        x, attempt, job_id = marker.read_text().split()
        assert (x, attempt) == ("hello", "1") and job_id == result.jobs[0]["id"]
        assert result.jobs[0]["exit_code"] == 3
    else:
        assert result.status == "SUCCEEDED"
        assert not marker.exists()


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_retry_token(tmp_path: Path, patched: bool):
    # Fails on the first attempt, succeeds on the second.
    code = ("import pathlib, sys; p = pathlib.Path('attempts'); n = len(p.read_text()) if p.exists() else 0;"
            " p.write_text('x' * (n + 1)); sys.exit(0 if n else 1)")
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}]
    without = () if patched else ("retry_token",)
    with MotoSfn(tmp_path, without=without) as aws:
        result = aws.run(_machine(_batch_task(aws, code, Retry=retry)))
    if patched:
        assert result.status == "SUCCEEDED", result.cause
        assert [job["exit_code"] for job in result.jobs] == [1, 0]
    else:
        assert result.status == "FAILED"
        assert result.error == "States.Timeout"


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_sdk_body(tmp_path: Path, patched: bool):
    without = () if patched else ("sdk_body",)
    with MotoSfn(tmp_path, without=without) as aws:
        aws.put_text("side/switch_case.json", json.dumps({"case": "high", "next_step": "b"}))
        state = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": aws.bucket, "Key": "side/switch_case.json"},
            "ResultSelector": {"value.$": "States.StringToJson($.Body)"},
            "ResultPath": "$.case",
        }
        result = aws.run(_machine(state), {"keep": 1})
    if patched:
        assert result.status == "SUCCEEDED", result.cause
        assert result.output == {"keep": 1, "case": {"value": {"case": "high", "next_step": "b"}}}
    else:
        assert result.status == "FAILED"


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_env_growth(tmp_path: Path, patched: bool):
    without = () if patched else ("env_growth",)
    with MotoSfn(tmp_path, without=without) as aws:
        batch = aws.client("batch")
        job = batch.submit_job(jobName="probe", jobQueue=aws.job_queue, jobDefinition=aws.job_definition,
                               containerOverrides={"command": [sys.executable, "-c", "pass"],
                                                   "environment": [{"name": "X", "value": "1"}]})
        sizes = [len(batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["container"]["environment"])
                 for _ in range(3)]
    if patched:
        assert sizes == [2, 2, 2]  # X and AWS_BATCH_JOB_ID
    else:
        assert sizes == [2, 3, 4]


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_map_failures(tmp_path: Path, patched: bool):
    # Child 1 of 3 fails: AWS fails the Map (no failure is tolerated by default).
    # No quotes in the code: moto's intrinsic parser mishandles the escaped quote AWS defines.
    code = "import sys; sys.exit(int(sys.argv[1] == str(1)))"
    without = () if patched else ("map_failures",)
    with MotoSfn(tmp_path, without=without) as aws:
        aws.put_text("items.json", "[0, 1, 2]")
        task = _batch_task(aws, code)
        command = call("Array", sys.executable, "-c", code, fmt("{}", path("i")))
        task["Parameters"]["ContainerOverrides"] = {"Command.$": command}
        state = {
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                           "ReaderConfig": {"InputType": "JSON"},
                           "Parameters": {"Bucket": aws.bucket, "Key": "items.json"}},
            "ItemSelector": {"i.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "child", "States": {"child": {**task, "End": True}}},
            "ResultPath": None,
        }
        result = aws.run(_machine(state))
    assert sorted(job["exit_code"] for job in result.jobs) == [0, 0, 1]
    if patched:
        assert result.status == "FAILED"
        assert result.error == "States.ExceedToleratedFailureThreshold"
    else:
        assert result.status == "SUCCEEDED"


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_cfn_state_machine(tmp_path: Path, patched: bool):
    without = () if patched else ("cfn_state_machine",)
    definition = {"StartAt": "p", "States": {"p": {"Type": "Pass", "Result": "${Greeting}", "End": True}}}
    template = {"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "StateMachineName": "probe", "RoleArn": "arn:aws:iam::123456789012:role/r",
        "DefinitionString": json.dumps(definition), "DefinitionSubstitutions": {"Greeting": "hello"}}}}}
    with MotoSfn(tmp_path, without=without) as aws:
        aws.client("cloudformation").create_stack(StackName="probe", TemplateBody=json.dumps(template))
        sfn = aws.client("stepfunctions")
        arn = "arn:aws:states:us-east-1:123456789012:stateMachine:probe"
        if patched:
            created = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
            assert created["States"]["p"]["Result"] == "hello"
        else:
            with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
                sfn.describe_state_machine(stateMachineArn=arn)


@pytest.mark.parametrize("patched", [True, False], ids=["patched", "without"])
def test_describe_jobs_race(tmp_path: Path, patched: bool):
    """A job submitted while ``describe_jobs`` walks the table (made deterministic: describing the
    first job submits another, as a concurrent request thread would)."""
    from moto.batch.models import batch_backends

    without = () if patched else ("describe_jobs_race",)
    with MotoSfn(tmp_path, without=without) as aws:
        batch = aws.client("batch")
        submit = dict(jobQueue=aws.job_queue, jobDefinition=aws.job_definition,
                      containerOverrides={"command": [sys.executable, "-c", "pass"]})
        first = batch.submit_job(jobName="first", **submit)["jobId"]
        backend = batch_backends["123456789012"]["us-east-1"]
        job = backend._jobs[first]
        describe = job.describe

        def describe_and_submit():
            job.describe = describe
            batch.submit_job(jobName="concurrent", **submit)
            return describe()

        job.describe = describe_and_submit
        if patched:
            described = backend.describe_jobs([first])
            assert [d["jobName"] for d in described] == ["first"]
        else:
            with pytest.raises(RuntimeError, match="changed size during iteration"):
                backend.describe_jobs([first])
