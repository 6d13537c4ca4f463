"""Static evaluation of the expressions a flow may use as arguments, without running anything.

Only literals, containers of literals, simple arithmetic, string concatenation and names bound
once at module level to such values are known statically. Anything else raises ``NotStatic``
naming the offending sub-expression, so the caller can say exactly what it could not resolve.
Lists and sets become tuples and dicts become tuples of pairs: the IR never holds mutable values.
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Mapping

import libcst as cst


class NotStatic(Exception):
    """``node`` (a libcst node) cannot be evaluated without running the flow."""

    def __init__(self, node: cst.CSTNode, reason: str):
        super().__init__(reason)
        self.node = node
        self.reason = reason


_NAMED = {"True": True, "False": False, "None": None}

_BINARY: dict[type, Any] = {
    cst.Add: operator.add,
    cst.Subtract: operator.sub,
    cst.Multiply: operator.mul,
    cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv,
    cst.Modulo: operator.mod,
    cst.Power: operator.pow,
}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def evaluate(node: cst.BaseExpression, constants: Mapping[str, Any]) -> Any:
    """The value of ``node`` when it is statically known; ``NotStatic`` otherwise."""
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return ast.literal_eval(node.value)
    if isinstance(node, cst.SimpleString):
        value = ast.literal_eval(node.value)
        if isinstance(value, bytes):
            raise NotStatic(node, "bytes literals are not supported")
        return value
    if isinstance(node, cst.ConcatenatedString):
        left = evaluate(node.left, constants)
        right = evaluate(node.right, constants)
        if not isinstance(left, str) or not isinstance(right, str):
            raise NotStatic(node, "bytes literals are not supported")
        return left + right
    if isinstance(node, cst.FormattedString):
        parts = []
        for part in node.parts:
            if not isinstance(part, cst.FormattedStringText):
                raise NotStatic(part, "an f-string with replacement fields")
            parts.append(part.value)
        # An f-string without fields is its text with doubled braces undone.
        return "".join(parts).replace("{{", "{").replace("}}", "}")
    if isinstance(node, cst.Name):
        if node.value in _NAMED:
            return _NAMED[node.value]
        if node.value in constants:
            return constants[node.value]
        return _extended(node, constants, f"the name {node.value!r} is not a module-level constant")
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                raise NotStatic(element, "a starred element")
            items.append(evaluate(element.value, constants))
        if isinstance(node, cst.Set):
            return tuple(sorted(set(items), key=repr))
        return tuple(items)
    if isinstance(node, cst.Dict):
        pairs: dict[Any, Any] = {}
        for entry in node.elements:
            if not isinstance(entry, cst.DictElement):  # a StarredDictElement
                raise NotStatic(entry, "a ** expansion")
            key = evaluate(entry.key, constants)
            if isinstance(key, tuple):
                raise NotStatic(entry.key, "a dictionary key that is not a scalar")
            pairs[key] = evaluate(entry.value, constants)
        return tuple(pairs.items())
    if isinstance(node, cst.UnaryOperation):
        operand = evaluate(node.expression, constants)
        if isinstance(node.operator, cst.Minus) and _number(operand):
            return -operand
        if isinstance(node.operator, cst.Plus) and _number(operand):
            return +operand
        if isinstance(node.operator, cst.Not):
            return not operand
        raise NotStatic(node, "an unsupported unary operation")
    if isinstance(node, cst.BinaryOperation):
        fn = _BINARY.get(type(node.operator))
        if fn is None:
            raise NotStatic(node, "an unsupported operator")
        left = evaluate(node.left, constants)
        right = evaluate(node.right, constants)
        numeric = _number(left) and _number(right)
        textual = isinstance(node.operator, cst.Add) and isinstance(left, str) and isinstance(right, str)
        textual = textual or (isinstance(node.operator, cst.Add) and isinstance(left, tuple)
                              and isinstance(right, tuple))
        if not (numeric or textual):
            raise NotStatic(node, "an operation on values that are not numbers or strings")
        if isinstance(node.operator, cst.Power) and numeric and abs(right) > 64:
            raise NotStatic(node, "a power too large to evaluate")
        try:
            return fn(left, right)
        except (ArithmeticError, ValueError) as exc:
            raise NotStatic(node, f"an expression that fails ({exc})") from None
    return _extended(node, constants, "an expression that is only known at run time")


def _extended(node: cst.BaseExpression, constants: Mapping[str, Any], reason: str) -> Any:
    """What plain evaluation cannot know, asked of the constants' ``extension`` (deploy-time
    environment reads, config references: ``evaluation.Extension``) when there is one."""
    extension = getattr(constants, "extension", None)
    if extension is None:
        raise NotStatic(node, reason)
    return extension(node, constants)


class Constants(dict):
    """Module-level constants (name -> IR value), plus ``nodes``: name -> the bound expression,
    for callers that need the value's Python shape (a JSON parameter default keeps its dicts)."""

    nodes: dict[str, cst.BaseExpression]
    extension: Any = None


