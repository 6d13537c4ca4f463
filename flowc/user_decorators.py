"""User-defined step decorators and mutators at run time (Metaflow 2.16+). Standard library only.

* ``@user_step_decorator`` turns a generator ``(step_name, flow, inputs[, attributes])`` into a
  step decorator: code before its one ``yield`` runs before the step, code after it afterwards
  (an exception of the step is thrown in at the ``yield``). Yielding a dict skips the step
  (``USER_SKIP_STEP`` is ``{}``); yielding a callable runs it instead of the step.
* ``UserStepDecorator`` is the class form: ``init``, ``pre_step``, ``post_step``, ``skip_step``.
* ``StepMutator`` / ``FlowMutator`` edit decorators and parameters through ``MutableStep`` /
  ``MutableFlow`` (``flowc.mutators``). The compiler runs them, isolated, so their Metaflow
  decorators are in the manifest; at run time they run again when the flow module is imported,
  where only what the manifest cannot hold (user step decorators) takes effect.

Wrappers are kept on the step function (``WRAPPERS``, outermost first) and applied by
``call_step``, which the runtime shim uses to run every step.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

USER_SKIP_STEP: dict[str, Any] = {}
WRAPPERS = "_flowc_wrappers"
MUTATORS = "_flowc_step_mutators"
FLOW_MUTATORS = "_flowc_flow_mutators"


# How mutators apply at run time lives in flowc.mutators, which builds on this module; it installs
# its two functions here when imported (flowc/__init__.py imports it), so the modules form no cycle.
RUN_TIME_HOOKS: dict[str, Callable[..., None]] = {}

class UserDecoratorError(TypeError):
    pass


# Every user decorator and mutator class by name, so a mutator can add one by its name
# (``add_decorator("MyMutator:tag=x")``), as Metaflow allows.
REGISTRY: dict[str, type] = {}


class _Decorator:
    """What user step decorators and step mutators share: bare (``@d``) or called
    (``@d(a=1)``) above ``@step``; arguments go to ``init`` once the step is known."""

    _allowed_args = False
    _field = WRAPPERS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.__name__] = cls

    def __init__(self, *args: Any, **kwargs: Any):
        self._step: Callable[..., Any] | None = None
        if args and callable(args[0]) and not isinstance(args[0], type):
            self._args, self._kwargs = args[1:], kwargs
            self._attach(args[0])
        else:
            self._args, self._kwargs = args, kwargs
        if self._args and not self._allowed_args:
            raise UserDecoratorError(f"{type(self).__name__} takes keyword arguments only")

    def __call__(self, step: Callable[..., Any]) -> Callable[..., Any]:
        return self._attach(step)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """Bare ``@MyDecorator`` leaves this object as the class attribute: present the step."""
        if self._step is None:
            return self
        return self._step.__get__(instance, owner) if instance is not None else self._step

    def _attach(self, step: Callable[..., Any]) -> Callable[..., Any]:
        while isinstance(step, _Decorator):  # stacked user decorators: attach to the function
            inner = step._step
            if inner is None:
                raise UserDecoratorError(f"{type(self).__name__} decorates a step method")
            step = inner
        if not callable(step):
            raise UserDecoratorError(f"{type(self).__name__} decorates a step method")
        self._step = step
        if self._args or self._kwargs or "init" in type(self).__dict__:
            self.init(*self._args, **self._kwargs)
        fields = {self._field} | ({WRAPPERS} if isinstance(self, UserStepDecorator) else set()) \
            | ({MUTATORS} if isinstance(self, StepMutator) else set())  # a class may be both
        for field in sorted(fields):
            setattr(step, field, [self, *getattr(step, field, [])])  # outermost first
        return step

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take arguments (``@MyDecorator(a=1)``)."""

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        return list(self._args), dict(self._kwargs)


class UserStepDecorator(_Decorator):
    """Class form of a user step decorator."""

    skip_step: bool | dict[str, Any] = False

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Callable[..., Any] | None:
        """Before the step; return a callable to run instead of it, or None."""
        return None

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        """After the step. Return the exception to fail (None swallows it), or (exception,
        next_kwargs) where a dict makes flowc call ``self.next`` as compiled."""
        return (exception, None) if exception is not None else (None, None)


def user_step_decorator(*args: Any, **kwargs: Any) -> Any:
    """``@user_step_decorator`` on a generator function (3 or 4 arguments)."""
    if not args:
        return lambda function: user_step_decorator(function, **kwargs)
    function = args[0]
    if not inspect.isgeneratorfunction(function):
        raise UserDecoratorError("@user_step_decorator decorates generator functions only")
    count = len(inspect.signature(function).parameters)
    if count not in (3, 4):
        raise UserDecoratorError("@user_step_decorator needs (step_name, flow, inputs[, attributes])")

    class Wrapper(UserStepDecorator):
        def init(self, **attributes: Any) -> None:
            self.attributes = attributes

        def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
            call = (step_name, flow, inputs, getattr(self, "attributes", {}))[:count]
            self._generator = function(*call)
            try:
                yielded = next(self._generator)
            except StopIteration:  # no yield: the step does not run
                self.skip_step = True
                self._generator = None
                return None
            if isinstance(yielded, dict):
                self.skip_step = yielded or True
                return None
            self.skip_step = False
            return yielded

        def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
            if self._generator is None:
                return (exception, None)
            try:
                if exception is not None:
                    self._generator.throw(exception)
                else:
                    next(self._generator)
            except StopIteration as stop:
                return stop.value if stop.value is not None else (None, None)
            except BaseException as raised:  # noqa: BLE001 - the generator's verdict
                return (raised, None)
            return (UserDecoratorError(f"{function.__name__} yielded more than once"), None)

    Wrapper.__name__ = Wrapper.__qualname__ = function.__name__
    Wrapper.__module__ = function.__module__
    return Wrapper


