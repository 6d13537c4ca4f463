"""``--sfn-format cloudformation``: the state machine, its Batch job definitions and its schedule
in one template, so a flow deploys with ``aws cloudformation deploy`` and nothing else.

- One ``AWS::Batch::JobDefinition`` per distinct step configuration (image, roles, Linux
  parameters); each carries the manifest inline as ``FLOWC_MANIFEST``, so no task's container
  overrides ever hold it.
- The definition (``DefinitionString``: templates cannot hold JSON nulls) refers to them, and to
  the job queue, through ``DefinitionSubstitutions``.
- ``@schedule`` becomes an ``AWS::Scheduler::Schedule`` (EventBridge Scheduler), which, unlike an
  EventBridge rule, takes a timezone.
- The roles (state machine, job containers, scheduler) are created with least-privilege policies
  on the datastore and this machine, unless their ARN parameter is given (defaults from the
  settings); the job queue is a parameter too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flowc.compiler import ir
from flowc.targets import Settings, common
from flowc.targets.sfn_asl import AslBuilder, AslOptions, S3Root

_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


def _aws_day_of_week(field: str) -> str:
    """Unix day-of-week numbers (0-7, Sunday 0 or 7) to AWS's (1-7, Sunday 1); names unchanged."""
    def shift(match: re.Match[str]) -> str:
        return str(int(match.group(0)) % 7 + 1)

    if field.startswith("*/"):
        return "1/" + field[2:]
    parts = []
    for item in field.split(","):
        body, _, step = item.partition("/")
        body = re.sub(r"\d+", shift, body)
        parts.append(body + ("/" + step if step else ""))
    return ",".join(parts)


def aws_cron(expression: str) -> str | None:
    """``cron(...)`` for EventBridge from a 5-field cron, a macro or an AWS 6-field cron; ``None``
    when the expression restricts both day-of-month and day-of-week (AWS cannot say "either")."""
    text = _MACROS.get(expression.strip(), expression.strip())
    fields = text.split()
    if len(fields) == 6:
        return f"cron({text})"
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dom_aws, dow_aws = dom, "?"
    elif dom == "*":
        dom_aws, dow_aws = "?", _aws_day_of_week(dow)
    else:
        return None
    return f"cron({minute} {hour} {dom_aws} {month} {dow_aws} *)"


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _job_config(step: ir.Step, settings: Settings) -> tuple[tuple[str, Any], ...]:
    """What distinguishes one job definition from another (sorted pairs, hashable)."""
    batch = step.decorator(ir.Batch)
    config: dict[str, Any] = {"image": settings.image}
    if batch is not None:
        for name in ("image", "iam_role", "execution_role", "shared_memory", "max_swap", "swappiness"):
            value = getattr(batch, name)
            if value is not None:
                config[name] = value
    return tuple(sorted(config.items()))


