"""Back ends: one emitter module per orchestrator, all reading the same IR.

Every target module (``argo``, ``sfn``, ``airflow``) exposes a module-level ``TARGET`` object
with this shape:

    name: str                       # "argo", "sfn", "airflow"
    capabilities: dict[str, str]    # construct -> how it is lowered, or the FLOWnnn that refuses it
    def emit(flow: ir.Flow, settings: Settings) -> Emitted

``emit`` never raises on a flow it cannot express: it returns diagnostics (with the source span of
the offending construct); the CLI prints them and writes nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from flowc.compiler import ir
from flowc.compiler.diagnostics import Diagnostic

TARGET_NAMES = ("argo", "sfn", "airflow")


@dataclass(frozen=True, slots=True)
class Settings:
    """Deployment settings, from ``[tool.flowc]`` in pyproject.toml overridden by flags.

    Shared fields first; target-specific ones are prefixed with the target's name.
    """

    image: str = "python:3.11-slim"
    namespace: str | None = None
    service_account: str | None = None
    datastore_root: str = "s3://flowc-datastore/flowc"
    max_workers: int = 100
    # Where the flow's code lives inside the image; the shim is started there.
    code_dir: str = "/app"
    # The Python that runs the shim inside the image.
    python: str = "python"
    # A code package (``flowc package``) the tasks download and verify instead of using code_dir:
    # a path or s3:// URL whose file name ends in ``-<sha256>.tar.gz``.
    code_package: str | None = None
    # argo
    argo_version: str = "4"
    # sfn
    sfn_job_queue: str = "flowc-job-queue"
    sfn_job_definition: str | None = None
    sfn_role_arn: str | None = None
    sfn_batch_job_role_arn: str | None = None
    sfn_execution_role_arn: str | None = None
    sfn_format: str = "asl"  # asl | cloudformation
    # airflow
    airflow_operator: str = "kubernetes"  # kubernetes | local
    # anything else a target reads, as sorted (key, value) pairs
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Emitted:
    """What a target produced: the spec text (empty when errors were found), the file extension
    it is written with (``.yaml``, ``.json``, ``.py``) and diagnostics, warnings included."""

    text: str
    extension: str
    diagnostics: tuple[Diagnostic, ...] = ()


class Target(Protocol):
    name: str
    capabilities: dict[str, str]

    def emit(self, flow: ir.Flow, settings: Settings) -> Emitted: ...


def get_target(name: str) -> Target:
    if name not in TARGET_NAMES:
        raise KeyError(name)
    module = importlib.import_module(f"flowc.targets.{name}")
    return module.TARGET
