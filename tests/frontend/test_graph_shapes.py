"""Graph shapes Metaflow 2.19 accepts where switch cases lead straight into a join: they compile
for every target, and a run's join sees one input per branch that ran (Metaflow's semantics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.compiler import compile_file, ir
from tests.frontend.helpers import emit
from tests.conftest import ROOT
from tests.harness import run_locally, snapshot

SHAPES = Path(__file__).resolve().parent.parent / "graph_shapes"

# (flow file, parameters, join artifact, expected value of the join artifact)
CASES = [
    ("mf_switch_in_branch", None, "seen_all", ["b", "c"]),
    ("mf_switch_in_branch", {"case": "case2"}, "seen_all", ["b", "d"]),
    ("mf_switch_in_foreach", None, "handled_all", ["A0", "B1", "A2", "B3", "B4"]),
    ("recursion_exit_into_join", None, "counts", [2, 1, 3]),
    ("switch_case_into_join", None, "seen_all", ["a", "b"]),
    ("switch_case_into_join", {"kind": "y"}, "seen_all", ["b", "c"]),
    ("parallel_from_parameter", None, "nodes_seen", [[0, 2], [1, 2]]),
    ("parallel_from_parameter", {"nodes": "3"}, "nodes_seen", [[0, 3], [1, 3], [2, 3]]),
]


# Argo and Step Functions refuse @parallel whatever its width (FLOW200, FLOW231).
NO_GANGS = {"argo", "sfn"}


def test_num_parallel_from_a_parameter_is_a_run_time_width() -> None:
    flow = compile_file(SHAPES / "parallel_from_parameter.py").flow
    assert flow.step("start").transition == ir.Parallel(target="train", num_parallel=None)


@pytest.mark.parametrize("stem", sorted({c[0] for c in CASES} - {"parallel_from_parameter"}))
@pytest.mark.parametrize("target", ["argo", "sfn", "airflow"])
def test_shape_compiles_for_every_target(stem: str, target: str) -> None:
    result = compile_file(SHAPES / f"{stem}.py")
    emitted = emit(target, result.flow)
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
    for step in result.flow.step_names:  # every step is a task of the spec
        assert step in emitted.text


@pytest.mark.parametrize("stem,params,artifact,expected", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_join_holds_one_input_per_branch_that_ran(stem, params, artifact, expected, tmp_path) -> None:
    flow = compile_file(SHAPES / f"{stem}.py").flow
    run_id = run_locally(SHAPES / f"{stem}.py", tmp_path, params=params)
    artifacts = snapshot(tmp_path / "datastore", flow.name, run_id)
    (join_task,) = artifacts["join"].values()
    assert [list(v) if isinstance(v, tuple) else v for v in join_task[artifact]] == expected


ARGO_CASES = [pytest.param(c[0], c[1], id=f"{c[0]}-{c[1]}") for c in CASES if c[0] != "parallel_from_parameter"]


@pytest.mark.parametrize("stem,params", ARGO_CASES)
def test_argo_run_matches_flowc_run(stem, params, tmp_path) -> None:
    from tests.targets.argo_helpers import failure_report, run_compiled
    from tests.harness.argo_interpreter import SUCCEEDED

    path = SHAPES / f"{stem}.py"
    flow = compile_file(path).flow
    run, _ = run_compiled(path, tmp_path / "argo", parameters=params)
    assert run.phase == SUCCEEDED, failure_report(run)
    local_id = run_locally(path, tmp_path / "local", params=params)
    assert snapshot(tmp_path / "argo" / "datastore", flow.name, "argo-run") == \
        snapshot(tmp_path / "local" / "datastore", flow.name, local_id)


@pytest.mark.slow
@pytest.mark.parametrize("stem,params", [(c[0], c[1]) for c in CASES if c[1] is None and c[0] != "parallel_from_parameter"],
                         ids=[c[0] for c in CASES if c[1] is None and c[0] != "parallel_from_parameter"])
def test_airflow_run_matches_flowc_run(stem, params, tmp_path, monkeypatch) -> None:
    from tests.conftest import ROOT
    from tests.harness import airflow_env
    from tests.targets.airflow_helpers import emit, local_settings, relative

    monkeypatch.chdir(ROOT)
    path = SHAPES / f"{stem}.py"
    flow = compile_file(relative(path)).flow
    dag = airflow_env.load_dag(emit(relative(path), **local_settings(tmp_path / "airflow")), stem, flow.name)
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    local_id = run_locally(path, tmp_path / "local")
    assert snapshot(tmp_path / "airflow", flow.name, run_id) == \
        snapshot(tmp_path / "local" / "datastore", flow.name, local_id)


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted({c[0] for c in CASES} - {"parallel_from_parameter"}))
def test_sfn_run_matches_flowc_run(stem, tmp_path) -> None:
    from flowc.plan import build as build_plan
    from flowc.targets import get_target, sfn
    from tests.harness.moto_sfn import MotoSfn
    from tests.targets.test_sfn_execution import report, s3_snapshot, settings_for

    path = SHAPES / f"{stem}.py"
    with MotoSfn(tmp_path / "moto", max_processes=4) as aws:
        flow = compile_file(path.relative_to(ROOT)).flow
        settings = settings_for(aws)
        text = get_target("sfn").emit(build_plan(flow), settings).text
        aws.put_text(sfn.manifest_location(flow, settings).removeprefix(f"s3://{aws.bucket}/"),
                     sfn.manifest_text(flow))
        result = aws.run(text, {}, name=stem, timeout=300)
        assert result.status == "SUCCEEDED", report(result)
        remote = s3_snapshot(aws, flow, result.name)
    local_id = run_locally(path, tmp_path / "local")
    assert remote == snapshot(tmp_path / "local" / "datastore", flow.name, local_id)


def test_airflow_compiles_a_run_time_num_parallel() -> None:
    flow = compile_file(SHAPES / "parallel_from_parameter.py").flow
    emitted = emit("airflow", flow)
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
