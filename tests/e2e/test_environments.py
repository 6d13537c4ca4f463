"""``flowc run`` with @pypi: the step runs in its own environment, built once and reused.

pyjokes is installed from PyPI with uv (network); it is not in flowc's own environment, so the
only way the step can import it is the environment flowc built for it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from flowc.compiler import compile_file
from flowc.local.api import run_flow
from flowc.runtime_shim import environment as env
from flowc.runtime_shim.datastore import ArtifactRef, TaskKey, open_datastore
from flowc.runtime_shim.ids import task_id
from flowc.runtime_shim.manifest_source import encode_inline
from tests.e2e.conftest import flowc_cli
from tests.harness import snapshot

pytestmark = pytest.mark.network

FLOW = '''
    from metaflow import FlowSpec, pypi, step


    class JokeFlow(FlowSpec):
        @step
        def start(self):
            try:
                import pyjokes  # noqa: F401
                self.outside = "importable"
            except ImportError:
                self.outside = "absent"
            self.items = [1, 2]
            self.next(self.joke, foreach="items")

        @pypi(packages={"pyjokes": "0.8.3"})
        @step
        def joke(self):
            import importlib.metadata
            import sys
            import pyjokes

            self.version = importlib.metadata.version("pyjokes")
            self.has_joke = bool(pyjokes.get_joke())
            self.prefix = sys.prefix
            print("told a joke", self.input)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.versions = sorted({i.version for i in inputs})
            self.prefixes = sorted({i.prefix for i in inputs})
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_a_pypi_step_runs_in_its_environment_under_flowc_run(write_flow, tmp_path: Path,
                                                              monkeypatch) -> None:
    assert importlib.util.find_spec("pyjokes") is None, "pyjokes must not be in flowc's venv"
    cache = tmp_path / "envs"
    monkeypatch.setenv("FLOWC_ENV_CACHE", str(cache))
    path = write_flow("joke_flow", FLOW)
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "succeeded", out.getvalue()
    tasks = snapshot(tmp_path / "ds", "JokeFlow", result.run_id)
    assert tasks["start"]["t"]["outside"] == "absent"
    assert [t["version"] for t in tasks["joke"].values()] == ["0.8.3", "0.8.3"]
    assert all(t["has_joke"] for t in tasks["joke"].values())
    join = tasks["join"]["t"]
    # Both foreach tasks ran in the one environment the cache holds.
    envs = [p for p in cache.iterdir() if (p / "flowc-env.json").exists()]
    assert len(envs) == 1 and join["prefixes"] == [str(envs[0])]
    assert "told a joke 1" in out.getvalue()

    # A second run reuses the environment: nothing is built.
    marker = json.loads((envs[0] / "flowc-env.json").read_text())
    again = run_flow(path, datastore=str(tmp_path / "ds"), stream=io.StringIO(), live=False)
    assert again.status == "succeeded"
    assert json.loads((envs[0] / "flowc-env.json").read_text()) == marker
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1


def test_flowc_lock_pins_with_hashes_and_tasks_install_exactly_that(write_flow, tmp_path: Path,
                                                                    monkeypatch) -> None:
    cache = tmp_path / "envs"
    monkeypatch.setenv("FLOWC_ENV_CACHE", str(cache))
    path = write_flow("joke_flow", FLOW)
    locked = flowc_cli("lock", path.name, cwd=tmp_path, timeout=300)
    assert locked.returncode == 0, locked.stderr
    lock_file = tmp_path / "joke_flow.flowc.lock"
    assert locked.stdout.strip() == lock_file.name
    lock = json.loads(lock_file.read_text())
    assert lock["platform"] == "x86_64-unknown-linux-gnu"
    [entry] = lock["environments"].values()
    assert entry["steps"] == ["joke"] and entry["packages"] == {"pyjokes": "0.8.3"}
    pins = {line.split("==")[0]: line for line in entry["requirements"]}
    assert pins["pyjokes"].startswith("pyjokes==0.8.3 --hash=sha256:")
    assert "boto3" in pins  # the shim's own need for S3, resolved with the user's packages
    assert all("--hash=sha256:" in line for line in entry["requirements"])

    assert flowc_cli("lock", "--check", path.name, cwd=tmp_path).returncode == 0
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=io.StringIO(), live=False)
    assert result.status == "succeeded"
    [env_dir] = [p for p in cache.iterdir() if p.is_dir()]
    assert json.loads((env_dir / "flowc-env.json").read_text())["locked"] is True
    assert (env_dir / "flowc-requirements.txt").read_text().splitlines() == entry["requirements"]

    # Changing the step's packages without locking again is refused, by name of the cure.
    path.write_text(path.read_text().replace('"0.8.3"', '"0.8.2"'))
    check = flowc_cli("lock", "--check", path.name, cwd=tmp_path)
    assert check.returncode == 1
    assert check.stderr.strip() == ("flowc: error: joke_flow.py: the lock does not cover step(s) "
                                    "joke: run flowc lock")
    # The run stops before its first task (environments are prepared at the start, as Metaflow
    # bootstraps them), with one line.
    stale = flowc_cli("run", path.name, "--datastore", "ds", cwd=tmp_path)
    assert stale.returncode == 1
    assert stale.stderr.strip().splitlines()[-1].endswith(
        "has no entry for this step's environment (the decorators changed): run flowc lock again")


def test_flowc_lock_without_environments_writes_nothing(write_flow, tmp_path: Path) -> None:
    path = write_flow("plain", FLOW.replace('@pypi(packages={"pyjokes": "0.8.3"})', ""))
    done = flowc_cli("lock", path.name, cwd=tmp_path)
    assert done.returncode == 0 and "nothing to lock" in done.stdout
    assert not (tmp_path / "plain.flowc.lock").exists()


@pytest.fixture
def s3_bucket(monkeypatch):
    """A bucket in moto's server on loopback; the AWS variables set for this process and its
    children."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3").create_bucket(Bucket="envs")
    yield "s3://envs"
    server.stop()


