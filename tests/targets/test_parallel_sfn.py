"""@parallel on Step Functions: the gang step is one AWS Batch multi-node parallel job, submitted
with NodeOverrides; in the CloudFormation format its job definition is a multinode one that
cfn-lint accepts; the definitions pass statelint and asl-validator; and the ASL runs on moto (the
harness runs a multi-node job's nodes as processes with Batch's environment), ending with the
artifacts of flowc run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.targets.parallel_checks import (MULTINODE_DEFINITION, SFN_DATASTORE, deploy_gang_flow,
                                           execution_report, without_main_ip)
from tests.targets.sfn_helpers import (asl_validator, cfn_definition, cfn_lint, emit, emit_source,
                                       statelint_problems)

FLOW = Path("tests/targets/parallel_flows/gang.py")
NESTED = '''
from metaflow import FlowSpec, batch, current, parallel, step

class N(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")
    @step
    def each(self):
        self.next(self.train, num_parallel=4)
    @batch(cpu=4, memory=16000, image="trainer:1")
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


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _cfn(path: Path = FLOW) -> dict[str, Any]:
    return json.loads(emit(path, sfn_format="cloudformation"))


def test_goldens(golden) -> None:
    golden.check("sfn/parallel/gang.json", emit(FLOW))
    golden.check("sfn/parallel/gang.cloudformation.json", emit(FLOW, sfn_format="cloudformation"))


def test_run_time_gang_size_is_read_back_and_overrides_num_nodes() -> None:
    states = json.loads(emit(FLOW))["States"]
    assert states["start"]["Next"] == "start-gang-size"
    size = states["start-gang-size"]
    assert size["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert size["Parameters"]["Key.$"].endswith("/start/{}/foreach_indices.json', $.run, $.tid)")
    assert size["ResultSelector"] == {"nodes.$": "States.ArrayLength(States.StringToJson($.Body))"}
    train = states["train"]["Parameters"]
    assert "ContainerOverrides" not in train  # multi-node jobs take NodeOverrides only
    overrides = train["NodeOverrides"]
    assert overrides["NumNodes.$"] == "$.gang.nodes"
    (node_range,) = overrides["NodePropertyOverrides"]
    assert node_range["TargetNodes"] == "0:"
    command = node_range["ContainerOverrides"]["Command.$"]
    assert "'--step', 'train'" in command and "--index-path" not in command  # the node index comes from Batch
    assert train["JobDefinition"] == "flowc-GangFlow-multinode"
    assert states["join"]["Parameters"]["JobDefinition"] == "flowc-GangFlow"
    assert states["train"]["Next"] == "join"


def test_asl_format_takes_the_multinode_definition_from_its_setting() -> None:
    states = json.loads(emit(FLOW, sfn_job_definition="jd", sfn_multinode_job_definition="jd-mnp"))["States"]
    assert states["train"]["Parameters"]["JobDefinition"] == "jd-mnp"
    assert states["start"]["Parameters"]["JobDefinition"] == "jd"


def test_cloudformation_job_definition_is_multinode() -> None:
    template = _cfn()
    definitions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Batch::JobDefinition"}
    multinode = [v["Properties"] for v in definitions.values() if v["Properties"]["Type"] == "multinode"]
    assert len(multinode) == 1 and len(definitions) == 2
    (props,) = multinode
    assert "ContainerProperties" not in props
    nodes = props["NodeProperties"]
    assert nodes["MainNode"] == 0 and nodes["NumNodes"] == 2
    (node_range,) = nodes["NodeRangeProperties"]
    assert node_range["TargetNodes"] == "0:"
    env = {e["Name"] for e in node_range["Container"]["Environment"]}
    assert "FLOWC_MANIFEST" in env
    definition = cfn_definition(template)
    assert definition["States"]["train"]["Parameters"]["JobDefinition"].startswith("substituted-JobDefinition")


def test_literal_gang_size_inside_a_foreach_with_batch() -> None:
    emitted = emit_source(NESTED, sfn_format="cloudformation")
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
    template = json.loads(emitted.text)
    definition = cfn_definition(template)
    body = definition["States"]["start-foreach"]["ItemProcessor"]["States"]
    assert "each-gang-size" not in body
    overrides = body["train"]["Parameters"]["NodeOverrides"]
    assert overrides["NumNodes"] == 4
    command = overrides["NodePropertyOverrides"][0]["ContainerOverrides"]["Command.$"]
    assert "'--index-path', $.path" in command  # the foreach child's path; Batch adds the node
    requirements = overrides["NodePropertyOverrides"][0]["ContainerOverrides"]["ResourceRequirements"]
    assert {"Type": "VCPU", "Value": "4"} in requirements
    multinode = [r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::Batch::JobDefinition" and r["Properties"]["Type"] == "multinode"]
    assert [m["NodeProperties"]["NumNodes"] for m in multinode] == [4]
    assert multinode[0]["NodeProperties"]["NodeRangeProperties"][0]["Container"]["Image"] == "trainer:1"
    assert body["train"]["Next"] == "gather"


def test_validators_accept_gang_definitions(tmp_path: Path) -> None:
    asl = json.loads(emit(FLOW))
    cfn = _cfn()
    nested = json.loads(emit_source(NESTED, sfn_format="cloudformation").text)
    for definition in (asl, cfn_definition(cfn), cfn_definition(nested)):
        assert statelint_problems(definition) == []
    results = asl_validator({"asl": asl, "cfn": cfn_definition(cfn), "nested": cfn_definition(nested)}, tmp_path)
    assert {k: v for k, v in results.items() if v} == {}
    done = cfn_lint({"gang": json.dumps(cfn), "nested": json.dumps(nested)}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_rejects_a_broken_multinode_definition(tmp_path: Path) -> None:
    """cfn-lint checks the multinode definition's schema: a misspelt key is reported."""
    cfn = _cfn()
    for resource in cfn["Resources"].values():
        if resource["Type"] == "AWS::Batch::JobDefinition" and resource["Properties"]["Type"] == "multinode":
            resource["Properties"]["NodeProperties"]["MainNodes"] = 0
    done = cfn_lint({"broken": json.dumps(cfn)}, tmp_path)
    assert done.returncode != 0 and "MainNodes" in done.stdout


