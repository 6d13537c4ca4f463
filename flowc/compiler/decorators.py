"""Decorator calls -> the typed records of ``ir.STEP_DECORATORS`` / ``ir.FLOW_DECORATORS``.

Arguments are bound the way Python would bind them to the record's fields (positional in field
order, then keywords), evaluated statically, checked against the field's type, then against the
per-argument rules below (ranges, cron syntax, resource quantities). Every problem points at the
argument that caused it.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, Callable, Mapping, Union

import libcst as cst

from flowc.compiler import arguments, cron, ir, quantities
from flowc.compiler.diagnostics import WARNING, Diagnostic, register
from flowc.compiler.values import NotStatic, evaluate

UNKNOWN_DECORATOR = register("FLOW052", "unknown decorator", """
A step or flow decorator that is neither a flowc nor a Metaflow decorator. flowc keeps it in the
IR as an `unknown` record (so nothing is silently dropped) but no target gives it any behaviour.
Remove it, or replace it with the flowc/Metaflow decorator you meant.""")
UNKNOWN_ARGUMENT = register("FLOW053", "unknown decorator argument", """
The decorator has no argument of this name. The accepted names and defaults are Metaflow's; see
the hint for the closest one.""")
NOT_STATIC = register("FLOW054", "argument not known statically", """
flowc never runs the flow file, so decorator arguments must be literals, containers of literals,
simple arithmetic on them, or names bound once at module level to such values.""")
WRONG_TYPE = register("FLOW055", "argument of the wrong type", """
The argument's value does not have the type the decorator expects (e.g. a string where a
number is needed).""")
OUT_OF_RANGE = register("FLOW056", "argument out of range", """
The argument has the right type but an impossible value: a negative retry count, a zero
timeout, an unknown image pull policy, an invalid project name...""")
BAD_CRON = register("FLOW057", "invalid cron expression", """
`@schedule(cron=...)` takes a 5-field cron expression (minute hour day-of-month month
day-of-week), a macro such as `@daily`, or AWS's 6-field form (with a year field and `?` in
exactly one of day-of-month and day-of-week).""")
BAD_QUANTITY = register("FLOW058", "invalid resource quantity", """
cpu is a positive number of cores or a Kubernetes quantity such as '500m'; memory and disk are
positive integers in MiB (Metaflow's unit) or Kubernetes quantities such as '4Gi'.""")
INERT_ARGUMENT = register("FLOW086", "argument not evaluated (no effect on any target)", """
An argument that is not known statically (e.g. `@conda_base(python=get_python_version())`) of a
decorator field no target and no run-time behaviour of flowc reads (`INERT_FIELDS`: the
environment decorators' `python`, `packages`, `libraries`, `disabled`; flowc runs the image as
it is). Metaflow would call the function when it imports the flow; flowc leaves the field at
its default and warns, instead of refusing the flow or running the call. If a target ever reads
the field, it leaves this table and the argument must be static again.""")
TOO_MANY_POSITIONAL = register("FLOW060", "too many positional arguments", """
The decorator call passes more positional arguments than the decorator has parameters.""")
DUPLICATE_ARGUMENT = register("FLOW062", "argument given twice", """
The same decorator argument is given twice (by position and by keyword, or twice by keyword).""")
_UNBOUND_CODES = {arguments.STARRED: NOT_STATIC, arguments.TOO_MANY_POSITIONAL: TOO_MANY_POSITIONAL,
                  arguments.UNKNOWN: UNKNOWN_ARGUMENT, arguments.TWICE: DUPLICATE_ARGUMENT}


Spanner = Callable[[cst.CSTNode], ir.Span]

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def conforms(value: Any, hint: Any) -> bool:
    """Whether a statically evaluated value fits a record field's annotation."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(conforms(value, arg) for arg in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0]) for v in value)
        return len(args) == len(value) and all(conforms(v, a) for v, a in zip(value, args))
    return isinstance(value, hint) if isinstance(hint, type) else True


def describe(hint: Any) -> str:
    """A human name for an annotation: ``int | None`` -> 'an integer or None'."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            inner = args[0]
            if typing.get_origin(inner) is tuple and len(typing.get_args(inner)) == 2:
                return "a dict"
            return f"a list of {describe(inner).removeprefix('a ').removeprefix('an ')}s"
        return "a tuple"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            type(None): "None"}.get(hint, "a value")


def _kind(value: Any) -> str:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return "a dict or list"
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
            tuple: "a list", type(None): "None"}.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- per-argument rules

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROJECT = re.compile(r"^[a-z0-9_]+$")


def _non_negative(value: Any) -> str | None:
    return "must be >= 0" if value is not None and value < 0 else None


def _positive(value: Any) -> str | None:
    return "must be > 0" if value is not None and value <= 0 else None