def test_the_shim_command_re_executes_in_the_environment_with_an_s3_datastore(
        write_flow, tmp_path: Path, s3_bucket: str) -> None:
    """The container path: ``python -m flowc.runtime_shim`` builds the environment (with boto3
    added, the shim's own need for S3) and runs the step in it."""
    path = write_flow("joke_flow", FLOW)
    environ = {**os.environ, "FLOWC_ENV_CACHE": str(tmp_path / "envs"),
               "FLOWC_MANIFEST": encode_inline(compile_file(path).flow)}
    root = f"{s3_bucket}/ds"

    def shim(step: str, index: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", path.name, "--step", step,
             "--run-id", "r1", "--datastore", root, "--index-path", index],
            cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=300)

    assert shim("start").returncode == 0
    joke = shim("joke", "0")
    assert joke.returncode == 0, joke.stderr
    assert "told a joke 1" in joke.stdout
    [env_dir] = [p for p in (tmp_path / "envs").iterdir() if p.is_dir()]
    marker = json.loads((env_dir / "flowc-env.json").read_text())
    assert dict(map(tuple, marker["spec"][2])) == {"boto3": "", "pyjokes": "0.8.3"}
    store = open_datastore(root)
    done = store.read_done(TaskKey("JokeFlow", "r1", "joke", task_id((0,), 0)))
    version = ArtifactRef.from_json(done["artifacts"]["version"])
    assert store.load_artifact("JokeFlow", "version", version) == "0.8.3"


def _ensure_in_child(root: str, queue) -> None:
    spec = env.EnvSpec("pypi", None, (("pyjokes", "0.8.3"),))
    queue.put(env.ensure_environment(spec, root=root))


