"""flowc deploy / trigger / status on Airflow 3, end to end against a real Airflow started here.

The fixture starts ``airflow standalone`` (API server, scheduler, DAG processor, triggerer; SQLite,
LocalExecutor) on loopback with a temporary AIRFLOW_HOME and free ports. flowc places the DAG
file compiled with the ``local`` operator in its dags folder, waits for it to be parsed, unpauses
it, triggers runs through the REST API (apache-airflow-client) and follows them; the tasks run the
runtime shim as subprocesses, and the test reads the artifacts back from the datastore.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc import deploy as facade
from flowc.cli import main
from flowc.client import Run
from flowc.deploy.airflow import ENGINE
from flowc.deploy.base import DeployError, prepare
from tests.deploy.conftest import free_port, make_project

pytestmark = pytest.mark.slow
BOOT_SECONDS = 420  # airflow standalone boots in ~60 s on a quiet 2-core machine; far more when loaded
FAILING = '''
    from flowc import FlowSpec, step

    class FailingFlow(FlowSpec):
        @step
        def start(self):
            raise RuntimeError("this step fails on purpose")
            self.next(self.end)

        @step
        def end(self):
            pass
'''


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    dags = home / "dags"
    dags.mkdir()
    port = free_port()
    env = {
        **os.environ,
        # standalone starts its scheduler and dag processor as `airflow ...` from PATH: this venv's
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "flowc:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "2",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    }
    log = (home / "standalone.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"airflow standalone exited: {(home / 'standalone.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
                    health = json.load(response)
                if all(health.get(part, {}).get("status") == "healthy"
                       for part in ("metadatabase", "scheduler", "dag_processor")):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"airflow not healthy in {BOOT_SECONDS}s: "
                            f"{(home / 'standalone.log').read_text()[-3000:]}")
            time.sleep(1)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["flowc"]
        yield {"url": url, "dags": dags, "password": password, "home": home}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def project(airflow, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_USERNAME", "flowc")
    monkeypatch.setenv("AIRFLOW_PASSWORD", airflow["password"])
    monkeypatch.delenv("AIRFLOW_API_TOKEN", raising=False)

    def make(flow: str, name: str, **extra: object) -> Path:
        root = tmp_path / "project"
        settings = {"airflow_operator": "local", "python": sys.executable, "code_dir": str(root),
                    "datastore_root": str(tmp_path / "ds"), "airflow_dags_folder": str(airflow["dags"]),
                    "airflow_api_url": airflow["url"], "airflow_parse_timeout": 120, **extra}
        return make_project(root, flow, settings, name=name).resolve()

    return make


def test_deploy_trigger_wait_status_end_to_end(project, tmp_path, airflow):
    """The tasks run from the code package deploy uploaded (not from the project directory)."""
    flow = project("parameters", "parameters_flow.py", code="package",
                   code_package_dir=str(tmp_path / "packages"), code_dir="/nonexistent")
    deployment, prepared = facade.deploy(flow, "airflow")
    dag_file = airflow["dags"] / "parameters_flow.py"
    assert [str(a) for a in deployment.actions] == [f"placed DAG file {dag_file}", "unpaused DAG ParametersFlow"]
    assert dag_file.read_text() == prepared.spec
    (package,) = (tmp_path / "packages").iterdir()
    assert deployment.code_package == str(package)
    assert _package_argument(prepared.spec) == str(package)

    again, _ = facade.deploy(flow, "airflow")
    assert [str(a) for a in again.actions] == [f"unchanged DAG file {dag_file}",
                                               "unchanged DAG ParametersFlow (already unpaused)"]

    run = facade.trigger(flow, "airflow", ["who=airflow", "count=7", "verbose=true", "ratio=0.25"])
    assert run.run_id.startswith("airflow-") and run.status in ("queued", "running")
    final = facade.wait(flow, "airflow", run.run_id, timeout=240, poll=1)
    assert final.successful, (final, _task_logs(airflow, run.run_id))
    assert final.started and final.finished

    # The run's conf holds the parameters typed by the DAG's param schema (Airflow validated them).
    assert _dag_run_conf(airflow, "ParametersFlow", run.run_id) == {
        "who": "airflow", "count": 7, "verbose": True, "ratio": 0.25}
    # The tasks ran the shim under this run id, and the parameters reached the flow typed.
    seen = Run(f"ParametersFlow/{run.run_id}", datastore=str(tmp_path / "ds"))["end"].task.data.seen
    assert seen["who"] == ["airflow", "str"] and seen["count"] == [7, "int"]
    assert seen["ratio"] == [0.25, "float"] and seen["verbose"] == [True, "bool"]
    assert seen["colors"] == [["red", "green"], "list"]

    result = CliRunner().invoke(main, ["status", str(flow), "-t", "airflow"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[:2] == [run.run_id, "succeeded"]


def _package_argument(dag_source):
    """The code package URL after the bootstrap in the DAG file's command lists (read as Python,
    not text)."""
    from flowc.targets.common import BOOTSTRAP_COMMAND

    for node in ast.walk(ast.parse(dag_source)):
        if isinstance(node, ast.List) and all(isinstance(e, ast.Constant) for e in node.elts):
            values = [e.value for e in node.elts]
            if BOOTSTRAP_COMMAND in values:
                return values[values.index(BOOTSTRAP_COMMAND) + 1]
    return None


def _task_logs(airflow, run_id):
    """The tail of every task log of a run, for a failure message."""
    logs = sorted((airflow["home"] / "logs").glob(f"dag_id=*/run_id={run_id}/task_id=*/*.log"))
    out = []
    for path in logs:
        lines = [line for line in path.read_text(errors="replace").splitlines()
                 if '"level":"info"' not in line and '"level":"debug"' not in line]
        out.append(f"== {path.parent.name}/{path.name}\n" + "\n".join(lines[-40:]))
    return "\n".join(out)


def _dag_run_conf(airflow, dag_id, run_id):
    import airflow_client.client as ac
    from airflow_client.client.api import dag_run_api

    from flowc.deploy.airflow import _token

    configuration = ac.Configuration(host=airflow["url"], access_token=_token(airflow["url"]))
    with ac.ApiClient(configuration) as client:
        return dag_run_api.DagRunApi(client).get_dag_run(dag_id, run_id).conf


def test_failing_run_makes_trigger_wait_exit_1(project):
    flow = project(FAILING, "failing_flow.py")
    runner = CliRunner()
    deployed = runner.invoke(main, ["deploy", str(flow), "-t", "airflow"])
    assert deployed.exit_code == 0, deployed.output
    result = runner.invoke(main, ["trigger", str(flow), "-t", "airflow", "--wait", "--timeout", "240"])
    assert result.exit_code == 1, result.output
    run_id = result.output.splitlines()[0]
    assert run_id.startswith("airflow-")
    assert f"{run_id}: failed" in result.output


def test_import_error_and_bad_credentials_are_one_line(project, airflow, monkeypatch):
    flow = project("linear", "linear_flow.py")
    facade.deploy(flow, "airflow")
    dag_file = airflow["dags"] / "linear_flow.py"
    # A DAG file the processor cannot import: deploy reports Airflow's own error, on one line.
    broken = project(FAILING.replace("FailingFlow", "BrokenFlow"), "broken_flow.py")

    prepared = prepare(broken, "airflow", {})
    spec = prepared.spec + "\nraise ImportError('no such module: flowc_missing')\n"
    with pytest.raises(DeployError) as info:
        ENGINE.deploy(dataclasses.replace(prepared, spec=spec))
    assert str(info.value) == ("Airflow cannot import broken_flow.py: "
                               "ImportError: no such module: flowc_missing")
    (airflow["dags"] / "broken_flow.py").unlink()

    monkeypatch.setenv("AIRFLOW_PASSWORD", "wrong-password-789")
    result = CliRunner().invoke(main, ["trigger", str(flow), "-t", "airflow"])
    assert result.exit_code == 1 and "wrong-password-789" not in result.output
    assert result.output == (f"flowc: error: Airflow refused the login of 'flowc' at {airflow['url']}"
                             "/auth/token (HTTP 401): check AIRFLOW_USERNAME/AIRFLOW_PASSWORD\n")
    assert dag_file.exists()
