"""The Argo target's output: golden files, strict schemas (v3.7.0 and v4.1.2, Argo Events),
hera's models, the controller's semantic rules, size, and what each decorator becomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.settings import SettingsError
import yaml

from tests.conftest import ROOT, example_flows, shape_flows
from tests.targets.argo_checks import schema_errors, semantic_errors, workflow_schema_files
from tests.targets.argo_helpers import documents, emit, emit_source

EXAMPLES = example_flows()
SHAPES = shape_flows()
ALL = [("", p) for p in EXAMPLES] + [("flows/", p) for p in SHAPES]
IDS = [prefix + p.stem for prefix, p in ALL]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Flow paths are compiled relative to the repository, as `flowc compile examples/x.py` does.
    monkeypatch.chdir(ROOT)


def relative(path: Path) -> Path:
    return path.relative_to(ROOT)


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_golden(prefix: str, path: Path, golden) -> None:
    golden.check(f"argo/{prefix}{path.stem}.yaml", emit(relative(path)))


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_schema_and_semantics(prefix: str, path: Path) -> None:
    text = emit(relative(path))
    events = list(yaml.parse(text))
    assert not any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) for e in events), "YAML anchors"
    docs = documents(text)
    for doc in docs:
        for schema in workflow_schema_files(doc, "4"):
            assert schema_errors(doc, schema) == [], (doc["kind"], schema)
    assert semantic_errors(docs) == []


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_hera_round_trips_every_object(prefix: str, path: Path) -> None:
    """hera's models parse each object and write it back unchanged: no field is unknown to them."""
    from hera.workflows import CronWorkflow, WorkflowTemplate

    for doc in documents(emit(relative(path))):
        model = {"WorkflowTemplate": WorkflowTemplate, "CronWorkflow": CronWorkflow}.get(doc["kind"])
        if model is None:
            continue  # hera has no Argo Events models; the Sensor is schema-checked above
        assert model.from_dict(doc).to_dict() == doc


def test_output_is_deterministic_and_free_of_machine_details(tmp_path: Path) -> None:
    path = relative(next(p for p in EXAMPLES if p.stem == "train"))
    first, second = emit(path), emit(path)
    assert first == second
    assert str(ROOT) not in first and str(tmp_path) not in first
    assert "flowc/version" not in first


def test_the_manifest_is_carried_once() -> None:
    text = emit(relative(next(p for p in SHAPES if p.stem == "nested_foreach")))
    assert text.count('"manifest_version": 1') == 1
    wt = documents(text)[0]
    env = wt["spec"]["templateDefaults"]["container"]["env"]
    assert [e["name"] for e in env] == ["FLOWC_MANIFEST"]


def test_the_manifest_is_a_readable_block_an_edit_changes_a_few_lines_of() -> None:
    """Reviewers diff specs: the manifest is JSON text, so editing a step's decorator changes the
    lines of that decorator, not one opaque blob."""
    import difflib

    flow = (ROOT / "tests" / "flows" / "retry.py").read_text()
    before = emit_source(flow, "retry.py").text
    after = emit_source(flow.replace("times=2", "times=4"), "retry.py").text
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert any('"times": 4' in line for line in changed)
    assert len(changed) <= 8, changed  # the retry limit, the manifest field and its source hash
    assert "{{" not in documents(after)[0]["spec"]["templateDefaults"]["container"]["env"][0]["value"]


def test_spec_size_does_not_depend_on_foreach_width() -> None:
    source = '''
from flowc import FlowSpec, step
class W(FlowSpec):
    @step
    def start(self):
        self.items = list(range({width}))
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
'''
    small = emit_source(source.replace("{width}", "3"))
    large = emit_source(source.replace("{width}", "300000"))
    # only the source hash inside the inline manifest differs
    assert abs(len(small.text) - len(large.text)) < 16
    assert "withSequence" in small.text


def test_size_is_at_most_a_quarter_of_metaflows() -> None:
    source = (ROOT / "tests" / "flows" / "foreach.py").read_text()
    text = emit_source(source, "foreach.py").text
    wt = yaml.safe_dump(documents(text)[0])
    assert len(text.encode()) <= 84_601 // 4, len(text.encode())
    assert len(wt) > 0


def _dsl(body: str, header: str = "") -> str:
    return (
        "from flowc import FlowSpec, step, retry, timeout, resources, kubernetes, environment, "
        "secrets, catch, schedule, trigger, trigger_on_finish, project, parallel, exit_hook, pypi, batch, Parameter\n"
        f"{header}\nclass F(FlowSpec):\n" + body
    )


