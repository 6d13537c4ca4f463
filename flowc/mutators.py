"""``MutableFlow`` / ``MutableStep``: what mutators edit. Standard library only.

One implementation serves both moments a mutator runs:

* compile time (``apply_recorded``, inside ``isolated``'s subprocess): the flow is a plain
  description (decorator specs per step and for the flow, parameters, configs) and every edit is
  recorded; the compiler applies the recorded edits to the IR, so a mutator adding
  ``@retry(times=3)`` to every step gives retries on every target.
* run time (``apply_at_run_time``, when the flow module is imported by the shim): Metaflow's own
  decorators and added parameters are already in the manifest, so only what the manifest cannot
  hold takes effect: user step decorators added to steps.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from flowc.compiler import ir
from flowc import user_decorators
from flowc.user_decorators import MUTATORS, REGISTRY, FlowMutator, StepMutator, _Decorator


class MutationError(ValueError):
    pass


def _spec_name(deco_type: Any, deco_kwargs: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
    """(name, kwargs, user class or None) of what ``add_decorator`` was given: a Metaflow
    decorator, its name or decospec (``"retry:times=3"``), or a user decorator class."""
    if isinstance(deco_type, str):
        name, _, arguments = deco_type.partition(":")
        parsed: dict[str, Any] = {}
        for part in filter(None, arguments.split(",")):
            key, _, text = part.partition("=")
            try:
                parsed[key.strip()] = json.loads(text)
            except ValueError:
                parsed[key.strip()] = text.strip()
        if parsed and deco_kwargs:
            raise MutationError(f"{deco_type!r}: arguments both in the spec and in deco_kwargs")
        name = name.strip()
        user = REGISTRY.get(name.rsplit(".", 1)[-1]) if name not in ir.STEP_DECORATORS \
            and name not in ir.FLOW_DECORATORS else None  # a user decorator named by string
        return (user.__name__ if user else name), {**parsed, **deco_kwargs}, user
    if isinstance(deco_type, type) and issubclass(deco_type, _Decorator):
        return deco_type.__name__, dict(deco_kwargs), deco_type
    named = getattr(deco_type, "__name__", None)
    if isinstance(named, str) and (named in ir.STEP_DECORATORS or named in ir.FLOW_DECORATORS):
        return named, dict(deco_kwargs), None
    raise MutationError(f"add_decorator() cannot add {deco_type!r}")


class Added:
    """What ``add_decorator`` returns: the decorator that was added (name and arguments)."""

    def __init__(self, name: str, attributes: dict[str, Any]):
        self.name, self.attributes = name, attributes

    def __repr__(self) -> str:
        return f"@{self.name}({self.attributes})"


class _Specs:
    """Decorator specs of a step or of the flow, with Metaflow's duplicate modes."""

    IGNORE, ERROR, OVERRIDE = 1, 2, 3

    def __init__(self, owner: str | None, specs: list[list[Any]], edits: list[dict[str, Any]] | None,
                 on_user: Any = None):
        self.owner = owner  # step name, None for the flow
        self.specs = specs  # [[name, kwargs], ...]
        self.edits = edits  # recorded edits (compile time), or None (run time)
        self.on_user = on_user  # run time: attaches a user decorator class

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
        for name, kwargs in self.specs:
            yield name, f"metaflow.{name}" if name in ir.STEP_DECORATORS or name in ir.FLOW_DECORATORS \
                else name, [], dict(kwargs)

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None, duplicates: int = IGNORE) -> Any:
        if deco_args:
            raise MutationError("decorators take keyword arguments only")
        name, kwargs, user = _spec_name(deco_type, dict(deco_kwargs or {}))
        exists = any(spec[0] == name for spec in self.specs)
        if exists and name != "card":
            if duplicates == self.IGNORE:
                return None
            if duplicates == self.ERROR:
                raise MutationError(f"@{name} is already on {self.owner or 'the flow'}")
            self.remove_decorator(name)
        self.specs.append([name, kwargs])
        if self.edits is not None:
            self.edits.append({"op": "add_decorator", "step": self.owner, "name": name, "kwargs": kwargs,
                               "user": user is not None})
            if user is not None and issubclass(user, StepMutator) and isinstance(self, MutableStep):
                mutator = user(**kwargs)  # a step mutator added by a mutator runs too
                _init(mutator, [], kwargs)
                self._flow.pending.append((mutator, self))
        elif user is not None and self.on_user is not None:
            self.on_user(user, kwargs)
        return Added(name, kwargs)

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        before = len(self.specs)
        self.specs[:] = [s for s in self.specs if not (s[0] == deco_name and (
            deco_kwargs is None or dict(s[1]) == deco_kwargs))]
        removed = len(self.specs) != before
        if removed and self.edits is not None:
            self.edits.append({"op": "remove_decorator", "step": self.owner, "name": deco_name,
                               "kwargs": deco_kwargs})
        return removed


