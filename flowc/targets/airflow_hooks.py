"""@exit_hook on Airflow: a last task, downstream of every other, that runs the shim's exit-hook
mode; the shim reads the run's status from the datastore (the run succeeded when its end task
finished), so the task needs nothing from Airflow's own task states.

The task is a *teardown* (``.as_teardown()``): its trigger rule is all-done (``all_done_setup_success``
with no setup task is all-done), and Airflow leaves teardowns out when it decides the DAG run's
state, so a failed flow still fails the DAG run and the hooks never change the result. Airflow 2.7+
and 3 have teardowns.
"""

from __future__ import annotations

from flowc.plan import FlowPlan
from flowc.targets import common
from flowc.targets.airflow_render import Expr, GroupBlock, Task, kw, py, run_id
from flowc.targets.exit_hooks import has_exit_hooks

TASK_ID = "flowc_exit_hooks"


def exit_hook_task(plan: FlowPlan, kubernetes: bool, blocks: list[Task | GroupBlock]
                   ) -> tuple[Task, tuple[str, str]] | None:
    """The hook task and the edge making it a teardown after every top-level task and group."""
    if not has_exit_hooks(plan):
        return None
    argv: list[object] = ["--exit-hook", "--run-id", run_id(kubernetes)]
    if kubernetes:
        kwargs = kw(task_id=TASK_ID, name=common.short_name(f"{plan.flow.name}-exit-hooks".lower().replace("_", "-"), 50),
                    image=Expr("IMAGE"), cmds=Expr("SHIM"), arguments=argv, env_vars=Expr("ENV"),
                    doc_md="Runs the flow's @exit_hook functions once the run is over.")
        task = Task(TASK_ID, "KubernetesPodOperator", kwargs)
    else:
        callable_ = Expr("flowc_run_exit_hooks", frozenset({"flowc_run_exit_hooks"}))
        kwargs = kw(task_id=TASK_ID, python_callable=callable_,
                    op_kwargs={"argv": [Expr("*SHIM"), *argv], "env": Expr("ENV")},
                    doc_md="Runs the flow's @exit_hook functions once the run is over.")
        task = Task(TASK_ID, "PythonOperator", kwargs)
    upstream = [b.group_id if isinstance(b, GroupBlock) else b.var for b in blocks]
    return task, (py([Expr(u) for u in upstream]), f"{TASK_ID}.as_teardown()")
