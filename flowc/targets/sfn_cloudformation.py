"""``--sfn-format cloudformation``: the state machine, its Batch job definitions and its schedule
in one template, so a flow deploys with ``aws cloudformation deploy`` and nothing else.

- One ``AWS::Batch::JobDefinition`` per distinct step configuration (image, roles, Linux
  parameters); each carries the manifest inline as ``FLOWC_MANIFEST`` (its JSON text, a line per
  array element of an ``Fn::Join`` so that a review reads it), so no task's container
  overrides ever hold it.
- The definition (``DefinitionString``: templates cannot hold JSON nulls) refers to them, and to
  the job queue, through ``DefinitionSubstitutions``.
- ``@schedule`` becomes an ``AWS::Scheduler::Schedule`` (EventBridge Scheduler), which, unlike an
  EventBridge rule, takes a timezone.
- ``@trigger`` / ``@trigger_on_finish`` become ``AWS::Events::Rule`` resources (``sfn_events``).
- The roles (state machine, job containers, scheduler) are created with least-privilege policies
  on the datastore and this machine, unless their ARN parameter is given (defaults from the
  settings); the job queue is a parameter too.
"""

from __future__ import annotations

import json
from typing import Any

from flowc.compiler import ir
from flowc.plan import FlowPlan, StepPlan
from flowc.targets import Settings, common, sfn_multinode
from flowc.targets.sfn_asl import JOB_DEFINITION_FIELDS, AslBuilder, AslOptions, S3Root, SfnSettings
from flowc.targets import sfn_events
from flowc.targets.sfn_events import camel, machine_name_of
from flowc.targets.sfn_hooks import add_exit_hooks

def _job_config(step: StepPlan, settings: Settings) -> tuple[tuple[str, Any], ...]:
    """What distinguishes one job definition from another (sorted pairs, hashable)."""
    config: dict[str, Any] = {"image": settings.image}
    if step.batch is not None:
        for name in JOB_DEFINITION_FIELDS:
            value = getattr(step.batch, name)
            if value is not None:
                config[name] = value
    return tuple(sorted(config.items()))


