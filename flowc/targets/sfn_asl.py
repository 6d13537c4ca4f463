"""The Amazon States Language definition of a flow: one Task per step on AWS Batch.

How the machine is shaped (docs/targets/sfn.md has the long form):

- The machine's data is a small *task context*, ``{"run", "tid"}`` at top level, plus ``"path"``
  inside foreach bodies and ``"iter"``/``"rtid"`` when the flow has a recursive step. It is set by
  ``flowc-init`` from ``$$.Execution.Name`` and by each Map's ``ItemSelector``; every Task keeps it
  (``ResultPath: null``), so no step output ever reaches the 256 KiB payload limit.
- Each step is a ``batch:submitJob.sync`` Task whose command runs the shim with the run id, step,
  index path, attempt (``$$.State.RetryCount``) and, for a recursive step, the iteration. The
  manifest is never in the overrides: it is an ``s3://`` object (ASL format) or the job
  definition's ``FLOWC_MANIFEST`` (CloudFormation format), so overrides stay far below 8,192
  characters whatever the flow's size.
- Static branches are a Parallel; foreach is a Distributed Map whose ``ItemReader`` reads the
  ``foreach_indices.json`` array the split task wrote; a switch reads the ``switch_case.json`` its
  task wrote with the ``aws-sdk:s3:getObject`` integration and a Choice branches on
  ``next_step``; a recursive step's Choice loops back through a Pass that counts the iteration
  with ``States.MathAdd``.

Every ASL string (paths, intrinsic calls, state names) comes from one helper below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flowc.compiler import ir
from flowc.plan import FlowPlan, StepPlan
from flowc.targets import Settings, TargetSettings, common, setting, sfn_multinode

BATCH_SUBMIT_SYNC = "arn:aws:states:::batch:submitJob.sync"
S3_GET_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:getObject"
S3_GET_OBJECT_READER = "arn:aws:states:::s3:getObject"
STATE_NAME_LIMIT = 80
INIT_STATE = "flowc-init"
GANG_FIELD = "gang"  # the context field holding a run-time gang size

# --------------------------------------------------------------------------- ASL syntax helpers


class Expr(str):
    """A JSONPath or intrinsic expression (rendered bare inside an intrinsic call, and bound with
    a ``.$`` key), as opposed to a literal string."""


def path(*fields: str) -> Expr:
    """A plain reference path ``$.a.b`` (no Jayway forms: statelint and asl-validator reject them)."""
    for name in fields:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"not a plain JSONPath field: {name!r}")
    return Expr("$." + ".".join(fields))


def context(*fields: str) -> Expr:
    """A context-object path: ``$$.Execution.Name``, ``$$.State.RetryCount``, ``$$.Map.Item.Value``."""
    return Expr("$$." + ".".join(fields))


def literal(text: str) -> str:
    """``text`` as an intrinsic-function string literal: quoted, with ``' { } \\`` escaped."""
    return "'" + re.sub(r"([\\'{}])", r"\\\1", text) + "'"


def _argument(value: str | int) -> str:
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return literal(value)


def call(function: str, *args: str | int) -> Expr:
    """``States.<function>(arg, ...)`` with literals quoted and expressions left bare."""
    return Expr(f"States.{function}(" + ", ".join(_argument(a) for a in args) + ")")


def fmt(template: str, *args: Expr) -> Expr:
    """``States.Format``: ``template`` is literal text where each ``{}`` takes one argument."""
    pieces = template.split("{}")
    if len(pieces) != len(args) + 1:
        raise ValueError(f"template {template!r} does not take {len(args)} arguments")
    escaped = "{}".join(re.sub(r"([\\'{}])", r"\\\1", p) for p in pieces)
    return Expr(f"States.Format('{escaped}', " + ", ".join(args) + ")")


def bind(key: str, value: Any) -> tuple[str, Any]:
    """A payload-template field: ``key.$`` for an expression, ``key`` for a literal."""
    return (f"{key}.$", str(value)) if isinstance(value, Expr) else (key, value)


