"""The Airflow target's output: golden DAG files, imported by a real Airflow's DagBag, the
lowering of each construct, and the pods the kubernetes operator would create."""

from __future__ import annotations

from tests.harness import airflow_env  # noqa: I001 - sets AIRFLOW_HOME before airflow is imported

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from flowc.compiler import compile_source
from flowc.targets.airflow import place
from flowc.targets.airflow_render import literal, pretty, py
from tests.conftest import ROOT, example_flows, shape_flows
from flowc.plan import build as build_plan
from tests.targets.airflow_helpers import codes, emit, emit_source, relative

EXAMPLES = example_flows()
SHAPES = shape_flows()
ALL = [("", p) for p in EXAMPLES] + [("flows/", p) for p in SHAPES]
IDS = [prefix + p.stem for prefix, p in ALL]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


# --------------------------------------------------------------------------- goldens


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_golden_kubernetes(prefix: str, path: Path, golden) -> None:
    text = emit(relative(path))
    ast.parse(text)
    golden.check(f"airflow/{prefix}{path.stem}.py", text)


@pytest.mark.parametrize("path", SHAPES, ids=[p.stem for p in SHAPES])
def test_golden_local(path: Path, golden) -> None:
    text = emit(relative(path), airflow_operator="local")
    ast.parse(text)
    golden.check(f"airflow/local/{path.stem}.py", text)


# Airflow goldens besides one per example and shape: the default code-package shape
# (tests/package/test_packaged_goldens.py).
OTHER_GOLDENS = ("packaged/train.py",)


def test_every_golden_imports_in_a_dagbag() -> None:
    """Airflow itself imports every golden DAG file (each alone: the variants share DAG ids)."""
    golden = ROOT / "golden" / "airflow"
    files = sorted(golden.rglob("*.py"))
    assert len(files) == len(ALL) + len(SHAPES) + len(OTHER_GOLDENS)
    for path in files:
        imported = airflow_env.import_dags(path)
        assert imported.errors == {}, path
        (dag,) = imported.dags.values()
        assert dag.tags == ["flowc"] or set(dag.tags) == {"flowc"}
        assert dag.start_date.year == 2024 and dag.catchup is False
        assert dag.task_dict, path


def test_output_is_deterministic_and_machine_free() -> None:
    path = relative(next(p for p in EXAMPLES if p.stem == "train"))
    first, second = emit(path), emit(path)
    assert first == second
    assert str(ROOT) not in first
    assert "2026" not in first and "2025" not in first  # no timestamps, the start date is fixed


def test_size_is_a_quarter_of_metaflows() -> None:
    """Metaflow's DAG file for start -> foreach -> join -> end was 53,659 bytes."""
    result = emit_source(FOREACH)
    assert len(result.text.encode()) <= 53_659 // 4, len(result.text.encode())


# --------------------------------------------------------------------------- lowering

