"""Resuming a failed run on its engine: in each engine harness a flow with a foreach, a recursive
step and a switch fails in its late step, is fixed and is resumed under a new run id; the
resumed run's tasks before the late step are cloned by the shim (no user code runs), its artifacts
equal a clean run's, and it takes a fraction of the original's time (printed)."""

from __future__ import annotations

from tests.harness import airflow_env  # noqa: I001 - sets AIRFLOW_HOME before airflow is imported

import logging
from pathlib import Path

import pytest

from flowc.runtime_shim.datastore import open_datastore
from tests.harness.argo_interpreter import SUCCEEDED, run_spec
from tests.harness.artifacts import snapshot
from tests.sched.resume_scenario import play
from tests.targets.argo_helpers import CODE_DIR, emit

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def test_resume_on_argo(tmp_path: Path) -> None:
    def run(run_id: str) -> bool:
        text = emit(tmp_path / "resume_flow.py", datastore_root=str(tmp_path / "datastore"),
                    code_dir=CODE_DIR)
        workflow = run_spec(text, workflow_name=run_id, path_map={CODE_DIR: str(tmp_path)},
                            workdir=tmp_path / f"pods-{run_id}", shared_paths=[tmp_path], max_parallel=4)
        return workflow.phase == SUCCEEDED

    outcome = play(tmp_path, run, lambda: open_datastore(str(tmp_path / "datastore")),
                   lambda run_id: snapshot(tmp_path / "datastore", "ResumeFlow", run_id))
    print(f"\n[resume argo] original {outcome.original_seconds:.1f} s, resumed "
          f"{outcome.resumed_seconds:.1f} s, ratio {outcome.ratio:.2f}")
    assert outcome.ratio < 0.6


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tests.harness.moto_sfn import MotoSfn

    with MotoSfn(tmp_path / "moto", max_processes=4, poll_seconds=0.25) as harness:
        monkeypatch.setenv("AWS_ENDPOINT_URL", harness.endpoint)
        yield harness


def test_resume_on_step_functions(tmp_path: Path, aws) -> None:
    from tests.sched.sfn_helpers import DATASTORE, deploy

    def run(run_id: str) -> bool:
        _, text = deploy(aws, tmp_path / "resume_flow.py")
        return aws.run(text, {}, name=run_id, timeout=600).status == "SUCCEEDED"

    outcome = play(tmp_path, run, lambda: open_datastore(DATASTORE),
                   lambda run_id: snapshot(DATASTORE, "ResumeFlow", run_id))
    print(f"\n[resume sfn] original {outcome.original_seconds:.1f} s, resumed "
          f"{outcome.resumed_seconds:.1f} s, ratio {outcome.ratio:.2f}")
    assert outcome.ratio < 0.6


def test_resume_on_airflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each DAG run gets the id the test names (as a DAG run triggered with a dag_run_id does;
    dag.test() would make one up)."""
    from airflow.models.dagrun import DagRun

    from tests.sched.flows import RESUMABLE
    from tests.targets.airflow_helpers import emit_source, local_settings

    def run(run_id: str) -> bool:
        monkeypatch.setattr(DagRun, "generate_run_id", staticmethod(lambda **_: run_id))
        result = emit_source(RESUMABLE, str(tmp_path / "resume_flow.py"),
                             **local_settings(tmp_path / "ds", code_dir=str(tmp_path)))
        dag = airflow_env.load_dag(result.text, "resume_flow", "ResumeFlow")
        state, got_id, _ = airflow_env.run_dag(dag)
        assert got_id == run_id
        return state == "success"

    outcome = play(tmp_path, run, lambda: open_datastore(str(tmp_path / "ds")),
                   lambda run_id: snapshot(tmp_path / "ds", "ResumeFlow", run_id))
    print(f"\n[resume airflow] original {outcome.original_seconds:.1f} s, resumed "
          f"{outcome.resumed_seconds:.1f} s, ratio {outcome.ratio:.2f}")
    assert outcome.ratio < 0.6
