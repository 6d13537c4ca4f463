"""The `local`-operator DAG of every graph shape, run by a real Airflow (``dag.test()``, in this
process; each task runs the shim in a subprocess), must leave the same artifacts as `flowc run`.
"""

from __future__ import annotations

from tests.harness import airflow_env  # noqa: I001 - sets AIRFLOW_HOME before airflow is imported

import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, shape_flows
from tests.harness.artifacts import run_locally, snapshot
from tests.targets.airflow_helpers import emit, emit_source, local_settings, relative

SHAPES = shape_flows()


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.slow
@pytest.mark.parametrize("path", SHAPES, ids=[p.stem for p in SHAPES])
def test_dag_run_matches_flowc_run(path: Path, tmp_path: Path) -> None:
    from flowc.compiler import compile_file

    flow = compile_file(relative(path)).flow
    text = emit(relative(path), **local_settings(tmp_path / "airflow"))
    dag = airflow_env.load_dag(text, path.stem, flow.name)
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    assert not [key for key, s in tasks.items() if s not in ("success", "skipped")], tasks

    local_id = run_locally(path, tmp_path / "local")
    expected = snapshot(tmp_path / "local" / "datastore", flow.name, local_id)
    assert snapshot(tmp_path / "airflow", flow.name, run_id) == expected


FAILING = textwrap.dedent('''
    from flowc import FlowSpec, step

    class FailingFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            if self.input == 2:
                raise RuntimeError("boom")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_failing_step_fails_the_dag_run(tmp_path: Path) -> None:
    flow_file = tmp_path / "failing_flow.py"
    flow_file.write_text(FAILING)
    result = emit_source(FAILING, str(flow_file), **local_settings(tmp_path / "ds", code_dir=str(tmp_path)))
    dag = airflow_env.load_dag(result.text, "failing_flow", "FailingFlow")
    state, _, tasks = airflow_env.run_dag(dag)
    assert state == "failed"
    assert tasks[("start_body.work", 1)] == "failed"
    assert tasks[("start_body.work", 0)] == "success"
    assert tasks[("join", -1)] == "upstream_failed"
    assert tasks[("end", -1)] == "upstream_failed"
