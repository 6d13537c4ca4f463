"""Human views of the IR: the readable dump (``flowc ir``) and the graph (``flowc graph``).

The dump is what reviewers read instead of YAML when the front end changes (mypyc's pretty IR),
so it is deterministic and shows every fact a target relies on. Mermaid and DOT text quote every
name through one helper per syntax. Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flowc.compiler import ir
from flowc.compiler.secret_names import hidden_values


_HIDDEN: frozenset[str] = frozenset()  # values of secret-looking variables, for the dump being rendered


def _mask(value: Any) -> Any:
    if isinstance(value, str) and value in _HIDDEN:
        return "<hidden>"
    if isinstance(value, tuple):
        return tuple(_mask(v) for v in value)
    return value


def _value(value: Any) -> str:
    return repr(_mask(value) if _HIDDEN else value)


def decorator_text(record: Any) -> str:
    """``@retry(times=2)``: only the arguments that differ from Metaflow's defaults."""
    if isinstance(record, ir.UnknownDecorator):
        given = ", ".join(f"{k}={_value(v)}" for k, v in record.args)
        return f"@{record.name}({given}) [unknown]"
    changed = [f"{f.name}={_value(getattr(record, f.name))}" for f in ir.decorator_arguments(type(record))
               if getattr(record, f.name) != f.default]
    return f"@{record.tag}" + (f"({', '.join(changed)})" if changed else "")


def transition_text(transition: ir.Transition) -> str:
    if isinstance(transition, ir.Linear):
        return f"-> {transition.target}"
    if isinstance(transition, ir.Split):
        return "split -> " + ", ".join(transition.branches)
    if isinstance(transition, ir.Foreach):
        return f"foreach self.{transition.items} -> {transition.target}"
    if isinstance(transition, ir.Parallel):
        return f"parallel x{transition.num_parallel or '(run time)'} -> {transition.target}"
    if isinstance(transition, ir.Switch):
        cases = ", ".join(f"{key!r} -> {target}" for key, target in transition.cases)
        return f"switch on self.{transition.condition}: {cases}"
    return "(end of flow)"


def _span(span: ir.Span) -> str:
    return f"{span.line}:{span.column}"


def _doc(text: str | None) -> str:
    return json.dumps(text, ensure_ascii=False)


def dump(flow: ir.Flow) -> str:
    """The readable IR dump: flow, parameters, then steps in source order with graph facts.

    Values the compiler read from secret-looking environment variables show as ``<hidden>``."""
    global _HIDDEN
    _HIDDEN = hidden_values(flow.evaluated)
    try:
        return _dump(flow)
    finally:
        _HIDDEN = frozenset()


def _dump(flow: ir.Flow) -> str:
    out = [f"flow {flow.name}  # {flow.path}:{_span(flow.span)}"]
    if flow.docstring:
        out.append(f"  doc {_doc(flow.docstring)}")
    for record in flow.decorators:
        out.append(f"  {decorator_text(record)}  # {_span(record.span)}")
    for param in flow.parameters:
        kind = "IncludeFile" if param.include_file else "Parameter"
        if param.default_kind == "literal":
            default = f" = {_value(param.default)}"
        elif param.default_kind == "runtime":
            default = f" = <run time: {param.default_source}>"
        else:
            default = ""
        extras = []
        for f in dataclasses.fields(ir.Parameter):
            if f.name in ("name", "attribute", "type", "default", "default_kind", "default_source", "span"):
                continue
            value = getattr(param, f.name)
            if value != f.default:
                extras.append(f"{f.name}={_value(value)}")
        suffix = f" ({', '.join(extras)})" if extras else ""
        out.append(f"  {kind} {param.attribute} {param.name!r}: {param.type}{default}{suffix}"
                   f"  # {_span(param.span)}")
    for config in flow.configs:
        value = json.dumps(_mask(json.loads(config.value)) if _HIDDEN else json.loads(config.value),
                           ensure_ascii=False)
        plain = " (plain)" if config.plain else ""
        out.append(f"  Config {config.attribute} {config.name!r}{plain} = {value}  # from {config.origin}, "
                   f"{_span(config.span)}")
    for evaluated in flow.evaluated:
        detail = f": {evaluated.detail}" if evaluated.detail else ""
        out.append(f"  evaluated at compile time: {evaluated.kind} {evaluated.name}{detail}  # {_span(evaluated.span)}")
    if flow.sources:
        out.append(f"  sources {', '.join(flow.sources)}")
    for step in flow.steps:
        out.append("")
        signature = "(self, inputs)" if step.is_join else "(self)"
        out.append(f"  step {step.name}{signature} [{flow.kind(step)}]  # {_span(step.span)}")
        if step.docstring:
            out.append(f"    doc {_doc(step.docstring)}")
        for record in step.decorators:
            out.append(f"    {decorator_text(record)}  # {_span(record.span)}")
        out.append(f"    next {transition_text(step.transition)}")
        out.append(f"    in [{', '.join(step.in_steps)}]")
        out.append(f"    split_parents [{', '.join(step.split_parents)}]")
        if step.matching_join:
            out.append(f"    matching_join {step.matching_join}")
        if step.is_recursive:
            out.append("    recursive")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- graphs


