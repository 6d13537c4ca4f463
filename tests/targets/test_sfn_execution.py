"""Every graph shape runs for real as a Step Functions execution on moto, with AWS Batch jobs as
local shim processes and moto's S3 as the datastore, and ends with the artifacts ``flowc run``
produces (values and join order)."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowc.compiler import compile_file, ir
from flowc.plan import build as build_plan
from flowc.targets import Settings, get_target
from flowc.targets import sfn
from tests.conftest import ROOT, shape_flows, target_settings
from tests.harness.artifacts import run_locally, snapshot
from tests.harness.moto_sfn import Execution, MotoSfn, _environ

logging.getLogger("werkzeug").setLevel(logging.ERROR)

SHAPES = shape_flows()
DATASTORE = "s3://flowc-test/datastore"


def settings_for(aws: MotoSfn, **changes: Any) -> Settings:
    values: dict[str, Any] = {"code_dir": str(ROOT), "python": sys.executable, "datastore_root": DATASTORE,
                              "sfn_job_queue": aws.job_queue, "sfn_job_definition": aws.job_definition}
    return target_settings(**{**values, **changes})


def deploy(aws: MotoSfn, path: Path, **changes: Any) -> tuple[ir.Flow, str]:
    """Compile ``path`` to ASL and upload its manifest where the definition expects it."""
    flow = compile_file(path.relative_to(ROOT)).flow
    settings = settings_for(aws, **changes)
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    assert not [d for d in emitted.diagnostics if d.severity == "error"], emitted.diagnostics
    location = sfn.manifest_location(flow, settings)
    aws.put_text(location.removeprefix(f"s3://{aws.bucket}/"), sfn.manifest_text(flow))
    return flow, emitted.text


def report(result: Execution) -> str:
    lines = [f"execution {result.status}: {result.error} {result.cause}"]
    for job in result.jobs:
        if job["exit_code"]:
            lines.append(f"- job {job['name']} exit {job['exit_code']}: "
                         + Path(job["log"]).read_text(errors="replace")[-2000:])
    return "\n".join(lines)


def s3_snapshot(aws: MotoSfn, flow: ir.Flow, run_id: str) -> dict:
    with _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
        return snapshot(DATASTORE, flow.name, run_id)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory):
    with MotoSfn(tmp_path_factory.mktemp("sfn-moto"), max_processes=4) as harness:
        yield harness


@pytest.fixture(scope="module")
def executions(aws: MotoSfn, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every shape at once on moto and under ``flowc run``; {stem: (flow, result, local)}."""
    base = tmp_path_factory.mktemp("sfn-local")
    started = time.monotonic()
    # A few executions at a time: moto's interpreter and server share one interpreter lock.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        remote = {p.stem: pool.submit(_run_remote, aws, p) for p in SHAPES}
        local = {p.stem: pool.submit(_run_local, p, base / p.stem) for p in SHAPES}
        out = {stem: (*remote[stem].result(), local[stem].result()) for stem in remote}
    print(f"\n[sfn moto] {len(SHAPES)} shapes on moto and flowc run in {time.monotonic() - started:.1f} s")
    return out


def _run_remote(aws: MotoSfn, path: Path) -> tuple[ir.Flow, Execution]:
    flow, text = deploy(aws, path)
    return flow, aws.run(text, {}, name=f"{path.stem}-{uuid.uuid4().hex[:8]}", timeout=600)


def _run_local(path: Path, tmp: Path) -> dict:
    run_id = run_locally(path.relative_to(ROOT), tmp)
    return snapshot(tmp / "datastore", compile_file(path.relative_to(ROOT)).flow.name, run_id)


@pytest.mark.parametrize("path", SHAPES, ids=[p.stem for p in SHAPES])
def test_shape_matches_flowc_run(path: Path, aws: MotoSfn, executions: dict) -> None:
    flow, result, local = executions[path.stem]
    assert result.status == "SUCCEEDED", report(result)
    remote = s3_snapshot(aws, flow, result.name)
    assert remote == local
    # One Batch job per task (retried tasks once per attempt).
    tasks = sum(len(t) for t in remote.values())
    assert len(result.jobs) >= tasks


def test_retry_runs_a_second_attempt(executions: dict) -> None:
    _, result, _ = executions["retry"]
    flaky = [job for job in result.jobs if job["name"].endswith("-flaky")]
    assert [job["exit_code"] for job in flaky] == [1, 0]
    assert [job["command"][job["command"].index("--attempt") + 1] for job in flaky] == ["0", "1"]


def test_recursion_passes_the_iteration(executions: dict) -> None:
    _, result, _ = executions["recursion"]
    loops = [job["command"] for job in result.jobs if job["name"].endswith("-loop")]
    iterations = sorted(command[command.index("--iteration") + 1] for command in loops)
    assert iterations == ["0", "1", "2", "3"]


