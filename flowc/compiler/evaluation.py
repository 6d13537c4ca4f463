"""Values Metaflow computes when it imports a flow to deploy it, computed here without importing.

``values.evaluate`` knows literals and module constants; this extension adds, on the paths where
plain evaluation fails (so a flow using none of it pays nothing):

* deploy-time environment reads: ``os.getenv(NAME[, DEFAULT])``, ``os.environ.get(NAME[,
  DEFAULT])``, ``os.environ[NAME]``, read from the compiling process's environment, the moment
  Metaflow reads them. Each read is recorded (``ir.Evaluated``, kind ``environment``); a name that
  looks secret never has its value shown.
* config references: ``cfg``, ``cfg.a.b``, ``cfg["a"]`` for a ``Config`` class attribute, and
  ``config_expr("cfg.a.b")``, against the values resolved at compile time (``configs.py``).

Names are resolved through the module's own imports (``import os as o``, ``from os import
environ``), never by spelling alone.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import libcst as cst

from flowc.compiler import ir, isolated, options
from flowc.compiler.secret_names import looks_secret
from flowc.compiler.values import NotStatic, evaluate

API_PACKAGES = ("metaflow", "flowc")
# In the reason of a NotStatic raised for a config that already failed to resolve: the front end
# drops such diagnostics, so one bad config file is one diagnostic, not one per use.
CASCADE = "(config not resolved, reported above)"


def import_aliases(module: cst.Module, package: str = "") -> dict[str, str]:
    """Module-level import bindings: local name -> dotted origin (``o`` -> ``os``,
    ``getenv`` -> ``os.getenv``, ``config_expr`` -> ``metaflow.config_expr``). Relative imports
    resolve against ``package`` (the module's package, "" for a script)."""
    aliases: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    dotted = _code(alias.name)
                    local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) \
                        else dotted.split(".")[0]
                    aliases[local] = dotted if alias.asname else local
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                origin = _code(small.module) if small.module is not None else ""
                if small.relative:
                    level = len(small.relative)
                    parts = package.split(".") if package else []
                    if not package or level - 1 > len(parts):
                        continue
                    base = ".".join(parts[:len(parts) - (level - 1)])
                    origin = ".".join(p for p in (base, origin) if p)
                elif not origin:
                    continue
                for alias in small.names:
                    name = _code(alias.name)
                    local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) \
                        else name
                    aliases[local] = f"{origin}.{name}"
    return aliases


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def freeze(value: Any) -> Any:
    """A JSON-like Python value in the IR's shape (lists -> tuples, dicts -> tuples of pairs)."""
    if isinstance(value, dict):
        return tuple((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


class Extension:
    """Called by ``values.evaluate`` for a node it cannot evaluate; returns the IR value or raises
    ``NotStatic``. ``records`` collects what was read, for ``flowc ir`` and the manifest."""

    def __init__(self, aliases: Mapping[str, str], span_of: Callable[[cst.CSTNode], ir.Span],
                 environ: Mapping[str, str | None] | None = None):
        self.aliases = aliases
        self.span_of = span_of
        self.environ = _environment() if environ is None else environ
        self.configs: dict[str, Any] = {}  # class attribute -> resolved Python value
        self.config_names: dict[str, str] = {}  # config name -> class attribute
        self.failed: set[str] = set()  # attributes and names of configs that did not resolve
        self.config_expression_only = False  # inside config_expr("..."): pure builtins allowed
        self.records: dict[tuple[str, str], ir.Evaluated] = {}
        # origin ("common.settings.IMAGE") -> (found, value) in a project-local module
        self.external: Callable[[str], tuple[bool, Any]] | None = None
        # the module this extension evaluates in, for config_expr("fn(cfg)") calling its functions
        self.module: cst.Module | None = None
        self.functions: frozenset[str] = frozenset()
        self.directory = ""
        self.file = ""  # the module's path, absolute: ``__file__`` where Metaflow imports it

    # ------------------------------------------------------------------ names

    def origin(self, node: cst.BaseExpression) -> str | None:
        """``os.environ.get`` for ``environ.get`` after ``from os import environ``, etc."""
        parts: list[str] = []
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        if not isinstance(node, cst.Name):
            return None
        head = self.aliases.get(node.value)
        if head is None:
            return None
        return ".".join([head, *reversed(parts)])

    def api(self, node: cst.BaseExpression, name: str) -> bool:
        origin = self.origin(node)
        return origin is not None and origin.split(".")[0] in API_PACKAGES and origin.endswith("." + name)

    # ------------------------------------------------------------------ evaluation

    def __call__(self, node: cst.BaseExpression, constants: Mapping[str, Any]) -> Any:
        if isinstance(node, cst.Call):
            return self._call(node, constants)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, constants)
        found, value = self._config_path(node)
        if found:
            return freeze(value)
        found, value = self._delayed_access(node, constants)
        if found:
            return value
        external = self.external
        origin = self.origin(node) if external is not None else None
        if external is not None and origin is not None and "." in origin:
            found, value = external(origin)
            if found:
                return value
        if isinstance(node, cst.Name) and node.value == "__file__" and self.file:
            return self.file
        if isinstance(node, cst.Name):
            raise NotStatic(node, f"the name {node.value!r} is not a module-level constant")
        raise NotStatic(node, "an expression that is only known at run time")

    def _call(self, node: cst.Call, constants: Mapping[str, Any]) -> Any:
        origin = self.origin(node.func)
        if origin in ("os.getenv", "os.environ.get"):
            args = [a for a in node.args if a.keyword is None and not a.star]
            keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
            if not args or len(args) > 2 or set(keywords) - {"default"} or any(a.star for a in node.args):
                raise NotStatic(node, f"{origin}() takes the variable's name and an optional default")
            name = evaluate(args[0].value, constants)
            if not isinstance(name, str):
                raise NotStatic(args[0].value, "an environment variable name that is not a string")
            default_node = args[1].value if len(args) > 1 else keywords.get("default")
            default = evaluate(default_node, constants) if default_node is not None else None
            return self.read_environment(name, default, default_node is not None, node)
        if origin in _PATH_FUNCTIONS and all(a.keyword is None and not a.star for a in node.args):
            values = [evaluate(a.value, constants) for a in node.args]
            if not values or not all(isinstance(v, str) for v in values):
                raise NotStatic(node, f"{origin}() of values that are not strings")
            try:
                return _PATH_FUNCTIONS[origin](*values)
            except TypeError as exc:
                raise NotStatic(node, f"{origin}(): {exc}") from None
        if self.api(node.func, "config_expr"):
            if len(node.args) != 1 or node.args[0].keyword is not None:
                raise NotStatic(node, "config_expr() takes one string")
            text = evaluate(node.args[0].value, constants)
            if not isinstance(text, str):
                raise NotStatic(node.args[0].value, "config_expr() takes a string")
            return self.config_expression(text, node, constants)
        name = node.func.value if isinstance(node.func, cst.Name) else None
        builtin = _SAFE_BUILTINS.get(name) if self.config_expression_only and name is not None else None
        if builtin is not None and name not in self.aliases and name not in constants \
                and all(not a.star and a.keyword is None for a in node.args):
            values = [evaluate(a.value, constants) for a in node.args]
            try:
                return builtin(*values)
            except (TypeError, ValueError) as exc:
                raise NotStatic(node, f"a call that fails ({exc})") from None
        raise NotStatic(node, "a function call, only known at run time")

    def _subscript(self, node: cst.Subscript, constants: Mapping[str, Any]) -> Any:
        if self.origin(node.value) == "os.environ":
            name = self._index(node, constants)
            if not isinstance(name, str):
                raise NotStatic(node, "os.environ[...] needs a string")
            return self.read_environment(name, None, False, node)
        found, value = self._config_path(node)
        if found:
            return freeze(value)
        found, value = self._delayed_access(node, constants)
        if found:
            return value
        raise NotStatic(node, "an expression that is only known at run time")

    def _delayed_access(self, node: cst.BaseExpression, constants: Mapping[str, Any]) -> tuple[bool, Any]:
        """``config_expr("cfg").a["b"]``: Metaflow applies the accesses to the expression's value."""
        keys: list[Any] = []
        while isinstance(node, (cst.Attribute, cst.Subscript)):
            keys.append(node.attr.value if isinstance(node, cst.Attribute) else self._index(node, constants))
            node = node.value
        if not keys or not isinstance(node, cst.Call) or not self.api(node.func, "config_expr"):
            return False, None
        value = _thaw(self._call(node, constants))
        for key in reversed(keys):
            try:
                value = _item(value, key)
            except KeyError:
                raise NotStatic(node, f"{_code(node)} has no key {key!r}") from None
        return True, freeze(value)

    @staticmethod
    def _index(node: cst.Subscript, constants: Mapping[str, Any]) -> Any:
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            raise NotStatic(node, "a slice")
        return evaluate(node.slice[0].slice.value, constants)

    def read_environment(self, name: str, default: Any, has_default: bool, node: cst.CSTNode) -> Any:
        value = self.environ.get(name)
        if value is None and not has_default and not isinstance(node, cst.Call):
            raise NotStatic(node, f"os.environ[{name!r}] is not set in the compiling environment "
                            "(Metaflow would fail to import the flow)")
        if value is None:
            detail = f"unset, default {default!r}" if has_default else "unset (None)"
        elif looks_secret(name):
            detail = "set (value not shown: the name looks secret)"
        else:
            detail = f"= {value!r}"
        self.records.setdefault(("environment", name), ir.Evaluated("environment", name, detail,
                                                                    self.span_of(node)))
        return value if value is not None else default

    # ------------------------------------------------------------------ configs

    def _config_path(self, node: cst.BaseExpression) -> tuple[bool, Any]:
        """(True, value) when ``node`` is ``cfg``, ``cfg.a``, ``cfg["a"]``... of a known config."""
        keys: list[Any] = []
        while True:
            if isinstance(node, cst.Attribute):
                keys.append(node.attr.value)
                node = node.value
            elif isinstance(node, cst.Subscript):
                try:
                    keys.append(self._index(node, {}))
                except NotStatic:
                    return False, None
                node = node.value
            else:
                break
        if isinstance(node, cst.Name) and node.value in self.failed:
            raise NotStatic(node, f"config {node.value!r} {CASCADE}")
        if not isinstance(node, cst.Name) or node.value not in self.configs:
            return False, None
        value = self.configs[node.value]
        walked = node.value
        for key in reversed(keys):
            try:
                value = _item(value, key)
            except KeyError:
                raise NotStatic(node, f"config {walked} has no key {key!r}") from None
            walked += f".{key}"
        return True, value

    def config_expression(self, text: str, node: cst.CSTNode, constants: Mapping[str, Any]) -> Any:
        """``config_expr("cfg.a.b")``: the expression over the configs, by config name."""
        try:
            expression = cst.parse_expression(text)
        except cst.ParserSyntaxError:
            raise NotStatic(node, f"config_expr({text!r}) is not a Python expression") from None
        by_name = {name: self.configs[attribute] for name, attribute in self.config_names.items()}
        inner = Extension({}, self.span_of, self.environ)
        inner.configs = {**by_name, **self.configs}
        inner.config_expression_only = True
        inner.failed = self.failed
        try:
            return evaluate(expression, _WithExtension(constants, inner))
        except NotStatic as exc:
            called = sorted(_called_names(expression) & self.functions)
            if not called or self.module is None:
                raise NotStatic(node, f"config_expr({text!r}): {exc.reason}") from None
        return self._run_config_expression(text, called, inner.configs, node, constants)

    def _run_config_expression(self, text: str, called: list[str], configs: Mapping[str, Any],
                               node: cst.CSTNode, constants: Mapping[str, Any]) -> Any:
        """``config_expr("fn(cfg)")`` calling functions of the module: as Metaflow evaluates it
        in the module's globals with the configs as locals, run in isolation (those functions
        and what they need only)."""
        assert self.module is not None
        if not options.current().evaluate_code:
            raise NotStatic(node, f"config_expr({text!r}) calls {', '.join(called)}(), which would run at "
                            "compile time, and evaluation is refused (--no-evaluate)")
        try:
            extracted = isolated.extract(self.module, called, dict(constants),
                                         also=isolated.referenced(cst.parse_expression(text)))
            value = isolated.run(extracted, "config_expr", {"expression": text, "configs": dict(configs)},
                                 cwd=self.directory, path=[self.directory, *options.current().pythonpath])
        except isolated.IsolatedError as exc:
            raise NotStatic(node, f"config_expr({text!r}) failed when run: {exc}") from None
        self.records.setdefault(("config-expression", text), ir.Evaluated(
            "config-expression", text, f"run in isolation (calls {', '.join(called)})", self.span_of(node)))
        return freeze(value)


def _thaw(value: Any) -> Any:
    """An IR value back to dicts and lists (the inverse of ``freeze``), to walk keys in."""
    return ir.plain_value(value)


def _called_names(expression: cst.BaseExpression) -> set[str]:
    """Names called as functions in ``expression`` (``make(cfg)`` -> ``{"make"}``)."""
    found: set[str] = set()

    class Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Name):
                found.add(call.func.value)

    expression.visit(Calls())
    return found


