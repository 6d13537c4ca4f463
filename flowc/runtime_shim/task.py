"""Running one task: load the parents' artifacts, run the step, save, report.

``run_task(TaskRequest) -> TaskResult`` is the whole shim; the ``python -m flowc.runtime_shim``
command line and ``flowc run`` both call it. It never exits the process and never redirects
output (the caller captures stdout/stderr and stores them with ``Datastore.save_log``).

Order of writes for a successful task: artifact blobs, the attempt record, the side files
(``foreach_indices.json``, ``switch_case.json``), then ``DONE.json`` last, then the side-channel
directory. A task killed at any point before ``DONE.json`` does not exist for any reader.
"""

from __future__ import annotations

import os
import socket
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from flowc.compiler import ir
from flowc.config import artifacts as config_artifacts
from flowc.current import Parallel, current
from flowc.decorators import DecoratorSpec, flow_decorators
from flowc.exceptions import CaughtException, FlowcException, InvalidNextError, ParameterError
from flowc.flowspec import FOREACH_STACK, STATE_ATTR, FlowSpec, ForeachFrame, Inputs, TaskState
from flowc.runtime_shim import graph, params
from flowc.runtime_shim.datastore import ArtifactRef, Datastore, TaskKey, endpoint_fields, now
from flowc.runtime_shim.ids import task_id as make_task_id
from flowc.runtime_shim.step_env import enforce_timeout, resolve_secrets, task_environment
from flowc.runtime_shim.trigger import Trigger
from flowc.user_decorators import auto_next_for, call_step

_IMMUTABLE = (bytes, str, int, float, bool, complex, type(None), frozenset)


@dataclass(frozen=True)
class TaskRequest:
    """Everything one task needs; ``flow_class`` is already imported (preload, then fork)."""

    flow_class: type[FlowSpec]
    manifest: ir.Flow
    step: str
    run_id: str
    datastore: Datastore
    index_path: tuple[int, ...] = ()
    iteration: int = 0
    attempt: int = 0
    params: Mapping[str, str] = field(default_factory=dict)  # start step only
    side_channel_dir: str | None = None
    origin_run_id: str | None = None
    trigger: list[dict[str, Any]] | None = None  # start step only: the events that started the run

    @property
    def task_id(self) -> str:
        return make_task_id(self.index_path, self.iteration)

    @property
    def key(self) -> TaskKey:
        return TaskKey(self.manifest.name, self.run_id, self.step, self.task_id)


@dataclass(frozen=True)
class TaskResult:
    """What the orchestrator needs: success, the error text, and the fan-out/switch facts.

    ``retryable`` is False on the last attempt (per @retry.times) and for errors no retry can fix.
    """

    ok: bool
    pathspec: str
    attempt: int
    error: str | None = None
    error_type: str | None = None
    retryable: bool = False
    caught: bool = False
    foreach_width: int | None = None
    next_step: str | None = None


class StepError(FlowcException):
    """A step broke the graph's rules at run time (no self.next, empty foreach, unknown case)."""


def max_attempts(node: ir.Step) -> int:
    retry = node.decorator(ir.Retry)
    return 1 + (int(retry.times) if retry is not None else 0)


def _decorator_kwargs(node: ir.Step, func: Any, cls: type, name: str) -> dict[str, Any] | None:
    """The manifest's record: what was compiled, mutators' edits and config values included
    (the decorator as written on ``func`` may differ: a mutator may have changed or removed it)."""
    record = node.decorator(cls)
    if record is None:
        return None
    return {f.name: getattr(record, f.name) for f in ir.decorator_arguments(cls)}


def _project_fields(request: TaskRequest) -> dict[str, Any]:
    spec: DecoratorSpec | None = next(
        (d for d in flow_decorators(request.flow_class) if d.name == "project"), None)
    record = request.manifest.decorator(ir.Project)
    name = spec.get("name") if spec else (record.name if record else None)
    if not name:
        return {}
    deployed = os.environ.get(params.BRANCH_ENV)  # the branch the spec was compiled for, on an engine
    if deployed:
        branch_name = deployed
    else:
        branch = spec.get("branch") if spec else record.branch
        production = bool(spec.get("production", False) if spec else record.production)
        branch_name = ir.Project(name, branch, production).branch_name(params.username())
    production = branch_name == "prod" or branch_name.startswith("prod.")
    return {"project_name": name, "branch_name": branch_name, "is_production": production,
            "project_flow_name": f"{name}.{branch_name}.{request.manifest.name}"}