LINEAR = """
    @step
    def start(self):
        self.next(self.end)
    {decorators}
    @step
    def end(self):
        pass
"""


def _end_template(decorators: str, **settings):
    emitted = emit_source(_dsl(LINEAR.replace("{decorators}", decorators)), **settings)
    assert not [d for d in emitted.diagnostics if d.severity == "error"], emitted.diagnostics
    wt = documents(emitted.text)[0]
    return next(t for t in wt["spec"]["templates"] if t["name"] == "end"), emitted


def test_retry_timeout_resources_environment() -> None:
    tmpl, _ = _end_template(
        "@retry(times=4, minutes_between_retries=1)\n    @timeout(minutes=2, seconds=5)\n"
        "    @resources(cpu=2, memory=8192, gpu=1, disk=20480)\n"
        "    @environment(vars={'A': 'x', 'B': 'y'})")
    assert tmpl["retryStrategy"] == {"limit": 4, "retryPolicy": "Always", "backoff": {"duration": "60s"}}
    assert tmpl["activeDeadlineSeconds"] == 125 + 30  # the shim times out first; the pod is the backstop
    container = tmpl["container"]
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "8192Mi", "ephemeral-storage": "20480Mi"},
        "limits": {"nvidia.com/gpu": "1"},
    }
    assert container["env"] == [{"name": "A", "value": "x"}, {"name": "B", "value": "y"}]
    assert container["command"][container["command"].index("--attempt") + 1] == "{{retries}}"


def test_kubernetes_decorator() -> None:
    tmpl, emitted = _end_template(
        "@kubernetes(image='repo/img:1', cpu='500m', memory='2Gi', service_account='sa', "
        "node_selector={'pool': 'gpu'}, secrets=['db-creds'], labels={'team': 'ml'}, "
        "annotations={'note': 'n'}, tolerations=[{'key': 'k', 'operator': 'Exists'}], "
        "image_pull_policy='Always', shared_memory=256)")
    container = tmpl["container"]
    assert container["image"] == "repo/img:1"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"]["requests"]["cpu"] == "500m"
    assert container["resources"]["requests"]["memory"] == "2048Mi"
    assert container["envFrom"] == [{"secretRef": {"name": "db-creds"}}]
    assert tmpl["serviceAccountName"] == "sa"
    assert tmpl["nodeSelector"] == {"pool": "gpu"}
    assert tmpl["tolerations"] == [{"key": "k", "operator": "Exists"}]
    assert tmpl["metadata"] == {"labels": {"team": "ml"}, "annotations": {"note": "n"}}
    assert tmpl["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Mi"}


def test_resources_take_the_larger_of_resources_and_kubernetes() -> None:
    tmpl, _ = _end_template("@resources(cpu=4, memory=1024)\n    @kubernetes(cpu=1, memory=4096)")
    assert tmpl["container"]["resources"]["requests"]["cpu"] == "4"
    assert tmpl["container"]["resources"]["requests"]["memory"] == "4096Mi"


def test_settings_reach_the_spec() -> None:
    emitted = emit_source(_dsl(LINEAR.replace("{decorators}", "")), image="reg/flow:2", namespace="ml",
                          service_account="runner", max_workers=7, datastore_root="s3://b/p", code_dir="/srv")
    wt = documents(emitted.text)[0]
    assert wt["metadata"]["namespace"] == "ml"
    assert wt["spec"]["serviceAccountName"] == "runner"
    assert wt["spec"]["parallelism"] == 7
    assert wt["spec"]["templateDefaults"]["container"]["image"] == "reg/flow:2"
    assert wt["spec"]["templateDefaults"]["container"]["workingDir"] == "/srv"
    start = next(t for t in wt["spec"]["templates"] if t["name"] == "start")
    command = start["container"]["command"]
    assert command[command.index("--flow-file") + 1] == "/srv/flow.py"
    assert command[command.index("--datastore") + 1] == "s3://b/p"


def test_code_package_runs_through_the_bootstrap() -> None:
    package = "s3://b/packages/flow-" + "0" * 64 + ".tar.gz"
    wt = documents(emit_source(_dsl(LINEAR.replace("{decorators}", "")), code_package=package).text)[0]
    assert "workingDir" not in wt["spec"]["templateDefaults"]["container"]  # the bootstrap picks it
    command = next(t for t in wt["spec"]["templates"] if t["name"] == "end")["container"]["command"]
    assert command[:4] == ["python", "-c", "import os;exec(os.environ['FLOWC_BOOTSTRAP'])", package]
    env = {e["name"]: e["value"] for e in wt["spec"]["templateDefaults"]["container"]["env"]}
    assert "def fetch(url: str) -> bytes:" in env["FLOWC_BOOTSTRAP"]  # carried once, for every pod
    assert command[command.index("--flow-file") + 1] == "flow.py"