def _job_definition(config: dict[str, Any], manifest: str, spec_env: list[tuple[str, str]],
                    used: set[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Image": config["image"],
        "ResourceRequirements": [{"Type": "VCPU", "Value": "1"}, {"Type": "MEMORY", "Value": "4096"}],
        # One array element per line of the manifest, so the template's diff reads line by line.
        "Environment": [{"Name": "FLOWC_MANIFEST",
                         "Value": {"Fn::Join": ["", manifest.splitlines(keepends=True)]}},
                        *({"Name": k, "Value": v} for k, v in spec_env)],
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
    root = S3Root.parse(settings.datastore)
    assert root is not None
    bucket = "arn:${AWS::Partition}:s3:::" + root.bucket
    return bucket, bucket + "/" + root.prefix + "*"


def _role_or_parameter(condition: str, role: str, parameter: str) -> dict[str, Any]:
    return {"Fn::If": [condition, {"Fn::GetAtt": [role, "Arn"]}, {"Ref": parameter}]}


def _is_empty(parameter: str) -> dict[str, Any]:
    return {"Fn::Equals": [{"Ref": parameter}, ""]}


def machine_name(flow: ir.Flow, settings: Settings) -> str:
    """The state machine's (and the schedule's) name: ``project.branch.Flow`` with @project,
    with the characters Step Functions refuses made ``-``."""
    identity = common.project_identity(flow, settings)
    return machine_name_of(identity.flow_name if identity is not None else flow.name)


def template(plan: FlowPlan, settings: Settings) -> tuple[dict[str, Any], AslBuilder]:
    """The CloudFormation template (a dict in a fixed key order) and the builder that made its
    definition (the size check reads its Task states)."""
    flow = plan.flow
    resources, step_definitions, used_conditions = _job_definitions(plan, settings)
    builder = AslBuilder(plan, settings, AslOptions(manifest=None, job_definitions=step_definitions,
                                                    job_queue="${JobQueue}"))
    name = machine_name(flow, settings)
    machine_arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" + name
    roles = _roles(settings, name, machine_arn, used_conditions)
    substitutions = {"JobQueue": {"Ref": "JobQueue"}}
    substitutions.update({logical: {"Ref": logical} for logical in resources})
    resources["StateMachine"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": name,
            "StateMachineType": "STANDARD",
            "RoleArn": _role_or_parameter("CreateStateMachineRole", "StateMachineRole", "StateMachineRoleArn"),
            # A string, not a "Definition" object: CloudFormation templates cannot hold the nulls
            # of "ResultPath": null.
            "DefinitionString": json.dumps(add_exit_hooks(builder), indent=2, ensure_ascii=False),
            "DefinitionSubstitutions": substitutions,
        },
    }
    parameters, conditions = _parameters(settings, used_conditions)
    if plan.schedule is not None:
        _add_schedule(plan, settings, machine_arn, parameters, conditions, roles, resources)
    if plan.triggers:
        _add_triggers(plan, settings, machine_arn, parameters, conditions, roles, resources)
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


def _job_definitions(plan: FlowPlan, settings: Settings
                     ) -> tuple[dict[str, Any], tuple[tuple[str, str], ...], set[str]]:
    """One job definition per distinct step configuration: (resources by logical id, each step's
    ``${Substitution}``, the conditions the definitions use)."""
    manifest = common.inline_manifest(plan.flow)
    spec_env = common.spec_environment(plan, settings)
    configs: dict[tuple[tuple[str, Any], ...], str] = {}
    step_definitions: list[tuple[str, str]] = []
    resources: dict[str, Any] = {}
    used_conditions: set[str] = set()
    for step in plan.steps:
        nodes = _gang_nodes(plan, step)
        key = _job_config(step, settings) + ((("multinode", nodes),) if nodes else ())
        if key not in configs:
            logical = "JobDefinition" + camel(step.name)
            while logical in resources:
                logical += "X"
            configs[key] = logical
            resources[logical] = _job_definition(dict(key), manifest, spec_env, used_conditions)
            if nodes:
                resources[logical] = sfn_multinode.job_definition(resources[logical], nodes)
        step_definitions.append((step.name, "${%s}" % configs[key]))
    return resources, tuple(step_definitions), used_conditions


def _gang_nodes(plan: FlowPlan, step: StepPlan) -> int | None:
    """For a @parallel step: its job definition's node count (the literal num_parallel, else a
    default of 2 every submit overrides with the run-time size); None for other steps."""
    stack = step.foreach_stack
    opener = plan.flow.step(stack[-1]).transition if stack else None
    if not isinstance(opener, ir.Parallel):
        return None
    return opener.num_parallel or 2


def _roles(settings: Settings, name: str, machine_arn: str, used_conditions: set[str]) -> dict[str, Any]:
    """The state machine's role, and the job containers' when a job definition needs one."""
    bucket_arn, objects_arn = _datastore_arns(settings)
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
    return roles


def _parameters(settings: Settings, used_conditions: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stack's parameters (defaults from the settings) and the conditions on them."""
    own = settings.of(SfnSettings)
    parameters: dict[str, Any] = {
        "JobQueue": _parameter("AWS Batch job queue of the steps without @batch(queue=...)", own.job_queue),
        "StateMachineRoleArn": _parameter("Role Step Functions assumes; empty to create one (Batch "
                                          "jobs, the datastore, Map runs)", own.role_arn or ""),
    }
    conditions: dict[str, Any] = {"CreateStateMachineRole": _is_empty("StateMachineRoleArn")}
    if "CreateJobRole" in used_conditions:
        parameters["JobRoleArn"] = _parameter("Role of the job containers; empty to create one that "
                                              "reads and writes the datastore", own.batch_job_role_arn or "")
        conditions["CreateJobRole"] = _is_empty("JobRoleArn")
    if "HasExecutionRole" in used_conditions:
        parameters["ExecutionRoleArn"] = _parameter("Batch execution role (pulls the image, writes "
                                                    "logs); empty for none", own.execution_role_arn or "")
        conditions["HasExecutionRole"] = {"Fn::Not": [_is_empty("ExecutionRoleArn")]}
    return parameters, conditions


def _add_schedule(plan: FlowPlan, settings: Settings, machine_arn: str, parameters: dict[str, Any],
                  conditions: dict[str, Any], roles: dict[str, Any], resources: dict[str, Any]) -> None:
    """@schedule: an EventBridge Scheduler schedule starting the machine, and its role."""
    schedule = plan.schedule
    assert schedule is not None and schedule.aws is not None, "checked by sfn.check()"
    parameters["SchedulerRoleArn"] = _parameter("Role EventBridge Scheduler assumes; empty to "
                                                "create one that starts this state machine",
                                                settings.of(SfnSettings).scheduler_role_arn or "")
    conditions["CreateSchedulerRole"] = _is_empty("SchedulerRoleArn")
    roles["SchedulerRole"] = _role("CreateSchedulerRole", "scheduler.amazonaws.com", "flowc-schedule", [
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": _arn(machine_arn)},
    ])
    properties: dict[str, Any] = {
        "Description": f"{plan.flow.name} on @schedule, compiled by flowc",
        "ScheduleExpression": schedule.aws,
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


def _add_triggers(plan: FlowPlan, settings: Settings, machine_arn: str, parameters: dict[str, Any],
                  conditions: dict[str, Any], roles: dict[str, Any], resources: dict[str, Any]) -> None:
    """@trigger / @trigger_on_finish: the EventBridge rules (``sfn_events``), the role they
    start the machine with and the bus the events arrive on."""
    own = settings.of(SfnSettings)
    parameters["EventsRoleArn"] = _parameter("Role EventBridge assumes to start this state machine; "
                                             "empty to create one", own.events_role_arn or "")
    conditions["CreateEventsRole"] = _is_empty("EventsRoleArn")
    roles["EventsRole"] = _role("CreateEventsRole", "events.amazonaws.com", "flowc-events", [
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": _arn(machine_arn)},
    ])
    if any(t.kind == "event" for t in plan.triggers):
        parameters["EventBusName"] = _parameter("EventBridge bus the @trigger events arrive on", own.event_bus)
    role = _role_or_parameter("CreateEventsRole", "EventsRole", "EventsRoleArn")
    resources.update(sfn_events.rules(plan, settings, role))  # TriggerOn...: no other resource's prefix