def template(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return dict(bind(k, v) for k, v in pairs)


def state_name(*parts: str) -> str:
    """A readable, stable state name under ASL's 80 characters. Steps are Python identifiers, so
    the ``-`` that joins a step to its role (``start-foreach``) never collides with a step."""
    return common.short_name("-".join(parts), STATE_NAME_LIMIT)


def job_name(flow: ir.Flow, step: str) -> str:
    """Batch job names: up to 128 letters, digits, hyphens and underscores."""
    raw = re.sub(r"[^A-Za-z0-9_-]", "-", f"{flow.name}-{step}")
    return common.short_name(raw, 128)


# --------------------------------------------------------------------------- the datastore on S3


@dataclass(frozen=True, slots=True)
class S3Root:
    bucket: str
    prefix: str  # "" or "a/b/" (with the trailing slash)

    @staticmethod
    def parse(url: str) -> "S3Root | None":
        match = re.fullmatch(r"s3://([^/]+)/?(.*)", url)
        if match is None:
            return None
        prefix = match.group(2).strip("/")
        return S3Root(match.group(1), prefix + "/" if prefix else "")

    def task_file(self, flow: ir.Flow, step: str, name: str) -> Expr:
        """The key of a task's side file (docs/contracts.md section 5), from the task context."""
        tid = "rtid" if flow.step(step).is_recursive else "tid"
        return fmt(f"{self.prefix}{flow.name}/runs/{{}}/{step}/{{}}/{name}", path("run"), path(tid))


# --------------------------------------------------------------------------- settings

FORMATS = ("asl", "cloudformation")
# @batch arguments that live in the job definition, not in the submit's overrides.
JOB_DEFINITION_FIELDS = ("image", "iam_role", "execution_role", "shared_memory", "max_swap", "swappiness")


@dataclass(frozen=True, slots=True)
class SfnSettings(TargetSettings):
    format: str = setting("asl", "Step Functions output: the ASL definition or a CloudFormation template",
                          FORMATS)
    job_queue: str = setting("flowc-job-queue", "AWS Batch job queue of the steps")
    job_definition: str | None = setting(None, "AWS Batch job definition of every step (asl format)")
    multinode_job_definition: str | None = setting(None, "AWS Batch multi-node job definition of @parallel "
                                                   "steps (asl format; default: the job definition's name "
                                                   "+ '-multinode')")
    role_arn: str | None = setting(None, "role the state machine assumes (cloudformation creates one if unset)")
    batch_job_role_arn: str | None = setting(None, "role of the Batch job containers")
    execution_role_arn: str | None = setting(None, "Batch execution role (pulls the image, writes logs)")
    scheduler_role_arn: str | None = setting(None, "role EventBridge Scheduler assumes for @schedule")
    event_bus: str = setting("flowc", "EventBridge bus of @trigger events (cloudformation; `flowc trigger` "
                             "publishes to it)")
    events_role_arn: str | None = setting(None, "role EventBridge assumes to start the machine for "
                                          "@trigger / @trigger_on_finish (cloudformation creates one if unset)")
    manifest: str | None = setting(None, "where the asl format's tasks read the manifest (default: "
                                   "under the datastore root, by content hash)")


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------- the builder


@dataclass(frozen=True, slots=True)
class AslOptions:
    """Choices the two output formats make differently."""

    manifest: str | None  # --manifest for the shim; None when the job definition carries it
    job_definitions: tuple[tuple[str, str], ...]  # step -> job definition name or ${Substitution}
    job_queue: str | None = None  # overrides the job_queue setting (e.g. "${JobQueue}")
    environment: tuple[tuple[str, str], ...] = ()  # for every task (unless a job definition has it)


class AslBuilder:
    """Builds the definition scope by scope: the top level, each Parallel branch, each Map body."""

    def __init__(self, plan: FlowPlan, settings: Settings, options: AslOptions):
        flow = plan.flow
        self.plan = plan
        self.flow = flow
        self.settings = settings
        self.own = settings.of(SfnSettings)
        self.options = options
        root = S3Root.parse(settings.datastore)
        assert root is not None, "checked by sfn.check() before building"
        self.root: S3Root = root
        self.recursive = any(s.is_recursive for s in flow.steps)
        self.definitions = dict(options.job_definitions)
        self._definition: dict[str, Any] | None = None

    # -- the whole machine

    def definition(self) -> dict[str, Any]:
        """The whole machine (built once; the size checks read it again)."""
        if self._definition is None:
            self._definition = self._build()
        return self._definition

    def _build(self) -> dict[str, Any]:
        start = self.flow.step("start")
        states: dict[str, Any] = {
            INIT_STATE: {
                "Type": "Pass",
                "Comment": "The task context every state passes on: the run id, the task id.",
                "Parameters": template(*self._context_fields(depth=0)),
                "Next": self._entry(start.name),
            }
        }
        self._scope(start.name, stop=None, depth=0, states=states)
        doc = self.flow.docstring.strip().splitlines()[0] if self.flow.docstring else ""
        comment = f"{self.flow.name} ({self.flow.path}), compiled by flowc"
        return {"Comment": comment + (f": {doc}" if doc else ""), "StartAt": INIT_STATE,
                "States": states}

    def _context_fields(self, depth: int) -> list[tuple[str, Any]]:
        fields: list[tuple[str, Any]] = [("run", context("Execution", "Name")), ("tid", "t")]
        if self.recursive:
            fields += [("iter", 0), ("rtid", "t")]
        return fields

    # -- scopes

    def _entry(self, step: str) -> str:
        """The first state of a step: its Task, or the Pass that resets a recursive step's count."""
        if self.flow.step(step).is_recursive:
            return state_name(step, "enter")
        return state_name(step)

    def _scope(self, entry: str, stop: str | None, depth: int,
               states: dict[str, Any] | None = None) -> dict[str, Any]:
        """The states of ``entry`` and everything after it up to (excluding) ``stop``."""
        states = {} if states is None else states
        pending = [entry]
        seen: set[str] = set()
        while pending:
            name = pending.pop(0)
            if name in seen or name == stop:
                continue
            seen.add(name)
            pending.extend(self._step_states(self.flow.step(name), stop, depth, states))
        return {"StartAt": self._entry(entry), "States": states}

    def _goto(self, state: dict[str, Any], target: str, stop: str | None) -> None:
        if target == stop:
            state["End"] = True
            state["OutputPath"] = None  # a branch's or iteration's output is never used
        else:
            state["Next"] = self._entry(target)

    def _step_states(self, step: ir.Step, stop: str | None, depth: int,
                     states: dict[str, Any]) -> list[str]:
        """Add ``step``'s states; return the steps to visit next."""
        transition = step.transition
        if step.is_recursive:
            states[state_name(step.name, "enter")] = self._count_pass(depth, reset=True, step=step.name)
        task = self._task(step, depth)
        states[state_name(step.name)] = task
        if isinstance(transition, ir.Linear):
            self._goto(task, transition.target, stop)
            return [transition.target]
        if isinstance(transition, ir.End):
            task["End"] = True
            return []
        if isinstance(transition, ir.Split):
            join = step.matching_join
            assert join is not None
            task["Next"] = state_name(step.name, "branches")
            parallel: dict[str, Any] = {
                "Type": "Parallel",
                "Branches": [self._scope(b, stop=join, depth=depth) for b in transition.branches],
                "ResultPath": None,
            }
            self._goto(parallel, join, stop)
            states[state_name(step.name, "branches")] = parallel
            return [join]
        if isinstance(transition, ir.Foreach):
            join = step.matching_join
            assert join is not None
            task["Next"] = state_name(step.name, "foreach")
            states[state_name(step.name, "foreach")] = self._map(step, join, stop, depth)
            return [join]
        if isinstance(transition, ir.Switch):
            return self._switch(step, task, stop, depth, states)
        if isinstance(transition, ir.Parallel):
            return self._gang(step, task, stop, depth, states)
        raise AssertionError(f"{type(transition).__name__} is refused by sfn.check()")

    # -- states

    def task_state(self, step: ir.Step) -> dict[str, Any]:
        """The Task state of ``step`` alone (the size check reads its overrides)."""
        return self._task(step, len(self.plan.step(step.name).foreach_stack))

    def _task(self, step: ir.Step, depth: int) -> dict[str, Any]:
        planned = self.plan.step(step.name)
        argv = common.task_argv(
            self.flow,
            self.settings,
            step=step.name,
            run_id=path("run"),
            index_path=path("path") if depth else None,
            attempt=fmt("{}", context("State", "RetryCount")),
            iteration=fmt("{}", path("iter")) if step.is_recursive else None,
            datastore=self.settings.datastore,
            manifest=self.options.manifest,
        )
        overrides: dict[str, Any] = {"Command.$": call("Array", *argv)}
        environment = [{"Name": k, "Value": v} for k, v in (*self.options.environment, *planned.environment)]
        if step.name == "start" and (self.flow.parameters or self.plan.triggers):  # an event rides in the input
            environment.append(template(("Name", "FLOWC_PARAMS"),
                                        ("Value", call("JsonToString", context("Execution", "Input")))))
        if environment:
            overrides["Environment"] = environment
        res = planned.resources
        requirements = [{"Type": "VCPU", "Value": _number_text(res.cpu)},
                        {"Type": "MEMORY", "Value": str(res.memory_mib)}]
        if res.gpu:
            requirements.append({"Type": "GPU", "Value": str(res.gpu)})
        overrides["ResourceRequirements"] = requirements
        task: dict[str, Any] = {
            "Type": "Task",
            "Resource": BATCH_SUBMIT_SYNC,
            "Parameters": {
                "JobName": job_name(self.flow, step.name),
                "JobQueue": self._queue(planned),
                "JobDefinition": self.definitions[step.name],
                "ContainerOverrides": overrides,
            },
            "ResultPath": None,
        }
        if planned.timeout_seconds:
            task["TimeoutSeconds"] = planned.timeout_seconds + common.DEADLINE_GRACE_SECONDS
        if planned.retry is not None:
            task["Retry"] = [{
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": max(1, planned.retry.delay_seconds),  # ASL's minimum
                "MaxAttempts": planned.retry.times,
                "BackoffRate": 1.0,
            }]
        return task

    def _queue(self, step: StepPlan) -> str:
        """A step's own @batch queue, else the flow's (a ${JobQueue} substitution in CloudFormation)."""
        own_queue = step.batch.queue if step.batch is not None else None
        if own_queue and own_queue != self.own.job_queue:
            return own_queue
        return self.options.job_queue or self.own.job_queue

    def _map(self, step: ir.Step, join: str, stop: str | None, depth: int) -> dict[str, Any]:
        """A Distributed Map over the indices the foreach task wrote: any width, one definition."""
        assert isinstance(step.transition, ir.Foreach)
        item = context("Map", "Item", "Value")
        fields: list[tuple[str, Any]] = [("run", path("run"))]
        fields.append(("path", fmt("{}.{}", path("path"), item) if depth else fmt("{}", item)))
        tid = fmt("{}_{}", path("tid"), item)
        fields.append(("tid", tid))
        if self.recursive:
            fields += [("iter", 0), ("rtid", tid)]
        body = self._scope(step.transition.target, stop=join, depth=depth + 1)
        processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **body}
        state: dict[str, Any] = {
            "Type": "Map",
            "ItemReader": {
                "Resource": S3_GET_OBJECT_READER,
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": template(
                    ("Bucket", self.root.bucket),
                    ("Key", self.root.task_file(self.flow, step.name, "foreach_indices.json")),
                ),
            },
            "ItemSelector": template(*fields),
            "ItemProcessor": processor,
            "MaxConcurrency": self.settings.max_workers,
            "ResultPath": None,
        }
        self._goto(state, join, stop)
        return state

    def _switch(self, step: ir.Step, task: dict[str, Any], stop: str | None, depth: int,
                states: dict[str, Any]) -> list[str]:
        assert isinstance(step.transition, ir.Switch)
        read, choose = state_name(step.name, "case"), state_name(step.name, "switch")
        task["Next"] = read
        states[read] = {
            "Type": "Task",
            "Comment": "Read the case the switch task chose (switch_case.json in the datastore).",
            "Resource": S3_GET_OBJECT_SDK,
            "Parameters": template(
                ("Bucket", self.root.bucket),
                ("Key", self.root.task_file(self.flow, step.name, "switch_case.json")),
            ),
            "ResultSelector": template(("value", call("StringToJson", path("Body")))),
            "ResultPath": path("case"),
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3,
                       "BackoffRate": 2.0}],
            "Next": choose,
        }
        choices = []
        follow: list[str] = []
        for target in step.transition.targets:
            if target == step.name:
                again = state_name(step.name, "again")
                states[again] = self._count_pass(depth, reset=False, step=step.name)
                next_state = again
            elif target == stop:
                next_state = state_name(step.name, "to", target)
                states[next_state] = {"Type": "Succeed", "OutputPath": None}
            else:
                next_state = self._entry(target)
                follow.append(target)
            choices.append({"Variable": path("case", "value", "next_step"), "StringEquals": target,
                            "Next": next_state})
        states[choose] = {"Type": "Choice", "Choices": choices}
        return follow

    def _gang(self, step: ir.Step, task: dict[str, Any], stop: str | None, depth: int,
              states: dict[str, Any]) -> list[str]:
        """``step``'s gang as one multi-node Batch job (``sfn_multinode``) submitted with the
        parent's index path; a size known only at run time is read back from the datastore."""
        assert isinstance(step.transition, ir.Parallel)
        gang, join = step.transition.target, step.matching_join
        assert join is not None
        size: int | str
        if step.transition.num_parallel is not None:
            size = step.transition.num_parallel
            task["Next"] = state_name(gang)
        else:
            task["Next"] = read = state_name(step.name, "gang-size")
            states[read] = self._gang_size(step.name, next_state=state_name(gang))
            size = str(path(GANG_FIELD, "nodes"))
        members = sfn_multinode.node_overrides(self._task(self.flow.step(gang), depth), size)
        states[state_name(gang)] = members
        self._goto(members, join, stop)
        return [join]

    def _gang_size(self, step: str, next_state: str) -> dict[str, Any]:
        """A Task reading the width the ``num_parallel`` step wrote (``foreach_indices.json``)
        into ``$.gang.nodes``."""
        return {
            "Type": "Task",
            "Comment": "Read the gang size the task chose (the width of its foreach_indices.json).",
            "Resource": S3_GET_OBJECT_SDK,
            "Parameters": template(
                ("Bucket", self.root.bucket),
                ("Key", self.root.task_file(self.flow, step, "foreach_indices.json")),
            ),
            "ResultSelector": template(("nodes", call("ArrayLength", call("StringToJson", path("Body"))))),
            "ResultPath": path(GANG_FIELD),
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3,
                       "BackoffRate": 2.0}],
            "Next": next_state,
        }

    def _count_pass(self, depth: int, reset: bool, step: str) -> dict[str, Any]:
        """The Pass before a recursive step: iteration 0 on entry, +1 on each loop back."""
        fields: list[tuple[str, Any]] = [("run", path("run"))]
        if depth:
            fields.append(("path", path("path")))
        fields.append(("tid", path("tid")))
        if reset:
            fields += [("iter", 0), ("rtid", path("tid"))]
            comment = "Iteration 0 of the recursive step."
        else:
            fields += [("iter", call("MathAdd", path("iter"), 1)),
                       ("rtid", fmt("{}_r{}", path("tid"), call("MathAdd", path("iter"), 1)))]
            comment = "Loop back: count the next iteration of the recursive step."
        return {"Type": "Pass", "Comment": comment, "Parameters": template(*fields),
                "Next": state_name(step)}
