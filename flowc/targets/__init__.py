"""Back ends: one emitter module per orchestrator, all formatting the same plan.

Targets register_target themselves (``@register_target`` on a ``Target`` subclass). The registry loads the
built-in ones, modules named in ``FLOWC_TARGETS`` (comma-separated module paths) and the
``flowc.targets`` entry-point group, so a target shipped in another package, or written in a test
suite, is found by every command without edits here.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import TypeVar

from flowc.targets.base import (Capability, Emitted, Settings, Target, TargetSettings, refused,
                                setting, supported, unsupported, with_caveat)

BUILTIN_MODULES = ("flowc.targets.argo", "flowc.targets.sfn", "flowc.targets.airflow")
ENV_MODULES = "FLOWC_TARGETS"
ENTRY_POINT_GROUP = "flowc.targets"

_REGISTRY: dict[str, Target] = {}
_loaded = False

C = TypeVar("C", bound=type[Target])


def register_target(cls: C) -> C:
    """Class decorator: make ``cls`` (a ``Target`` subclass) available by its name."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"target name {cls.name!r} is taken by {type(existing).__module__}")
    _REGISTRY[cls.name] = cls()
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    extra = [m.strip() for m in os.environ.get(ENV_MODULES, "").split(",") if m.strip()]
    for module in (*BUILTIN_MODULES, *extra):
        importlib.import_module(module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()


def all_targets() -> dict[str, Target]:
    """Every registered target by name: the built-in ones in their fixed order, then the others
    in the order they registered (whatever order modules happened to be imported in)."""
    _load()
    builtin = {module: i for i, module in enumerate(BUILTIN_MODULES)}
    ranked = sorted(_REGISTRY.items(),
                    key=lambda item: builtin.get(type(item[1]).__module__, len(builtin)))
    return dict(ranked)


def target_names() -> tuple[str, ...]:
    return tuple(all_targets())


def get_target(name: str) -> Target:
    targets = all_targets()
    if name not in targets:
        raise KeyError(name)
    return targets[name]


__all__ = ["Capability", "Emitted", "Settings", "Target", "TargetSettings", "all_targets",
           "get_target", "refused", "register_target", "setting", "supported", "target_names",
           "unsupported", "with_caveat"]