FOREACH = textwrap.dedent('''
    from flowc import FlowSpec, step

    class ForeachFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def _module(text: str) -> ast.Module:
    return ast.parse(text)


def _calls(text: str, func: str) -> list[ast.Call]:
    return [n for n in ast.walk(_module(text)) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id == func]


def _kwargs(call: ast.Call) -> dict[str, str]:
    return {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg}


def _task(text: str, task_id: str) -> dict[str, str]:
    for op in ("KubernetesPodOperator", "PythonOperator"):
        for call in _calls(text, op):
            kwargs = _kwargs(call)
            if kwargs.get("task_id") == repr(task_id):
                return kwargs
    raise KeyError(task_id)


def test_nested_foreach_is_flattened_into_top_level_groups() -> None:
    flow = compile_source((ROOT / "tests/flows/nested_foreach.py").read_text(), "n.py").flow
    placement = place(build_plan(flow))
    groups = {g.group_id: g.steps for g in placement.groups}
    assert groups == {
        "start_body": ("outer",),
        "outer_body": ("mid",),
        "mid_body": ("inner",),
        "outer_body_2": ("inner_join",),
        "start_body_2": ("mid_join",),
    }
    assert placement.group_of["start"] is None and placement.group_of["outer_join"] is None


def test_nested_foreach_warns_about_max_map_length() -> None:
    result = emit_source((ROOT / "tests/flows/nested_foreach.py").read_text(), "n.py")
    warnings = [d for d in result.diagnostics if d.code == "FLOW260"]
    assert [d.severity for d in warnings] == ["warning", "warning"]
    assert "max_map_length" in warnings[0].message and "1024" in warnings[0].message
    assert warnings[0].span.line == 16  # the self.next(..., foreach=...) of the nested foreach
    assert "max_map_length" in (ROOT / "docs" / "targets" / "airflow.md").read_text()


def test_single_foreach_has_no_warning_and_maps_a_group() -> None:
    result = emit_source(FOREACH)
    assert result.diagnostics == ()
    text = result.text
    assert "start_body = start_body_tasks.expand(index_path=start.output)" in text
    assert "flatten" not in text  # only a foreach inside a group needs its lists joined
    assert _task(text, "start")["do_xcom_push"] == "True"
    assert "do_xcom_push" not in _task(text, "body")
    assert _task(text, "join")["trigger_rule"] == "TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS"
    assert "index_path" in _task(text, "body")["arguments"]
    assert "start_body >> join" in text


def test_switch_gets_case_tasks_and_reconvergence_trigger_rule() -> None:
    text = emit(Path("tests/flows/switch.py"))
    flow = compile_source((ROOT / "tests/flows/switch.py").read_text(), "s.py").flow
    switch = next(s for s in flow.steps if flow.kind(s) == "switch")
    for target in switch.transition.targets:
        case = _task(text, f"{switch.name}__to_{target}")
        assert case["python_callable"] == "flowc_case"
        assert case["op_args"] == f"[{switch.name}.output, {target!r}]"
        assert f"{switch.name}__to_{target} >> {target}" in text
    merges = [s for s in flow.steps if len(s.in_steps) > 1]
    assert merges
    for merge in merges:
        assert _task(text, merge.name)["trigger_rule"] == "TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS"


def test_recursion_has_no_cycle_and_no_self_case() -> None:
    text = emit(Path("tests/flows/recursion.py"))
    flow = compile_source((ROOT / "tests/flows/recursion.py").read_text(), "r.py").flow
    loop = next(s for s in flow.steps if s.is_recursive)
    assert f"{loop.name}__to_{loop.name}" not in text
    edges = [line.split() for line in text.splitlines() if " >> " in line]
    assert edges and [loop.name, ">>", loop.name] not in edges


DECORATED = textwrap.dedent('''
    from flowc import FlowSpec, Parameter, JSONType, step, retry, timeout, resources, kubernetes
    from flowc import environment, schedule

    @schedule(cron="30 2 * * 1", timezone="Europe/Paris")
    class DecoratedFlow(FlowSpec):
        """Decorated flow.

        More words."""

        who = Parameter("who", default="it's {{ x }}", help="who")
        n = Parameter("n", default=3, type=int)
        rate = Parameter("rate", default=0.5, type=float)
        flag = Parameter("flag", default=False, type=bool)
        doc = Parameter("doc", default='{"a": 1}', type=JSONType)

        @retry(times=4, minutes_between_retries=1)
        @timeout(minutes=2, seconds=5)
        @environment(vars={"GREETING": "{{ not a template }}", "CONFIG": "/etc/app.yaml"})
        @resources(cpu=2, memory=8192, gpu=1)
        @kubernetes(image="registry.example/img:1", secrets=["db-creds"], namespace="ml",
                    node_selector={"pool": "gpu"})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_decorators_and_parameters_become_airflow_arguments() -> None:
    result = emit_source(DECORATED, max_workers=7)
    assert codes(result.diagnostics, "error") == []
    text = result.text
    dag = _kwargs(_calls(text, "DAG")[0])
    assert dag["schedule"] == "CronTriggerTimetable('30 2 * * 1', timezone='Europe/Paris')"
    assert dag["max_active_tasks"] == "7"
    assert dag["description"] == "'Decorated flow.'"
    params = ast.literal_eval(dag["params"].replace("Param(", "(").replace("type=", "").replace(
        "description=", ""))
    assert params["n"] == (3, "integer")
    assert params["rate"] == (0.5, "number")
    assert params["flag"] == (False, "boolean")
    assert params["doc"] == ('{"a": 1}', "string")
    assert params["who"] == ("it's {{ x }}", "string", "who")
    start = _task(text, "start")
    assert start["retries"] == "4"
    assert start["retry_delay"] == "datetime.timedelta(minutes=1)"
    assert start["execution_timeout"] == "datetime.timedelta(seconds=155)"  # 125 s and the grace
    assert start["image"] == "'registry.example/img:1'"
    assert start["namespace"] == "'ml'"
    assert start["node_selector"] == "{'pool': 'gpu'}"
    assert "db-creds" in start["env_from"]
    assert "'nvidia.com/gpu': '1'" in start["container_resources"]
    assert "'cpu': '2'" in start["container_resources"]


def test_metaflow_six_field_cron_becomes_a_five_field_timetable() -> None:
    """Metaflow's docs write AWS's 6-field form; Airflow gets the same schedule in 5 fields."""
    flow = textwrap.dedent('''
        from flowc import FlowSpec, step, schedule

        @schedule(cron="0 3 ? * MON-FRI *", timezone="Europe/Paris")
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''')
    result = emit_source(flow)
    assert not codes(result.diagnostics, "error")
    assert 'CronTriggerTimetable("0 3 * * MON-FRI", timezone="Europe/Paris")' in result.text


@pytest.mark.parametrize("source,code", [
    ('@schedule(cron="0 12 * * ? 2027")', "FLOW261"),
    ('@trigger(event={"name": "data", "parameters": {"x": "y"}})', "FLOW262"),
    ('@trigger_on_finish(flow={"name": "Other", "project_branch": "prod"})', "FLOW262"),
    ('@trigger(event="data")\n@schedule(hourly=True)', "FLOW262"),
])
def test_inexpressible_flow_decorators_are_errors_at_their_line(source: str, code: str) -> None:
    flow = textwrap.dedent('''
        from flowc import FlowSpec, step, schedule, trigger, trigger_on_finish, exit_hook

        {decorators}
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''').replace("{decorators}", source)
    result = emit_source(flow)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code]
    assert errors[0].span.line >= 4 and errors[0].hint
    assert result.text == ""


