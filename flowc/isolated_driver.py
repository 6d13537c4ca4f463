"""The subprocess side of ``isolated``: executes the extracted source, then one action.

Standard library and flowc's run-time API only (it runs under ``python -I``).
"""

from __future__ import annotations

import json
from typing import Any


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run(request: dict[str, Any]) -> dict[str, Any]:
    import contextlib
    import sys

    namespaces: list[dict[str, Any]] = []
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the result alone
            for source in request["sources"]:  # one namespace per module the code comes from
                namespace: dict[str, Any] = {"__name__": "__flowc_isolated__"}
                exec(compile(source, "<flowc isolated>", "exec"), namespace)  # noqa: S102 - the point
                namespaces.append(namespace)
            action = _ACTIONS[request["action"]]
            return {"value": _jsonable(action(namespaces, request["payload"]))}
    except Exception as exc:  # reported as one line by the compiler
        return {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}


def _parse(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> Any:
    """A Config parser function applied to the config's text."""
    parser = namespaces[0][payload["function"]]
    return parser(payload["text"])


def _import_parse(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> Any:
    """A parser named by a string, ``"package.module.function"``: import it and apply it."""
    import importlib

    module, _, name = payload["function"].rpartition(".")
    return getattr(importlib.import_module(module), name)(payload["text"])


def _mutate(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> Any:
    """Apply flow/step mutators to a description of the flow; the edits they made."""
    from flowc.mutators import apply_recorded

    return apply_recorded(namespaces, payload)


def _applies(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> bool:
    """Whether a decorator wrapper applies the decorator it is given: called with a probe in that
    decorator's place, what it returns is applied to a stand-in step; the probe records a call."""
    applied: list[bool] = []

    def probe(func: Any = None, *args: Any, **kwargs: Any) -> Any:
        applied.append(True)
        return func

    def swap(value: Any) -> Any:
        return probe if value == {"__flowc_probe__": True} else value

    def stand_in_step(self: Any) -> None:
        pass

    made = namespaces[0][payload["function"]](*[swap(v) for v in payload["args"]],
                                              **{k: swap(v) for k, v in payload["kwargs"].items()})
    if callable(made):
        made(stand_in_step)
    return bool(applied)


def _config_expr(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> Any:
    """``config_expr("fn(cfg)")`` as Metaflow evaluates it: in the module's globals, with the
    configs as locals (a dict config read through attributes, as a ``ConfigValue``)."""
    from flowc.config import ConfigValue

    configs = {k: ConfigValue(v) if isinstance(v, dict) else v for k, v in payload["configs"].items()}
    return eval(payload["expression"], namespaces[0], configs)  # noqa: S307 - the point


def _deploy_time_call(namespaces: list[dict[str, Any]], payload: dict[str, Any]) -> Any:
    """A callable Parameter (or Config) default, called as Metaflow calls it when it deploys:
    ``f(ctx, True)``, or ``f(ctx)`` when that raises TypeError."""
    import sys

    from flowc.config import ConfigValue
    from flowc.parameters import ParameterContext
    from flowc.runtime_shim.params import username  # the compiling user, as current.username names it

    function = eval(payload["expression"], namespaces[0])  # noqa: S307 - the flow's own default
    ctx = ParameterContext(payload["flow_name"], payload["parameter_name"], username(),
                           logger=lambda *args, **kwargs: print(*args, file=sys.stderr),
                           configs=ConfigValue(payload["configs"]) if payload["configs"] is not None else None)
    try:
        return function(ctx, True)
    except TypeError:
        return function(ctx)


_ACTIONS = {"parse": _parse, "import_parse": _import_parse, "mutate": _mutate, "applies": _applies,
            "config_expr": _config_expr, "deploy_time_call": _deploy_time_call}
