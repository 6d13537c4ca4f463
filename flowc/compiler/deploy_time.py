"""Callable Parameter defaults (``default=lambda ctx: ...``, ``default=a_function``), evaluated
when the flow is compiled, as Metaflow evaluates them when it deploys a flow or starts a run: the
spec carries the value, not the function.

The function is code by nature, so exactly it runs, in isolation (``isolated``): a lambda with the
module-level functions and constants it names, or the named function. It receives a context
like Metaflow's ``ParameterContext`` (``flow_name``, ``user_name`` of the compiling user as
``current.username`` names it,
``parameter_name``, ``logger``, ``configs``; ``ds_type`` is None: the datastore is a deployment
setting the compiler does not know), called as ``f(ctx, True)`` and, when that raises TypeError,
``f(ctx)``. The value is checked as Metaflow checks it: exactly an int, float or bool for such a
parameter; for a string parameter, anything else becomes its JSON text.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

import libcst as cst

from flowc.compiler import ir, isolated
from flowc.compiler.evaluation import freeze
from flowc.compiler.configs import EVALUATION_FAILED, EVALUATION_REFUSED
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.parameters import PARAMETER_DEFAULT
from flowc.compiler.secret_names import looks_secret


def callable_default(call: cst.Call, functions: frozenset[str]) -> cst.BaseExpression | None:
    """The ``default`` of ``Parameter(...)`` when it is a lambda or a module-level function."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    keyword = [a.value for a in call.args if a.keyword is not None and a.keyword.value == "default"]
    node = keyword[0] if keyword else (positional[1].value if len(positional) > 1 else None)
    if isinstance(node, cst.Lambda) or (isinstance(node, cst.Name) and node.value in functions):
        return node
    return None


@dataclasses.dataclass(frozen=True)
class Context:
    """Where the default is evaluated: the module it is written in, and the flow around it."""

    module: cst.Module
    constants: Mapping[str, Any]
    flow_name: str
    configs: Mapping[str, Any]  # config name -> resolved value
    directory: str
    pythonpath: tuple[str, ...]
    evaluate_code: bool


def evaluate(param: ir.Parameter, node: cst.BaseExpression, ctx: Context, span: ir.Span
             ) -> tuple[ir.Parameter, ir.Evaluated | None, Diagnostic | None]:
    """``param`` with the default's value as a literal, and what ``flowc ir`` lists; or the
    parameter unchanged and a diagnostic."""
    label = f"parameter {param.name!r}: its default function"
    if not ctx.evaluate_code:
        return param, None, Diagnostic(EVALUATION_REFUSED, f"{label} would run at compile time (Metaflow runs "
                                       "it when it deploys), and evaluation is refused (--no-evaluate)", span)
    try:
        value = isolated.call_deploy_time(ctx.module, node, dict(ctx.constants), {
            "flow_name": ctx.flow_name, "parameter_name": param.name, "configs": dict(ctx.configs)},
            cwd=ctx.directory, path=[ctx.directory, *ctx.pythonpath])
    except isolated.IsolatedError as exc:
        return param, None, Diagnostic(EVALUATION_FAILED, f"{label} failed: {exc}", span)
    checked, problem = _checked(value, param.type)
    if problem is not None:
        return param, None, Diagnostic(PARAMETER_DEFAULT, f"{label} returned {value!r}, {problem}", span)
    shown = "a value (not shown: the name looks secret)" if looks_secret(param.name) else repr(checked)
    record = ir.Evaluated("parameter-default", param.name, f"run in isolation, returned {shown}", span)
    return dataclasses.replace(param, default=freeze(checked), default_kind="literal",
                               default_source=None), record, None


def _checked(value: Any, type_name: str) -> tuple[Any, str | None]:
    """Metaflow's check of a deploy-time value against the parameter's type."""
    exact = {"int": int, "float": float, "bool": bool}
    if type_name in exact:
        if type(value) is not exact[type_name]:
            return value, f"not {'an' if type_name == 'int' else 'a'} {type_name}"
        return value, None
    if isinstance(value, str):
        return value, None
    try:
        return json.dumps(value), None
    except (TypeError, ValueError):
        return value, "not a string or a JSON value"
