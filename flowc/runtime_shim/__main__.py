"""``python -m flowc.runtime_shim``: run one task (docs/contracts.md section 4), or with
``--exit-hook`` the @exit_hook functions of a finished run (``exit_hooks``).

Exit status 0 when the task succeeded (a failure swallowed by @catch included), 1 when it
failed, 2 for a bad command line, a bad parameter value, an id flowc never produces (a run id
with a '/', say) or an unusable flow file/manifest: retrying those cannot help.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from flowc.exceptions import ParameterError
from flowc.compiler import ir
from flowc.runtime_shim import environment, ids, manifest_source
from flowc.runtime_shim.capture import capture_output
from flowc.runtime_shim.datastore import Datastore, DatastoreError, open_datastore
from flowc.runtime_shim.environment import EnvironmentBuildError, StepEnvironmentError
from flowc.runtime_shim.gang import GangMember, gang_member, wait_for_members
from flowc.runtime_shim.ids import parse_index_path
from flowc.runtime_shim.loader import FlowLoadError, load_flow_class, resolve_flow_file
from flowc.runtime_shim.params import params_from_environment
from flowc.runtime_shim.task import TaskRequest, TaskResult, run_task
from flowc.runtime_shim.trigger import events_from_environment


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flowc.runtime_shim",
                                description="Run one step of a flowc flow as one task.")
    p.add_argument("--flow-file", required=True)
    p.add_argument("--step", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--manifest", default=os.environ.get("FLOWC_MANIFEST"),
                   help="path, s3://bucket/key or z:<inline> (default: $FLOWC_MANIFEST)")
    p.add_argument("--index-path", default="")
    p.add_argument("--iteration", type=int, default=0)
    p.add_argument("--attempt", type=int, default=None, help="0-based retry attempt (default: $FLOWC_ATTEMPT or 0)")
    p.add_argument("--datastore", default=os.environ.get("FLOWC_DATASTORE") or ".flowc")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--side-channel-dir")
    p.add_argument("--origin-run-id", default=os.environ.get("FLOWC_ORIGIN_RUN_ID"))
    return p


def _enter_step_environment(args: argparse.Namespace, manifest: ir.Flow, argv: list[str]) -> None:
    """Re-execute this command in the step's @pypi/@conda environment (built or reused first),
    before the flow is imported; returns only when the step runs in this interpreter."""
    python = environment.prepare(manifest, args.step, resolve_flow_file(args.flow_file), args.datastore)
    if python is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(python, [python, "-m", "flowc.runtime_shim", *argv])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--exit-hook" in argv:
        from flowc.runtime_shim.exit_hooks import main as exit_hook_main

        return exit_hook_main(argv)
    args = _parser().parse_args(argv)
    try:
        request = _request(args, argv)
    except EnvironmentBuildError as exc:
        print(f"flowc shim: error: {exc}", file=sys.stderr)
        return 1  # a failed task: the orchestrator's retry may find the index reachable again
    except KeyError as exc:
        print(f"flowc shim: error: the flow has no step {exc.args[0]!r}", file=sys.stderr)
        return 2
    except (ValueError, StepEnvironmentError, OSError, DatastoreError, ParameterError,
            FlowLoadError) as exc:
        print(f"flowc shim: error: {exc}", file=sys.stderr)
        return 2
    if request is None:
        return 0  # cloned from the run this run resumes
    datastore = request.datastore
    with capture_output(fd_level=True) as captured:
        result = run_task(request)
        if result.ok:
            result = _after_gang(request, result)
        if not result.ok:
            print(f"flowc shim: task {result.pathspec} attempt {result.attempt} failed: "
                  f"{result.error}", file=sys.stderr)
    for stream in ("stdout", "stderr"):
        try:
            datastore.save_log(request.key, request.attempt, stream, getattr(captured, stream).getvalue())
        except DatastoreError as exc:
            print(f"flowc shim: warning: {exc}", file=sys.stderr)
    if not result.ok and result.error_type == "ParameterError":
        return 2  # a bad parameter value fails every attempt alike: not retryable
    return 0 if result.ok else 1


def _request(args: argparse.Namespace, argv: list[str]) -> TaskRequest | None:
    """The task to run, or None when it was cloned from the run this one resumes. Ids and the
    manifest are checked first; a step with an environment then re-executes in its interpreter
    (a cloned task needs neither its environment nor the flow)."""
    ids.check_run_id(args.run_id)
    ids.check_step_name(args.step)
    if args.origin_run_id:
        ids.check_run_id(args.origin_run_id)
    manifest = manifest_source.load(args.manifest or "")
    ids.check_flow_name(manifest.name)
    manifest.step(args.step)
    index_path = parse_index_path(args.index_path) + _gang_index(manifest, args.step)
    datastore = open_datastore(args.datastore)
    resumed_from, cloned = resumed_task(datastore, manifest, args, index_path)
    if cloned:
        return None
    _enter_step_environment(args, manifest, argv)
    if args.attempt is None:
        text = os.environ.get("FLOWC_ATTEMPT", "").strip() or "0"
        if not text.isdigit():
            raise ValueError(f"FLOWC_ATTEMPT must be a non-negative integer, got {text!r}")
        args.attempt = int(text)
    if args.attempt < 0 or args.iteration < 0:
        raise ValueError("--attempt and --iteration are never negative")
    params = params_from_environment(os.environ.get("FLOWC_PARAMS"))  # --param wins below
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        params[name] = value
    flow_class = load_flow_class(args.flow_file, manifest)
    return TaskRequest(flow_class=flow_class, manifest=manifest, step=args.step,
                       run_id=args.run_id, datastore=datastore, index_path=index_path,
                       iteration=args.iteration, attempt=args.attempt, params=params,
                       side_channel_dir=args.side_channel_dir,
                       origin_run_id=args.origin_run_id or resumed_from,
                       trigger=events_from_environment(os.environ))


def _gang_member(manifest: ir.Flow, step: str) -> GangMember | None:
    """For a @parallel step's task started by an engine with its gang's index path: its place in
    the gang, from the environment the engine gives it (``gang``); else None."""
    return gang_member(os.environ) if manifest.step(step).decorator(ir.ParallelDecorator) else None


def _gang_index(manifest: ir.Flow, step: str) -> tuple[int, ...]:
    """What ends an engine-started gang member's index path: its node index."""
    member = _gang_member(manifest, step)
    return (member.node_index,) if member is not None else ()