def _verdict(result: Any) -> tuple[BaseException | None, dict[str, Any] | None]:
    """post_step's return value as (exception or None, next kwargs or None)."""
    if isinstance(result, BaseException) or result is None:
        return result, None
    if isinstance(result, tuple) and result:
        return result[0], result[1] if len(result) > 1 else None
    return None, None


def call_step(func: Callable[..., Any], flow: Any, step_name: str, inputs: Any,
              auto_next: Callable[[dict[str, Any]], None]) -> None:
    """Run a step through its user step decorators (outermost first). ``auto_next(kwargs)`` calls
    ``self.next`` as compiled, when a decorator skipped or replaced the step and asks for it."""
    wrappers = [w for w in getattr(func, WRAPPERS, []) if isinstance(w, UserStepDecorator)]

    def plain(target: Callable[..., Any]) -> Any:
        return target(flow, inputs) if inputs is not None else target(flow)

    def run(level: int, target: Callable[..., Any]) -> None:
        if level == len(wrappers):
            plain(target)
            return
        wrapper = wrappers[level]
        replacement = wrapper.pre_step(step_name, flow, inputs)
        error: BaseException | None = None
        skip = wrapper.skip_step
        try:
            if skip:
                auto_next(skip if isinstance(skip, dict) else {})
            elif callable(replacement):
                result = plain(replacement)
                # True or a dict asks for the compiled self.next; None or False means the
                # replacement called self.next itself (if it did not, the step fails, as in Metaflow)
                if result is True or isinstance(result, dict):
                    auto_next(result if isinstance(result, dict) else {})
            else:
                run(level + 1, target)
        except Exception as exc:  # noqa: BLE001 - handed to post_step, as in Metaflow
            error = exc
        failure, next_kwargs = _verdict(wrapper.post_step(step_name, flow, error))
        if failure is not None:
            raise failure
        if next_kwargs is not None:
            auto_next(next_kwargs)

    if getattr(func, MUTATORS, None):
        RUN_TIME_HOOKS["step"](type(flow), func)
        wrappers = [w for w in getattr(func, WRAPPERS, []) if isinstance(w, UserStepDecorator)]
    if not wrappers:
        plain(func)
    else:
        run(0, func)


class StepMutator(_Decorator):
    """Edits one step (``mutate(mutable_step)``) before it runs or is compiled."""

    _allowed_args = True
    _field = MUTATORS

    def pre_mutate(self, mutable_step: Any) -> None:
        return None

    def mutate(self, mutable_step: Any) -> None:
        return None


class FlowMutator:
    """A class decorator editing the whole flow (``pre_mutate`` / ``mutate(mutable_flow)``)."""

    _flow_cls: type | None
    _args: tuple[Any, ...]
    _kwargs: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.__name__] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        self._flow_cls = None
        self._args, self._kwargs = args, kwargs
        if args and isinstance(args[0], type):  # bare ``@MyMutator``: the flow class stays the class
            self._args = args[1:]
            return self._apply(args[0])
        return self

    def __init__(self, *args: Any, **kwargs: Any):
        return None  # __new__ kept the arguments

    def __call__(self, flow_cls: type) -> type:
        return self._apply(flow_cls)

    def _apply(self, flow_cls: type) -> type:
        self._flow_cls = flow_cls
        if self._args or self._kwargs or "init" in type(self).__dict__:
            self.init(*self._args, **self._kwargs)
        setattr(flow_cls, FLOW_MUTATORS, [*flow_cls.__dict__.get(FLOW_MUTATORS, []), self])
        RUN_TIME_HOOKS["flow"](flow_cls, self)
        return flow_cls

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take arguments (``@MyMutator(a=1)``)."""

    def pre_mutate(self, mutable_flow: Any) -> None:
        return None

    def mutate(self, mutable_flow: Any) -> None:
        return None


__all__ = ["USER_SKIP_STEP", "UserStepDecorator", "user_step_decorator", "StepMutator", "FlowMutator",
           "call_step"]


def auto_next_for(flow: Any, transition: Any) -> Callable[[dict[str, Any]], None]:
    """``self.next`` as compiled (``transition``, an ``ir`` transition), for a step a decorator
    skipped or replaced; ``overrides`` may change foreach=, condition= or num_parallel=."""

    def call(overrides: dict[str, Any]) -> None:
        if getattr(flow.__dict__.get("_flowc_state"), "next_call", None) is not None:
            return  # the replacement called self.next itself
        cls = type(flow)
        tag = getattr(transition, "tag", "end")
        if tag in ("linear", "split"):
            flow.next(*(getattr(cls, name) for name in transition.targets))
        elif tag == "foreach":
            flow.next(getattr(cls, transition.target), foreach=overrides.get("foreach", transition.items))
        elif tag == "parallel":
            flow.next(getattr(cls, transition.target),
                      num_parallel=overrides.get("num_parallel", transition.num_parallel))
        elif tag == "switch":
            flow.next({case: getattr(cls, target) for case, target in transition.cases},
                      condition=overrides.get("condition", transition.condition))

    return call