def test_concurrent_builders_build_once(tmp_path: Path) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_ensure_in_child, args=(str(tmp_path), queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    results = {queue.get(timeout=5) for _ in workers}
    assert all(w.exitcode == 0 for w in workers)
    assert len(results) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [Path(results.pop()).name]


def test_package_environments_prebuilds_what_tasks_look_up(write_flow, tmp_path: Path,
                                                            monkeypatch) -> None:
    path = write_flow("joke_flow", FLOW)
    built = flowc_cli("package", path.name, "-d", "dist", "--environments", "baked", cwd=tmp_path,
                      timeout=300)
    assert built.returncode == 0, built.stderr
    [env_dir] = [p for p in (tmp_path / "baked").iterdir() if p.is_dir()]
    marker = (env_dir / "flowc-env.json").read_text()
    # Tasks pointed at the baked directory find it and build nothing (the marker is untouched);
    # the S3 datastore's boto3 was baked in, so a production key matches too.
    monkeypatch.setenv("FLOWC_ENV_CACHE", str(tmp_path / "baked"))
    flow = compile_file(path).flow
    python = env.prepare(flow, "joke", str(path), "s3://bucket/ds")
    assert python == env.env_python(str(env_dir))
    assert (env_dir / "flowc-env.json").read_text() == marker


def test_a_pypi_step_runs_in_its_environment_under_the_argo_harness(write_flow, tmp_path: Path,
                                                                     monkeypatch) -> None:
    """Each pod's process is the real shim: it builds the environment and re-executes in it."""
    from tests.harness.argo_interpreter import SUCCEEDED
    from tests.targets.argo_helpers import failure_report, run_compiled

    monkeypatch.setenv("FLOWC_ENV_CACHE", str(tmp_path / "envs"))
    path = write_flow("joke_flow", FLOW)
    run, _text = run_compiled(path, tmp_path / "argo")
    assert run.phase == SUCCEEDED, failure_report(run)
    tasks = snapshot(tmp_path / "argo" / "datastore", "JokeFlow", "argo-run")
    assert [t["version"] for t in tasks["joke"].values()] == ["0.8.3", "0.8.3"]
    assert tasks["start"]["t"]["outside"] == "absent"


@pytest.mark.slow
def test_a_pypi_step_runs_in_its_environment_under_the_step_functions_harness(write_flow,
                                                                              tmp_path: Path) -> None:
    """Batch jobs are the real shim on moto, with moto's S3 as the datastore (boto3 added)."""
    from flowc.plan import build as build_plan
    from flowc.settings import from_values
    from flowc.targets import get_target, sfn
    from tests.harness.moto_sfn import MotoSfn, _environ

    path = write_flow("joke_flow", FLOW)
    flow = compile_file(path).flow
    datastore = "s3://flowc-test/datastore"
    with MotoSfn(tmp_path / "moto", extra_env={"FLOWC_ENV_CACHE": str(tmp_path / "envs")}) as aws:
        settings = from_values(code="image", code_dir=str(tmp_path), python=sys.executable, datastore_root=datastore,
                               sfn_job_queue=aws.job_queue, sfn_job_definition=aws.job_definition)
        emitted = get_target("sfn").emit(build_plan(flow), settings)
        location = sfn.manifest_location(flow, settings)
        aws.put_text(location.removeprefix(f"s3://{aws.bucket}/"), sfn.manifest_text(flow))
        result = aws.run(emitted.text, {}, name="joke-run", timeout=600)
        logs = "\n".join(Path(job["log"]).read_text(errors="replace")[-1500:] for job in result.jobs)
        assert result.status == "SUCCEEDED", f"{result.error} {result.cause}\n{logs}"
        with _environ({"AWS_ENDPOINT_URL": aws.endpoint}):
            tasks = snapshot(datastore, "JokeFlow", result.name)
    assert [t["version"] for t in tasks["joke"].values()] == ["0.8.3", "0.8.3"]
    assert tasks["start"]["t"]["outside"] == "absent"


@pytest.mark.slow
def test_a_pypi_step_runs_in_its_environment_under_airflow(write_flow, tmp_path: Path,
                                                           monkeypatch) -> None:
    """dag.test() with the local operator: each task is the real shim in a subprocess."""
    from tests.harness import airflow_env  # sets AIRFLOW_HOME before airflow is imported
    from tests.targets.airflow_helpers import emit_source, local_settings

    monkeypatch.setenv("FLOWC_ENV_CACHE", str(tmp_path / "envs"))
    path = write_flow("joke_flow", FLOW)
    emitted = emit_source(path.read_text(), str(path),
                          **local_settings(tmp_path / "ds", code_dir=str(tmp_path)))
    dag = airflow_env.load_dag(emitted.text, "joke_flow", "JokeFlow")
    state, run_id, tasks = airflow_env.run_dag(dag)
    assert state == "success", tasks
    found = snapshot(tmp_path / "ds", "JokeFlow", run_id)
    assert [t["version"] for t in found["joke"].values()] == ["0.8.3", "0.8.3"]
    assert found["start"]["t"]["outside"] == "absent"


SECRET_FLOW = '''
    import os

    from metaflow import FlowSpec, pypi, secrets, step


    class SecretJokeFlow(FlowSpec):
        @secrets(sources=["api-token"])
        @pypi(packages={"pyjokes": "0.8.3"})
        @step
        def start(self):
            import pyjokes  # noqa: F401

            self.token_length = len(os.environ["API_TOKEN"])
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_a_secret_is_read_inside_the_environment(write_flow, tmp_path: Path, s3_bucket: str,
                                                 monkeypatch) -> None:
    """Secrets Manager is read by the shim in the step's interpreter: boto3 joins the environment."""
    token = "tok-3c1e-never-print-me"
    boto3.client("secretsmanager").create_secret(Name="api-token", SecretString=token)
    monkeypatch.setenv("FLOWC_ENV_CACHE", str(tmp_path / "envs"))
    path = write_flow("secret_joke_flow", SECRET_FLOW)
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "succeeded", out.getvalue()
    assert snapshot(tmp_path / "ds", "SecretJokeFlow", result.run_id)["start"]["t"]["token_length"] == len(token)
    assert token not in out.getvalue()
    [env_dir] = [p for p in (tmp_path / "envs").iterdir() if p.is_dir()]
    assert ["boto3", ""] in json.loads((env_dir / "flowc-env.json").read_text())["spec"][2]
