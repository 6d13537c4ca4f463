"""Importing the user's flow inside flowc's runtime.

``import metaflow`` must mean flowc while a flow runs here, whether or not Metaflow is installed,
so :func:`install_metaflow_alias` puts flowc's API into ``sys.modules`` before the flow module is
imported. The module is imported once per process (a scheduler can preload it and fork).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import types

import flowc
from flowc import decorators, exceptions, parameters
from flowc.compiler import ir
from flowc.current import current
from flowc.flowspec import FlowSpec


class FlowLoadError(RuntimeError):
    """The flow file cannot be used with this manifest (missing, stale, not importable)."""


def install_metaflow_alias() -> None:
    """Make ``import metaflow`` (and the submodules user code imports) resolve to flowc's API."""
    current_module = types.ModuleType("metaflow.current")
    current_module.current = current  # type: ignore[attr-defined]
    preset = {"metaflow.exception": exceptions, "metaflow.parameters": parameters,
              "metaflow.decorators": decorators}
    sys.modules.update({"metaflow": flowc, "metaflow.current": current_module, **preset})
    for alias, module in preset.items():  # ``import metaflow.exception`` reads metaflow.exception
        name = alias.split(".", 1)[1]
        if not isinstance(getattr(flowc, name, None), types.ModuleType) or name == "exception":
            setattr(flowc, name, module)
    from flowc import surface

    # metaflow.client, metaflow.cards, metaflow.plugins.datatools, ... (flowc.surface.MODULES):
    # imported when user code first imports them, so a task that never does pays nothing
    surface.install_aliases(sys.meta_path)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_flow_file(flow_file: str) -> str:
    """A path as given, or a dotted module path inside the image (``flows.train``) -> its file."""
    if os.path.exists(flow_file) or flow_file.endswith(".py") or not _MODULE.match(flow_file):
        return flow_file
    try:
        spec = importlib.util.find_spec(flow_file)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return flow_file
    return spec.origin


_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_LOADED: dict[tuple[str, str, str], type[FlowSpec]] = {}


def load_flow_class(flow_file: str, manifest: ir.Flow, check_hash: bool = True) -> type[FlowSpec]:
    """Import ``flow_file`` once and return its FlowSpec subclass named ``manifest.name``.

    Refuses (FlowLoadError, one line) when the file's sha256 differs from
    ``manifest.source_sha256``: the image and the spec were built from different code.
    The module is registered in ``sys.modules`` under the file's stem so artifacts of classes
    defined in the flow file unpickle in every task. ``flow_file`` may also be a dotted module
    path importable inside the image (``flows.train``).
    """
    resolved = resolve_flow_file(flow_file)
    dotted = flow_file if resolved != flow_file else None
    path = os.path.abspath(resolved)
    cache_key = (path, manifest.name, manifest.source_sha256)
    from flowc import config

    config.install(manifest.configs)  # decorator arguments and steps read the compiled values
    cached = _LOADED.get(cache_key)
    if cached is not None:
        return cached
    if not os.path.isfile(path):
        raise FlowLoadError(f"flow file {flow_file} not found (working directory {os.getcwd()})")
    if check_hash and manifest.source_sha256:
        actual = file_sha256(path)
        if actual != manifest.source_sha256:
            raise FlowLoadError(
                f"flow file {flow_file} (sha256 {actual[:12]}) differs from the compiled manifest "
                f"(sha256 {manifest.source_sha256[:12]}): recompile the flow and rebuild the image")
    install_metaflow_alias()
    if dotted is not None:
        try:
            imported = importlib.import_module(dotted)
        except Exception as exc:
            raise FlowLoadError(f"importing {dotted} failed: {type(exc).__name__}: {exc}") from exc
        return _flow_class(imported, manifest, flow_file, cache_key)
    module_name = os.path.splitext(os.path.basename(path))[0]
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = sys.modules.get(module_name)
    if module is None or getattr(module, "__flowc_sha256__", None) != (path, manifest.source_sha256):
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise FlowLoadError(f"cannot import {flow_file}")
        module = importlib.util.module_from_spec(spec)
        module.__flowc_sha256__ = (path, manifest.source_sha256)  # type: ignore[attr-defined]
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise FlowLoadError(f"importing {flow_file} failed: {type(exc).__name__}: {exc}") from exc
    return _flow_class(module, manifest, flow_file, cache_key)


def _flow_class(module: types.ModuleType, manifest: ir.Flow, flow_file: str,
                cache_key: tuple[str, str, str]) -> type[FlowSpec]:
    cls = getattr(module, manifest.name, None)
    if not (isinstance(cls, type) and issubclass(cls, FlowSpec)):
        raise FlowLoadError(f"{flow_file} has no FlowSpec subclass named {manifest.name!r}")
    _LOADED[cache_key] = cls
    return cls
