"""flowc deploy / trigger / status on AWS Step Functions, against moto's server on loopback."""

from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner

from flowc import deploy as facade
from flowc.cli import main
from flowc.deploy.base import DeployError
from tests.deploy.conftest import BUCKET, ROLE, make_project

SETTINGS = {"datastore_root": f"s3://{BUCKET}/ds", "sfn_role_arn": ROLE,
            "sfn_job_definition": "flowc-test"}
SCHEDULED = '''
    from flowc import FlowSpec, schedule, step

    @schedule(cron="30 4 * * 1")
    class NightlyFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def machines():
    return boto3.client("stepfunctions").list_state_machines()["stateMachines"]


def test_deploy_twice_updates_in_place(aws, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", SETTINGS)
    first, prepared = facade.deploy(flow, "sfn")
    assert [str(a).split(" (")[0] for a in first.actions] == [
        f"created manifest {prepared.settings.datastore_root}/ParametersFlow/manifests/"
        + first.actions[0].name.rsplit("/", 1)[1],
        "created state machine ParametersFlow"]
    sfn = boto3.client("stepfunctions")
    (machine,) = machines()
    assert machine["name"] == "ParametersFlow"
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    assert described["definition"] == prepared.spec and described["roleArn"] == ROLE
    # the manifest the ASL jobs read is where the definition says it is
    bucket, _, key = first.actions[0].name[len("s3://"):].partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert json.loads(body)["flow"]["name"] == "ParametersFlow"
    assert first.actions[0].name in prepared.spec

    again, _ = facade.deploy(flow, "sfn")
    assert [a.verb for a in again.actions] == ["unchanged", "unchanged"]

    # another job queue changes the definition: the same machine is updated, not a second one made
    (tmp_path / "p" / "pyproject.toml").write_text(
        (tmp_path / "p" / "pyproject.toml").read_text() + 'sfn_job_queue = "queue-v2"\n')
    third, prepared3 = facade.deploy(flow, "sfn")
    assert [a.verb for a in third.actions] == ["unchanged", "updated"]
    (machine3,) = machines()
    assert machine3["stateMachineArn"] == machine["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    assert '"JobQueue": "queue-v2"' in described["definition"]
    assert described["definition"] == prepared3.spec != prepared.spec


def test_trigger_starts_named_execution_with_params_and_status_lists_it(aws, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", SETTINGS)
    facade.deploy(flow, "sfn")
    run = facade.trigger(flow, "sfn", ["who=flowc", "count=7"])
    assert run.run_id.startswith("sfn-") and run.status == "running"
    sfn = boto3.client("stepfunctions")
    (machine,) = machines()
    (execution,) = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert execution["name"] == run.run_id
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"count": "7", "who": "flowc"}

    second = facade.trigger(flow, "sfn", [])
    runs = facade.status(flow, "sfn", limit=5)
    assert {r.run_id for r in runs} == {run.run_id, second.run_id}
    assert all(r.engine_status == "RUNNING" and r.started for r in runs)
    assert facade.status(flow, "sfn", limit=1)[0].run_id in {run.run_id, second.run_id}
    assert len(facade.status(flow, "sfn", limit=1)) == 1


def test_wait_follows_execution_to_its_end(aws, tmp_path):
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    facade.deploy(flow, "sfn")
    run = facade.trigger(flow, "sfn", [])
    sfn = boto3.client("stepfunctions")
    execution_arn = sfn.list_executions(stateMachineArn=machines()[0]["stateMachineArn"])[
        "executions"][0]["executionArn"]
    with pytest.raises(DeployError, match=f"run {run.run_id} still running after 0.3s"):
        facade.wait(flow, "sfn", run.run_id, timeout=0.3, poll=0.1)
    sfn.stop_execution(executionArn=execution_arn)
    seen = []
    final = facade.wait(flow, "sfn", run.run_id, timeout=10, poll=0.1, on_change=seen.append)
    assert final.status == "stopped" and final.engine_status == "ABORTED" and final.finished
    assert [s.status for s in seen] == ["stopped"]


def test_schedule_created_updated_and_removed(aws, tmp_path):
    settings = {**SETTINGS, "sfn_scheduler_role_arn": ROLE.replace("flowc-sfn", "flowc-scheduler")}
    flow = make_project(tmp_path / "p", SCHEDULED, settings)
    deployment, prepared = facade.deploy(flow, "sfn")
    assert str(deployment.actions[-1]) == "created schedule NightlyFlow (cron(30 4 ? * 2 *))"
    assert prepared.warnings == ()  # not "no schedule is created" (FLOW237): deploy made it
    scheduler = boto3.client("scheduler")
    schedule = scheduler.get_schedule(Name="NightlyFlow")
    assert schedule["ScheduleExpression"] == "cron(30 4 ? * 2 *)"
    assert schedule["Target"]["Arn"] == machines()[0]["stateMachineArn"]
    assert schedule["Target"]["RoleArn"].endswith("role/flowc-scheduler")

    flow.write_text(flow.read_text().replace('cron="30 4 * * 1"', 'cron="0 6 * * *"'))
    deployment, _ = facade.deploy(flow, "sfn")
    assert str(deployment.actions[-1]) == "updated schedule NightlyFlow (cron(0 6 * * ? *))"
    assert scheduler.get_schedule(Name="NightlyFlow")["ScheduleExpression"] == "cron(0 6 * * ? *)"

    flow.write_text(flow.read_text().replace('@schedule(cron="0 6 * * *")\n', ""))
    deployment, _ = facade.deploy(flow, "sfn")
    assert deployment.actions[-1].verb == "deleted"
    assert scheduler.list_schedules()["Schedules"] == []


def test_missing_role_is_one_clear_line(aws, tmp_path):
    flow = make_project(tmp_path / "p", "linear", {**SETTINGS, "sfn_role_arn": ""})
    result = CliRunner().invoke(main, ["deploy", str(flow), "--target", "sfn"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "flowc: error: Step Functions needs an IAM role for the state machine: set sfn_role_arn "
        "in [tool.flowc] (or --set sfn_role_arn=arn:aws:iam::...)"]
    assert machines() == []


def test_schedule_without_scheduler_role_fails_before_touching_it(aws, tmp_path):
    flow = make_project(tmp_path / "p", SCHEDULED, SETTINGS)
    with pytest.raises(DeployError, match="set sfn_scheduler_role_arn"):
        facade.deploy(flow, "sfn")


def test_engine_errors_are_one_line_without_secrets(aws, tmp_path, monkeypatch):
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    # trigger before deploy: not found, and what to do
    with pytest.raises(DeployError) as info:
        facade.trigger(flow, "sfn", [])
    assert str(info.value) == (f"state machine LinearFlow not found: deploy it first with "
                               f"flowc deploy {flow} --target sfn")
    # the engine refuses the role: its own words, on one line
    broken = make_project(tmp_path / "q", "linear", {**SETTINGS, "sfn_role_arn": "not-an-arn"})
    with pytest.raises(DeployError) as info:
        facade.deploy(broken, "sfn")
    message = str(info.value)
    assert message.startswith("deploy state machine LinearFlow: ") and "\n" not in message
    # the datastore bucket is missing: the S3 error, and never the access key
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFLOWCSECRET12345")
    nobucket = make_project(tmp_path / "r", "linear", {**SETTINGS, "datastore_root": "s3://missing-bucket/x"})
    result = CliRunner().invoke(main, ["deploy", str(nobucket), "--target", "sfn"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "upload manifest to s3://missing-bucket/x/LinearFlow/manifests/" in result.output
    assert "NoSuchBucket" in result.output and "AKIAFLOWCSECRET12345" not in result.output


def test_unknown_parameter_is_refused_before_anything_is_started(aws, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", SETTINGS)
    facade.deploy(flow, "sfn")
    with pytest.raises(DeployError, match="has no parameter 'whom'; did you mean 'who'"):
        facade.trigger(flow, "sfn", ["whom=x"])
    assert boto3.client("stepfunctions").list_executions(
        stateMachineArn=machines()[0]["stateMachineArn"])["executions"] == []


def test_cli_trigger_prints_run_id_and_status_shows_it(aws, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", SETTINGS)
    runner = CliRunner()
    deployed = runner.invoke(main, ["deploy", str(flow), "-t", "sfn", "--set", "sfn_job_queue=q2"])
    assert deployed.exit_code == 0, deployed.output
    assert deployed.output.splitlines()[-1].startswith(
        "sfn: created state machine ParametersFlow (arn:aws:states:us-east-1:")
    assert '"JobQueue": "q2"' in boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=machines()[0]["stateMachineArn"])["definition"]
    triggered = runner.invoke(main, ["trigger", str(flow), "-t", "sfn", "--param", "count=2"])
    assert triggered.exit_code == 0, triggered.output
    run_id = triggered.output.strip()
    status = runner.invoke(main, ["status", str(flow), "-t", "sfn"])
    assert status.exit_code == 0
    header, row = status.output.splitlines()
    assert header.split() == ["RUN", "ID", "STATUS", "STARTED", "FINISHED"]
    assert row.split()[:2] == [run_id, "running"] and row.split()[3] == "-"


def test_credentials_are_refused_as_settings(aws, tmp_path):
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    result = CliRunner().invoke(main, ["deploy", str(flow), "-t", "sfn", "--set", "airflow_password=hunter2"])
    assert result.exit_code == 1 and "hunter2" not in result.output
    assert "'airflow_password' looks like a credential" in result.output
    stored = make_project(tmp_path / "q", "linear", {**SETTINGS, "argo_token": "abc"})
    result = CliRunner().invoke(main, ["status", str(stored), "-t", "sfn"])
    assert result.exit_code == 1 and "[tool.flowc]: 'argo_token' looks like a credential" in result.output
