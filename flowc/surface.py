"""The import surface: what a flow may import from ``metaflow`` (or ``flowc``), in one place.

``MODULES`` maps each Metaflow module path a flow may import to the flowc module standing in
for it when the flow runs (the runtime shim installs these as ``sys.modules`` aliases). A name
is *implemented* when that flowc module has it; every other name is *refused at compile time*
(FLOW084) with the reason in ``REFUSED``, never a flow that compiles and then fails at import.
Standard library only: the shim and the compiler both read it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import types
from typing import Any

MODULES: dict[str, str] = {
    "metaflow": "flowc",
    "metaflow.exception": "flowc.exceptions",
    "metaflow.parameters": "flowc.parameters",
    "metaflow.current": "flowc.current",
    "metaflow.decorators": "flowc.decorators",
    "metaflow.client": "flowc.client",
    "metaflow.client.core": "flowc.client",
    "metaflow.cards": "flowc.cards",
    "metaflow.plugins.cards": "flowc.cards",
    "metaflow.plugins.datatools": "flowc.s3",
    "metaflow.plugins.datatools.s3": "flowc.s3",
    "metaflow.integrations": "flowc.integrations",
    "metaflow.metaflow_config": "flowc.metaflow_config",
    "metaflow.util": "flowc.metaflow_util",
    "metaflow.user_configs.config_parameters": "flowc.config",
    "metaflow.user_decorators.mutable_flow": "flowc.mutators",
    "metaflow.user_decorators.mutable_step": "flowc.mutators",
    "metaflow.user_decorators.user_step_decorator": "flowc.user_decorators",
    "metaflow.user_decorators.user_flow_decorator": "flowc.user_decorators",
    "flowc": "flowc",
}

# Why a Metaflow name or module flowc does not provide is refused (name, module or
# module.name). Names not listed here but missing from flowc get a generic reason.
REFUSED: dict[str, str] = {
    "parallel_map": "metaflow.parallel_map is not implemented by flowc; use concurrent.futures",
    "profile": "metaflow.profile is not implemented by flowc; time the block with time.perf_counter",
    "Checkpoint": "checkpointing (@checkpoint, Checkpoint) is an Outerbounds extension, not Metaflow",
    "checkpoint": "checkpointing (@checkpoint, Checkpoint) is an Outerbounds extension, not Metaflow",
    "model": "@model is an Outerbounds extension, not Metaflow",
    "huggingface_hub": "@huggingface_hub is an Outerbounds extension, not Metaflow",
    "nvidia": "@nvidia is an Outerbounds extension, not Metaflow",
    "ollama": "@ollama is an Outerbounds extension, not Metaflow",
    "slurm": "@slurm is a Metaflow extension flowc does not target",
    "torchrun": "@torchrun is a Metaflow extension flowc does not target",
    "deepspeed": "@deepspeed is a Metaflow extension flowc does not target",
    "metaflow_ray": "@metaflow_ray is a Metaflow extension flowc does not target",
}


def _module(path: str) -> Any:
    target = MODULES.get(path)
    if target is None:
        return None
    try:
        return importlib.import_module(target)
    except ImportError:
        return None


def refusal(module: str, name: str | None = None) -> str | None:
    """None when ``from module import name`` (or ``import module``) works when the flow runs;
    otherwise the reason it is refused."""
    provider = _module(module)
    if provider is None:
        return REFUSED.get(module, f"flowc does not provide the module {module}")
    if name is None or name == "*" or hasattr(provider, name):
        return None
    return REFUSED.get(f"{module}.{name}") or REFUSED.get(name) or \
        f"flowc does not implement {module}.{name}"


def current_refusal(attribute: str) -> str | None:
    """None when ``current.<attribute>`` exists in flowc's ``current``; else the reason."""
    from flowc.current import Current

    if attribute in getattr(Current, "_FIELDS", ()) or hasattr(Current, attribute):
        return None
    return REFUSED.get(f"current.{attribute}", f"current.{attribute} is not implemented by flowc")


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import metaflow.client`` gives flowc.client itself (imported on first use, one copy)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith("metaflow."):
            return None
        is_package = _is_prefix(fullname)  # metaflow.user_decorators, metaflow.plugins.datatools
        if fullname in MODULES and _module(fullname) is not None:
            return importlib.util.spec_from_loader(fullname, self, is_package=is_package)
        if is_package:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> Any:
        module = _module(spec.name) if spec.name in MODULES else None
        if module is not None and not _is_prefix(spec.name):
            return module
        # A package path (with submodules below it): a new package holding the names of the
        # flowc module standing in for it, if any (``from metaflow.plugins.datatools import S3``).
        package = types.ModuleType(spec.name)
        if module is not None:
            package.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
        package.__path__ = []
        return package

    def exec_module(self, module: Any) -> None:
        return None


def _is_prefix(path: str) -> bool:
    return any(key.startswith(path + ".") for key in MODULES)


def install_aliases(meta_path: list[Any]) -> None:
    """Let every Metaflow module path of ``MODULES`` import as its flowc module (sys.meta_path)."""
    if not any(isinstance(finder, _AliasFinder) for finder in meta_path):
        meta_path.insert(0, _AliasFinder())


__all__ = ["MODULES", "REFUSED", "refusal", "current_refusal", "install_aliases"]
