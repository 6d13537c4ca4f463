"""Binding a call's arguments to parameter names as Python would, for the calls flowc reads
without running them (step and flow decorators, ``Parameter(...)``, ``IncludeFile(...)``).

Positional arguments take the names in order, keywords their own; what cannot be bound (a
``*``/``**`` argument, one positional too many, an unknown or repeated name) comes back as an
``Unbound`` with its message, and each caller picks the diagnostic code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Sequence

import libcst as cst

STARRED = "starred"
TOO_MANY_POSITIONAL = "too many positional"
UNKNOWN = "unknown"
TWICE = "twice"


@dataclass(frozen=True, slots=True)
class Unbound:
    """An argument left unbound: ``why`` (one of the constants above), the message and hint,
    and the node the diagnostic points at."""

    why: str
    message: str
    node: cst.CSTNode
    hint: str | None = None


def bind(label: str, args: Sequence[cst.Arg], names: Sequence[str], positional: int | None = None
         ) -> tuple[list[tuple[str, cst.Arg]], list[Unbound]]:
    """``(name, argument)`` pairs in source order, and what could not be bound. ``label`` names
    the callee in messages (``@retry``, ``Parameter()``); the first ``positional`` names (all by
    default) may be given by position."""
    limit = len(names) if positional is None else positional
    bound: list[tuple[str, cst.Arg]] = []
    unbound: list[Unbound] = []
    position = 0
    for arg in args:
        if arg.star:
            unbound.append(Unbound(STARRED, f"{label}: {arg.star}-arguments cannot be read statically", arg))
            continue
        if arg.keyword is None:
            if position >= limit:
                unbound.append(Unbound(TOO_MANY_POSITIONAL, f"{label} takes at most {limit} positional "
                                       f"argument{'s' if limit != 1 else ''}", arg))
                continue
            name = names[position]
            position += 1
        else:
            name = arg.keyword.value
            if name not in names:
                unbound.append(Unbound(UNKNOWN, f"{label} has no argument '{name}'", arg.keyword,
                                       _unknown_hint(label, name, names)))
                continue
        if any(name == taken for taken, _ in bound):
            unbound.append(Unbound(TWICE, f"{label}: argument '{name}' given twice", arg))
            continue
        bound.append((name, arg))
    return bound, unbound


def _unknown_hint(label: str, name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "accepted: " + ", ".join(names) if names else f"{label} takes no arguments"
