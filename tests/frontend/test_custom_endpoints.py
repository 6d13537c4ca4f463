"""Custom start and end steps (Metaflow 2.19's ``@step(start=True)`` / ``@step(end=True)``, and a
lone bare step that is both): the IR, the checks, every target and ``flowc run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.compiler import compile_file, ir
from tests.frontend.helpers import codes_of, compile_text, emit, errors_of, flow_with
from tests.harness import run_locally, snapshot

SHAPES = Path(__file__).resolve().parent.parent / "graph_shapes"


def test_marked_steps_are_the_flows_start_and_end() -> None:
    flow = compile_file(SHAPES / "custom_endpoints.py").flow
    assert (flow.start_step, flow.end_step) == ("begin", "finish")
    assert flow.kind(flow.step("begin")) == "split"  # Metaflow keeps a split start a split
    assert flow.step("finish").transition == ir.End()
    assert ir.load_manifest(ir.dump_manifest(flow)) == flow


def test_a_lone_bare_step_is_both_start_and_end() -> None:
    flow = compile_file(SHAPES / "single_step.py").flow
    assert (flow.start_step, flow.end_step) == ("only", "only")


def test_default_names_stay_out_of_the_manifest() -> None:
    flow = compile_text(flow_with("""
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """)).flow
    assert (flow.start_step, flow.end_step) == ("start", "end")
    assert "start_step" not in ir.dump_manifest(flow)


def test_an_inherited_mark_counts_and_an_override_without_it_drops_it() -> None:
    source = """
        from metaflow import FlowSpec, step

        class Base(FlowSpec):
            @step(start=True)
            def begin(self):
                self.next(self.finish)

            @step(end=True)
            def finish(self):
                pass

        class Child(Base):
            @step(end=True)
            def finish(self):
                self.x = 1

        if __name__ == "__main__":
            Child()
    """
    flow = compile_text(source).flow
    assert (flow.name, flow.start_step, flow.end_step) == ("Child", "begin", "finish")
    assert flow.kind(flow.step("begin")) == "start"


def test_two_start_marks_are_refused() -> None:
    errors = errors_of(flow_with("""
        @step(start=True)
        def a(self):
            self.next(self.end)

        @step(start=True)
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """))
    assert any(d.code == "FLOW018" and "several steps are marked @step(start=True): a, b" in d.message
               for d in errors)


def test_a_mark_beside_a_step_named_end_is_ambiguous() -> None:
    errors = errors_of(flow_with("""
        @step
        def start(self):
            self.next(self.done)

        @step(end=True)
        def done(self):
            pass

        @step
        def end(self):
            pass
    """))
    assert [d.message for d in errors if d.code == "FLOW018"] == [
        "step 'done' is marked @step(end=True) and a step named 'end' exists too"]


def test_the_custom_end_step_must_not_call_next() -> None:
    assert "FLOW016" in codes_of(flow_with("""
        @step(start=True)
        def begin(self):
            self.next(self.finish)

        @step(end=True)
        def finish(self):
            self.next(self.begin)
    """))


def test_no_start_at_all_says_how_to_mark_one() -> None:
    (missing,) = [d for d in errors_of(flow_with("""
        @step
        def begin(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """)) if d.code == "FLOW012"]
    assert "@step(start=True)" in (missing.hint or "")


@pytest.mark.parametrize("stem", ["custom_endpoints", "single_step"])
@pytest.mark.parametrize("target", ["argo", "sfn", "airflow"])
def test_custom_endpoints_compile_for_every_target(stem: str, target: str) -> None:
    flow = compile_file(SHAPES / f"{stem}.py").flow
    emitted = emit(target, flow)
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
    for step in flow.step_names:
        assert step in emitted.text
    assert "'start'" not in emitted.text and '"start"' not in emitted.text


@pytest.mark.parametrize("params,summary", [(None, "hello: 2"), ({"greeting": "hi"}, "hi: 2")])
def test_flowc_run_starts_at_the_marked_step_with_the_parameters(params, summary, tmp_path) -> None:
    from flowc.client import Run

    flow = compile_file(SHAPES / "custom_endpoints.py").flow
    run_id = run_locally(SHAPES / "custom_endpoints.py", tmp_path, params=params)
    artifacts = snapshot(tmp_path / "datastore", flow.name, run_id)
    assert sorted(artifacts) == ["begin", "finish", "join", "lower", "upper"]
    (finish,) = artifacts["finish"].values()
    assert finish["summary"] == summary
    run = Run(f"{flow.name}/{run_id}", str(tmp_path / "datastore"), _namespace_check=False)
    assert run.successful and run.end_task is not None and run.end_task.data.summary == summary


@pytest.mark.parametrize("stem", ["custom_endpoints", "single_step"])
def test_argo_run_matches_flowc_run(stem: str, tmp_path) -> None:
    from tests.harness.argo_interpreter import SUCCEEDED
    from tests.targets.argo_helpers import failure_report, run_compiled

    path = SHAPES / f"{stem}.py"
    flow = compile_file(path).flow
    run, _ = run_compiled(path, tmp_path / "argo")
    assert run.phase == SUCCEEDED, failure_report(run)
    local_id = run_locally(path, tmp_path / "local")
    assert snapshot(tmp_path / "argo" / "datastore", flow.name, "argo-run") == \
        snapshot(tmp_path / "local" / "datastore", flow.name, local_id)


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["custom_endpoints", "single_step"])
def test_artifacts_match_metaflow(stem: str) -> None:
    from tests.conftest import require_metaflow
    from tests.corpus.metaflow_compare import compare

    require_metaflow()  # never skipped: the comparison is the point
    assert compare(f"../graph_shapes/{stem}.py") == "same"


def test_a_lone_step_beside_a_plain_start_method_runs_alone_with_a_warning() -> None:
    result = compile_text(flow_with("""
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """))
    assert (result.flow.start_step, result.flow.end_step) == ("end", "end")  # what Metaflow 2.19 runs
    assert [(d.code, d.severity) for d in result.diagnostics] == [("FLOW027", "warning")]


def test_a_lone_step_calling_next_is_not_taken_for_the_end() -> None:
    assert sorted(codes_of(flow_with("""
        @step
        def start(self):
            self.next(self.end)
    """))) == ["FLOW013", "FLOW022"]


@pytest.mark.slow
def test_sfn_run_matches_flowc_run(tmp_path) -> None:
    from flowc.plan import build as build_plan
    from flowc.targets import get_target, sfn
    from tests.conftest import ROOT
    from tests.harness.moto_sfn import MotoSfn
    from tests.targets.test_sfn_execution import report, s3_snapshot, settings_for

    path = SHAPES / "custom_endpoints.py"
    with MotoSfn(tmp_path / "moto", max_processes=4) as aws:
        flow = compile_file(path.relative_to(ROOT)).flow
        settings = settings_for(aws)
        text = get_target("sfn").emit(build_plan(flow), settings).text
        aws.put_text(sfn.manifest_location(flow, settings).removeprefix(f"s3://{aws.bucket}/"),
                     sfn.manifest_text(flow))
        result = aws.run(text, {"greeting": "hi"}, name="custom-endpoints", timeout=300)
        assert result.status == "SUCCEEDED", report(result)
        remote = s3_snapshot(aws, flow, result.name)
    local_id = run_locally(path, tmp_path / "local", params={"greeting": "hi"})
    assert remote == snapshot(tmp_path / "local" / "datastore", flow.name, local_id)


@pytest.mark.slow
def test_airflow_run_matches_flowc_run(tmp_path, monkeypatch) -> None:
    from tests.conftest import ROOT
    from tests.harness import airflow_env
    from tests.targets.airflow_helpers import emit as emit_dag, local_settings, relative

    monkeypatch.chdir(ROOT)
    path = SHAPES / "custom_endpoints.py"
    flow = compile_file(relative(path)).flow
    dag = airflow_env.load_dag(emit_dag(relative(path), **local_settings(tmp_path / "airflow")),
                               "custom_endpoints", flow.name)
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    local_id = run_locally(path, tmp_path / "local")
    assert snapshot(tmp_path / "airflow", flow.name, run_id) == \
        snapshot(tmp_path / "local" / "datastore", flow.name, local_id)


def test_a_resumed_run_knows_its_end_step(tmp_path, monkeypatch) -> None:
    """The resumed run's record names the custom end step too (its start task is cloned, not run)."""
    import io

    from flowc.client import Run
    from flowc.local.api import resume_flow

    flow_file = tmp_path / "flow.py"
    flow_file.write_text((SHAPES / "custom_endpoints.py").read_text().replace(
        '        self.text = " ".join(self.words).upper()',
        '        import os\n        assert os.environ.get("LET_UPPER_PASS"), "not yet"\n'
        '        self.text = " ".join(self.words).upper()'))
    origin = run_locally(flow_file, tmp_path, expect_success=False)
    monkeypatch.setenv("LET_UPPER_PASS", "1")
    result = resume_flow(flow_file, origin, datastore=str(tmp_path / "datastore"), stream=io.StringIO())
    assert result.exit_code == 0
    run = Run(f"CustomEndpointsFlow/{result.run_id}", str(tmp_path / "datastore"), _namespace_check=False)
    assert run.successful and run.end_task.data.summary == "hello: 2"


CORPUS_FLOWS = [  # corpus flows with custom start/end steps, run by Metaflow 2.19 and by flowc run
    "netflix_metaflow/test/unit/graph_inference/flows/custom_branch_flow.py",
    "netflix_metaflow/test/unit/graph_inference/flows/custom_named_card_flow.py",
    "netflix_metaflow/test/unit/graph_inference/flows/single_step_with_flow_mutator_flow.py",
    "netflix_metaflow/test/ux/core/flows/basic/hello_custom_steps.py",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", CORPUS_FLOWS)
def test_corpus_flows_with_custom_endpoints_match_metaflow(name: str) -> None:
    from tests.conftest import require_metaflow
    from tests.corpus.metaflow_compare import compare

    require_metaflow()
    assert compare(name) == "same"
