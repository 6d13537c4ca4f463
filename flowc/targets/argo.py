"""Argo Workflows target: a ``WorkflowTemplate`` (plus a ``CronWorkflow`` for @schedule and an
Argo Events ``Sensor`` for @trigger / @trigger_on_finish) as one multi-document YAML file.

Lowering, in one DAG per region:

- every step is one task running the runtime shim with only the run id (``{{workflow.name}}``),
  the step, its index path, the attempt (``{{retries}}``, with @retry) and, for a recursive
  step, its iteration; the shim derives everything else from the manifest and the datastore;
- a foreach step writes its width to a side-channel file read back as the output parameter
  ``foreach-width``; the body runs as a nested DAG template fanned out with ``withSequence``, so
  the spec's size never depends on the width; nested foreach nests templates;
- a switch step's chosen case comes back as ``switch-case``; each branch task has a ``when``
  on it, every ``depends`` uses ``.Succeeded`` so a skipped branch stays skipped downstream, and
  a step where branches reconverge depends on any of its parents (from the graph's edges, never
  from step-name order);
- a step that loops to itself runs inside a recursive DAG template that calls itself with the
  next iteration while the step picks the looping case.

The manifest reaches the shim once, as ``FLOWC_MANIFEST`` in ``templateDefaults`` (its JSON
text from ``common.inline_manifest``, a readable block in the YAML), never repeated per template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, register
from flowc.plan import FlowPlan
from flowc.runtime_shim.argo_events import URL_ENV as WEBHOOK_URL_ENV
from flowc.targets import (Capability, Settings, Target, TargetSettings, common, register_target,
                           setting, supported, with_caveat)
from flowc.targets import argo_jobset
from flowc.targets import argo_syntax as syn
from flowc.targets.argo_events import (DEFAULT_EVENT_SOURCE, DEFAULT_WORKFLOW_SOURCE, cron_workflow, sensors,
                                      trigger_arguments)
from flowc.targets.argo_hooks import add_exit_handler
from flowc.targets.argo_pod import (CASE_OUTPUT, INDEX_INPUT, ITERATION_INPUT,
                                    WIDTH_OUTPUT, PodInputs, parameter_default_text, step_template)

API_VERSION = "argoproj.io/v1alpha1"
ENTRYPOINT = "main"
MANIFEST_ENV = "FLOWC_MANIFEST"

GANG_NEEDS_JOBSET = register("FLOW200", "@parallel / num_parallel on argo needs JobSet", """
A @parallel step runs as a Kubernetes JobSet (jobset.x-k8s.io/v1alpha2) that the workflow creates
and waits for: the cluster needs the JobSet controller (v0.6 or later, which sets the pods'
job-global-index and the JobSet's terminalState), and the workflow's service account needs RBAC to
create, get and watch jobsets.""")
STEP_NAMESPACE = register("FLOW202", "per-step namespace on argo", """
All pods of an Argo workflow run in the workflow's namespace; @kubernetes(namespace=...) on a
step is ignored. Set the namespace with --namespace or [tool.flowc] namespace.""")
RUNTIME_DEFAULT = register("FLOW203", "parameter default computed at run time on argo", """
A Parameter whose default is computed at run time cannot be a workflow argument with a default
value; on Argo it is not exposed as an argument and the start task computes its default.""")
BATCH_ON_ARGO = register("FLOW204", "@batch on argo", """
@batch is an AWS Batch decorator: on Argo it only contributes its resources and image; its
queue and roles are ignored.""")
BAD_CRON = register("FLOW206", "cron expression Argo cannot express", """
CronWorkflow takes 5-field cron expressions; an AWS 6-field expression converts only when its
year field is '*'.""")
BAD_TRIGGER = register("FLOW207", "@trigger event Argo Events cannot express", """
Each @trigger event must be a name or a {"name": ..., "parameters": {...}} mapping known at
compile time; each @trigger_on_finish flow must be a flow name.""")


TEMPLATE_TAG = register("FLOW209", "a value Argo would read as a template tag", """
Argo substitutes every '{{...}}' in a workflow before it runs, and has no way to escape one: a
parameter default, an @environment value or a @kubernetes label/annotation holding '{{' would be
replaced or fail the workflow. Build the value inside the step instead (the shim passes it through
unchanged), or avoid '{{' in it.""")

TOO_LARGE = register("FLOW210", "Argo object over the size Kubernetes stores", """
Kubernetes keeps every object in etcd, which refuses a request over 1.5 MiB (its default
--max-request-bytes); a WorkflowTemplate that large cannot be created. Split the flow, or move
large values (the manifest grows with the flow) out of the spec.""")
OBJECT_LIMIT = 1_572_864  # etcd's default --max-request-bytes

ARGO_VERSIONS = ("3.5", "3.6", "3.7", "4")

CAPABILITIES: dict[str, Capability] = {
    "linear": supported("DAG tasks with depends"),
    "split": supported("parallel DAG tasks; join depends on all branches"),
    "foreach": supported("withSequence over the foreach-width output, nested DAG template"),
    "foreach_multi_step": supported("nested DAG template holding the body"),
    "nested_foreach": supported("nested DAG templates, index path built from {{item}}"),
    "switch": supported("when on the switch-case output; reconvergence depends on any branch"),
    "recursion": supported("recursive DAG template with an iteration input"),
    "parallel": with_caveat(GANG_NEEDS_JOBSET, "resource template creating a JobSet (control + workers, "
                            "gang-scheduled, headless-service DNS for main_ip)",
                            "install the JobSet controller and let the workflow's service account create jobsets"),
    "parameters": supported("workflow arguments with their defaults"),
    "include_file": supported("workflow argument holding the path in the image"),
    "retry": supported("retryStrategy (limit, backoff)"),
    "catch": supported("handled by the shim on the last attempt"),
    "timeout": supported("activeDeadlineSeconds per attempt"),
    "resources": supported("container requests/limits"),
    "kubernetes": supported("image, requests/limits, GPU, node selector, tolerations, labels, secrets"),
    "batch": with_caveat(BATCH_ON_ARGO, "resources and image only", "use @kubernetes or @resources"),
    "environment": supported("container env"),
    "secrets": supported("resolved by the shim (Secrets Manager, env:, file:); @kubernetes(secrets=...) as envFrom"),
    "python_environment": supported(common.PYTHON_ENVIRONMENT),
    "card": supported("handled by the shim inside the task"),
    "schedule": supported("CronWorkflow referencing the WorkflowTemplate"),
    "trigger": supported("Argo Events Sensor submitting the WorkflowTemplate once all its events arrived"),
    "trigger_on_finish": supported("Argo Events Sensor on the upstream workflow reaching Succeeded"),
    "project": supported("resource names and labels"),
    "exit_hook": supported("onExit handler running the hooks with {{workflow.status}}"),
}


@dataclass(frozen=True, slots=True)
class ArgoSettings(TargetSettings):
    version: str = setting("4", "Argo Workflows version to target (3.5 uses CronWorkflow 'schedule:')",
                           ARGO_VERSIONS)
    events_source: str = setting(DEFAULT_EVENT_SOURCE, "Argo Events EventSource the Sensor listens to for @trigger")
    workflows_event_source: str = setting(DEFAULT_WORKFLOW_SOURCE, "Argo Events EventSource of workflow "
                                          "phase changes, for @trigger_on_finish")
    server: str | None = setting(None, "deploy: Argo Server URL (or ARGO_SERVER)")
    webhook_url: str | None = setting(None, "URL of the webhook endpoint of the events_source EventSource, "
                                      "where flowc trigger --event and ArgoEvent in a step post events")


# --------------------------------------------------------------------------- checks


def check(plan: FlowPlan) -> list[Diagnostic]:
    """Values Argo cannot carry, collected before any YAML is built (the capability table covers
    the constructs)."""
    out: list[Diagnostic] = []
    for step in plan.steps:
        if step.pod is not None and step.pod.namespace:
            out.append(Diagnostic(STEP_NAMESPACE, f"@kubernetes(namespace=...) on step {step.name!r} is ignored on argo",
                                  step.pod.span, WARNING, "set --namespace for the whole workflow"))
    out.extend(_template_tags(plan))
    for param in plan.flow.parameters:
        if param.default_kind == "runtime":
            out.append(Diagnostic(RUNTIME_DEFAULT,
                                  f"parameter {param.name!r} has a run-time default and is not an Argo workflow argument",
                                  param.span, WARNING, "give it a literal default to make it overridable at submit"))
    return out


def _template_tags(plan: FlowPlan) -> list[Diagnostic]:
    """User values that reach the YAML where Argo would substitute them."""
    found: list[tuple[str, ir.Span]] = []
    for param in plan.flow.parameters:
        if param.default_kind == "literal" and "{{" in str(param.default):
            found.append((f"the default of parameter {param.name!r}", param.span))
    for step in plan.steps:
        env = step.step.decorator(ir.Environment)
        for key, value in step.environment:
            if "{{" in value:
                found.append((f"@environment value {key!r} of step {step.name!r}", env.span))
        pod = step.pod
        if pod is None:
            continue
        for field_name in ("labels", "annotations", "node_selector"):
            for key, value in getattr(pod, field_name):
                if "{{" in str(value):
                    found.append((f"@kubernetes {field_name} {key!r} of step {step.name!r}", pod.span))
    return [Diagnostic(TEMPLATE_TAG, f"{what} contains '{{{{', which Argo would substitute", span, ERROR,
                       "build the value inside the step, or avoid '{{' in it")
            for what, span in found]


# --------------------------------------------------------------------------- lowering


@dataclass
class Region:
    """One DAG template: the top level, a foreach body, or a recursive step's loop."""

    key: str
    template: str
    depth: int  # length of the index path of the tasks inside
    tasks: list[dict[str, Any]] = field(default_factory=list)
    names: syn.NameTable = field(default_factory=syn.NameTable)


class Lowering:
    def __init__(self, plan: FlowPlan, settings: Settings):
        flow = plan.flow
        self.plan = plan
        self.flow = flow
        self.settings = settings
        self.order = plan.order
        self.templates = syn.NameTable()
        self.step_template = {s.name: self.templates.allocate(s.name, "step:" + s.name) for s in flow.steps}
        self.exposed = tuple(p for p in flow.parameters if p.default_kind != "runtime")
        self.dag_templates: list[dict[str, Any]] = []

    # --- graph facts

    def fan_out(self, step: ir.Step) -> str | None:
        """The innermost foreach enclosing ``step`` (its region), or None at the top level."""
        stack = self.plan.step(step.name).foreach_stack
        return stack[-1] if stack else None

    def depth(self, step: ir.Step) -> int:
        return len(self.plan.step(step.name).foreach_stack)

    def representative(self, parent: str, region: str | None) -> str | None:
        """The step whose task stands for ``parent`` inside ``region``: the parent itself, the
        foreach whose body holds it, or None when it lies outside the region."""
        step = self.flow.step(parent)
        chain = self.plan.step(parent).foreach_stack
        if self.fan_out(step) == region:
            return parent
        if region is None:
            return chain[0] if chain else None
        if region in chain:
            i = chain.index(region)
            return chain[i + 1] if i + 1 < len(chain) else parent
        return None

    # --- building

    def build(self) -> list[dict[str, Any]]:
        main = Region("main", self.templates.allocate(ENTRYPOINT, "region:main"), 0)
        self.fill(main, None)
        pods = []
        for step in self.flow.steps:
            opener = self.gang_opener(step)
            depth = self.depth(step) - (opener is not None)  # a gang's pods get their parent's path
            inputs = PodInputs(index_path=depth > 0, iteration=step.is_recursive)
            pod = step_template(self.flow, self.plan.step(step.name), self.step_template[step.name],
                                inputs, self.settings, self.exposed, trigger_arguments(self.plan))
            if opener is not None:
                pod = self.gang_template(step, opener, pod, nested=depth > 0)
            pods.append(pod)
        return self.dag_templates + pods

    def gang_opener(self, step: ir.Step) -> ir.Step | None:
        """The step whose ``num_parallel`` makes ``step`` a gang, or None."""
        stack = self.plan.step(step.name).foreach_stack
        opener = self.flow.step(stack[-1]) if stack else None
        return opener if opener is not None and isinstance(opener.transition, ir.Parallel) else None

    def gang_template(self, step: ir.Step, opener: ir.Step, pod: dict[str, Any], nested: bool) -> dict[str, Any]:
        """``step``'s container template ``pod`` run by every member of a JobSet (``argo_jobset``)."""
        assert isinstance(opener.transition, ir.Parallel)
        return argo_jobset.gang_template(pod["name"], self.flow, step.name, pod,
                                         container_defaults(self.plan, self.settings), opener.transition,
                                         self.settings, labels(self.flow, self.settings), nested)

    def fill(self, region: Region, opener: str | None) -> None:
        """Add the tasks of ``opener``'s region (None: the top level) and its DAG template."""
        members = [n for n in self.order if self.fan_out(self.flow.step(n)) == opener]
        task_names = {n: region.names.allocate(n, "step:" + n) for n in members}
        nested: list[tuple[Region, str]] = []
        for name in members:
            step = self.flow.step(name)
            task = self.task_for(step, region, task_names[name], opener, task_names)
            region.tasks.append(task)
            if isinstance(step.transition, ir.Foreach):
                body_name = step.transition.target
                body_task = region.names.allocate(body_name, "body:" + name)
                body_region = Region(name, self.templates.allocate(f"{body_name}-foreach", "region:" + name),
                                     region.depth + 1)
                index = syn.child_index_path(syn.input_parameter(INDEX_INPUT) if region.depth else None)
                region.tasks.append({
                    "name": body_task,
                    "template": body_region.template,
                    "depends": syn.depends_all([task_names[name]]),
                    "arguments": {"parameters": [{"name": INDEX_INPUT, "value": index}]},
                    "withSequence": {"count": syn.task_output(task_names[name], WIDTH_OUTPUT)},
                })
                task_names[name + "\0body"] = body_task
                nested.append((body_region, name))
            elif isinstance(step.transition, ir.Parallel):
                region.tasks.append(self.gang_task(step, region, task_names))
        template: dict[str, Any] = {"name": region.template}
        if region.depth:
            template["inputs"] = {"parameters": [{"name": INDEX_INPUT}]}
        template["dag"] = {"tasks": region.tasks}
        self.dag_templates.append(template)
        for body_region, name in nested:
            self.fill(body_region, name)
        for name in members:
            if self.flow.step(name).is_recursive:
                self.loop_template(self.flow.step(name), region.depth)

    def gang_task(self, step: ir.Step, region: Region, task_names: dict[str, str]) -> dict[str, Any]:
        """The task running the JobSet of ``step``'s gang, after ``step``; the join waits for it."""
        assert isinstance(step.transition, ir.Parallel)
        gang = step.transition.target
        name = region.names.allocate(gang, "body:" + step.name)
        task_names[step.name + "\0body"] = name
        args = []
        if region.depth:
            args.append({"name": INDEX_INPUT, "value": syn.input_parameter(INDEX_INPUT)})
        if step.transition.num_parallel is None:
            args.append({"name": argo_jobset.NUM_NODES_INPUT,
                         "value": syn.task_output(task_names[step.name], WIDTH_OUTPUT)})
        task: dict[str, Any] = {"name": name, "template": self.step_template[gang],
                                "depends": syn.depends_all([task_names[step.name]])}
        if args:
            task["arguments"] = {"parameters": args}
        return task

    def task_for(self, step: ir.Step, region: Region, task_name: str, opener: str | None,
                 task_names: dict[str, str]) -> dict[str, Any]:
        args: list[dict[str, str]] = []
        if region.depth:
            args.append({"name": INDEX_INPUT, "value": syn.input_parameter(INDEX_INPUT)})
        if step.is_recursive:
            template = self.loop_name(step)
            args.append({"name": ITERATION_INPUT, "value": "0"})
        else:
            template = self.step_template[step.name]
        task: dict[str, Any] = {"name": task_name, "template": template}
        depends, when = self.conditions(step, opener, task_names)
        if depends:
            task["depends"] = depends
        if when:
            task["when"] = when
        if args:
            task["arguments"] = {"parameters": args}
        return task

    def conditions(self, step: ir.Step, opener: str | None, task_names: dict[str, str]) -> tuple[str, str]:
        """``depends`` from the step's incoming edges and ``when`` from the switch edges among them."""
        edges: list[tuple[str, tuple[str, ...] | None]] = []  # (task, switch cases or None)
        for parent in step.in_steps:
            if parent == step.name:
                continue  # the loop edge lives in the recursive template
            rep = self.representative(parent, opener)
            if rep is None:
                continue
            parent_step = self.flow.step(parent)
            if rep != parent:
                task = task_names[rep + "\0body"]
                cases = None
            else:
                task = task_names[parent]
                cases = None
                if isinstance(parent_step.transition, ir.Switch):
                    cases = tuple(k for k, t in parent_step.transition.cases if t == step.name)
            if all(task != t for t, _ in edges):
                edges.append((task, cases))
        if not edges:
            return "", ""
        tasks = [t for t, _ in edges]
        if step.is_join:
            return self.join_depends(step, opener, task_names), ""
        depends = syn.depends_all(tasks) if len(edges) == 1 else syn.depends_any(tasks)
        conditional = [(t, c) for t, c in edges if c is not None]
        if not conditional:
            return depends, ""
        if len(edges) == 1:
            task, cases = edges[0]
            assert cases is not None  # the one edge is conditional
            return depends, syn.expression(syn.expr_one_of(syn.expr_task_output(task, CASE_OUTPUT), cases))
        terms = []
        for task, cases in edges:
            term = syn.expr_task_succeeded(task)
            if cases is not None:
                term = f"({term} && {syn.expr_one_of(syn.expr_task_output(task, CASE_OUTPUT), cases)})"
            terms.append(term)
        return depends, syn.expression(" || ".join(terms))

    def join_depends(self, step: ir.Step, opener: str | None, task_names: dict[str, str]) -> str:
        """A join waits for every path of the split it closes. The cases of a switch inside that
        split are one path: only the chosen case runs (Metaflow's switch-into-join shapes), so
        such a group needs its tasks finished, none failed, and one succeeded."""
        groups: dict[str, list[str]] = {}
        for parent in step.in_steps:
            rep = self.representative(parent, opener)
            if parent == step.name or rep is None:
                continue
            task = task_names[rep + "\0body"] if rep != parent else task_names[parent]
            switch = self.owning_switch(parent, step.name) if rep == parent else None
            members = groups.setdefault(switch or "task:" + task, [])
            if task not in members:
                members.append(task)
        return " && ".join(members[0] + ".Succeeded" if key.startswith("task:") else syn.depends_one_path(members)
                           for key, members in groups.items())

    def owning_switch(self, parent: str, join: str) -> str | None:
        """The switch whose case ``parent`` is (or ends the chain of), for an edge into ``join``."""
        step = self.flow.step(parent)
        if isinstance(step.transition, ir.Switch) and join in step.transition.targets:
            return parent  # a case leading straight into the join
        while True:
            parents = [p for p in step.in_steps if p != step.name]
            if len(parents) != 1:
                return None
            above = self.flow.step(parents[0])
            if isinstance(above.transition, ir.Switch):
                return above.name
            if above.fans_out or isinstance(above.transition, ir.Split):
                return None
            step = above

    def loop_name(self, step: ir.Step) -> str:
        return self.templates.allocate(f"{step.name}-loop", "loop:" + step.name)

    def loop_template(self, step: ir.Step, depth: int) -> None:
        """``<step>-loop``: run the step, then call itself with the next iteration while the step
        chose a case that leads back to itself; its output is the case that left the loop."""
        assert isinstance(step.transition, ir.Switch)
        names = syn.NameTable()
        run = names.allocate(step.name, "step")
        again = names.allocate("again", "again")
        self_cases = tuple(k for k, t in step.transition.cases if t == step.name)
        def pass_on() -> list[dict[str, str]]:
            return [{"name": INDEX_INPUT, "value": syn.input_parameter(INDEX_INPUT)}] if depth else []

        loop_again = syn.expr_one_of(syn.expr_task_output(run, CASE_OUTPUT), self_cases)
        template = {
            "name": self.loop_name(step),
            "inputs": {"parameters": ([{"name": INDEX_INPUT}] if depth else []) + [{"name": ITERATION_INPUT}]},
            "outputs": {"parameters": [{
                "name": CASE_OUTPUT,
                "valueFrom": {"expression": f"{loop_again} ? {syn.expr_task_output(again, CASE_OUTPUT)}"
                                            f" : {syn.expr_task_output(run, CASE_OUTPUT)}"},
            }]},
            "dag": {"tasks": [
                {"name": run, "template": self.step_template[step.name],
                 "arguments": {"parameters": pass_on() + [
                     {"name": ITERATION_INPUT, "value": syn.input_parameter(ITERATION_INPUT)}]}},
                {"name": again, "template": self.loop_name(step),
                 "depends": syn.depends_all([run]),
                 "when": syn.expression(loop_again),
                 "arguments": {"parameters": pass_on() + [
                     {"name": ITERATION_INPUT, "value": syn.next_iteration()}]}},
            ]},
        }
        self.dag_templates.append(template)


# --------------------------------------------------------------------------- documents


def resource_name(flow: ir.Flow, settings: Settings, limit: int = syn.NAME_LIMIT) -> str:
    """The WorkflowTemplate's name: the flow's, or ``project.branch.Flow`` with @project."""
    identity = common.project_identity(flow, settings)
    return syn.flow_resource_name(identity.flow_name if identity else flow.name, limit)


def upstream_template_name(flow: ir.Flow, settings: Settings, upstream: str) -> str:
    """An upstream flow's WorkflowTemplate name: in this flow's @project and branch, as Metaflow
    resolves @trigger_on_finish, unless the name is already qualified (``project.branch.Flow``)."""
    identity = common.project_identity(flow, settings)
    if "." in upstream or identity is None:
        return syn.flow_resource_name(upstream)
    return syn.flow_resource_name(f"{identity.project}.{identity.branch}.{upstream}")


def labels(flow: ir.Flow, settings: Settings) -> dict[str, str]:
    out = {"app.kubernetes.io/managed-by": "flowc", "flowc/flow": syn.flow_resource_name(flow.name)}
    identity = common.project_identity(flow, settings)
    if identity is not None:
        out["flowc/project"] = syn.flow_resource_name(identity.project)
        out["flowc/branch"] = syn.flow_resource_name(identity.branch)
    return out


def metadata(name: str, flow: ir.Flow, settings: Settings) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if settings.namespace:
        meta["namespace"] = settings.namespace
    meta["labels"] = labels(flow, settings)
    meta["annotations"] = {"flowc/flow-name": flow.name}
    return meta


def container_defaults(plan: FlowPlan, settings: Settings) -> dict[str, Any]:
    """What every step's container gets (``templateDefaults``): the image, the code directory,
    the manifest and the spec's environment."""
    defaults: dict[str, Any] = {"image": settings.image}
    if not settings.code_package:
        # Steps run where their code is, so relative paths (IncludeFile defaults, data files next
        # to the flow) resolve as they do when the flow runs from its directory.
        defaults["workingDir"] = settings.code_dir
    env = [(MANIFEST_ENV, common.inline_manifest(plan.flow)), *common.spec_environment(plan, settings)]
    webhook = settings.of(ArgoSettings).webhook_url
    if webhook:  # where ArgoEvent(...).publish() in a step posts (flowc.runtime_shim.argo_events)
        env.append((WEBHOOK_URL_ENV, webhook))
    defaults["env"] = [{"name": k, "value": syn.container_text(v)} for k, v in env]
    return defaults


def workflow_template(plan: FlowPlan, settings: Settings) -> dict[str, Any]:
    flow = plan.flow
    lowering = Lowering(plan, settings)
    templates = lowering.build()
    spec: dict[str, Any] = {"entrypoint": templates[0]["name"]}
    if settings.service_account:
        spec["serviceAccountName"] = settings.service_account
    spec["parallelism"] = settings.max_workers
    arguments = []
    for param in lowering.exposed:
        entry: dict[str, Any] = {"name": param.name}
        default = parameter_default_text(param)
        if default is not None:
            entry["value"] = default
        if param.help:
            entry["description"] = param.help
        arguments.append(entry)
    arguments += [{"name": name, "value": ""} for name in trigger_arguments(plan)]
    if arguments:
        spec["arguments"] = {"parameters": arguments}
    spec["templateDefaults"] = {"container": container_defaults(plan, settings)}
    spec["templates"] = templates
    add_exit_handler(spec, plan, settings, lowering.templates)
    return {"apiVersion": API_VERSION, "kind": "WorkflowTemplate",
            "metadata": metadata(resource_name(flow, settings), flow, settings), "spec": spec}


def documents(plan: FlowPlan, settings: Settings) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    """The objects of the spec, in apply order, and any diagnostics their building found."""
    flow = plan.flow
    own = settings.of(ArgoSettings)
    template = workflow_template(plan, settings)
    docs = [template]
    diagnostics: list[Diagnostic] = []
    if plan.schedule is not None:
        cron, problems = cron_workflow(settings, own.version, plan.schedule, template["metadata"]["name"],
                                       resource_name(flow, settings, syn.CRON_NAME_LIMIT), labels(flow, settings),
                                       BAD_CRON)
        diagnostics += problems
        if cron is not None:
            docs.append(cron)
    events, problems = sensors(plan, settings, (own.events_source, own.workflows_event_source),
                               template["metadata"]["name"], labels(flow, settings), BAD_TRIGGER,
                               lambda upstream: upstream_template_name(flow, settings, upstream))
    diagnostics += problems
    docs += events
    return docs, diagnostics


def render(docs: list[dict[str, Any]]) -> str:
    return syn.dump_yaml(docs, explicit_start=True)


@register_target
class ArgoTarget(Target):
    name = "argo"
    title = "Argo Workflows"
    extension = ".yaml"
    settings_type = ArgoSettings
    capabilities = CAPABILITIES
    deploy_engine = "flowc.deploy.argo"

    def check(self, plan: FlowPlan, settings: Settings) -> list[Diagnostic]:
        return check(plan)

    def render(self, plan: FlowPlan, settings: Settings) -> tuple[str, list[Diagnostic]]:
        docs, problems = documents(plan, settings)
        return render(docs), problems + _size_diagnostics(plan, docs)


def _size_diagnostics(plan: FlowPlan, docs: list[dict[str, Any]]) -> list[Diagnostic]:
    """Objects the API server would refuse for their size (measured as the JSON it stores)."""
    out = []
    for doc in docs:
        size = len(json.dumps(doc, separators=(",", ":")).encode("utf-8"))
        if size > OBJECT_LIMIT:
            out.append(Diagnostic(TOO_LARGE, f"the {doc['kind']} is {size:,} bytes, over the "
                                  f"{OBJECT_LIMIT:,} bytes etcd stores", plan.flow.span, ERROR,
                                  "split the flow into smaller flows"))
    return out
