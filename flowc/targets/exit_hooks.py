"""@exit_hook on the engines: the command that runs a finished run's hooks, shared by the three
targets (each wires it where its engine runs something after a run: Argo's ``onExit``, a Catch
around the Step Functions machine, an Airflow teardown task).

The command is a task's (``common.task_argv``: the image's flow file, or the code-package
bootstrap) with the shim in ``--exit-hook`` mode in place of a step; ``status`` is the engine's
word for how the run ended, or ``None`` to let the shim read it from the datastore (the run
succeeded when its end task finished).
"""

from __future__ import annotations

from typing import Any

from flowc.compiler import ir
from flowc.plan import FlowPlan
from flowc.targets.base import Settings
from flowc.targets import common


def has_exit_hooks(plan: FlowPlan) -> bool:
    return any(isinstance(d, ir.ExitHook) and (d.on_success or d.on_error) for d in plan.flow.decorators)


def hook_argv(plan: FlowPlan, settings: Settings, *, run_id: Any, status: Any | None,
              **engine_values: Any) -> list[Any]:
    """The exit-hook command: a task's command whose ``--step`` is replaced by the hook mode."""
    argv = common.task_argv(plan.flow, settings, step="-", run_id=run_id, **engine_values)
    at = argv.index("--step")
    mode: list[Any] = ["--exit-hook"] + (["--status", status] if status is not None else [])
    return argv[:at] + mode + argv[at + 2:]