def test_gang_is_a_warning_naming_the_compute_environment_it_needs() -> None:
    emitted = emit_source((ROOT / FLOW).read_text(), "g.py")
    assert {d.code for d in emitted.diagnostics} == {"FLOW231"}
    assert all(d.severity == "warning" for d in emitted.diagnostics)


# --------------------------------------------------------------------------- executions on moto

@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory):
    from tests.harness.moto_sfn import MotoSfn

    with MotoSfn(tmp_path_factory.mktemp("sfn-gang"), max_processes=2) as harness:
        harness.register_multinode_job_definition(MULTINODE_DEFINITION)
        yield harness


def test_gang_runs_as_a_multinode_job_on_moto(aws, tmp_path: Path) -> None:
    """The execution reads the run-time size back, submits one multi-node job whose nodes the
    harness starts with Batch's environment, and ends with flowc run's artifacts."""
    from tests.harness.artifacts import run_locally, snapshot
    from tests.harness.moto_sfn import _environ

    flow, text = deploy_gang_flow(aws)
    result = aws.run(text, {"nodes": "3"}, timeout=240)
    assert result.status == "SUCCEEDED", execution_report(result)
    gang_jobs = [j for j in result.jobs if j["name"] == "GangFlow-train"]
    assert len(gang_jobs) == 1  # one job for the whole gang
    with _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
        remote = snapshot(SFN_DATASTORE, flow.name, result.name)
    local_id = run_locally(ROOT / FLOW, tmp_path, params={"nodes": "3"})
    local = snapshot(tmp_path / "datastore", flow.name, local_id)
    assert sorted(remote["train"]) == ["t_0", "t_1", "t_2"]
    assert without_main_ip(remote) == without_main_ip(local)
    assert remote["train"]["t_1"]["main"] == "127.0.0.1"  # AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS


def test_failed_gang_member_fails_the_execution_on_moto(aws) -> None:
    _, text = deploy_gang_flow(aws)
    result = aws.run(text, {"nodes": "2", "fail_rank": "1"}, timeout=240)
    assert result.status == "FAILED"
    (gang,) = [j for j in result.jobs if j["name"] == "GangFlow-train"]
    log = Path(gang["log"]).read_text()
    assert gang["exit_code"] == 1 and "gang member GangFlow/" in log and "/train/t_1 failed" in log
    assert not [j for j in result.jobs if j["name"] == "GangFlow-join"]