def test_trigger_by_event_name_schedules_on_an_asset() -> None:
    flow = FOREACH.replace("from flowc import FlowSpec, step",
                           "from flowc import FlowSpec, step, trigger").replace(
        "class ForeachFlow", '@trigger(event="sales.updated")\nclass ForeachFlow')
    result = emit_source(flow)
    assert result.diagnostics == ()
    assert _kwargs(_calls(result.text, "DAG")[0])["schedule"] == "[Asset('sales.updated')]"
    path = airflow_env.install_dag(result.text, "trigger_asset")
    imported = airflow_env.import_dags(path.parent)
    assert imported.errors == {}
    assert [a.name for a in imported.dags["ForeachFlow"].timetable.asset_condition.objects] == ["sales.updated"]


def test_trigger_on_finish_schedules_on_the_other_flows_end_asset() -> None:
    """Every flowc DAG's end task updates flowc://flows/<Flow>; @trigger_on_finish waits on it."""
    upstream = emit_source(FOREACH).text
    downstream_source = FOREACH.replace("from flowc import FlowSpec, step",
                                        "from flowc import FlowSpec, step, trigger_on_finish").replace(
        "class ForeachFlow", '@trigger_on_finish(flows=["ForeachFlow", "Other"])\nclass AfterFlow')
    result = emit_source(downstream_source)
    assert result.diagnostics == ()
    up = airflow_env.import_dags(airflow_env.install_dag(upstream, "upstream")).dags["ForeachFlow"]
    assert [o.uri for o in up.get_task("end").outlets] == ["flowc://flows/ForeachFlow"]
    down = airflow_env.import_dags(airflow_env.install_dag(result.text, "downstream")).dags["AfterFlow"]
    assert [a.uri for a in down.timetable.asset_condition.objects] == [
        "flowc://flows/ForeachFlow", "flowc://flows/Other"]


