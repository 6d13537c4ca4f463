"""docs/production.md's debugging and resuming steps, on a run made by an engine: a flow compiled
for Argo fails in the test interpreter; `flowc show` and `flowc logs` read what each pod left in
the datastore (a pod's task is `<Flow>/<workflow name>/<step>/<task id>`), and `flowc resume`
finishes the run on this machine, reusing the engine's successful tasks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHAPES
from tests.targets.argo_helpers import run_compiled

FLOW = '''import os
from metaflow import FlowSpec, Parameter, step


class NightlyFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        print("item", self.input)
        self.value = self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        if not os.path.exists(os.environ["FIXED_FLAG"]):
            raise RuntimeError("the join is not fixed yet")
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def flowc(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowc.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_failed_engine_run_is_read_and_resumed_locally(tmp_path: Path, monkeypatch):
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW, encoding="utf-8")
    flag = tmp_path / "fixed"
    monkeypatch.setenv("FIXED_FLAG", str(flag))
    run, _ = run_compiled(flow, tmp_path, parameters={"alpha": "2"}, run_id="nightly-x7k2p")
    assert run.phase == "Failed"
    datastore = str(tmp_path / "datastore")

    shown = flowc("show", "NightlyFlow/nightly-x7k2p", "--datastore", datastore, cwd=tmp_path)
    assert "Run NightlyFlow/nightly-x7k2p: failed" in shown.stdout
    assert "t attempt 0 failed: the join is not fixed yet" in shown.stdout

    failed = flowc("logs", "NightlyFlow/nightly-x7k2p/join", "--datastore", datastore, cwd=tmp_path)
    assert "RuntimeError: the join is not fixed yet" in failed.stderr
    one_pod = flowc("logs", "NightlyFlow/nightly-x7k2p/each/t_1", "--datastore", datastore, cwd=tmp_path)
    assert one_pod.stdout == "item 2\n"

    flag.touch()
    resumed = flowc("resume", "flow.py", "nightly-x7k2p", "--datastore", datastore, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert "each/t_2 cloned" in resumed.stderr and "join/t done" in resumed.stderr
    latest = flowc("show", "NightlyFlow", "--datastore", datastore, cwd=tmp_path)
    assert ": succeeded" in latest.stdout.splitlines()[0]
    assert "resumed from nightly-x7k2p" in latest.stdout
    assert "total = 12" in latest.stdout and "alpha = 2" in latest.stdout


IMAGE_FLOW = '''import importlib.util
from metaflow import FlowSpec, step


class ImageFlow(FlowSpec):
    @step
    def start(self):
        import flowc
        self.flowc_file = flowc.__file__
        self.has_deps = [m for m in ("libcst", "click", "jinja2", "yaml")
                         if importlib.util.find_spec(m) is not None]
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.double = 2 * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.double for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_an_image_with_only_python_and_the_flowc_package_runs_every_task(tmp_path: Path):
    """What production.md's Dockerfile installs is enough: a bare Python with the flowc package
    (none of its compile-time dependencies) runs the pods of a compiled spec."""
    from flowc.client import Run
    from tests.conftest import ROOT

    image = tmp_path / "image"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(image)], check=True, timeout=120)
    site = next(image.glob("lib/python3*/site-packages"))
    shutil.copytree(ROOT / "flowc", site / "flowc", ignore=shutil.ignore_patterns("__pycache__"))
    flow = tmp_path / "flow.py"
    flow.write_text(IMAGE_FLOW, encoding="utf-8")
    run, _ = run_compiled(flow, tmp_path, run_id="image-run", python=str(image / "bin" / "python"))
    assert run.phase == "Succeeded", [(n.name, n.message, n.stderr) for n in run.nodes if n.stderr]
    data = Run("ImageFlow/image-run", datastore=str(tmp_path / "datastore"))["start"].task.data
    assert Path(data.flowc_file).is_relative_to(site)
    assert data.has_deps == []
    assert Run("ImageFlow/image-run", datastore=str(tmp_path / "datastore"))["join"].task.data.total == 6


DEFAULTS_FLOW = '''from metaflow import FlowSpec, Parameter, step

from common.scoring import score


class DefaultsFlow(FlowSpec):
    """Compiled with nothing but a datastore root."""

    factor = Parameter("factor", default=3)

    @step
    def start(self):
        import importlib.util
        self.flowc_importable_as_installed = importlib.util.find_spec("libcst") is not None
        self.items = ["a", "bb", "ccc"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.score = score(self.input, self.factor)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scores = sorted(i.score for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.scores)
'''


def _artifacts(flow: str, run_id: str, datastore: str) -> list[tuple[str, dict]]:
    from flowc.client import Run

    run = Run(f"{flow}/{run_id}", datastore=datastore)
    found = [(step.id, {a.id: a.data for a in task if not a.id.startswith("_")})
             for step in run for task in step]
    return sorted(found, key=repr)


def test_a_spec_compiled_with_only_a_datastore_root_runs_where_flowc_is_not_installed(tmp_path: Path):
    """The walkthrough of issue 16: a project whose only setting is its datastore root compiles
    for Argo; its pods run in a Python where flowc is not installed (a bare venv: no flowc, no
    pip, no libcst), fetching everything from the code package the spec names; and the run's
    artifacts equal `flowc run`'s."""
    from tests.conftest import ROOT
    from tests.harness.argo_interpreter import run_spec

    project = tmp_path / "project"
    datastore = tmp_path / "datastore"
    (project / "flows").mkdir(parents=True)
    (project / "common").mkdir()
    (project / "pyproject.toml").write_text(f'[tool.flowc]\ndatastore_root = "{datastore}"\n', encoding="utf-8")
    (project / "flows" / "defaults.py").write_text(DEFAULTS_FLOW, encoding="utf-8")
    (project / "common" / "__init__.py").write_text("", encoding="utf-8")
    (project / "common" / "scoring.py").write_text(
        "def score(word, factor):\n    return len(word) * factor\n", encoding="utf-8")

    compiled = flowc("compile", "flows/defaults.py", "--target", "argo", "--output-dir", "out", cwd=project)
    assert compiled.returncode == 0, compiled.stderr
    (archive,) = (project / "out" / "flowc-code").glob("defaults-*.tar.gz")
    spec = (project / "out" / "argo" / "defaults.yaml").read_text(encoding="utf-8")
    url = f"{datastore}/flowc-code/{archive.name}"
    assert url in spec and "- flowc.runtime_shim\n" not in spec  # no task runs an installed flowc
    assert f"the tasks fetch their code from {url}" in compiled.stderr

    uploaded = flowc("package", "flows/defaults.py", "--upload", "-d", str(tmp_path / "dist"), cwd=project)
    assert uploaded.returncode == 0, uploaded.stderr
    assert Path(url).read_bytes() == archive.read_bytes()  # compile and package build the same bytes

    image = tmp_path / "image"  # the pod's Python: nothing installed
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(image)], check=True, timeout=120)
    env = {"FLOWC_CODE_CACHE": str(tmp_path / "code-cache"), "PYTHONPATH": "", "PYTHONNOUSERSITE": "1"}
    run = run_spec(spec, workflow_name="defaults-argo", workdir=tmp_path / "pods", shared_paths=[tmp_path],
                   pod_python=str(image / "bin" / "python"), env=env, max_parallel=2)
    assert run.phase == "Succeeded", [(n.name, n.message, n.stderr[-2000:]) for n in run.nodes if n.stderr]
    assert not (ROOT / "flowc").is_relative_to(image)

    local = flowc("run", "flows/defaults.py", "--run-id-file", str(tmp_path / "run-id"),
                  "--datastore", str(datastore), cwd=project)
    assert local.returncode == 0, local.stderr
    local_id = (tmp_path / "run-id").read_text(encoding="utf-8").strip()
    engine = _artifacts("DefaultsFlow", "defaults-argo", str(datastore))
    assert dict(engine)["start"]["flowc_importable_as_installed"] is False
    installed = "flowc_importable_as_installed"  # flowc run has libcst, the pod has not
    mine = [(step, {**data, installed: False} if installed in data else data)
            for step, data in _artifacts("DefaultsFlow", local_id, str(datastore))]
    assert engine == sorted(mine, key=repr)
    assert dict(engine)["end"]["total"] == 18


