"""The scheduler's only door into the runtime shim and the datastore.

Everything ``flowc run`` needs from the shim (load the flow, run a task in a child, record the run,
store logs, clone a task for resume) goes through these few functions, so the scheduler itself
knows nothing about the datastore's layout beyond docs/contracts.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from flowc.compiler import ir
from flowc.exceptions import ParameterError
from flowc.local import RunError
from flowc.runtime_shim.liveness import scheduler_identity
from flowc.local.plan import Facts, TaskSlot
from flowc.runtime_shim import datastore as ds
from flowc.runtime_shim import resume
from flowc.runtime_shim.loader import FlowLoadError, load_flow_class as _load_flow_class
from flowc.runtime_shim.params import check_assignments
# Imported here, in the scheduler, so no forked task pays for it.
from flowc.runtime_shim.task import TaskRequest, run_task

open_datastore = ds.open_datastore
Datastore = ds.Datastore
DatastoreError = ds.DatastoreError


def load_flow_class(flow_file: Path, flow: ir.Flow) -> type:
    """Import the flow once in the scheduler; every forked task inherits the module."""
    try:
        return _load_flow_class(str(flow_file), flow)
    except FlowLoadError as exc:
        raise RunError(str(exc)) from None


def check_params(flow: ir.Flow, pairs: Sequence[str]) -> dict[str, str]:
    """``--param NAME=VALUE`` pairs checked now, so a typo fails before any task starts."""
    try:
        return check_assignments(flow, pairs)
    except ParameterError as exc:
        raise RunError(str(exc)) from None


def start_run(store: ds.Datastore, flow: ir.Flow, flow_file: Path, run_id: str,
              params: dict[str, str], origin_run_id: str | None,
              extra: dict[str, Any] | None = None) -> None:
    """The run record, then the manifest the run was scheduled from (for resume and audits).
    ``extra`` adds fields such as the user's ``tags`` and ``namespace``."""
    store.backend.put_bytes(f"{store.run_key(flow.name, run_id)}/manifest.json",
                            ir.dump_manifest(flow).encode("utf-8"))
    store.write_run(flow.name, run_id, {
        "flow": flow.name,
        "run_id": run_id,
        "status": "running",
        "started_at": ds.now(),
        # The command-line text of each --param; the start task adds the typed "parameters".
        "cli_parameters": dict(sorted(params.items())),
        "origin_run_id": origin_run_id,
        "source_sha256": flow.source_sha256,
        "flow_file": str(flow_file.resolve()),
        "scheduler": "flowc run",
        **scheduler_identity(),  # so a reader can tell a killed run from a running one
        **ds.endpoint_fields(flow.start_step, flow.end_step),
        **(extra or {}),
    })


def finish_run(store: ds.Datastore, flow: ir.Flow, run_id: str, status: str) -> None:
    store.update_run(flow.name, run_id, status=status, finished_at=ds.now())


def run_exit_hooks(store: ds.Datastore, flow: ir.Flow, flow_class: type, run_id: str, status: str,
                   report: Any) -> None:
    """The flow's @exit_hook functions, once the run's status is recorded (a stopped run counts
    as failed); the shim's exit-hook mode, called in this process."""
    from flowc.runtime_shim import exit_hooks

    if not any(isinstance(d, ir.ExitHook) for d in flow.decorators):
        return
    outcome = exit_hooks.SUCCEEDED if status == "succeeded" else exit_hooks.FAILED
    exit_hooks.run_exit_hooks(sys.modules[flow_class.__module__], flow, store, run_id, outcome, report)


# Exit codes of a forked task (the child's own convention, never seen outside flowc run);
# EXIT_LOGS_UNSTORED: the task succeeded but its output could not be stored (a full disk, say).
EXIT_OK, EXIT_RETRYABLE, EXIT_FINAL, EXIT_LOGS_UNSTORED = 0, 1, 3, 4


def task_body(flow_class: type, flow: ir.Flow, store: ds.Datastore, run_id: str, key: TaskSlot,
              attempt: int, params: dict[str, str], log_dir: Path,
              origin_run_id: str | None = None) -> Callable[[], int]:
    """What a forked child runs: one attempt of one task through the shim's ``run_task``.

    A failure's traceback goes to the child's stderr; the child stores its own stdout and stderr
    (``log_dir``) in the datastore before it exits, so the scheduler does not have to. The exit
    code tells the scheduler whether the shim considers a failure retryable, and whether a
    success's output is missing from the datastore (the scheduler then shows it instead).
    """

    def run() -> int:
        request = TaskRequest(
            flow_class=flow_class, manifest=flow, step=key.step, run_id=run_id,
            datastore=store, index_path=key.index_path, iteration=key.iteration,
            attempt=attempt, params=params, origin_run_id=origin_run_id)
        try:
            result = run_task(request)
        except SystemExit as exc:
            print(f"step {key.step!r} called sys.exit({exc.code!r}); a step must return "
                  "normally", file=sys.stderr)
            return EXIT_RETRYABLE
        if result.ok:
            return EXIT_OK
        meta = store.read_attempt(request.key, attempt) or {}
        print(meta.get("traceback") or result.error, file=sys.stderr, end="")
        return EXIT_RETRYABLE if result.retryable else EXIT_FINAL

    def body() -> int:
        stored = False
        try:
            code = run()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                store_logs(store, flow.name, run_id, key, attempt, log_dir / "stdout.log",
                           log_dir / "stderr.log")
                stored = True
            except Exception as exc:  # noqa: BLE001 - the scheduler shows them instead
                print(f"flowc run: cannot store this task's logs: {exc}", file=sys.stderr)
        return EXIT_LOGS_UNSTORED if code == EXIT_OK and not stored else code

    return body


