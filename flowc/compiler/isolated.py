"""Running exactly one piece of a flow's code at compile time, away from the compiler's process.

Some constructs are code by nature: a Config parser function, a mutator's ``mutate``. Metaflow
runs them when it imports the flow; flowc runs *only* them: the function or class is cut out of
the module with libcst together with the module-level imports and static constants it refers to
(and the module-level functions and classes it calls, transitively), and executed in a fresh
``python -I`` subprocess with ``import metaflow`` meaning flowc. The rest of the module body
never runs. The request and the result travel as JSON.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Iterable

import libcst as cst

TIMEOUT_SECONDS = 120


class IsolatedError(Exception):
    """The evaluated code failed (one line, for a diagnostic)."""


@dataclass(frozen=True)
class Extract:
    """The source to run: imports, constants, then the definitions, in module order."""

    source: str
    names: tuple[str, ...]  # the module-level definitions it contains


def referenced(node: cst.CSTNode) -> set[str]:
    """The names ``node`` mentions (and class names given as strings)."""
    found: set[str] = set()

    class Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

        def visit_SimpleString(self, text: cst.SimpleString) -> None:
            # add_decorator("MyMutator:tag=x") names a class by string
            value = text.evaluated_value
            if isinstance(value, str):
                found.add(value.partition(":")[0].strip().rsplit(".", 1)[-1])

    node.visit(Names())
    return found


def _bound_by_import(statement: cst.SimpleStatementLine) -> set[str]:
    out: set[str] = set()
    for small in statement.body:
        if isinstance(small, cst.Import):
            for alias in small.names:
                if alias.asname and isinstance(alias.asname.name, cst.Name):
                    out.add(alias.asname.name.value)
                else:
                    out.add(cst.Module([]).code_for_node(alias.name).split(".")[0])
        elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            for alias in small.names:
                if alias.asname and isinstance(alias.asname.name, cst.Name):
                    out.add(alias.asname.name.value)
                else:
                    out.add(cst.Module([]).code_for_node(alias.name))
    return out


def extract(module: cst.Module, roots: Iterable[str], constants: dict[str, Any],
            also: Iterable[str] = ()) -> Extract:
    """The definitions named ``roots`` and everything module-level they (and the names ``also``,
    those of an expression evaluated beside them) need, as source.

    Module-level statements other than imports, definitions and static constants (prints, file
    writes, ``if __name__ == ...``) are never included.
    """
    definitions = {s.name.value: s for s in module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
    imports = [s for s in module.body if isinstance(s, cst.SimpleStatementLine)
               and all(isinstance(x, (cst.Import, cst.ImportFrom)) for x in s.body)]
    wanted: set[str] = set()
    needed: set[str] = set(also)
    queue = [r for r in roots]
    while queue:
        name = queue.pop()
        if name in wanted:
            continue
        if name not in definitions:
            raise IsolatedError(f"{name!r} is not a function or class defined at module level")
        wanted.add(name)
        refs = referenced(definitions[name])
        needed |= refs
        queue.extend(r for r in refs if r in definitions and r not in wanted)
    lines = [cst.Module([]).code_for_node(s).rstrip() for s in imports if _bound_by_import(s) & needed]
    scalars = {name for name in needed if name in constants and name not in definitions
               and isinstance(constants[name], (str, int, float, bool, type(None)))}
    lines += [f"{name} = {constants[name]!r}" for name in sorted(scalars)]
    lines += _literal_assignments(module, {n for n in needed - scalars if n in constants and n not in definitions})
    lines += [cst.Module([]).code_for_node(s).rstrip() for s in module.body
              if isinstance(s, (cst.FunctionDef, cst.ClassDef)) and s.name.value in wanted]
    return Extract("\n\n".join(lines) + "\n", tuple(sorted(wanted)))


def _literal_assignments(module: cst.Module, names: set[str]) -> list[str]:
    """``NAME = <literal>`` statements of the module for ``names`` (a dict or list constant, whose
    frozen IR value no longer tells a dict from a list of pairs), kept only if a pure literal."""
    out = []
    for statement in module.body:
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            continue
        assign = statement.body[0]
        if isinstance(assign, cst.Assign) and len(assign.targets) == 1 \
                and isinstance(assign.targets[0].target, cst.Name) and assign.targets[0].target.value in names:
            code = cst.Module([]).code_for_node(statement).rstrip()
            try:
                ast.literal_eval(cst.Module([]).code_for_node(assign.value))
            except (ValueError, SyntaxError):
                continue
            out.append(code)
    return out


_DRIVER = r"""
import json, sys
request = json.loads(sys.stdin.read())
sys.path[:0] = request["path"]
from flowc.runtime_shim.loader import install_metaflow_alias
install_metaflow_alias()
import flowc.isolated_driver as driver
sys.stdout.write(json.dumps(driver.run(request)))
"""


def run(extracted: Extract | list[Extract], action: str, payload: dict[str, Any], cwd: str,
        path: Iterable[str] = ()) -> Any:
    """Execute ``extracted`` (each in its own namespace) in a subprocess, then the driver's
    ``action`` on the namespaces; its JSON result."""
    sources = [e.source for e in (extracted if isinstance(extracted, list) else [extracted])]
    request = {"sources": sources, "action": action, "payload": payload, "path": list(path)}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _DRIVER], input=json.dumps(request), text=True,
                              capture_output=True, cwd=cwd or None, env=env, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise IsolatedError(f"did not finish within {TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise IsolatedError(lines[-1] if lines else f"exited with status {done.returncode}")
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise IsolatedError("produced no result (did it replace sys.stdout?)") from None
    if "error" in result:
        raise IsolatedError(result["error"])
    return result["value"]


def call_deploy_time(module: cst.Module, node: cst.BaseExpression, constants: dict[str, Any],
                     context: dict[str, Any], cwd: str, path: Iterable[str] = ()) -> Any:
    """A function Metaflow calls with a ``ParameterContext`` when it deploys (a callable Parameter
    default, a callable Config default): ``node`` is a lambda or a module-level function's name,
    run with the module-level definitions and constants it names. ``context``: ``flow_name``,
    ``parameter_name``, ``configs`` (name -> value, or None)."""
    definitions = {s.name.value for s in module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
    names = referenced(node)
    extracted = extract(module, sorted(names & definitions), constants, also=names)
    return run(extracted, "deploy_time_call", {"expression": cst.Module([]).code_for_node(node), **context},
               cwd, path)