def test_parameters_from_the_execution_input(aws: MotoSfn, tmp_path: Path) -> None:
    path = ROOT / "tests/flows/parameters.py"
    values = {"who": "moto", "count": 5, "ratio": 0.25, "verbose": True,
              "options": {"depth": 3}, "colors": "blue,cyan"}
    flow, text = deploy(aws, path)
    result = aws.run(text, values, name=f"params-{uuid.uuid4().hex[:8]}")
    assert result.status == "SUCCEEDED", report(result)
    local_id = run_locally(path.relative_to(ROOT), tmp_path, params=values)
    local = snapshot(tmp_path / "datastore", flow.name, local_id)
    remote = s3_snapshot(aws, flow, result.name)
    assert {job["command"][job["command"].index("--run-id") + 1] for job in result.jobs} == {result.name}
    assert remote["start"]["t"]["seen"]["who"] == ["moto", "str"]
    assert remote == local


def test_a_failing_step_fails_the_execution(aws: MotoSfn, tmp_path: Path) -> None:
    source = tmp_path / "failing.py"
    source.write_text('''
from flowc import FlowSpec, step

class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.fail = True
        self.next(self.boom)

    @step
    def boom(self):
        if self.fail:
            raise ValueError("no good")
        self.next(self.end)

    @step
    def end(self):
        pass
''')
    flow = compile_file(source).flow
    settings = settings_for(aws, code_dir=str(tmp_path))
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    location = sfn.manifest_location(flow, settings)
    aws.put_text(location.removeprefix(f"s3://{aws.bucket}/"), sfn.manifest_text(flow))
    result = aws.run(emitted.text, {}, name=f"fail-{uuid.uuid4().hex[:8]}")
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    assert [job["exit_code"] for job in result.jobs] == [0, 1]
    assert "no good" in Path(result.jobs[1]["log"]).read_text()


def test_definition_runs_unchanged_whatever_the_overrides_size(executions: dict) -> None:
    # What Batch received for every job stayed small (the manifest is an S3 object).
    for _, result, _ in executions.values():
        for job in result.jobs:
            assert len(json.dumps(job["command"])) < 2_000


WIDE = '''
from flowc import FlowSpec, step

class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range({width}))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [inp.square for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.squares)
'''


@pytest.mark.slow
def test_a_1000_wide_foreach_runs(aws: MotoSfn, tmp_path: Path) -> None:
    width = 1000
    source = tmp_path / "wide.py"
    source.write_text(WIDE.replace("{width}", str(width)))
    flow = compile_file(source).flow
    # MaxConcurrency 8: every running child polls Batch, and moto serves all polls in this process.
    settings = settings_for(aws, code_dir=str(tmp_path), max_workers=8)
    emitted = get_target("sfn").emit(build_plan(flow), settings)
    aws.put_text(sfn.manifest_location(flow, settings).removeprefix(f"s3://{aws.bucket}/"),
                 sfn.manifest_text(flow))
    result = aws.run(emitted.text, {}, name=f"wide-{uuid.uuid4().hex[:8]}", timeout=1800)
    print(f"\n[sfn moto] {width}-wide foreach: {result.seconds:.1f} s for {len(result.jobs)} Batch jobs")
    assert result.status == "SUCCEEDED", report(result)
    assert len(result.jobs) == width + 3
    end = s3_snapshot(aws, flow, result.name)["end"]["t"]
    assert end["squares"] == [i * i for i in range(width)]  # join order = split-index order
    assert end["total"] == sum(i * i for i in range(width))


def deploy_stack(aws: MotoSfn, path: Path, stack: str) -> tuple[ir.Flow, str]:
    """Create the CloudFormation stack of ``path`` (roles, job definitions, state machine)."""
    flow = compile_file(path.relative_to(ROOT)).flow
    emitted = get_target("sfn").emit(build_plan(flow), settings_for(aws, sfn_format="cloudformation"))
    cfn = aws.client("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=emitted.text, Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "JobQueue", "ParameterValue": aws.job_queue}])
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    return flow, described["Outputs"][0]["OutputValue"]


def test_cloudformation_stack_runs(aws: MotoSfn, tmp_path: Path) -> None:
    """The template deploys as is, and its machine runs with the manifest from the job
    definitions' environment (no --manifest, nothing uploaded)."""
    path = ROOT / "tests/flows/switch_in_foreach.py"
    flow, arn = deploy_stack(aws, path, "switch-in-foreach")
    sfn_client = aws.client("stepfunctions")
    name = f"cfn-{uuid.uuid4().hex[:8]}"
    execution = sfn_client.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"]
    deadline = time.monotonic() + 600
    while sfn_client.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    described = sfn_client.describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED", described
    jobs = [job for job in aws.runner.jobs if name in job["command"]]
    assert jobs and all("--manifest" not in job["command"] for job in jobs)
    local_id = run_locally(path.relative_to(ROOT), tmp_path)
    assert s3_snapshot(aws, flow, name) == snapshot(tmp_path / "datastore", flow.name, local_id)