def _after_gang(request: TaskRequest, result: TaskResult) -> TaskResult:
    """Node 0 of a Batch multi-node job outlives its gang (``gang.wait_for_members``): a failed
    member fails it, and with it the job."""
    member = _gang_member(request.manifest, request.step)
    if member is None or not member.waits_for_members:
        return result
    error = wait_for_members(request.datastore, request.key, request.index_path, request.iteration,
                             request.attempt, member.num_nodes)
    return result if error is None else replace(result, ok=False, error=error, error_type="GangMemberFailed")


def resumed_task(datastore: Datastore, manifest: ir.Flow, args: argparse.Namespace,
                 index_path: tuple[int, ...]) -> tuple[str | None, bool]:
    """(the origin run when this run resumes one, whether this task was cloned from it); a clone
    hands the engine its side channels as the step would have."""
    from flowc.runtime_shim.ids import task_id
    from flowc.runtime_shim.resume import clone_if_resumed
    from flowc.runtime_shim.task import write_side_channels

    tid = task_id(index_path, args.iteration)
    origin, done = clone_if_resumed(datastore, manifest, args.run_id, args.step, tid)
    if done is None:
        return origin, False
    if args.side_channel_dir:
        write_side_channels(args.side_channel_dir, {"foreach": done.get("foreach"),
                                                    "switch": done.get("switch")})
    print(f"{manifest.name}/{args.run_id}/{args.step}/{tid}: cloned from run {origin}", flush=True)
    return origin, True


if __name__ == "__main__":
    sys.exit(main())
