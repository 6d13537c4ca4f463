"""The middle end: one resolved, target-neutral plan for every step of a checked flow.

Decorators say what a step wants in Metaflow's vocabulary, several of them about the same thing
(``@resources`` and ``@kubernetes`` both size a step; ``@pypi`` overrides ``@pypi_base``). This
pass decides each meaning once, the way Metaflow decides it, so the targets only format the
result: no target merges decorators, converts units or walks the graph for a fact.

- **Resources**: for each attribute set by several of ``@resources``, ``@kubernetes`` and
  ``@batch``, the larger value wins; unset attributes take Metaflow's defaults (1 cpu, 4096 MiB
  memory, 10240 MiB disk). Units are converted here, with ``compiler.quantities``.
- **Graph facts**: node kind, the split a join closes and the join a split opens, the foreach
  stack (one index-path entry per enclosing foreach or parallel step), a topological order.
- **Constructs**: every construct the flow uses, with its source span, so that a target's
  capability table (data) produces its "not supported here" diagnostics in one place.

Standard library only, like the IR: the runtime shim may read plans too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flowc.compiler import cron, graph, ir
from flowc.runtime_shim import environment, step_env
from flowc.compiler.quantities import cpu_cores, mebibytes

# Metaflow's defaults for a step that sets nothing (@resources / @kubernetes defaults).
DEFAULT_CPU = 1.0
DEFAULT_MEMORY_MIB = 4096
DEFAULT_DISK_MIB = 10240
DEFAULT_GPU_VENDOR = "nvidia"

# The constructs a capability table speaks of, in the order `flowc targets` prints them.
CONSTRUCTS: tuple[tuple[str, str], ...] = (
    ("linear", "linear steps"),
    ("split", "static branches and their join"),
    ("foreach", "foreach fan-out and join"),
    ("foreach_multi_step", "foreach with a multi-step body"),
    ("nested_foreach", "foreach inside a foreach"),
    ("switch", "switch (self.next({...}, condition=...))"),
    ("recursion", "a switch step looping to itself"),
    ("parallel", "@parallel / num_parallel gangs"),
    ("parameters", "Parameter / JSONType"),
    ("include_file", "IncludeFile"),
    ("retry", "@retry"),
    ("catch", "@catch"),
    ("timeout", "@timeout"),
    ("resources", "@resources"),
    ("kubernetes", "@kubernetes"),
    ("batch", "@batch"),
    ("environment", "@environment"),
    ("secrets", "@secrets"),
    ("python_environment", "@pypi / @conda (and their _base forms)"),
    ("card", "@card"),
    ("schedule", "@schedule"),
    ("trigger", "@trigger"),
    ("trigger_on_finish", "@trigger_on_finish"),
    ("project", "@project"),
    ("exit_hook", "@exit_hook"),
)
CONSTRUCT_NAMES = frozenset(name for name, _ in CONSTRUCTS)

# Decorator tag -> the construct it is.
_DECORATOR_CONSTRUCTS = {
    "retry": "retry", "catch": "catch", "timeout": "timeout", "resources": "resources",
    "kubernetes": "kubernetes", "batch": "batch", "environment": "environment",
    "secrets": "secrets", "card": "card", "pypi": "python_environment", "conda": "python_environment",
    "pypi_base": "python_environment", "conda_base": "python_environment", "parallel": "parallel",
    "schedule": "schedule", "trigger": "trigger", "trigger_on_finish": "trigger_on_finish",
    "project": "project", "exit_hook": "exit_hook",
}


# --------------------------------------------------------------------------- step records


@dataclass(frozen=True, slots=True)
class Resources:
    """What a step's container asks for, in one set of units."""

    cpu: float = DEFAULT_CPU  # cores
    memory_mib: int = DEFAULT_MEMORY_MIB
    disk_mib: int = DEFAULT_DISK_MIB
    gpu: int = 0
    gpu_vendor: str = DEFAULT_GPU_VENDOR
    shared_memory_mib: int | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    times: int
    delay_seconds: int


