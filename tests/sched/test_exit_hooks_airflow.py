"""@exit_hook on Airflow, run by dag.test(): the teardown task runs the hooks of the run's outcome
(read from the datastore), and the DAG run keeps the flow's result."""

from __future__ import annotations

from tests.harness import airflow_env  # noqa: I001 - sets AIRFLOW_HOME before airflow is imported

from pathlib import Path

import pytest

from tests.sched.flows import HOOKED, expected_hooks, expected_record, hook_log, recorded_hooks, write_hooked
from tests.targets.airflow_helpers import emit_source, local_settings


def _dag(tmp_path: Path):
    flow_file = write_hooked(tmp_path)
    result = emit_source(HOOKED, str(flow_file), **local_settings(tmp_path / "ds", code_dir=str(tmp_path)))
    assert result.ok, result.diagnostics
    return airflow_env.load_dag(result.text, "hooked_flow", "HookedFlow")


def test_the_hook_task_is_a_teardown_after_every_task(tmp_path: Path) -> None:
    dag = _dag(tmp_path)
    hooks = dag.get_task("flowc_exit_hooks")
    assert hooks.is_teardown and not hooks.on_failure_fail_dagrun
    assert hooks.upstream_task_ids == {"start", "end"}


@pytest.mark.parametrize("fail", [False, True])
def test_the_teardown_runs_the_hooks_and_the_dag_run_keeps_the_result(tmp_path: Path, fail: bool) -> None:
    state, run_id, tasks = airflow_env.run_dag(_dag(tmp_path), conf={"fail": fail})
    assert state == ("failed" if fail else "success"), tasks
    assert tasks[("end", -1)] == ("failed" if fail else "success")
    assert tasks[("flowc_exit_hooks", -1)] == "success"
    assert hook_log(tmp_path) == expected_hooks(f"HookedFlow/{run_id}", not fail)
    assert recorded_hooks(tmp_path / "ds", run_id) == expected_record(not fail)


def test_the_kubernetes_hook_pod_runs_the_shim_in_hook_mode(tmp_path: Path) -> None:
    """The pod operator's form, rendered offline: the shim itself (not the step script, which
    would add --iteration), with the manifest and datastore of every step."""
    from tests.targets.test_airflow import _render
    from tests.targets.airflow_helpers import emit_source as emit

    result = emit(HOOKED, "flow.py", image="base:1", datastore_root="s3://bucket/root")
    assert result.ok, result.diagnostics
    path = airflow_env.install_dag(result.text, "hooked_pod")
    hooks = airflow_env.import_dags(path.parent).dags["HookedFlow"].get_task("flowc_exit_hooks")
    assert hooks.is_teardown
    container = hooks.build_pod_request_obj(_render(hooks)).spec.containers[0]
    assert container.command == ["python", "-m", "flowc.runtime_shim", "--flow-file", "/app/flow.py"]
    assert container.args == ["--exit-hook", "--run-id", "manual__1"]
    env = {e.name: e.value for e in container.env}
    assert env["FLOWC_DATASTORE"] == "s3://bucket/root" and env["FLOWC_MANIFEST"]
