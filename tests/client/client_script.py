"""The client used the way Metaflow's documentation uses it. Runs unchanged against a Metaflow
run and a flowc run of docs_flow.py and must print the same lines (ids and times excluded)."""
import os

from metaflow import (Flow, Metaflow, Run, Task, default_namespace, get_namespace, namespace)
from metaflow.exception import MetaflowNamespaceMismatch, MetaflowNotFound

user = os.environ["USER"]
print("namespace", get_namespace() == "user:" + user)
flow = Flow("ClientDocsFlow")
run = flow.latest_successful_run
print("flow", flow.id, flow.pathspec, flow.parent)
print("run", run.successful, run.finished, flow.latest_run.pathspec == run.pathspec)
print("data", run.data.total, run.data.message, run.data.alpha)
print("tags", type(run.tags).__name__, "user:" + user in run.system_tags, run.system_tags <= run.tags,
      run.user_tags)
print("times", type(run.created_at).__name__, type(run.finished_at).__name__)
print("parent", run.parent.pathspec, run.path_components == ["ClientDocsFlow", run.id])
for step in sorted(run, key=lambda s: s.id):
    tasks = sorted(step, key=lambda t: -1 if t.index is None else t.index)
    print("step", step.id, len(tasks), step.parent.pathspec == run.pathspec,
          step.pathspec == run.pathspec + "/" + step.id, type(step.finished_at).__name__)
    for task in tasks:
        names = sorted(a.id for a in task if not a.id.startswith("_") and a.id != "name")
        print("  task", task.index, task.successful, task.finished, names,
              task.parent.id == step.id, task.path_components[:3] == step.path_components,
              task.tags == run.tags)
        print("  stdout", task.stdout.strip().splitlines(), task.stderr.strip().splitlines(),
              [line for _, line in task.loglines("stdout")])
        print("  meta", task.metadata_dict.get("attempt"), task.exception, task.origin_pathspec,
              type(task.created_at).__name__, type(task.finished_at).__name__)
end = run.end_task
print("end", end.data.message, end.parent.id, Task(end.pathspec).successful)
print("square", sorted(t.data.value for t in run["square"]), run["square"].task.data.value in (1, 4, 9))
artifact = run["join"].task["total"]
print("artifact", artifact.id, artifact.data, bool(artifact.sha), artifact.parent.parent.id,
      artifact.pathspec == run["join"].task.pathspec + "/total", type(artifact.finished_at).__name__)
print("artifacts attr", run["join"].task.artifacts.total.data)
print("parents", sorted(t.parent.id for t in run["join"].task.parent_tasks))
print("children", sorted(t.parent.id for t in run["start"].task.child_tasks))
run.add_tag("reviewed")
print("tagged", sorted(Run(run.pathspec).user_tags), [r.id for r in flow.runs("reviewed")] == [run.id])
run.replace_tag("reviewed", "approved")
print("replaced", sorted(Run(run.pathspec).user_tags), list(flow.runs("reviewed")))
run.remove_tag("approved")
print("removed", sorted(Run(run.pathspec).user_tags))
namespace("user:somebody-else")
print("other namespace", get_namespace())
for make in (lambda: Flow("ClientDocsFlow"), lambda: Run(run.pathspec), lambda: Task(end.pathspec)):
    try:
        make()
    except MetaflowNamespaceMismatch as exc:
        print("mismatch raised", isinstance(exc, Exception))
print("unchecked", Run(run.pathspec, _namespace_check=False).successful)
namespace(None)
print("global", get_namespace(), Flow("ClientDocsFlow").latest_run.pathspec == run.pathspec)
print("default", default_namespace() == "user:" + user, get_namespace() == "user:" + user)
print("flows", "ClientDocsFlow" in [f.id for f in Metaflow().flows])
try:
    Flow("NoSuchFlowAnywhere")
except MetaflowNotFound:
    print("not found raised")
