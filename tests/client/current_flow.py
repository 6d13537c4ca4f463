"""What ``current`` shows inside steps, written to ``$CURRENT_FACTS/<step>.json`` so a Metaflow run
and a flowc run of this file can be compared (tests/client/test_current_parity.py)."""

import json
import os

from metaflow import FlowSpec, Parameter, card, current, parallel, project, step

# Values that differ from run to run are compared by shape (their type and how they relate).
EXACT = ("flow_name", "step_name", "retry_count", "origin_run_id", "namespace", "username", "tempdir",
         "is_running_flow", "parameter_names", "project_name", "branch_name", "is_user_branch",
         "is_production", "project_flow_name", "trigger", "is_parallel")
GRAPH_KEYS = ("file", "start_step", "end_step", "graph_structure", "doc")
STEP_KEYS = ("name", "type", "line", "doc", "next", "foreach_artifact", "matching_join")


def facts() -> dict:
    graph = current.graph
    return {
        "dir": sorted(name for name in dir(current) if not name.startswith("_")),
        "in": [name for name in ("card", "graph", "tempdir", "trigger", "parallel", "project_name",
                                 "task", "run", "tags", "origin_run_id", "is_user_branch") if name in current],
        # flowc gives None where Metaflow has no attribute (it raises AttributeError): see docs
        "exact": {name: getattr(current, name, None) for name in EXACT},
        "parallel": _parallel(),
        "tags": sorted(current.tags),
        "types": {name: type(getattr(current, name)).__name__
                  for name in ("run_id", "task_id", "pathspec", "tags", "graph")},
        "pathspec": current.pathspec == "/".join((current.flow_name, current.run_id, current.step_name,
                                                  current.task_id)),
        "task": [type(current.task).__name__, current.task.pathspec == current.pathspec],
        "run": [type(current.run).__name__, current.run.pathspec == f"{current.flow_name}/{current.run_id}"],
        "get": [current.get("project_name"), current.get("no_such_field", 5), current.get("origin_run_id", 7)],
        "graph": {key: graph[key] for key in GRAPH_KEYS},
        "graph_steps": {name: {key: info[key] for key in STEP_KEYS if key in info}
                        for name, info in graph["steps"].items()},
        "graph_info_is_graph": current.graph_info == graph,
    }


def _parallel() -> list | None:
    """The gang facts; the control task's id only as "another task's id" (ids differ by design)."""
    if "parallel" not in current:
        return None
    main_ip, num_nodes, node_index, control = current.parallel
    return [main_ip, num_nodes, node_index, control if control is None else control != current.task_id]


def record() -> None:
    path = os.path.join(os.environ["CURRENT_FACTS"], f"{current.step_name}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(facts(), handle, indent=1, sort_keys=True, default=repr)


@project(name="demo")
class CurrentFlow(FlowSpec):
    """What current shows."""

    alpha = Parameter("alpha", default=3)

    @card
    @step
    def start(self):
        """First."""
        record()
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == 1:
            record()
        self.next(self.join)

    @step
    def join(self, inputs):
        record()
        self.next(self.launch)

    @step
    def launch(self):
        self.next(self.gang, num_parallel=2)

    @parallel
    @step
    def gang(self):
        if current.parallel.node_index == 1:
            record()
        self.next(self.gang_join)

    @step
    def gang_join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        record()


if __name__ == "__main__":
    CurrentFlow()