def test_parameters_become_workflow_arguments() -> None:
    body = LINEAR.replace("{decorators}", "")
    header = ""
    source = _dsl(
        "    alpha = Parameter('alpha', default=0.5, help='rate')\n"
        "    who = Parameter('who', required=True)\n"
        "    flag = Parameter('flag', default=True)\n" + body, header)
    wt = documents(emit_source(source).text)[0]
    assert wt["spec"]["arguments"]["parameters"] == [
        {"name": "alpha", "value": "0.5", "description": "rate"},
        {"name": "who"},
        {"name": "flag", "value": "true"},
    ]
    start = next(t for t in wt["spec"]["templates"] if t["name"] == "start")
    # every "$" doubled for the kubelet, which expands $(VAR) in a container's command
    assert 'alpha={{=sprig.replace("$", "$$", workflow.parameters["alpha"])}}' in start["container"]["command"]


@pytest.mark.parametrize("version,key", [("3.5", "schedule"), ("3.7", "schedules"), ("4", "schedules")])
def test_schedule_becomes_a_cron_workflow(version: str, key: str) -> None:
    source = _dsl(LINEAR.replace("{decorators}", ""), "").replace(
        "class F(FlowSpec)", "@schedule(cron='0 6 * * 1', timezone='Europe/Paris')\nclass F(FlowSpec)")
    docs = documents(emit_source(source, argo_version=version).text)
    cron = docs[1]
    assert cron["kind"] == "CronWorkflow"
    expected = "0 6 * * 1" if key == "schedule" else ["0 6 * * 1"]
    assert cron["spec"][key] == expected
    assert cron["spec"]["timezone"] == "Europe/Paris"
    assert cron["spec"]["workflowSpec"] == {"workflowTemplateRef": {"name": "f"}}
    for schema in workflow_schema_files(cron, version):
        assert schema_errors(cron, schema) == []
    assert semantic_errors(docs) == []


def test_long_names_are_shortened_deterministically() -> None:
    long = "A" * 30 + "VeryLongFlowNameThatKeepsGoingAndGoing"
    source = _dsl(LINEAR.replace("{decorators}", ""), "").replace(
        "class F(FlowSpec)", f"@schedule(daily=True)\n@project(name='analytics_team_project')\nclass {long}(FlowSpec)")
    docs = documents(emit_source(source).text)
    names = [d["metadata"]["name"] for d in docs]
    assert len(names[0]) == 63 and len(names[1]) <= 52
    assert names == [d["metadata"]["name"] for d in documents(emit_source(source).text)]
    assert names[0] != names[1]
    assert docs[0]["metadata"]["labels"]["flowc/project"] == "analytics-team-project"
    assert semantic_errors(docs) == []


def test_trigger_becomes_a_sensor() -> None:
    source = _dsl(
        "    alpha = Parameter('alpha', default=1)\n" + LINEAR.replace("{decorators}", ""), ""
    ).replace("class F(FlowSpec)",
              "@trigger(event={'name': 'data_ready', 'parameters': {'alpha': 'size'}})\nclass F(FlowSpec)")
    docs = documents(emit_source(source).text)
    sensor = docs[-1]
    assert sensor["kind"] == "Sensor"
    assert schema_errors(sensor, "argo-events-v1.9.11.schema.json") == []
    dep = sensor["spec"]["dependencies"][0]
    assert dep["filters"]["data"][0]["value"] == ["data_ready"]
    trigger = sensor["spec"]["triggers"][0]["template"]
    assert trigger["conditions"] == dep["name"]
    submitted = trigger["argoWorkflow"]
    assert submitted["source"]["resource"]["spec"]["arguments"]["parameters"] == [
        {"name": "alpha", "value": "1"},
        {"name": "flowc-trigger", "value": '[{"type":"event","name":"data_ready"}]'},
        {"name": "flowc-trigger-data-0", "value": ""},
        {"name": "flowc-trigger-id-0", "value": ""},
        {"name": "flowc-trigger-time-0", "value": ""},
    ]
    assert [(p["src"], p["dest"]) for p in submitted["parameters"]] == [
        ({"dependencyName": dep["name"], "dataKey": "body.payload.size", "value": "1"},
         "spec.arguments.parameters.0.value"),
        ({"dependencyName": dep["name"], "dataKey": "body.payload"}, "spec.arguments.parameters.2.value"),
        ({"dependencyName": dep["name"], "contextKey": "id"}, "spec.arguments.parameters.3.value"),
        ({"dependencyName": dep["name"], "contextKey": "time"}, "spec.arguments.parameters.4.value"),
    ]
    # the WorkflowTemplate declares the reserved arguments, and only its start step reads them
    template = docs[0]
    assert [a["name"] for a in template["spec"]["arguments"]["parameters"]] == [
        "alpha", "flowc-trigger", "flowc-trigger-data-0", "flowc-trigger-id-0", "flowc-trigger-time-0"]
    readers = {t["name"] for t in template["spec"]["templates"]
               if "flowc-trigger" in str((t.get("container") or {}).get("env"))}
    assert readers == {"start"}
    assert semantic_errors(docs) == []


