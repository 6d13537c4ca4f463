"""``flowc deploy``, ``flowc trigger`` and ``flowc status``: one module per engine, one facade.

The facade compiles the flow (``base.prepare``), picks the engine module the target names
(``Target.deploy_engine``) and calls it; the CLI and the Python API (``flowc.api.Deployer``) both call these four functions,
so the two behave the same. Engines are imported on first use: boto3, the Airflow client and
the Argo code stay unloaded unless that engine is asked for.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from flowc.deploy.base import DeployError, Deployment, Engine, Prepared, RunInfo, prepare, wait_for

def engine_names() -> tuple[str, ...]:
    """The registered targets that can deploy (their ``deploy_engine`` names a module)."""
    from flowc.targets import all_targets

    return tuple(name for name, target in all_targets().items() if target.deploy_engine)


def get_engine(target: str) -> Engine:
    from flowc.targets import all_targets

    found = all_targets().get(target)
    if found is None or not found.deploy_engine:
        raise DeployError(f"unknown target {target!r} for deploy; choose from {', '.join(engine_names())}")
    engine: Engine = importlib.import_module(found.deploy_engine).ENGINE
    return engine


def _prepare(flow_file: Path, target: str, settings: Mapping[str, Any], flow_name: str | None,
             with_package: bool) -> tuple[Engine, Prepared]:
    engine = get_engine(target)
    overrides = {**dict(settings), **getattr(engine, "forced_settings", {})}
    return engine, prepare(Path(flow_file), target, overrides, flow_name=flow_name,
                           with_package=with_package,
                           handled=getattr(engine, "handled_diagnostics", ()))


def deploy(flow_file: Path, target: str, settings: Mapping[str, Any] = {}, *,
           flow_name: str | None = None) -> tuple[Deployment, Prepared]:
    """Compile, upload the code package if asked, create or update the deployment."""
    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=True)
    return engine.deploy(prepared), prepared


def existing(flow_file: Path, target: str, settings: Mapping[str, Any] = {}, *,
             flow_name: str | None = None) -> tuple[Deployment, Prepared]:
    """The deployment of ``flow_file`` as it would be named, without touching the engine (to
    trigger or list runs of a flow deployed earlier, e.g. by CI)."""
    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=False)
    return Deployment(target, engine.deployment_name(prepared)), prepared


def trigger(flow_file: Path, target: str, params: Sequence[str] = (),
            settings: Mapping[str, Any] = {}, *, flow_name: str | None = None) -> RunInfo:
    """Start a run of the deployed flow; ``params`` are ``NAME=VALUE`` strings, checked against
    the flow's parameters before anything is sent."""
    from flowc.deploy.base import parse_params

    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=False)
    return engine.trigger(prepared, parse_params(prepared.flow, params))


def get_run(flow_file: Path, target: str, run_id: str, settings: Mapping[str, Any] = {}, *,
            flow_name: str | None = None) -> RunInfo:
    """What the engine says about one run now."""
    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=False)
    return engine.get_run(prepared, run_id)


def wait(flow_file: Path, target: str, run_id: str, settings: Mapping[str, Any] = {}, *,
         flow_name: str | None = None, timeout: float | None = None, poll: float = 2.0,
         on_change: Callable[[RunInfo], None] | None = None) -> RunInfo:
    """Follow a run until it is done (or ``timeout`` seconds pass: ``DeployError``)."""
    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=False)
    return wait_for(lambda: engine.get_run(prepared, run_id), timeout, poll, on_change)


def status(flow_file: Path, target: str, settings: Mapping[str, Any] = {}, *,
           flow_name: str | None = None, limit: int = 10) -> list[RunInfo]:
    """The most recent runs, newest first."""
    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=False)
    return engine.status(prepared, limit)


from flowc.deploy.resume import resume  # noqa: E402 - uses _prepare above

__all__ = ["DeployError", "Deployment", "RunInfo", "deploy", "existing", "get_engine", "get_run",
           "resume", "status", "trigger", "wait"]