def to_python(node: cst.BaseExpression, constants: Mapping[str, Any]) -> Any:
    """Like ``evaluate`` but with lists and dicts kept as such (for JSON values)."""
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                raise NotStatic(element, "a starred element")
            items.append(to_python(element.value, constants))
        return items
    if isinstance(node, cst.Dict):
        out = {}
        for entry in node.elements:
            if not isinstance(entry, cst.DictElement):  # a StarredDictElement
                raise NotStatic(entry, "a ** expansion")
            out[evaluate(entry.key, constants)] = to_python(entry.value, constants)
        return out
    nodes: dict[str, cst.BaseExpression] = getattr(constants, "nodes", {})
    if isinstance(node, cst.Name) and node.value in nodes:
        return to_python(nodes[node.value], constants)
    return evaluate(node, constants)


def collect_constants(module: cst.Module, extension: Any = None) -> Constants:
    """Module-level names bound exactly once, by a plain assignment, to a static value.

    A name bound twice (or by import, ``for``, ``def``, augmented assignment...) is left out: its
    value at the point of use cannot be known without running the module. With an
    ``extension``, values it knows (``IMAGE = os.getenv("IMAGE", "...")``) count as static.
    """
    counts: dict[str, int] = {}
    values = Constants()
    values.extension = extension
    nodes: dict[str, cst.BaseExpression] = {}
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                targets: list[cst.BaseExpression] = []
                value: cst.BaseExpression | None = None
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                    value = small.value
                elif isinstance(small, cst.AnnAssign):
                    targets = [small.target]
                    value = small.value
                elif isinstance(small, cst.AugAssign):
                    targets = [small.target]
                elif isinstance(small, (cst.Import, cst.ImportFrom)):
                    names = small.names if not isinstance(small.names, cst.ImportStar) else ()
                    for alias in names:
                        bound: cst.BaseExpression = alias.asname.name if alias.asname else alias.name
                        while isinstance(bound, cst.Attribute):
                            bound = bound.value
                        if isinstance(bound, cst.Name):
                            counts[bound.value] = counts.get(bound.value, 0) + 2
                for target in targets:
                    if isinstance(target, cst.Name):
                        counts[target.value] = counts.get(target.value, 0) + 1
                        if value is not None and counts[target.value] == 1:
                            try:
                                values[target.value] = evaluate(value, values)
                                nodes[target.value] = value
                            except NotStatic:
                                pass
                    else:  # tuple unpacking and the like: too clever to follow
                        for name in _bound_names(target):
                            counts[name] = counts.get(name, 0) + 2
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            counts[statement.name.value] = counts.get(statement.name.value, 0) + 2
        else:  # if/for/while/with/try at module level may rebind anything they assign
            for name in _bound_names(statement):
                counts[name] = counts.get(name, 0) + 2
    constants = Constants((name, value) for name, value in values.items() if counts.get(name) == 1)
    constants.nodes = {name: node for name, node in nodes.items() if name in constants}
    constants.extension = extension
    return constants


def _bound_names(node: cst.CSTNode) -> list[str]:
    names: list[str] = []

    class Finder(cst.CSTVisitor):
        def visit_AssignTarget(self, target: cst.AssignTarget) -> None:
            names.extend(_names_in(target.target))

        def visit_AnnAssign(self, assign: cst.AnnAssign) -> None:
            names.extend(_names_in(assign.target))

        def visit_AugAssign(self, assign: cst.AugAssign) -> None:
            names.extend(_names_in(assign.target))

        def visit_For(self, loop: cst.For) -> None:
            names.extend(_names_in(loop.target))

        def visit_AsName(self, alias: cst.AsName) -> None:
            names.extend(_names_in(alias.name))

        def visit_NamedExpr(self, expr: cst.NamedExpr) -> None:
            names.extend(_names_in(expr.target))

    node.visit(Finder())
    return names


def _names_in(target: cst.CSTNode) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        out: list[str] = []
        for element in target.elements:
            out.extend(_names_in(element.value))
        return out
    if isinstance(target, cst.StarredElement):
        return _names_in(target.value)
    return []
