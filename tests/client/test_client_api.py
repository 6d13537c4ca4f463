"""flowc-specific parts of the client: ``--tag`` / ``--namespace`` on ``flowc run``, the
namespace a task sees, @project's production namespace, ``Run.code``, tag rules."""

from __future__ import annotations

import datetime
import subprocess
import sys
import textwrap

import pytest

from flowc import client
from flowc.client import Flow, Metaflow, Run, namespace
from flowc.exceptions import MetaflowNamespaceMismatch, MetaflowTaggingError

FLOW = """
    from metaflow import FlowSpec, Flow, current, get_namespace, project, step

    @project(name="shop")
    class TagFlow(FlowSpec):
        @step
        def start(self):
            self.ns = current.namespace
            self.client_ns = get_namespace()
            self.tags = sorted(current.tags)
            self.trigger = current.trigger
            self.facts = (current.project_name, current.branch_name, current.is_production,
                          current.project_flow_name, current.username)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.fixture
def flow_file(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "ana")
    for var in ("FLOWC_USER", "METAFLOW_USER", "USERNAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tag_flow.py"
    path.write_text(textwrap.dedent(FLOW), encoding="utf-8")
    yield path
    client.default_namespace()


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "run", "tag_flow.py", "--datastore", "ds",
                           "--no-logs", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_tags_and_namespace_of_a_flowc_run(flow_file):
    _run("--tag", "exp-1", "--tag", "nightly")
    run = Flow("TagFlow", "ds").latest_run
    assert run.user_tags == frozenset({"exp-1", "nightly"})
    assert {"user:ana", "project:shop", "project_branch:user.ana", "runtime:dev"} <= run.system_tags
    assert run.tags == run.user_tags | run.system_tags and isinstance(run.tags, frozenset)
    start = run["start"].task
    assert start.data.ns == "user:ana" and start.data.client_ns == "user:ana"
    assert start.data.tags == ["exp-1", "nightly"]  # Metaflow's current.tags: the user tags only
    assert start.data.trigger is None
    assert start.data.facts == ("shop", "user.ana", False, "shop.user.ana.TagFlow", "ana")
    assert [r.id for r in Flow("TagFlow", "ds").runs("nightly", "exp-1")] == [run.id]
    assert Flow("TagFlow", "ds").runs("nope") == []
    assert isinstance(run.created_at, datetime.datetime) and run.finished_at >= run.created_at


def test_namespace_option_and_filtering(flow_file):
    _run("--namespace", "")
    _run("--namespace", "team:x")
    first, second = sorted(Flow("TagFlow", "ds").runs(), key=lambda r: r.id)
    assert first["start"].task.data.client_ns is None  # '' is the global namespace
    assert second["start"].task.data.ns == "team:x"
    namespace("user:bob")
    with pytest.raises(MetaflowNamespaceMismatch):
        Run(first.pathspec, "ds")
    with pytest.raises(MetaflowNamespaceMismatch):
        Flow("TagFlow", "ds")
    assert [f.id for f in Metaflow("ds").flows] == []
    first_in_any = Run(first.pathspec, "ds", _namespace_check=False)
    first_in_any.add_tag("user:bob")  # a user tag also puts a run in that namespace
    assert Flow("TagFlow", "ds").latest_run.id == first.id
    namespace(None)
    assert [f.id for f in Metaflow("ds").flows] == ["TagFlow"]


def test_tag_rules(flow_file):
    _run()
    run = Flow("TagFlow", "ds").latest_run
    assert run.add_tags(["a", "b"]) == frozenset({"a", "b"})
    assert run.replace_tags(["a"], ["c"]) == frozenset({"b", "c"})
    with pytest.raises(MetaflowTaggingError):
        run.remove_tag("user:ana")
    with pytest.raises(MetaflowTaggingError):
        run.add_tag("")
    assert Run(run.pathspec, "ds").user_tags == frozenset({"b", "c"})


def test_production_project_namespace(flow_file):
    flow_file.write_text(flow_file.read_text().replace('@project(name="shop")',
                                                        '@project(name="shop", production=True)'))
    _run()
    namespace(None)
    run = Flow("TagFlow", "ds").latest_run
    assert "production:shop.prod.TagFlow" in run.system_tags
    assert run["start"].task.data.ns == "production:shop.prod.TagFlow"
    namespace("production:shop.prod.TagFlow")
    assert Flow("TagFlow", "ds").latest_run.id == run.id


def test_code_metadata_and_lineage(flow_file):
    _run()
    run = Flow("TagFlow", "ds").latest_run
    assert "class TagFlow" in run.code.flowspec
    assert run.code.tarball.getnames() == ["tag_flow.py"]
    end = run.end_task
    assert end.metadata_dict["attempt"] == "0" and end.metadata_dict["ds-type"] == "local"
    assert end.metadata_dict["user"] == "ana"
    assert [t.pathspec for t in end.parent_tasks] == [run["start"].task.pathspec]
    assert [t.pathspec for t in run["start"].task.child_tasks] == [end.pathspec]
    assert end.parent.parent.parent.id == "TagFlow" and end.path_components[-2:] == ["end", end.id]
    flow_file.write_text(flow_file.read_text() + "\n# edited\n")
    assert Run(run.pathspec, "ds").code is None  # the recorded source is gone


def test_show_and_runner_handles_see_other_users_runs(flow_file, monkeypatch):
    from click.testing import CliRunner

    from flowc.cli import main

    _run()
    monkeypatch.setenv("USER", "bob")
    namespace("user:bob")
    with pytest.raises(MetaflowNamespaceMismatch):
        Flow("TagFlow", "ds")
    shown = CliRunner().invoke(main, ["show", "TagFlow", "--datastore", "ds", "--no-data"])
    assert shown.exit_code == 0 and "succeeded" in shown.output


def test_a_step_reads_other_runs_from_the_datastore_it_runs_on(flow_file, tmp_path):
    """``flowc run --datastore ds``: the client inside a step reads ds, not FLOWC_DATASTORE/.flowc
    (Metaflow's client inside a flow reads the run's own metadata)."""
    _run()
    (tmp_path / "reader.py").write_text(textwrap.dedent("""
        from metaflow import Flow, FlowSpec, step

        class ReaderFlow(FlowSpec):
            @step
            def start(self):
                self.seen = Flow("TagFlow").latest_successful_run["start"].task.data.ns
                self.next(self.end)

            @step
            def end(self):
                pass
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "run", "reader.py", "--datastore", "ds",
                           "--no-logs"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Flow("ReaderFlow", "ds").latest_run.data.seen == "user:ana"
