"""The client API in Metaflow's shape: ``Flow("X").latest_run["end"].task.data.x``.

Reads only the datastore (no metadata service): a run is ``R/<Flow>/runs/<id>``, a task exists
once its ``DONE.json`` does. The root is ``datastore(...)``'s, else ``FLOWC_DATASTORE``, else
``.flowc``; every object also takes ``datastore=`` to read elsewhere.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from flowc.runtime_shim.datastore import ArtifactRef, Datastore, TaskKey, open_datastore
from flowc.runtime_shim.ids import parse_task_id

_DEFAULT_ROOT: str | None = None


class FlowcNotFound(KeyError):
    """No such flow, run, step or task (a KeyError, so ``in`` and dict habits work)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


def datastore(root: str | None = None) -> str:
    """Set (with an argument) and return the datastore root clients read by default."""
    global _DEFAULT_ROOT
    if root is not None:
        _DEFAULT_ROOT = root
    return _DEFAULT_ROOT or os.environ.get("FLOWC_DATASTORE") or ".flowc"


def metadata(root: str | None = None) -> str:
    """Metaflow's ``metadata()``; flowc keeps everything in the datastore."""
    return "local@" + datastore(root)


def get_metadata() -> str:
    return metadata()


def namespace(ns: str | None) -> str | None:
    """Accepted for Metaflow compatibility; flowc does not filter runs by namespace."""
    return ns


def get_namespace() -> str | None:
    return None


def default_namespace() -> str | None:
    return None


def _open(store: Datastore | str | None) -> Datastore:
    if isinstance(store, Datastore):
        return store
    return open_datastore(store or datastore())


def _split(pathspec: str, parts: int, kind: str) -> list[str]:
    pieces = pathspec.strip("/").split("/")
    if len(pieces) != parts or not all(pieces):
        raise ValueError(f"{kind} pathspec must look like {'/'.join(['X', 'run_id', 'step', 'task_id'][:parts])}, "
                         f"got {pathspec!r}")
    return pieces


class DataArtifact:
    """One stored artifact; ``.data`` loads it on first use."""

    def __init__(self, store: Datastore, flow: str, task_pathspec: str, name: str, ref: ArtifactRef):
        self._store, self._flow, self.name, self.ref = store, flow, name, ref
        self.pathspec = f"{task_pathspec}/{name}"
        self._loaded = False
        self._value: Any = None

    @property
    def data(self) -> Any:
        if not self._loaded:
            self._value = self._store.load_artifact(self._flow, self.name, self.ref)
            self._loaded = True
        return self._value

    @property
    def sha(self) -> str:
        return self.ref.sha

    @property
    def size(self) -> int:
        return self.ref.size

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"