def _identifier(value: Any) -> str | None:
    if value is not None and not _IDENTIFIER.match(value):
        return "must be a valid Python identifier (it names an artifact)"
    return None


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    def rule(value: Any) -> str | None:
        if value is not None and value not in allowed:
            return "must be one of " + ", ".join(repr(a) for a in allowed)
        return None
    return rule


def _project_name(value: Any) -> str | None:
    if value is not None and not _PROJECT.match(value):
        return "must use only lowercase letters, digits and underscores"
    return None


def _env_names(value: Any) -> str | None:
    for name, _ in value:
        if not _IDENTIFIER.match(str(name)):
            return f"has {name!r}, which is not a valid environment variable name"
    return None


# (tag, field) -> rule returning a problem (appended to "argument 'x' ...") or None
RULES: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("retry", "times"): _non_negative,
    ("retry", "minutes_between_retries"): _non_negative,
    ("catch", "var"): _identifier,
    ("timeout", "seconds"): _non_negative,
    ("timeout", "minutes"): _non_negative,
    ("timeout", "hours"): _non_negative,
    ("resources", "gpu"): _non_negative,
    ("resources", "shared_memory"): _positive,
    ("kubernetes", "gpu"): _non_negative,
    ("kubernetes", "shared_memory"): _positive,
    ("kubernetes", "image_pull_policy"): _one_of("Always", "IfNotPresent", "Never"),
    ("kubernetes", "gpu_vendor"): _one_of("nvidia", "amd"),
    ("batch", "gpu"): _non_negative,
    ("batch", "shared_memory"): _positive,
    ("batch", "max_swap"): _non_negative,
    ("batch", "swappiness"): lambda v: "must be between 0 and 100" if v is not None and not 0 <= v <= 100 else None,
    ("card", "timeout"): _positive,
    ("project", "name"): _project_name,
    ("environment", "vars"): _env_names,
}
QUANTITY_FIELDS = {"cpu": quantities.cpu_cores, "memory": quantities.mebibytes,
                   "disk": lambda v: quantities.mebibytes(v, "disk")}
# Decorator fields whose values nothing in flowc reads (targets only note the decorator's
# presence: packages must already be in the image). A non-static argument there is a warning.
INERT_FIELDS = frozenset((tag, name) for tag in ("pypi", "conda", "pypi_base", "conda_base")
                         for name in ("python", "packages", "libraries", "disabled"))
# Fields that name module-level functions (exit hooks), kept as the functions' names.
FUNCTION_FIELDS = {("exit_hook", "on_success"), ("exit_hook", "on_error")}


def _environment_strings(pairs: tuple) -> Any:
    """``@environment(vars={"N": 42})``: Metaflow sets each variable to ``str(value)``; numbers
    and booleans become their text here too (other values stay, for the type check to report)."""
    out = []
    for pair in pairs:
        if isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], (int, float, bool)):
            pair = (pair[0], str(pair[1]))
        out.append(pair)
    return tuple(out)


def _evaluate_argument(tag: str, name: str, node: cst.BaseExpression, constants: Mapping[str, Any],
                       functions: frozenset[str]) -> Any:
    if (tag, name) in FUNCTION_FIELDS:
        items = node.elements if isinstance(node, (cst.List, cst.Tuple)) else [node]
        out = []
        for item in items:
            value = item.value if isinstance(item, cst.BaseElement) else item
            if isinstance(value, cst.Name) and value.value in functions:
                out.append(value.value)
            else:
                out.append(evaluate(value, constants))
        return tuple(out)
    return evaluate(node, constants)


def _expand(tag: str, args: Any, constants: Mapping[str, Any], span_of: Spanner,
            diagnostics: list[Diagnostic]) -> tuple[list[cst.Arg], dict[Any, Any]]:
    """``**mapping`` arguments whose mapping is known (``**config_expr("cfg.pypi")``, a config, a
    module constant) become keyword arguments; returns the arguments and the expanded values (by
    ``id`` of the synthesized argument)."""
    out: list[cst.Arg] = []
    values: dict[Any, Any] = {}
    for arg in args:
        if not arg.star:
            out.append(arg)
            continue
        try:
            mapping = evaluate(arg.value, constants) if arg.star == "**" else None
        except NotStatic:
            mapping = None
        pairs = mapping if isinstance(mapping, tuple) and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in mapping) else None
        if pairs is None:
            diagnostics.append(Diagnostic(NOT_STATIC, f"@{tag}: {arg.star}-arguments cannot be "
                                          "resolved statically", span_of(arg)))
            continue
        for key, value in pairs:
            synthesized = cst.Arg(keyword=cst.Name(key), value=arg.value)
            values[id(synthesized)] = value
            values[("at", id(synthesized))] = values[("at", id(synthesized.keyword))] = arg
            out.append(synthesized)
    return out, values


