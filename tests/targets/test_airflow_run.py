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


AIRFLOW2_SHAPES = ("switch_in_foreach", "nested_foreach", "recursion_in_foreach", "foreach_in_switch",
                   "retry")
AIRFLOW2_RUN = textwrap.dedent('''
    import json, sys
    from airflow.models.dagbag import DagBag
    bag = DagBag(sys.argv[1], include_examples=False)
    assert not bag.import_errors, bag.import_errors
    runs = {}
    for dag_id, dag in sorted(bag.dags.items()):
        run = dag.test()
        runs[dag_id] = [str(run.state), run.run_id]
    print(json.dumps(runs))
''')


@pytest.mark.slow
@pytest.mark.airflow2
def test_airflow_2_10_runs_the_hardest_shapes(tmp_path: Path) -> None:
    """Mapped groups, the flattened nested foreach, looping recursion and case skips under
    Airflow 2.10's dag.test() (its own interpreter; the shim runs on this one)."""
    import json
    import subprocess

    from flowc.compiler import compile_file

    python = airflow_env.airflow2_python()
    env = airflow_env.airflow2_env(tmp_path / "home")
    dags = tmp_path / "home" / "dags"
    dags.mkdir()
    flows = {}
    for name in AIRFLOW2_SHAPES:
        path = ROOT / "tests" / "flows" / f"{name}.py"
        flows[name] = compile_file(relative(path)).flow
        (dags / f"{name}.py").write_text(emit(relative(path), **local_settings(tmp_path / "airflow")))
    subprocess.run([str(python), "-m", "airflow", "db", "migrate"], env=env, check=True,
                   capture_output=True)
    done = subprocess.run([str(python), "-c", AIRFLOW2_RUN, str(dags)], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    for name, flow in flows.items():
        state, run_id = runs[flow.name]
        assert state == "success", (name, done.stdout[-3000:])
        local_id = run_locally(ROOT / "tests" / "flows" / f"{name}.py", tmp_path / "local" / name)
        expected = snapshot(tmp_path / "local" / name / "datastore", flow.name, local_id)
        assert snapshot(tmp_path / "airflow", flow.name, run_id) == expected, name


PARALLEL = textwrap.dedent('''
    from flowc import FlowSpec, current, parallel, step

    class ParallelFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.train, num_parallel=3)

        @parallel
        @step
        def train(self):
            self.where = current.task_id
            self.next(self.join)

        @step
        def join(self, inputs):
            self.seen = [i.where for i in inputs]
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_parallel_gang_runs_as_a_mapped_group(tmp_path: Path) -> None:
    flow_file = tmp_path / "parallel_flow.py"
    flow_file.write_text(PARALLEL)
    result = emit_source(PARALLEL, str(flow_file),
                         **local_settings(tmp_path / "airflow", code_dir=str(tmp_path)))
    dag = airflow_env.load_dag(result.text, "parallel_flow", "ParallelFlow")
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    assert sorted(k for k in tasks if k[0] == "start_body.train") == [
        ("start_body.train", i) for i in range(3)]
    local_id = run_locally(flow_file, tmp_path / "local")
    expected = snapshot(tmp_path / "local" / "datastore", "ParallelFlow", local_id)
    assert expected["join"]["t"]["seen"] == ["t_0", "t_1", "t_2"]
    assert snapshot(tmp_path / "airflow", "ParallelFlow", run_id) == expected


def test_dag_run_conf_reaches_the_start_step_typed(tmp_path: Path) -> None:
    """Values given when triggering (the DAG run's conf) arrive typed as with `flowc run --param`."""
    from flowc.compiler import compile_file

    path = ROOT / "tests" / "flows" / "parameters.py"
    values = {"who": "airflow", "count": 5, "ratio": 0.25, "verbose": True,
              "options": '{"depth": 3, "tags": []}', "colors": "cyan,magenta,yellow"}
    flow = compile_file(relative(path)).flow
    text = emit(relative(path), **local_settings(tmp_path / "airflow"))
    dag = airflow_env.load_dag(text, path.stem, flow.name)
    state, run_id, tasks = airflow_env.run_dag(dag, conf=values)
    assert state == "success", tasks
    local_id = run_locally(path, tmp_path / "local", params={**values, "verbose": "true"})
    expected = snapshot(tmp_path / "local" / "datastore", flow.name, local_id)
    assert expected["start"]["t"]["seen"]["count"] == [5, "int"]
    assert expected["start"]["t"]["seen"]["verbose"] == [True, "bool"]
    assert snapshot(tmp_path / "airflow", flow.name, run_id) == expected


FOREACH_IN_SWITCH_IN_FOREACH = textwrap.dedent('''
    from flowc import FlowSpec, step

    class DeepFlow(FlowSpec):
        @step
        def start(self):
            self.groups = [[1, 2], [], [3], [4, 5, 6]]
            self.next(self.route, foreach="groups")

        @step
        def route(self):
            self.items = self.input
            self.kind = "many" if self.items else "none"
            self.next({"many": self.fan, "none": self.empty}, condition="kind")

        @step
        def fan(self):
            self.next(self.square, foreach="items")

        @step
        def square(self):
            self.value = self.input * self.input
            self.next(self.gather)

        @step
        def gather(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.merge)

        @step
        def empty(self):
            self.total = 0
            self.next(self.merge)

        @step
        def merge(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.totals = [i.total for i in inputs]
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_foreach_in_a_switch_in_a_foreach(tmp_path: Path) -> None:
    """The outer child that the switch sends elsewhere pushes no index paths; the others' inner
    children still get the right paths (each list carries its own)."""
    flow_file = tmp_path / "deep_flow.py"
    flow_file.write_text(FOREACH_IN_SWITCH_IN_FOREACH)
    result = emit_source(FOREACH_IN_SWITCH_IN_FOREACH, str(flow_file),
                         **local_settings(tmp_path / "airflow", code_dir=str(tmp_path)))
    dag = airflow_env.load_dag(result.text, "deep_flow", "DeepFlow")
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    local_id = run_locally(flow_file, tmp_path / "local")
    expected = snapshot(tmp_path / "local" / "datastore", "DeepFlow", local_id)
    assert expected["join"]["t"]["totals"] == [5, 0, 9, 77]
    assert sorted(expected["square"]) == ["t_0_0", "t_0_1", "t_2_0", "t_3_0", "t_3_1", "t_3_2"]
    assert snapshot(tmp_path / "airflow", "DeepFlow", run_id) == expected


RUNTIME_DEFAULT = textwrap.dedent('''
    import os
    from flowc import FlowSpec, Parameter, step

    class RuntimeDefaultFlow(FlowSpec):
        user = Parameter("user", default=os.environ.get("FLOWC_TEST_NO_SUCH_VAR", "nobody"))
        size = Parameter("size", default=2, type=int)

        @step
        def start(self):
            self.seen = [self.user, self.size]
            self.next(self.end)

        @step
        def end(self):
            pass
''')


@pytest.mark.parametrize("conf,seen", [(None, ["nobody", 2]), ({"user": "ann", "size": 5}, ["ann", 5])])
def test_parameter_with_a_run_time_default(tmp_path: Path, conf, seen) -> None:
    """None in Airflow: the shim computes the default; a value from the run's conf wins."""
    flow_file = tmp_path / "runtime_default_flow.py"
    flow_file.write_text(RUNTIME_DEFAULT)
    result = emit_source(RUNTIME_DEFAULT, str(flow_file),
                         **local_settings(tmp_path / "airflow", code_dir=str(tmp_path)))
    dag = airflow_env.load_dag(result.text, "runtime_default_flow", "RuntimeDefaultFlow")
    state, run_id, tasks = airflow_env.run_dag(dag, conf=conf)
    assert state == "success", tasks
    assert snapshot(tmp_path / "airflow", "RuntimeDefaultFlow", run_id)["start"]["t"]["seen"] == seen


def test_steps_named_like_modules_still_run(tmp_path: Path) -> None:
    """Steps called `json` and `subprocess` do not shadow what the local runner uses."""
    from tests.targets.test_airflow import SHADOWING

    flow_file = tmp_path / "shadow_flow.py"
    flow_file.write_text(SHADOWING)
    result = emit_source(SHADOWING, str(flow_file),
                         **local_settings(tmp_path / "airflow", code_dir=str(tmp_path)))
    dag = airflow_env.load_dag(result.text, "shadow_flow", "ShadowFlow")
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    assert sorted(snapshot(tmp_path / "airflow", "ShadowFlow", run_id)) == [
        "end", "json", "start", "start_body", "subprocess"]
