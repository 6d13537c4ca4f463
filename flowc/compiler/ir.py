"""The typed IR: the only contract between the front end and the back ends.

Everything here is a frozen, slotted dataclass holding tuples, so passes share nodes freely and
edit them with ``dataclasses.replace``. The module is standard-library only: the runtime shim
reads the same types back from the JSON manifest (``to_manifest`` / ``from_manifest``) without
pulling in libcst or jinja2.

Decorator records are typed: each field is one of Metaflow's keyword arguments with Metaflow's
default, so ``flowc.decorators`` (the authoring API) and the front end both derive their
signatures from these classes instead of keeping a second table.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

MANIFEST_VERSION = 1

# A JSON-compatible literal: what a statically known argument or default can be.
Value = Any


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node came from; lines and columns are 1-based, as editors show them."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span("<unknown>", 0, 0, 0, 0)


# --------------------------------------------------------------------------- transitions


@dataclass(frozen=True, slots=True)
class Linear:
    """``self.next(self.b)``"""

    target: str
    tag: ClassVar[str] = "linear"

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,)


@dataclass(frozen=True, slots=True)
class Split:
    """``self.next(self.a, self.b)``: static branches, joined later."""

    branches: tuple[str, ...]
    tag: ClassVar[str] = "split"

    @property
    def targets(self) -> tuple[str, ...]:
        return self.branches


@dataclass(frozen=True, slots=True)
class Foreach:
    """``self.next(self.body, foreach="items")``: one body task per element of ``self.items``."""

    target: str
    items: str
    tag: ClassVar[str] = "foreach"

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,)


@dataclass(frozen=True, slots=True)
class Switch:
    """``self.next({"a": self.x, "b": self.y}, condition="attr")``; a case may name the step itself
    (recursion)."""

    condition: str
    cases: tuple[tuple[str, str], ...]  # (case value, target step), in source order
    tag: ClassVar[str] = "switch"

    @property
    def targets(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for _, target in self.cases:
            seen.setdefault(target)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Parallel:
    """``self.next(self.train, num_parallel=4)``: a gang of tasks for a ``@parallel`` step."""

    target: str
    # None: known only at run time (e.g. ``num_parallel=self.nodes``, a Parameter); the task
    # reports the width it passed to ``self.next``, like a foreach's.
    num_parallel: int | None
    tag: ClassVar[str] = "parallel"

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,)


@dataclass(frozen=True, slots=True)
class End:
    """The ``end`` step: no ``self.next``."""

    tag: ClassVar[str] = "end"

    @property
    def targets(self) -> tuple[str, ...]:
        return ()


Transition = Union[Linear, Split, Foreach, Switch, Parallel, End]
TRANSITIONS: tuple[type, ...] = (Linear, Split, Foreach, Switch, Parallel, End)


# --------------------------------------------------------------------------- decorators
#
# Field names and defaults are Metaflow's. ``span`` is always last and keyword-only in spirit.


@dataclass(frozen=True, slots=True)
class Retry:
    times: int = 3
    minutes_between_retries: int | float = 2
    span: Span = NO_SPAN
    tag: ClassVar[str] = "retry"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Catch:
    var: str | None = None
    print_exception: bool = True
    span: Span = NO_SPAN
    tag: ClassVar[str] = "catch"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Timeout:
    seconds: int | float = 0
    minutes: int | float = 0
    hours: int | float = 0
    span: Span = NO_SPAN
    tag: ClassVar[str] = "timeout"
    scope: ClassVar[str] = "step"

    @property
    def total_seconds(self) -> int:
        return int(self.seconds + 60 * self.minutes + 3600 * self.hours)


@dataclass(frozen=True, slots=True)
class Resources:
    cpu: int | float | str = 1
    gpu: int | None = None
    disk: int | str | None = None
    memory: int | str = 4096  # MiB when an integer
    shared_memory: int | None = None
    span: Span = NO_SPAN
    tag: ClassVar[str] = "resources"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Environment:
    vars: tuple[tuple[str, str], ...] = ()
    span: Span = NO_SPAN
    tag: ClassVar[str] = "environment"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Kubernetes:
    cpu: int | float | str = 1
    memory: int | str = 4096
    disk: int | str = 10240
    image: str | None = None
    image_pull_policy: str | None = None
    service_account: str | None = None
    secrets: tuple[str, ...] | None = None
    node_selector: tuple[tuple[str, str], ...] | None = None
    namespace: str | None = None
    gpu: int | None = None
    gpu_vendor: str = "nvidia"
    tolerations: tuple[tuple[tuple[str, Value], ...], ...] = ()
    labels: tuple[tuple[str, str], ...] | None = None
    annotations: tuple[tuple[str, str], ...] | None = None
    shared_memory: int | None = None
    span: Span = NO_SPAN
    tag: ClassVar[str] = "kubernetes"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Batch:
    cpu: int | float | str = 1
    gpu: int | None = None
    memory: int | str = 4096
    image: str | None = None
    queue: str | None = None
    iam_role: str | None = None
    execution_role: str | None = None
    shared_memory: int | None = None
    max_swap: int | None = None
    swappiness: int | None = None
    span: Span = NO_SPAN
    tag: ClassVar[str] = "batch"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Secrets:
    """``sources`` name secrets; at run time flowc resolves ``env:NAME`` and ``file:PATH`` sources."""

    sources: tuple[str, ...] = ()
    role: str | None = None
    span: Span = NO_SPAN
    tag: ClassVar[str] = "secrets"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Card:
    type: str = "default"
    id: str | None = None
    options: tuple[tuple[str, Value], ...] = ()
    timeout: int = 45
    save_errors: bool = True
    refresh_interval: int = 5  # seconds between live renders (current.card.refresh())
    span: Span = NO_SPAN
    tag: ClassVar[str] = "card"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class _PypiArguments:
    """@pypi's arguments; @pypi_base takes the same ones at flow level."""

    packages: tuple[tuple[str, str], ...] = ()
    python: str | None = None
    disabled: bool | None = None
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class _CondaArguments:
    """@conda's arguments; @conda_base takes the same ones at flow level."""

    packages: tuple[tuple[str, str], ...] = ()
    libraries: tuple[tuple[str, str], ...] = ()
    python: str | None = None
    disabled: bool | None = None
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Pypi(_PypiArguments):
    tag: ClassVar[str] = "pypi"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Conda(_CondaArguments):
    tag: ClassVar[str] = "conda"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class ParallelDecorator:
    """``@parallel``: the step runs as a gang of ``num_parallel`` tasks."""

    span: Span = NO_SPAN
    tag: ClassVar[str] = "parallel"
    scope: ClassVar[str] = "step"


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str | None = None
    weekly: bool = False
    daily: bool = True
    hourly: bool = False
    timezone: str | None = None
    span: Span = NO_SPAN
    tag: ClassVar[str] = "schedule"
    scope: ClassVar[str] = "flow"

    @property
    def cron_expression(self) -> str:
        """The effective 5-field cron (or the user's 6-field AWS form), as Metaflow resolves it."""
        if self.cron:
            return self.cron
        if self.hourly:
            return "0 * * * *"
        if self.weekly:
            return "0 0 * * 0"
        return "0 0 * * *"


