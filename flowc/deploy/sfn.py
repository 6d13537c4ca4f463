"""Deploy to AWS Step Functions with boto3: the manifest, the state machine, its schedule.

``deploy`` is idempotent: the state machine is found by name and updated in place (left alone when
its definition and role are already the ones compiled); ``@schedule`` becomes an EventBridge
Scheduler schedule created or updated under the same name, and deleted again when the flow no
longer has one. A run is an execution named by its run id (the shim reads it from
``$$.Execution.Name``) whose input is the parameters as a JSON object.

Credentials and region come from boto3's usual chain (environment, ``AWS_PROFILE``, instance
role); ``aws_region`` in ``[tool.flowc]`` picks the region; ``AWS_ENDPOINT_URL`` points at a
test endpoint. The spec is always compiled in the ASL format here (the state machine definition).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from flowc.compiler import cron, ir
from flowc.deploy.base import (Action, DeployError, Deployment, Prepared, RunInfo, aws_errors, iso,
                               put_s3)
from flowc.runtime_shim.ids import new_run_id
from flowc.targets.sfn import manifest_location, manifest_text
from flowc.targets.sfn_asl import SfnSettings
# The state machine's (and the schedule's) name: the one the CloudFormation format uses.
from flowc.targets.sfn_cloudformation import machine_name

FORCED_SETTINGS = {"sfn_format": "asl"}

_STATUS = {"RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed",
           "TIMED_OUT": "timed_out", "ABORTED": "stopped", "PENDING_REDRIVE": "failed"}


def _client(prepared: Prepared, service: str) -> Any:
    import boto3

    with aws_errors(f"{service} client"):
        return boto3.client(service, region_name=prepared.option("aws_region"))


def _find_machine(sfn: Any, name: str) -> str | None:
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def _machine_arn(prepared: Prepared, sfn: Any) -> str:
    name = machine_name(prepared.flow, prepared.settings)
    with aws_errors(f"find state machine {name}"):
        arn = _find_machine(sfn, name)
    if arn is None:
        raise DeployError(f"state machine {name} not found: deploy it first with "
                          f"flowc deploy {prepared.flow_file} --target sfn")
    return arn


class SfnEngine:
    name = "sfn"
    forced_settings = FORCED_SETTINGS
    # FLOW237 warns that an ASL definition carries no schedule: deploy creates it (_schedule).
    handled_diagnostics = ("FLOW237",)

    def deployment_name(self, prepared: Prepared) -> str:
        return machine_name(prepared.flow, prepared.settings)

    def deploy(self, prepared: Prepared) -> Deployment:
        role = prepared.settings.of(SfnSettings).role_arn
        if not role:
            raise DeployError("Step Functions needs an IAM role for the state machine: set "
                              "sfn_role_arn in [tool.flowc] (or --set sfn_role_arn=arn:aws:iam::...)")
        actions = [self._upload_manifest(prepared)]
        sfn = _client(prepared, "stepfunctions")
        name = machine_name(prepared.flow, prepared.settings)
        definition = prepared.spec
        with aws_errors(f"deploy state machine {name}"):
            arn = _find_machine(sfn, name)
            if arn is None:
                arn = sfn.create_state_machine(name=name, definition=definition, roleArn=role,
                                               type="STANDARD")["stateMachineArn"]
                actions.append(Action("created", "state machine", name, arn))
            else:
                current = sfn.describe_state_machine(stateMachineArn=arn)
                if current["definition"] == definition and current["roleArn"] == role:
                    actions.append(Action("unchanged", "state machine", name, arn))
                else:
                    sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
                    actions.append(Action("updated", "state machine", name, arn))
        schedule = self._schedule(prepared, name, arn)
        if schedule is not None:
            actions.append(schedule)
        return Deployment(self.name, name, tuple(actions), prepared.code_package)

    def _upload_manifest(self, prepared: Prepared) -> Action:
        """The ASL format's jobs read the manifest from S3 (one object per manifest version)."""
        url = manifest_location(prepared.flow, prepared.settings)
        written = put_s3(url, manifest_text(prepared.flow).encode("utf-8"), keep="existing",
                         region=prepared.option("aws_region"), action=f"upload manifest to {url}")
        return Action("created" if written else "unchanged", "manifest", url)

    def _schedule(self, prepared: Prepared, name: str, machine_arn: str) -> Action | None:
        """Create, update or delete the EventBridge Scheduler schedule that mirrors ``@schedule``."""
        scheduler = _client(prepared, "scheduler")
        deco = prepared.flow.decorator(ir.Schedule)
        with aws_errors(f"schedule {name}"):
            try:
                scheduler.get_schedule(Name=name)
                exists = True
            except scheduler.exceptions.ResourceNotFoundException:
                exists = False
            if deco is None:
                if exists:
                    scheduler.delete_schedule(Name=name)
                    return Action("deleted", "schedule", name, "the flow has no @schedule")
                return None
            expression = cron.to_aws(deco.cron_expression)
            if expression is None:
                raise DeployError(f"@schedule cron {deco.cron_expression!r} restricts both "
                                  "day-of-month and day-of-week; EventBridge cannot express it")
            role = prepared.option("sfn_scheduler_role_arn")
            if not role:
                raise DeployError("@schedule needs a role EventBridge Scheduler assumes to start "
                                  "executions: set sfn_scheduler_role_arn in [tool.flowc]")
            request: dict[str, Any] = {
                "Name": name,
                "ScheduleExpression": expression,
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": "ENABLED",
                "Description": f"{prepared.flow.name} on @schedule, deployed by flowc",
                "Target": {"Arn": machine_arn, "RoleArn": role, "Input": "{}"},
            }
            if deco.timezone:
                request["ScheduleExpressionTimezone"] = deco.timezone
            if exists:
                scheduler.update_schedule(**request)
                return Action("updated", "schedule", name, expression)
            scheduler.create_schedule(**request)
            return Action("created", "schedule", name, expression)

    def trigger(self, prepared: Prepared, params: Mapping[str, str],
                run_id: str | None = None) -> RunInfo:
        sfn = _client(prepared, "stepfunctions")
        arn = _machine_arn(prepared, sfn)
        run_id = run_id or new_run_id("sfn")
        with aws_errors(f"start execution of {machine_name(prepared.flow, prepared.settings)}"):
            started = sfn.start_execution(stateMachineArn=arn, name=run_id,
                                          input=json.dumps(dict(params), sort_keys=True))
        return RunInfo(run_id, "running", "RUNNING", iso(started.get("startDate")))

    def get_run(self, prepared: Prepared, run_id: str) -> RunInfo:
        sfn = _client(prepared, "stepfunctions")
        arn = _machine_arn(prepared, sfn)
        execution_arn = arn.replace(":stateMachine:", ":execution:", 1) + ":" + run_id
        with aws_errors(f"describe execution {run_id}"):
            return _run_info(sfn.describe_execution(executionArn=execution_arn))

    def status(self, prepared: Prepared, limit: int) -> list[RunInfo]:
        sfn = _client(prepared, "stepfunctions")
        arn = _machine_arn(prepared, sfn)
        with aws_errors(f"list executions of {machine_name(prepared.flow, prepared.settings)}"):
            executions = sfn.list_executions(stateMachineArn=arn, maxResults=limit)["executions"]
        runs = [_run_info(e) for e in executions]
        return sorted(runs, key=lambda r: (r.started or "", r.run_id), reverse=True)[:limit]


def _run_info(execution: Mapping[str, Any]) -> RunInfo:
    status = execution["status"]
    return RunInfo(execution["name"], _STATUS.get(status, status.lower()), status,
                   iso(execution.get("startDate")), iso(execution.get("stopDate")))


ENGINE = SfnEngine()
