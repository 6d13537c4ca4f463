"""Every graph shape, compiled to Argo and run in the test interpreter with the real runtime
shim as each pod's process, leaves the same artifacts as ``flowc run`` of the same flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import example_flows, shape_flows
from tests.harness.argo_interpreter import FAILED, SKIPPED, SUCCEEDED, Interpreter, load_documents
from tests.harness.artifacts import run_locally, snapshot
from tests.targets.argo_helpers import CODE_DIR, emit, failure_report, run_compiled, sensor_submission

SHAPES = shape_flows()

# Parameter sets beyond the defaults, so every switch case runs at least once.
EXTRA_PARAMETERS = {
    "switch": [{"score": "10"}],
    "nested_switch": [{"size": "big", "color": "red"}, {"size": "small"}],
    "branch_in_switch": [{"choice": "single"}],
    "foreach_in_switch": [{"choice": "one"}],
    "recursion": [{"limit": "1"}],
    "parameters": [{"who": "argo users", "count": "5", "ratio": "1.5", "verbose": "true",
                    "options": '{"depth": 1, "tags": []}', "colors": "cyan,magenta,yellow"}],
}

CASES = [(p, None) for p in SHAPES] + [
    (p, params) for p in SHAPES for params in EXTRA_PARAMETERS.get(p.stem, [])
]
EXAMPLES = example_flows()


def _flow_name(run_text: str) -> str:
    for line in run_text.splitlines():
        if "flowc/flow-name:" in line:
            return line.split(":", 1)[1].strip()
    raise AssertionError("no flowc/flow-name annotation")


@pytest.mark.parametrize(
    "path,params", CASES,
    ids=[p.stem + ("" if not params else "-" + "-".join(f"{k}={v}" for k, v in params.items()))
         for p, params in CASES])
def test_argo_run_matches_flowc_run(path: Path, params: dict[str, str] | None, tmp_path: Path):
    run, text = run_compiled(path, tmp_path / "argo", parameters=params)
    assert run.phase == SUCCEEDED, failure_report(run)
    flow_name = _flow_name(text)
    local_id = run_locally(path, tmp_path / "local", params=params)
    argo = snapshot(tmp_path / "argo" / "datastore", flow_name, "argo-run")
    local = snapshot(tmp_path / "local" / "datastore", flow_name, local_id)
    assert argo == local


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_run_like_flowc_run(path: Path, tmp_path: Path):
    run, text = run_compiled(path, tmp_path / "argo")
    assert run.phase == SUCCEEDED, failure_report(run)
    flow_name = _flow_name(text)
    local_id = run_locally(path, tmp_path / "local")
    argo = snapshot(tmp_path / "argo" / "datastore", flow_name, "argo-run")
    local = snapshot(tmp_path / "local" / "datastore", flow_name, local_id)
    assert repr(argo) == repr(local).replace(local_id, "argo-run")


def test_switch_runs_only_the_chosen_branch(tmp_path: Path):
    path = next(p for p in SHAPES if p.stem == "switch")
    run, _ = run_compiled(path, tmp_path, parameters={"score": "10"})
    assert run.phase == SUCCEEDED
    assert run.phases("high") == [SKIPPED]
    assert run.phases("low") == [SUCCEEDED]
    assert run.phases("end") == [SUCCEEDED]


def test_recursion_iterates_through_the_recursive_template(tmp_path: Path):
    path = next(p for p in SHAPES if p.stem == "recursion")
    run, _ = run_compiled(path, tmp_path, parameters={"limit": "3"})
    assert run.phase == SUCCEEDED
    loops = [n for n in run.pods() if n.template == "loop"]
    assert [n.argv[n.argv.index("--iteration") + 1] for n in loops] == ["0", "1", "2"]


def test_retry_runs_the_second_attempt(tmp_path: Path):
    path = next(p for p in SHAPES if p.stem == "retry")
    run, _ = run_compiled(path, tmp_path)
    assert run.phase == SUCCEEDED, failure_report(run)
    flaky = [n for n in run.pods() if n.template == "flaky"]
    assert [n.phase for n in flaky] == [FAILED, SUCCEEDED]
    assert [n.argv[n.argv.index("--attempt") + 1] for n in flaky] == ["0", "1"]


TIMEOUT_FLOW = """
from flowc import FlowSpec, catch, step, timeout
import time


class TimeoutFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @catch(var="problem")
    @timeout(seconds=1)
    @step
    def slow(self):
        time.sleep(20)
        self.finished = True
        self.next(self.end)

    @step
    def end(self):
        self.timed_out = self.problem is not None
"""


def test_timeout_then_catch_matches_flowc_run(tmp_path: Path):
    flow = tmp_path / "code" / "timeout_flow.py"
    flow.parent.mkdir()
    flow.write_text(TIMEOUT_FLOW)
    run, text = run_compiled(flow, tmp_path / "argo")
    assert run.phase == SUCCEEDED, failure_report(run)
    assert "activeDeadlineSeconds: 31" in text
    local_id = run_locally(flow, tmp_path / "local")
    argo = snapshot(tmp_path / "argo" / "datastore", "TimeoutFlow", "argo-run")
    local = snapshot(tmp_path / "local" / "datastore", "TimeoutFlow", local_id)
    # the caught exception's message names the run id, the only expected difference
    assert repr(argo) == repr(local).replace(local_id, "argo-run")
    assert argo["end"]["t"]["timed_out"] is True


FAILING_FLOW = """
from flowc import FlowSpec, retry, step


class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.broken, self.fine)

    @retry(times=1, minutes_between_retries=0)
    @step
    def broken(self):
        raise ValueError("always")
        self.next(self.join)  # never reached, but every step names its successor

    @step
    def fine(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_failing_step_fails_the_workflow_after_its_retries(tmp_path: Path):
    flow = tmp_path / "code" / "failing_flow.py"
    flow.parent.mkdir()
    flow.write_text(FAILING_FLOW)
    run, _ = run_compiled(flow, tmp_path / "argo")
    assert run.phase == FAILED
    broken = [n for n in run.pods() if n.template == "broken"]
    assert [n.phase for n in broken] == [FAILED, FAILED]
    assert "ValueError: always" in broken[-1].stderr
    assert run.phases("fine") == [SUCCEEDED]
    assert run.phases("join") == ["Omitted"] and run.phases("end") == ["Omitted"]
    assert set(snapshot(tmp_path / "argo" / "datastore", "FailingFlow", "argo-run")) == {"start", "fine"}


EVENT_FLOW = """
from flowc import FlowSpec, Parameter, schedule, step, trigger


@schedule(hourly=True)
@trigger(event={"name": "data_ready", "parameters": {"alpha": "size"}})
class EventFlow(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)

    @step
    def start(self):
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_cron_workflow_and_sensor_submissions_run(tmp_path: Path):
    """The CronWorkflow and the Sensor both submit the WorkflowTemplate; the Sensor passes the
    event's field as the parameter and falls back to its default when the event lacks it."""
    flow = tmp_path / "code" / "event_flow.py"
    flow.parent.mkdir()
    flow.write_text(EVENT_FLOW)
    text = emit(flow, datastore_root=str(tmp_path / "datastore"), code_dir=CODE_DIR)
    template, cron, sensor = load_documents(text)
    assert (template["kind"], cron["kind"], sensor["kind"]) == ("WorkflowTemplate", "CronWorkflow", "Sensor")
    common = dict(workflow_templates=[template], path_map={CODE_DIR: str(flow.parent)},
                  shared_paths=[tmp_path])
    assert sensor_submission(sensor, {"payload": {"name": "other_event", "size": 5}}) is None
    runs = {
        "cron": cron,
        "event": sensor_submission(sensor, {"payload": {"name": "data_ready", "size": 21}}),
        "bare-event": sensor_submission(sensor, {"payload": {"name": "data_ready"}}),
    }
    for run_id, document in runs.items():
        run = Interpreter(document, workflow_name=run_id, workdir=tmp_path / run_id, **common).run()
        assert run.phase == SUCCEEDED, failure_report(run)
    doubled = {run_id: snapshot(tmp_path / "datastore", "EventFlow", run_id)["start"]["t"]["doubled"]
               for run_id in runs}
    assert doubled == {"cron": 2, "event": 42, "bare-event": 2}
