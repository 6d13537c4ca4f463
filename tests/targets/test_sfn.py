"""The Step Functions target's output: golden files, determinism, width independence, size, the
lowering of each decorator, and the diagnostics for what Step Functions cannot express."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowc.compiler import compile_file, compile_source, ir
from flowc.compiler.diagnostics import REGISTRY
from flowc.plan import build as build_plan
from flowc.targets import get_target
from flowc.settings import SettingsError
from flowc.targets import sfn, sfn_asl
from flowc.plan import CONSTRUCTS
from flowc.compiler.cron import to_aws as aws_cron
from tests.conftest import ROOT, example_flows, shape_flows, target_settings
from tests.targets.sfn_helpers import emit, emit_source

EXAMPLES = example_flows()
SHAPES = shape_flows()
ALL = [("", p) for p in EXAMPLES] + [("flows/", p) for p in SHAPES]
IDS = [prefix + p.stem for prefix, p in ALL]
METAFLOW_START_FOREACH_JOIN_END_BYTES = 43_837  # Metaflow's definition, measured for the issue


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Flow paths are compiled relative to the repository, as `flowc compile examples/x.py` does.
    monkeypatch.chdir(ROOT)


def states_of(definition: dict) -> dict[str, dict]:
    """Every state at any depth (Parallel branches, Map bodies), by name."""
    out: dict[str, dict] = {}
    for name, state in definition["States"].items():
        out[name] = state
        for branch in state.get("Branches", []):
            out.update(states_of(branch))
        if "ItemProcessor" in state:
            out.update(states_of(state["ItemProcessor"]))
    return out


# --------------------------------------------------------------------------- goldens


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_golden(prefix: str, path: Path, golden) -> None:
    golden.check(f"sfn/{prefix}{path.stem}.json", emit(path))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_golden_cloudformation(path: Path, golden) -> None:
    golden.check(f"sfn/cloudformation/{path.stem}.json", emit(path, sfn_format="cloudformation"))


def test_output_is_deterministic_and_free_of_machine_details(tmp_path: Path) -> None:
    path = next(p for p in EXAMPLES if p.stem == "train")
    first, second = emit(path), emit(path)
    assert first == second
    assert str(ROOT) not in first and str(tmp_path) not in first
    assert first.endswith("}\n")


@pytest.mark.parametrize("prefix,path", ALL, ids=IDS)
def test_state_names_are_short_and_every_task_runs_the_shim(prefix: str, path: Path) -> None:
    definition = json.loads(emit(path))
    flow = compile_file(path.relative_to(ROOT)).flow
    states = states_of(definition)
    assert all(len(name) <= 80 for name in states)
    tasks = {n: s for n, s in states.items() if s.get("Resource") == sfn_asl.BATCH_SUBMIT_SYNC}
    assert sorted(tasks) == sorted(flow.step_names)
    for name, task in tasks.items():
        command = task["Parameters"]["ContainerOverrides"]["Command.$"]
        assert command.startswith("States.Array('python', '-m', 'flowc.runtime_shim', ")
        assert f"'--step', '{name}', '--run-id', $.run, " in command
        assert "'--attempt', States.Format('{}', $$.State.RetryCount)" in command
        assert "manifest_version" not in json.dumps(task)  # the manifest never rides in the overrides
        assert task["ResultPath"] is None


# --------------------------------------------------------------------------- shape of the machine


def test_foreach_is_a_distributed_map_reading_the_indices_from_the_datastore() -> None:
    definition = json.loads(emit(ROOT / "tests/flows/foreach.py",
                                 datastore_root="s3://bucket/some/prefix"))
    fan = definition["States"]["start-foreach"]
    assert fan["Type"] == "Map"
    assert fan["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert fan["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {
            "Bucket": "bucket",
            "Key.$": "States.Format('some/prefix/ForeachFlow/runs/{}/start/{}/foreach_indices.json', "
                     "$.run, $.tid)",
        },
    }
    # The run id travels explicitly: inside a Distributed Map child $$.Execution.Name is the child's.
    assert fan["ItemSelector"] == {
        "run.$": "$.run",
        "path.$": "States.Format('{}', $$.Map.Item.Value)",
        "tid.$": "States.Format('{}_{}', $.tid, $$.Map.Item.Value)",
    }
    assert fan["ResultPath"] is None and fan["Next"] == "join"
    body = fan["ItemProcessor"]["States"]["square"]
    assert "'--index-path', $.path" in body["Parameters"]["ContainerOverrides"]["Command.$"]
    assert body["End"] is True and body["OutputPath"] is None


def test_nested_foreach_extends_the_index_path() -> None:
    states = states_of(json.loads(emit(ROOT / "tests/flows/nested_foreach.py")))
    maps = {n: s for n, s in states.items() if s["Type"] == "Map"}
    assert len(maps) == 3
    inner = [s for s in maps.values() if "{}.{}" in s["ItemSelector"]["path.$"]]
    assert len(inner) == 2
    for state in inner:
        assert state["ItemSelector"]["path.$"] == "States.Format('{}.{}', $.path, $$.Map.Item.Value)"


def test_switch_reads_the_case_and_chooses_the_next_step() -> None:
    states = json.loads(emit(ROOT / "tests/flows/switch.py"))["States"]
    read = states["start-case"]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"]["Key.$"].endswith("/start/{}/switch_case.json', $.run, $.tid)")
    assert read["ResultSelector"] == {"value.$": "States.StringToJson($.Body)"}
    assert read["ResultPath"] == "$.case"
    assert states["start-switch"] == {"Type": "Choice", "Choices": [
        {"Variable": "$.case.value.next_step", "StringEquals": "high", "Next": "high"},
        {"Variable": "$.case.value.next_step", "StringEquals": "low", "Next": "low"},
    ]}


def test_recursion_loops_back_counting_with_math_add() -> None:
    states = json.loads(emit(ROOT / "tests/flows/recursion.py"))["States"]
    assert states["start"]["Next"] == "loop-enter"
    assert states["loop-enter"]["Parameters"] == {"run.$": "$.run", "tid.$": "$.tid", "iter": 0,
                                                  "rtid.$": "$.tid"}
    again = states["loop-again"]
    assert again["Parameters"]["iter.$"] == "States.MathAdd($.iter, 1)"
    assert again["Parameters"]["rtid.$"] == "States.Format('{}_r{}', $.tid, States.MathAdd($.iter, 1))"
    assert again["Next"] == "loop"
    assert "'--iteration', States.Format('{}', $.iter)" in \
        states["loop"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert states["loop-case"]["Parameters"]["Key.$"].endswith("switch_case.json', $.run, $.rtid)")
    choices = {c["StringEquals"]: c["Next"] for c in states["loop-switch"]["Choices"]}
    assert choices == {"loop": "loop-again", "end": "end"}


def test_static_branches_are_a_parallel() -> None:
    states = json.loads(emit(ROOT / "tests/flows/branch.py"))["States"]
    parallel = states["start-branches"]
    assert parallel["Type"] == "Parallel" and parallel["ResultPath"] is None
    assert [b["StartAt"] for b in parallel["Branches"]] == ["left", "middle", "right"]
    assert parallel["Next"] == "join"


# --------------------------------------------------------------------------- decorators

DECORATED = '''
from flowc import FlowSpec, Parameter, step, retry, timeout, resources, batch, environment

class D(FlowSpec):
    alpha = Parameter("alpha", default=0.5)

    @retry(times=4, minutes_between_retries=0.5)
    @timeout(minutes=2, seconds=5)
    @resources(cpu=2, memory=8192, gpu=1)
    @environment(vars={"MODE": "fast", "QUOTE": "it's {x}"})
    @step
    def start(self):
        self.next(self.end)

    @batch(cpu=4, memory="16Gi", queue="gpu-queue")
    @step
    def end(self):
        pass
'''


def test_decorators_become_retry_timeout_resources_environment_queue() -> None:
    emitted = emit_source(DECORATED)
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
    states = json.loads(emitted.text)["States"]
    start, end = states["start"], states["end"]
    assert start["Retry"] == [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 30, "MaxAttempts": 4,
                               "BackoffRate": 1.0}]
    assert '"BackoffRate": 1.0' in emitted.text  # a float, as AWS wants
    assert start["TimeoutSeconds"] == 125 + 30  # the shim times out first (so @catch can record it)
    overrides = start["Parameters"]["ContainerOverrides"]
    assert overrides["ResourceRequirements"] == [
        {"Type": "VCPU", "Value": "2"}, {"Type": "MEMORY", "Value": "8192"}, {"Type": "GPU", "Value": "1"}]
    assert overrides["Environment"] == [
        {"Name": "MODE", "Value": "fast"},
        {"Name": "QUOTE", "Value": "it's {x}"},
        {"Name": "FLOWC_PARAMS", "Value.$": "States.JsonToString($$.Execution.Input)"},
    ]
    assert start["Parameters"]["JobQueue"] == "flowc-job-queue"
    assert end["Parameters"]["JobQueue"] == "gpu-queue"
    assert end["Parameters"]["ContainerOverrides"]["ResourceRequirements"] == [
        {"Type": "VCPU", "Value": "4"}, {"Type": "MEMORY", "Value": "16384"}]
    assert "Environment" not in end["Parameters"]["ContainerOverrides"]  # parameters go to start only
    assert "Retry" not in end and "TimeoutSeconds" not in end


def test_intrinsic_literals_are_escaped() -> None:
    assert sfn_asl.literal("it's {x} \\ y") == "'it\\'s \\{x\\} \\\\ y'"
    assert sfn_asl.call("Array", "a'b", sfn_asl.path("run"), 1) == "States.Array('a\\'b', $.run, 1)"
    assert sfn_asl.fmt("a{b}/{}", sfn_asl.path("run")) == "States.Format('a\\{b\\}/{}', $.run)"
    with pytest.raises(ValueError):
        sfn_asl.path("a[0]")
    with pytest.raises(ValueError):
        sfn_asl.fmt("{}{}", sfn_asl.path("run"))


def test_long_step_names_are_shortened_stably() -> None:
    long = "s" * 90
    name = sfn_asl.state_name(long, "foreach")
    assert len(name) == 80 and name == sfn_asl.state_name(long, "foreach")
    assert name != sfn_asl.state_name(long, "switch")
    assert sfn_asl.state_name("start", "foreach") == "start-foreach"


@pytest.mark.parametrize("unix,aws", [
    ("0 0 * * *", "cron(0 0 * * ? *)"),
    ("@daily", "cron(0 0 * * ? *)"),
    ("@hourly", "cron(0 * * * ? *)"),
    ("30 6 * * 1-5", "cron(30 6 ? * 2-6 *)"),
    ("0 0 * * 0", "cron(0 0 ? * 1 *)"),
    ("0 0 * * 7", "cron(0 0 ? * 1 *)"),
    ("0 12 * * MON,FRI", "cron(0 12 ? * MON,FRI *)"),
    ("0 0 1 * *", "cron(0 0 1 * ? *)"),
    ("0 5 ? * MON *", "cron(0 5 ? * MON *)"),
    ("0 0 1 * 1", None),
])
def test_cron_to_eventbridge(unix: str, aws: str | None) -> None:
    assert aws_cron(unix) == aws


def test_cloudformation_has_one_job_definition_per_configuration_and_a_timezone_schedule() -> None:
    source = '''
from flowc import FlowSpec, step, batch, schedule

@schedule(cron="30 6 * * 1-5", timezone="Europe/Paris")
class C(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @batch(image="gpu:1", iam_role="arn:aws:iam::1:role/j")
    @step
    def a(self):
        self.next(self.b)

    @batch(image="gpu:1", iam_role="arn:aws:iam::1:role/j")
    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
    assert [d.code for d in emit_source(source).diagnostics] == [sfn.NEEDS_JOB_DEFINITION] * 2 + \
        [sfn.SCHEDULE_NEEDS_CFN]
    emitted = emit_source(source, sfn_format="cloudformation", image="base:1")
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
    template = json.loads(emitted.text)
    resources = template["Resources"]
    assert list(resources) == ["JobDefinitionStart", "JobDefinitionA", "StateMachine", "Schedule",
                               "StateMachineRole", "JobRole", "SchedulerRole"]
    assert resources["JobDefinitionA"]["Properties"]["ContainerProperties"]["JobRoleArn"] == \
        "arn:aws:iam::1:role/j"
    assert resources["JobDefinitionStart"]["Properties"]["ContainerProperties"]["JobRoleArn"] == \
        {"Fn::If": ["CreateJobRole", {"Fn::GetAtt": ["JobRole", "Arn"]}, {"Ref": "JobRoleArn"}]}
    assert resources["SchedulerRole"]["Condition"] == "CreateSchedulerRole"
    images = {k: v["Properties"]["ContainerProperties"]["Image"] for k, v in resources.items()
              if k.startswith("JobDefinition")}
    assert images == {"JobDefinitionStart": "base:1", "JobDefinitionA": "gpu:1"}
    env = resources["JobDefinitionA"]["Properties"]["ContainerProperties"]["Environment"]
    assert env[0]["Name"] == "FLOWC_MANIFEST"
    assert "".join(env[0]["Value"]["Fn::Join"][1]).startswith('{\n  "manifest_version": 1,')
    machine = resources["StateMachine"]["Properties"]
    definition = json.loads(machine["DefinitionString"])
    states = definition["States"]
    assert states["a"]["Parameters"]["JobDefinition"] == "${JobDefinitionA}"
    assert states["b"]["Parameters"]["JobDefinition"] == "${JobDefinitionA}"
    assert states["end"]["Parameters"]["JobDefinition"] == "${JobDefinitionStart}"
    assert states["end"]["Parameters"]["JobQueue"] == "${JobQueue}"
    assert "--manifest" not in machine["DefinitionString"]
    assert machine["DefinitionSubstitutions"] == {
        "JobQueue": {"Ref": "JobQueue"}, "JobDefinitionStart": {"Ref": "JobDefinitionStart"},
        "JobDefinitionA": {"Ref": "JobDefinitionA"}}
    schedule = resources["Schedule"]["Properties"]
    assert schedule["ScheduleExpression"] == "cron(30 6 ? * 2-6 *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["Target"]["Arn"] == {"Ref": "StateMachine"}


# --------------------------------------------------------------------------- scale and size


def _width_source(width: int) -> str:
    return f'''
from flowc import FlowSpec, step
class W(FlowSpec):
    @step
    def start(self):
        self.items = list(range({width}))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = len(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_definition_is_identical_for_any_foreach_width() -> None:
    # The width only changes the source (so its hash): pin the manifest object, compare the rest.
    texts = {emit_source(_width_source(w), sfn_manifest="s3://b/manifest.json").text
             for w in (1, 3, 1000, 50_000)}
    assert len(texts) == 1


def test_size_against_metaflow(capsys: pytest.CaptureFixture[str]) -> None:
    text = emit_source(_width_source(3)).text
    size = len(text.encode("utf-8"))
    with capsys.disabled():
        print(f"\n[sfn size] start -> foreach -> join -> end: {size} bytes "
              f"(Metaflow {METAFLOW_START_FOREACH_JOIN_END_BYTES}; "
              f"ratio {METAFLOW_START_FOREACH_JOIN_END_BYTES / size:.1f}x smaller)")
    assert size <= METAFLOW_START_FOREACH_JOIN_END_BYTES / 4


def test_overrides_stay_small_whatever_the_flow_size() -> None:
    # 300 steps with long docstrings: the manifest grows, the overrides do not.
    steps = "\n".join(
        f'''
    @step
    def s{i}(self):
        """{'docstring ' * 40}"""
        self.next(self.s{i + 1})''' for i in range(300))
    source = f'''
from flowc import FlowSpec, step
class Big(FlowSpec):
    @step
    def start(self):
        self.next(self.s0)
{steps}

    @step
    def s300(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
    emitted = emit_source(source)
    assert [d for d in emitted.diagnostics if d.severity == "error"] == []
    flow = compile_source(source, "flow.py").flow
    assert len(ir.dump_manifest(flow)) > 100_000
    states = json.loads(emitted.text)["States"]
    worst = max(sfn.overrides_size(states[name], 0) for name in flow.step_names)
    assert worst < 1_000


# --------------------------------------------------------------------------- diagnostics


def _codes(source: str, **settings) -> list[tuple[str, str, int]]:
    return [(d.code, d.severity, d.span.line) for d in emit_source(source, **settings).diagnostics]


def test_gangs_and_triggers_are_refused_at_their_lines() -> None:
    source = '''
from flowc import FlowSpec, step, parallel, trigger

@trigger(event="data_ready")
class G(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

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
'''
    emitted = emit_source(source)
    assert emitted.text == ""
    got = sorted((d.code, d.span.line) for d in emitted.diagnostics)
    assert got == [(sfn.GANG_MULTINODE, 8), (sfn.GANG_MULTINODE, 10), (sfn.NO_TRIGGER, 4)]
    assert all("AWS Step Functions" in d.message and d.hint for d in emitted.diagnostics)


def test_settings_errors() -> None:
    source = _width_source(2)
    assert [c for c, *_ in _codes(source, datastore_root="/tmp/ds")] == [sfn.NOT_S3]
    with pytest.raises(SettingsError, match="'sfn_format' must be one of asl, cloudformation"):
        _codes(source, sfn_format="yaml")


def test_oversized_environment_is_refused() -> None:
    source = '''
from flowc import FlowSpec, step, environment

class E(FlowSpec):
    @environment(vars={"BIG": "x" * 9000})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''.replace('"x" * 9000', repr("x" * 9000))
    emitted = emit_source(source)
    assert emitted.text == ""
    [diag] = emitted.diagnostics
    assert diag.code == sfn.OVERRIDES_TOO_LARGE and diag.span.line == 7 and "'start'" in diag.message


def test_kubernetes_is_a_warning_and_its_sizes_are_used() -> None:
    source = '''
from flowc import FlowSpec, step, kubernetes

class K(FlowSpec):
    @kubernetes(cpu=3, memory=2048)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
    emitted = emit_source(source)
    assert [(d.code, d.severity, d.span.line) for d in emitted.diagnostics] == \
        [(sfn.KUBERNETES_IGNORED, "warning", 5)]
    start = json.loads(emitted.text)["States"]["start"]
    assert start["Parameters"]["ContainerOverrides"]["ResourceRequirements"][:2] == [
        {"Type": "VCPU", "Value": "3"}, {"Type": "MEMORY", "Value": "2048"}]


def test_every_code_is_registered_in_the_sfn_range() -> None:
    codes = [sfn.NOT_S3, sfn.GANG_MULTINODE, sfn.NO_TRIGGER, sfn.NEEDS_JOB_DEFINITION,
             sfn.OVERRIDES_TOO_LARGE, sfn.KUBERNETES_IGNORED, sfn.SCHEDULE_NEEDS_CFN,
             sfn.CRON_NOT_AWS]
    assert all(230 <= int(code[4:]) <= 259 and code in REGISTRY for code in codes)


def test_target_interface() -> None:
    target = get_target("sfn")
    assert target.name == "sfn"
    assert set(target.capabilities) == {key for key, _ in CONSTRUCTS}
    assert isinstance(target.emit(build_plan(compile_file(Path("tests/flows/linear.py")).flow), target_settings()).text, str)


@pytest.mark.parametrize("url,bucket,prefix", [
    ("s3://b", "b", ""), ("s3://b/", "b", ""), ("s3://b/p", "b", "p/"), ("s3://b/p/q/", "b", "p/q/"),
])
def test_datastore_root_parsing(url: str, bucket: str, prefix: str) -> None:
    assert sfn_asl.S3Root.parse(url) == sfn_asl.S3Root(bucket, prefix)
    assert sfn_asl.S3Root.parse("/local/dir") is None


def test_manifest_location_follows_the_manifest() -> None:
    flow = compile_file(Path("tests/flows/linear.py")).flow
    location = sfn.manifest_location(flow, target_settings(datastore_root="s3://b/p/"))
    digest = __import__("hashlib").sha256(sfn.manifest_text(flow).encode()).hexdigest()
    assert location == f"s3://b/p/LinearFlow/manifests/{digest}.json"
    assert ir.load_manifest(sfn.manifest_text(flow)) == flow
    explicit = target_settings(sfn_manifest="s3://other/m.json")
    assert sfn.manifest_location(flow, explicit) == "s3://other/m.json"


def test_cli_compiles_to_sfn(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowc.cli import main

    out = tmp_path / "linear.json"
    result = CliRunner().invoke(main, ["compile", "tests/flows/linear.py", "--target", "sfn",
                                       "--sfn-format", "cloudformation", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["Resources"]["StateMachine"]["Type"] == \
        "AWS::StepFunctions::StateMachine"
    flags = CliRunner().invoke(main, ["compile", "tests/flows/linear.py", "--target", "sfn",
                                      "--sfn-job-definition", "jd", "--sfn-job-queue", "q"])
    start = json.loads(flags.output)["States"]["start"]["Parameters"]
    assert (start["JobDefinition"], start["JobQueue"]) == ("jd", "q")
    refused = CliRunner().invoke(main, ["compile", "tests/flows/linear.py", "--target", "sfn",
                                        "--datastore-root", str(tmp_path)])
    assert refused.exit_code == 1 and "FLOW230" in refused.output