def lower(cls: type[Any], call: cst.Call | None, decorator: cst.Decorator, span_of: Spanner,
          constants: Mapping[str, Any], functions: frozenset[str] = frozenset()
          ) -> tuple[Any, list[Diagnostic]]:
    """Bind, evaluate and check one decorator's arguments; returns the record and diagnostics."""
    diagnostics: list[Diagnostic] = []
    fields = [f.name for f in ir.decorator_arguments(cls)]
    hints = _hints(cls)
    tag = cls.tag
    bound: dict[str, tuple[Any, cst.CSTNode]] = {}
    args, expanded = _expand(tag, call.args if call is not None else (), constants, span_of, diagnostics)
    if expanded:  # synthesized arguments have no position of their own: use the ** argument's
        outer = span_of
        span_of = lambda node: outer(expanded.get(("at", id(node)), node))  # noqa: E731
    given, unbound = arguments.bind(f"@{tag}", args, fields)
    diagnostics += [Diagnostic(_UNBOUND_CODES[u.why], u.message, span_of(u.node), hint=u.hint)
                    for u in unbound]
    for name, arg in given:
        try:
            value = expanded[id(arg)] if id(arg) in expanded else \
                _evaluate_argument(tag, name, arg.value, constants, functions)
        except NotStatic as exc:
            if (tag, name) in INERT_FIELDS:
                diagnostics.append(Diagnostic(
                    INERT_ARGUMENT, f"@{tag}: argument '{name}' is not evaluated ({exc.reason}); no "
                    "target uses it, so it keeps its default", span_of(arg.value), WARNING))
                continue
            diagnostics.append(Diagnostic(
                NOT_STATIC, f"@{tag}: argument '{name}' is not known statically: {exc.reason}",
                span_of(exc.node), hint="use a literal or a module-level constant"))
            continue
        hint = hints[name]
        if (tag, name) == ("environment", "vars") and isinstance(value, tuple):
            value = _environment_strings(value)
        if not conforms(value, hint):
            # Metaflow also accepts a dict where flowc stores pairs, and numbers as strings for
            # quantities; anything else is a type error.
            diagnostics.append(Diagnostic(
                WRONG_TYPE, f"@{tag}: argument '{name}' must be {describe(hint)}, got {_kind(value)}",
                span_of(arg.value)))
            continue
        bound[name] = (value, arg.value)

    for name, (value, node) in bound.items():
        if name in QUANTITY_FIELDS and value is not None:
            try:
                QUANTITY_FIELDS[name](value)
            except quantities.QuantityError as exc:
                diagnostics.append(Diagnostic(BAD_QUANTITY, f"@{tag}: {name}: {exc}", span_of(node)))
        rule = RULES.get((tag, name))
        problem = rule(value) if rule else None
        if problem:
            diagnostics.append(Diagnostic(OUT_OF_RANGE, f"@{tag}: argument '{name}' {problem}",
                                          span_of(node)))
    if tag == "schedule" and bound.get("cron", (None,))[0] is not None:
        expression, node = bound["cron"]
        problem = cron.check(expression)
        if problem:
            diagnostics.append(Diagnostic(BAD_CRON, f"@schedule: invalid cron expression "
                                          f"{expression!r}: {problem}", span_of(node)))
    if tag == "timeout" and not any(d.code == OUT_OF_RANGE for d in diagnostics):
        total = sum(bound[k][0] * m for k, m in (("seconds", 1), ("minutes", 60), ("hours", 3600))
                    if k in bound)
        if total <= 0:
            diagnostics.append(Diagnostic(OUT_OF_RANGE, "@timeout: the total timeout must be "
                                          "positive (give seconds, minutes or hours)",
                                          span_of(decorator)))
    record = cls(**{name: value for name, (value, _) in bound.items()}, span=span_of(decorator))
    return record, diagnostics


def unknown(name: str, call: cst.Call | None, decorator: cst.Decorator, span_of: Spanner,
            constants: Mapping[str, Any]) -> tuple[ir.UnknownDecorator, list[Diagnostic]]:
    """Carry a decorator flowc does not know, with whatever arguments are static, plus a warning."""
    args: list[tuple[str, Any]] = []
    for index, arg in enumerate(call.args if call is not None else ()):
        key = arg.keyword.value if arg.keyword is not None else str(index)
        try:
            args.append((key, evaluate(arg.value, constants)))
        except NotStatic:
            args.append((key, None))
    known = sorted({*ir.STEP_DECORATORS, *ir.FLOW_DECORATORS, "step"})
    close = difflib.get_close_matches(name.rsplit(".", 1)[-1], known, n=1)
    diagnostic = Diagnostic(UNKNOWN_DECORATOR, f"unknown decorator @{name} is ignored by flowc",
                            span_of(decorator), WARNING,
                            hint=f"did you mean '@{close[0]}'?" if close else None)
    return ir.UnknownDecorator(name=name, args=tuple(args), span=span_of(decorator)), [diagnostic]
