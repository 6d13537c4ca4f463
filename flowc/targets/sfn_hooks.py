"""@exit_hook on Step Functions: every top-level state that can fail (Task, Parallel, Map) gets a
Catch to a hook task with status ``failed``, and the end step goes on to a hook task with status
``succeeded``; a Batch job each, running the shim's exit-hook mode.

A failure inside a Parallel branch or a Map child fails its top-level state, so the top-level
Catches see every step's failure. After the failure path's hooks a Fail state ends the execution
failed (``flowc.RunFailed``, with the caught cause); the success path ends in Succeed. A hook job that cannot
run at all is caught too and leads to the same end: hooks never change the run's result (the
shim's hook mode exits 0 whatever the hooks did).
"""

from __future__ import annotations

from typing import Any

from flowc.targets.exit_hooks import has_exit_hooks, hook_argv
from flowc.targets.sfn_asl import BATCH_SUBMIT_SYNC, AslBuilder, call, context, job_name

ON_SUCCESS, ON_ERROR = "exit-hooks-on-success", "exit-hooks-on-error"
SUCCEEDED, FAILED = "flowc-succeeded", "flowc-failed"
RUN_FAILED = "flowc.RunFailed"
_CAN_FAIL = ("Task", "Parallel", "Map")


def add_exit_hooks(builder: AslBuilder) -> dict[str, Any]:
    """The builder's definition with the hook states wired in (in place, once; unchanged when
    the flow has no hooks), so the size checks that read the builder see them too."""
    definition = builder.definition()
    if not has_exit_hooks(builder.plan) or ON_SUCCESS in definition["States"]:
        return definition
    states = definition["States"]
    for state in states.values():
        if state["Type"] in _CAN_FAIL:
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": ON_ERROR}]
        if state.get("End"):
            del state["End"]
            state["Next"] = ON_SUCCESS
    states[ON_SUCCESS] = _hook_task(builder, "succeeded", SUCCEEDED)
    states[ON_ERROR] = _hook_task(builder, "failed", FAILED)
    states[SUCCEEDED] = {"Type": "Succeed"}
    # Error names starting "States." are reserved for the service: the step's own error name is
    # in the cause's JSON (the Batch job's description).
    states[FAILED] = {"Type": "Fail", "Error": RUN_FAILED, "CausePath": "$.error.Cause"}
    return definition


def _hook_task(builder: AslBuilder, status: str, then: str) -> dict[str, Any]:
    """The Batch job running the hooks, on the end step's job definition and queue."""

    argv = hook_argv(builder.plan, builder.settings, run_id=context("Execution", "Name"),
                     status=status, datastore=builder.settings.datastore_root,
                     manifest=builder.options.manifest)
    end = builder.plan.step(builder.flow.end_step)
    return {
        "Type": "Task",
        "Comment": f"Run the @exit_hook functions of a run that {status}.",
        "Resource": BATCH_SUBMIT_SYNC,
        "Parameters": {
            "JobName": job_name(builder.flow, "exit-hooks"),
            "JobQueue": builder._queue(end),
            "JobDefinition": builder.definitions[end.name],
            "ContainerOverrides": {"Command.$": call("Array", *argv)},
        },
        "ResultPath": None,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": then}],
        "Next": then,
    }