@dataclass(frozen=True, slots=True)
class CatchPolicy:
    var: str | None
    print_exception: bool


@dataclass(frozen=True, slots=True)
class PythonEnvironment:
    """The packages a step runs with: the step's @pypi/@conda over the flow's _base form."""

    manager: str  # "pypi" | "conda"
    python: str | None
    packages: tuple[tuple[str, str], ...]  # (name, version spec), sorted by name
    span: ir.Span
    problem: str | None = None  # why it cannot be built (the compile error's message)


@dataclass(frozen=True, slots=True)
class Pod:
    """Kubernetes-only settings of a step (@kubernetes)."""

    service_account: str | None = None
    namespace: str | None = None
    image_pull_policy: str | None = None
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[tuple[tuple[str, Any], ...], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()  # Kubernetes secret names, exposed with envFrom
    span: ir.Span = ir.NO_SPAN


@dataclass(frozen=True, slots=True)
class BatchJob:
    """AWS Batch-only settings of a step (@batch)."""

    queue: str | None = None
    image: str | None = None
    iam_role: str | None = None
    execution_role: str | None = None
    shared_memory: int | None = None
    max_swap: int | None = None
    swappiness: int | None = None
    span: ir.Span = ir.NO_SPAN


@dataclass(frozen=True, slots=True)
class StepPlan:
    """Everything a target needs about one step, decided once."""

    step: ir.Step
    kind: str  # start | linear | split | foreach | parallel | switch | join | end
    opener: str | None  # for a join: the split, foreach or parallel step it closes
    closer: str | None  # for a split, foreach or parallel step: its join
    foreach_stack: tuple[str, ...]  # enclosing foreach/parallel steps, outermost first
    resources: Resources
    image: str | None  # the step's own image; None means the deployment's image
    environment: tuple[tuple[str, str], ...]  # @environment, as the text the process sees
    secret_sources: tuple[str, ...]  # @secrets sources, resolved by the shim
    secret_problems: tuple[str, ...]  # why a source cannot be resolved (one compile error each)
    retry: RetryPolicy | None
    timeout_seconds: int | None
    catch: CatchPolicy | None
    python_environment: PythonEnvironment | None
    pod: Pod | None
    batch: BatchJob | None

    @property
    def name(self) -> str:
        return self.step.name

    @property
    def fans_out(self) -> bool:
        """A foreach or parallel step: its children run as indexed tasks."""
        return self.step.fans_out

    @property
    def indexed(self) -> bool:
        """Whether the step's tasks carry an index path (it runs inside a foreach)."""
        return bool(self.foreach_stack)


# --------------------------------------------------------------------------- flow records


@dataclass(frozen=True, slots=True)
class Schedule:
    """``@schedule`` as every engine can read it; a form is ``None`` when it cannot be written."""

    expression: str  # as the user wrote it (or the macro daily/hourly/weekly resolves to)
    unix: str | None  # 5-field cron (Argo, Airflow, Kubernetes)
    aws: str | None  # EventBridge ``cron(...)``
    timezone: str | None
    span: ir.Span


@dataclass(frozen=True, slots=True)
class Trigger:
    """One event (``kind="event"``) or upstream flow (``kind="flow"``) that starts a run.

    ``name`` is ``None`` when it is not a string known at compile time; ``parameters`` maps a
    flow parameter to the payload field it takes; ``options`` names keys beyond name and
    parameters (project, branch, ...) that a target may not carry.
    """

    kind: str
    name: str | None
    parameters: tuple[tuple[str, str], ...]
    options: tuple[str, ...]
    span: ir.Span
    tag: str  # the decorator: trigger | trigger_on_finish


@dataclass(frozen=True, slots=True)
class Use:
    """One use of a construct, for the capability check: ``detail`` names it for a message."""

    construct: str
    detail: str
    span: ir.Span


@dataclass(frozen=True, slots=True)
class FlowPlan:
    flow: ir.Flow
    steps: tuple[StepPlan, ...]  # source order
    order: tuple[str, ...]  # topological, ties broken by source order
    schedule: Schedule | None
    triggers: tuple[Trigger, ...]
    uses: tuple[Use, ...]
    # sha256 of the `flowc lock` file the tasks must install from ("none": built unlocked), for a
    # flow with step environments; the build sets it (the plan reads no files)
    lock_sha256: str | None = None
    _by_name: dict[str, StepPlan] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.steps})

    def step(self, name: str) -> StepPlan:
        return self._by_name[name]

    @property
    def name(self) -> str:
        return self.flow.name

    @property
    def project(self) -> ir.Project | None:
        return self.flow.decorator(ir.Project)

    @property
    def exit_hook(self) -> ir.ExitHook | None:
        return self.flow.decorator(ir.ExitHook)

    def payload_mapping(self, trigger: Trigger) -> tuple[tuple[str, str], ...]:
        """(parameter, payload field) pairs an event trigger maps. As on Metaflow's Argo, a flow
        whose only trigger is one event without a mapping takes every parameter from the payload
        field of its name (the engines with event payloads use this; Airflow has none)."""
        if trigger.parameters or trigger.kind != "event" or len(self.triggers) != 1:
            return trigger.parameters
        return tuple((p.name, p.name) for p in self.flow.parameters)


