"""``FlowSpec``: the base class of every flow, and the per-task state the runtime shim attaches.

Artifacts are instance attributes. Inherited ones are loaded lazily on first access (a step that
never reads a 1 GiB artifact never loads it, and passes it on by hash); what a step assigns is
saved when the step ends. The runtime shim (``flowc.runtime_shim.task``) creates instances with
:meth:`FlowSpec._flowc_new`, never by calling ``__init__`` (which, as in Metaflow, runs the
command line when a user executes ``python flow.py run``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from flowc.exceptions import (FlowcException, InvalidNextError, MergeArtifactsException,
                              MissingInMergeArtifactsException)
from flowc.flow_script import main_from_flow

# Names the shim keeps on the instance itself; never saved as artifacts.
STATE_ATTR = "_flowc_state"
FOREACH_STACK = "_foreach_stack"


@dataclass(frozen=True)
class NextCall:
    """What a step passed to ``self.next``: target step names plus foreach/condition/num_parallel."""

    targets: tuple[str, ...]
    foreach: str | None = None
    condition: str | None = None
    num_parallel: int | None = None
    cases: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class ForeachFrame:
    """One enclosing fan-out: the splitting step, its variable, its width, our index and item."""

    step: str
    var: str | None
    num_splits: int
    index: int
    value: Any


class TaskState:
    """Per-instance runtime state: lazily loaded inherited artifacts and the recorded ``next``.

    ``loader(name, ref)`` loads one artifact; ``refs`` maps inherited names to their stored refs.
    """

    def __init__(self, step_name: str, refs: Mapping[str, Any], loader: Callable[[str, Any], Any],
                 is_join: bool = False, inputs: "Inputs | None" = None,
                 parameter_names: Sequence[str] = (), task_label: str = ""):
        self.step_name = step_name
        self.refs: dict[str, Any] = dict(refs)
        self.loader = loader
        self.loaded: dict[str, tuple[Any, Any]] = {}  # name -> (ref, value as loaded)
        self.is_join = is_join
        self.inputs = inputs
        self.parameter_names = tuple(parameter_names)
        self.next_call: NextCall | None = None
        self.task_label = task_label or step_name

    def get_artifact(self, instance: Any, name: str) -> Any:
        values = instance.__dict__
        if name in values:
            return values[name]
        ref = self.refs.get(name)
        if ref is None:
            raise AttributeError(f"{self.task_label} has no artifact {name!r}")
        value = self.loader(name, ref)
        values[name] = value
        self.loaded[name] = (ref, value)
        return value


def _step_name(target: Any) -> str:
    name = getattr(target, "__name__", None)
    if name is None or not callable(target):
        raise InvalidNextError(f"self.next() takes steps such as self.a, not {target!r}")
    return name


class FlowSpec:
    """Subclass this and decorate methods with ``@step``; call ``self.next(...)`` at the end of each."""

    _flowc_flow_decorators: tuple = ()

    def __init__(self, use_cli: bool = True):
        if use_cli:
            main_from_flow(type(self), sys.argv)

    @classmethod
    def _flowc_new(cls, state: TaskState) -> "FlowSpec":
        instance = cls.__new__(cls)
        instance.__dict__[STATE_ATTR] = state
        return instance

    # ------------------------------------------------------------------ artifacts

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == STATE_ATTR:
            raise AttributeError(name)
        state = self.__dict__.get(STATE_ATTR)
        if state is None:
            raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")
        return state.get_artifact(self, name)

    # ------------------------------------------------------------------ transitions

    def next(self, *dsts: Any, foreach: str | None = None, condition: str | None = None,
             num_parallel: int | None = None) -> None:
        state: TaskState | None = self.__dict__.get(STATE_ATTR)
        if state is None:
            raise InvalidNextError("self.next() is only meaningful while flowc runs the step")
        if state.next_call is not None:
            raise InvalidNextError(f"step {state.step_name!r} called self.next() more than once")
        if not dsts:
            raise InvalidNextError(f"step {state.step_name!r}: self.next() needs at least one step")
        cases = None
        if len(dsts) == 1 and isinstance(dsts[0], dict):
            if condition is None:
                raise InvalidNextError(f"step {state.step_name!r}: self.next({{...}}) needs condition=")
            cases = tuple((str(key), _step_name(target)) for key, target in dsts[0].items())
            targets = tuple(dict.fromkeys(target for _, target in cases))
        else:
            targets = tuple(_step_name(target) for target in dsts)
        state.next_call = NextCall(targets, foreach, condition, num_parallel, cases)

    # ------------------------------------------------------------------ foreach

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``[(index, num_splits, value), ...]`` for the enclosing foreach steps, outermost first."""
        frames = self._flowc_frames()
        return [(f.index, f.num_splits, f.value) for f in frames]

    def _flowc_frames(self) -> list[ForeachFrame]:
        try:
            return list(getattr(self, FOREACH_STACK))
        except AttributeError:
            return []

    @property
    def index(self) -> int | None:
        frames = self._flowc_frames()
        return frames[-1].index if frames else None

    @property
    def input(self) -> Any:
        frames = self._flowc_frames()
        return frames[-1].value if frames else None

    # ------------------------------------------------------------------ joins

    def merge_artifacts(self, inputs: "Inputs", exclude: Sequence[str] | None = None,
                        include: Sequence[str] | None = None) -> None:
        """Copy artifacts that agree across ``inputs``; conflicting ones must be set or excluded."""
        state: TaskState | None = self.__dict__.get(STATE_ATTR)
        if state is None or not state.is_join:
            raise FlowcException("merge_artifacts() can only be called in a join step")
        exclude = list(exclude or ())
        include = list(include or ())
        if exclude and include:
            raise FlowcException("merge_artifacts(): give include= or exclude=, not both")
        already = set(self.__dict__) | set(state.parameter_names)
        shas: dict[str, set[str]] = {}
        refs: dict[str, Any] = {}
        for view in inputs:
            view_state: TaskState = view.__dict__[STATE_ATTR]
            for name, ref in view_state.refs.items():
                if name.startswith("_"):
                    continue
                shas.setdefault(name, set()).add(ref.sha)
                refs.setdefault(name, ref)
        if include:
            missing = [name for name in include if name not in shas]
            if missing:
                raise MissingInMergeArtifactsException(
                    f"merge_artifacts(include=...): no input has {', '.join(sorted(missing))}", missing)
        conflicts = []
        for name in sorted(shas):
            if name in already or name in exclude or (include and name not in include):
                continue
            if len(shas[name]) > 1:
                conflicts.append(name)
                continue
            state.refs[name] = refs[name]
        if conflicts:
            raise MergeArtifactsException(
                f"step {state.step_name!r}: artifacts {', '.join(conflicts)} differ between the "
                "inputs; set them in the join or pass exclude=[...]", conflicts)


class Inputs(Sequence):
    """A join's ``inputs``: by position (split-index order), by iteration, or by step name."""

    def __init__(self, views: Sequence[FlowSpec]):
        self._views = list(views)

    def __getitem__(self, index: Any) -> Any:
        return self._views[index]

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[FlowSpec]:
        return iter(self._views)

    def __getattr__(self, name: str) -> FlowSpec:
        if name.startswith("_"):
            raise AttributeError(name)
        for view in self._views:
            if view.__dict__[STATE_ATTR].step_name == name:
                return view
        raise AttributeError(f"this join has no input from step {name!r}")
