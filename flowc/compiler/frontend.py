"""The libcst front end: one flow file -> ``ir.Flow`` (graph facts still empty) + diagnostics.

The file is parsed once; positions come from one ``PositionProvider`` pass over it and qualified
names from one ``QualifiedNameProvider`` pass over its skeleton (function bodies emptied), so the
cost is linear in the file. Names are resolved by their
qualified names (``metaflow.step`` and ``flowc.step`` alike, however imported), never by
spelling. The module is never imported or executed.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, TypeGuard

import libcst as cst
from libcst.metadata import MetadataWrapper, QualifiedNameProvider

from flowc.compiler import (configs, deploy_time, evaluation, imports, ir, isolated, mutation, options, parameters,
                            project, wrappers)
from flowc.compiler import decorators as deco
from flowc.compiler.bindings import SourceFacts
from flowc.compiler.diagnostics import WARNING, Diagnostic, register
from flowc.compiler.positions import FastPositionProvider
from flowc.compiler.values import NotStatic, collect_constants, evaluate, to_python

API_PACKAGES = frozenset({"metaflow", "flowc"})
API_NAMES = frozenset({"FlowSpec", "step", "Parameter", "IncludeFile", "JSONType", "Config",
                       "config_expr", "FlowMutator", "StepMutator", "UserStepDecorator",
                       "user_step_decorator", *ir.STEP_DECORATORS, *ir.FLOW_DECORATORS})
# Bases and decorators that make a project definition a user decorator or a mutator.
USER_KINDS = frozenset({"FlowMutator", "StepMutator", "UserStepDecorator", "user_step_decorator"})

SYNTAX_ERROR = register("FLOW003", "syntax error", """
The file is not valid Python (flowc parses it with libcst, which accepts Python 3.0-3.12 syntax).""")
NO_FLOW = register("FLOW004", "no flow in the file", """
The file defines no class deriving from `FlowSpec` (imported from `metaflow` or `flowc`).""")
SEVERAL_FLOWS = register("FLOW005", "several flows in the file", """
The file defines more than one `FlowSpec` subclass and its `if __name__ == "__main__":` block
instantiates none of them (that is the class Metaflow runs); choose one with `--flow NAME`.""")
FLOW_NOT_FOUND = register("FLOW006", "the requested flow is not in the file", """
`--flow NAME` names a class that is not a `FlowSpec` subclass of this file.""")
DUPLICATE_STEP = register("FLOW014", "step defined twice", """
Two `@step` methods have the same name; Python keeps only the last one, so the first is dead
code. Rename or remove one.""")
STEP_ARGUMENTS = register("FLOW015", "wrong step arguments", """
A step takes `self` only; a join step takes `self` and one more argument (`inputs`), which
receives the branches being joined. Nothing else is allowed (no defaults, `*args`, keyword-only
arguments).""")
END_HAS_NEXT = register("FLOW016", "the end step has a transition", """
The end step (`end`, or the step marked `@step(end=True)`) finishes the flow and must not call
`self.next(...)`. Remove the call or add another step before it.""")
AMBIGUOUS_ENDPOINT = register("FLOW018", "ambiguous start or end step", """
More than one step is marked `@step(start=True)` (or `@step(end=True)`), or a marked step and a
step named `start` (`end`) both exist. Metaflow 2.19 refuses both: keep one.""")
LONE_STEP = register("FLOW027", "a lone step beside a plain start or end method", """
A warning: the flow has one `@step`, so (as in Metaflow 2.19) it is both the start and the end
step and runs alone, while a method named `start` or `end` has no `@step` and never runs. Add
`@step` to it if it was meant to be a step.""")
STEP_FLAG = register("FLOW019", "unsupported @step argument", """
`@step` takes only `start=True` / `end=True` (literal booleans), which mark the flow's first and
last step when they are not named `start` / `end`.""")
MISSING_NEXT = register("FLOW020", "missing self.next()", """
Every step except the end step must finish with a `self.next(...)` call naming the step(s) that
run next.""")
INVALID_NEXT = register("FLOW021", "invalid transition", """
`self.next(...)` must take one of the supported forms: `self.next(self.a)`,
`self.next(self.a, self.b, ...)`, `self.next(self.a, foreach="items")`,
`self.next({"x": self.a, "y": self.b}, condition="attr")` or
`self.next(self.a, num_parallel=4)`.""")
NEXT_NOT_LAST = register("FLOW023", "self.next() is not the last statement", """
`self.next(...)` must be the last statement of a step, once: flowc (like Metaflow) reads the
transition from the step's final statement.""")
DECORATOR_BELOW_STEP = register("FLOW050", "decorator below @step", """
Step decorators must be written above `@step` (Metaflow applies them to the step object that
`@step` creates).""")
DUPLICATE_DECORATOR = register("FLOW051", "duplicate decorator", """
The same decorator is applied twice to one step or flow; only `@card` may be repeated.""")
MISPLACED_DECORATOR = register("FLOW059", "decorator in the wrong place", """
A flow decorator (`@schedule`, `@project`, `@trigger`...) is applied to a step or a method, or
a step decorator (`@retry`, `@resources`...) to the flow class or to a method without `@step`.""")
IMPORTED_MODULE = register("FLOW085", "project-local module cannot be read", """
The flow imports a module of its project (found under the flow's directory, the project root or
`--pythonpath`) that flowc cannot read: it is not UTF-8 or cannot be opened. (A syntax error in
it is reported as FLOW003, at its place in that module.)""")
PYTHONPATH_SETTING = register("FLOW089", "invalid pythonpath setting", """
`[tool.flowc] pythonpath` in the flow's pyproject.toml must be a list of directory names, relative
to the directory holding that pyproject.toml, e.g. `pythonpath = ["src", "libs/common"]`.""")
OUTSIDE_PACKAGE = register("FLOW087", "imported module outside the flow's directory", """
A warning: the flow uses a project-local module that is not under the flow file's directory
(e.g. at the project root). The compile follows it, but code packages hold the flow's directory
only, and at run time Python (like Metaflow) finds the module only if the image or environment
puts its root on `PYTHONPATH`.""")
CONFLICTING_COMPUTE = register("FLOW061", "conflicting compute decorators", """
A step may run on Kubernetes or on AWS Batch, not both: use `@kubernetes` or `@batch`.""")

_REPEATABLE = frozenset({"card"})


_NEXT_KEYWORDS = ("foreach", "condition", "num_parallel")