# --------------------------------------------------------------------------- lowering


def build(flow: ir.Flow, lock_sha256: str | None = None) -> FlowPlan:
    """The plan of an analyzed, checked flow; ``lock_sha256`` is the hash of the flow's lock file
    (None when there is none)."""
    steps = tuple(_step_plan(flow, step) for step in flow.steps)
    has_environments = any(s.python_environment is not None for s in steps)
    return FlowPlan(
        flow=flow,
        steps=steps,
        order=graph.topological_order(flow),
        schedule=_schedule(flow),
        triggers=_triggers(flow),
        uses=_uses(flow),
        lock_sha256=(lock_sha256 or "none") if has_environments else None,
    )


def _step_plan(flow: ir.Flow, step: ir.Step) -> StepPlan:
    kube: ir.Kubernetes | None = step.decorator(ir.Kubernetes)
    batch: ir.Batch | None = step.decorator(ir.Batch)
    env: ir.Environment | None = step.decorator(ir.Environment)
    secrets: ir.Secrets | None = step.decorator(ir.Secrets)
    retry: ir.Retry | None = step.decorator(ir.Retry)
    timeout: ir.Timeout | None = step.decorator(ir.Timeout)
    catch: ir.Catch | None = step.decorator(ir.Catch)
    return StepPlan(
        step=step,
        kind=node_kind(step),
        opener=step.opener,
        closer=step.matching_join,
        foreach_stack=graph.foreach_stack(flow, step),
        resources=resources(step),
        image=(kube.image if kube is not None and kube.image else None)
        or (batch.image if batch is not None and batch.image else None),
        environment=tuple((str(k), environment_text(v)) for k, v in env.vars) if env else (),
        secret_sources=tuple(str(s) for s in secrets.sources) if secrets else (),
        secret_problems=secret_problems(secrets.sources if secrets else ()),
        retry=RetryPolicy(int(retry.times), round(float(retry.minutes_between_retries) * 60))
        if retry is not None and retry.times > 0 else None,
        timeout_seconds=timeout.total_seconds if timeout is not None and timeout.total_seconds > 0 else None,
        catch=CatchPolicy(catch.var, catch.print_exception) if catch is not None else None,
        python_environment=python_environment(flow, step),
        pod=_pod(kube) if kube is not None else None,
        batch=BatchJob(batch.queue, batch.image, batch.iam_role, batch.execution_role,
                       batch.shared_memory, batch.max_swap, batch.swappiness, batch.span)
        if batch is not None else None,
    )