@dataclass(frozen=True, slots=True)
class Trigger:
    """``@trigger(event=...)`` or ``events=[...]``; each event is a name plus parameter mappings."""

    event: Value = None
    events: tuple[Value, ...] = ()
    options: tuple[tuple[str, Value], ...] = ()
    span: Span = NO_SPAN
    tag: ClassVar[str] = "trigger"
    scope: ClassVar[str] = "flow"


@dataclass(frozen=True, slots=True)
class TriggerOnFinish:
    flow: Value = None
    flows: tuple[Value, ...] = ()
    options: tuple[tuple[str, Value], ...] = ()
    span: Span = NO_SPAN
    tag: ClassVar[str] = "trigger_on_finish"
    scope: ClassVar[str] = "flow"


@dataclass(frozen=True, slots=True)
class Project:
    name: str | None = None
    branch: str | None = None
    production: bool = False
    span: Span = NO_SPAN
    tag: ClassVar[str] = "project"
    scope: ClassVar[str] = "flow"

    def branch_name(self, user: str, branch: str | None = None, production: bool | None = None) -> str:
        """Metaflow's branch of a deployment: ``prod`` or ``prod.<branch>`` in production,
        ``test.<branch>`` for a named branch, else the deployer's own ``user.<user>``. The
        ``--branch`` / ``--production`` options win over the decorator's arguments."""
        branch = branch or self.branch
        if self.production if production is None else production:
            return f"prod.{branch}" if branch else "prod"
        return f"test.{branch}" if branch else f"user.{user}"