class FrontendError(Exception):
    """A file-level problem (no flow, syntax error): nothing else can be checked."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class Lowered:
    """The front end's output: the IR plus syntax facts the checker needs but the IR omits."""

    flow: ir.Flow
    diagnostics: tuple[Diagnostic, ...]
    # (step, target) -> span of ``self.<target>`` inside the step's ``self.next(...)``
    target_spans: dict[tuple[str, str], ir.Span] = field(default_factory=dict)
    # steps whose transition could not be read (their IR transition is a placeholder ``End``)
    invalid_transitions: frozenset[str] = frozenset()
    # methods of the flow class without ``@step`` (for "did you forget @step?" hints)
    helper_methods: frozenset[str] = frozenset()
    # names the module binds, attributes each step assigns (computed when a check asks)
    facts: SourceFacts | None = None


class _Names:
    """Qualified-name lookups against the flowc/Metaflow API (``follow`` finds the API names a
    project-local module re-exports)."""

    def __init__(self, qualified: Any, star_import: bool, representatives: dict[str, cst.CSTNode],
                 follow: Callable[[str], str | None] | None = None):
        self._qualified = qualified
        self._star = star_import
        self._representatives = representatives
        self._follow = follow

    def api(self, node: cst.CSTNode) -> str | None:
        """``'step'`` for ``step``/``metaflow.step``/``flowc.step``... ; ``None`` otherwise."""
        if node not in self._qualified and isinstance(node, (cst.Name, cst.Attribute)):
            node = self._representatives.get(_dotted(node), node)
        names = self._qualified.get(node, ())
        if callable(names):  # libcst resolves qualified names lazily
            names = names()
        for qualified in names:
            parts = qualified.name.split(".")
            if parts[0] in API_PACKAGES and len(parts) >= 2:
                return parts[-1]
        if self._follow is not None:
            for qualified in names:
                found = self._follow(qualified.name) if "." in qualified.name else None
                if found is not None:
                    return found
        if self._star and not names and isinstance(node, cst.Name) and node.value in API_NAMES:
            return node.value
        return None


def _skeleton(module: cst.Module) -> tuple[cst.Module, dict[str, cst.CSTNode]]:
    """What name resolution needs, sharing its nodes with ``module``.

    Names are resolved only in class bases, decorators and class-level assignments
    (``Parameter(...)``, ``type=JSONType``). The skeleton keeps module-level statements, empties
    every function body, and replaces each method of a class by its decorator expressions
    (evaluated in the class scope either way), once per distinct spelling: 1,000 ``@step``
    resolve like one. Scope analysis then costs a fraction of a pass over the whole file. The
    kept nodes are shared with ``module``; ``representatives`` maps a decorator's source text to
    the node that stands for every decorator spelled that way.
    """
    representatives: dict[str, cst.CSTNode] = {}

    def prune(statement: cst.BaseStatement) -> list[cst.BaseStatement]:
        if isinstance(statement, cst.FunctionDef):
            return [statement.with_changes(body=_PASS_BODY)]
        if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            body: list[cst.BaseStatement] = []
            for inner in statement.body.body:
                if isinstance(inner, cst.FunctionDef):
                    for d in inner.decorators:
                        for target in _decorator_names(d):
                            text = _dotted(target)
                            if text not in representatives:
                                representatives[text] = target
                                body.append(cst.SimpleStatementLine(body=[cst.Expr(target)]))
                else:
                    body.extend(prune(inner))
            if not body:
                body = [_PASS_LINE]
            return [statement.with_changes(body=statement.body.with_changes(body=body))]
        return [statement]

    skeleton = module.with_changes(body=[pruned for s in module.body for pruned in prune(s)])
    return skeleton, representatives


_PASS_LINE = cst.SimpleStatementLine(body=[cst.Pass()])
_PASS_BODY = cst.IndentedBlock(body=[_PASS_LINE])


def _decorator_names(d: cst.Decorator) -> Iterable[cst.BaseExpression]:
    """The names a decorator may refer to the API by: its own, and those of its arguments that
    look like decorators (``@enable_decorator(batch(cpu=2), flag)`` wraps ``batch``)."""
    if not isinstance(d.decorator, cst.Call):
        yield d.decorator
        return
    yield d.decorator.func
    for arg in d.decorator.args:
        value = arg.value.func if isinstance(arg.value, cst.Call) else arg.value
        if isinstance(value, (cst.Name, cst.Attribute)):
            yield value


def _is_next_call(node: cst.CSTNode, me: str) -> TypeGuard[cst.Call]:
    """``<me>.next(...)``. (Plain checks instead of libcst.matchers, whose import alone costs
    more than compiling a small flow.)"""
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "next" and isinstance(node.func.value, cst.Name)
            and node.func.value.value == me)


def _next_calls(suite: cst.CSTNode | None, me: str, found: list[cst.Call] | None = None) -> list[cst.Call]:
    """Every ``self.next(...)`` expression statement in a step body, nested blocks included, in
    source order. A walk over statements only: a full libcst visit of every body would cost
    more than the rest of the front end."""
    found = [] if found is None else found
    statements = suite.body if isinstance(suite, (cst.IndentedBlock, cst.SimpleStatementSuite)) else ()
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            smalls: Iterable[cst.CSTNode] = statement.body
        elif isinstance(statement, cst.BaseSmallStatement):
            smalls = (statement,)
        else:
            smalls = ()
        for small in smalls:
            if isinstance(small, cst.Expr) and _is_next_call(small.value, me):
                found.append(small.value)
        if isinstance(statement, cst.BaseCompoundStatement) and not isinstance(
                statement, (cst.FunctionDef, cst.ClassDef)):
            _next_calls(getattr(statement, "body", None), me, found)
            for handler in getattr(statement, "handlers", ()):
                _next_calls(handler.body, me, found)
            for case in getattr(statement, "cases", ()):
                _next_calls(case.body, me, found)
            branch = getattr(statement, "orelse", None)
            while branch is not None:
                _next_calls(branch.body, me, found)
                branch = branch.orelse if isinstance(branch, cst.If) else None
            final = getattr(statement, "finalbody", None)
            if final is not None:
                _next_calls(final.body, me, found)
    return found