def secret_problems(sources: tuple[str, ...]) -> tuple[str, ...]:
    """The sources the shim could not resolve (``env:``, ``file:`` and AWS Secrets Manager are
    read; an unknown provider is refused), as the shim itself classifies them."""
    out = []
    for source in sources:
        try:
            step_env.classify_source(str(source))
        except step_env.SecretsError as exc:
            out.append(str(exc))
    return tuple(out)


def node_kind(step: ir.Step) -> str:
    """Metaflow's node type, with gangs told apart from foreach."""
    transition = step.transition
    if isinstance(transition, ir.End):
        return "end"
    if step.is_join:
        return "join"
    for cls, kind in ((ir.Foreach, "foreach"), (ir.Parallel, "parallel"), (ir.Switch, "switch"),
                      (ir.Split, "split")):
        if isinstance(transition, cls):
            return kind
    return "start" if step.name == "start" else "linear"


def resources(step: ir.Step) -> Resources:
    """@resources with @kubernetes / @batch: per attribute, the largest value set wins (Metaflow's
    ``compute_resource_attributes``); an attribute nobody sets keeps Metaflow's default."""
    decos = [d for d in (step.decorator(ir.Resources), step.decorator(ir.Kubernetes),
                         step.decorator(ir.Batch)) if d is not None]
    cpu = [cpu_cores(d.cpu) for d in decos if d.cpu is not None]
    memory = [mebibytes(d.memory) for d in decos if d.memory is not None]
    disk = [mebibytes(d.disk, "disk") for d in decos if getattr(d, "disk", None) is not None]
    gpu = [int(d.gpu) for d in decos if d.gpu]
    shm = [int(d.shared_memory) for d in decos if d.shared_memory]
    kube: ir.Kubernetes | None = step.decorator(ir.Kubernetes)
    return Resources(
        cpu=max(cpu, default=DEFAULT_CPU),
        memory_mib=max(memory, default=DEFAULT_MEMORY_MIB),
        disk_mib=max(disk, default=DEFAULT_DISK_MIB),
        gpu=max(gpu, default=0),
        gpu_vendor=(kube.gpu_vendor.lower() if kube is not None else DEFAULT_GPU_VENDOR),
        shared_memory_mib=max(shm, default=None),
    )


