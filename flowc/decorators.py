"""Step and flow decorators (``@retry``, ``@catch``, ``@schedule``, ...) for authoring flows.

They only record their arguments on the function or class: what they mean is decided by the
compiler (from the source) and the runtime shim (from the manifest). Signatures and defaults come
from the IR's decorator records (``ir.STEP_DECORATORS`` / ``ir.FLOW_DECORATORS``), so there is one
table of names and defaults, and a misspelled argument fails at import like it does in Metaflow.
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, dataclass
from typing import Any, Callable

from flowc.compiler import ir


@dataclass(frozen=True)
class DecoratorSpec:
    """One applied decorator: its name and the keyword arguments the user gave."""

    name: str
    kwargs: tuple[tuple[str, Any], ...]

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.kwargs).get(key, default)


STEP_ATTR = "_flowc_decorators"
FLOW_ATTR = "_flowc_flow_decorators"


def _signature(cls: type) -> inspect.Signature:
    params = [inspect.Parameter("target", inspect.Parameter.POSITIONAL_ONLY, default=None)]
    for f in ir.decorator_arguments(cls):
        default = f.default if f.default is not MISSING else inspect.Parameter.empty
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default))
    return inspect.Signature(params)


def _make(cls: type[Any]) -> Callable[..., Any]:
    name = cls.tag
    scope = cls.scope
    allowed = tuple(f.name for f in ir.decorator_arguments(cls))

    def decorator(target: Any = None, /, **kwargs: Any) -> Any:
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise TypeError(f"@{name} got unknown argument(s) {', '.join(unknown)}; "
                            f"it takes {', '.join(allowed) or 'no arguments'}")
        spec = DecoratorSpec(name, tuple(kwargs.items()))

        def apply(obj: Any) -> Any:
            if scope == "step":
                if isinstance(obj, type) or not callable(obj):
                    raise TypeError(f"@{name} decorates a step method, not {obj!r}")
                setattr(obj, STEP_ATTR, (*getattr(obj, STEP_ATTR, ()), spec))
            else:
                if not isinstance(obj, type):
                    raise TypeError(f"@{name} decorates a FlowSpec class, not {obj!r}")
                setattr(obj, FLOW_ATTR, (*obj.__dict__.get(FLOW_ATTR, ()), spec))
            return obj

        if target is not None:
            if kwargs:
                raise TypeError(f"@{name} takes keyword arguments only")
            return apply(target)
        return apply

    decorator.__name__ = decorator.__qualname__ = name
    decorator.__doc__ = f"Metaflow's @{name}; arguments: {', '.join(allowed) or 'none'}."
    decorator.__signature__ = _signature(cls)  # type: ignore[attr-defined]
    return decorator


retry = _make(ir.Retry)
catch = _make(ir.Catch)
timeout = _make(ir.Timeout)
resources = _make(ir.Resources)
environment = _make(ir.Environment)
kubernetes = _make(ir.Kubernetes)
batch = _make(ir.Batch)
secrets = _make(ir.Secrets)
card = _make(ir.Card)
pypi = _make(ir.Pypi)
conda = _make(ir.Conda)
parallel = _make(ir.ParallelDecorator)
schedule = _make(ir.Schedule)
trigger = _make(ir.Trigger)
trigger_on_finish = _make(ir.TriggerOnFinish)
project = _make(ir.Project)
pypi_base = _make(ir.PypiBase)
conda_base = _make(ir.CondaBase)
exit_hook = _make(ir.ExitHook)


def step(f: Callable[..., Any] | None = None, *, start: bool = False, end: bool = False) -> Any:
    """Marks a method as a step; ``@step(start=True)`` / ``@step(end=True)`` name the ends of the graph."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func) or isinstance(func, type):
            raise TypeError(f"@step decorates a method, not {func!r}")
        func.is_step = True  # type: ignore[attr-defined]
        func._flowc_step = {"start": start, "end": end}  # type: ignore[attr-defined]
        return func

    return mark(f) if f is not None else mark


def step_decorators(func: Any) -> tuple[DecoratorSpec, ...]:
    return tuple(getattr(func, STEP_ATTR, ()))


def flow_decorators(cls: type) -> tuple[DecoratorSpec, ...]:
    return tuple(cls.__dict__.get(FLOW_ATTR, ()))