def _dotted(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _syntax_error(source: str, path: str, exc: cst.ParserSyntaxError) -> Diagnostic:
    """Python's own message when it has one (it is clearer than the grammar's), else libcst's."""
    import ast
    import warnings

    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning: keep the diagnostic the only output
            warnings.simplefilter("ignore")
            ast.parse(source, filename=path)
    except SyntaxError as error:
        line = error.lineno or 1
        column = error.offset or 1
        end = error.end_offset if error.end_lineno == line and error.end_offset else column + 1
        return Diagnostic(SYNTAX_ERROR, f"syntax error: {error.msg}",
                          ir.Span(path, line, column, line, max(end, column + 1)))
    except (ValueError, RecursionError, MemoryError):
        pass
    text = str(exc.message).strip()
    message = text.splitlines()[0] if text else "invalid syntax"
    line, column = exc.raw_line, exc.raw_column + 1
    return Diagnostic(SYNTAX_ERROR, f"syntax error: {message}", ir.Span(path, line, column, line, column + 1))


@dataclass
class _Module:
    """One parsed module of the flow's project: the flow file or a project-local import."""

    path: str  # as diagnostics show it
    module: cst.Module
    names: _Names
    span_of: Callable[[cst.CSTNode], ir.Span]
    extension: evaluation.Extension
    constants: Any
    functions: frozenset[str]
    classes: dict[str, cst.ClassDef]
    function_defs: dict[str, cst.FunctionDef] = field(default_factory=dict)


def _parse(source: str, path: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise FrontendError(_syntax_error(source, path, exc)) from None


def _analyze(module: cst.Module, path: str, package: str, follow: Callable[[str], str | None] | None
             ) -> _Module:
    """Positions, qualified names, imports and constants of one parsed module."""
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(FastPositionProvider)
    skeleton, representatives = _skeleton(module)
    qualified = MetadataWrapper(skeleton, unsafe_skip_copy=True).resolve(QualifiedNameProvider)
    star = any(isinstance(s, cst.SimpleStatementLine) and any(
        isinstance(i, cst.ImportFrom) and isinstance(i.names, cst.ImportStar)
        and i.module is not None and _dotted(i.module) in API_PACKAGES for i in s.body)
        for s in module.body)
    names = _Names(qualified, star, representatives, follow)

    def span_of(node: cst.CSTNode) -> ir.Span:
        # The one place where libcst's 0-based columns become the 1-based columns editors show.
        line, column, end_line, end_column = positions[node]
        return ir.Span(path, line, column + 1, end_line, end_column + 1)

    extension = evaluation.Extension(evaluation.import_aliases(module, package), span_of)
    functions = frozenset(s.name.value for s in module.body if isinstance(s, cst.FunctionDef))
    extension.module, extension.functions = module, functions
    extension.file = os.path.abspath(path) if not path.startswith("<") else ""
    extension.directory = os.path.dirname(extension.file) if extension.file else os.getcwd()
    constants = collect_constants(module, extension)
    classes = {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef)}
    defs = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
    return _Module(path, module, names, span_of, extension, constants, functions, classes, defs)


class _Project:
    """The flow file's project-local modules (``project.py`` finds them), parsed on first use and
    never imported. Base flows, mixins, constants and re-exported decorators are followed
    through them; every file read is a source of the flow."""

    def __init__(self, flow_path: str, compile_options: options.CompileOptions):
        self.flow_path = flow_path
        self.real = not flow_path.startswith("<")
        self.flow_dir = os.path.dirname(os.path.abspath(flow_path))
        self.modules: dict[str, _Module | None] = {}
        self.sources: list[str] = []
        self.diagnostics: list[Diagnostic] = []
        try:
            self.roots = project.import_roots(flow_path, compile_options.pythonpath) if self.real else ()
        except project.SettingError as exc:
            self.roots = project.import_roots(flow_path, compile_options.pythonpath, setting=False)
            self.diagnostics.append(Diagnostic(PYTHONPATH_SETTING, str(exc), ir.Span(flow_path, 0, 0, 0, 0)))
        self.shared = evaluation.Extension({}, lambda node: ir.NO_SPAN)  # configs, seen by every module

    def adopt(self, module: _Module) -> _Module:
        """Share configs and external lookups with every module's evaluation extension."""
        ext = module.extension
        ext.configs, ext.config_names, ext.failed = self.shared.configs, self.shared.config_names, self.shared.failed
        ext.external = self.constant
        return module

    def display(self, file: str) -> str:
        relative = os.path.relpath(file, self.flow_dir)
        return os.path.normpath(os.path.join(os.path.dirname(self.flow_path), relative))

    def load(self, dotted: str, file: str) -> _Module | None:
        if file in self.modules:
            return self.modules[file]
        self.modules[file] = None  # an import cycle resolves to nothing instead of recursing
        path = self.display(file)
        try:
            source = open(file, encoding="utf-8").read()
            parsed = _parse(source, path)
        except FrontendError as exc:
            self.diagnostics.append(exc.diagnostic)
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.diagnostics.append(Diagnostic(IMPORTED_MODULE, f"cannot read module {dotted} ({file}): {exc}",
                                               ir.Span(path, 0, 0, 0, 0)))
            return None
        package = dotted if file.endswith("__init__.py") else dotted.rpartition(".")[0]
        module = self.adopt(_analyze(parsed, path, package, self.api))
        self.modules[file] = module
        self.sources.append(os.path.relpath(file, self.flow_dir).replace(os.sep, "/"))
        return module

    def resolve(self, origin: str, depth: int = 0) -> tuple[str, Any] | None:
        """What ``origin`` (``common.pipeline.Pipeline``) is: ``("api", "retry")``, ``("class",
        (ClassDef, _Module))``, ``("constant", value)``, or None when not project-local."""
        head = origin.split(".")[0]
        if head in API_PACKAGES:
            return ("api", origin.rsplit(".", 1)[-1]) if "." in origin else None
        if not self.roots or depth > 16:
            return None
        found = project.split_origin(origin, self.roots)
        if found is None or "." in found[2]:
            return None
        dotted, file, attribute = found
        module = self.load(dotted, file)
        if module is None:
            return None
        if attribute in module.classes:
            return "class", (module.classes[attribute], module)
        if attribute in module.function_defs:
            return "function", (module.function_defs[attribute], module)
        if attribute in module.constants:
            return "constant", module.constants[attribute]
        if attribute in module.extension.aliases:
            return self.resolve(module.extension.aliases[attribute], depth + 1)
        return None

    def api(self, origin: str) -> str | None:
        """The flowc/Metaflow name a project module re-exports under ``origin``, if any."""
        if "." not in origin or not self.roots or origin.split(".")[0] in API_PACKAGES:
            return None
        found = self.resolve(origin)
        return found[1] if found is not None and found[0] == "api" else None

    def constant(self, origin: str) -> tuple[bool, Any]:
        found = self.resolve(origin)
        return (True, found[1]) if found is not None and found[0] == "constant" else (False, None)

    # ------------------------------------------------------------------ classes

    def base(self, expression: cst.BaseExpression, module: _Module) -> tuple[str, Any] | None:
        """A class base: ``("api", "FlowSpec")``, ``("class", (ClassDef, _Module))`` or None."""
        api = module.names.api(expression)
        if api is not None:
            return "api", api
        if isinstance(expression, cst.Name) and expression.value in module.classes:
            return "class", (module.classes[expression.value], module)
        origin = module.extension.origin(expression)
        found = self.resolve(origin) if origin is not None and "." in origin else None
        return found if found is not None and found[0] == "class" else None

    def is_flow(self, cls: cst.ClassDef, module: _Module, seen: frozenset[int] = frozenset()) -> bool:
        if id(cls) in seen:
            return False
        for b in cls.bases:
            found = self.base(b.value, module)
            if found == ("api", "FlowSpec"):
                return True
            if found is not None and found[0] == "class" and self.is_flow(found[1][0], found[1][1], seen | {id(cls)}):
                return True
        return False

    def definition(self, target: cst.BaseExpression, module: _Module) -> tuple[cst.CSTNode, _Module] | None:
        """The class or function a decorator names, in this module or a project-local one."""
        if isinstance(target, cst.Name):
            if target.value in module.classes:
                return module.classes[target.value], module
            if target.value in module.function_defs:
                return module.function_defs[target.value], module
        origin = module.extension.origin(target)
        found = self.resolve(origin) if origin is not None and "." in origin else None
        return found[1] if found is not None and found[0] in ("class", "function") else None

    def user_kinds(self, node: cst.CSTNode, module: _Module, depth: int = 0) -> frozenset[str]:
        """What a definition is among ``FlowMutator`` / ``StepMutator`` / ``UserStepDecorator``
        (subclasses; a class may be both of the last two) and ``user_step_decorator`` (a generator
        function it decorates); empty for anything else."""
        if isinstance(node, cst.FunctionDef):
            for d in node.decorators:
                target = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
                if module.names.api(target) == "user_step_decorator":
                    return frozenset({"user_step_decorator"})
            return frozenset()
        if not isinstance(node, cst.ClassDef) or depth > 16:
            return frozenset()
        kinds: set[str] = set()
        for b in node.bases:
            api = module.names.api(b.value)
            if api in USER_KINDS:
                kinds.add(api)
                continue
            found = self.base(b.value, module)
            if found is not None and found[0] == "class":
                kinds |= self.user_kinds(found[1][0], found[1][1], depth=depth + 1)
        return frozenset(kinds)

    def lineage(self, cls: cst.ClassDef, module: _Module) -> list[tuple[cst.ClassDef, _Module]]:
        """The project classes ``cls`` inherits from (base flows and mixins, wherever defined),
        bases first, then ``cls``: a later class overrides an earlier one's steps, as Python's
        method resolution order does for ``class C(A, B)`` (A over B)."""
        out: list[tuple[cst.ClassDef, _Module]] = []
        seen: set[int] = set()

        def visit(node: cst.ClassDef, where: _Module) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            for b in reversed(node.bases):
                found = self.base(b.value, where)
                if found is not None and found[0] == "class":
                    visit(*found[1])
            out.append((node, where))

        visit(cls, module)
        return out


def lower(source: str, path: str, flow_name: str | None = None, source_sha256: str = "") -> Lowered:
    """Parse ``source`` and lower its flow class; raises ``FrontendError`` on file-level problems."""
    module = _parse(source, path)
    work = _Project(path, options.current())
    main = work.adopt(_analyze(module, path, "", work.api))
    # A flow derives from FlowSpec, directly or through other flow classes of this file or of
    # project-local modules.
    local_flows = {name: c for name, c in main.classes.items() if work.is_flow(c, main)}
    flows = list(local_flows.values())
    if not flows:
        if work.diagnostics:  # e.g. the module holding the base flow does not parse
            raise FrontendError(work.diagnostics[0])
        raise FrontendError(Diagnostic(NO_FLOW, "no FlowSpec subclass found (define a class deriving "
                                       "from metaflow.FlowSpec or flowc.FlowSpec)", ir.Span(path, 0, 0, 0, 0)))
    if flow_name is None and len(flows) > 1:
        flow_name = _main_flow(module, local_flows)
    if flow_name is None:
        if len(flows) > 1:
            listed = ", ".join(c.name.value for c in flows)
            raise FrontendError(Diagnostic(SEVERAL_FLOWS, f"the file defines several flows ({listed}); "
                                           "choose one with --flow NAME", ir.Span(path, 0, 0, 0, 0)))
        chosen = flows[0]
    else:
        matching = [c for c in flows if c.name.value == flow_name]
        if not matching:
            close = difflib.get_close_matches(flow_name, [c.name.value for c in flows], n=1)
            raise FrontendError(Diagnostic(
                FLOW_NOT_FOUND, f"no flow named {flow_name!r} in the file (flows: "
                + ", ".join(c.name.value for c in flows) + ")", ir.Span(path, 0, 0, 0, 0),
                hint=f"did you mean '{close[0]}'?" if close else None))
        chosen = matching[-1]
    lowering = _FlowLowering(main)
    lineage = work.lineage(chosen, main)
    flow = lowering.lower_class(chosen, source_sha256, lineage, work)
    surface = imports.check(source, path)  # names imported from metaflow that flowc lacks
    # facts about the flow file's own classes and steps (inherited ones from other modules are
    # read in their own module and left out here)
    facts = SourceFacts(module, [c for c, where in lineage if where is main], lowering.step_nodes)
    return Lowered(flow, tuple([*work.diagnostics, *surface, *lowering.diagnostics]), lowering.target_spans,
                   frozenset(lowering.invalid), frozenset(lowering.helpers), facts)


def _method_names(cls: cst.ClassDef) -> Iterable[str]:
    """Names of the methods of ``cls`` (steps or not)."""
    for statement in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
        if isinstance(statement, cst.FunctionDef):
            yield statement.name.value


def _marked(step: cst.Decorator, role: str) -> bool:
    """``@step(start=True)`` for ``role="start"``."""
    return isinstance(step.decorator, cst.Call) and any(
        arg.keyword is not None and arg.keyword.value == role and isinstance(arg.value, cst.Name)
        and arg.value.value == "True" for arg in step.decorator.args)


def _main_flow(module: cst.Module, flows: dict[str, cst.ClassDef]) -> str | None:
    """The flow class that ``if __name__ == "__main__":`` instantiates (what Metaflow runs)."""
    for statement in module.body:
        if not (isinstance(statement, cst.If) and isinstance(statement.test, cst.Comparison)):
            continue
        text = _dotted(statement.test).replace("'", '"').replace(" ", "")
        if text not in ('__name__=="__main__"', '"__main__"==__name__'):
            continue
        found: list[str] = []

        class Calls(cst.CSTVisitor):
            def visit_Call(self, call: cst.Call) -> None:
                if isinstance(call.func, cst.Name) and call.func.value in flows:
                    found.append(call.func.value)

        statement.body.visit(Calls())
        if len(set(found)) == 1:
            return found[0]
    return None


class _FlowLowering:
    def __init__(self, main: _Module):
        self.main = main
        self.use(main)
        self.flow_path = main.path
        self.diagnostics: list[Diagnostic] = []
        self.target_spans: dict[tuple[str, str], ir.Span] = {}
        self.invalid: set[str] = set()
        self.helpers: set[str] = set()
        self.configs: list[ir.Config] = []
        self.step_nodes: dict[str, cst.FunctionDef] = {}  # the flow file's own steps
        self.evaluated: list[ir.Evaluated] = []
        self.sources: list[str] = []  # files besides the flow file the flow is built from
        self.start_name, self.end_name = "start", "end"

    def use(self, module: _Module) -> None:
        """Lower what follows in ``module``'s context (its names, constants and positions), so a
        class inherited from another module is read, and its problems reported, there."""
        self.current = module
        self.path, self.names, self.span_of = module.path, module.names, module.span_of
        self.constants, self.functions = module.constants, module.functions
        self.module, self.extension = module.module, module.extension

    # ------------------------------------------------------------------ the class

    def lower_class(self, node: cst.ClassDef, sha: str, lineage: list[tuple[cst.ClassDef, _Module]],
                    work: _Project) -> ir.Flow:
        decorators: dict[str, Any] = {}
        steps: dict[str, ir.Step] = {}
        params: list[ir.Parameter] = []
        self.work = work
        self.mutators: list[mutation.Mutator] = []
        self.flow_name = node.name.value
        self._resolve_configs(lineage)
        self.start_name, self.end_name = self._endpoints(lineage)
        for cls, where in lineage:
            self.use(where)
            own: dict[str, ir.Step] = {}
            own_params: list[ir.Parameter] = []
            for record in self._decorators(cls.decorators, scope="flow", owner=f"flow {cls.name.value}"):
                key = record.tag if not isinstance(record, ir.UnknownDecorator) else f"?{len(decorators)}"
                decorators[key] = record
            for statement in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
                if isinstance(statement, cst.FunctionDef):
                    step = self.lower_function(statement)
                    if step is None:
                        steps.pop(statement.name.value, None)  # a plain method hides an inherited step
                        continue
                    if step.name in own:
                        self.diagnostics.append(Diagnostic(
                            DUPLICATE_STEP, f"step '{step.name}' is defined twice (first at line "
                            f"{own[step.name].span.line})", step.span))
                        continue
                    own[step.name] = step
                    steps[step.name] = step  # an override keeps the inherited step's place
                    if where is self.main:
                        self.step_nodes[step.name] = statement
                    else:
                        self.step_nodes.pop(step.name, None)
                elif isinstance(statement, cst.SimpleStatementLine):
                    for small in statement.body:
                        param = self._parameter(small)
                        if param is not None:
                            own_params.append(param)
            # a subclass's parameter replaces the base's of the same attribute
            overridden = {p.attribute for p in own_params}
            params = [p for p in params if p.attribute not in overridden] + own_params
        self.use(self.main)
        if work.shared.failed:
            self.diagnostics = [d for d in self.diagnostics if evaluation.CASCADE not in d.message]
        records = {key: record for m in (self.main, *(m for m in work.modules.values() if m is not None))
                   for key, record in m.extension.records.items()}
        self.sources.extend(work.sources)
        for source in work.sources:
            if source.startswith("../"):
                self.diagnostics.append(Diagnostic(
                    OUTSIDE_PACKAGE, f"module {source} is outside the flow's directory: code packages do "
                    "not include it", self.span_of(node.name), WARNING,
                    hint="put its root on PYTHONPATH where tasks run, or move it beside the flow"))
        flow = ir.Flow(
            name=node.name.value,
            path=self.path,
            source_sha256=sha,
            steps=tuple(steps.values()),
            parameters=tuple(params),
            decorators=tuple(decorators.values()),
            docstring=node.get_docstring(),
            span=self.span_of(node.name),
            configs=tuple(self.configs),
            evaluated=(*self.evaluated, *records.values()),
            sources=tuple(dict.fromkeys(self.sources)),
            start_step=self.start_name,
            end_step=self.end_name,
        )
        if not self.mutators:
            return flow
        compile_options = options.current()
        return mutation.apply_mutators(flow, self.mutators, compile_options.evaluate_code, work.flow_dir,
                                       [*work.roots], self.diagnostics)

    def _endpoints(self, lineage: list[tuple[cst.ClassDef, _Module]]) -> tuple[str, str]:
        """The start and end step names by Metaflow 2.19's rule (the step marked
        ``@step(start=True)`` / ``@step(end=True)``, else the one named ``start`` / ``end``; a
        lone step is both), known before any step is lowered: the end step has no transition."""
        marks: dict[str, tuple[bool, bool, ir.Span]] = {}
        nodes: dict[str, cst.FunctionDef] = {}
        for cls, where in lineage:
            self.use(where)
            for statement in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
                if not isinstance(statement, cst.FunctionDef):
                    continue
                name = statement.name.value
                marker = next((d for d in statement.decorators if self._api_of(d) == "step"), None)
                if marker is None:
                    marks.pop(name, None)  # a plain method hides an inherited step
                else:
                    marks[name] = (_marked(marker, "start"), _marked(marker, "end"), self.span_of(statement.name))
                    nodes[name] = statement
        self.use(self.main)
        lone = nodes[next(iter(marks))] if len(marks) == 1 else None
        if lone is not None and not _next_calls(lone.body, self._self_name(lone)):  # calling next(): no end
            (only,) = marks
            plain = sorted({"start", "end"} - {only} & {n for c, _ in lineage for n in _method_names(c)})
            if plain:
                self.diagnostics.append(Diagnostic(
                    LONE_STEP, f"step '{only}' is the flow's only step, so it is both start and end; method "
                    f"'{plain[0]}' has no @step and never runs", marks[only][2], WARNING,
                    hint=f"add @step to method '{plain[0]}' if it is a step"))
            return only, only
        chosen = []
        for index, role in enumerate(("start", "end")):
            marked = [name for name, mark in marks.items() if mark[index]]
            if len(marked) > 1:
                self.diagnostics.append(Diagnostic(
                    AMBIGUOUS_ENDPOINT, f"several steps are marked @step({role}=True): {', '.join(marked)}",
                    marks[marked[1]][2], hint="mark exactly one"))
            elif marked and marked[0] != role and role in marks:
                self.diagnostics.append(Diagnostic(
                    AMBIGUOUS_ENDPOINT, f"step '{marked[0]}' is marked @step({role}=True) and a step named "
                    f"'{role}' exists too", marks[marked[0]][2],
                    hint=f"rename step '{role}' or remove the {role}=True mark"))
            else:
                chosen.append(marked[0] if marked else role)
                continue
            self.invalid.add(marked[0])  # no graph to walk: unreachable steps would only echo this
            chosen.append(marked[0] if len(marked) == 1 else role)
        return chosen[0], chosen[1]

    def _class_assignments(self, cls: cst.ClassDef) -> Iterable[tuple[str, cst.Call]]:
        """``name = <call>`` statements of a class body."""
        for statement in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if (isinstance(small, cst.Assign) and len(small.targets) == 1
                            and isinstance(small.targets[0].target, cst.Name) and isinstance(small.value, cst.Call)):
                        yield small.targets[0].target.value, small.value

    def _resolve_configs(self, lineage: list[tuple[cst.ClassDef, _Module]]) -> None:
        """Every ``Config`` of the flow, resolved before any decorator or default refers to it."""
        calls: dict[str, tuple[cst.Call, _Module]] = {}
        for cls, where in lineage:
            for attribute, call in self._class_assignments(cls):
                if where.names.api(call.func) == "Config":
                    calls[attribute] = (call, where)  # a subclass's config replaces its base's
        for attribute, (call, where) in calls.items():
            self.use(where)
            ctx = configs.ConfigContext(configs.flow_dir_of(self.flow_path), self.module, self.constants,
                                        self.span_of, self.names.api, options.current(), self.functions,
                                        self.flow_name)
            resolved, problems = configs.resolve(attribute, call, ctx)
            self.diagnostics.extend(problems)
            if resolved is None:
                self.extension.failed.add(attribute)
                name = call.args[0].value if call.args else None
                if isinstance(name, cst.SimpleString):
                    self.extension.failed.add(str(name.evaluated_value))
            else:
                self.configs.append(resolved.config)
                self.evaluated.extend(resolved.evaluated)
                self.sources.extend(e.detail for e in resolved.evaluated if e.kind == "config-file")
                self.extension.configs[attribute] = resolved.value
                self.extension.config_names[resolved.config.name] = attribute

    def _parameter(self, small: cst.BaseSmallStatement) -> ir.Parameter | None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target, value = small.targets[0].target, small.value
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            target, value = small.target, small.value
        else:
            return None
        if not isinstance(target, cst.Name) or not isinstance(value, cst.Call):
            return None
        kind = self.names.api(value.func)
        if kind not in ("Parameter", "IncludeFile"):
            return None
        param, problems = parameters.lower(kind, target.value, value, self.names.api, self.span_of,
                                           self.constants)
        self.diagnostics.extend(problems)
        node = deploy_time.callable_default(value, self.functions) if kind == "Parameter" else None
        if param is None or node is None or param.default_kind != "runtime":
            return param
        compile_options = options.current()
        ctx = deploy_time.Context(self.module, self.constants, self.flow_name,
                                  {c.name: json.loads(c.value) for c in self.configs}, self.extension.directory,
                                  compile_options.pythonpath, compile_options.evaluate_code)
        param, record, problem = deploy_time.evaluate(param, node, ctx, self.span_of(node))
        self.evaluated.extend([record] if record is not None else [])
        self.diagnostics.extend([problem] if problem is not None else [])
        return param

    # ------------------------------------------------------------------ steps

    def lower_function(self, node: cst.FunctionDef) -> ir.Step | None:
        name = node.name.value
        step_positions = [i for i, d in enumerate(node.decorators) if self._api_of(d) == "step"]
        if not step_positions:
            self.helpers.add(name)
            for d in node.decorators:
                api = self._api_of(d)
                if api in ir.STEP_DECORATORS or api in ir.FLOW_DECORATORS:
                    self.diagnostics.append(Diagnostic(
                        MISPLACED_DECORATOR, f"@{api} is applied to method '{name}', which is not a step",
                        self.span_of(d), hint="add @step below it"))
            return None
        self.step_name = name
        step_at = step_positions[0]
        for extra in step_positions[1:]:
            self.diagnostics.append(Diagnostic(DUPLICATE_DECORATOR, f"@step is applied twice to '{name}'",
                                               self.span_of(node.decorators[extra])))
        self._step_flags(node, node.decorators[step_at])
        for index, d in enumerate(node.decorators):
            api = self._api_of(d)
            if index > step_at and api != "step" and (api in ir.STEP_DECORATORS or api in ir.FLOW_DECORATORS):
                self.diagnostics.append(Diagnostic(
                    DECORATOR_BELOW_STEP, f"@{api} is below @step on step '{name}'", self.span_of(d),
                    hint="move it above @step"))
        others = [d for i, d in enumerate(node.decorators) if i not in step_positions]
        decorators = self._decorators(others, scope="step", owner=f"step '{name}'")
        is_join = self._check_arguments(node)
        transition, next_call = self._transition(node)
        return ir.Step(
            name=name,
            transition=transition,
            is_join=is_join,
            decorators=decorators,
            docstring=node.get_docstring(),
            span=self.span_of(node.name),
            next_span=self.span_of(next_call) if next_call is not None else None,
        )

    def _api_of(self, d: cst.Decorator) -> str | None:
        target = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
        return self.names.api(target)

    def _step_flags(self, node: cst.FunctionDef, d: cst.Decorator) -> None:
        if not isinstance(d.decorator, cst.Call):
            return
        for arg in d.decorator.args:
            keyword = arg.keyword.value if arg.keyword is not None else None
            flag = arg.value.value if isinstance(arg.value, cst.Name) else None
            flag_ok = keyword in ("start", "end") and flag in ("True", "False")
            if not flag_ok:
                self.diagnostics.append(Diagnostic(STEP_FLAG, "@step accepts only start=True or end=True",
                                                   self.span_of(arg)))

    def _check_arguments(self, node: cst.FunctionDef) -> bool:
        params = node.params
        positional = [*params.posonly_params, *params.params]
        name = node.name.value
        extras = [p for p in positional if p.default is not None]
        if not isinstance(params.star_arg, cst.MaybeSentinel) or params.kwonly_params or params.star_kwarg:
            self.diagnostics.append(Diagnostic(STEP_ARGUMENTS, f"step '{name}' takes *args, keyword-only "
                                               "or **kwargs arguments", self.span_of(node.name),
                                               hint="a step takes (self), a join step (self, inputs)"))
        elif not positional:
            self.diagnostics.append(Diagnostic(STEP_ARGUMENTS, f"step '{name}' is missing the 'self' argument",
                                               self.span_of(node.name)))
        elif len(positional) > 2:
            self.diagnostics.append(Diagnostic(
                STEP_ARGUMENTS, f"step '{name}' has too many arguments ({len(positional)})",
                self.span_of(positional[2]), hint="a step takes (self), a join step (self, inputs)"))
        elif extras:
            self.diagnostics.append(Diagnostic(STEP_ARGUMENTS, f"step '{name}' has an argument with a default",
                                               self.span_of(extras[0])))
        return len(positional) >= 2  # a join with extra arguments is still meant as a join

    def _decorators(self, nodes: Iterable[cst.Decorator], scope: str, owner: str) -> tuple[ir.Decorator, ...]:
        records: list[Any] = []
        seen: dict[str, cst.Decorator] = {}
        table = ir.STEP_DECORATORS if scope == "step" else ir.FLOW_DECORATORS
        wrong = ir.FLOW_DECORATORS if scope == "step" else ir.STEP_DECORATORS
        # (decorator, expression read): a wrapper's wrapped decorator is read after it
        pending = [(d, d.decorator) for d in nodes]
        while pending:
            d, expression = pending.pop(0)
            call = expression if isinstance(expression, cst.Call) else None
            target = call.func if call is not None else expression
            api = self.names.api(target)
            if api in table:
                if api in seen and api not in _REPEATABLE:
                    self.diagnostics.append(Diagnostic(
                        DUPLICATE_DECORATOR, f"@{api} is applied twice to {owner}", self.span_of(d),
                        hint=f"first applied at line {self.span_of(seen[api]).line}"))
                    continue
                seen[api] = d
                record, problems = deco.lower(table[api], call, d, self.span_of, self.constants, self.functions)
                self.diagnostics.extend(problems)
                records.append(record)
            elif api in wrong or api == "step":
                where = "the flow class" if scope == "flow" else "a step"
                self.diagnostics.append(Diagnostic(
                    MISPLACED_DECORATOR, f"@{api} is a {'step' if scope == 'flow' else 'flow'} decorator "
                    f"and cannot be applied to {where}", self.span_of(d)))
            elif self._user_decorator(target, call, d, scope):
                continue
            elif call is not None and (wrapped := self._wrapped(target, call, d, {**table, **wrong})) is not None:
                pending[:0] = [(d, e) for e in wrapped]
            else:
                record, problems = deco.unknown(_dotted(target), call, d, self.span_of, self.constants)
                self.diagnostics.extend(problems)
                records.append(record)
        if "kubernetes" in seen and "batch" in seen:
            self.diagnostics.append(Diagnostic(
                CONFLICTING_COMPUTE, f"{owner} has both @kubernetes and @batch", self.span_of(seen["batch"]),
                hint="keep one of them"))
        return tuple(records)

    def _wrapped(self, target: cst.BaseExpression, call: cst.Call, d: cst.Decorator,
                 known: Mapping[str, Any]) -> list[cst.BaseExpression] | None:
        """For a project decorator given a Metaflow decorator (``@enable_decorator(batch(...),
        flag=...)``): the wrapped decorator when the wrapper applies it, ``[]`` when it does not
        or cannot be known (then with a diagnostic). ``None`` for any other decorator."""
        inner = [a for a in call.args if self.names.api(
            a.value.func if isinstance(a.value, cst.Call) else a.value) in known]
        if len(inner) != 1:
            return None
        wrapper, (wrapped_arg,) = _dotted(target), inner
        wrapped = self.names.api(wrapped_arg.value.func if isinstance(wrapped_arg.value, cst.Call)
                                 else wrapped_arg.value) or "?"
        span = self.span_of(d)
        work = getattr(self, "work", None)
        found = work.definition(target, self.current) if work is not None else None
        if work is None or found is None or not isinstance(found[0], cst.FunctionDef):
            self.diagnostics.append(wrappers.unresolved(wrapper, wrapped, "it is not a function defined in "
                                                        "the flow's project", span))
            return []
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for arg in call.args:
            try:
                value = wrappers.PROBE if arg is wrapped_arg else to_python(arg.value, self.constants)
            except NotStatic as exc:
                self.diagnostics.append(wrappers.unresolved(wrapper, wrapped, f"an argument is not known "
                                                            f"statically ({exc.reason})", self.span_of(exc.node)))
                return []
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        if not options.current().evaluate_code:
            self.diagnostics.append(wrappers.refused(wrapper, wrapped, span))
            return []
        definition, where = found
        try:
            applied = wrappers.applies(definition.name.value, where.module, where.constants, args, kwargs,
                                       work.flow_dir, [*work.roots])
        except isolated.IsolatedError as exc:
            self.diagnostics.append(wrappers.failed(wrapper, wrapped, str(exc), span))
            return []
        self.evaluated.append(ir.Evaluated("wrapper", wrapper, f"{'applies' if applied else 'does not apply'} "
                                           f"@{wrapped}", span))
        return [wrapped_arg.value] if applied else []

    def _user_decorator(self, target: cst.BaseExpression, call: cst.Call | None, d: cst.Decorator,
                        scope: str) -> bool:
        """A user step decorator (run time only) or a mutator (run at compile time, collected
        here): True when ``d`` is one of them and has been handled."""
        work = getattr(self, "work", None)
        found = work.definition(target, self.current) if work is not None else None
        kinds = work.user_kinds(*found) if work is not None and found is not None else frozenset()
        if not kinds:
            return False
        wanted = {"FlowMutator"} if scope == "flow" else {"StepMutator", "UserStepDecorator", "user_step_decorator"}
        if not kinds & wanted:
            self.diagnostics.append(Diagnostic(MISPLACED_DECORATOR, f"@{_dotted(target)} is a {min(kinds)} and "
                                               f"cannot be applied to {'the flow class' if scope == 'flow' else 'a step'}",
                                               self.span_of(d)))
            return True
        if not kinds & {"FlowMutator", "StepMutator"}:
            return True  # wraps the step when it runs: the shim applies it on import
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for arg in call.args if call is not None else ():
            try:
                value = to_python(arg.value, self.constants)
            except NotStatic as exc:
                self.diagnostics.append(Diagnostic(deco.NOT_STATIC, f"@{_dotted(target)}: argument is not known "
                                                   f"statically: {exc.reason}", self.span_of(exc.node)))
                return True
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            else:
                args.append(value)
        assert found is not None  # kinds were found for it
        definition, where = found
        self.mutators.append(mutation.Mutator(definition.name.value, where.module, where.constants,
                                              None if scope == "flow" else self.step_name, args, kwargs,
                                              self.span_of(d)))
        return True

    # ------------------------------------------------------------------ transitions

    def _self_name(self, node: cst.FunctionDef) -> str:
        positional = [*node.params.posonly_params, *node.params.params]
        return positional[0].name.value if positional else "self"

    def _transition(self, node: cst.FunctionDef) -> tuple[ir.Transition, cst.Call | None]:
        name = node.name.value
        me = self._self_name(node)
        body = node.body
        if isinstance(body, cst.SimpleStatementSuite):
            last: cst.CSTNode | None = body.body[-1] if body.body else None
        else:
            tail = body.body[-1] if body.body else None
            last = tail.body[-1] if isinstance(tail, cst.SimpleStatementLine) and tail.body else None
        final = last.value if isinstance(last, cst.Expr) and _is_next_call(last.value, me) else None
        calls = _next_calls(body, me)
        for call in calls:
            if call is not final and name != self.end_name:
                self.diagnostics.append(Diagnostic(
                    NEXT_NOT_LAST, f"self.next() in step '{name}' is not the step's last statement",
                    self.span_of(call), hint=(
                        "to choose the next step at run time, end with a switch: "
                        "self.next({'a': self.x, 'b': self.y}, condition='attr')" if len(calls) > 1 and final is None
                        else "make self.next(...) the final statement, called once")))
        if name == self.end_name:
            if calls:
                called = "the end step" + ("" if name == "end" else f" '{name}'")
                self.diagnostics.append(Diagnostic(END_HAS_NEXT, f"{called} must not call self.next()",
                                                   self.span_of(calls[0]), hint="remove the call"))
            return ir.End(), None
        if final is None:
            self.invalid.add(name)
            if not calls:
                self.diagnostics.append(Diagnostic(
                    MISSING_NEXT, f"step '{name}' has no self.next() transition", self.span_of(node.name),
                    hint="end the step with self.next(self.<next step>)"))
            return ir.End(), None
        transition = self._parse_next(name, me, final)
        if transition is None:
            self.invalid.add(name)
            return ir.End(), final
        return transition, final

    def _step_reference(self, me: str, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == me:
            return node.attr.value
        return None

    def _invalid(self, node: cst.CSTNode, message: str, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(INVALID_NEXT, message, self.span_of(node), hint=hint))

    def _parse_next(self, name: str, me: str, call: cst.Call) -> ir.Transition | None:
        """The transition a ``self.next(...)`` call makes, or None (a diagnostic said why)."""
        split = self._next_arguments(name, call)
        if split is None:
            return None
        positional, keywords = split
        if "condition" in keywords or isinstance(positional[0].value, cst.Dict):
            return self._parse_switch(name, me, call, positional, keywords)
        targets = self._next_targets(name, me, positional)
        if targets is None:
            return None
        if "foreach" in keywords or "num_parallel" in keywords:
            return self._parse_fan_out(call, targets, keywords)
        if len(targets) == 1:
            return ir.Linear(target=targets[0])
        return ir.Split(branches=tuple(targets))

    def _next_arguments(self, name: str, call: cst.Call) -> tuple[list[cst.Arg], dict[str, cst.Arg]] | None:
        """``self.next``'s positional and keyword arguments, checked for shape."""
        positional: list[cst.Arg] = []
        keywords: dict[str, cst.Arg] = {}
        for arg in call.args:
            if arg.star:
                self._invalid(arg, "self.next() does not accept *args or **kwargs")
                return None
            if arg.keyword is None:
                if keywords:
                    self._invalid(arg, "positional argument after a keyword argument in self.next()")
                    return None
                positional.append(arg)
            else:
                keywords[arg.keyword.value] = arg
        for keyword, arg in keywords.items():
            if keyword not in _NEXT_KEYWORDS:
                close = difflib.get_close_matches(keyword, list(_NEXT_KEYWORDS), n=1)
                self._invalid(arg, f"self.next() has no argument '{keyword}'",
                              f"did you mean '{close[0]}'?" if close else None)
                return None
        if not positional:
            self._invalid(call, f"self.next() in step '{name}' names no step",
                          "pass the next step, e.g. self.next(self.end)")
            return None
        if len(keywords) > 1:
            self._invalid(call, "self.next() takes at most one of foreach=, condition= and num_parallel=")
            return None
        return positional, keywords

    def _static_string(self, arg: cst.Arg, what: str) -> str | None:
        """A ``foreach=`` / ``condition=`` value: a string naming an attribute of self."""
        try:
            value = evaluate(arg.value, self.constants)
        except NotStatic:
            value = None
        if not isinstance(value, str) or not value.isidentifier():
            self._invalid(arg.value, f"{what}= must be a string literal naming an attribute of self",
                          f"e.g. {what}='items'")
            return None
        return value

    def _parse_switch(self, name: str, me: str, call: cst.Call, positional: list[cst.Arg],
                      keywords: dict[str, cst.Arg]) -> ir.Switch | None:
        """``self.next({"a": self.x, ...}, condition="attr")``."""
        cases_arg = positional[0].value
        if len(positional) != 1 or not isinstance(cases_arg, cst.Dict):
            self._invalid(call, "a switch takes one dict of cases: self.next({'a': self.x, ...}, condition='attr')")
            return None
        if "condition" not in keywords:
            self._invalid(call, "a switch needs condition='attribute' naming the value to switch on")
            return None
        condition = self._static_string(keywords["condition"], "condition")
        if condition is None:
            return None
        cases: list[tuple[str, str]] = []
        for element in cases_arg.elements:
            case = self._switch_case(name, me, element, {key for key, _ in cases})
            if case is None:
                return None
            cases.append(case)
        return ir.Switch(condition=condition, cases=tuple(cases))

    def _switch_case(self, name: str, me: str, element: cst.BaseDictElement,
                     seen: set[str]) -> tuple[str, str] | None:
        """One ``"key": self.step`` case of a switch (its key not among ``seen``)."""
        if not isinstance(element, cst.DictElement):  # a StarredDictElement
            self._invalid(element, "a switch's cases must be written out, not expanded with **")
            return None
        try:
            key = evaluate(element.key, self.constants)
        except NotStatic:
            key = None
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            self._invalid(element.key, "a switch case key must be a string (or integer) literal")
            return None
        key = str(key)
        if key in seen:
            self._invalid(element.key, f"switch case {key!r} is given twice")
            return None
        target = self._step_reference(me, element.value)
        if target is None:
            self._invalid(element.value, "a switch case must lead to a step: self.<step>")
            return None
        self.target_spans.setdefault((name, target), self.span_of(element.value))
        return key, target

    def _next_targets(self, name: str, me: str, positional: list[cst.Arg]) -> list[str] | None:
        """The steps ``self.next(self.a, self.b)`` names, each once."""
        targets: list[str] = []
        for arg in positional:
            target = self._step_reference(me, arg.value)
            if target is None:
                self._invalid(arg, "self.next() arguments must be steps of the flow, written self.<step>",
                              "e.g. self.next(self.train)")
                return None
            if target in targets:
                self._invalid(arg, f"step '{target}' appears twice in self.next()")
                return None
            targets.append(target)
            self.target_spans.setdefault((name, target), self.span_of(arg.value))
        return targets

    def _parse_fan_out(self, call: cst.Call, targets: list[str],
                       keywords: dict[str, cst.Arg]) -> ir.Foreach | ir.Parallel | None:
        """``foreach="items"`` or ``num_parallel=n`` (a Parameter: known only at run time)."""
        what = "foreach" if "foreach" in keywords else "num_parallel"
        if len(targets) != 1:
            self._invalid(call, f"a {what} transition names exactly one step")
            return None
        if what == "foreach":
            items = self._static_string(keywords["foreach"], "foreach")
            return ir.Foreach(target=targets[0], items=items) if items else None
        arg = keywords["num_parallel"]
        try:
            count = evaluate(arg.value, self.constants)
        except NotStatic:  # e.g. self.nodes (a Parameter): the task reports it at run time
            return ir.Parallel(target=targets[0], num_parallel=None)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            self._invalid(arg.value, "num_parallel= must be a positive integer")
            return None
        return ir.Parallel(target=targets[0], num_parallel=count)