@dataclass(frozen=True, slots=True)
class PypiBase(_PypiArguments):
    tag: ClassVar[str] = "pypi_base"
    scope: ClassVar[str] = "flow"


@dataclass(frozen=True, slots=True)
class CondaBase(_CondaArguments):
    tag: ClassVar[str] = "conda_base"
    scope: ClassVar[str] = "flow"


@dataclass(frozen=True, slots=True)
class ExitHook:
    on_success: tuple[str, ...] = ()
    on_error: tuple[str, ...] = ()
    options: tuple[tuple[str, Value], ...] = ()
    span: Span = NO_SPAN
    tag: ClassVar[str] = "exit_hook"
    scope: ClassVar[str] = "flow"


@dataclass(frozen=True, slots=True)
class UnknownDecorator:
    """A decorator flowc does not know (a warning, carried so nothing is silently dropped)."""

    name: str = ""
    args: tuple[tuple[str, Value], ...] = ()
    span: Span = NO_SPAN
    tag: ClassVar[str] = "unknown"
    scope: ClassVar[str] = "any"


STEP_DECORATORS: dict[str, type] = {
    cls.tag: cls
    for cls in (Retry, Catch, Timeout, Resources, Environment, Kubernetes, Batch, Secrets, Card,
                Pypi, Conda, ParallelDecorator)
}
FLOW_DECORATORS: dict[str, type] = {
    cls.tag: cls
    for cls in (Schedule, Trigger, TriggerOnFinish, Project, PypiBase, CondaBase, ExitHook)
}

Decorator = Union[Retry, Catch, Timeout, Resources, Environment, Kubernetes, Batch, Secrets,
                  Card, Pypi, Conda, ParallelDecorator, Schedule, Trigger, TriggerOnFinish,
                  Project, PypiBase, CondaBase, ExitHook, UnknownDecorator]


def decorator_arguments(cls: type) -> tuple[dataclasses.Field, ...]:
    """The user-facing keyword arguments of a decorator record (everything but ``span``)."""
    return tuple(f for f in dataclasses.fields(cls) if f.name != "span")


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Parameter:
    """A ``Parameter`` or ``IncludeFile`` class attribute.

    ``default_kind`` is ``"literal"`` when the default is known statically (``default`` holds it),
    ``"runtime"`` when it is an expression the shim evaluates by importing the flow
    (``default_source`` holds its text), and ``"none"`` when there is no default.
    """

    name: str
    attribute: str
    type: str = "str"  # str | int | float | bool | json
    default: Value = None
    default_kind: str = "none"
    default_source: str | None = None
    help: str | None = None
    required: bool = False
    separator: str | None = None
    show_default: bool = True
    include_file: bool = False
    is_text: bool = True
    encoding: str = "utf-8"
    span: Span = NO_SPAN


# --------------------------------------------------------------------------- compile-time values
#
# Configs, deploy-time values, flows split across modules and mutators (issue 15). The Flow
# fields holding these are left out of the manifest while empty (``_OMIT_EMPTY``), so a flow that
# uses none of it has the manifest it always had.

_OMIT_EMPTY = {"omit_empty": True}
_OMIT_DEFAULT = {"omit_default": True}  # left out of the manifest while it has its default


@dataclass(frozen=True, slots=True)
class Config:
    """A ``Config`` class attribute, resolved once at compile time; every task reads ``value``.

    ``value`` is the resolved value as JSON text (dicts stay dicts); ``origin`` says where it
    came from: ``default`` (the default file), ``default_value``, ``--config``,
    ``--config-value``, or ``none`` (no value and not required).
    """

    name: str
    attribute: str
    value: str = "null"
    origin: str = "none"
    plain: bool = False
    span: Span = NO_SPAN


@dataclass(frozen=True, slots=True)
class Evaluated:
    """Something outside the flow's syntax the compiler read or ran (``flowc ir`` lists these).

    ``kind``: ``environment`` (os.getenv & co; ``detail`` never shows a secret-looking value),
    ``config-file``, ``parser`` (a parser function run in isolation), ``mutator``, ``wrapper`` (a
    project decorator run to see whether it applies the Metaflow decorator it wraps).
    """

    kind: str
    name: str
    detail: str = ""
    span: Span = NO_SPAN


