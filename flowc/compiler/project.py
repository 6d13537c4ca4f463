"""Where a flow's project-local imports live, found like Python would find them, without
importing anything: under the flow's directory, the project root (the nearest ancestor holding
``pyproject.toml`` or ``.git``), any ``--pythonpath`` directory, then the directories of the
``[tool.flowc] pythonpath`` setting (relative to the pyproject.toml holding it), in that order.
A module found nowhere there (the standard library, an installed package) is not project-local:
the front end leaves it alone, as before.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# ``[tool.flowc]`` keys the front end reads itself (flowc.settings accepts them as known keys)
SETTING_KEYS = ("pythonpath",)


class SettingError(ValueError):
    """``[tool.flowc] pythonpath`` is not a list of directory names (one line)."""


@functools.lru_cache(maxsize=256)
def project_root(directory: str) -> str | None:
    current = os.path.abspath(directory)
    while True:
        if os.path.exists(os.path.join(current, "pyproject.toml")) or os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def import_roots(flow_path: str, pythonpath: tuple[str, ...] = (), setting: bool = True) -> tuple[str, ...]:
    """The roots in search order (with the pyproject.toml setting's unless ``setting`` is False);
    raises ``SettingError`` for a malformed pythonpath setting."""
    flow_dir = os.path.dirname(os.path.abspath(flow_path))
    roots = [flow_dir]
    root = project_root(flow_dir)
    if root is not None:
        roots.append(root)
    roots.extend(os.path.abspath(p) for p in pythonpath)
    pyproject = _nearest_pyproject(flow_dir) if setting else None
    if pyproject is not None:
        roots.extend(_setting_pythonpath(pyproject, os.stat(pyproject).st_mtime_ns))
    return tuple(dict.fromkeys(roots))


@functools.lru_cache(maxsize=256)
def _nearest_pyproject(directory: str) -> str | None:
    """The pyproject.toml flowc's settings come from (as ``flowc.settings`` finds it)."""
    current = directory
    while True:
        candidate = os.path.join(current, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


@functools.lru_cache(maxsize=64)
def _setting_pythonpath(pyproject: str, mtime_ns: int) -> tuple[str, ...]:
    """``[tool.flowc] pythonpath`` as absolute directories (cached per version of the file)."""
    try:
        with open(pyproject, "rb") as handle:
            table: Any = tomllib.load(handle).get("tool", {}).get("flowc", {})
    except (OSError, tomllib.TOMLDecodeError):
        return ()  # flowc.settings reports an unreadable pyproject.toml where settings are read
    value = table.get("pythonpath") if isinstance(table, dict) else None
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise SettingError(f"{pyproject}: [tool.flowc] pythonpath must be a list of directories "
                           f"(relative to {os.path.dirname(pyproject)}), got {value!r}")
    base = os.path.dirname(pyproject)
    return tuple(os.path.normpath(os.path.join(base, item)) for item in value)


def find_module(dotted: str, roots: tuple[str, ...]) -> str | None:
    """The file of module ``dotted`` under one of ``roots`` (``a/b.py`` or ``a/b/__init__.py``)."""
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    for root in roots:
        base = os.path.join(root, *parts)
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate
    return None


def split_origin(origin: str, roots: tuple[str, ...]) -> tuple[str, str, str] | None:
    """``common.pipeline.Pipeline`` -> (``common.pipeline``, its file, ``Pipeline``): the longest
    module prefix that is a project-local file, and the attribute named in it."""
    parts = origin.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:cut])
        found = find_module(module, roots)
        if found is not None:
            return module, found, ".".join(parts[cut:])
    return None
