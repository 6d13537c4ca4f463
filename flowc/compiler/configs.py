"""``Config(...)`` class attributes, resolved once at compile time as Metaflow resolves them when
it runs or deploys a flow.

Where the value comes from, first match wins: ``--config-value NAME TEXT``, ``--config NAME
PATH`` (giving both is an error), the ``default`` file (relative to the flow's directory, used
when it exists), ``default_value``; nothing and ``required=True`` is an error. Text is parsed by
the config's parser: JSON by default; ``parser="tomllib.loads"`` / ``"json.loads"`` /
``"yaml.safe_load"`` and Metaflow's ``pyproject_toml_parser``, ``requirements_txt_parser``,
``yaml_parser`` are applied here; a parser function of the flow (or a string naming another
module's function) is code, run in isolation (``isolated``), unless evaluation is refused.
A non-plain config must be a dict (Metaflow's rule).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import libcst as cst

from flowc import config as parsers
from flowc.compiler import evaluation, ir, isolated
from flowc.compiler.diagnostics import Diagnostic, register
from flowc.compiler.options import CompileOptions
from flowc.compiler.values import NotStatic, evaluate, to_python

CONFIG_VALUE = register("FLOW080", "config has no usable value", """
A `Config` could not be resolved at compile time: it is required and has no value, its file
cannot be read, its text does not parse with its parser, a non-plain config is not a dict, or
both `--config` and `--config-value` name it.""")
CONFIG_ARGUMENT = register("FLOW081", "invalid Config argument", """
`Config(name, default=, default_value=, help=, required=, parser=, plain=)`: the name, the
default path and the flags must be literals (or module constants); `parser` is a string, one
of Metaflow's parsers, or a function defined at the flow module's top level.""")
EVALUATION_REFUSED = register("FLOW082", "compile-time evaluation refused", """
The flow uses a construct that is code by nature (a Config parser function, a mutator), which
flowc would run in isolation at compile time, but evaluation was refused (`--no-evaluate`).""")
EVALUATION_FAILED = register("FLOW083", "code evaluated at compile time failed", """
A Config parser function or a mutator, run in isolation at compile time, raised an exception
(its message is shown).""")

_ARGUMENTS = ("name", "default", "default_value", "help", "required", "parser", "plain")


# Parsers applied in the compiler's process: standard formats, no user code.
NAMED_PARSERS: dict[str, Callable[[str], Any]] = {
    "json.loads": json.loads, "tomllib.loads": parsers.toml_loads, "toml.loads": parsers.toml_loads,
    "yaml.safe_load": parsers.yaml_parser, "yaml.load": parsers.yaml_parser, "yaml_parser": parsers.yaml_parser,
    "pyproject_toml_parser": parsers.pyproject_toml_parser,
    "requirements_txt_parser": parsers.requirements_txt_parser,
}


@dataclass(frozen=True)
class Resolved:
    config: ir.Config
    value: Any  # the Python value decorators and defaults see
    evaluated: tuple[ir.Evaluated, ...] = ()


class _Failure(Exception):
    def __init__(self, code: str, message: str, node: cst.CSTNode):
        super().__init__(message)
        self.code, self.message, self.node = code, message, node


@dataclass
class ConfigContext:
    """What resolving needs from the front end."""

    flow_dir: str
    module: cst.Module
    constants: Mapping[str, Any]
    span_of: Callable[[cst.CSTNode], ir.Span]
    api: Callable[[cst.CSTNode], str | None]
    options: CompileOptions
    functions: frozenset[str]
    flow_name: str = ""  # for a callable default's ParameterContext


def resolve(attribute: str, call: cst.Call, ctx: ConfigContext) -> tuple[Resolved | None, list[Diagnostic]]:
    """One ``attribute = Config(...)``; ``None`` (with diagnostics) when it cannot be resolved."""
    try:
        return _resolve(attribute, call, ctx), []
    except _Failure as failure:
        return None, [Diagnostic(failure.code, failure.message, ctx.span_of(failure.node))]


def _bind(call: cst.Call) -> dict[str, cst.BaseExpression]:
    bound: dict[str, cst.BaseExpression] = {}
    for index, arg in enumerate(call.args):
        if arg.star:
            raise _Failure(CONFIG_ARGUMENT, "Config() with *-arguments cannot be read statically", arg)
        key = arg.keyword.value if arg.keyword is not None else (
            _ARGUMENTS[index] if index < len(_ARGUMENTS) else None)
        if key not in _ARGUMENTS:
            raise _Failure(CONFIG_ARGUMENT, f"Config() has no argument {key!r}" if key else
                           "too many positional arguments to Config()", arg)
        bound[key] = arg.value
    return bound


def _static(node: cst.BaseExpression, ctx: ConfigContext, what: str) -> Any:
    try:
        return evaluate(node, ctx.constants)
    except NotStatic as exc:
        raise _Failure(CONFIG_ARGUMENT, f"Config {what} is not known statically: {exc.reason}", exc.node) from None


def _resolve(attribute: str, call: cst.Call, ctx: ConfigContext) -> Resolved:
    bound = _bind(call)
    if "name" not in bound:
        raise _Failure(CONFIG_ARGUMENT, f"Config '{attribute}' needs its name as first argument", call)
    name = _static(bound["name"], ctx, "name")
    if not isinstance(name, str) or not name:
        raise _Failure(CONFIG_ARGUMENT, f"Config '{attribute}': the name must be a string", bound["name"])
    flags = {key: bool(_static(bound[key], ctx, key)) for key in ("required", "plain") if key in bound}
    evaluated: list[ir.Evaluated] = []
    parser = _parser(name, bound.get("parser"), ctx)  # checked even when there is no text to parse
    text, value, origin = _source(name, bound, ctx, evaluated)
    if text is not None and not text.strip() and origin == "default_value" and "parser" not in bound:
        text, origin = None, "none"  # default_value="": no value until one is given (a parser gets "")
    if text is not None and flags.get("plain") and "parser" not in bound:
        value = text  # plain=True without a parser: the text itself, as Metaflow gives it
    elif text is not None:
        value = _parse(name, text, bound.get("parser"), parser, ctx, evaluated)
    if value is None and origin == "none" and flags.get("required"):
        raise _Failure(CONFIG_VALUE, f"config {name!r} is required and has no value (give "
                       f"--config {name} PATH or --config-value {name} JSON)", call)
    if value is not None and not flags.get("plain") and not isinstance(value, dict):
        raise _Failure(CONFIG_VALUE, f"config {name!r} must be a dict (got {type(value).__name__}); "
                       "use plain=True for other values", call)
    try:
        encoded = json.dumps(value, sort_keys=False, ensure_ascii=False)
    except (TypeError, ValueError):
        raise _Failure(CONFIG_VALUE, f"config {name!r}: the parsed value is not JSON data", call) from None
    config = ir.Config(name=name, attribute=attribute, value=encoded, origin=origin,
                       plain=flags.get("plain", False), span=ctx.span_of(call))
    return Resolved(config, value, tuple(evaluated))


def _source(name: str, bound: dict[str, cst.BaseExpression], ctx: ConfigContext,
            evaluated: list[ir.Evaluated]) -> tuple[str | None, Any, str]:
    """(text to parse, or None with a ready value, and where it came from)."""
    values = dict(ctx.options.config_values)
    files = dict(ctx.options.config_files)
    if name in values and name in files:
        raise _Failure(CONFIG_VALUE, f"config {name!r} is given both by --config and --config-value",
                       bound["name"])
    if name in values:
        return values[name], None, "--config-value"
    if name in files:
        return _read(Path(files[name]), name, bound["name"]), None, "--config"
    if "default" in bound:
        path = _call(name, "default", bound["default"], ctx, evaluated) if _callable(bound["default"], ctx) \
            else _static(bound["default"], ctx, "default")
        if path is not None and not isinstance(path, str):
            raise _Failure(CONFIG_ARGUMENT, f"config {name!r}: default= is a path (a string)", bound["default"])
        if path is not None:
            full = Path(ctx.flow_dir) / path
            if full.is_file():
                if os.path.isabs(path):  # os.path.join(os.path.dirname(__file__), ...): recorded as relative
                    path = os.path.relpath(path, ctx.flow_dir).replace(os.sep, "/")
                evaluated.append(ir.Evaluated("config-file", name, path, ctx.span_of(bound["default"])))
                return _read(full, name, bound["default"]), None, "default"
    if "default_value" in bound:
        node = bound["default_value"]
        try:
            value = _call(name, "default_value", node, ctx, evaluated) if _callable(node, ctx) \
                else to_python(node, ctx.constants)
        except NotStatic as exc:
            raise _Failure(CONFIG_ARGUMENT, f"config {name!r}: default_value is not known statically: "
                           f"{exc.reason}", exc.node) from None
        if isinstance(value, str):
            return value, None, "default_value"
        return None, value, "default_value"
    return None, None, "none"


def _callable(node: cst.BaseExpression, ctx: ConfigContext) -> bool:
    return isinstance(node, cst.Lambda) or (isinstance(node, cst.Name) and node.value in ctx.functions)


def _call(name: str, what: str, node: cst.BaseExpression, ctx: ConfigContext, evaluated: list[ir.Evaluated]) -> Any:
    """A callable ``default`` (a path) or ``default_value``, called as Metaflow calls it when it
    deploys: with a ParameterContext whose ``configs`` is None; run in isolation."""
    if not ctx.options.evaluate_code:
        raise _Failure(EVALUATION_REFUSED, f"config {name!r}: its {what} function would run at compile time, "
                       "and evaluation is refused (--no-evaluate)", node)
    try:
        value = isolated.call_deploy_time(ctx.module, node, dict(ctx.constants), {
            "flow_name": ctx.flow_name, "parameter_name": name, "configs": None},
            cwd=ctx.flow_dir, path=[ctx.flow_dir, *ctx.options.pythonpath])
    except isolated.IsolatedError as exc:
        raise _Failure(EVALUATION_FAILED, f"config {name!r}: its {what} function failed: {exc}", node) from None
    evaluated.append(ir.Evaluated("config-default", name, f"{what} function run in isolation", ctx.span_of(node)))
    return value


def _read(path: Path, name: str, node: cst.CSTNode) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Failure(CONFIG_VALUE, f"config {name!r}: cannot read {path}: "
                       f"{getattr(exc, 'strerror', None) or exc}", node) from None


def _parse(name: str, text: str, parser: cst.BaseExpression | None,
           chosen: tuple[str, Callable[[str], Any] | None], ctx: ConfigContext,
           evaluated: list[ir.Evaluated]) -> Any:
    label, function = chosen
    try:
        if function is not None:
            return function(text)
        assert parser is not None, "a parser label without a function names a parser expression"
        return _run_parser(name, label, parser, text, ctx, evaluated)
    except _Failure:
        raise
    except Exception as exc:  # a format error in the config's text
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _Failure(CONFIG_VALUE, f"config {name!r} does not parse with {label}: {message}",
                       parser or ctx.module) from None


def _parser(name: str, parser: cst.BaseExpression | None, ctx: ConfigContext
            ) -> tuple[str, Callable[[str], Any] | None]:
    """(label, in-process parser) or (label of code to run in isolation, None)."""
    if parser is None:
        return "JSON", json.loads
    api = ctx.api(parser)
    if api in NAMED_PARSERS:
        return api, NAMED_PARSERS[api]
    imported = _imported_origin(parser, ctx.module)  # parser=tomllib.loads after import tomllib
    if imported in NAMED_PARSERS:
        return imported, NAMED_PARSERS[imported]
    if isinstance(parser, cst.Name) and parser.value in ctx.functions:
        return f"parser function {parser.value!r}", None
    try:
        value = evaluate(parser, ctx.constants)
    except NotStatic:
        value = None
    if isinstance(value, str) and value in NAMED_PARSERS:
        return value, NAMED_PARSERS[value]
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", value):
        return f"parser {value!r}", None
    raise _Failure(CONFIG_ARGUMENT, f"config {name!r}: parser= must be a string naming a function, "
                   "one of Metaflow's parsers, or a function defined at the module's top level", parser)


def _imported_origin(node: cst.BaseExpression, module: cst.Module) -> str | None:
    """``tomllib.loads`` for ``tomllib.loads`` / ``loads`` bound by the module's imports."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    head = evaluation.import_aliases(module).get(node.value)
    return ".".join([head, *reversed(parts)]) if head is not None else None