class _Data:
    """``task.data.x``: attribute access to a task's artifacts."""

    def __init__(self, artifacts: dict[str, DataArtifact], where: str):
        self.__dict__["_artifacts"] = artifacts
        self.__dict__["_where"] = where

    def __getattr__(self, name: str) -> Any:
        try:
            return self._artifacts[name].data
        except KeyError:
            raise AttributeError(f"{self._where} has no artifact {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._artifacts

    def __dir__(self) -> list[str]:
        return sorted(self._artifacts)

    def __repr__(self) -> str:
        return f"<data of {self._where}: {', '.join(sorted(self._artifacts))}>"


class _Artifacts(list):
    def __init__(self, items: list[DataArtifact], where: str):
        super().__init__(items)
        self._where = where

    def __getattr__(self, name: str) -> DataArtifact:
        for artifact in self:
            if artifact.name == name:
                return artifact
        raise AttributeError(f"{self._where} has no artifact {name!r}")


class Task:
    """``Task("X/run/step/task_id")``."""

    def __init__(self, pathspec: str, datastore: Datastore | str | None = None):
        self.flow_name, self.run_id, self.step_name, self.id = _split(pathspec, 4, "Task")
        self.pathspec = "/".join((self.flow_name, self.run_id, self.step_name, self.id))
        self._store = _open(datastore)
        self.key = TaskKey(self.flow_name, self.run_id, self.step_name, self.id)
        self.index_path, self.iteration = parse_task_id(self.id)
        self._done: dict[str, Any] | None = self._store.read_done(self.key)
        if self._done is None and not self._store.list_attempts(self.key):
            raise FlowcNotFound(f"task {self.pathspec} does not exist under {self._store.root}")
        self._artifacts: dict[str, DataArtifact] | None = None

    @property
    def index(self) -> int | None:
        """The innermost foreach index (None outside a foreach)."""
        return self.index_path[-1] if self.index_path else None

    @property
    def successful(self) -> bool:
        return self._done is not None

    @property
    def finished(self) -> bool:
        if self._done is not None:
            return True
        meta = self._last_attempt_meta()
        return meta is not None and meta.get("status") == "failed"

    @property
    def finished_at(self) -> float | None:
        return self._done.get("finished_at") if self._done else None

    @property
    def current_attempt(self) -> int:
        attempts = self._store.list_attempts(self.key)
        return attempts[-1] if attempts else 0

    @property
    def caught(self) -> bool:
        """True when @catch swallowed a failure of this task."""
        return bool(self._done and self._done.get("caught"))

    @property
    def exception(self) -> str | None:
        meta = self._last_attempt_meta()
        return meta.get("error") if meta and meta.get("status") == "failed" else None

    def _last_attempt_meta(self) -> dict[str, Any] | None:
        return self._store.read_attempt(self.key, self.current_attempt)

    def artifacts_map(self) -> dict[str, DataArtifact]:
        if self._artifacts is None:
            refs = (self._done or {}).get("artifacts", {})
            self._artifacts = {name: DataArtifact(self._store, self.flow_name, self.pathspec, name,
                                                  ArtifactRef.from_json(ref))
                               for name, ref in refs.items()}
        return self._artifacts

    @property
    def artifacts(self) -> "_Artifacts":
        """Iterable of DataArtifact, also by attribute: ``task.artifacts.x.data`` (as Metaflow)."""
        return _Artifacts([a for name, a in sorted(self.artifacts_map().items()) if not name.startswith("_")],
                          self.pathspec)

    @property
    def data(self) -> _Data:
        if self._done is None:
            raise FlowcNotFound(f"task {self.pathspec} has not succeeded: it has no data")
        return _Data({k: v for k, v in self.artifacts_map().items()}, self.pathspec)

    def __getitem__(self, name: str) -> DataArtifact:
        try:
            return self.artifacts_map()[name]
        except KeyError:
            raise FlowcNotFound(f"task {self.pathspec} has no artifact {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.artifacts_map()

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    def _log(self, stream: str, attempt: int | None) -> str:
        data = self._store.read_log(self.key, self.current_attempt if attempt is None else attempt, stream)
        return data.decode("utf-8", "replace") if data else ""

    @property
    def stdout(self) -> str:
        return self._log("stdout", None)

    @property
    def stderr(self) -> str:
        return self._log("stderr", None)

    def loglines(self, stream: str = "stdout", attempt: int | None = None) -> list[str]:
        return self._log(stream, attempt).splitlines()

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"


def _task_order(task_id: str) -> tuple[tuple[int, ...], int]:
    try:
        return parse_task_id(task_id)
    except ValueError:
        return ((1 << 30,), 0)


class Step:
    """``Step("X/run/step")``: the tasks of one step, in index order."""

    def __init__(self, pathspec: str, datastore: Datastore | str | None = None):
        self.flow_name, self.run_id, self.id = _split(pathspec, 3, "Step")
        self.pathspec = "/".join((self.flow_name, self.run_id, self.id))
        self._store = _open(datastore)
        self._task_ids = sorted(self._store.list_tasks(self.flow_name, self.run_id, self.id), key=_task_order)
        if not self._task_ids:
            raise FlowcNotFound(f"step {self.pathspec} has no tasks under {self._store.root}")

    def tasks(self) -> list[Task]:
        return [Task(f"{self.pathspec}/{tid}", self._store) for tid in self._task_ids]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        if task_id not in self._task_ids:
            raise FlowcNotFound(f"step {self.pathspec} has no task {task_id!r}")
        return Task(f"{self.pathspec}/{task_id}", self._store)

    @property
    def task(self) -> Task:
        """A successful task (the first in index order), or the first task."""
        tasks = self.tasks()
        return next((t for t in tasks if t.successful), tasks[0])

    @property
    def finished_at(self) -> float | None:
        times = [t.finished_at for t in self.tasks() if t.finished_at is not None]
        return max(times) if times else None

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"


class Run:
    """``Run("X/run_id")``."""

    def __init__(self, pathspec: str, datastore: Datastore | str | None = None):
        self.flow_name, self.id = _split(pathspec, 2, "Run")
        self.pathspec = f"{self.flow_name}/{self.id}"
        self._store = _open(datastore)
        self.record: dict[str, Any] = self._store.read_run(self.flow_name, self.id) or {}
        self._step_names = self._store.list_steps(self.flow_name, self.id)
        if not self.record and not self._step_names:
            raise FlowcNotFound(f"run {self.pathspec} does not exist under {self._store.root}")

    def steps(self) -> list[Step]:
        """Steps, most recently finished first (Metaflow's order: ``end`` comes first)."""
        steps = []
        for name in self._step_names:
            try:
                steps.append(Step(f"{self.pathspec}/{name}", self._store))
            except FlowcNotFound:
                continue
        return sorted(steps, key=lambda s: (s.finished_at or float("inf"), s.id), reverse=True)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        if step not in self._step_names:
            raise FlowcNotFound(f"run {self.pathspec} has no step {step!r}")
        return Step(f"{self.pathspec}/{step}", self._store)

    def __contains__(self, step: str) -> bool:
        return step in self._step_names

    @property
    def end_task(self) -> Task | None:
        if "end" not in self._step_names:
            return None
        task = self["end"].task
        return task if task.successful else None

    @property
    def successful(self) -> bool:
        """The end task finished and the run record agrees (a run whose last record write
        failed, on a full disk say, did not succeed)."""
        return self.end_task is not None and self.record.get("status", "succeeded") == "succeeded"

    @property
    def status(self) -> str:
        if self.successful:
            return "succeeded"
        status = str(self.record.get("status") or "running")
        if status == "running":
            from flowc.runtime_shim.liveness import scheduler_gone

            if scheduler_gone(self.record):
                return "failed"  # its scheduler was killed before it could say so
        return status

    @property
    def finished(self) -> bool:
        return self.successful or self.status in ("failed", "stopped")

    @property
    def data(self) -> _Data | None:
        """The end task's artifacts (None until the run succeeded), as in Metaflow."""
        end = self.end_task
        return end.data if end is not None else None

    @property
    def created_at(self) -> float | None:
        return self.record.get("created_at") or self.record.get("started_at")

    @property
    def finished_at(self) -> float | None:
        return self.record.get("finished_at")

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.record.get("parameters") or {})

    @property
    def origin_run_id(self) -> str | None:
        return self.record.get("origin_run_id")

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"


class Flow:
    """``Flow("X")``: every run of flow X in the datastore, newest first."""

    def __init__(self, name: str, datastore: Datastore | str | None = None):
        if "/" in name.strip("/"):
            raise ValueError(f"a Flow is named by its class name, got {name!r}")
        self.id = self.pathspec = name.strip("/")
        self._store = _open(datastore)
        if not self._store.list_runs(self.id):
            raise FlowcNotFound(f"flow {self.id} has no runs under {self._store.root}")

    def runs(self) -> list[Run]:
        runs = [Run(f"{self.id}/{run_id}", self._store) for run_id in self._store.list_runs(self.id)]
        return sorted(runs, key=lambda r: (r.created_at or 0.0, r.id), reverse=True)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.id}/{run_id}", self._store)

    @property
    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        return next((run for run in self.runs() if run.successful), None)

    def __repr__(self) -> str:
        return f"Flow('{self.id}')"