def system_tags(request: TaskRequest) -> list[str]:
    """Metaflow's system tags of a run: the user (its default namespace), the runtime, the
    date, and with @project the project, branch and, in production, the production token."""
    import datetime
    import platform

    tags = [f"user:{params.username()}", "runtime:dev", f"python_version:{platform.python_version()}",
            f"date:{datetime.date.today().isoformat()}"]
    project = _project_fields(request)
    if project:
        tags += [f"project:{project['project_name']}", f"project_branch:{project['branch_name']}"]
        if project["is_production"]:
            tags.append(production_namespace(project))
    return sorted(tags)


def production_namespace(project: Mapping[str, Any]) -> str:
    """The namespace of a production deployment: its project flow name is the token."""
    return f"production:{project['project_flow_name']}"


def _run_facts(request: TaskRequest) -> dict[str, Any]:
    """``current``'s run-level fields (tags, namespace, trigger) from run.json."""
    record = request.datastore.read_run(request.manifest.name, request.run_id) or {}
    project = _project_fields(request)
    default = production_namespace(project) if project.get("is_production") else f"user:{params.username()}"
    tags = set(record.get("tags") or ())  # Metaflow's current.tags: the run's user tags only
    return {"tags": tags, "namespace": record.get("namespace", default),
            "trigger": Trigger.from_record(record.get("trigger"))}


def _item_at(items: Any, index: int) -> Any:
    try:
        return items[index]
    except TypeError:
        return list(items)[index]