@pytest.mark.slow
@pytest.mark.network
def test_an_s3_code_package_runs_on_an_image_without_boto3(tmp_path: Path):
    """With the datastore in S3 the package is fetched from S3 too: on an image with Python and
    pip but no boto3, the bootstrap installs boto3 into the code cache at task start (as
    Metaflow does) and the run's artifacts land in S3, equal to `flowc run`'s."""
    from moto.server import ThreadedMotoServer

    from tests.harness import snapshot
    from tests.harness.argo_interpreter import run_spec

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        aws = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        env = {**os.environ, **aws}
        subprocess.run([sys.executable, "-c", "import boto3; boto3.client('s3').create_bucket(Bucket='team')"],
                       env=env, check=True, timeout=60)
        project = tmp_path / "project"
        (project / "flows").mkdir(parents=True)
        (project / "pyproject.toml").write_text('[tool.flowc]\ndatastore_root = "s3://team/flowc"\n', encoding="utf-8")
        (project / "flows" / "foreach.py").write_text((SHAPES / "foreach.py").read_text(), encoding="utf-8")
        compiled = flowc("compile", "flows/foreach.py", "-t", "argo", "-o", "foreach.yaml", cwd=project, env=env)
        assert compiled.returncode == 0, compiled.stderr
        uploaded = flowc("package", "flows/foreach.py", "--upload", "-d", str(tmp_path / "dist"), cwd=project, env=env)
        assert uploaded.returncode == 0, uploaded.stderr

        image = tmp_path / "image"  # Python and pip, nothing else
        subprocess.run([sys.executable, "-m", "venv", str(image)], check=True, timeout=300)
        assert subprocess.run([image / "bin" / "python", "-c", "import boto3"], capture_output=True).returncode == 1
        pod_env = {**aws, "FLOWC_CODE_CACHE": str(tmp_path / "code-cache"), "PYTHONPATH": ""}
        run = run_spec((project / "foreach.yaml").read_text(encoding="utf-8"), workflow_name="foreach-s3",
                       workdir=tmp_path / "pods", shared_paths=[tmp_path], pod_python=str(image / "bin" / "python"),
                       env=pod_env, pod_timeout=600)
        assert run.phase == "Succeeded", [(n.name, n.message, n.stderr[-2000:]) for n in run.nodes if n.stderr]
        assert (tmp_path / "code-cache" / "boto3" / "boto3").is_dir()

        local = flowc("run", "flows/foreach.py", "--run-id-file", str(tmp_path / "id"), "--datastore",
                      str(tmp_path / "local"), cwd=project)
        assert local.returncode == 0, local.stderr
        for key, value in aws.items():
            os.environ[key] = value
        try:
            remote = snapshot("s3://team/flowc", "ForeachFlow", "foreach-s3")
        finally:
            for key in aws:
                os.environ.pop(key, None)
        assert remote == snapshot(tmp_path / "local", "ForeachFlow", (tmp_path / "id").read_text().strip())
    finally:
        server.stop()