def environment_text(value: Any) -> str:
    """An @environment value as the step's process sees it: strings as they are, scalars as
    ``str()`` gives them (what the shim sets locally), lists and mappings as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return json.dumps(ir.plain_value(value), separators=(",", ":"))
    return str(value)


def python_environment(flow: ir.Flow, step: ir.Step) -> PythonEnvironment | None:
    """The step's @pypi/@conda over the flow's @pypi_base/@conda_base: the rule the shim applies
    when it builds the environment (``runtime_shim.environment.environment_spec``), so what a
    spec says and what runs cannot differ. ``problem`` says why the shim would refuse it."""
    deco = next((d for d in step.decorators if isinstance(d, (ir.Pypi, ir.Conda))), None)
    base = next((d for d in flow.decorators if isinstance(d, (ir.PypiBase, ir.CondaBase))), None)
    span = (deco or base or step).span
    try:
        spec = environment.environment_spec(flow, step)
        if spec is not None:
            environment.requirements(spec)  # refuses conda-only packages by name
    except environment.StepEnvironmentError as exc:
        return PythonEnvironment("", None, (), span, problem=str(exc))
    if spec is None:
        return None
    return PythonEnvironment(spec.kind, spec.python, spec.packages, span)


def _pod(kube: ir.Kubernetes) -> Pod:
    return Pod(
        service_account=kube.service_account,
        namespace=kube.namespace,
        image_pull_policy=kube.image_pull_policy,
        node_selector=tuple(kube.node_selector or ()),
        tolerations=tuple(kube.tolerations or ()),
        labels=tuple(kube.labels or ()),
        annotations=tuple(kube.annotations or ()),
        secrets=tuple(dict.fromkeys(kube.secrets or ())),
        span=kube.span,
    )


def _schedule(flow: ir.Flow) -> Schedule | None:
    deco: ir.Schedule | None = flow.decorator(ir.Schedule)
    if deco is None:
        return None
    expression = deco.cron_expression
    return Schedule(expression, cron.to_unix(expression), cron.to_aws(expression), deco.timezone,
                    deco.span)


def _mapping(value: Any) -> dict[str, Any] | None:
    """A literal mapping from the IR (tuples of pairs), or None."""
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return {str(k): v for k, v in value}
    return None


def _triggers(flow: ir.Flow) -> tuple[Trigger, ...]:
    out: list[Trigger] = []
    for deco in flow.decorators:
        if isinstance(deco, ir.Trigger):
            kind, items = "event", ([deco.event] if deco.event is not None else []) + list(deco.events)
        elif isinstance(deco, ir.TriggerOnFinish):
            kind, items = "flow", ([deco.flow] if deco.flow is not None else []) + list(deco.flows)
        else:
            continue
        for item in items:
            out.append(_trigger(kind, item, deco))
    return tuple(out)


def _trigger(kind: str, item: Any, deco: ir.Trigger | ir.TriggerOnFinish) -> Trigger:
    if isinstance(item, str):
        return Trigger(kind, item or None, (), (), deco.span, deco.tag)
    fields = _mapping(item)
    if fields is None:
        return Trigger(kind, None, (), (), deco.span, deco.tag)
    name = fields.get("name")
    raw_params = fields.get("parameters", ())
    params = _mapping(raw_params) if raw_params else {}
    if params is None:  # a list of names: each parameter takes the payload field of its name
        params = {str(p): str(p) for p in raw_params} if isinstance(raw_params, tuple) else {}
    options = tuple(sorted(set(fields) - {"name", "parameters"}))
    return Trigger(kind, name if isinstance(name, str) and name else None,
                   tuple((str(k), str(v)) for k, v in params.items()), options, deco.span, deco.tag)


def _uses(flow: ir.Flow) -> tuple[Use, ...]:
    out = [Use("linear", "linear steps", flow.span)]
    for step in flow.steps:
        out += _transition_uses(flow, step)
        for deco in step.decorators:
            construct = _DECORATOR_CONSTRUCTS.get(deco.tag)
            if construct is not None:
                out.append(Use(construct, f"@{deco.tag} on step {step.name!r}", deco.span))
    for deco in flow.decorators:
        construct = _DECORATOR_CONSTRUCTS.get(deco.tag)
        if construct is not None:
            out.append(Use(construct, f"@{deco.tag}", deco.span))
    for param in flow.parameters:
        construct = "include_file" if param.include_file else "parameters"
        out.append(Use(construct, f"parameter {param.name!r}", param.span))
    return tuple(out)


def _transition_uses(flow: ir.Flow, step: ir.Step) -> list[Use]:
    transition = step.transition
    span = step.next_span or step.span
    where = f"in step {step.name!r}"
    if isinstance(transition, ir.Split):
        return [Use("split", f"a split {where}", span)]
    if isinstance(transition, ir.Parallel):
        return [Use("parallel", f"num_parallel {where}", span)]
    if isinstance(transition, ir.Switch):
        uses = [Use("switch", f"a switch {where}", span)]
        if step.is_recursive:
            uses.append(Use("recursion", f"recursion {where}", span))
        return uses
    if isinstance(transition, ir.Foreach):
        uses = [Use("foreach", f"a foreach {where}", span)]
        if graph.foreach_stack(flow, step):
            uses.append(Use("nested_foreach", f"a nested foreach {where}", span))
        if not flow.step(transition.target).is_join and \
                flow.step(transition.target).transition.targets != (step.matching_join,):
            uses.append(Use("foreach_multi_step", f"a multi-step foreach body {where}", span))
        return uses
    return []