class _Task:
    """One execution of run_task; holds what the helpers share."""

    def __init__(self, request: TaskRequest):
        self.request = request
        self.ds = request.datastore
        self.flow = request.manifest
        self.node = request.manifest.step(request.step)
        self.key = request.key
        self.param_names = params.parameter_names(request.flow_class, request.manifest)
        # configs are stored and inherited like parameters (artifacts named by attribute)
        self.constant_names = (*self.param_names, *(c.attribute for c in request.manifest.configs))

    def loader(self, name: str, ref: ArtifactRef) -> Any:
        return self.ds.load_artifact(self.flow.name, name, ref)

    def view(self, parent: graph.ParentTask, read_only_label: str) -> FlowSpec:
        refs = {name: ArtifactRef.from_json(r) for name, r in parent.done["artifacts"].items()}
        state = TaskState(parent.step, refs, self.loader, task_label=read_only_label)
        return self.request.flow_class._flowc_new(state)

    # ------------------------------------------------------------------ building the instance

    def build(self) -> tuple[FlowSpec, list[graph.ParentTask]]:
        request = self.request
        if self.node.name == self.flow.start_step or not self.node.in_steps:
            values = params.resolve_parameters(request.flow_class, self.flow, request.params)
            state = TaskState(self.node.name, {}, self.loader, parameter_names=self.constant_names,
                              task_label=self.key.pathspec)
            instance = request.flow_class._flowc_new(state)
            instance.__dict__.update(values)
            instance.__dict__.update(config_artifacts(self.flow.configs))
            instance.__dict__[FOREACH_STACK] = []
            self._record_run(values)
            return instance, []
        if request.params:
            raise StepError(f"--param is only accepted by the start step, not {self.node.name!r}")
        parents = graph.resolve_parents(self.ds, self.flow, request.run_id, self.node.name,
                                        request.index_path, request.iteration)
        if self.node.is_join and request.iteration == 0:
            return self._build_join(parents), parents
        parent = parents[0]
        refs = {name: ArtifactRef.from_json(r) for name, r in parent.done["artifacts"].items()}
        state = TaskState(self.node.name, refs, self.loader, parameter_names=self.constant_names,
                          task_label=self.key.pathspec)
        instance = request.flow_class._flowc_new(state)
        splitter = self.flow.step(parent.step)
        if graph.fans_out_to(splitter, self.node.name) and parent.step != self.node.name:
            index = request.index_path[-1]
            width = graph.foreach_width(parent.done, parent.step)
            if index >= width:
                raise StepError(f"index {index} is outside the foreach of {parent.step!r} (width {width})")
            transition = splitter.transition
            if isinstance(transition, ir.Foreach):
                items = self.loader(transition.items, refs[transition.items])
                frame = ForeachFrame(parent.step, transition.items, width, index, _item_at(items, index))
            else:
                frame = ForeachFrame(parent.step, None, width, index, index)
            stack = list(getattr(instance, FOREACH_STACK, []) if FOREACH_STACK in refs else [])
            instance.__dict__[FOREACH_STACK] = [*stack, frame]
        return instance, parents

    def _build_join(self, parents: list[graph.ParentTask]) -> FlowSpec:
        views = [self.view(p, f"{self.flow.name}/{self.request.run_id}/{p.step}/{p.task_id}")
                 for p in parents]
        first = parents[0].done["artifacts"]
        refs = {name: ArtifactRef.from_json(first[name]) for name in self.constant_names if name in first}
        state = TaskState(self.node.name, refs, self.loader, is_join=True, inputs=Inputs(views),
                          parameter_names=self.constant_names, task_label=self.key.pathspec)
        instance = self.request.flow_class._flowc_new(state)
        stack = views[0]._flowc_frames()
        split = graph.split_of(self.flow, self.node.name)
        if split is not None and split.fans_out:
            stack = stack[:-1]
        instance.__dict__[FOREACH_STACK] = stack
        return instance

    def _record_run(self, values: Mapping[str, Any]) -> None:
        """run.json's ``parameters``: JSON values as they are, others as repr; an IncludeFile as
        its size (the content is the artifact, not a field of the run record)."""
        included = {p.attribute for p in params.declared_parameters(self.request.flow_class, self.flow)
                    if p.include_file}
        shown: dict[str, Any] = {}
        for name, value in values.items():
            if name in included and value is not None:
                shown[name] = f"<IncludeFile: {len(value)} {'characters' if isinstance(value, str) else 'bytes'}>"
            elif isinstance(value, (str, int, float, bool, type(None), list, dict)):
                shown[name] = value
            else:
                shown[name] = repr(value)
        record = self.ds.read_run(self.flow.name, self.request.run_id) or {}
        record.setdefault("flow", self.flow.name)
        record.setdefault("run_id", self.request.run_id)
        record.setdefault("created_at", now())
        record.setdefault("status", "running")
        record.setdefault("system_tags", system_tags(self.request))
        record["parameters"] = shown
        record.update(endpoint_fields(self.flow.start_step, self.flow.end_step))
        if self.request.origin_run_id:
            record["origin_run_id"] = self.request.origin_run_id
        if self.request.trigger:
            record["trigger"] = self.request.trigger
        self.ds.write_run(self.flow.name, self.request.run_id, record)

    # ------------------------------------------------------------------ transitions

    def transition_facts(self, instance: FlowSpec, called: bool) -> dict[str, Any]:
        """Check ``self.next`` against the manifest; compute the foreach width or switch case."""
        name = self.node.name
        transition = self.node.transition
        state: TaskState = instance.__dict__[STATE_ATTR]
        call = state.next_call
        if isinstance(transition, ir.End):
            if call is not None:
                raise InvalidNextError(f"the end step {name!r} must not call self.next()")
            return {}
        if call is None:
            if called:
                raise StepError(f"step {name!r} finished without calling self.next()")
        elif called and not isinstance(transition, ir.Switch) and call.targets != transition.targets:
            raise InvalidNextError(f"step {name!r} called self.next({', '.join(call.targets)}) but "
                                   f"the compiled flow goes to {', '.join(transition.targets)}; recompile")
        if isinstance(transition, ir.Foreach):
            try:
                items = getattr(instance, transition.items)
            except AttributeError:
                raise StepError(f"foreach in step {name!r}: artifact {transition.items!r} is not set") from None
            try:
                width = len(items)
            except TypeError:
                width = len(list(items))
            if width == 0:
                raise StepError(f"foreach in step {name!r} over {transition.items!r} is empty: "
                                "there is nothing to run (guard it with a switch)")
            return {"foreach": {"width": width, "var": transition.items}}
        if isinstance(transition, ir.Parallel):
            return {"foreach": {"width": _parallel_width(name, transition, call), "var": None}}
        if isinstance(transition, ir.Switch):
            try:
                value = getattr(instance, transition.condition)
            except AttributeError:
                raise StepError(f"switch in step {name!r}: condition artifact "
                                f"{transition.condition!r} is not set") from None
            case = value if isinstance(value, str) else str(value)
            cases = dict(transition.cases)
            if case not in cases:
                raise StepError(f"switch in step {name!r}: {transition.condition} is {value!r}, which "
                                f"has no case (cases: {', '.join(cases)})")
            return {"switch": {"case": case, "next_step": cases[case]}}
        return {}

    # ------------------------------------------------------------------ saving

    def save(self, instance: FlowSpec) -> dict[str, ArtifactRef]:
        state: TaskState = instance.__dict__[STATE_ATTR]
        out: dict[str, ArtifactRef] = {}
        for name, ref in state.refs.items():
            if name not in instance.__dict__:
                out[name] = ref
        for name, value in instance.__dict__.items():
            if name == STATE_ATTR:
                continue
            loaded = state.loaded.get(name)
            if loaded is not None and loaded[1] is value and isinstance(value, _IMMUTABLE):
                out[name] = loaded[0]
            else:
                out[name] = self.ds.save_artifact(self.flow.name, name, value)
        return dict(sorted(out.items()))


