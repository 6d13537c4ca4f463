"""Metaflow's run-time semantics through the shim, driven in-process (fast)."""

from __future__ import annotations

import json

import pytest

from flowc.exceptions import CaughtException
from tests.conftest import shape_flows
from tests.runtime_shim.driver import RunFailed, drive, write_flow


@pytest.mark.parametrize("path", shape_flows(), ids=lambda p: p.stem)
def test_every_shape_matches_flowc_run(path, tmp_path):
    """A minimal orchestrator that knows only the manifest and each TaskResult gets exactly the
    artifacts, task ids and join orders that ``flowc run`` gets."""
    from tests.harness import run_locally, snapshot

    driven = drive(path, str(tmp_path / "ds"), run_id="driven")
    assert driven.done("end") is not None
    assert all(r.ok or r.retryable for r in driven.results)
    run_id = run_locally(path, tmp_path / "reference")
    ours = snapshot(tmp_path / "ds", driven.flow.name, "driven", include_private=True)
    theirs = snapshot(tmp_path / "reference" / "datastore", driven.flow.name, run_id, include_private=True)
    assert ours == theirs


def test_foreach_inputs_come_in_index_order_with_stack(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, step

        class NestFlow(FlowSpec):
            @step
            def start(self):
                self.outer = ["a", "b"]
                self.next(self.mid, foreach="outer")

            @step
            def mid(self):
                self.inner = [1, 2, 3]
                self.next(self.leaf, foreach="inner")

            @step
            def leaf(self):
                self.tag = (self.foreach_stack(), self.index, self.input)
                self.next(self.inner_join)

            @step
            def inner_join(self, inputs):
                self.tags = [i.tag for i in inputs]
                self.index_after = self.index
                self.next(self.outer_join)

            @step
            def outer_join(self, inputs):
                self.all = [i.tags for i in inputs]
                self.stack_after = self.foreach_stack()
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"))
    everything = driven.artifact("outer_join", "all")
    assert [[t[2] for t in tags] for tags in everything] == [[1, 2, 3], [1, 2, 3]]
    assert everything[1][2] == ([(1, 2, "b"), (2, 3, 3)], 2, 3)
    assert driven.artifact("inner_join", "index_after", "t_1") == 1
    assert driven.artifact("outer_join", "stack_after") == []
    assert driven.done("leaf", "t_1_2") is not None


def test_join_inherits_only_parameters_and_inputs_by_name(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, Parameter, step

        class BranchFlow(FlowSpec):
            p = Parameter("p", default=3)

            @step
            def start(self):
                self.shared = "s"
                self.next(self.a, self.b)

            @step
            def a(self):
                self.x = "from a"
                self.next(self.join)

            @step
            def b(self):
                self.x = "from b"
                self.next(self.join)

            @step
            def join(self, inputs):
                self.got = (inputs.a.x, inputs.b.x, [i.x for i in inputs], self.p)
                self.has_shared = hasattr(self, "shared")
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"), params={"p": "7"})
    assert driven.artifact("join", "got") == ("from a", "from b", ["from a", "from b"], 7)
    assert driven.artifact("join", "has_shared") is False
    assert driven.artifact("end", "p") == 7


MERGE = """
    from metaflow import FlowSpec, step

    class MergeFlow(FlowSpec):
        @step
        def start(self):
            self.same = 1
            self.next(self.a, self.b)

        @step
        def a(self):
            self.differs = "a"
            self.only_a = True
            self.next(self.join)

        @step
        def b(self):
            self.differs = "b"
            self.next(self.join)

        @step
        def join(self, inputs):
            {body}
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def _merge_flow(tmp_path, body):
    return write_flow(tmp_path, MERGE.replace("{body}", body))


def test_merge_artifacts_conflict_is_named(tmp_path):
    flow = _merge_flow(tmp_path, "self.merge_artifacts(inputs)")
    with pytest.raises(RunFailed) as info:
        drive(flow, str(tmp_path / "ds"))
    assert "MergeArtifactsException" in info.value.result.error
    assert "differs" in info.value.result.error


def test_merge_artifacts_exclude_and_own_value(tmp_path):
    flow = _merge_flow(tmp_path, "self.merge_artifacts(inputs, exclude=['differs'])")
    driven = drive(flow, str(tmp_path / "ds"))
    assert driven.artifact("end", "same") == 1
    assert driven.artifact("end", "only_a") is True
    assert "differs" not in driven.done("end")["artifacts"]
    flow = _merge_flow(tmp_path, "self.differs = 'mine'; self.merge_artifacts(inputs)")
    driven = drive(flow, str(tmp_path / "ds2"))
    assert driven.artifact("end", "differs") == "mine"


def test_merge_artifacts_include(tmp_path):
    flow = _merge_flow(tmp_path, "self.merge_artifacts(inputs, include=['same'])")
    driven = drive(flow, str(tmp_path / "ds"))
    assert set(driven.done("end")["artifacts"]) == {"_foreach_stack", "same"}
    flow = _merge_flow(tmp_path, "self.merge_artifacts(inputs, include=['nope'])")
    with pytest.raises(RunFailed, match="MissingInMergeArtifacts"):
        drive(flow, str(tmp_path / "ds2"))


SWITCH = """
    from metaflow import FlowSpec, Parameter, step

    class SwitchFlow(FlowSpec):
        mode = Parameter("mode", default="low")

        @step
        def start(self):
            self.choice = self.mode
            self.next({"low": self.low, "high": self.high}, condition="choice")

        @step
        def low(self):
            self.path = "low"
            self.next(self.end)

        @step
        def high(self):
            self.path = "high"
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_switch_takes_the_chosen_case(tmp_path):
    flow = write_flow(tmp_path, SWITCH)
    driven = drive(flow, str(tmp_path / "ds"), params={"mode": "high"})
    assert driven.artifact("end", "path") == "high"
    assert driven.done("start")["switch"] == {"case": "high", "next_step": "high"}
    assert driven.done("low") is None


def test_switch_value_without_case_is_a_clear_error(tmp_path):
    flow = write_flow(tmp_path, SWITCH)
    with pytest.raises(RunFailed) as info:
        drive(flow, str(tmp_path / "ds"), params={"mode": "medium"})
    assert "'medium', which has no case (cases: low, high)" in info.value.result.error
    assert info.value.result.retryable is False


def test_empty_foreach_is_a_clear_error(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, step

        class EmptyFlow(FlowSpec):
            @step
            def start(self):
                self.items = []
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
    """)
    with pytest.raises(RunFailed, match="over 'items' is empty"):
        drive(flow, str(tmp_path / "ds"))


def test_recursion_counts_iterations_in_task_ids(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, step

        class LoopFlow(FlowSpec):
            @step
            def start(self):
                self.n = 0
                self.next(self.loop)

            @step
            def loop(self):
                self.n += 1
                self.again = "yes" if self.n < 4 else "no"
                self.next({"yes": self.loop, "no": self.end}, condition="again")

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"))
    assert driven.artifact("end", "n") == 4
    assert [r.pathspec.rsplit("/", 1)[1] for r in driven.results if "/loop/" in r.pathspec] == \
        ["t", "t_r1", "t_r2", "t_r3"]
    assert driven.done("end")["parents"] == ["loop/t_r3"]


def test_parameter_types_json_separator_required_and_runtime_default(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_TEST_DEFAULT", "from-env")
    data = tmp_path / "data.txt"
    data.write_text("included text", encoding="utf-8")
    flow = write_flow(tmp_path, f"""
        import os
        from metaflow import FlowSpec, IncludeFile, JSONType, Parameter, step

        class ParamFlow(FlowSpec):
            n = Parameter("n", default=1)
            ratio = Parameter("ratio", default=0.5, type=float)
            flag = Parameter("flag", default=False, type=bool)
            config = Parameter("config", default='{{"k": [1, 2]}}', type=JSONType)
            labels = Parameter("labels", default="a,b", separator=",")
            who = Parameter("who", required=True)
            computed = Parameter("computed", default=os.environ.get("FLOWC_TEST_DEFAULT", "none"))
            late = Parameter("late", default=lambda ctx: ctx.parameter_name + "!")
            text = IncludeFile("text", default={str(data)!r})

            @step
            def start(self):
                self.seen = (self.n, self.ratio, self.flag, self.config, self.labels, self.who,
                             self.computed, self.late, self.text)
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    with pytest.raises(RunFailed, match="parameter 'who' is required"):
        drive(flow, str(tmp_path / "ds0"))
    driven = drive(flow, str(tmp_path / "ds"), params={"who": "me"})
    assert driven.artifact("end", "seen") == (1, 0.5, False, {"k": [1, 2]}, ["a", "b"], "me",
                                              "from-env", "late!", "included text")
    driven = drive(flow, str(tmp_path / "ds2"), params={
        "who": "you", "n": "5", "ratio": "2.5", "flag": "true", "config": json.dumps([3]),
        "labels": "x,y,z"})
    assert driven.artifact("end", "seen")[:6] == (5, 2.5, True, [3], ["x", "y", "z"], "you")
    with pytest.raises(RunFailed, match="cannot read 'abc' as int"):
        drive(flow, str(tmp_path / "ds3"), params={"who": "me", "n": "abc"})


def test_parameters_are_read_only(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, Parameter, step

        class RoFlow(FlowSpec):
            p = Parameter("p", default=1)

            @step
            def start(self):
                self.p = 2
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    with pytest.raises(RunFailed, match="read-only"):
        drive(flow, str(tmp_path / "ds"))


def test_current_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_USER", "tester")
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, Parameter, current, project, step

        @project(name="proj")
        class CurFlow(FlowSpec):
            p = Parameter("p", default=1)

            @step
            def start(self):
                self.facts = dict(flow=current.flow_name, run=current.run_id, step=current.step_name,
                                  task=current.task_id, retry=current.retry_count,
                                  pathspec=current.pathspec, params=current.parameter_names,
                                  running=current.is_running_flow, project=current.project_name,
                                  branch=current.branch_name,
                                  project_flow=current.project_flow_name)
                current.card.append("a card component")  # @card steps keep working
                self.card_components = len(current.card.components)
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"), run_id="run-7")
    assert driven.artifact("end", "facts") == dict(
        flow="CurFlow", run="run-7", step="start", task="t", retry=0,
        pathspec="CurFlow/run-7/start/t", params=["p"], running=True, project="proj",
        branch="user.tester", project_flow="proj.user.tester.CurFlow")
    assert driven.artifact("end", "card_components") == 1
    from flowc import current

    assert current.is_running_flow is False


def test_retry_then_success_and_catch_after_failure(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, catch, current, retry, step

        class FaultFlow(FlowSpec):
            @retry(times=2)
            @step
            def start(self):
                if current.retry_count < 2:
                    raise RuntimeError("flaky %d" % current.retry_count)
                self.attempts_needed = current.retry_count
                self.next(self.risky)

            @catch(var="failure", print_exception=False)
            @retry(times=1)
            @step
            def risky(self):
                self.before = "kept"
                raise ValueError("always")
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"))
    starts = [r for r in driven.results if "/start/" in r.pathspec]
    assert [(r.ok, r.retryable) for r in starts] == [(False, True), (False, True), (True, False)]
    assert driven.artifact("end", "attempts_needed") == 2
    failure = driven.artifact("end", "failure")
    assert isinstance(failure, CaughtException)
    assert failure.type == "builtins.ValueError" and failure.exception == "always"
    assert driven.artifact("end", "before") == "kept"
    risky = [r for r in driven.results if "/risky/" in r.pathspec]
    assert [(r.ok, r.caught) for r in risky] == [(False, False), (True, True)]
    assert driven.done("risky")["attempt"] == 1


def test_timeout_interrupts_a_sleeping_step(tmp_path):
    flow = write_flow(tmp_path, """
        import time
        from metaflow import FlowSpec, step, timeout

        class SlowFlow(FlowSpec):
            @timeout(seconds=1)
            @step
            def start(self):
                time.sleep(300)  # far longer than the bound below, however loaded the machine
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    import time

    began = time.monotonic()
    with pytest.raises(RunFailed) as info:
        drive(flow, str(tmp_path / "ds"))
    assert time.monotonic() - began < 120
    assert info.value.result.error_type == "TimeoutException"
    assert "exceeded its @timeout of 1 seconds" in info.value.result.error


def test_environment_and_secrets_are_applied_then_restored(tmp_path, monkeypatch):
    secret_file = tmp_path / "secret.env"
    secret_file.write_text("# comment\nDB_PASSWORD='hunter2'\n", encoding="utf-8")
    monkeypatch.setenv("API_CREDS", json.dumps({"API_TOKEN": "tok"}))
    flow = write_flow(tmp_path, f"""
        import os
        from metaflow import FlowSpec, environment, secrets, step

        class EnvFlow(FlowSpec):
            @secrets(sources=["env:API_CREDS", "file:{secret_file}"])
            @environment(vars={{"MODE": "fast"}})
            @step
            def start(self):
                self.seen = (os.environ["MODE"], os.environ["API_TOKEN"], len(os.environ["DB_PASSWORD"]))
                self.next(self.end)

            @step
            def end(self):
                self.after = os.environ.get("MODE")
    """)
    import os

    driven = drive(flow, str(tmp_path / "ds"))
    assert driven.artifact("end", "seen") == ("fast", "tok", 7)
    assert driven.artifact("end", "after") is None
    assert "MODE" not in os.environ and "DB_PASSWORD" not in os.environ


def test_missing_secret_names_the_source_not_the_value(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, secrets, step

        class SecFlow(FlowSpec):
            @secrets(sources=["env:NOT_SET_ANYWHERE"])
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    with pytest.raises(RunFailed, match="env:NOT_SET_ANYWHERE: environment variable NOT_SET_ANYWHERE is not set"):
        drive(flow, str(tmp_path / "ds"))


def test_unchanged_inherited_artifacts_are_not_rewritten(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, step

        class PassFlow(FlowSpec):
            @step
            def start(self):
                self.big = b"x" * 1000
                self.next(self.middle)

            @step
            def middle(self):
                self.size = len(self.big)
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"))
    shas = {step: driven.done(step)["artifacts"]["big"]["sha"] for step in ("start", "middle", "end")}
    assert len(set(shas.values())) == 1
    assert driven.artifact("end", "size") == 1000


def test_parallel_gang_sees_its_node_index(tmp_path):
    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, current, parallel, step

        class GangFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.train, num_parallel=3)

            @parallel
            @step
            def train(self):
                self.node = (current.parallel.node_index, current.parallel.num_nodes, self.index)
                self.next(self.join)

            @step
            def join(self, inputs):
                self.nodes = [i.node for i in inputs]
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"))
    assert driven.artifact("end", "nodes") == [(0, 3, 0), (1, 3, 1), (2, 3, 2)]
    assert driven.done("start")["foreach"] == {"width": 3, "var": None}


def test_timeout_on_a_worker_thread(tmp_path):
    import threading

    flow = write_flow(tmp_path, """
        from metaflow import FlowSpec, step, timeout

        class BusyFlow(FlowSpec):
            @timeout(seconds=1)
            @step
            def start(self):
                while True:  # pure Python: interrupted by an asynchronous exception
                    pass
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    outcome: list[BaseException] = []

    def work():
        try:
            drive(flow, str(tmp_path / "ds"))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert isinstance(outcome[0], RunFailed)
    assert outcome[0].result.error_type == "TimeoutException"
    assert "exceeded its @timeout of 1 seconds" in outcome[0].result.error


def test_secret_values_reach_the_step_but_no_record(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_SOURCE", json.dumps({"TOKEN": "s3cr3t-value"}))
    flow = write_flow(tmp_path, """
        import os
        from metaflow import FlowSpec, secrets, step

        class QuietFlow(FlowSpec):
            @secrets(sources=["env:SECRET_SOURCE"])
            @step
            def start(self):
                self.length = len(os.environ["TOKEN"])
                raise RuntimeError("failing with the secret in the environment")
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    with pytest.raises(RunFailed):
        drive(flow, str(tmp_path / "ds"))
    stored = b"".join(p.read_bytes() for p in (tmp_path / "ds").rglob("*") if p.is_file())
    assert b"failing with the secret" in stored
    assert b"s3cr3t-value" not in stored


def test_run_task_reports_instead_of_raising(tmp_path):
    from flowc.runtime_shim.datastore import open_datastore
    from flowc.runtime_shim.task import TaskRequest, run_task
    from tests.runtime_shim.driver import prepare

    flow, cls = prepare(write_flow(tmp_path, SWITCH))
    store = open_datastore(str(tmp_path / "ds"))
    unknown = run_task(TaskRequest(cls, flow, "nope", "r1", store))
    assert not unknown.ok and not unknown.retryable and "nope" in unknown.error
    orphan = run_task(TaskRequest(cls, flow, "low", "r1", store))
    assert not orphan.ok and "none of its parents (start) has finished" in orphan.error
    bad_param = run_task(TaskRequest(cls, flow, "start", "r1", store, params={"zzz": "1"}))
    assert not bad_param.ok and "unknown parameter(s) zzz; this flow takes: mode" in bad_param.error


def test_binary_include_file_and_dashed_parameter_names(tmp_path):
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"\x00\xffbinary")
    flow = write_flow(tmp_path, f"""
        from metaflow import FlowSpec, IncludeFile, Parameter, step

        class DashFlow(FlowSpec):
            learning_rate = Parameter("learning-rate", default=0.1)
            weights = IncludeFile("weights", is_text=False, default={str(blob)!r})

            @step
            def start(self):
                self.seen = (self.learning_rate, self.weights)
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    driven = drive(flow, str(tmp_path / "ds"), params={"learning-rate": "0.5"})
    assert driven.artifact("end", "seen") == (0.5, b"\x00\xffbinary")
    assert driven.datastore.read_run("DashFlow", "r1")["parameters"] == {
        "learning_rate": 0.5, "weights": "<IncludeFile: 8 bytes>"}
    blob.write_bytes(b"changed after the start step")  # captured once per run, not re-read
    assert driven.artifact("end", "weights") == b"\x00\xffbinary"
    with pytest.raises(RunFailed, match="IncludeFile 'weights': cannot read"):
        drive(flow, str(tmp_path / "ds2"), params={"weights": str(tmp_path / "missing.bin")})