def has_environment(flow: ir.Flow, step_name: str) -> bool:
    """Whether the step declares an @pypi/@conda environment (its own or the flow's base)."""
    from flowc.runtime_shim.environment import StepEnvironmentError, environment_spec

    try:
        return environment_spec(flow, flow.step(step_name)) is not None
    except StepEnvironmentError as exc:

        raise RunError(str(exc)) from None


def prepare_environments(flow: ir.Flow, flow_file: Path, datastore_root: str) -> None:
    """Build (or find) every step environment before the first task, as Metaflow bootstraps
    them at the start of a run: a build's time never counts against a task's @timeout, and a
    refused environment stops the run before it starts."""
    from flowc.runtime_shim.environment import StepEnvironmentError, prepare

    try:
        for step in flow.steps:
            prepare(flow, step.name, str(flow_file.resolve()), datastore_root)
    except StepEnvironmentError as exc:
        raise RunError(str(exc)) from None


def environment_task_body(flow: ir.Flow, flow_file: Path, store: ds.Datastore, run_id: str,
                          key: TaskSlot, attempt: int, params: dict[str, str],
                          origin_run_id: str | None = None) -> Callable[[], int]:
    """What a forked child runs for a step with an environment: it builds or reuses the
    environment, then becomes ``python -m flowc.runtime_shim`` in that environment's
    interpreter (the flow this process imported is of no use there). The shim stores the task's
    logs; its exit code is 0 or 1 (retryable) like a forked task's."""
    from flowc.runtime_shim.environment import StepEnvironmentError, prepare
    from flowc.runtime_shim.manifest_source import encode_inline

    def body() -> int:
        try:
            python = prepare(flow, key.step, str(flow_file.resolve()), store.root) or sys.executable
        except StepEnvironmentError as exc:
            print(f"flowc run: {exc}", file=sys.stderr)
            return EXIT_RETRYABLE
        argv = [python, "-m", "flowc.runtime_shim", "--flow-file", str(flow_file.resolve()),
                "--step", key.step, "--run-id", run_id,
                "--index-path", ".".join(str(i) for i in key.index_path),
                "--iteration", str(key.iteration), "--attempt", str(attempt),
                "--datastore", store.root, "--manifest", encode_inline(flow)]
        for name, value in sorted(params.items()):
            argv += ["--param", f"{name}={value}"]
        if origin_run_id:
            argv += ["--origin-run-id", origin_run_id]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(python, argv)

    return body


def task_done(store: ds.Datastore, flow_name: str, run_id: str, key: TaskSlot) -> dict[str, Any] | None:
    """The task's completion marker, or None (a child can exit 0 without finishing)."""
    return store.read_done(ds.TaskKey(flow_name, run_id, key.step, key.task_id))


def done_facts(done: dict[str, Any]) -> Facts:
    """The foreach width and switch choice a completion marker records."""
    foreach = done.get("foreach") or {}
    switch = done.get("switch") or {}
    width = foreach.get("width")
    return Facts(foreach_width=int(width) if width is not None else None,
                 next_step=switch.get("next_step"))


def store_logs(store: ds.Datastore, flow_name: str, run_id: str, key: TaskSlot, attempt: int,
               stdout_path: Path, stderr_path: Path) -> None:
    task = ds.TaskKey(flow_name, run_id, key.step, key.task_id)
    for stream, path in (("stdout", stdout_path), ("stderr", stderr_path)):
        if path.exists():
            store.save_log_file(task, attempt, stream, str(path))


def clone_task(store: ds.Datastore, flow_name: str, origin_run_id: str, run_id: str,
               key: TaskSlot) -> Facts | None:
    """Copy a successful task of the origin run into this run (``runtime_shim.resume``); its
    facts, or ``None`` if it did not succeed."""
    done = resume.clone_task(store, flow_name, origin_run_id, run_id, key.step, key.task_id)
    return done_facts(done) if done is not None else None
