"""@parallel on Argo: the gang step is a resource template creating a JobSet that validates
against the JobSet CRD's published schema, gives each pod its place in the gang, and runs the
shim exactly as the step's own container would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowc.targets import argo_jobset
from tests.conftest import ROOT
from tests.harness.argo_expr import evaluate_expr, stringify
from tests.targets.argo_checks import schema_errors, semantic_errors, workflow_schema_files
from tests.harness.artifacts import run_locally, snapshot
from tests.targets.argo_helpers import documents, emit, emit_source, failure_report, run_compiled
from tests.targets.parallel_checks import jobset_errors, without_main_ip

FLOWS = ROOT / "tests" / "targets" / "parallel_flows"
BRACES = re.compile(r"\{\{(.*?)\}\}")


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _gang_flow(num_parallel: str, extra: str = "", decorators: str = "") -> str:
    return f'''
from metaflow import FlowSpec, Parameter, current, parallel, retry, step, resources

class G(FlowSpec):
    n = Parameter("n", default=2, type=int)
    @step
    def start(self):
{extra}        self.next(self.train, num_parallel={num_parallel})
    @parallel
{decorators}    @step
    def train(self):
        self.rank = current.parallel.node_index
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
'''


def _template(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(t for t in docs[0]["spec"]["templates"] if t["name"] == name)


def _substituted_jobset(template: dict[str, Any], inputs: dict[str, str]) -> dict[str, Any]:
    """The JobSet as Argo creates it: the manifest after template-tag substitution."""
    env = {"workflow": {"name": "gangflow-abc12"}, "retries": "0", "inputs": {"parameters": inputs}}

    def resolve(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        if inner.startswith("="):
            return stringify(evaluate_expr(inner[1:], env))
        value: Any = env
        for part in inner.split("."):
            value = value[part]
        return str(value)

    return yaml.safe_load(BRACES.sub(resolve, template["resource"]["manifest"]))


def test_golden(golden) -> None:
    golden.check("argo/parallel/gang.yaml", emit(Path("tests/targets/parallel_flows/gang.py")))


def test_workflow_is_schema_valid_and_the_join_waits_for_the_gang() -> None:
    docs = documents(emit(Path("tests/targets/parallel_flows/gang.py")))
    for schema in workflow_schema_files(docs[0], "4"):
        assert schema_errors(docs[0], schema) == []
    assert semantic_errors(docs) == []
    tasks = {t["name"]: t for t in _template(docs, "main")["dag"]["tasks"]}
    assert tasks["train"]["depends"] == "start.Succeeded"
    assert tasks["join"]["depends"] == "train.Succeeded"
    assert tasks["train"]["arguments"]["parameters"] == [
        {"name": "num-nodes", "value": "{{tasks.start.outputs.parameters.foreach-width}}"}]
    start = _template(docs, "start")
    assert start["outputs"]["parameters"][0]["name"] == "foreach-width"


@pytest.mark.parametrize("nodes", [1, 2, 5])
def test_runtime_gang_size_substitutes_into_a_schema_valid_jobset(nodes: int) -> None:
    docs = documents(emit(Path("tests/targets/parallel_flows/gang.py")))
    template = _template(docs, "train")
    assert template["resource"]["action"] == "create"
    assert template["resource"]["successCondition"] == "status.terminalState == Completed"
    assert template["resource"]["failureCondition"] == "status.terminalState == Failed"
    jobset = _substituted_jobset(template, {"num-nodes": str(nodes)})
    assert jobset_errors(jobset) == []
    control, workers = jobset["spec"]["replicatedJobs"]
    assert (control["name"], control["replicas"]) == ("control", 1)
    assert (workers["name"], workers["replicas"]) == ("worker", nodes - 1)
    assert isinstance(workers["replicas"], int)  # a number after substitution, not "2"
    env = {e["name"]: e for e in control["template"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["FLOWC_PARALLEL_NUM_NODES"]["value"] == str(nodes)
    assert env["FLOWC_PARALLEL_NODE_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['jobset.sigs.k8s.io/job-global-index']"
    assert env["FLOWC_PARALLEL_MAIN_IP"]["value"] == "$(FLOWC_JOBSET_NAME)-control-0-0.$(FLOWC_JOBSET_NAME)"
    assert list(env).index("FLOWC_JOBSET_NAME") < list(env).index("FLOWC_PARALLEL_MAIN_IP")  # kubelet order
    assert "FLOWC_MANIFEST" in env  # templateDefaults do not reach a JobSet's pods


def test_gang_pods_run_the_step_container_with_the_parents_index_path() -> None:
    docs = documents(emit(Path("tests/targets/parallel_flows/gang.py")))
    jobset = _substituted_jobset(_template(docs, "train"), {"num-nodes": "3"})
    pods = [j["template"]["spec"]["template"]["spec"] for j in jobset["spec"]["replicatedJobs"]]
    assert pods[0] == pods[1]  # one pod spec: the node index comes from the JobSet
    command = pods[0]["containers"][0]["command"]
    assert command[command.index("--step") + 1] == "train"
    assert command[command.index("--run-id") + 1] == "gangflow-abc12"
    assert "--index-path" not in command  # top level: the shim appends the node index
    assert pods[0]["containers"][0]["workingDir"] == "/app"


def test_literal_gang_size_and_retry_and_resources() -> None:
    source = _gang_flow("4", decorators="    @retry(times=2)\n    @resources(cpu=2, memory=8000)\n")
    emitted = emit_source(source, "g.py")
    assert not [d for d in emitted.diagnostics if d.severity == "error"]
    docs = documents(emitted.text)
    template = _template(docs, "train")
    assert "inputs" not in template
    assert template["retryStrategy"]["limit"] == 2
    jobset = yaml.safe_load(template["resource"]["manifest"].replace("{{workflow.name}}", "w")
                            .replace("{{retries}}", "1"))
    assert jobset_errors(jobset) == []
    assert [j["replicas"] for j in jobset["spec"]["replicatedJobs"]] == [1, 3]
    container = jobset["spec"]["replicatedJobs"][1]["template"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"] == "2"
    assert container["command"][container["command"].index("--attempt") + 1] == "1"
    assert "outputs" not in _template(docs, "start")  # the width is compiled in


def test_gang_inside_a_foreach_passes_the_index_path() -> None:
    source = '''
from metaflow import FlowSpec, current, parallel, step

class G(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")
    @step
    def each(self):
        self.next(self.train, num_parallel=2)
    @parallel
    @step
    def train(self):
        self.next(self.gather)
    @step
    def gather(self, inputs):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
'''
    docs = documents(emit_source(source, "g.py").text)
    template = _template(docs, "train")
    assert template["inputs"]["parameters"] == [{"name": "index-path"}]
    jobset = _substituted_jobset(template, {"index-path": "1"})
    assert jobset_errors(jobset) == []
    command = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--index-path") + 1] == "1"
    body = next(t for t in docs[0]["spec"]["templates"] if "dag" in t and t["name"] != "main")
    train_task = next(t for t in body["dag"]["tasks"] if t["template"] == "train")
    assert train_task["arguments"]["parameters"] == [{"name": "index-path", "value": "{{inputs.parameters.index-path}}"}]
    gather = next(t for t in body["dag"]["tasks"] if t["name"] == "gather")
    assert gather["depends"] == f"{train_task['name']}.Succeeded"


def test_a_misspelt_jobset_field_fails_the_strict_schema() -> None:
    """The schema check can fail: an unknown key and a wrong type are both reported."""
    docs = documents(emit(Path("tests/targets/parallel_flows/gang.py")))
    jobset = _substituted_jobset(_template(docs, "train"), {"num-nodes": "2"})
    jobset["spec"]["replicatedJobs"][0]["replica"] = 1
    jobset["spec"]["replicatedJobs"][1]["replicas"] = "1"
    errors = jobset_errors(jobset)
    assert any("replica" in e and "Additional properties" in e for e in errors), errors
    assert any("replicas" in e and "is not of type 'integer'" in e for e in errors), errors


def test_gang_warns_that_it_needs_the_jobset_controller() -> None:
    emitted = emit_source(_gang_flow("3"), "g.py")
    assert {d.code for d in emitted.diagnostics} == {"FLOW200"}
    assert all(d.severity == "warning" for d in emitted.diagnostics)
    assert argo_jobset.API_VERSION == "jobset.x-k8s.io/v1alpha2"


# --------------------------------------------------------------------------- running the spec

@pytest.mark.parametrize("nodes", ["1", "3"])
def test_interpreted_gang_matches_flowc_run(nodes: str, tmp_path: Path) -> None:
    """The workflow runs in the test interpreter, whose JobSet model starts the gang's pods at
    once with the controller's annotations: the artifacts are flowc run's."""
    flow = FLOWS / "gang.py"
    run, _ = run_compiled(flow, tmp_path / "argo", parameters={"nodes": nodes})
    assert run.phase == "Succeeded", failure_report(run)
    (gang,) = run.find("train")
    assert gang.kind == "Resource" and len(gang.children) == int(nodes)
    local = tmp_path / "local"
    local_id = run_locally(flow, local, params={"nodes": nodes})
    got = snapshot(tmp_path / "argo" / "datastore", "GangFlow", "argo-run")
    assert without_main_ip(got) == without_main_ip(snapshot(local / "datastore", "GangFlow", local_id))
    assert sorted(got["train"]) == [f"t_{i}" for i in range(int(nodes))]
    # main_ip: the control pod's name on the JobSet's headless service, as every member sees it
    (main,) = {v["main"] for v in got["train"].values()}
    assert re.fullmatch(r"(gangflow-train-\w{5})-control-0-0\.\1", main), main


def test_interpreted_gang_member_failure_fails_the_workflow(tmp_path: Path) -> None:
    run, _ = run_compiled(FLOWS / "gang.py", tmp_path, parameters={"nodes": "3", "fail_rank": "2"})
    assert run.phase == "Failed"
    assert run.phases("train") == ["Failed"]
    assert run.phases("join") in ([], ["Omitted"])
    (gang,) = run.find("train")
    assert [child.phase for child in gang.children] == ["Succeeded", "Succeeded", "Failed"]


@pytest.mark.parametrize("edit,message", [
    (lambda t: t["resource"].update(successCondition="status.succeeded > 0"), "successCondition"),
    (lambda t: t["resource"].update(action="apply"), "action: create"),
    (lambda t: t["resource"].update(manifest=t["resource"]["manifest"].replace(
        "  successPolicy:", "  startupPolicy:\n    startupPolicyOrder: InOrder\n  successPolicy:")), "startupPolicy"),
])
def test_interpreter_refuses_jobsets_it_does_not_model(edit, message, tmp_path: Path) -> None:
    """The JobSet model is strict: what it would not honour fails the run, never passes silently."""
    from tests.harness.argo_interpreter import InterpreterError, run_spec

    docs = documents(emit(Path("tests/targets/parallel_flows/gang.py"), datastore_root=str(tmp_path / "ds")))
    edit(_template(docs, "train"))
    try:
        run = run_spec(docs[0], workdir=tmp_path / "pods", path_map={"/app": str(ROOT)}, shared_paths=[tmp_path])
    except InterpreterError as exc:
        assert message in str(exc)
        return
    assert run.phase != "Succeeded"
    assert any(message in node.message for node in run.nodes), [n.message for n in run.nodes]


def test_code_package_reaches_the_gang_pods() -> None:
    """With a code package (the default for deployed specs) the pods start through the bootstrap,
    which Argo's templateDefaults carry for its own pods and the JobSet's pods carry themselves."""
    from flowc.targets.common import BOOTSTRAP_ENV

    package = "s3://b/packages/gang-" + "0" * 64 + ".tar.gz"
    docs = documents(emit_source(_gang_flow("2"), "g.py", code_package=package).text)
    jobset = _substituted_jobset(_template(docs, "train"), {})
    assert jobset_errors(jobset) == []
    container = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]
    assert "workingDir" not in container
    assert container["command"][:4] == ["python", "-c", "import os;exec(os.environ['FLOWC_BOOTSTRAP'])", package]
    env = {e["name"]: e.get("value") for e in container["env"]}
    defaults = {e["name"]: e["value"] for e in docs[0]["spec"]["templateDefaults"]["container"]["env"]}
    assert env[BOOTSTRAP_ENV] == defaults[BOOTSTRAP_ENV]
