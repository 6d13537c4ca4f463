"""``Parameter(...)`` and ``IncludeFile(...)`` class attributes -> ``ir.Parameter``.

Arguments follow Metaflow's signatures. A default that is not a literal is kept as source text and
marked ``"runtime"``: the shim evaluates it by importing the flow, which the compiler never does.
A ``JSONType`` parameter's literal default is stored as JSON text, exactly what a user would type
on the command line, so the manifest does not turn dicts into lists of pairs.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import libcst as cst

from flowc.compiler import arguments, ir
from flowc.compiler.diagnostics import Diagnostic, register
from flowc.compiler.values import NotStatic, evaluate, to_python

RESERVED_PARAMETER = register("FLOW070", "reserved parameter name", """
Metaflow's command line already uses this name (params, with, tag, namespace, obj, tags,
decospecs, run-id-file, max-num-splits, max-workers, max-log-size, user-namespace), so a
parameter cannot take it.""")
DUPLICATE_PARAMETER = register("FLOW071", "duplicate parameter", """
Two parameters share a name (or a class attribute): the command line could not tell them apart.""")
PARAMETER_NAME = register("FLOW072", "parameter name missing or not static", """
`Parameter(...)` / `IncludeFile(...)` take the parameter's name as their first argument, a
string literal (or module-level constant).""")
PARAMETER_ARGUMENT = register("FLOW073", "invalid parameter argument", """
An argument of `Parameter(...)` / `IncludeFile(...)` is unknown, given twice, or of the wrong
type; `type=` must be `str`, `int`, `float`, `bool` or `JSONType`.""")
PARAMETER_DEFAULT = register("FLOW074", "parameter default does not match its type", """
The literal default of a parameter cannot be converted to the parameter's type (e.g.
`type=int, default="ten"`), or a `separator` is given for a parameter that is not a string.""")

RESERVED = frozenset({"params", "with", "tag", "namespace", "obj", "tags", "decospecs", "run-id-file",
                      "max-num-splits", "max-workers", "max-log-size", "user-namespace"})
_SIGNATURES = {
    "Parameter": ("name", "default", "type", "help", "required", "show_default", "separator"),
    "IncludeFile": ("name", "required", "is_text", "encoding", "help", "default"),
}
# Keyword arguments Metaflow passes through to its command line or to event triggering; they do
# not change what a run receives, so flowc accepts and ignores them (``is_flag`` only says how
# a boolean option is spelled on Metaflow's command line).
PASS_THROUGH = frozenset({"is_flag", "envvar", "external_trigger", "external_artifact"})
_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool"}
_BOOLEAN_ARGS = ("required", "show_default", "is_text")
_STRING_ARGS = ("help", "separator", "encoding")


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, tuple):
        return "json"
    return "str"


def lower(kind: str, attribute: str, call: cst.Call, api: Callable[[cst.CSTNode], str | None],
          span_of: Callable[[cst.CSTNode], ir.Span], constants: Mapping[str, Any]
          ) -> tuple[ir.Parameter | None, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    signature = _SIGNATURES[kind]
    # Metaflow's pass-through keywords are accepted and ignored (PASS_THROUGH)
    args = [arg for arg in call.args
            if not (kind == "Parameter" and arg.keyword is not None and arg.keyword.value in PASS_THROUGH)]
    given, unbound = arguments.bind(f"{kind}()", args, signature,
                                    len(signature) - (1 if kind == "Parameter" else 0))
    diagnostics += [Diagnostic(PARAMETER_ARGUMENT, u.message, span_of(u.node), hint=u.hint) for u in unbound]
    bound = {key: arg.value for key, arg in given}

    span = span_of(call)
    name_node = bound.get("name")
    name: Any = None
    if name_node is not None:
        try:
            name = evaluate(name_node, constants)
        except NotStatic:
            name = None
    if not isinstance(name, str) or not name:
        diagnostics.append(Diagnostic(PARAMETER_NAME, f"{kind} '{attribute}' needs its name as a string "
                                      "literal first argument", span_of(name_node or call),
                                      hint=f"e.g. {attribute} = {kind}({attribute!r}, ...)"))
        return None, diagnostics
    if name.lower() in RESERVED:
        diagnostics.append(Diagnostic(RESERVED_PARAMETER, f"parameter name {name!r} is reserved",
                                      span_of(name_node or call), hint="choose another name"))

    values: dict[str, Any] = {}
    for key in (*_BOOLEAN_ARGS, *_STRING_ARGS):
        node = bound.get(key)
        if node is None:
            continue
        try:
            value = evaluate(node, constants)
        except NotStatic as exc:
            diagnostics.append(Diagnostic(PARAMETER_ARGUMENT, f"{kind} {name!r}: argument '{key}' is not "
                                          f"known statically: {exc.reason}", span_of(exc.node)))
            continue
        expected = bool if key in _BOOLEAN_ARGS else str
        if value is not None and not isinstance(value, expected):
            diagnostics.append(Diagnostic(PARAMETER_ARGUMENT, f"{kind} {name!r}: argument '{key}' must be "
                                          f"{'a boolean' if expected is bool else 'a string'}", span_of(node)))
            continue
        values[key] = value

    type_name: str | None = None
    type_node = bound.get("type")
    if type_node is not None:
        if api(type_node) == "JSONType":
            type_name = "json"
        elif isinstance(type_node, cst.Name) and type_node.value in _TYPES:
            type_name = _TYPES[type_node.value]
        else:
            diagnostics.append(Diagnostic(PARAMETER_ARGUMENT, f"parameter {name!r}: type= must be str, int, "
                                          "float, bool or JSONType", span_of(type_node)))

    default: Any = None
    default_kind = "none"
    default_source: str | None = None
    default_node = bound.get("default")
    if default_node is not None:
        try:
            default = evaluate(default_node, constants)
            default_kind = "literal"
        except NotStatic:
            default_kind = "runtime"
            default_source = cst.Module([]).code_for_node(default_node)
    if type_name is None:
        type_name = _type_of(default) if default_kind == "literal" and default is not None else "str"
    if default_node is not None and default_kind == "literal" and default is not None:
        problem = None
        if type_name == "json":
            if isinstance(default, tuple):
                try:  # dicts must stay dicts: re-read the literal with its own structure
                    default = json.dumps(to_python(default_node, constants), separators=(",", ":"))
                except (NotStatic, TypeError, ValueError):
                    default_kind, default_source, default = "runtime", cst.Module([]).code_for_node(default_node), None
            elif isinstance(default, str):
                try:
                    json.loads(default)
                except ValueError:
                    problem = "is not valid JSON"
        elif type_name == "bool" and not isinstance(default, bool):
            problem = "is not a boolean"
        elif type_name == "int" and (isinstance(default, bool) or not isinstance(default, int)):
            problem = "is not an integer"
        elif type_name == "float" and (isinstance(default, bool) or not isinstance(default, (int, float))):
            problem = "is not a number"
        elif type_name == "str" and not isinstance(default, str):
            problem = "is not a string"
        if problem:
            diagnostics.append(Diagnostic(PARAMETER_DEFAULT, f"default {default!r} of parameter {name!r} "
                                          f"{problem} (type {type_name})", span_of(default_node)))
    if values.get("separator") is not None and type_name != "str":
        diagnostics.append(Diagnostic(PARAMETER_DEFAULT, f"parameter {name!r}: separator= needs a string "
                                      f"parameter, not {type_name}", span_of(bound["separator"])))
    include = kind == "IncludeFile"
    return ir.Parameter(
        name=name,
        attribute=attribute,
        type=type_name,
        default=default,
        default_kind=default_kind,
        default_source=default_source,
        help=values.get("help"),
        required=bool(values.get("required") or False),
        separator=values.get("separator"),
        show_default=values.get("show_default", True) if values.get("show_default") is not None else True,
        include_file=include,
        is_text=values.get("is_text", True) if values.get("is_text") is not None else True,
        encoding=values.get("encoding") or "utf-8",
        span=span,
    ), diagnostics