def _attempt_meta(request: TaskRequest, status: str, started: float, **extra: Any) -> dict[str, Any]:
    return {"pathspec": request.key.pathspec, "attempt": request.attempt, "status": status,
            "started_at": started, "host": socket.gethostname(), "pid": os.getpid(), **extra}


def write_side_channels(directory: str, facts: Mapping[str, Any]) -> None:
    """Plain files without a trailing newline (docs/contracts.md section 4)."""
    os.makedirs(directory, exist_ok=True)
    files: dict[str, str] = {}
    if facts.get("foreach"):
        width = facts["foreach"]["width"]
        files["foreach_width"] = str(width)
        files["foreach_indices"] = "[" + ",".join(str(i) for i in range(width)) + "]"
    if facts.get("switch"):
        files["switch_case"] = facts["switch"]["case"]
        files["next_step"] = facts["switch"]["next_step"]
    for name, text in files.items():
        temp = os.path.join(directory, f".{name}.tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, os.path.join(directory, name))


def run_task(request: TaskRequest) -> TaskResult:
    """Run one attempt of one task. Never raises for a failing step; never calls sys.exit."""
    started = now()
    last_attempt = True
    try:
        last_attempt = request.attempt + 1 >= max_attempts(request.manifest.step(request.step))
        prepared = _prepare(request, started)
    except Exception as exc:  # noqa: BLE001 - reported to the orchestrator
        return _failed(request, started, exc, last_attempt)
    try:
        facts, caught = _run_step(prepared, last_attempt)
    except _StepFailed as failure:
        current._clear()
        _close_live_cards(prepared.cards)
        return _failed(request, started, failure.cause, last_attempt)
    current._clear()
    _close_live_cards(prepared.cards)
    try:
        _record_success(prepared, facts, caught, started)
    except Exception as exc:  # noqa: BLE001 - a failed save is a failed attempt
        return _failed(request, started, exc, last_attempt)
    foreach = facts.get("foreach")
    switch = facts.get("switch")
    return TaskResult(ok=True, pathspec=request.key.pathspec, attempt=request.attempt, caught=caught,
                      foreach_width=foreach["width"] if foreach else None,
                      next_step=switch["next_step"] if switch else None)


def _card_specs(node: ir.Step, func: Any) -> list[Any]:
    """The step's ``@card`` decorators (a step may have several), as compiled: the manifest is
    where decorator arguments come from at run time (mutators and configs included)."""
    given = [{f.name: getattr(d, f.name) for f in ir.decorator_arguments(ir.Card)}
             for d in node.decorators if isinstance(d, ir.Card)]
    if not given:
        return []
    from flowc.runtime_shim.cards import CardSpec

    return [CardSpec(type=str(k.get("type") or "default"), id=k.get("id"), options=dict(k.get("options") or {}),
                     timeout=float(k.get("timeout") or 45), refresh_interval=float(k.get("refresh_interval") or 5))
            for k in given]


def _live_cards(request: TaskRequest, instance: FlowSpec, cards: list[Any]) -> None:
    """Let ``current.card.refresh()`` re-render the step's live cards while it runs, from the
    artifacts the step has set so far (runtime_shim.cards.LiveCards)."""
    from flowc.runtime_shim.cards import LIVE_TYPES, LiveCards, TaskFacts, save_cards

    live = [card for card in cards if card.type in LIVE_TYPES]
    if not live:
        return

    def facts() -> TaskFacts:
        values = {name: value for name, value in list(instance.__dict__.items()) if not name.startswith("_")}
        return TaskFacts(request.key.pathspec, request.attempt, request.manifest, request.step, values, final=False)

    renderer = LiveCards(live, facts, lambda pages: save_cards(request.datastore, request.key, pages),
                         min(card.refresh_interval for card in live))
    for card in live:
        card.live = renderer


def _close_live_cards(cards: list[Any]) -> None:
    """No live render is stored after this: the final cards (or, for a failed task, the last
    live ones) stay."""
    for card in cards:
        if card.live is not None:
            card.live.close()


def _render_cards(request: TaskRequest, instance: FlowSpec, artifacts: Mapping[str, ArtifactRef],
                  cards: list[Any]) -> None:
    """Render and store the step's cards before DONE.json; a card never fails the task (a card
    that cannot be rendered is stored as an error card, and a failure to store is a warning)."""
    import sys

    try:
        from flowc.runtime_shim.cards import TaskFacts, not_loaded, render_all, save_cards

        values = {name: instance.__dict__[name] if name in instance.__dict__ else not_loaded(ref.size)
                  for name, ref in artifacts.items() if not name.startswith("_")}
        # an html card's page may be an artifact the step inherited without touching it
        pages = {str(card.options.get("attribute", "html")) for card in cards if card.type == "html"}
        values.update({name: getattr(instance, name) for name in pages & set(artifacts)
                       if name not in instance.__dict__})
        sizes = {name: ref.size for name, ref in artifacts.items()}
        facts = TaskFacts(request.key.pathspec, request.attempt, request.manifest, request.step, values, sizes)
        save_cards(request.datastore, request.key, render_all(cards, facts))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        print(f"warning: the cards of {request.key.pathspec} were not saved: {exc}", file=sys.stderr)


@dataclass(frozen=True)
class _Prepared:
    """A task ready to run: its instance, its step method and the step's run-time decorators."""

    task: _Task
    instance: FlowSpec
    parents: list[graph.ParentTask]
    func: Callable[..., Any]
    catch: dict[str, Any] | None
    timeout_seconds: float
    env: dict[str, str]
    secrets: dict[str, Any] | None
    state: TaskState
    cards: list[Any] = field(default_factory=list)


class _StepFailed(Exception):
    """The step failed and @catch does not apply: ``cause`` is what the attempt reports."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def _prepare(request: TaskRequest, started: float) -> _Prepared:
    """Record the attempt as running, build the instance from the parents, read the step's
    decorators and set ``current``."""
    request.datastore.write_attempt(request.key, request.attempt,
                                    _attempt_meta(request, "running", started))
    task = _Task(request)
    instance, parents = task.build()
    func = getattr(request.flow_class, task.node.name, None)
    if not callable(func):
        raise StepError(f"{request.flow_class.__name__} has no step method {task.node.name!r}; recompile")
    catch = _decorator_kwargs(task.node, func, ir.Catch, "catch")
    timeout = _decorator_kwargs(task.node, func, ir.Timeout, "timeout")
    seconds = (ir.Timeout(**{k: timeout[k] for k in ("seconds", "minutes", "hours")}).total_seconds
               if timeout else 0)
    env_kwargs = _decorator_kwargs(task.node, func, ir.Environment, "environment") or {}
    env = {str(k): str(v) for k, v in dict(env_kwargs.get("vars") or {}).items()}
    secrets = _decorator_kwargs(task.node, func, ir.Secrets, "secrets")
    cards = _card_specs(task.node, func)
    _live_cards(request, instance, cards)
    state: TaskState = instance.__dict__[STATE_ATTR]
    gang = {"parallel": _parallel(instance, task)} if task.node.decorator(ir.ParallelDecorator) else {}
    current._set(flow_name=task.flow.name, run_id=request.run_id, step_name=task.node.name,
                 task_id=request.task_id, retry_count=request.attempt,
                 origin_run_id=request.origin_run_id, parameter_names=list(task.param_names),
                 username=params.username(), **_run_facts(request), **_project_fields(request), **gang,
                 _manifest=request.manifest, _datastore=request.datastore, _cards=cards)
    return _Prepared(task, instance, parents, func, catch, seconds, env, secrets, state, cards)


def _run_step(prepared: _Prepared, last_attempt: bool) -> tuple[dict[str, Any], bool]:
    """Call the step method under its environment, secrets and timeout: its transition facts,
    and whether @catch caught a failure (on the last attempt). Other failures: ``_StepFailed``."""
    instance = prepared.instance
    try:
        env = dict(prepared.env)
        if prepared.secrets and prepared.secrets.get("sources"):
            env.update(resolve_secrets(list(prepared.secrets["sources"]), prepared.secrets.get("role")))
        with task_environment(env), enforce_timeout(prepared.timeout_seconds, prepared.task.key.pathspec):
            # through the user step decorators on it, if any (flowc.user_decorators)
            call_step(prepared.func, instance, prepared.task.node.name,
                      prepared.state.inputs if prepared.state.is_join else None,
                      auto_next_for(instance, prepared.task.node.transition))
        if prepared.catch is not None and prepared.catch.get("var"):
            instance.__dict__[prepared.catch["var"]] = None  # as Metaflow: the var exists, None on success
        return prepared.task.transition_facts(instance, called=True), False
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the step's own failure
        catch = prepared.catch
        if not (catch is not None and last_attempt and not isinstance(exc, StepError)):
            raise _StepFailed(exc) from None
        if catch.get("print_exception", True):
            traceback.print_exception(type(exc), exc, exc.__traceback__)
            print(f"@catch: {prepared.task.key.pathspec} failed on its last attempt; continuing", flush=True)
        if catch.get("var"):
            instance.__dict__[catch["var"]] = CaughtException(exc)
    try:
        return prepared.task.transition_facts(instance, called=False), True
    except Exception as inner:  # noqa: BLE001
        raise _StepFailed(inner) from None


def _record_success(prepared: _Prepared, facts: Mapping[str, Any], caught: bool, started: float) -> None:
    """Save the artifacts, then the attempt record and the task files, then ``DONE.json`` (the
    task exists from here on), the run's end and the side channels."""
    task, request = prepared.task, prepared.task.request
    ds = request.datastore
    artifacts = task.save(prepared.instance)
    if prepared.cards:
        _render_cards(request, prepared.instance, artifacts, prepared.cards)
    done = {"flow": task.flow.name, "run_id": request.run_id, "step": task.node.name,
            "task_id": request.task_id, "index_path": list(request.index_path),
            "iteration": request.iteration, "attempt": request.attempt, "caught": caught,
            "parents": [f"{p.step}/{p.task_id}" for p in prepared.parents],
            "artifacts": {name: ref.to_json() for name, ref in artifacts.items()},
            "foreach": facts.get("foreach"), "switch": facts.get("switch"),
            "finished_at": now()}
    ds.write_attempt(request.key, request.attempt,
                     _attempt_meta(request, "succeeded", started, finished_at=done["finished_at"],
                                   caught=caught))
    if facts.get("foreach"):
        ds.write_task_file(request.key, "foreach_indices.json", list(range(facts["foreach"]["width"])))
    if facts.get("switch"):
        ds.write_task_file(request.key, "switch_case.json", facts["switch"])
    ds.write_done(request.key, done)
    if isinstance(task.node.transition, ir.End):
        ds.update_run(task.flow.name, request.run_id, status="succeeded", finished_at=now())
    if request.side_channel_dir:
        write_side_channels(request.side_channel_dir, facts)


def _parallel(instance: FlowSpec, task: _Task) -> Any:
    """``current.parallel``: the gang's size and this member's index from its foreach frame, the
    control task's id (node 0's, as in Metaflow) and its address from the engine (``gang``), else
    this host."""
    from flowc.runtime_shim.gang import gang_member

    member = gang_member(os.environ)
    main_ip = member.main_ip if member is not None else "127.0.0.1"
    frames = instance._flowc_frames()
    if not frames:
        return Parallel(main_ip, 1, 0, task.key.task_id)
    frame = frames[-1]
    request = task.request  # the control task is node 0 of the same gang
    control = make_task_id(request.index_path[:-1] + (0,), request.iteration)
    return Parallel(main_ip, frame.num_splits, frame.index, control)


def _failed(request: TaskRequest, started: float, exc: BaseException, last_attempt: bool) -> TaskResult:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    retryable = not last_attempt and not isinstance(exc, (StepError, graph.GraphError, ParameterError))
    try:
        request.datastore.write_attempt(request.key, request.attempt, _attempt_meta(
            request, "failed", started, finished_at=now(), error_type=type(exc).__name__,
            error=str(exc), traceback=text))
        if not retryable:
            request.datastore.update_run(request.manifest.name, request.run_id, status="failed",
                                         failed_task=request.key.pathspec, finished_at=now())
    except Exception:  # noqa: BLE001 - the original error matters more
        pass
    return TaskResult(ok=False, pathspec=request.key.pathspec, attempt=request.attempt,
                      error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                      retryable=retryable)


def _parallel_width(step: str, transition: ir.Parallel, call: Any) -> int:
    """The gang size: compiled in, or (``num_parallel=self.x``) the value the step passed."""
    if transition.num_parallel is not None:
        return int(transition.num_parallel)
    width = getattr(call, "num_parallel", None)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise StepError(f"step {step!r}: num_parallel must be a positive integer, got {width!r}")
    return width