# --------------------------------------------------------------------------- text for the CLI


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_run(run: Run, show_data: bool = True) -> str:
    """What ``flowc show X/run_id`` prints: status, parameters, steps with task counts, end data."""
    lines = [f"Run {run.pathspec}: {run.status}",
             f"  started   {_when(run.created_at)}",
             f"  finished  {_when(run.finished_at)}"]
    if run.origin_run_id:
        lines.append(f"  resumed from {run.origin_run_id}")
    if run.parameters:
        lines.append("  parameters:")
        lines += [f"    {name} = {_short(value)}" for name, value in sorted(run.parameters.items())]
    lines.append("  steps:")
    for step in sorted(run.steps(), key=lambda s: (s.finished_at or float("inf"), s.id)):
        tasks = step.tasks()
        ok = sum(t.successful for t in tasks)
        retried = sum(t.current_attempt > 0 for t in tasks)
        caught = sum(t.caught for t in tasks)
        extra = "".join((f", {retried} retried" if retried else "", f", {caught} caught" if caught else ""))
        lines.append(f"    {step.id:<24} {ok}/{len(tasks)} tasks succeeded{extra}")
        for task in tasks:
            if not task.successful and task.exception:
                lines.append(f"      {task.id} attempt {task.current_attempt} failed: {task.exception}")
    end = run.end_task
    if show_data and end is not None:
        lines.append("  artifacts of end:")
        for artifact in end.artifacts:
            try:
                shown = _short(artifact.data)
            except Exception as exc:  # noqa: BLE001 - show what we can
                shown = f"<cannot load: {exc}>"
            lines.append(f"    {artifact.name} = {shown}")
    return "\n".join(lines) + "\n"


def logs_of(pathspec: str, stream: str = "stdout", attempt: int | None = None,
            datastore: Datastore | str | None = None) -> str:
    """The logs of ``X/run/step`` (every task, with a header each) or ``X/run/step/task``."""
    parts = pathspec.strip("/").split("/")
    if len(parts) == 4:
        tasks = [Task(pathspec, datastore)]
    elif len(parts) == 3:
        tasks = Step(pathspec, datastore).tasks()
    else:
        raise ValueError(f"logs take X/run_id/step or X/run_id/step/task_id, got {pathspec!r}")
    if len(tasks) == 1:
        return tasks[0]._log(stream, attempt)
    out = []
    for task in tasks:
        out.append(f"--- {task.pathspec} (attempt {task.current_attempt if attempt is None else attempt}) ---\n")
        text = task._log(stream, attempt)
        out.append(text if text.endswith("\n") or not text else text + "\n")
    return "".join(out)
