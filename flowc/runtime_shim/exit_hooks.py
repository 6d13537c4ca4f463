"""``python -m flowc.runtime_shim --exit-hook``: run the @exit_hook functions of a finished run.

Metaflow's semantics: the hooks run once, after the flow ended; ``on_success`` functions when the
run succeeded, ``on_error`` functions otherwise. A function with a parameter named ``run`` (or
``**kwargs``) is called with ``run=`` the client's ``Run`` of the finished run (``None`` when it
cannot be read), any other with no arguments. A hook that fails is reported (a line on standard
error, and ``exit_hooks`` in the run record) and never changes the run's result: every hook runs,
and the mode exits 0 once they ran.

The status comes from the engine (``--status``: Argo's ``{{workflow.status}}``, the branch of the
Step Functions machine) or, without it, from the datastore: a run succeeded when its ``end`` task
finished. An engine-reported failure is written into a run record still saying "running" (a pod
killed before its shim could record anything), so the hooks' ``run`` sees it.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from flowc.compiler import ir
from flowc.runtime_shim.datastore import Datastore, TaskKey, now
from flowc.runtime_shim.ids import task_id

SUCCEEDED, FAILED = "succeeded", "failed"
# What the engines call a finished run: Argo (Succeeded/Failed/Error), Step Functions, Airflow.
_STATUS_WORDS = {
    "succeeded": SUCCEEDED, "success": SUCCEEDED,
    "failed": FAILED, "error": FAILED, "errored": FAILED, "timed_out": FAILED, "aborted": FAILED,
    "stopped": FAILED,
}


@dataclass(frozen=True, slots=True)
class HookOutcome:
    name: str
    ok: bool
    error: str | None = None


def hook_names(flow: ir.Flow, status: str) -> tuple[str, ...]:
    """The functions to call for a run that ended with ``status``, over every @exit_hook."""
    names: list[str] = []
    for deco in flow.decorators:
        if isinstance(deco, ir.ExitHook):
            names += deco.on_success if status == SUCCEEDED else deco.on_error
    return tuple(str(n) for n in names)


def parse_status(text: str) -> str:
    """An engine's word for how a run ended, as ``succeeded`` or ``failed``."""
    status = _STATUS_WORDS.get(text.strip().lower())
    if status is None:
        raise ValueError(f"--status {text!r}: expected succeeded or failed (or Argo's "
                         "Succeeded/Failed/Error)")
    return status


def status_from_datastore(store: Datastore, flow: ir.Flow, run_id: str) -> str:
    """A run succeeded exactly when its end task finished."""
    done = store.read_done(TaskKey(flow.name, run_id, flow.end_step, task_id(())))
    return SUCCEEDED if done is not None else FAILED


def run_exit_hooks(module: Any, flow: ir.Flow, store: Datastore, run_id: str,
                   status: str, report: TextIO | None = None) -> list[HookOutcome]:
    """Call the hooks for ``status`` from ``module`` (the imported flow file); record them."""
    record = store.read_run(flow.name, run_id) or {}
    if status == FAILED and record.get("status") in (None, "running"):
        store.update_run(flow.name, run_id, status=FAILED, finished_at=record.get("finished_at") or now())
    outcomes = [_call(module, name, lambda: _client_run(flow, run_id, store))
                for name in hook_names(flow, status)]
    for outcome in outcomes:
        if not outcome.ok:
            print(f"flowc: exit hook {outcome.name} failed: {outcome.error} "
                  f"(the run's result stays {status})", file=report or sys.stderr, flush=True)
    if outcomes:
        store.update_run(flow.name, run_id, exit_hooks={
            "status": status,
            "hooks": [{"name": o.name, "ok": o.ok, "error": o.error} for o in outcomes]})
    return outcomes


def _call(module: Any, name: str, run: Callable[[], Any]) -> HookOutcome:
    function = getattr(module, name, None)
    if not callable(function):
        return HookOutcome(name, False, f"the flow file defines no function {name!r}")
    try:
        if _wants_run(function):
            function(run=run())
        else:
            function()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported, never the run's result
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        return HookOutcome(name, False, f"{type(exc).__name__}: {exc}")
    return HookOutcome(name, True)


def _wants_run(function: Callable[..., Any]) -> bool:
    """Metaflow's test: a parameter named ``run``, or ``**kwargs``."""
    try:
        spec = inspect.getfullargspec(function)
    except TypeError:
        return False
    return "run" in spec.args or "run" in spec.kwonlyargs or spec.varkw is not None


def _client_run(flow: ir.Flow, run_id: str, store: Datastore) -> Any:
    """The ``Run`` a hook's ``from metaflow import Run`` would give it: the authoring API's lazy
    export (the shim itself never imports the client, a layer above it)."""
    import flowc

    run_class: Any = getattr(flowc, "Run")  # noqa: B009 - resolved lazily (PEP 562), typed as Any
    try:
        return run_class(f"{flow.name}/{run_id}", store)
    except Exception as exc:  # noqa: BLE001 - Metaflow passes None when the run cannot be read
        print(f"flowc: exit hooks: cannot read run {flow.name}/{run_id}: {exc}", file=sys.stderr)
        return None


# --------------------------------------------------------------------------- the command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flowc.runtime_shim --exit-hook",
                                description="Run the @exit_hook functions of a finished run.")
    p.add_argument("--exit-hook", action="store_true", required=True)
    p.add_argument("--flow-file", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--status", help="how the run ended (default: read from the datastore)")
    p.add_argument("--manifest", default=os.environ.get("FLOWC_MANIFEST"),
                   help="path, s3://bucket/key or z:<inline> (default: $FLOWC_MANIFEST)")
    p.add_argument("--datastore", default=os.environ.get("FLOWC_DATASTORE") or ".flowc")
    return p


def main(argv: list[str]) -> int:
    """0 once the hooks ran (whatever they did); 2 for a bad command line or flow."""
    args = _parser().parse_args(argv)
    from flowc.runtime_shim import manifest_source
    from flowc.runtime_shim.datastore import DatastoreError, open_datastore
    from flowc.runtime_shim.loader import FlowLoadError, load_flow_class

    try:
        manifest = manifest_source.load(args.manifest or "")
        flow_class = load_flow_class(args.flow_file, manifest)
        store = open_datastore(args.datastore)
        status = parse_status(args.status) if args.status else status_from_datastore(
            store, manifest, args.run_id)
    except (ValueError, FlowLoadError, DatastoreError) as exc:
        print(f"flowc shim: error: {exc}", file=sys.stderr)
        return 2
    module = sys.modules[flow_class.__module__]
    try:
        run_exit_hooks(module, manifest, store, args.run_id, status)
    except DatastoreError as exc:
        print(f"flowc shim: warning: cannot record the exit hooks: {exc}", file=sys.stderr)
    return 0