class MutableStep(_Specs):
    def __init__(self, flow: "MutableFlow", name: str, specs: list[list[Any]], edits: Any, on_user: Any = None):
        super().__init__(name, specs, edits, on_user)
        self._flow = flow

    @property
    def flow(self) -> "MutableFlow":
        return self._flow

    @property
    def name(self) -> str:
        return str(self.owner)


class _ParameterView:
    """A parameter as a mutator sees it (compile time: from the description)."""

    def __init__(self, spec: dict[str, Any]):
        self.name = spec.get("name")
        self.kwargs = {k: v for k, v in spec.items() if k != "name"}
        self.default = spec.get("default")

    def __repr__(self) -> str:
        return f"Parameter({self.name!r})"


class MutableFlow(_Specs):
    """The whole flow: ``steps``, ``configs``, ``parameters``, flow decorators, parameter edits."""

    def __init__(self, description: dict[str, Any], edits: list[dict[str, Any]] | None,
                 flow_cls: type | None = None):
        super().__init__(None, description.setdefault("decorators", []), edits)
        self._description = description
        self._flow_cls = flow_cls
        self.pending: list[tuple[Any, Any]] = []  # (mutator, target) a mutator added (run next)
        self._steps = {name: MutableStep(self, name, specs, edits, self._user_attacher(name))
                       for name, specs in description.setdefault("steps", {}).items()}

    def _user_attacher(self, step: str) -> Any:
        if self._flow_cls is None:
            return None

        def attach(user_cls: type, kwargs: dict[str, Any]) -> None:
            user_cls(**kwargs)(getattr(self._flow_cls, step))

        return attach

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None, duplicates: int = _Specs.IGNORE) -> Any:
        """A flow decorator, or a FlowMutator (it runs after this one's stage, as in Metaflow)."""
        if isinstance(deco_type, str):
            name, kwargs, user = _spec_name(deco_type, dict(deco_kwargs or {}))
            if user is not None and issubclass(user, FlowMutator):
                deco_type, deco_kwargs = user, kwargs
        if isinstance(deco_type, type) and issubclass(deco_type, FlowMutator):
            mutator = deco_type(*(deco_args or []), **(deco_kwargs or {}))
            _init(mutator, deco_args or [], deco_kwargs or {})
            self.pending.append((mutator, self))
            return mutator
        return super().add_decorator(deco_type, deco_args, deco_kwargs, duplicates)

    def __getattr__(self, name: str) -> Any:
        """``mutable_flow.start`` (a step) and ``mutable_flow.config`` (a Config attribute)."""
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._steps:
            return self._steps[name]
        by_attribute = self._description.get("config_attributes", {})
        if name in by_attribute:
            value = self._description.get("configs", {}).get(by_attribute[name])
            from flowc.config import ConfigValue

            return ConfigValue(value) if isinstance(value, dict) else value
        if self._flow_cls is not None and hasattr(self._flow_cls, name):
            return getattr(self._flow_cls, name)
        raise AttributeError(f"the flow has no step or config {name!r}")

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        yield from self._steps.items()

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        from flowc.config import ConfigValue

        for name, value in self._description.get("configs", {}).items():
            yield name, ConfigValue(value) if isinstance(value, dict) else value

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        for attribute, spec in self._description.setdefault("parameters", {}).items():
            yield attribute, _ParameterView(spec)

    def add_parameter(self, name: str, value: Any, overwrite: bool = False) -> None:
        parameters = self._description.setdefault("parameters", {})
        if name in parameters and not overwrite:
            raise MutationError(f"the flow already has a parameter {name!r} (pass overwrite=True)")
        spec = {"name": getattr(value, "name", name), "default": getattr(value, "default", None),
                "help": getattr(value, "help", None), "required": bool(getattr(value, "required", False)),
                "separator": getattr(value, "separator", None),
                "type": _type_name(getattr(value, "type", None), getattr(value, "default", None))}
        parameters[name] = spec
        if self.edits is not None:
            self.edits.append({"op": "add_parameter", "attribute": name, "spec": spec})
        # at run time the manifest declares it (with the value the compile-time run gave it)

    def remove_parameter(self, parameter_name: str) -> bool:
        parameters = self._description.setdefault("parameters", {})
        found = [a for a, s in parameters.items() if a == parameter_name or s.get("name") == parameter_name]
        for attribute in found:
            del parameters[attribute]
            if self.edits is not None:
                self.edits.append({"op": "remove_parameter", "attribute": attribute})
        return bool(found)


