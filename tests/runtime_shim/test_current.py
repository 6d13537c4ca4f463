"""``current``: every field Metaflow's has that makes sense here, inside and outside a task."""

from __future__ import annotations

from flowc import current
from tests.runtime_shim.driver import drive, write_flow

FLOW = """
    from metaflow import FlowSpec, current, step, parallel

    class CurrentFlow(FlowSpec):
        \"\"\"Doc of the flow.\"\"\"

        @step
        def start(self):
            \"\"\"First.\"\"\"
            self.seen = dict(trigger=current.trigger, running=current.is_running_flow,
                             pathspec=current.pathspec, tempdir=current.tempdir,
                             has_flow="flow_name" in current, has_trigger="trigger" in current,
                             graph=current.graph, tags=type(current.tags).__name__,
                             default=current.get("trigger", "none"), ns=current.namespace,
                             user=current.username)
            self.next(self.gang, num_parallel=2)

        @parallel
        @step
        def gang(self):
            self.node = (current.parallel.num_nodes, current.parallel.node_index)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.nodes = sorted(i.node for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_current_inside_a_task(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_USER", "cur")
    driven = drive(write_flow(tmp_path, FLOW), str(tmp_path / "ds"), run_id="r5")
    seen = driven.artifact("start", "seen")
    graph = seen.pop("graph")
    assert seen == dict(trigger=None, running=True, pathspec="CurrentFlow/r5/start/t", tempdir=".", has_flow=True,
                        has_trigger=False, tags="set", default="none", ns="user:cur", user="cur")
    assert graph["start_step"] == "start" and graph["doc"] == "Doc of the flow."
    assert graph["steps"]["start"] == {"name": "start", "type": "split-parallel", "line": 8,
                                       "doc": "First.", "next": ["gang"], "decorators": [],
                                       "num_parallel": 2, "matching_join": "join"}
    assert graph["steps"]["join"]["type"] == "join" and graph["steps"]["end"]["next"] == []
    assert graph["steps"]["gang"]["decorators"] == [{"name": "parallel"}]
    assert driven.artifact("end", "nodes") == [(2, 0), (2, 1)]


def test_current_outside_a_task():
    assert current.is_running_flow is False
    assert current.trigger is None and current.graph is None
    assert current.pathspec is None and "flow_name" not in current
