"""The import surface at compile time: every name a flow imports from ``metaflow`` (or
``flowc``) is implemented (``flowc.surface``) or refused here, naming it (FLOW084).

A regular expression finds candidate import statements (and ``current.<attribute>`` uses) in
the source text, so a flow importing only what exists costs one scan; only when something would
be refused is the file parsed with ``ast`` to confirm the statement is real code (not text in a
docstring) and to get its exact position.
"""

from __future__ import annotations

import ast
import re

from flowc import surface
from flowc.compiler import ir
from flowc.compiler.diagnostics import Diagnostic, register

NOT_IMPLEMENTED = register("FLOW084", "imported name not implemented by flowc", """
The flow imports a name (or module) from `metaflow` that flowc does not provide, so the flow
would fail when a task imports it. The message says what is missing and what to use instead;
`flowc.surface` holds the list of what is implemented and what is refused. `docs/metaflow.md`
lists the refusals.""")

_FROM = re.compile(r"^[ \t]*from[ \t]+((?:metaflow|flowc)(?:\.[\w.]+)?)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]*\b(?:metaflow|flowc)\b[^\n#;]*)", re.M)
_CURRENT = re.compile(r"\bcurrent\.([A-Za-z_]\w*)")
_CURRENT_FIELDS = frozenset({"flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
                             "parameter_names", "namespace", "username", "pathspec", "card", "is_running_flow",
                             "project_name", "branch_name", "is_production", "project_flow_name", "parallel",
                             "tags", "get"})


def _names(text: str) -> list[str]:
    return [part.split(" as ")[0].strip() for part in text.strip("()\\ \t\n").replace("\n", " ").split(",")
            if part.strip()]


# Top-level names flowc always has (the authoring API): checked without importing flowc's
# run-time modules, which would cost a compile more than the check itself.
_ALWAYS = frozenset({"FlowSpec", "step", "Parameter", "IncludeFile", "JSONType", "current", "Config",
                     "config_expr", "FlowMutator", "StepMutator", "UserStepDecorator", "user_step_decorator",
                     "USER_SKIP_STEP", *ir.STEP_DECORATORS, *ir.FLOW_DECORATORS})


def _candidates(source: str) -> set[tuple[str, str | None]]:
    found: set[tuple[str, str | None]] = set()
    for match in _FROM.finditer(source):
        for name in _names(match.group(2)):
            if match.group(1) in ("metaflow", "flowc") and name in _ALWAYS:
                continue
            if surface.refusal(match.group(1), name) is not None:
                found.add((match.group(1), name))
    for match in _IMPORT.finditer(source):
        for module in _names(match.group(1)):
            if module.split(".")[0] in ("metaflow", "flowc") and surface.refusal(module) is not None:
                found.add((module, None))
    for attribute in set(_CURRENT.findall(source)) - _CURRENT_FIELDS:
        if surface.current_refusal(attribute) is not None:
            found.add(("current", attribute))
    return found


def check(source: str, path: str) -> list[Diagnostic]:
    """FLOW084 for every refused import (and ``current.<attribute>``) of the flow file."""
    if "metaflow" not in source and "flowc" not in source:
        return []
    candidates = _candidates(source)
    if not candidates:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    out: list[Diagnostic] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if (node.module, alias.name) in candidates:
                    out.append(_diagnostic(surface.refusal(node.module, alias.name), node, path,
                                           f"{node.module}.{alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.name, None) in candidates:
                    out.append(_diagnostic(surface.refusal(alias.name), node, path, alias.name))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "current"
              and ("current", node.attr) in candidates):
            out.append(_diagnostic(surface.current_refusal(node.attr), node, path, f"current.{node.attr}"))
    return out


def _diagnostic(reason: str | None, node: ast.AST, path: str, what: str) -> Diagnostic:
    line, column = getattr(node, "lineno", 0), getattr(node, "col_offset", 0) + 1
    end_line = getattr(node, "end_lineno", line) or line
    end_column = (getattr(node, "end_col_offset", column) or column) + 1
    return Diagnostic(NOT_IMPLEMENTED, f"{what} is not available in flowc: {reason}",
                      ir.Span(path, line, column, end_line, end_column))
