"""Mutators at compile time: run exactly the mutator classes, isolated (``isolated``), on a
description of the lowered flow, then apply the edits they recorded to the IR.

The description holds what a mutator may look at (decorator specs per step and of the flow,
parameters, configs). Edits come back as data (``flowc.mutators``); each added Metaflow decorator
is lowered from its arguments exactly like one written in the source, so the same checks apply
and problems point at the mutator that asked for it. User step decorators a mutator adds run at
run time (the shim applies them when it imports the flow) and leave no trace in the IR.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

import libcst as cst

from flowc.compiler import decorators as deco
from flowc.compiler import ir, isolated, parameters
from flowc.compiler.configs import EVALUATION_FAILED, EVALUATION_REFUSED
from flowc.compiler.diagnostics import WARNING, Diagnostic
from flowc.compiler.values import Constants


@dataclass
class Mutator:
    """One applied mutator: ``@LogEverything`` on the flow or ``@AddRetry(times=2)`` on a step."""

    class_name: str
    module: cst.Module  # where the class is defined
    constants: Any
    step: str | None  # None: a flow mutator
    args: list[Any]
    kwargs: dict[str, Any]
    span: ir.Span


def thaw(value: Any) -> Any:
    """An IR value as a mutator sees it: pairs back to dicts, tuples to lists."""
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)
                                                  for v in value):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _specs(records: tuple[Any, ...]) -> list[list[Any]]:
    out = []
    for record in records:
        if isinstance(record, ir.UnknownDecorator):
            out.append([record.name, {k: thaw(v) for k, v in record.args}])
            continue
        kwargs = {f.name: thaw(getattr(record, f.name)) for f in ir.decorator_arguments(type(record))
                  if getattr(record, f.name) != f.default}
        out.append([record.tag, kwargs])
    return out


def describe(flow: ir.Flow) -> dict[str, Any]:
    return {
        "decorators": _specs(flow.decorators),
        "steps": {s.name: _specs(s.decorators) for s in flow.steps},
        "parameters": {p.attribute: {"name": p.name, "default": p.default, "type": p.type, "help": p.help,
                                     "required": p.required} for p in flow.parameters},
        "configs": {c.name: json.loads(c.value) for c in flow.configs},
        "config_attributes": {c.attribute: c.name for c in flow.configs},
    }


def _literal(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in kwargs.items())


class _Applier:
    def __init__(self, flow: ir.Flow, diagnostics: list[Diagnostic]):
        self.flow = flow
        self.diagnostics = diagnostics

    def record(self, name: str, kwargs: dict[str, Any], scope: str, span: ir.Span) -> Any:
        table = ir.STEP_DECORATORS if scope == "step" else ir.FLOW_DECORATORS
        if name not in table:
            self.diagnostics.append(Diagnostic(
                deco.UNKNOWN_DECORATOR, f"a mutator added @{name}, which is not a {scope} decorator flowc "
                "knows; it is ignored", span, WARNING))
            return None
        try:
            call = cst.parse_expression(f"{name}({_literal(kwargs)})")
        except cst.ParserSyntaxError:
            self.diagnostics.append(Diagnostic(deco.WRONG_TYPE, f"a mutator gave @{name} arguments that are "
                                               "not plain data", span))
            return None
        assert isinstance(call, cst.Call)
        record, problems = deco.lower(table[name], call, cst.Decorator(call), lambda node: span, Constants())
        self.diagnostics.extend(problems)
        return record

    def apply(self, edit: dict[str, Any], span: ir.Span) -> None:
        op, step = edit["op"], edit.get("step")
        if op in ("add_decorator", "remove_decorator"):
            if edit.get("user"):
                return  # a user step decorator: applied by the shim at run time
            target = self.flow.step(step) if step is not None else None
            current = target.decorators if target is not None else self.flow.decorators
            if op == "remove_decorator":
                kept = tuple(r for r in current if getattr(r, "tag", None) != edit["name"]
                             and getattr(r, "name", None) != edit["name"])
            else:
                record = self.record(edit["name"], edit["kwargs"], "step" if step else "flow", span)
                if record is None:
                    return
                kept = (*current, record)
            if target is not None:
                steps = tuple(dataclasses.replace(s, decorators=kept) if s.name == step else s
                              for s in self.flow.steps)
                self.flow = dataclasses.replace(self.flow, steps=steps)
            else:
                self.flow = dataclasses.replace(self.flow, decorators=kept)
        elif op == "add_parameter":
            spec = edit["spec"]
            type_text = {"json": "JSONType"}.get(spec.get("type"), spec.get("type") or "str")
            arguments = {k: spec[k] for k in ("default", "help", "required", "separator") if spec.get(k) is not None}
            call = cst.parse_expression(f"Parameter({spec['name']!r}, type={type_text}, {_literal(arguments)})")
            assert isinstance(call, cst.Call)
            param, problems = parameters.lower(
                "Parameter", edit["attribute"], call,
                lambda node: "JSONType" if isinstance(node, cst.Name) and node.value == "JSONType" else None,
                lambda node: span, Constants())
            self.diagnostics.extend(problems)
            if param is not None:
                kept_params = tuple(p for p in self.flow.parameters if p.attribute != edit["attribute"])
                self.flow = dataclasses.replace(self.flow, parameters=(*kept_params, param))
        elif op == "remove_parameter":
            self.flow = dataclasses.replace(self.flow, parameters=tuple(
                p for p in self.flow.parameters if p.attribute != edit["attribute"]))


def _where(mutator: Mutator) -> str:
    return "the flow" if mutator.step is None else f"step '{mutator.step}'"


def apply_mutators(flow: ir.Flow, mutators: list[Mutator], allowed: bool, cwd: str, path: list[str],
                   diagnostics: list[Diagnostic]) -> ir.Flow:
    """The flow after its mutators ran, together in one isolated process: every ``pre_mutate``
    (flow mutators first), then every ``mutate``, as Metaflow runs them; on one class or step,
    the decorator nearest to it first (Python applies decorators bottom-up)."""
    ordered = [*reversed([m for m in mutators if m.step is None]),
               *reversed([m for m in mutators if m.step is not None])]
    if not allowed:
        for mutator in ordered:
            diagnostics.append(Diagnostic(EVALUATION_REFUSED, f"mutator {mutator.class_name} on {_where(mutator)} "
                                          "would run at compile time, and evaluation is refused (--no-evaluate)",
                                          mutator.span))
        return flow
    modules: list[cst.Module] = []
    for mutator in ordered:
        if not any(m is mutator.module for m in modules):
            modules.append(mutator.module)
    index = {id(m): i for i, m in enumerate(modules)}
    payload = {"flow": describe(flow), "mutators": [
        {"class": m.class_name, "step": m.step, "args": m.args, "kwargs": m.kwargs, "module": index[id(m.module)],
         "span": i} for i, m in enumerate(ordered)]}
    first = ordered[0]
    try:
        extracted = [isolated.extract(module, sorted({m.class_name for m in ordered if m.module is module}),
                                      dict(next(m.constants for m in ordered if m.module is module)))
                     for module in modules]
        edits = isolated.run(extracted, "mutate", payload, cwd=cwd, path=path)
    except isolated.IsolatedError as exc:
        found = re.search(r"@(\d+)@(.*)", str(exc))
        culprit = ordered[int(found.group(1))] if found else first
        message = found.group(2) if found else str(exc)
        diagnostics.append(Diagnostic(EVALUATION_FAILED, f"mutator {culprit.class_name} on {_where(culprit)} "
                                      f"failed: {message}", culprit.span))
        return flow
    applier = _Applier(flow, diagnostics)
    for edit in edits:
        applier.apply(edit, ordered[edit.get("by", 0)].span)
    evaluated = [*applier.flow.evaluated, *(ir.Evaluated("mutator", m.class_name, f"run in isolation on {_where(m)}",
                                                        m.span) for m in ordered)]
    return dataclasses.replace(applier.flow, evaluated=tuple(evaluated))


Classifier = Callable[[cst.BaseExpression], tuple[str, Any] | None]
