"""flowc: write flows the Metaflow way, compile them to Argo, Step Functions or Airflow.

This package's top level is the authoring API (``FlowSpec``, ``step``, ``Parameter``, the
decorators, ``current``) and, imported lazily, the client (``Flow``, ``Run``, ...) and the
programmatic API (``compile``, ``Runner``, ``Deployer``). It is
standard-library only: containers that run the shim never need libcst or jinja2. Inside flowc's
runtime, ``import metaflow`` resolves to this module.
"""

from __future__ import annotations

from typing import Any

from flowc.current import current
from flowc.decorators import (batch, card, catch, conda, conda_base, environment, exit_hook,
                              kubernetes, parallel, project, pypi, pypi_base, resources, retry,
                              schedule, secrets, step, timeout, trigger, trigger_on_finish)
from flowc.exceptions import (CaughtException, FlowcException, MergeArtifactsException,
                              MetaflowException, MetaflowExceptionWrapper,
                              MissingInMergeArtifactsException, TimeoutException)
from flowc.config import (Config, ConfigValue, config_expr, pyproject_toml_parser, requirements_txt_parser,
                          yaml_parser)
from flowc.flowspec import FlowSpec
from flowc.user_decorators import (USER_SKIP_STEP, FlowMutator, StepMutator, UserStepDecorator,
                                   user_step_decorator)
from flowc.parameters import IncludeFile, JSONType, Parameter
from flowc import mutators as _mutators  # noqa: F401 - installs the run-time mutator hooks

__all__ = [
    "FlowSpec", "step", "Parameter", "JSONType", "IncludeFile", "current",
    "Config", "ConfigValue", "config_expr", "FlowMutator", "StepMutator", "UserStepDecorator",
    "user_step_decorator", "USER_SKIP_STEP", "pyproject_toml_parser", "requirements_txt_parser",
    "yaml_parser",
    "retry", "catch", "timeout", "resources", "environment", "kubernetes", "batch", "secrets",
    "card", "pypi", "conda", "parallel", "schedule", "trigger", "trigger_on_finish", "project",
    "pypi_base", "conda_base", "exit_hook",
    "FlowcException", "MetaflowException", "MergeArtifactsException",
    "MissingInMergeArtifactsException", "TimeoutException", "CaughtException",
    "MetaflowExceptionWrapper",
    "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
    "default_namespace", "get_metadata", "metadata", "default_metadata", "datastore", "Metaflow",
    "compile", "Runner", "Deployer", "S3",
]

_CLIENT_NAMES = frozenset({"Flow", "Run", "Step", "Task", "DataArtifact", "namespace",
                           "get_namespace", "default_namespace", "get_metadata", "metadata",
                           "default_metadata", "datastore", "Metaflow"})

_API_NAMES = frozenset({"compile", "Runner", "Deployer"})


def __getattr__(name: str) -> Any:
    """The client and the programmatic API are imported on first use, so authoring a flow stays
    cheap and a container never loads the compiler."""
    if name in _CLIENT_NAMES:
        from flowc import client

        return getattr(client, name)
    if name == "S3":
        from flowc.s3 import S3

        return S3
    if name in _API_NAMES:
        from flowc import api

        return getattr(api, name)
    if name in ("metaflow_version", "metaflow_config"):  # ``from metaflow import metaflow_config``
        import importlib

        return importlib.import_module(f"flowc.{name}")
    raise AttributeError(f"module 'flowc' has no attribute {name!r}")