def test_trigger_on_finish_becomes_a_sensor() -> None:
    source = _dsl(LINEAR.replace("{decorators}", ""), "").replace(
        "class F(FlowSpec)", "@trigger_on_finish(flow='Upstream')\nclass F(FlowSpec)")
    sensor = documents(emit_source(source).text)[-1]
    dep = sensor["spec"]["dependencies"][0]
    assert dep["eventSourceName"] == "flowc-workflows"
    assert dep["filters"]["data"] == [
        {"path": "body.metadata.labels.workflows\\.argoproj\\.io/workflow-template", "type": "string",
         "value": ["upstream"]},
        {"path": "body.metadata.labels.workflows\\.argoproj\\.io/phase", "type": "string",
         "value": ["Succeeded"]},
    ]
    assert schema_errors(sensor, "argo-events-v1.9.11.schema.json") == []


def test_parallel_is_a_warning_at_its_line() -> None:
    source = _dsl("""
    @step
    def start(self):
        self.next(self.train, num_parallel=2)
    @parallel
    @step
    def train(self):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
""")
    emitted = emit_source(source)
    assert emitted.ok and "kind: JobSet" in emitted.text  # a JobSet (tests/targets/test_parallel_argo.py)
    warnings = [d for d in emitted.diagnostics if d.severity == "warning"]
    assert {d.code for d in emitted.diagnostics} == {"FLOW200"}
    lines = source.splitlines()
    assert any("num_parallel" in lines[d.span.line - 1] for d in warnings)
    assert all("argo" in d.message for d in warnings)


def test_exit_hook_is_an_onexit_handler() -> None:
    source = _dsl(LINEAR.replace("{decorators}", "")).replace(
        "class F(FlowSpec)", "@exit_hook(on_success=['notify'])\nclass F(FlowSpec)")
    emitted = emit_source(source)
    assert emitted.ok, emitted.diagnostics
    spec = documents(emitted.text)[0]["spec"]
    assert spec["onExit"] == "exit-hooks"


def test_cli_bad_input_writes_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowc.cli import main

    bad = tmp_path / "bad.py"
    bad.write_text(_dsl("""
    x = Parameter("x", default="{{workflow.name}}")
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"""))
    out = tmp_path / "out.yaml"
    result = CliRunner().invoke(main, ["compile", str(bad), "--target", "argo", "--datastore-root",
                                       "s3://b/p", "-o", str(out)])
    assert result.exit_code == 1
    assert "FLOW209" in result.output
    assert not out.exists()
    result = CliRunner().invoke(main, ["compile", str(bad), "--target", "nope", "-o", str(out)])
    assert result.exit_code != 0 and not out.exists()
    good = ROOT / "tests" / "flows" / "linear.py"
    result = CliRunner().invoke(main, ["compile", str(good), "--target", "argo", "--argo-version", "2.0",
                                       "-o", str(out)])
    assert result.exit_code != 0 and not out.exists()


def test_step_names_become_valid_unique_template_and_task_names() -> None:
    long = "a_" + "very_long_step_name_" * 4
    source = _dsl(f"""
    @step
    def start(self):
        self.next(self.{long}, self.trailing_)
    @step
    def {long}(self):
        self.next(self.join)
    @step
    def trailing_(self):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
""")
    docs = documents(emit_source(source).text)
    names = [t["name"] for t in docs[0]["spec"]["templates"]]
    assert all(len(n) <= 63 for n in names)
    assert any(n.startswith("a-very-long-step-name") for n in names)
    assert any(n.startswith("trailing-") and len(n) == len("trailing-") + 8 for n in names)  # lossy: hashed
    assert semantic_errors(docs) == []
    for schema in workflow_schema_files(docs[0], "4"):
        assert schema_errors(docs[0], schema) == []


