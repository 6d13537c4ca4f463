"""Airflow target: one DAG file per flow, rendered from ``flowc/templates/airflow/dag.py.j2``
(``flowc.targets.airflow_render`` holds the literals, the render model and the template call;
this module lowers the IR into that model).

Every step is one task running the runtime shim (docs/contracts.md section 4), as a
``KubernetesPodOperator`` (``--airflow-operator kubernetes``) or as a ``PythonOperator`` that runs
the shim in a subprocess on the worker (``local``). The lowering (docs/targets/airflow.md has the
long form and the reasons):

- **Edges** are task dependencies. A task with several upstreams (a join, the reconvergence after
  a switch) or with a mapped group upstream has trigger rule ``none_failed_min_one_success``, so a
  branch skipped by a switch does not block it while a failure still does.
- **foreach / parallel**: the foreach task pushes its children's index paths as XCom ("0", "1",
  ... or "3.0", "3.1", ... under "3"; the pod's XCom sidecar reads ``/airflow/xcom/return.json``),
  and the body runs as a *mapped task group* expanded over them, so each child's steps of a
  multi-step body stay together.
- **nested foreach**: Airflow cannot map a group inside a mapped group, so a ``<step>__flatten``
  task joins the lists of every instance of the inner foreach task into one list of paths and the
  inner body is its own top-level mapped group. (Each list carries its own paths, so outer
  children skipped by a switch cannot shift the others; a ``<join>__ran`` task skips the inner
  join of those children, since skips do not cross mapped groups.) The steps after the inner join continue in a second
  group mapped over the outer paths again (``<foreach>_body_2``). Widths multiply, hence the
  ``max_map_length`` warning (FLOW260).
- **switch**: the switch task pushes the chosen step; one ``<switch>__to_<step>`` task per case
  raises ``AirflowSkipException`` unless its case was chosen, and skips propagate down that
  branch. (A branch operator cannot be used: inside a mapped group its skips are not applied per
  map index; measured on Airflow 3.3.)
- **recursion**: a DAG has no cycles, so the task of a recursive step loops itself, running the
  shim with ``--iteration`` 0, 1, ... while the step chooses itself again.
- Parameters become DAG ``params`` (``Param`` with a JSON-schema type) handed to the start step
  as ``FLOWC_PARAMS``; @retry, @timeout, @schedule, @trigger and ``max_workers`` map to their
  Airflow counterparts.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, register
from flowc.plan import FlowPlan, Pod
from flowc.targets import (Capability, Settings, Target, TargetSettings, common, refused, register_target,
                           setting, supported, with_caveat)
from flowc.targets.airflow_hooks import exit_hook_task
from flowc.targets.airflow_render import (
    ATTEMPT, Expr, GroupBlock, Model, Task, call, kw, literal, names_used, nullable, param_value,
    params_json, pod_text, pretty, py, render, run_id,
)

NAME = "airflow"
MAX_MAP_LENGTH = 1024
START_DATE = (2024, 1, 1)
TRIGGER_ANY = Expr("TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS", frozenset({"TriggerRule"}))

FLOW260 = register("FLOW260", "Airflow max_map_length may be exceeded", """
A nested foreach is flattened into one mapped level on Airflow, so its width is the product of
the widths of the enclosing foreach steps. Airflow refuses to map more than [core]
max_map_length (default 1024) task instances; raise that setting if the product can exceed it.""")
FLOW261 = register("FLOW261", "schedule not expressible on Airflow", """
Airflow's cron timetables take five-field cron expressions. A six-field (AWS) expression converts
when its year field is '*' (Metaflow's documented form, e.g. '0 3 ? * MON-FRI *'); one that names
a year has no Airflow form.""")
FLOW262 = register("FLOW262", "trigger not expressible on Airflow", """
@trigger and @trigger_on_finish map to Airflow assets (datasets on Airflow 2): an event name, or
the finish asset of another flowc flow, becomes an asset the DAG is scheduled on. Parameter
mappings and a trigger combined with @schedule have no Airflow counterpart.""")
FLOW264 = register("FLOW264", "parallel gang wider than max_map_length", """
@parallel lowers to a mapped group as wide as num_parallel; Airflow refuses more than
[core] max_map_length (default 1024) mapped instances.""")
BATCH_IGNORED = register("FLOW267", "@batch on Airflow", """
Airflow runs steps as pods or subprocesses, not AWS Batch jobs: @batch's cpu, memory and gpu size
the pod, and its queue, roles and image are ignored.""")
FLOW265 = register("FLOW265", "task id collision on Airflow", """
A step name collides with a helper task flowc adds (``<step>__flatten``, ``<step>__to_<step>``,
``<join>__ran``).
Rename the step.""")

# Names the DAG file binds or reads at module level; a step's variable must not shadow them.
_RESERVED = frozenset(dir(builtins)) | {
    "dag", "DAG", "Param", "TriggerRule", "task_group", "Asset", "CronTriggerTimetable",
    "AirflowSkipException", "PythonOperator", "KubernetesPodOperator", "k8s", "datetime", "json",
    "os", "pathlib", "subprocess", "tempfile", "annotations", "IMAGE", "MANIFEST", "SHIM", "ENV",
    "SHIM_SCRIPT", "SHIM_CMDS", "index_path",
}

CAPABILITIES: dict[str, Capability] = {
    "linear": supported("task dependencies"),
    "split": supported("task dependencies; join waits for all (none_failed_min_one_success)"),
    "foreach": supported("dynamic task mapping over the foreach task's XCom (mapped task group)"),
    "foreach_multi_step": supported("mapped task group, one instance per child"),
    "nested_foreach": supported("index space flattened into one mapped level (FLOW260 warns on max_map_length)"),
    "switch": supported("case tasks that skip unchosen branches + trigger rules"),
    "recursion": supported("the task loops over --iteration itself"),
    "parallel": supported("mapped task group of num_parallel instances (not gang-scheduled)"),
    "parameters": supported("DAG params (Param with JSON-schema types)"),
    "include_file": supported("read by the shim at run time"),
    "retry": supported("retries / retry_delay"),
    "catch": supported("handled by the shim"),
    "timeout": supported("execution_timeout (the shim's timeout, plus a grace)"),
    "resources": supported("pod container_resources (kubernetes operator)"),
    "kubernetes": supported("KubernetesPodOperator image, resources, GPU, secrets, selectors"),
    "batch": with_caveat(BATCH_IGNORED, "its sizes size the pod; the rest is ignored (no AWS Batch)",
                         "use @kubernetes or @resources"),
    "environment": supported("env_vars / subprocess environment"),
    "secrets": supported("resolved by the shim; @kubernetes(secrets=...) as env_from"),
    "python_environment": supported(common.PYTHON_ENVIRONMENT),
    "card": supported("handled by the shim inside the task"),
    "schedule": supported("CronTriggerTimetable with timezone"),
    "trigger": supported("assets (datasets on Airflow 2); parameter mappings: FLOW262"),
    "trigger_on_finish": supported("the asset every flowc DAG's end task updates (flowc://flows/<Flow>)"),
    "project": supported("read by the shim at run time"),
    "exit_hook": supported("a teardown task after every other (all done) running the hooks"),
}


@dataclass(frozen=True, slots=True)
class AirflowSettings(TargetSettings):
    operator: str = setting("kubernetes", "run each task in a pod (kubernetes) or as a subprocess on "
                            "the worker (local)", ("kubernetes", "local"))
    dags_folder: str | None = setting(None, "deploy: the DAGs folder to write to (a path or s3:// URL)")
    api_url: str | None = setting(None, "deploy: the Airflow REST API (or AIRFLOW_API_URL)")
    parse_timeout: str | None = setting(None, "deploy: seconds to wait for Airflow to parse the DAG file")


_PARAM_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


# --------------------------------------------------------------------------- placement


@dataclass(frozen=True, slots=True)
class Group:
    """A mapped task group: steps with the same enclosing foreach steps and segment."""

    group_id: str
    foreach: str  # the innermost enclosing foreach/parallel step; its fan-out feeds the group
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    stacks: dict[str, tuple[str, ...]]
    group_of: dict[str, str | None]  # step -> group id (None at top level)
    groups: tuple[Group, ...]

    def group(self, group_id: str) -> Group:
        return next(g for g in self.groups if g.group_id == group_id)


def place(plan: FlowPlan) -> Placement:
    """Assign every step inside a foreach to a mapped group.

    Steps share a group when they have the same enclosing foreach steps and the same segment;
    a step joining an inner foreach starts a later segment of its foreach's body, so the group
    graph stays acyclic (the inner body's group sits between the two segments).
    """
    flow = plan.flow
    order = plan.order
    stacks = {s.name: s.foreach_stack for s in plan.steps}
    segment: dict[str, int] = {}
    for name in order:
        step = flow.step(name)
        stack = stacks[name]
        if not stack:
            continue
        parents = [p for p in step.in_steps if p != name]
        seg = max((segment[p] for p in parents if stacks[p] == stack), default=0)
        for p in parents:
            if len(stacks[p]) > len(stack):
                inner = stacks[p][len(stack)]
                seg = max(seg, segment.get(inner, 0) + 1)
        segment[name] = seg
    members: dict[tuple[tuple[str, ...], int], list[str]] = {}
    for name in order:
        if stacks[name]:
            members.setdefault((stacks[name], segment[name]), []).append(name)
    groups = []
    group_of: dict[str, str | None] = {name: None for name in order}
    for (stack, seg), steps in members.items():
        group_id = f"{stack[-1]}_body" + (f"_{seg + 1}" if seg else "")
        while group_id in group_of:  # a step's task id already: Airflow shares one id space
            group_id += "_group"
        groups.append(Group(group_id, stack[-1], tuple(steps)))
        for name in steps:
            group_of[name] = group_id
    return Placement(stacks, group_of, tuple(groups))


class _Lowering:
    """Builds the render model of one flow; collects diagnostics instead of raising."""

    def __init__(self, plan: FlowPlan, settings: Settings):
        self.plan = plan
        self.flow = plan.flow
        self.settings = settings
        self.operator = settings.of(AirflowSettings).operator
        self.kubernetes = self.operator == "kubernetes"
        self.diagnostics: list[Diagnostic] = []
        self.placement = place(plan)
        self.group_ids = {g.group_id for g in self.placement.groups}
        self.group_ids |= {f"{g}_tasks" for g in self.group_ids}

    # ----------------------------------------------------------------- names

    def var(self, step: str) -> str:
        """The Python variable of ``step``'s task: the step's name unless that would shadow a
        name the DAG file uses (a module, a helper, a builtin, a group)."""
        if step in _RESERVED or step.startswith("flowc_") or step in self.group_ids:
            return f"{step}_step"
        return step

    def flatten_var(self, foreach: str) -> str:
        return f"{foreach}__flatten"

    def case_var(self, switch: str, target: str) -> str:
        return f"{switch}__to_{target}"

    def ran_var(self, join: str) -> str:
        return f"{join}__ran"

    def guarded_join(self, step: ir.Step) -> str | None:
        """The inner foreach a join closes when the join needs a ``<join>__ran`` guard: the
        foreach sits in a mapped group whose body also has a switch, so some children may never
        reach it, and the join's group (mapped over all children) must skip those."""
        if not step.is_join or not step.split_parents:
            return None
        opener = self.flow.step(step.split_parents[-1])
        stack = self.placement.stacks[opener.name]
        if not opener.fans_out or not stack:
            return None
        switches = any(isinstance(s.transition, ir.Switch) and self.placement.stacks[s.name] == stack
                       for s in self.flow.steps)
        return opener.name if switches else None

    def output_of(self, step: str, here: str | None) -> str:
        """The XComArg of ``step``'s task as seen from group ``here`` (None: top level)."""
        group = self.placement.group_of[step]
        if group is None or group == here:
            return f"{self.var(step)}.output"
        return f"dag.get_task({py(group + '.' + step)}).output"

    def expand_source(self, foreach: str) -> str:
        """The XComArg a group inside ``foreach`` is expanded over: its children's index paths."""
        if self.placement.group_of[foreach] is None:
            return f"{self.var(foreach)}.output"
        return f"{self.flatten_var(foreach)}.output"

    # ----------------------------------------------------------------- checks

    def check(self) -> None:
        names = set(self.flow.step_names)
        for step in self.flow.steps:
            helpers = []
            if step.fans_out:
                helpers.append(self.flatten_var(step.name))
            if isinstance(step.transition, ir.Switch):
                helpers += [self.case_var(step.name, t) for t in step.transition.targets if t != step.name]
            if self.guarded_join(step):
                helpers.append(self.ran_var(step.name))
            for helper in helpers:
                if helper in names:
                    self.error(FLOW265, f"step {helper!r} collides with the task flowc adds for "
                               f"step {step.name!r} on Airflow", step.span, "rename the step")
            stack = self.placement.stacks[step.name]
            if step.fans_out and stack:
                self.diagnostics.append(Diagnostic(
                    FLOW260, f"foreach {step.name!r} is nested in {len(stack)} other foreach "
                    f"step(s); Airflow maps the flattened index space, whose width is the product "
                    f"of the widths and must stay within max_map_length (default "
                    f"{MAX_MAP_LENGTH})", step.next_span or step.span, WARNING,
                    "raise [core] max_map_length in airflow.cfg if the product can exceed it"))
            width = step.transition.num_parallel if isinstance(step.transition, ir.Parallel) else None
            if width is not None and width > MAX_MAP_LENGTH:  # None: known only at run time
                self.error(FLOW264, f"num_parallel={width} exceeds Airflow's "
                           f"default max_map_length ({MAX_MAP_LENGTH})", step.next_span or step.span,
                           "lower num_parallel or raise [core] max_map_length")

    def error(self, code: str, message: str, span: ir.Span, hint: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, ERROR, hint))

    # ----------------------------------------------------------------- DAG arguments

    def schedule(self) -> Expr | None:
        """The DAG's schedule: a cron timetable, the assets it waits for, or None."""
        sched = self.plan.schedule
        assets = self.trigger_assets()
        if sched is not None and assets is not None:
            self.error(FLOW262, "@trigger or @trigger_on_finish together with @schedule cannot be "
                       "expressed on Airflow", sched.span, "keep either the schedule or the trigger")
            return None
        if assets is not None:
            return Expr("[" + ", ".join(call("Asset", py(a)).text for a in assets) + "]",
                        frozenset({"Asset"}))
        if sched is None:
            return None
        if sched.unix is None:
            self.error(FLOW261, f"cron {sched.expression!r} has no five-field form (its year is not '*')",
                       sched.span, "write the schedule as a five-field cron (minute hour day month weekday)")
            return None
        return call("CronTriggerTimetable", py(sched.unix), f"timezone={py(sched.timezone or 'UTC')}")

    def trigger_assets(self) -> list[str] | None:
        """Asset names the DAG is scheduled on: @trigger events, and the finish assets of the
        flows named by @trigger_on_finish (every flowc DAG's end task updates its own)."""
        names: list[str] = []
        for trigger in self.plan.triggers:
            if trigger.parameters or trigger.options:
                self.error(FLOW262, f"@{trigger.tag} options beyond the {trigger.kind} name (parameter "
                           "mappings, project branches) cannot be expressed on Airflow", trigger.span,
                           f"name the {trigger.kind} only; pass parameters in the DAG run's conf")
            elif trigger.name is None:
                self.error(FLOW262, f"@{trigger.tag} needs a {trigger.kind} name on Airflow", trigger.span,
                           f"write @{trigger.tag}({trigger.kind}=\"name\")")
            else:
                names.append(trigger.name if trigger.kind == "event" else finish_asset(trigger.name))
        return names if names else None

    def params(self) -> dict[str, Expr] | None:
        if not self.flow.parameters:
            return None
        out: dict[str, Expr] = {}
        for param in self.flow.parameters:
            kwargs: list[str] = []
            # No literal default: None in Airflow (left out of FLOWC_PARAMS, so the shim computes
            # the default or reports the missing value), unless required, which Airflow enforces.
            optional = nullable(param)
            if param.default_kind == "literal":
                kwargs.append(py(ir.plain_value(param.default)))
            elif optional:
                kwargs.append("None")
            schema = _PARAM_TYPES.get(param.type)
            if param.type == "json" and isinstance(param.default, str):
                schema = "string"
            if param.separator is not None or param.include_file:
                schema = "string"
            if schema is not None:
                types: Any = [schema, "null"] if optional else schema
                kwargs.append(f"type={py(types)}")
            if param.help:
                kwargs.append(f"description={py(param.help)}")
            out[param.name] = call("Param", *kwargs)
        return out

    def dag_kwargs(self) -> tuple[tuple[str, Any], ...]:
        schedule = self.schedule()
        doc = (self.flow.docstring or "").strip()
        identity = common.project_identity(self.flow, self.settings)
        kwargs: list[tuple[str, Any]] = [("dag_id", identity.flow_name if identity else self.flow.name)]
        if doc:
            kwargs.append(("description", doc.splitlines()[0]))
            if "\n" in doc:
                kwargs.append(("doc_md", doc))
        kwargs += [
            ("schedule", schedule or Expr("None")),
            ("start_date", Expr("datetime.datetime(%d, %d, %d, tzinfo=datetime.timezone.utc)" % START_DATE)),
            ("catchup", False),
            ("max_active_tasks", self.settings.max_workers),
        ]
        params = self.params()
        if params:
            kwargs.append(("params", params))
        kwargs.append(("tags", ["flowc"]))
        return tuple(kwargs)

    # ----------------------------------------------------------------- steps

    def text(self, value: str) -> str | Expr:
        """A literal in a task's command or environment: safe from Jinja, and from the kubelet's
        ``$(VAR)`` expansion when the task is a pod."""
        return literal(pod_text(value) if self.kubernetes else value)

    def shim_prefix(self) -> list[str | Expr]:
        """The part of every task's command before ``--step``: ``SHIM`` in the DAG file."""
        argv = common.task_argv(self.flow, self.settings, step="-", run_id="-", datastore=None)
        return [self.text(a) for a in argv[:argv.index("--step")]]

    def argv(self, step: ir.Step, index_path: Expr | None) -> list[Any]:
        """The shim command of ``step``: ``SHIM`` plus what only Airflow knows at run time."""
        params = [(p.name, param_value(p, self.kubernetes)) for p in self.flow.parameters if not nullable(p)]
        run = run_id(self.kubernetes)
        argv = common.task_argv(self.flow, self.settings, step=step.name, run_id=run,
                                attempt=ATTEMPT, datastore=None,
                                params=params if step.name == self.flow.start_step else ())
        rest = argv[argv.index("--step"):]
        engine = {run, ATTEMPT} | {f"{name}={value}" for name, value in params}
        out: list[Any] = [Expr("*SHIM")] + [a if a in engine else self.text(a) for a in rest]
        if index_path is not None:
            out += ["--index-path", index_path]
        return out

    def env(self, step: ir.Step) -> Any:
        extra: dict[str, Any] = {k: self.text(v) for k, v in self.plan.step(step.name).environment}
        unset = [p.name for p in self.flow.parameters if nullable(p)]
        if step.name == self.flow.start_step and unset:
            extra["FLOWC_PARAMS"] = params_json(unset, self.kubernetes)
        if not extra:
            return Expr("ENV")
        return Expr("{**ENV, " + py(extra)[1:], names_used(extra))

    def task_options(self, step: ir.Step, trigger_any: bool) -> dict[str, Any]:
        options: dict[str, Any] = {}
        planned = self.plan.step(step.name)
        if planned.retry is not None:
            options["retries"] = planned.retry.times
            options["retry_delay"] = _timedelta(planned.retry.delay_seconds)
        if planned.timeout_seconds is not None:
            # the shim's own timeout fires first, so @catch can record it (as on Argo and sfn)
            deadline = planned.timeout_seconds + common.DEADLINE_GRACE_SECONDS
            options["execution_timeout"] = Expr(f"datetime.timedelta(seconds={deadline})")
        if trigger_any:
            options["trigger_rule"] = TRIGGER_ANY
        if isinstance(step.transition, ir.End):
            options["outlets"] = Expr(f"[{call('Asset', py(finish_asset(self.flow.name))).text}]",
                                      frozenset({"Asset"}))
        return options

    def step_task(self, step: ir.Step, trigger_any: bool) -> Task:
        grouped = self.placement.group_of[step.name] is not None
        index_path = Expr("index_path") if grouped else None
        argv = self.argv(step, index_path)
        xcom = step.fans_out or isinstance(step.transition, ir.Switch)
        options = self.task_options(step, trigger_any)
        doc = (step.docstring or "").strip() or None
        if not self.kubernetes:
            kwargs = kw(task_id=step.name, python_callable=Expr("flowc_run", frozenset({"flowc_run"})),
                         op_kwargs={"step": step.name, "argv": argv, "env": self.env(step)},
                         doc_md=doc, **options)
            return Task(self.var(step.name), "PythonOperator", kwargs)
        pod = self.pod_options(step)
        kwargs = kw(task_id=step.name,
                     name=common.short_name(f"{self.flow.name}-{step.name}".lower().replace("_", "-"), 50),
                     image=pod.pop("image"), cmds=Expr("SHIM_CMDS"), arguments=argv,
                     env_vars=self.env(step), do_xcom_push=xcom or None, doc_md=doc,
                     **pod, **options)
        return Task(self.var(step.name), "KubernetesPodOperator", kwargs)

    def pod_options(self, step: ir.Step) -> dict[str, Any]:
        planned = self.plan.step(step.name)
        pod = planned.pod or Pod()
        resources = common.kubernetes_resources(planned.resources)
        opts: dict[str, Any] = {
            "image": literal(planned.image) if planned.image else Expr("IMAGE"),
            "namespace": _optional_literal(pod.namespace or self.settings.namespace),
            "service_account_name": pod.service_account or self.settings.service_account,
            "container_resources": call("k8s.V1ResourceRequirements",
                                        *(f"{k}={py(v)}" for k, v in resources.items())),
            "image_pull_policy": pod.image_pull_policy,
        }
        if pod.secrets:
            opts["env_from"] = _k8s_list(
                f"k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name={py(s)}))" for s in pod.secrets)
        if pod.node_selector:
            opts["node_selector"] = {k: literal(v) for k, v in pod.node_selector}
        if pod.tolerations:
            opts["tolerations"] = _k8s_list(
                "k8s.V1Toleration(" + ", ".join(f"{_snake(k)}={py(ir.plain_value(v))}" for k, v in tol) + ")"
                for tol in pod.tolerations)
        if pod.labels:
            opts["labels"] = {k: literal(v) for k, v in pod.labels}
        if pod.annotations:
            opts["annotations"] = {k: literal(v) for k, v in pod.annotations}
        shm = planned.resources.shared_memory_mib
        if shm:
            opts["volumes"] = _k8s_list([
                "k8s.V1Volume(name=\"dshm\", empty_dir=k8s.V1EmptyDirVolumeSource("
                f"medium=\"Memory\", size_limit={py(f'{shm}Mi')}))"])
            opts["volume_mounts"] = _k8s_list(['k8s.V1VolumeMount(name="dshm", mount_path="/dev/shm")'])
        return opts

    def case_task(self, switch: str, target: str, here: str | None) -> Task:
        kwargs = kw(task_id=self.case_var(switch, target), python_callable=Expr("flowc_case", frozenset({"flowc_case", "AirflowSkipException"})),
                     op_args=[Expr(self.output_of(switch, here)), target])
        return Task(self.case_var(switch, target), "PythonOperator", kwargs)

    def ran_task(self, join: str, foreach: str, trigger_any: bool) -> Task:
        kwargs = kw(task_id=self.ran_var(join), python_callable=Expr("flowc_ran", frozenset({"flowc_ran", "AirflowSkipException"})),
                    op_args=[Expr(self.expand_source(foreach)), Expr("index_path")],
                    trigger_rule=TRIGGER_ANY if trigger_any else None)
        return Task(self.ran_var(join), "PythonOperator", kwargs)

    def flatten_task(self, foreach: str) -> Task:
        """One list of the children's paths of every instance of a foreach inside a group."""
        # Instances a switch skipped push nothing; the others still make one list.
        kwargs = kw(task_id=self.flatten_var(foreach), python_callable=Expr("flowc_flatten", frozenset({"flowc_flatten"})),
                    op_args=[Expr(self.output_of(foreach, None))], trigger_rule=TRIGGER_ANY)
        return Task(self.flatten_var(foreach), "PythonOperator", kwargs)

    # ----------------------------------------------------------------- graph

    def edges(self) -> list[tuple[str, str, str, str]]:
        """(from task, from step, to task, to step) for every dependency, case tasks included."""
        out = []
        for step in self.flow.steps:
            if step.fans_out:
                continue  # the group's expand over the foreach task's XCom is the dependency
            for target in step.transition.targets:
                if target == step.name:
                    continue
                if isinstance(step.transition, ir.Switch):
                    case = self.case_var(step.name, target)
                    out.append((self.var(step.name), step.name, case, step.name))
                    out.append((case, step.name, self.var(target), target))
                elif self.guarded_join(self.flow.step(target)):
                    ran = self.ran_var(target)
                    out.append((self.var(step.name), step.name, ran, target))
                    out.append((ran, target, self.var(target), target))
                else:
                    out.append((self.var(step.name), step.name, self.var(target), target))
        return out

    def lower(self) -> Model:
        self.check()
        edges = self.edges()
        inner: dict[str, list[tuple[str, str]]] = {}
        outer: list[tuple[str, str]] = []
        upstreams: dict[str, set[str]] = {}
        for src, src_step, dst, dst_step in edges:
            g_src, g_dst = self.placement.group_of[src_step], self.placement.group_of[dst_step]
            if g_src == g_dst and g_src is not None:
                inner.setdefault(g_src, []).append((src, dst))
                upstreams.setdefault(dst, set()).add(src)
                continue
            a = src if g_src is None or g_src == g_dst else g_src
            b = dst if g_dst is None or g_src == g_dst else g_dst
            if (a, b) not in outer:
                outer.append((a, b))
            upstreams.setdefault(dst, set()).add(a if a == src else "group:" + a)
        def trigger_any(step: str) -> bool:
            ups = upstreams.get(step, set())
            return len(ups) > 1 or any(u.startswith("group:") for u in ups)

        blocks: list[Task | GroupBlock] = []
        emitted_groups: set[str] = set()
        for name in self.plan.order:
            step = self.flow.step(name)
            group_id = self.placement.group_of[name]
            if group_id is None:
                blocks.append(self.step_task(step, trigger_any(name)))
                blocks += self.cases(step, None)
            elif group_id not in emitted_groups:
                emitted_groups.add(group_id)
                group = self.placement.group(group_id)
                tasks: list[Task] = []
                for member in group.steps:
                    closes = self.guarded_join(self.flow.step(member))
                    if closes is not None:
                        tasks.append(self.ran_task(member, closes, trigger_any(self.ran_var(member))))
                    tasks.append(self.step_task(self.flow.step(member), trigger_any(member)))
                    tasks += self.cases(self.flow.step(member), group_id)
                doc = f"One instance per child of foreach {group.foreach!r}."
                group_edges = tuple(_dedupe(inner.get(group_id, [])))
                used = {v for edge in group_edges for v in edge}
                used |= {t.var for t in tasks for other in tasks
                         if f"{t.var}.output" in py([v for _, v in other.kwargs])}
                tasks = [dataclasses.replace(t, assign=t.var in used) for t in tasks]
                blocks.append(GroupBlock(group_id, self.expand_source(group.foreach), doc,
                                         tuple(tasks), group_edges))
                for member in group.steps:
                    if self.flow.step(member).fans_out:
                        blocks.append(self.flatten_task(member))
        hooks = exit_hook_task(self.plan, self.kubernetes, blocks)
        if hooks is not None:
            blocks.append(hooks[0])
            outer.append(hooks[1])
        dag_kwargs = self.dag_kwargs()
        header, header_names = self.header()
        tasks = [t for b in blocks for t in (b.tasks if isinstance(b, GroupBlock) else (b,))]
        names = {self.operator, "DAG", *header_names, *names_used([v for _, v in dag_kwargs])}
        if self.kubernetes:
            names.add("literal")  # SHIM_CMDS
        for t in tasks:
            names.add(t.operator)
            names |= names_used([v for _, v in t.kwargs])
        if any(isinstance(b, GroupBlock) for b in blocks):
            names.add("task_group")
        return Model(
            flow=self.flow.name,
            source=self.flow.path,
            docstring=self.flow.docstring,
            operator=self.operator,
            header=header,
            dag_kwargs=dag_kwargs,
            blocks=tuple(blocks),
            edges=tuple(outer),
            names=frozenset(names),
        )

    def cases(self, step: ir.Step, here: str | None) -> list[Task]:
        if not isinstance(step.transition, ir.Switch):
            return []
        return [self.case_task(step.name, t, here) for t in step.transition.targets if t != step.name]

    def header(self) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
        """The module constants (name, Python source), and the names their sources use."""
        manifest = common.inline_manifest(self.flow)
        # repr: a Python str literal like py's, with fewer escapes for JSON's double quotes
        manifest_src = "(\n" + "".join(f"    {line!r}\n" for line in manifest.splitlines(keepends=True)) + ")"
        # Never rendered by Jinja; its "$" doubled for the kubelet when it is a pod's env value.
        manifest_value = 'MANIFEST.replace("$", "$$")' if self.kubernetes else "MANIFEST"
        env = {"FLOWC_MANIFEST": Expr(f"literal({manifest_value})", frozenset({"literal"})),
               "FLOWC_DATASTORE": self.text(self.settings.datastore),
               **{k: self.text(v) for k, v in common.spec_environment(self.plan, self.settings)}}
        shim = self.shim_prefix()
        out = [("MANIFEST", manifest_src), ("SHIM", pretty(shim, 0, 7)), ("ENV", pretty(env, 0, 6))]
        image = literal(self.settings.image)
        if self.kubernetes:
            out.insert(0, ("IMAGE", py(image)))
        return tuple(out), names_used([shim, env, image if self.kubernetes else None])


def finish_asset(flow_name: str) -> str:
    """The asset a flow's end task updates, which @trigger_on_finish(flow=...) schedules on."""
    return f"flowc://flows/{flow_name}"


def _dedupe(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(pairs))


def _snake(name: str) -> str:
    """``tolerationSeconds`` (Kubernetes YAML) -> ``toleration_seconds`` (the client's keyword)."""
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _optional_literal(value: str | None) -> str | Expr | None:
    return literal(value) if value is not None else None


def _timedelta(seconds: int) -> Expr:
    """``datetime.timedelta`` in whole minutes when it is some (as @retry writes it), else seconds."""
    if seconds % 60 == 0:
        return Expr(f"datetime.timedelta(minutes={seconds // 60})")
    return Expr(f"datetime.timedelta(seconds={seconds})")


def _k8s_list(items: Any) -> Expr:
    """A list of Kubernetes client model constructors (``k8s.V1...``), as Python source."""
    return Expr("[" + ", ".join(items) + "]", frozenset({"k8s"}))


@register_target
class AirflowTarget(Target):
    name = NAME
    title = "Airflow"
    extension = ".py"
    settings_type = AirflowSettings
    capabilities = CAPABILITIES
    deploy_engine = "flowc.deploy.airflow"

    def check(self, plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
        return []  # checked while lowering: the same pass knows the task ids it makes

    def render(self, plan: FlowPlan, settings: Settings) -> tuple[str, list[Diagnostic]]:
        lowering = _Lowering(plan, settings)
        model = lowering.lower()
        if any(d.severity == ERROR for d in lowering.diagnostics):
            return "", lowering.diagnostics
        return render(model), lowering.diagnostics