def _edges(flow: ir.Flow) -> list[tuple[str, str, str | None]]:
    """(parent, child, label) for every transition, self-loops of recursive switches included."""
    out: list[tuple[str, str, str | None]] = []
    for step in flow.steps:
        transition = step.transition
        if isinstance(transition, ir.Switch):
            for key, target in transition.cases:
                out.append((step.name, target, f"{transition.condition} = {key}"))
        elif isinstance(transition, ir.Foreach):
            out.append((step.name, transition.target, f"foreach {transition.items}"))
        elif isinstance(transition, ir.Parallel):
            out.append((step.name, transition.target, f"num_parallel={transition.num_parallel or '(run time)'}"))
        else:
            out.extend((step.name, target, None) for target in transition.targets)
    return out


def _mermaid_id(name: str) -> str:
    # Mermaid treats some words ("end", "graph"...) as keywords: every id gets a prefix.
    return f"step_{name}"


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


_MERMAID_SHAPES = {
    "start": ("([", "])"), "end": ("([", "])"), "linear": ("[", "]"), "join": ("[[", "]]"),
    "split": ("[/", "\\]"), "foreach": ("[/", "\\]"), "switch": ("{", "}"),
}


def mermaid(flow: ir.Flow) -> str:
    """A ``flowchart`` GitHub renders inside a ```mermaid block."""
    out = ["flowchart TD"]
    for step in flow.steps:
        kind = flow.kind(step)
        opening, closing = _MERMAID_SHAPES[kind]
        label = step.name if kind in ("linear", "start", "end") else f"{step.name} ({kind})"
        out.append(f"    {_mermaid_id(step.name)}{opening}{_mermaid_text(label)}{closing}")
    for parent, child, case in _edges(flow):
        arrow = f"-->|{_mermaid_text(case)}|" if case else "-->"
        out.append(f"    {_mermaid_id(parent)} {arrow} {_mermaid_id(child)}")
    return "\n".join(out) + "\n"


_DOT_SHAPES = {"start": "oval", "end": "oval", "linear": "box", "join": "box3d", "split": "trapezium",
               "foreach": "trapezium", "switch": "diamond"}


def _dot_id(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def dot(flow: ir.Flow) -> str:
    """A Graphviz ``digraph``."""
    out = [f"digraph {_dot_id(flow.name)} {{", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    for step in flow.steps:
        kind = flow.kind(step)
        shown = step.name if kind in ("linear", "start", "end") else f"{step.name} ({kind})"
        out.append(f"  {_dot_id(step.name)} [shape={_DOT_SHAPES[kind]}, label={_dot_id(shown)}];")
    for parent, child, label in _edges(flow):
        attributes = f" [label={_dot_id(label)}]" if label else ""
        out.append(f"  {_dot_id(parent)} -> {_dot_id(child)}{attributes};")
    out.append("}")
    return "\n".join(out) + "\n"
