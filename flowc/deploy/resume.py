"""``flowc resume FLOW --target ENGINE RUN_ID``: resume a failed run on the engine it ran on.

The new run is an ordinary run of the deployed spec under an id chosen here; before the engine
starts it, its record in the datastore names the resume point (``runtime_shim.resume``), so every
task's shim clones itself from the origin run when the rule says so. Nothing is redeployed: deploy
the fix first (``flowc deploy``) when it is in the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flowc.deploy.base import DeployError, RunInfo
from flowc.runtime_shim.ids import new_run_id


def resume(flow_file: Path, target: str, origin_run_id: str, settings: Mapping[str, Any] = {}, *,
           step: str | None = None, flow_name: str | None = None) -> RunInfo:
    """Start a run on ``target`` that re-runs ``step`` (default: the origin's first failed step)
    and what follows it, cloning every task before it from ``origin_run_id``."""
    from flowc.deploy import _prepare
    from flowc.local.resume import origin_params
    from flowc.runtime_shim import resume as rules
    from flowc.runtime_shim.datastore import DatastoreError, open_datastore

    engine, prepared = _prepare(flow_file, target, settings, flow_name, with_package=False)
    flow = prepared.flow
    run_id = new_run_id(target)
    try:
        store = open_datastore(prepared.settings.datastore_root)
        record = store.read_run(flow.name, origin_run_id)
        if record is None:
            raise DeployError(f"cannot find run {flow.name}/{origin_run_id} in datastore {store.root}")
        point = rules.resume_point(store, flow, origin_run_id, step)
        rules.prepare_run(store, flow, run_id, point)
    except (rules.ResumeError, DatastoreError) as exc:
        raise DeployError(str(exc)) from None
    return engine.trigger(prepared, origin_params(flow, record), run_id=run_id)
