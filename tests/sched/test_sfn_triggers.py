"""@trigger / @trigger_on_finish on Step Functions (CloudFormation format).

Structure: the rules' patterns, input transformers and role, cfn-lint, goldens, the ASL format's
refusal. Behaviour: the stacks deployed in moto, an event published with ``flowc trigger
--event``'s code path and an upstream machine's SUCCEEDED status change start the machines,
whose tasks see the mapped parameters and ``current.trigger``. moto cannot deliver an event to
Step Functions; ``tests/sched/eventbridge.py`` does that one step (see its docstring).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowc.cli import main
from flowc.compiler import compile_file
from flowc.deploy import DeployError
from flowc.deploy.events import publish
from flowc.plan import build as build_plan
from flowc.runtime_shim.trigger import TRIGGER_KEY, Trigger, split_input
from flowc.targets import get_target
from tests.conftest import ROOT, target_settings
from tests.harness.moto_sfn import REGION, MotoSfn, _environ
from tests.sched.eventbridge import delivers_to_step_functions, transform
from tests.sched.sfn_helpers import DATASTORE, s3_run_record, s3_snapshot
from tests.targets.sfn_helpers import cfn_definition, cfn_lint, emit, emit_source

logging.getLogger("werkzeug").setLevel(logging.ERROR)

FLOWS = ROOT / "tests" / "sched" / "trigger_flows"
ON_EVENT, ON_FINISH = FLOWS / "on_event.py", FLOWS / "on_finish.py"
CFN = {"sfn_format": "cloudformation"}

PROJECT_FINISH = '''
from flowc import FlowSpec, project, step, trigger_on_finish

@project(name="demo")
@trigger_on_finish(flows=["Upstream", "other.prod.Elsewhere"])
class Downstream(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

SAMPLE_EVENT = {"version": "0", "id": "7f3c-event", "detail-type": "data_ready", "source": "flowc",
                "account": "123456789012", "time": "2026-12-05T08:00:00Z", "region": "us-east-1",
                "resources": [], "detail": {"value": 2.5, "user": "ada", "extra": [1, {"a": "<b>"}]}}


def template_of(path: Path, **settings: Any) -> dict[str, Any]:
    return json.loads(emit(path, **CFN, **settings))


def rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"}


def codes(emitted: Any) -> list[tuple[str, str]]:
    return [(d.code, d.severity) for d in emitted.diagnostics]


# --------------------------------------------------------------------------- structure


def test_an_event_rule_matches_the_published_shape_and_hands_over_the_event() -> None:
    template = template_of(ON_EVENT)
    (rule,) = rules(template).values()
    assert rule["EventPattern"] == {"source": ["flowc"], "detail-type": ["data_ready"]}
    assert rule["EventBusName"] == {"Ref": "EventBusName"}
    assert template["Parameters"]["EventBusName"]["Default"] == "flowc"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "StateMachine"}
    assert target["RoleArn"] == {"Fn::If": ["CreateEventsRole", {"Fn::GetAtt": ["EventsRole", "Arn"]},
                                            {"Ref": "EventsRoleArn"}]}
    execution_input = json.loads(transform(SAMPLE_EVENT, target["InputTransformer"]))
    assert execution_input == {TRIGGER_KEY: {
        "type": "event", "name": "data_ready", "id": "7f3c-event", "timestamp": "2026-12-05T08:00:00Z",
        "payload": SAMPLE_EVENT["detail"], "parameters": {"alpha": "value", "who": "user"}}}
    # what the start task makes of it: the mapped fields, and the event to record
    assert split_input(execution_input) == ({"alpha": 2.5, "who": "ada"}, [
        {"type": "event", "name": "data_ready", "id": "7f3c-event", "timestamp": "2026-12-05T08:00:00Z"}])
    # the start task reads the execution input whole (FLOWC_PARAMS), so the event reaches it
    start = cfn_definition(template)["States"]["start"]
    environment = start["Parameters"]["ContainerOverrides"]["Environment"]
    assert {"Name": "FLOWC_PARAMS", "Value.$": "States.JsonToString($$.Execution.Input)"} in environment


def test_the_events_role_may_start_this_machine_only() -> None:
    template = template_of(ON_EVENT, sfn_event_bus="team-bus", sfn_events_role_arn="arn:aws:iam::1:role/r")
    role = template["Resources"]["EventsRole"]
    assert role["Condition"] == "CreateEventsRole"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"}
    (statement,) = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement == {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:OnEventFlow"}}
    assert template["Parameters"]["EventBusName"]["Default"] == "team-bus"
    assert template["Parameters"]["EventsRoleArn"]["Default"] == "arn:aws:iam::1:role/r"


def test_a_finish_rule_matches_the_upstream_machines_success_in_the_project_branch() -> None:
    emitted = emit_source(PROJECT_FINISH, **CFN, branch="feature")
    assert emitted.ok, emitted.diagnostics
    found = rules(json.loads(emitted.text))
    assert set(found) == {"TriggerOnFinishUpstream", "TriggerOnFinishOtherProdElsewhere"}
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
    for logical, machine, flow in (("TriggerOnFinishUpstream", "demo-test-feature-Upstream", "Upstream"),
                                   ("TriggerOnFinishOtherProdElsewhere", "other-prod-Elsewhere", "Elsewhere")):
        rule = found[logical]
        assert "EventBusName" not in rule  # AWS services publish on the default bus
        assert rule["EventPattern"] == {
            "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [{"Fn::Sub": arn + machine}]}}
        status_change = {"id": "e1", "time": "2026-12-05T09:00:00Z", "source": "aws.states",
                         "detail": {"name": "exec-42", "status": "SUCCEEDED"}}
        assert json.loads(transform(status_change, rule["Targets"][0]["InputTransformer"])) == {TRIGGER_KEY: {
            "type": "run", "name": f"metaflow.{flow}.end", "id": f"{flow}/exec-42/end/t",
            "timestamp": "2026-12-05T09:00:00Z"}}
    assert "EventBusName" not in json.loads(emitted.text)["Parameters"]  # no @trigger event


def test_the_asl_format_refuses_triggers_precisely() -> None:
    emitted = emit_source(ON_EVENT.read_text(), "on_event.py")
    assert codes(emitted) == [("FLOW232", "error")]
    (problem,) = emitted.diagnostics
    assert "in the ASL format" in problem.message and "--sfn-format cloudformation" in (problem.hint or "")


@pytest.mark.parametrize("decorator, expected", [
    ('@trigger(event={"parameters": {"alpha": "v"}})', "needs an event name known at compile time"),
    ('@trigger(event={"name": "x", "parameters": {"nope": "f"}})', "'nope', which the flow has no parameter of"),
    ('@trigger(event="a<b>")', "names with '<' or '>'"),
    ('@trigger_on_finish(flow={"name": "Up", "project": "p"})', "options project cannot be expressed"),
])
def test_triggers_a_rule_cannot_carry_are_refused(decorator: str, expected: str) -> None:
    source = f'''
from flowc import FlowSpec, Parameter, step, trigger, trigger_on_finish

{decorator}
class F(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
    emitted = emit_source(source, **CFN)
    errors = [d for d in emitted.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["FLOW255"], emitted.diagnostics
    assert expected in errors[0].message


def test_one_event_without_a_mapping_maps_every_parameter_by_name() -> None:
    """As Metaflow's Argo target does; with two events nothing is implied."""
    source = '''
from flowc import FlowSpec, Parameter, step, trigger

{usage}
class Unmapped(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

    def mappings(usage: str) -> list[dict[str, str]]:
        emitted = emit_source(source.format(usage=usage), **CFN)
        template = json.loads(emitted.text)
        return [json.loads(r["Targets"][0]["InputTransformer"]["InputTemplate"].replace("<payload>", "{}")
                           )[TRIGGER_KEY]["parameters"] for r in rules(template).values()]

    assert mappings('@trigger(event="data_ready")') == [{"alpha": "alpha"}]
    assert mappings('@trigger(events=["data_ready", "other"])') == [{}, {}]


def test_several_events_are_a_rule_each_with_a_warning() -> None:
    source = ON_EVENT.read_text().replace(
        '@trigger(event={"name": "data_ready", "parameters": {"alpha": "value", "who": "user"}})',
        '@trigger(events=["data_ready", {"name": "data-fixed", "parameters": ["alpha"]}])')
    emitted = emit_source(source, **CFN)
    assert codes(emitted) == [("FLOW256", "warning")]
    found = rules(json.loads(emitted.text))
    assert [r["EventPattern"]["detail-type"] for r in found.values()] == [["data_ready"], ["data-fixed"]]
    fixed = found["TriggerOnDataFixed"]["Targets"][0]["InputTransformer"]
    assert json.loads(transform(SAMPLE_EVENT, fixed))[TRIGGER_KEY]["parameters"] == {"alpha": "alpha"}


def test_the_stacks_pass_cfn_lint(tmp_path: Path) -> None:
    done = cfn_lint({"on_event": emit(ON_EVENT, **CFN), "on_finish": emit(ON_FINISH, **CFN),
                     "project": emit_source(PROJECT_FINISH, **CFN, branch="feature").text}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [ON_EVENT, ON_FINISH], ids=lambda p: p.stem)
def test_golden_trigger_stacks(path: Path, golden: Any) -> None:
    golden.check(f"sfn/cloudformation/{path.stem}.json", emit(path, **CFN))


def test_the_start_task_maps_payload_fields_and_keeps_defaults() -> None:
    event = {"type": "event", "name": "e", "id": "1", "timestamp": 5, "payload": {"value": None, "n": 3},
             "parameters": {"alpha": "value", "count": "n", "who": "missing"}}
    values, recorded = split_input({"count": 7, TRIGGER_KEY: event})
    assert values == {"count": 7}  # None and missing fields keep the defaults; the input wins
    trigger = Trigger.from_record(recorded)
    assert trigger is not None and trigger.event is not None
    assert (trigger.event.name, trigger.event.type, trigger.event.timestamp.year) == ("e", "event", 1970)
    assert "e" in trigger and "f" not in trigger and trigger.run is None
    assert Trigger.from_record(None) is None and split_input({"a": 1}) == ({"a": 1}, None)


# --------------------------------------------------------------------------- flowc trigger --event


@pytest.mark.parametrize("payload, message", [
    ("{bad", "--payload is not valid JSON"),
    ("[1, 2]", "--payload must be a JSON object, not a JSON list"),
])
def test_publish_refuses_bad_payloads_in_one_line(payload: str, message: str) -> None:
    with pytest.raises(DeployError, match=message) as caught:
        publish("sfn", "e", payload)
    assert "\n" not in str(caught.value)


def test_publish_without_boto3_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(DeployError, match=r"boto3 is not installed: pip install 'flowc\[s3\]'"):
        publish("sfn", "e", "{}")


def test_the_cli_reports_event_errors_in_one_line() -> None:
    done = CliRunner().invoke(main, ["trigger", "--event", "e", "--payload", "{bad"])
    assert done.exit_code == 1 and done.output.count("\n") == 1
    assert done.output.startswith("flowc: error: --payload is not valid JSON")
    done = CliRunner().invoke(main, ["trigger", "--payload", "{}"])
    assert done.exit_code == 1 and "--event NAME publishes an event" in done.output
    done = CliRunner().invoke(main, ["trigger"])
    assert done.exit_code == 1 and "needs FLOW_FILE and --target" in done.output


def test_publish_is_for_step_functions_and_argo_only() -> None:
    with pytest.raises(DeployError, match="publishes to sfn, argo only, not 'airflow'"):
        publish("airflow", "e", "{}")


# --------------------------------------------------------------------------- in moto


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory):
    with MotoSfn(tmp_path_factory.mktemp("sfn-triggers"), max_processes=2) as harness:
        harness.client("events").create_event_bus(Name="flowc")
        yield harness


def deploy_stack(aws: MotoSfn, path: Path) -> str:
    """The flow's CloudFormation stack, created in moto as is; returns the machine's ARN."""
    flow = compile_file(path.relative_to(ROOT)).flow
    settings = target_settings(code_dir=str(ROOT), python=sys.executable, datastore_root=DATASTORE, **CFN)
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    assert emitted.ok, emitted.diagnostics
    cfn = aws.client("cloudformation")
    stack = f"{flow.name}-{uuid.uuid4().hex[:6]}"
    cfn.create_stack(StackName=stack, TemplateBody=emitted.text, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "JobQueue", "ParameterValue": aws.job_queue}])
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    return str(described["Outputs"][0]["OutputValue"])


def finished(aws: MotoSfn, execution: str, timeout: float = 300) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution} still running"
        time.sleep(0.2)
    return dict(described)


@pytest.fixture(scope="module")
def on_event_run(aws: MotoSfn) -> dict[str, Any]:
    """OnEventFlow's stack, started by a published data_ready event (and not by another event)."""
    machine = deploy_stack(aws, ON_EVENT)
    with delivers_to_step_functions(aws) as deliveries, _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
        publish("sfn", "other_event", json.dumps({"value": 9}), settings={"aws_region": REGION})
        assert deliveries == []
        done = CliRunner().invoke(main, ["trigger", "--event", "data_ready", "--payload", '{"value": 2.5}',
                                         "--set", f"aws_region={REGION}"])
        assert done.exit_code == 0, done.output
        event_id = done.output.strip()
    (delivery,) = deliveries
    assert delivery["target"] == machine and delivery["input"][TRIGGER_KEY]["id"] == event_id
    return {"machine": machine, "event_id": event_id, **finished(aws, delivery["execution"])}


def test_a_published_event_starts_the_machine_with_the_mapped_parameters(aws: MotoSfn,
                                                                           on_event_run: dict[str, Any]) -> None:
    assert on_event_run["status"] == "SUCCEEDED", on_event_run
    run = on_event_run["name"]
    artifacts = s3_snapshot(aws, "OnEventFlow", run)
    assert artifacts["start"]["t"]["alpha"] == 2.5  # from the payload's "value"
    assert artifacts["start"]["t"]["who"] == "nobody"  # the payload has no "user": the default
    assert artifacts["start"]["t"]["event"] == ["data_ready", "event", True]
    assert artifacts["end"]["t"]["seen_in_end"] == "data_ready"  # every task reads it from run.json
    (recorded,) = s3_run_record(aws, "OnEventFlow", run)["trigger"]
    assert (recorded["name"], recorded["id"], recorded["type"]) == ("data_ready", on_event_run["event_id"], "event")


def test_the_upstream_success_starts_the_downstream_machine(aws: MotoSfn, on_event_run: dict[str, Any]) -> None:
    downstream = deploy_stack(aws, ON_FINISH)
    events = aws.client("events")

    def status_change(status: str) -> dict[str, Any]:
        """The event Step Functions sends on the default bus when an execution ends (moto sends none)."""
        detail = {"executionArn": on_event_run["executionArn"], "stateMachineArn": on_event_run["machine"],
                  "name": on_event_run["name"], "status": status, "startDate": 1, "stopDate": 2,
                  "input": "{}", "output": None}
        return {"Source": "aws.states", "DetailType": "Step Functions Execution Status Change",
                "Detail": json.dumps(detail), "Resources": [on_event_run["executionArn"]]}

    with delivers_to_step_functions(aws) as deliveries:
        events.put_events(Entries=[status_change("FAILED")])
        assert deliveries == []
        events.put_events(Entries=[status_change("SUCCEEDED")])
    (delivery,) = deliveries
    assert delivery["target"] == downstream
    described = finished(aws, delivery["execution"])
    assert described["status"] == "SUCCEEDED", described
    start = s3_snapshot(aws, "OnFinishFlow", described["name"])["start"]["t"]
    assert start["event"] == ["metaflow.OnEventFlow.end", "run"]
    assert start["upstream"] == f"OnEventFlow/{on_event_run['name']}"
    assert start["upstream_alpha"] == 2.5  # current.trigger.run reads the upstream run's artifacts


def test_moto_alone_cannot_deliver_to_step_functions(aws: MotoSfn) -> None:
    """Why tests/sched/eventbridge.py exists: without it a matching rule with a Step Functions
    target makes moto's PutEvents fail (when moto learns to deliver, this fails: drop the patch)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    deploy_stack(aws, ON_EVENT)
    events = boto3.client("events", region_name=REGION, endpoint_url=aws.endpoint,
                          config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError, match="500"):
        events.put_events(Entries=[{"Source": "flowc", "DetailType": "data_ready", "Detail": "{}",
                                    "EventBusName": "flowc"}])
