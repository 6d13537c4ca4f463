"""Parameter values for a run: command-line strings typed by the manifest, or the defaults.

Defaults computed at run time (``default=os.environ.get(...)``, ``default=lambda ctx: ...``) come
from the imported flow class; statically known ones agree with the manifest.
"""

from __future__ import annotations

import difflib
import getpass
import json
import os
from typing import Any, Mapping, Sequence

from flowc.compiler import ir
from flowc.exceptions import ParameterError
from flowc.parameters import (Parameter, convert, convert_with_separator, read_include_file,
                              type_name)
from flowc.runtime_shim.trigger import split_input


# Set by every target for an @project flow: the branch the spec was compiled for (the pod's own
# user is not the deployer), which current.branch_name reports.
BRANCH_ENV = "FLOWC_PROJECT_BRANCH"


def username() -> str:
    for var in ("FLOWC_USER", "METAFLOW_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def declared_parameters(flow_cls: type, manifest: ir.Flow) -> list[ir.Parameter]:
    """The manifest's parameters, plus any Parameter attribute the manifest lacks."""
    declared = list(manifest.parameters)
    known = {p.attribute for p in declared}
    for attribute in sorted(dir(flow_cls)):
        obj = _class_parameter(flow_cls, attribute)
        if obj is None or attribute in known:
            continue
        declared.append(ir.Parameter(
            name=obj.name, attribute=attribute, type=type_name(obj.type, obj.default),
            required=obj.required, separator=obj.separator, include_file=obj.IS_INCLUDE_FILE,
            is_text=getattr(obj, "is_text", True), encoding=getattr(obj, "encoding", "utf-8")))
    return declared


def _class_parameter(flow_cls: type, attribute: str) -> Parameter | None:
    for klass in flow_cls.__mro__:
        if attribute in klass.__dict__:
            value = klass.__dict__[attribute]
            return value if isinstance(value, Parameter) else None
    return None


def resolve_parameters(flow_cls: type, manifest: ir.Flow, given: Mapping[str, str]) -> dict[str, Any]:
    """``{attribute: value}`` for every parameter; ``given`` maps names to command-line strings."""
    declared = declared_parameters(flow_cls, manifest)
    by_name: dict[str, ir.Parameter] = {}
    for p in declared:
        by_name[p.name] = p
        by_name.setdefault(p.attribute, p)
        by_name.setdefault(p.name.replace("-", "_"), p)
    unknown = sorted(name for name in given if name not in by_name)
    if unknown:
        names = ", ".join(p.name for p in declared) or "none"
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; this flow takes: {names}")
    supplied = {by_name[name].attribute: text for name, text in given.items()}
    values: dict[str, Any] = {}
    for p in declared:
        obj = _class_parameter(flow_cls, p.attribute)
        if p.attribute in supplied:
            value = convert_with_separator(supplied[p.attribute], p.type, p.separator, p.name)
        else:
            if obj is not None:
                default = obj.resolve_default(manifest.name, username())
            else:
                default = p.default if p.default_kind == "literal" else None
            if default is None:
                if p.required:
                    raise ParameterError(f"parameter {p.name!r} is required: pass --param {p.name}=VALUE")
                values[p.attribute] = None
                continue
            value = default
            if isinstance(default, str) and p.separator:
                value = convert_with_separator(default, p.type, p.separator, p.name)
            elif isinstance(default, str) and p.type != "str" and not p.include_file:
                value = convert(default, p.type, p.name)
        if p.include_file and value is not None:
            value = read_include_file(str(value), p.is_text, p.encoding, p.name)
        values[p.attribute] = value
    return values


def params_from_environment(text: str | None) -> dict[str, str]:
    """``FLOWC_PARAMS`` (a JSON object, docs/contracts.md) as command-line strings.

    Engines that cannot build a variable-length argv (Step Functions' execution input, Airflow's
    params) hand the shim one JSON object instead. Strings are taken as typed on a command line;
    other JSON values are written back as JSON text, which every parameter type reads the same way
    (``3``, ``0.5``, ``true``, ``[1, 2]``)."""
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"FLOWC_PARAMS is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParameterError("FLOWC_PARAMS must be a JSON object of parameter values")
    data, _ = split_input(data)  # an event's mapped payload fields; the event itself is not a parameter
    return {str(name): value if isinstance(value, str) else json.dumps(value)
            for name, value in data.items() if value is not None}


def parameter_names(flow_cls: type, manifest: ir.Flow) -> tuple[str, ...]:
    return tuple(p.attribute for p in declared_parameters(flow_cls, manifest))


def check_assignments(flow: ir.Flow, pairs: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings checked against the manifest before a run starts, so a typo fails
    before any task does: unknown names get a did-you-mean, missing required ones are named and
    each value must read as its type. Values stay text (the start task types them again)."""
    known = {p.name: p for p in flow.parameters}
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep:
            raise ParameterError(f"--param {pair!r}: expected NAME=VALUE")
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else (
                f"; the flow's parameters are {', '.join(sorted(known))}" if known else
                "; the flow has no parameters")
            raise ParameterError(f"--param {pair!r}: {flow.name} has no parameter {name!r}{hint}")
        values[name] = value
    missing = [p.name for p in flow.parameters
               if p.required and p.name not in values and p.default_kind == "none"]
    if missing:
        raise ParameterError(f"missing required parameter(s): {', '.join(missing)} "
                             f"(pass --param {missing[0]}=VALUE)")
    for name, text in values.items():
        param = known[name]
        if not param.include_file:
            convert_with_separator(text, param.type, param.separator, param.name)
    return values