def test_literals_round_trip_through_python() -> None:
    nasty = ['a"b', "c'd", "line\nbreak", "back\\slash", "{{ jinja }}", "ünï", None, True, 1.5, {"k": [1]}]
    assert ast.literal_eval(py(nasty)) == nasty
    assert ast.literal_eval(pretty(nasty * 5, 4, 10)) == nasty * 5
    assert py(literal("{{ ds }}")) == 'literal("{{ ds }}")'
    assert py(literal("/etc/x.yaml")) == 'literal("/etc/x.yaml")'
    assert literal("plain") == "plain"


# --------------------------------------------------------------------------- pods, offline


def _render(task, run_id: str = "manual__1", params: dict | None = None) -> None:
    ti = SimpleNamespace(try_number=2, map_index=-1, task_id=task.task_id, dag_id=task.dag_id,
                         run_id=run_id)
    context = {"run_id": run_id, "ti": ti, "task_instance": ti, "params": params or {},
               "dag": task.dag, "task": task}
    task.render_template_fields(context, jinja_env=task.dag.get_template_env())
    return context


def test_kubernetes_pods_render_offline() -> None:
    result = emit_source(DECORATED, image="base:1", datastore_root="s3://bucket/root")
    path = airflow_env.install_dag(result.text, "decorated")
    dag = airflow_env.import_dags(path.parent).dags["DecoratedFlow"]
    start = dag.get_task("start")
    context = _render(start, params={"who": "x", "n": 3, "rate": 0.5, "flag": True, "doc": "{}"})
    pod = start.build_pod_request_obj(context)
    container = pod.spec.containers[0]
    assert container.image == "registry.example/img:1"
    assert container.command[:2] == ["sh", "-c"]
    assert container.args == ["python", "-m", "flowc.runtime_shim", "--flow-file", "/app/flow.py",
                              "--step", "start", "--run-id", "manual__1", "--attempt", "1",
                              "--param", "who=x", "--param", "n=3", "--param", "rate=0.5",
                              "--param", "flag=true", "--param", "doc={}"]
    env = {e.name: e.value for e in container.env}
    assert env["FLOWC_DATASTORE"] == "s3://bucket/root"
    assert env["FLOWC_MANIFEST"].startswith('{\n  "manifest_version": 1,')
    assert env["GREETING"] == "{{ not a template }}"  # user values are never rendered by Jinja
    assert env["CONFIG"] == "/etc/app.yaml"
    assert "FLOWC_PARAMS" not in env  # every parameter has a literal default: all are --param
    # Metaflow's rule: the larger of @resources and @kubernetes (whose disk default is 10240 MiB)
    assert container.resources.requests == {"cpu": "2", "memory": "8192Mi",
                                             "ephemeral-storage": "10240Mi"}
    assert container.resources.limits == {"nvidia.com/gpu": "1"}
    assert container.env_from[0].secret_ref.name == "db-creds"
    assert pod.metadata.namespace == "ml"
    assert pod.spec.node_selector == {"pool": "gpu"}
    from flowc.runtime_shim.manifest_source import load as load_manifest
    assert load_manifest(env["FLOWC_MANIFEST"]).name == "DecoratedFlow"


def test_foreach_body_pod_gets_its_index_path() -> None:
    text = emit_source(FOREACH).text
    path = airflow_env.install_dag(text, "foreach_pod")
    dag = airflow_env.import_dags(path.parent).dags["ForeachFlow"]
    body = dag.get_task("start_body.body")
    start = dag.get_task("start")
    assert body.arguments[-2] == "--index-path"
    body.arguments[-1] = "2"  # what the mapped group's argument resolves to for child 2
    context = _render(body)
    container = body.build_pod_request_obj(context).spec.containers[0]
    assert container.args[-6:] == ["--run-id", "manual__1", "--attempt", "1", "--index-path", "2"]
    assert start.build_pod_request_obj(_render(start)).spec.containers[-1].name == "airflow-xcom-sidecar"