# --------------------------------------------------------------------------- steps and flow


@dataclass(frozen=True, slots=True)
class Step:
    """One ``@step`` method.

    ``in_steps`` (source order of the parents), ``split_parents`` (enclosing split, foreach and
    parallel steps, outermost first) and ``matching_join`` (for a split/foreach/parallel step)
    are filled in by graph analysis after the front end; the rest comes from the source.
    """

    name: str
    transition: Transition
    is_join: bool = False
    decorators: tuple[Decorator, ...] = ()
    docstring: str | None = None
    span: Span = NO_SPAN
    next_span: Span | None = None
    in_steps: tuple[str, ...] = ()
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None

    @property
    def opener(self) -> str | None:
        """For a join: the split, foreach or parallel step it closes (from graph analysis)."""
        return self.split_parents[-1] if self.is_join and self.split_parents else None

    @property
    def fans_out(self) -> bool:
        """A foreach or parallel step: its children run as indexed tasks (one index-path entry)."""
        return isinstance(self.transition, (Foreach, Parallel))

    @property
    def is_recursive(self) -> bool:
        """A switch step with a case that loops back to itself."""
        return isinstance(self.transition, Switch) and self.name in self.transition.targets

    def decorator(self, cls: type) -> Any:
        for deco in self.decorators:
            if isinstance(deco, cls):
                return deco
        return None


@dataclass(frozen=True, slots=True)
class Flow:
    name: str  # the FlowSpec subclass name, used as the flow name everywhere
    path: str  # the source file as the user named it (never made absolute)
    source_sha256: str
    steps: tuple[Step, ...]  # source order
    parameters: tuple[Parameter, ...] = ()
    decorators: tuple[Decorator, ...] = ()
    docstring: str | None = None
    span: Span = NO_SPAN
    configs: tuple[Config, ...] = field(default=(), metadata=_OMIT_EMPTY)
    evaluated: tuple[Evaluated, ...] = field(default=(), metadata=_OMIT_EMPTY)
    # Project-local files the flow is built from besides ``path`` (imported modules, config
    # files), relative to the flow's directory, POSIX separators.
    sources: tuple[str, ...] = field(default=(), metadata=_OMIT_EMPTY)
    # The first and last step: ``@step(start=True)`` / ``@step(end=True)``, else the steps
    # named ``start`` / ``end`` (Metaflow 2.19's rule); a single step is both.
    start_step: str = field(default="start", metadata=_OMIT_DEFAULT)
    end_step: str = field(default="end", metadata=_OMIT_DEFAULT)
    # Steps by name, derived from ``steps`` (emitters look steps up constantly; a scan per lookup
    # made a 1,000-step flow quadratic). Not part of equality or the manifest.
    _by_name: dict[str, Step] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.steps})

    def step(self, name: str) -> Step:
        return self._by_name[name]

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    def kind(self, step: Step) -> str:
        """Metaflow's node type, for display: start, linear, split, foreach, join, switch, end."""
        if isinstance(step.transition, End):
            return "end"
        if step.is_join:
            return "join"
        if isinstance(step.transition, Foreach):
            return "foreach"
        if isinstance(step.transition, Switch):
            return "switch"
        if isinstance(step.transition, (Split, Parallel)):
            return "split"
        return "start" if step.name == self.start_step else "linear"

    def decorator(self, cls: type) -> Any:
        for deco in self.decorators:
            if isinstance(deco, cls):
                return deco
        return None


# --------------------------------------------------------------------------- manifest
#
# The manifest is the IR as JSON: ``{"manifest_version": 1, "flow": {...}}``. Dataclasses become
# objects with their fields in declaration order; members of a union (transitions, decorators)
# carry a ``"type"`` key with their tag (a ``"tag"`` key if they have a field ``type``, as @card
# does); tuples become lists; spans become [path, line, column, end_line, end_column].
# docs/contracts.md documents it.

_TAGGED: dict[str, type] = {getattr(cls, "tag"): cls for cls in TRANSITIONS}
_TAGGED_DECORATORS: dict[str, type] = {**STEP_DECORATORS, **FLOW_DECORATORS, "unknown": UnknownDecorator}