def _job_definition(config: dict[str, Any], manifest: str, used: set[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Image": config["image"],
        "ResourceRequirements": [{"Type": "VCPU", "Value": "1"}, {"Type": "MEMORY", "Value": "4096"}],
        "Environment": [{"Name": "FLOWC_MANIFEST", "Value": manifest}],
    }
    if not config.get("iam_role"):
        used.add("CreateJobRole")
    properties["JobRoleArn"] = config.get("iam_role") or _role_or_parameter("CreateJobRole", "JobRole",
                                                                            "JobRoleArn")
    if not config.get("execution_role"):
        used.add("HasExecutionRole")
    properties["ExecutionRoleArn"] = config.get("execution_role") or {
        "Fn::If": ["HasExecutionRole", {"Ref": "ExecutionRoleArn"}, {"Ref": "AWS::NoValue"}]}
    linux = {key: config[name] for name, key in (("shared_memory", "SharedMemorySize"),
                                                  ("max_swap", "MaxSwap"), ("swappiness", "Swappiness"))
             if name in config}
    if linux:
        properties["LinuxParameters"] = linux
    return {
        "Type": "AWS::Batch::JobDefinition",
        "Properties": {"Type": "container", "PlatformCapabilities": ["EC2"],
                       "ContainerProperties": properties,
                       # Step Functions' Retry owns retries (and the shim's attempt numbers).
                       "RetryStrategy": {"Attempts": 1}},
    }


def _parameter(description: str, default: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": "String", "Description": description}
    if default is not None:
        out["Default"] = default
    return out


def _trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def _arn(template_text: str) -> dict[str, Any]:
    """An ARN built with ``Fn::Sub`` (partition, region and account of the stack)."""
    return {"Fn::Sub": template_text}


def _role(condition: str, service: str, policy: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Condition": condition,
        "Properties": {
            "AssumeRolePolicyDocument": _trust(service),
            "Policies": [{"PolicyName": policy,
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }


def _datastore_arns(settings: Settings) -> tuple[str, str]:
    """The datastore bucket's ARN and the ARN pattern of its objects under the prefix."""
    root = S3Root.parse(settings.datastore_root)
    assert root is not None
    bucket = "arn:${AWS::Partition}:s3:::" + root.bucket
    return bucket, bucket + "/" + root.prefix + "*"


def _role_or_parameter(condition: str, role: str, parameter: str) -> dict[str, Any]:
    return {"Fn::If": [condition, {"Fn::GetAtt": [role, "Arn"]}, {"Ref": parameter}]}


def _is_empty(parameter: str) -> dict[str, Any]:
    return {"Fn::Equals": [{"Ref": parameter}, ""]}


def machine_name(flow: ir.Flow) -> str:
    project = flow.decorator(ir.Project)
    name = f"{project.name}-{flow.name}" if project is not None and project.name else flow.name
    return common.short_name(re.sub(r"[^A-Za-z0-9_-]", "-", name), 80)


def template(flow: ir.Flow, settings: Settings) -> tuple[dict[str, Any], AslBuilder]:
    """The CloudFormation template (a dict in a fixed key order) and the builder that made its
    definition (the size check reads its Task states)."""
    manifest = common.inline_manifest(flow)
    configs: dict[tuple[tuple[str, Any], ...], str] = {}
    step_definitions: list[tuple[str, str]] = []
    resources: dict[str, Any] = {}
    used_conditions: set[str] = set()
    for step in flow.steps:
        key = _job_config(step, settings)
        if key not in configs:
            logical = "JobDefinition" + _camel(step.name)
            while logical in resources:
                logical += "X"
            configs[key] = logical
            resources[logical] = _job_definition(dict(key), manifest, used_conditions)
        step_definitions.append((step.name, "${%s}" % configs[key]))

    builder = AslBuilder(flow, settings, AslOptions(manifest=None, job_definitions=tuple(step_definitions),
                                                    job_queue="${JobQueue}"))
    name = machine_name(flow)
    bucket_arn, objects_arn = _datastore_arns(settings)
    machine_arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" + name
    executions_arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:" + name + ":*"
    roles: dict[str, Any] = {
        "StateMachineRole": _role("CreateStateMachineRole", "states.amazonaws.com", "flowc-state-machine", [
            {"Effect": "Allow", "Action": ["batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"],
             "Resource": "*"},
            {"Effect": "Allow", "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
             "Resource": _arn("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
                              "StepFunctionsGetEventsForBatchJobsRule")},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": _arn(objects_arn)},
            {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": _arn(machine_arn)},
            {"Effect": "Allow", "Action": ["states:DescribeExecution", "states:StopExecution"],
             "Resource": _arn(executions_arn)},
        ]),
    }
    if "CreateJobRole" in used_conditions:
        roles["JobRole"] = _role("CreateJobRole", "ecs-tasks.amazonaws.com", "flowc-datastore", [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": _arn(bucket_arn)},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": _arn(objects_arn)},
        ])
    substitutions = {"JobQueue": {"Ref": "JobQueue"}}
    substitutions.update({logical: {"Ref": logical} for logical in configs.values()})
    resources["StateMachine"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": name,
            "StateMachineType": "STANDARD",
            "RoleArn": _role_or_parameter("CreateStateMachineRole", "StateMachineRole", "StateMachineRoleArn"),
            # A string, not a "Definition" object: CloudFormation templates cannot hold the nulls
            # of "ResultPath": null.
            "DefinitionString": json.dumps(builder.definition(), indent=2, ensure_ascii=False),
            "DefinitionSubstitutions": substitutions,
        },
    }
    parameters: dict[str, Any] = {
        "JobQueue": _parameter("AWS Batch job queue of the steps without @batch(queue=...)",
                               settings.sfn_job_queue),
        "StateMachineRoleArn": _parameter("Role Step Functions assumes; empty to create one (Batch "
                                          "jobs, the datastore, Map runs)", settings.sfn_role_arn or ""),
    }
    conditions: dict[str, Any] = {"CreateStateMachineRole": _is_empty("StateMachineRoleArn")}
    if "CreateJobRole" in used_conditions:
        parameters["JobRoleArn"] = _parameter("Role of the job containers; empty to create one that "
                                              "reads and writes the datastore",
                                              settings.sfn_batch_job_role_arn or "")
        conditions["CreateJobRole"] = _is_empty("JobRoleArn")
    if "HasExecutionRole" in used_conditions:
        parameters["ExecutionRoleArn"] = _parameter("Batch execution role (pulls the image, writes "
                                                    "logs); empty for none",
                                                    settings.sfn_execution_role_arn or "")
        conditions["HasExecutionRole"] = {"Fn::Not": [_is_empty("ExecutionRoleArn")]}
    schedule = flow.decorator(ir.Schedule)
    if schedule is not None:
        scheduler_role = dict(settings.extra).get("sfn_scheduler_role_arn")
        parameters["SchedulerRoleArn"] = _parameter("Role EventBridge Scheduler assumes; empty to "
                                                    "create one that starts this state machine",
                                                    scheduler_role or "")
        conditions["CreateSchedulerRole"] = _is_empty("SchedulerRoleArn")
        roles["SchedulerRole"] = _role("CreateSchedulerRole", "scheduler.amazonaws.com", "flowc-schedule", [
            {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": _arn(machine_arn)},
        ])
        properties: dict[str, Any] = {
            "Description": f"{flow.name} on @schedule, compiled by flowc",
            "ScheduleExpression": aws_cron(schedule.cron_expression),
        }
        if schedule.timezone:
            properties["ScheduleExpressionTimezone"] = schedule.timezone
        properties.update({
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {"Arn": {"Ref": "StateMachine"},
                       "RoleArn": _role_or_parameter("CreateSchedulerRole", "SchedulerRole", "SchedulerRoleArn"),
                       "Input": "{}"},
        })
        resources["Schedule"] = {"Type": "AWS::Scheduler::Schedule", "Properties": properties}
    resources.update(roles)
    document: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"flowc: {flow.name} ({flow.path}) on AWS Step Functions and AWS Batch",
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": {"StateMachineArn": {"Value": {"Ref": "StateMachine"}}},
    }
    return document, builder