# Path arithmetic on the flow's own location (``os.path.join(os.path.dirname(__file__), "x.json")``):
# pure functions of strings, computed where Metaflow computes them, on the deploying machine.
_PATH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "os.path.join": os.path.join, "os.path.dirname": os.path.dirname, "os.path.basename": os.path.basename,
    "os.path.abspath": os.path.abspath, "os.path.realpath": os.path.realpath,
    "os.path.normpath": os.path.normpath,
}


def _environment() -> Mapping[str, str | None]:
    """The compiling process's environment, under the compile's overrides (``None``: unset)."""
    overrides = options.current().environment
    return {**os.environ, **dict(overrides)} if overrides else os.environ


def _scalar(function: Callable[[Any], Any]) -> Callable[..., Any]:
    def apply(*values: Any) -> Any:
        if len(values) != 1 or not isinstance(values[0], (str, int, float, bool)):
            raise TypeError("takes one number or string")
        return function(values[0])
    return apply


# Pure builtins a config expression may call (``config_expr("str(cfg.port)")``), on scalars.
_SAFE_BUILTINS: dict[str, Callable[..., Any]] = {
    "str": _scalar(str), "int": _scalar(int), "float": _scalar(float), "bool": _scalar(bool),
    "abs": _scalar(abs), "len": lambda value: len(value), "min": min, "max": max,
}


class _WithExtension(dict):
    """Constants plus an extension (``values.evaluate`` looks for ``.extension``)."""

    def __init__(self, constants: Mapping[str, Any], extension: Extension):
        super().__init__(constants)
        self.extension = extension
        self.nodes = getattr(constants, "nodes", {})


def _item(value: Any, key: Any) -> Any:
    """``value[key]`` for a config's dict key or list index, the only accesses Metaflow's config
    values take; ``KeyError`` when there is no such item."""
    if isinstance(value, dict) and key in value:
        return value[key]
    if isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
        return value[key]
    raise KeyError(key)