def _run_parser(name: str, label: str, parser: cst.BaseExpression, text: str, ctx: ConfigContext,
                evaluated: list[ir.Evaluated]) -> Any:
    if not ctx.options.evaluate_code:
        raise _Failure(EVALUATION_REFUSED, f"config {name!r}: {label} would run at compile time, "
                       "and evaluation is refused (--no-evaluate)", parser)
    try:
        if isinstance(parser, cst.Name):
            extracted = isolated.extract(ctx.module, [parser.value], dict(ctx.constants))
            value = isolated.run(extracted, "parse", {"function": parser.value, "text": text},
                                 cwd=ctx.flow_dir, path=[ctx.flow_dir, *ctx.options.pythonpath])
        else:
            dotted = evaluate(parser, ctx.constants)
            value = isolated.run(isolated.Extract("", ()), "import_parse", {"function": dotted, "text": text},
                                 cwd=ctx.flow_dir, path=[ctx.flow_dir, *ctx.options.pythonpath])
    except isolated.IsolatedError as exc:
        raise _Failure(EVALUATION_FAILED, f"config {name!r}: {label} failed: {exc}", parser) from None
    evaluated.append(ir.Evaluated("parser", label.split("'")[1] if "'" in label else label,
                                  f"run in isolation for config {name!r}", ctx.span_of(parser)))
    return value


def flow_dir_of(path: str) -> str:
    return os.path.dirname(os.path.abspath(path)) if path and not path.startswith("<") else os.getcwd()