def _type_name(tp: Any, default: Any) -> str:
    from flowc.parameters import type_name

    return type_name(tp, default)


def apply_recorded(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Compile time, in the isolated subprocess: instantiate each mutator named in ``payload``
    (from the namespace of its module), run every ``pre_mutate`` (flow mutators first), then
    every ``mutate``, as Metaflow orders them; return the edits."""
    edits: list[dict[str, Any]] = []
    flow = MutableFlow(payload["flow"], edits)
    staged: list[tuple[Any, Any, int]] = []  # (mutator, what it edits, its position)
    for mutator in payload["mutators"]:
        cls = namespaces[mutator.get("module", 0)][mutator["class"]]
        args, kwargs = mutator.get("args", []), mutator.get("kwargs", {})
        instance = cls(*args, **kwargs)
        wanted = FlowMutator if mutator["step"] is None else StepMutator
        if not isinstance(instance, wanted):
            raise MutationError(f"{mutator['class']} is not a {wanted.__name__}")
        _init(instance, args, kwargs)
        target = flow if mutator["step"] is None else flow._steps[mutator["step"]]
        staged.append((instance, target, len(staged)))
    position = 0
    while position < len(staged):  # every pre_mutate, including of mutators added on the way
        instance, target, origin = staged[position]
        _call(instance.pre_mutate, target, origin, edits)
        staged.extend((added, added_target, origin) for added, added_target in flow.pending)
        flow.pending.clear()
        position += 1
    for instance, target, origin in staged:
        _call(instance.mutate, target, origin, edits)
    return edits


class MutatorFailed(RuntimeError):
    """Carries which payload mutator failed (``@index@``) through the isolated process."""


def _call(method: Any, target: Any, origin: int, edits: list[dict[str, Any]]) -> None:
    """Run one stage of one mutator; tag its edits with the mutator (``by``) that made them."""
    before = len(edits)
    try:
        method(target)
    except Exception as exc:  # noqa: BLE001 - reported, by mutator, as one line
        raise MutatorFailed(f"@{origin}@{type(exc).__name__}: {exc}") from None
    for edit in edits[before:]:
        edit["by"] = origin


def _init(instance: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Metaflow's rule: ``init`` runs when the mutator got arguments or defines it."""
    if args or kwargs or "init" in type(instance).__dict__:
        instance.init(*args, **kwargs)


def _description_at_run_time(flow_cls: type) -> dict[str, Any]:
    """What a mutator sees when it runs again on import: steps with the decorators written on
    them, flow decorators, parameters and configs of the class."""
    from flowc import config
    from flowc.decorators import flow_decorators, step_decorators
    from flowc.parameters import Parameter

    steps: dict[str, list[Any]] = {}
    parameters: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for name in dir(flow_cls):
        value = next((k.__dict__[name] for k in flow_cls.__mro__ if name in k.__dict__), None)
        if isinstance(value, Parameter):
            parameters[name] = {"name": value.name, "default": value.default, "help": value.help}
        elif isinstance(value, config.Config):
            attributes[name] = value.name
        elif getattr(getattr(flow_cls, name, None), "is_step", False):
            steps[name] = [[s.name, dict(s.kwargs)] for s in step_decorators(getattr(flow_cls, name))]
    return {"decorators": [[s.name, dict(s.kwargs)] for s in flow_decorators(flow_cls)], "steps": steps,
            "parameters": parameters, "configs": dict(config._VALUES), "config_attributes": attributes}


def apply_at_run_time(flow_cls: type, mutator: FlowMutator) -> None:
    """Run time: apply a flow mutator's edits the manifest cannot hold (user step decorators,
    parameters). Its Metaflow decorators are recorded but need nothing here."""
    flow = MutableFlow(_description_at_run_time(flow_cls), None, flow_cls)
    mutator.pre_mutate(flow)
    mutator.mutate(flow)


def apply_step_mutators_at_run_time(flow_cls: type, func: Any) -> None:
    """Run time: the step mutators above one step, once per step function."""
    mutators = [m for m in getattr(func, MUTATORS, []) if isinstance(m, StepMutator)]
    setattr(func, MUTATORS, [])
    flow = MutableFlow(_description_at_run_time(flow_cls), None, flow_cls)
    step = flow._steps.get(func.__name__) or MutableStep(flow, func.__name__, [], None, flow._user_attacher(func.__name__))
    for mutator in mutators:
        mutator.pre_mutate(step)
        mutator.mutate(step)


__all__ = ["MutableFlow", "MutableStep", "MutationError", "apply_recorded"]


user_decorators.RUN_TIME_HOOKS.update(flow=apply_at_run_time, step=apply_step_mutators_at_run_time)
