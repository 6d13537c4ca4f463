"""Name and attribute facts about a flow's source, for the checker's "mistakes that compile" rules.

The front end hands over the module and the step functions it lowered; the facts are computed
only when a rule asks (a full walk of every step body costs more than lowering it), and only
syntactically: nothing is imported or run. Where the source can hide a binding (a star import,
``setattr``, a helper method) the answer is "cannot tell", never a guess.
"""

from __future__ import annotations

import builtins
import functools
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import libcst as cst

_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True, slots=True)
class StepWrites:
    """What one step's body does with ``self``."""

    assigned: frozenset[str]  # attributes written as ``self.x = / += / : T = / for self.x in / as self.x``
    hidden: str | None  # the first construct that may write attributes unseen (``setattr(self, ...)``)
    reads_inputs: bool  # the body reads a name ``inputs`` (a join that forgot its argument)
    local_names: frozenset[str] = frozenset()  # plain variables it assigns (``items = ...``, no self.)


class SourceFacts:
    """Lazily computed facts about the module and the chosen flow class (and its local bases)."""

    def __init__(self, module: cst.Module, classes: Sequence[cst.ClassDef],
                 steps: Mapping[str, cst.FunctionDef]):
        self._module = module
        self._classes = tuple(classes)
        self._steps = dict(steps)
        self._writes: dict[str, StepWrites] = {}

    @functools.cached_property
    def module_names(self) -> frozenset[str] | None:
        """Names the module binds at top level (plus builtins); ``None`` after a star import."""
        names: set[str] = set()
        if not _bind_statements(self._module.body, names):
            return None
        return frozenset(names) | _BUILTINS

    @functools.cached_property
    def class_names(self) -> frozenset[str]:
        """Names bound in the flow class bodies (methods, class attributes, parameters)."""
        names: set[str] = set()
        for cls in self._classes:
            if isinstance(cls.body, cst.IndentedBlock):
                _bind_statements(cls.body.body, names)
        return frozenset(names)

    @functools.cached_property
    def opaque_base(self) -> str | None:
        """A base class outside this file (a mixin): it may define attributes we cannot see."""
        local = {c.name.value for c in self._classes}
        for cls in self._classes:
            for base in cls.bases:
                text = cst.Module([]).code_for_node(base.value)
                if text not in local and text.rsplit(".", 1)[-1] != "FlowSpec":
                    return text
        return None

    def binds(self, name: str) -> bool | None:
        """Whether ``name`` is bound where a decorator of the flow class is evaluated."""
        module = self.module_names
        if module is None:
            return None
        return name in module or name in self.class_names

    def writes(self, step: str) -> StepWrites:
        """What ``step``'s body assigns on ``self`` (one walk per step, on first use)."""
        if step not in self._writes:
            self._writes[step] = _step_writes(step, self._steps.get(step))
        return self._writes[step]


def _step_writes(step: str, node: cst.FunctionDef | None) -> StepWrites:
    if node is None:  # e.g. a step inherited from a flow in another module
        return StepWrites(frozenset(), f"step '{step}', whose body is not in this file,", False)
    positional = [*node.params.posonly_params, *node.params.params]
    visitor = _Writes(positional[0].name.value if positional else "self")
    node.body.visit(visitor)
    return StepWrites(frozenset(visitor.assigned), visitor.hidden, visitor.reads_inputs,
                      frozenset(visitor.local_names))


def _bind_statements(statements: Iterable[cst.CSTNode], names: set[str]) -> bool:
    """Add the names ``statements`` bind to ``names``; False on a star import."""
    for statement in statements:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if not _bind_small(small, names):
                    return False
        elif isinstance(statement, cst.BaseSmallStatement):  # ``if x: import y`` on one line
            if not _bind_small(statement, names):
                return False
        elif isinstance(statement, cst.BaseCompoundStatement):
            if isinstance(statement, cst.For):
                _targets(statement.target, names)
            if isinstance(statement, cst.With):
                for item in statement.items:
                    if item.asname is not None:
                        _targets(item.asname.name, names)
            for handler in getattr(statement, "handlers", ()):
                if handler.name is not None:
                    _targets(handler.name.name, names)
            for suite in _suites(statement):
                if not _bind_statements(suite, names):
                    return False
    return True


def _suites(statement: cst.BaseCompoundStatement) -> Iterable[Sequence[cst.CSTNode]]:
    """The statement lists nested in a compound statement (``elif`` is an ``If`` of its own)."""
    for name in ("body", "orelse", "finalbody"):
        part = getattr(statement, name, None)
        if isinstance(part, cst.If):
            yield (part,)
        elif isinstance(part, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            yield part.body
        elif part is not None and isinstance(getattr(part, "body", None), cst.BaseSuite):
            yield part.body.body
    for part in (*getattr(statement, "handlers", ()), *getattr(statement, "cases", ())):
        yield part.body.body


def _bind_small(small: cst.BaseSmallStatement, names: set[str]) -> bool:
    if isinstance(small, cst.Import):
        for alias in small.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            names.add(cst.Module([]).code_for_node(bound).split(".")[0])
    elif isinstance(small, cst.ImportFrom):
        if isinstance(small.names, cst.ImportStar):
            return False
        for alias in small.names:
            bound = alias.asname.name if alias.asname is not None else alias.name
            names.add(cst.Module([]).code_for_node(bound))
    elif isinstance(small, cst.Assign):
        for target in small.targets:
            _targets(target.target, names)
    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
        _targets(small.target, names)
    return True


def _targets(node: cst.CSTNode, names: set[str]) -> None:
    if isinstance(node, cst.Name):
        names.add(node.value)
    elif isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            _targets(element.value, names)
    elif isinstance(node, cst.StarredElement):
        _targets(node.value, names)


class _Writes(cst.CSTVisitor):
    """Attribute writes on ``me`` in a step body, and anything that could write unseen."""

    def __init__(self, me: str):
        self.me = me
        self.assigned: set[str] = set()
        self.local_names: set[str] = set()
        self.hidden: str | None = None
        self.reads_inputs = False
        self._attribute_names: set[int] = set()  # the ``x`` of ``a.x`` is not a read of ``x``

    def _self_attribute(self, node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == self.me:
            return node.attr.value
        return None

    def _target(self, node: cst.CSTNode) -> None:
        attribute = self._self_attribute(node)
        if attribute is not None:
            self.assigned.add(attribute)
        elif isinstance(node, cst.Name):
            self.local_names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self._target(element.value)
        elif isinstance(node, cst.StarredElement):
            self._target(node.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._target(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._target(node.asname.name)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "inputs" and id(node) not in self._attribute_names:
            self.reads_inputs = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._attribute_names.add(id(node.attr))
        if self._self_attribute(node) == "__dict__" and self.hidden is None:
            self.hidden = f"{self.me}.__dict__"

    def visit_Call(self, node: cst.Call) -> None:
        if self.hidden is not None:
            return
        method = self._self_attribute(node.func)
        if method is not None and method != "next":
            self.hidden = f"{self.me}.{method}(...)"
        elif any(isinstance(a.value, cst.Name) and a.value.value == self.me for a in node.args):
            self.hidden = f"{cst.Module([]).code_for_node(node.func)}({self.me}, ...)"