def test_the_checks_catch_what_they_claim_to() -> None:
    """The strict schema and the semantic checks reject broken specs (so passing means something)."""
    import copy

    docs = documents(emit(relative(next(p for p in SHAPES if p.stem == "foreach"))))
    wt = docs[0]
    broken = copy.deepcopy(wt)
    broken["spec"]["templates"][-1]["container"]["imagePullPolicyy"] = "Always"  # unknown key, deep
    assert any("imagePullPolicyy" in e for e in schema_errors(broken, "argo-workflows-v4.1.2.schema.json"))
    as_int = copy.deepcopy(wt)
    as_int["spec"]["templates"][-1]["retryStrategy"] = {"limit": 3}  # IntOrString given an int
    assert schema_errors(as_int, "argo-workflows-v4.1.2.schema.json") == []
    dag = copy.deepcopy(wt)
    tasks = dag["spec"]["templates"][0]["dag"]["tasks"]
    tasks[-1]["depends"] = "nowhere.Succeeded"
    tasks[0]["depends"] = tasks[1]["name"] + ".Succeeded"  # tasks[1] depends on tasks[0]
    errors = semantic_errors([dag])
    assert any("unknown task 'nowhere'" in e for e in errors)
    assert any("cycle" in e for e in errors)
    renamed = copy.deepcopy(wt)
    renamed["spec"]["templates"][1]["name"] = renamed["spec"]["templates"][0]["name"]
    assert any("duplicate template names" in e for e in semantic_errors([renamed]))


def test_warnings_and_settings_errors() -> None:
    source = _dsl("    when = Parameter('when', default=time.time())\n" + LINEAR.replace(
        "{decorators}", "@batch(cpu=2)"), "import time")
    emitted = emit_source(source)
    codes = sorted(d.code for d in emitted.diagnostics if d.severity == "warning")
    assert "FLOW203" in codes and "FLOW204" in codes
    wt = documents(emitted.text)[0]
    assert "arguments" not in wt["spec"]  # the run-time default is computed by the start task
    with pytest.raises(SettingsError, match="'argo_version' must be one of 3.5, 3.6, 3.7, 4"):
        emit_source(_dsl(LINEAR.replace("{decorators}", "")), argo_version="2")


def test_aws_cron_converts_when_the_year_is_open() -> None:
    from flowc.compiler.cron import to_unix as aws_to_unix

    assert aws_to_unix("0 12 * * ? *") == "0 12 * * *"
    assert aws_to_unix("0 12 * * 1") == "0 12 * * 1"
    assert aws_to_unix("0 12 * * ? 2027") is None


@pytest.mark.parametrize("target", ["argo", "sfn", "airflow"])
def test_secrets_sources_the_shim_cannot_resolve_are_refused_on_every_target(target: str) -> None:
    from tests.conftest import target_settings
    from flowc.compiler import compile_source
    from flowc.plan import build as build_plan
    from flowc.targets import get_target

    def emit_for(sources: str):
        source = _dsl(LINEAR.replace("{decorators}", f"@secrets(sources={sources})"))
        return get_target(target).emit(build_plan(compile_source(source, "flow.py").flow),
                                       target_settings(datastore_root="s3://b/p"))

    ok = emit_for("['env:DB', 'file:/s/x.json', 'prod-db', 'aws-secrets-manager:team/db']")
    assert ok.text and not [d for d in ok.diagnostics if d.severity == "error"]
    bad = emit_for("['vault:prod-db']")
    assert bad.text == ""
    (error,) = [d for d in bad.diagnostics if d.severity == "error"]
    assert error.code == "FLOW282" and "vault:prod-db" in error.message and error.span.line > 0


def test_pyproject_settings_and_flags_reach_the_spec(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowc.cli import main

    (tmp_path / "pyproject.toml").write_text(
        '[tool.flowc]\nimage = "reg/from-pyproject:1"\nnamespace = "data"\nmax-workers = 12\n'
        'datastore_root = "s3://team/flowc"\n'
        'argo_events_source = "team-events"\n')
    flow = tmp_path / "flow.py"
    flow.write_text(_dsl(LINEAR.replace("{decorators}", "")).replace(
        "class F(FlowSpec)", "@trigger(event='go')\nclass F(FlowSpec)"))
    out = tmp_path / "flow.yaml"
    result = CliRunner().invoke(main, ["compile", str(flow), "--target", "argo", "--namespace", "flag-ns",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    wt, sensor = documents(out.read_text())
    assert wt["spec"]["templateDefaults"]["container"]["image"] == "reg/from-pyproject:1"
    assert wt["metadata"]["namespace"] == "flag-ns"  # the flag wins
    assert wt["spec"]["parallelism"] == 12
    assert sensor["spec"]["dependencies"][0]["eventSourceName"] == "team-events"
