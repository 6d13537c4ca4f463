"""flowc from Python, for notebooks and other programs: ``compile``, ``Runner``, ``Deployer``.

The shapes are Metaflow's, so code written against ``metaflow.Runner`` / ``metaflow.Deployer``
reads the same here::

    from flowc.api import Deployer, Runner, compile

    yaml_text = compile("flow.py", "argo", image="registry/flows:1")

    with Runner("flow.py", datastore="/tmp/ds") as runner:
        result = runner.run(alpha=0.5)          # blocks; result.run is the client Run
        print(result.status, result.run["end"].task.data.score)

    deployed = Deployer("flow.py", sfn_role_arn="arn:...").step_functions().create()
    triggered = deployed.trigger(alpha=0.5)
    triggered.wait(timeout=3600).status

A ``Runner`` run is ``flowc run`` in a child process (like Metaflow's, so a notebook's kernel
never forks); ``Deployer`` calls the same functions as ``flowc deploy`` / ``trigger`` / ``status``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

from flowc.deploy.base import DeployError, Deployment, RunInfo

__all__ = ["compile", "Runner", "ExecutingRun", "Deployer", "DeployedFlow", "TriggeredRun",
           "DeployError"]


def compile(flow_path: str | os.PathLike[str], target: str, *, flow_name: str | None = None,
            **settings: Any) -> str:
    """The spec ``flowc compile FLOW --target TARGET`` writes, as text; ``settings`` override
    ``[tool.flowc]`` (``image=...``, ``namespace=...``). Raises ``CompileError`` (its
    ``diagnostics`` list every problem) when the flow cannot be compiled for ``target``."""
    from flowc.build import build, parse_targets
    from flowc.compiler.diagnostics import ERROR, CompileError

    targets = parse_targets(target)
    if len(targets) != 1:
        raise ValueError(f"compile() returns one spec: name one target, not {target!r}")
    result = build([Path(flow_path)], targets, settings, flow_name=flow_name)
    if not result.ok:
        raise CompileError([d for d in result.diagnostics if d.severity == ERROR])
    (output,) = result.outputs
    return output.text


def _param_text(value: Any) -> str:
    """A Python value as the text ``--param`` takes (JSON for containers, true/false for bools)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _param_args(params: Mapping[str, Any]) -> list[str]:
    return [f"{name}={_param_text(value)}" for name, value in params.items()]


# --------------------------------------------------------------------------- Runner