def _pod_script(text: str) -> str:
    tree = _module(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHIM_SCRIPT":
            return ast.literal_eval(node.value)
    raise AssertionError("no SHIM_SCRIPT")


@pytest.mark.parametrize("shape,steps,expected", [
    ("foreach", ["start"], ["0", "1", "2", "3", "4"]),
    ("recursion", ["start"], None),
    ("nested_foreach", ["start", "outer"], ["1.0", "1.1"]),
])
def test_pod_command_runs_the_real_shim(tmp_path: Path, shape: str, steps: list[str],
                                        expected) -> None:
    """The pod's `sh -c` script, run here against the real shim, hands the children's index
    paths to the XCom sidecar's file (the last step runs at index path "1" when nested)."""
    text = emit(Path(f"tests/flows/{shape}.py"))
    xcom = tmp_path / "xcom"
    xcom.mkdir()
    script = _pod_script(text).replace("/airflow/xcom", str(xcom))
    from flowc.compiler import compile_file
    from flowc.runtime_shim.manifest_source import encode_inline

    flow = compile_file(Path(f"tests/flows/{shape}.py")).flow
    env = {**os.environ, "FLOWC_MANIFEST": encode_inline(flow), "FLOWC_DATASTORE": str(tmp_path / "ds")}
    for depth, step in enumerate(steps):
        argv = [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", f"tests/flows/{shape}.py",
                "--step", step, "--run-id", "r1", "--attempt", "0"] + (["--index-path", "1"] if depth else [])
        done = subprocess.run(["sh", "-c", script, "flowc", *argv], env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
    if expected is None:
        assert not (xcom / "return.json").exists()
    else:
        assert json.loads((xcom / "return.json").read_text()) == expected


def test_pod_command_loops_a_recursive_step_and_reports_its_exit(tmp_path: Path) -> None:
    from flowc.compiler import compile_file
    from flowc.runtime_shim.manifest_source import encode_inline

    text = emit(Path("tests/flows/recursion.py"))
    flow = compile_file(Path("tests/flows/recursion.py")).flow
    loop = next(s for s in flow.steps if s.is_recursive)
    xcom = tmp_path / "xcom"
    xcom.mkdir()
    script = _pod_script(text).replace("/airflow/xcom", str(xcom))
    env = {**os.environ, "FLOWC_MANIFEST": encode_inline(flow), "FLOWC_DATASTORE": str(tmp_path / "ds")}
    base = [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", "tests/flows/recursion.py",
            "--run-id", "r1", "--attempt", "0"]
    order = [s.name for s in flow.steps]
    for name in order[:order.index(loop.name)]:
        subprocess.run([*base, "--step", name], env=env, check=True, capture_output=True)
    done = subprocess.run(["sh", "-c", script, "flowc", *base, "--step", loop.name], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    chosen = json.loads((xcom / "return.json").read_text())
    assert chosen != loop.name and chosen in loop.transition.targets
    iterations = sorted(p.name for p in (tmp_path / "ds" / flow.name / "runs" / "r1" / loop.name).iterdir())
    assert len(iterations) > 1  # t, t_r1, ...: the loop ran the step more than once
    failing = subprocess.run(["sh", "-c", script, "flowc", *base, "--step", "no_such_step"],
                             env=env, capture_output=True, text=True)
    assert failing.returncode != 0


def test_airflow_docs_describe_the_lowering() -> None:
    doc = (ROOT / "docs" / "targets" / "airflow.md").read_text()
    for word in ("mapped task group", "max_map_length", "AirflowSkipException", "--iteration",
                 "none_failed_min_one_success", "XCom sidecar"):
        assert word in doc, word


@pytest.mark.airflow2
def test_goldens_import_on_airflow_2_10() -> None:
    """The golden DAG files import in a DagBag of Airflow 2.10 (a separate virtualenv)."""
    python = airflow_env.airflow2_python()
    home = airflow_env.HOME / "airflow2"
    env = airflow_env.airflow2_env(home)
    probe = textwrap.dedent('''
        import json, pathlib, sys
        import airflow
        from airflow.models.dagbag import DagBag
        dags, errors = [], {}
        for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):  # alone: variants share ids
            bag = DagBag(str(path), include_examples=False)
            dags += [f"{path.parent.name}/{d}" for d in bag.dags]
            errors.update(bag.import_errors)
        print(json.dumps({"version": airflow.__version__, "dags": dags, "errors": errors}))
    ''')
    subprocess.run([str(python), "-m", "airflow", "db", "migrate"], env=env, check=True,
                   capture_output=True)
    done = subprocess.run([str(python), "-c", probe, str(ROOT / "golden" / "airflow")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["version"].startswith("2.10")
    assert report["errors"] == {}
    assert len(report["dags"]) == len(ALL) + len(SHAPES) + len(OTHER_GOLDENS)
    shutil.rmtree(home, ignore_errors=True)


RUNTIME_DEFAULT = textwrap.dedent('''
    import getpass
    from flowc import FlowSpec, Parameter, step

    class RuntimeDefaultFlow(FlowSpec):
        user = Parameter("user", default=getpass.getuser())  # run time (a callable runs when compiling)
        size = Parameter("size", default=2, type=int)
        token = Parameter("token", required=True)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_parameters_without_literal_default_are_left_to_the_shim() -> None:
    result = emit_source(RUNTIME_DEFAULT, image="base:1")
    params = _kwargs(_calls(result.text, "DAG")[0])["params"]
    assert "'user': Param(None, type=['string', 'null'])" in params
    assert "'token': Param(type='string')" in params
    path = airflow_env.install_dag(result.text, "runtime_default")
    dag = airflow_env.import_dags(path.parent).dags["RuntimeDefaultFlow"]
    start = dag.get_task("start")
    context = _render(start, params={"user": None, "size": 2, "token": "t"})
    container = start.build_pod_request_obj(context).spec.containers[0]
    env = {e.name: e.value for e in container.env}
    assert json.loads(env["FLOWC_PARAMS"]) == {}  # user is None: the shim computes its default
    assert container.args[-4:] == ["--param", "size=2", "--param", "token=t"]
    start = airflow_env.import_dags(path.parent).dags["RuntimeDefaultFlow"].get_task("start")  # unrendered
    context = _render(start, params={"user": "ann", "size": 2, "token": "t"})
    env = {e.name: e.value for e in start.build_pod_request_obj(context).spec.containers[0].env}
    assert json.loads(env["FLOWC_PARAMS"]) == {"user": "ann"}


def test_code_package_tasks_start_the_bootstrap() -> None:
    package = "s3://bucket/pkgs/flow-" + "a" * 64 + ".tar.gz"
    text = emit_source(FOREACH, "flows/foreach_flow.py", code_package=package).text
    shim = next(n.value for n in _module(text).body
                if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "SHIM")
    assert ast.literal_eval(shim) == ["python", "-c", "import os;exec(os.environ['FLOWC_BOOTSTRAP'])",
                                      package, "--flow-file", "foreach_flow.py"]
    assert "def fetch(url: str) -> bytes:" in text  # the bootstrap itself, once in the DAG file


SHADOWING = textwrap.dedent('''
    from flowc import FlowSpec, step

    class ShadowFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.json, foreach="items")

        @step
        def json(self):
            self.next(self.start_body)

        @step
        def start_body(self, inputs):
            self.next(self.subprocess)

        @step
        def subprocess(self):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_step_names_never_shadow_what_the_dag_file_uses() -> None:
    result = emit_source(SHADOWING, airflow_operator="local")
    text = result.text
    assert "subprocess_step = PythonOperator(" in text
    assert "\n    subprocess = " not in text and "\n        json = " not in text
    assert "start_body = PythonOperator(" in text  # the group moved aside instead
    assert '@task_group(group_id="start_body_group")' in text
    assert _task(text, "json")["op_kwargs"].startswith("{'step': 'json'")
    path = airflow_env.install_dag(text, "shadow")
    dag = airflow_env.import_dags(path).dags["ShadowFlow"]
    assert {"start", "start_body_group.json", "start_body", "subprocess", "end"} <= set(dag.task_ids)


def test_goldens_are_lint_clean() -> None:
    """No unused imports or variables, no undefined names: pyflakes finds nothing to say."""
    import io

    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    for path in sorted((ROOT / "golden" / "airflow").rglob("*.py")):
        out = io.StringIO()
        assert check(path.read_text(), str(path), Reporter(out, out)) == 0, out.getvalue()
