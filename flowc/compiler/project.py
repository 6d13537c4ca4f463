"""Where a flow's project-local imports live, found like Python would find them, without
importing anything: under the flow's directory, the project root (the nearest ancestor holding
``pyproject.toml`` or ``.git``) and any ``--pythonpath`` directory, in that order. A module found
nowhere there (the standard library, an installed package) is not project-local: the front end
leaves it alone, as before.
"""

from __future__ import annotations

import functools
import os


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


def import_roots(flow_path: str, pythonpath: tuple[str, ...] = ()) -> tuple[str, ...]:
    flow_dir = os.path.dirname(os.path.abspath(flow_path))
    roots = [flow_dir]
    root = project_root(flow_dir)
    if root is not None:
        roots.append(root)
    roots.extend(os.path.abspath(p) for p in pythonpath)
    return tuple(dict.fromkeys(roots))


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