class ExecutingRun:
    """A ``flowc run`` child process and, once it has started, its run in the datastore."""

    def __init__(self, process: subprocess.Popen, workdir: tempfile.TemporaryDirectory,
                 flow_name: str, datastore: str):
        self._process = process
        self._workdir = workdir
        self.flow_name = flow_name
        self.datastore = datastore

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    @property
    def status(self) -> str:
        """``running``, ``successful`` or ``failed`` (Metaflow's words)."""
        code = self._process.poll()
        return "running" if code is None else ("successful" if code == 0 else "failed")

    def _read(self, name: str) -> str:
        path = Path(self._workdir.name, name)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    @property
    def stdout(self) -> str:
        return self._read("stdout")

    @property
    def stderr(self) -> str:
        return self._read("stderr")

    @property
    def run_id(self) -> str | None:
        """Known as soon as the run starts; ``None`` if it never did (e.g. a compile error)."""
        return self._read("run_id").strip() or None

    @property
    def pathspec(self) -> str | None:
        return f"{self.flow_name}/{self.run_id}" if self.run_id else None

    @property
    def run(self) -> Any:
        """The client ``Run`` of this run (``flowc.client.Run``)."""
        run_id = self.run_id
        if run_id is None:
            last = (self.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the run did not start (exit code {self.returncode}): {last}")
        from flowc.client import Run

        return Run(f"{self.flow_name}/{run_id}", datastore=self.datastore, _namespace_check=False)

    def wait(self, timeout: float | None = None) -> "ExecutingRun":
        """Block until the run ends; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        self._process.wait(timeout)
        return self

    def kill(self) -> None:
        """Stop the run as Ctrl-C would: the scheduler stops its tasks and marks it stopped."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def cleanup(self) -> None:
        self.kill()
        self._workdir.cleanup()

    def __repr__(self) -> str:
        return f"ExecutingRun({self.pathspec or self.flow_name!r}, status={self.status!r})"


class Runner:
    """Runs a flow locally with ``flowc run``, in Metaflow's ``Runner`` shape.

    ``datastore`` (default ``FLOWC_DATASTORE`` or ``.flowc`` under ``cwd``) is where the run and
    its artifacts go; ``env`` adds environment variables for the run.
    """

    def __init__(self, flow_file: str | os.PathLike[str], *, datastore: str | None = None,
                 max_workers: int | None = None, flow_name: str | None = None,
                 env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None):
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.flow_file = (self.cwd / flow_file).resolve()
        root = datastore or os.environ.get("FLOWC_DATASTORE") or ".flowc"
        self.datastore = root if "://" in root else str((self.cwd / root).resolve())
        self.max_workers = max_workers
        self.flow_name = flow_name
        self.env = dict(env or {})
        self._runs: list[ExecutingRun] = []

    def _flow_class_name(self) -> str:
        from flowc.compiler import compile_file

        return compile_file(self.flow_file, flow_name=self.flow_name).flow.name

    def async_run(self, **params: Any) -> ExecutingRun:
        """Start the run and return at once; follow it with ``.status`` / ``.wait()``."""
        name = self._flow_class_name()  # compile errors raise here, before any process starts
        workdir = tempfile.TemporaryDirectory(prefix="flowc-runner-")
        argv = [sys.executable, "-m", "flowc.cli", "run", str(self.flow_file),
                "--datastore", self.datastore, "--run-id-file", str(Path(workdir.name, "run_id"))]
        if self.max_workers is not None:
            argv += ["--max-workers", str(self.max_workers)]
        if self.flow_name is not None:
            argv += ["--flow", self.flow_name]
        for pair in _param_args(params):
            argv += ["--param", pair]
        with open(Path(workdir.name, "stdout"), "wb") as out, open(Path(workdir.name, "stderr"), "wb") as err:
            process = subprocess.Popen(argv, cwd=self.cwd, env={**os.environ, **self.env},
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        executing = ExecutingRun(process, workdir, name, self.datastore)
        self._runs.append(executing)
        return executing

    def run(self, **params: Any) -> ExecutingRun:
        """Run to the end and return the finished ``ExecutingRun`` (check ``.status``)."""
        return self.async_run(**params).wait()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: Any) -> None:
        for executing in self._runs:
            executing.cleanup()
        self._runs.clear()


# --------------------------------------------------------------------------- Deployer


class TriggeredRun:
    """A run started on an engine; ``status`` asks the engine each time it is read."""

    def __init__(self, deployed: "DeployedFlow", info: RunInfo):
        self.deployed = deployed
        self._info = info

    @property
    def run_id(self) -> str:
        return self._info.run_id

    @property
    def pathspec(self) -> str:
        return f"{self.deployed.flow_name}/{self.run_id}"

    @property
    def info(self) -> RunInfo:
        """The latest ``RunInfo`` (status, engine status, start and end times)."""
        from flowc import deploy

        if not self._info.done:
            self._info = deploy.get_run(self.deployed.flow_file, self.deployed.target, self.run_id,
                                        self.deployed.settings, flow_name=self.deployed.flow_name_arg)
        return self._info

    @property
    def status(self) -> str:
        return self.info.status

    def wait(self, timeout: float | None = None, poll: float = 5.0) -> "TriggeredRun":
        from flowc import deploy

        self._info = deploy.wait(self.deployed.flow_file, self.deployed.target, self.run_id,
                                 self.deployed.settings, flow_name=self.deployed.flow_name_arg,
                                 timeout=timeout, poll=poll)
        return self

    @property
    def run(self) -> Any:
        """The client ``Run``, read from the datastore the deployment's tasks write to."""
        from flowc.client import Run

        return Run(self.pathspec, datastore=self.deployed.datastore_root, _namespace_check=False)

    def __repr__(self) -> str:
        return f"TriggeredRun({self.pathspec!r}, status={self._info.status!r})"


class DeployedFlow:
    """A flow deployed on one engine: trigger it, list its runs."""

    def __init__(self, flow_file: Path, target: str, settings: Mapping[str, Any],
                 flow_name_arg: str | None, deployment: Deployment, flow_name: str,
                 datastore_root: str):
        self.flow_file = flow_file
        self.target = target
        self.settings = dict(settings)
        self.flow_name_arg = flow_name_arg
        self.deployment = deployment
        self.flow_name = flow_name
        self.datastore_root = datastore_root

    @property
    def name(self) -> str:
        """The engine's name for it: state machine, WorkflowTemplate or DAG id."""
        return self.deployment.name

    def trigger(self, **params: Any) -> TriggeredRun:
        from flowc import deploy

        info = deploy.trigger(self.flow_file, self.target, _param_args(params), self.settings,
                              flow_name=self.flow_name_arg)
        return TriggeredRun(self, info)

    def resume(self, origin_run_id: str, step: str | None = None) -> TriggeredRun:
        """A new run on the engine cloning ``origin_run_id``'s tasks before ``step`` (default:
        its first failed step) and re-running the rest (``flowc resume --target``)."""
        from flowc import deploy

        info = deploy.resume(self.flow_file, self.target, origin_run_id, self.settings, step=step,
                             flow_name=self.flow_name_arg)
        return TriggeredRun(self, info)

    def runs(self, limit: int = 10) -> list[RunInfo]:
        from flowc import deploy

        return deploy.status(self.flow_file, self.target, self.settings,
                             flow_name=self.flow_name_arg, limit=limit)

    def __repr__(self) -> str:
        return f"DeployedFlow({self.target}: {self.name!r})"


class DeployerImpl:
    """One engine's deployer: ``create()`` deploys (idempotently) and returns a ``DeployedFlow``."""

    def __init__(self, flow_file: Path, target: str, settings: Mapping[str, Any],
                 flow_name: str | None):
        self.flow_file, self.target, self.settings, self.flow_name = flow_file, target, settings, flow_name

    def create(self) -> DeployedFlow:
        from flowc import deploy

        deployment, prepared = deploy.deploy(self.flow_file, self.target, self.settings,
                                             flow_name=self.flow_name)
        return self._deployed(deployment, prepared)

    def existing(self) -> DeployedFlow:
        """The flow as deployed earlier (by CI, say), to trigger or list runs; deploys nothing."""
        from flowc import deploy

        return self._deployed(*deploy.existing(self.flow_file, self.target, self.settings,
                                               flow_name=self.flow_name))

    def resume(self, origin_run_id: str, step: str | None = None) -> TriggeredRun:
        """Resume a failed run of the flow as deployed earlier (``existing().resume``)."""
        return self.existing().resume(origin_run_id, step)

    def _deployed(self, deployment: Deployment, prepared: Any) -> DeployedFlow:
        return DeployedFlow(self.flow_file, self.target, self.settings, self.flow_name, deployment,
                            prepared.flow.name, prepared.settings.datastore_root)


class Deployer:
    """Metaflow's ``Deployer`` shape: ``Deployer("flow.py").argo_workflows().create()``.

    Keyword arguments are settings (as in ``[tool.flowc]``, which they override); each engine
    method takes more. Credentials never go here: they come from the environment.
    """

    def __init__(self, flow_file: str | os.PathLike[str], *, flow_name: str | None = None,
                 **settings: Any):
        self.flow_file = Path(flow_file)
        self.flow_name = flow_name
        self.settings = settings

    def _impl(self, target: str, settings: Mapping[str, Any]) -> DeployerImpl:
        return DeployerImpl(self.flow_file, target, {**self.settings, **settings}, self.flow_name)

    def target(self, name: str, **settings: Any) -> DeployerImpl:
        """Any registered target that deploys, by its ``--target`` name (plugins included)."""
        from flowc.deploy import engine_names

        if name not in engine_names():
            raise DeployError(f"unknown target {name!r} for deploy; choose from {', '.join(engine_names())}")
        return self._impl(name, settings)

    def argo_workflows(self, **settings: Any) -> DeployerImpl:
        return self._impl("argo", settings)

    def step_functions(self, **settings: Any) -> DeployerImpl:
        return self._impl("sfn", settings)

    def airflow(self, **settings: Any) -> DeployerImpl:
        return self._impl("airflow", settings)