def _encode(value: Any) -> Any:
    if isinstance(value, Span):
        return [value.path, value.line, value.column, value.end_line, value.end_column]
    if dataclasses.is_dataclass(value):
        out: dict[str, Any] = {}
        tag = getattr(type(value), "tag", None)
        if tag is not None:  # under "tag" when a field is named "type" (@card's type)
            out["tag" if "type" in {f.name for f in dataclasses.fields(value)} else "type"] = tag
        for f in dataclasses.fields(value):
            if f.init and not (f.metadata.get("omit_empty") and not getattr(value, f.name)) \
                    and not (f.metadata.get("omit_default") and getattr(value, f.name) == f.default):
                out[f.name] = _encode(getattr(value, f.name))
        return out
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def to_manifest(flow: Flow) -> dict[str, Any]:
    return {"manifest_version": MANIFEST_VERSION, "flow": _encode(flow)}


def dump_manifest(flow: Flow) -> str:
    """Deterministic manifest text (two-space indent, fields in declaration order, final newline)."""
    return json.dumps(to_manifest(flow), indent=2, ensure_ascii=False) + "\n"


def relocate(node: Any, paths: dict[str, str]) -> Any:
    """``node`` (a flow, or any IR value) with every source path in ``paths`` replaced, in its
    spans and the flow's own ``path``: specs name files relative to the project, not to the
    directory compile ran from."""
    if isinstance(node, Span):
        return dataclasses.replace(node, path=paths.get(node.path, node.path))
    if isinstance(node, tuple):
        return tuple(relocate(v, paths) for v in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: relocate(getattr(node, f.name), paths) for f in dataclasses.fields(node)
                   if f.init and f.name != "path"}
        if isinstance(node, Flow):
            changes["path"] = paths.get(node.path, node.path)
        return dataclasses.replace(node, **changes)
    return node


def source_paths(flow: Flow) -> tuple[str, ...]:
    """Every file path the flow's IR names: the flow file, and the modules its spans point into."""
    found: dict[str, None] = {flow.path: None}

    def visit(node: Any) -> None:
        if isinstance(node, Span):
            found.setdefault(node.path)
        elif isinstance(node, tuple):
            for item in node:
                visit(item)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                visit(getattr(node, f.name))

    visit(flow)
    return tuple(p for p in found if p != NO_SPAN.path)


def plain_value(value: Value) -> Any:
    """An IR value in its JSON shape: the IR keeps mappings as tuples of (str, value) pairs and
    lists as tuples; this gives back dicts and lists (for JSON, YAML or Python literals)."""
    if isinstance(value, tuple) and value and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value):
        return {k: plain_value(v) for k, v in value}
    if isinstance(value, (tuple, list)):
        return [plain_value(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    """JSON lists back to tuples, objects to tuples of pairs (the IR never holds lists or dicts)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in value.items())
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _decode(cls: type, raw: dict[str, Any]) -> Any:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name not in raw:
            continue
        value = raw[f.name]
        hint = hints[f.name]
        if hint is Span or hint == (Span | None):
            kwargs[f.name] = Span(*value) if value is not None else None
        elif f.name == "transition":
            kwargs[f.name] = _decode(_TAGGED[value["type"]], value)
        elif f.name == "decorators":
            kwargs[f.name] = tuple(_decode(_TAGGED_DECORATORS[d.get("tag", d["type"])], d) for d in value)
        elif f.name == "steps":
            kwargs[f.name] = tuple(_decode(Step, s) for s in value)
        elif f.name == "parameters":
            kwargs[f.name] = tuple(_decode(Parameter, p) for p in value)
        elif f.name == "configs":
            kwargs[f.name] = tuple(_decode(Config, c) for c in value)
        elif f.name == "evaluated":
            kwargs[f.name] = tuple(_decode(Evaluated, e) for e in value)
        elif f.name == "cases":
            kwargs[f.name] = tuple((case, target) for case, target in value)
        else:
            kwargs[f.name] = _freeze(value)
    return cls(**kwargs)


class ManifestError(ValueError):
    pass


def from_manifest(data: dict[str, Any]) -> Flow:
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise ManifestError(
            f"manifest version {version!r} is not supported (this flowc reads version "
            f"{MANIFEST_VERSION}); recompile the flow with this flowc"
        )
    return _decode(Flow, data["flow"])


def load_manifest(text: str) -> Flow:
    return from_manifest(json.loads(text))
