"""User values reach a pod's command and environment literally, whatever they hold.

The kubelet expands ``$(VAR)`` in a container's command, args and env values and turns ``$$`` into
``$``; Airflow renders Jinja in its operators' templated fields and reads a value ending in
``.json`` as a template file. A parameter value ``$(SECRET)`` must not read the pod's secret, and
``{%endraw%}{{ 7*7 }}`` must not become ``49``: each test runs the generated spec through the
engine's own expansion (the Argo interpreter with the kubelet's rules, Airflow's renderer) and
checks what the shim receives.
"""

from __future__ import annotations

from tests.harness import airflow_env  # noqa: I001 - sets AIRFLOW_HOME before airflow is imported

import ast
import json
from pathlib import Path
from types import SimpleNamespace

from tests.harness import k8s
from tests.harness.artifacts import snapshot
from tests.targets.airflow_helpers import emit_source as airflow_source
from tests.targets.argo_helpers import run_compiled

DOLLARS = "$(SECRET) $$ $x $"
NASTY = DOLLARS + " {{ 7*7 }} {%endraw%}{{ 7*7 }}{%- endraw %}"  # Argo refuses '{{' (FLOW209)

FLOW = '''
import os
from flowc import FlowSpec, Parameter, environment, kubernetes, step

class EscapeFlow(FlowSpec):
    value = Parameter("value", default="plain")

    @kubernetes(labels={"team": "@LABEL@"}, annotations={"note": "@LABEL@"})
    @environment(vars={"SECRET": "s3cr3t", "GREETING": "@GREETING@"})
    @step
    def start(self):
        self.seen = self.value
        self.greeting = os.environ["GREETING"]
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def flow_source(greeting: str) -> str:
    return FLOW.replace('"@LABEL@"', json.dumps("x.json")).replace('"@GREETING@"', json.dumps(greeting))


def test_argo_pods_receive_parameters_and_environment_literally(tmp_path: Path) -> None:
    flow = tmp_path / "escape_flow.py"
    flow.write_text(flow_source(DOLLARS))
    run, _ = run_compiled(flow, tmp_path, parameters={"value": DOLLARS})
    assert run.phase == "Succeeded", run.message
    (start,) = snapshot(tmp_path / "datastore", "EscapeFlow", "argo-run")["start"].values()
    assert start["seen"] == DOLLARS
    assert start["greeting"] == DOLLARS


def _render(task, params: dict) -> dict:
    ti = SimpleNamespace(try_number=1, map_index=-1, task_id=task.task_id, dag_id=task.dag_id,
                         run_id="manual__$(SECRET)")
    context = {"run_id": "manual__$(SECRET)", "ti": ti, "task_instance": ti, "params": params,
               "dag": task.dag, "task": task}
    task.render_template_fields(context, jinja_env=task.dag.get_template_env())
    return context


def test_airflow_pods_receive_parameters_and_environment_literally() -> None:
    result = airflow_source(flow_source(NASTY), image="img{{ 7*7 }}.json", namespace="ns{%endraw%}{{ 7*7 }}")
    path = airflow_env.install_dag(result.text, "escape_flow")
    start = airflow_env.import_dags(path.parent).dags["EscapeFlow"].get_task("start")
    pod = start.build_pod_request_obj(_render(start, {"value": NASTY}))
    container = pod.spec.containers[0]
    argv, env = k8s.expand_container(
        list(container.command) + list(container.args),
        [(e.name, e.value) for e in container.env])
    assert argv[argv.index("--param") + 1] == f"value={NASTY}"
    assert argv[argv.index("--run-id") + 1] == "manual__$(SECRET)"
    assert env["GREETING"] == NASTY
    assert container.image == "img{{ 7*7 }}.json"
    assert pod.metadata.namespace == "ns{%endraw%}{{ 7*7 }}"
    assert pod.metadata.labels["team"] == "x.json"
    assert pod.metadata.annotations["note"] == "x.json"


def test_the_pod_script_survives_the_kubelet() -> None:
    """The shell script the pod runs is itself in the command: it must reach `sh` unchanged."""
    result = airflow_source(flow_source(NASTY))
    path = airflow_env.install_dag(result.text, "escape_script")
    start = airflow_env.import_dags(path.parent).dags["EscapeFlow"].get_task("start")
    pod = start.build_pod_request_obj(_render(start, {"value": "v"}))
    container = pod.spec.containers[0]
    argv, _ = k8s.expand_container(list(container.command), [(e.name, e.value) for e in container.env])
    (script,) = [ast.literal_eval(node.value) for node in ast.parse(result.text).body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SHIM_SCRIPT"]
    assert "$(" in script and argv[2] == script
