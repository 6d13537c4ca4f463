"""The client API in Metaflow's shape: ``Flow("X").latest_run["end"].task.data.x``.

Reads only the datastore (no metadata service): a run is ``R/<Flow>/runs/<id>``, a task exists
once its ``DONE.json`` (or a failed attempt's record) does. The root is ``datastore(...)``'s,
else ``FLOWC_DATASTORE``, else ``.flowc``; every object also takes ``datastore=`` to read
elsewhere.

Namespaces follow Metaflow's rules: the default namespace is ``user:<name>`` (``USER`` /
``USERNAME``; inside a running flow, the run's namespace), ``namespace(None)`` sees everything,
and a run is in namespace ``ns`` when ``ns`` is one of its tags. Runs and everything under them
carry the run's tags (``run.json``'s ``tags`` and ``system_tags``); a run recorded before flowc
kept tags is in every namespace.
"""

from __future__ import annotations

import datetime
import io
import os
import tarfile
import tempfile
from collections import namedtuple
from typing import Any, Iterable, Iterator

from flowc.exceptions import (MetaflowExceptionWrapper, MetaflowInvalidPathspec,
                              MetaflowNamespaceMismatch, MetaflowNotFound, MetaflowTaggingError)
from flowc.runtime_shim.cards import cards_key, read_card, read_index
from flowc.runtime_shim.datastore import ArtifactRef, Datastore, TaskKey, open_datastore
from flowc.runtime_shim.ids import parse_task_id

_DEFAULT_ROOT: str | None = None

FlowcNotFound = MetaflowNotFound
"""flowc's earlier name for :class:`MetaflowNotFound` (still a ``KeyError``)."""

Metadata = namedtuple("Metadata", ["name", "value", "created_at", "type", "task"])


def datastore(root: str | None = None) -> str:
    """Set (with an argument) and return the datastore root clients read by default: the one
    set here, else inside a task the task's own (as Metaflow's client reads the run's metadata),
    else ``FLOWC_DATASTORE``, else ``.flowc``."""
    global _DEFAULT_ROOT
    if root is not None:
        _DEFAULT_ROOT = root
    running = _running_datastore()
    return _DEFAULT_ROOT or (running.root if running else None) or os.environ.get("FLOWC_DATASTORE") or ".flowc"


def _running_datastore() -> Datastore | None:
    from flowc.current import current

    return current._values.get("_datastore") if current.is_running_flow else None


def metadata(root: str | None = None) -> str:
    """Metaflow's ``metadata()``; flowc keeps everything in the datastore."""
    return "local@" + datastore(root)


def get_metadata() -> str:
    return metadata()


def default_metadata() -> str:
    return metadata()


# --------------------------------------------------------------------------- namespaces

_UNSET: Any = object()
_NAMESPACE: Any = _UNSET


def _username() -> str:
    from flowc.runtime_shim.params import username

    return username()


def namespace(ns: str | None) -> str | None:
    """Switch the namespace the client sees (``None``: every run) and return it."""
    global _NAMESPACE
    _NAMESPACE = ns
    return get_namespace()


def default_namespace() -> str | None:
    """Back to the default: the running flow's namespace inside a task, else ``user:<name>``
    (worked out on every use, so a task forked from a long-lived process sees its own)."""
    global _NAMESPACE
    _NAMESPACE = _UNSET
    return get_namespace()


def get_namespace() -> str | None:
    if _NAMESPACE is not _UNSET:
        return _NAMESPACE
    from flowc.current import current

    if current.is_running_flow:
        return current.namespace
    return f"user:{_username()}"


# --------------------------------------------------------------------------- helpers


def _open(store: Datastore | str | None) -> Datastore:
    if isinstance(store, Datastore):
        return store
    if store is None and _DEFAULT_ROOT is None:
        running = _running_datastore()
        if running is not None:
            return running  # a step reading other runs: the datastore it runs on
    return open_datastore(store or datastore())


def _split(pathspec: str, parts: int, kind: str) -> list[str]:
    pieces = pathspec.strip("/").split("/") if isinstance(pathspec, str) else []
    if len(pieces) != parts or not all(pieces):
        raise MetaflowInvalidPathspec(
            f"{kind} pathspec must look like {'/'.join(['X', 'run_id', 'step', 'task_id'][:parts])}, "
            f"got {pathspec!r}")
    return pieces


def _datetime(timestamp: float | None) -> datetime.datetime | None:
    """Metaflow's clients return naive local-time datetimes; so does flowc."""
    return datetime.datetime.fromtimestamp(timestamp) if timestamp else None


def _task_order(task_id: str) -> tuple[tuple[int, ...], int]:
    try:
        return parse_task_id(task_id)
    except ValueError:
        return ((1 << 30,), 0)


def _check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > 500:
        raise MetaflowTaggingError(f"a tag is a non-empty string of at most 500 characters, got {tag!r}")
    return tag


class _RunInfo:
    """What every object under one run shares: the datastore and the run record, read once."""

    def __init__(self, store: Datastore, flow: str, run_id: str):
        self.store, self.flow, self.run_id = store, flow, run_id
        self._record: dict[str, Any] | None = None

    @property
    def record(self) -> dict[str, Any]:
        if self._record is None:
            self._record = self.store.read_run(self.flow, self.run_id) or {}
        return self._record

    def reload(self) -> dict[str, Any]:
        self._record = None
        return self.record

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset(self.record.get("tags") or ())

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset(self.record.get("system_tags") or ())

    def in_namespace(self, ns: str | None) -> bool:
        if ns is None or "system_tags" not in self.record:
            return True
        return ns in self.user_tags or ns in self.system_tags


class MetaflowObject:
    """What every client object has: ``id``, ``pathspec``, ``parent``, ``path_components``,
    ``created_at``, ``tags`` / ``system_tags`` / ``user_tags``, ``origin_pathspec``, and
    iteration over / indexing by its children."""

    _NAME = "object"
    _info: _RunInfo | None = None
    _store: Datastore

    id: str
    pathspec: str

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def user_tags(self) -> frozenset[str]:
        return self._info.user_tags if self._info else frozenset()

    @property
    def system_tags(self) -> frozenset[str]:
        return self._info.system_tags if self._info else frozenset()

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        return None

    def is_in_namespace(self) -> bool:
        return self._info is None or self._info.in_namespace(get_namespace())

    def _check_namespace(self, check: bool) -> None:
        if check and not self.is_in_namespace():
            raise MetaflowNamespaceMismatch(get_namespace())

    def _has_tags(self, tags: Iterable[str]) -> bool:
        return set(tags) <= self.tags

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MetaflowObject) and type(other) is type(self) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.pathspec}')"

    def __str__(self) -> str:
        return repr(self)


# --------------------------------------------------------------------------- artifacts


class DataArtifact(MetaflowObject):
    """One stored artifact; ``.id`` is its name, ``.data`` loads it on first use."""

    _NAME = "artifact"

    def __init__(self, store: Datastore | str | None, flow: str, task_pathspec: str, name: str,
                 ref: ArtifactRef, task: "Task | None" = None):
        self._store, self._flow, self.id, self.ref = _open(store), flow, name, ref
        self.pathspec = f"{task_pathspec}/{name}"
        self._task = task
        self._info = task._info if task is not None else None
        self._loaded = False
        self._value: Any = None

    @property
    def name(self) -> str:
        return self.id

    @property
    def data(self) -> Any:
        if not self._loaded:
            self._value = self._store.load_artifact(self._flow, self.id, self.ref)
            self._loaded = True
        return self._value

    @property
    def sha(self) -> str:
        return self.ref.sha

    @property
    def size(self) -> int:
        return self.ref.size

    @property
    def parent(self) -> "Task":
        return self._task if self._task is not None else Task(self.pathspec.rsplit("/", 1)[0], self._store)

    @property
    def finished_at(self) -> datetime.datetime | None:
        return self.parent.finished_at

    @property
    def created_at(self) -> datetime.datetime | None:
        return self.parent.finished_at


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

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._artifacts.values())

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
            if artifact.id == name:
                return artifact
        raise AttributeError(f"{self._where} has no artifact {name!r}")


# --------------------------------------------------------------------------- tasks


class MetaflowCode:
    """``run.code``: the flow's source as the run recorded it (``.flowspec`` is its text)."""

    def __init__(self, flow_name: str, path: str, info: dict[str, Any]):
        self.flow_name, self.path, self.info = flow_name, path, info
        with open(path, encoding="utf-8") as handle:
            self.flowspec = handle.read()

    @property
    def tarball(self) -> tarfile.TarFile:
        """The source as a tar archive (one file, like Metaflow's code package of one file)."""
        data = self.flowspec.encode("utf-8")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            entry = tarfile.TarInfo(os.path.basename(self.path))
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
        buffer.seek(0)
        return tarfile.open(fileobj=buffer, mode="r")

    def __repr__(self) -> str:
        return f"MetaflowCode('{self.path}')"


class Task(MetaflowObject):
    """``Task("X/run/step/task_id")``."""

    _NAME = "task"
    _info: _RunInfo

    def __init__(self, pathspec: str, datastore: Datastore | str | None = None,
                 _namespace_check: bool = True, _info: _RunInfo | None = None):
        self.flow_name, self.run_id, self.step_name, self.id = _split(pathspec, 4, "Task")
        self.pathspec = "/".join((self.flow_name, self.run_id, self.step_name, self.id))
        self._store = _info.store if _info is not None else _open(datastore)
        self._info = _info or _RunInfo(self._store, self.flow_name, self.run_id)
        self.key = TaskKey(self.flow_name, self.run_id, self.step_name, self.id)
        try:
            self.index_path, self.iteration = parse_task_id(self.id)
        except ValueError:
            raise MetaflowNotFound(f"task {self.pathspec} does not exist: {self.id!r} is not a "
                                   "flowc task id") from None
        self._done: dict[str, Any] | None = self._store.read_done(self.key)
        if self._done is None and not self._store.list_attempts(self.key):
            raise MetaflowNotFound(f"task {self.pathspec} does not exist under {self._store.root}")
        self._check_namespace(_namespace_check)
        self._artifacts: dict[str, DataArtifact] | None = None

    @property
    def parent(self) -> "Step":
        return Step(f"{self.flow_name}/{self.run_id}/{self.step_name}", self._store,
                    _namespace_check=False, _info=self._info)

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
        meta = self._last_attempt_meta() or {}
        return meta.get("status") == "failed"

    def _finished_ts(self) -> float | None:
        if self._done is not None:
            return self._done.get("finished_at")
        meta = self._last_attempt_meta() or {}
        return meta.get("finished_at") if meta.get("status") == "failed" else None

    @property
    def finished_at(self) -> datetime.datetime | None:
        return _datetime(self._finished_ts())

    def _created_ts(self) -> float | None:
        attempts = self._store.list_attempts(self.key)
        meta = self._store.read_attempt(self.key, attempts[0]) if attempts else None
        return (meta or {}).get("started_at") or self._finished_ts()

    @property
    def created_at(self) -> datetime.datetime | None:
        return _datetime(self._created_ts())

    @property
    def current_attempt(self) -> int:
        attempts = self._store.list_attempts(self.key)
        return attempts[-1] if attempts else 0

    @property
    def caught(self) -> bool:
        """True when @catch swallowed a failure of this task."""
        return bool(self._done and self._done.get("caught"))

    @property
    def exception(self) -> MetaflowExceptionWrapper | None:
        """Why the task failed (Metaflow's wrapper: ``.type``, ``.exception``, ``.stacktrace``);
        None for a task that succeeded, @catch included."""
        meta = self._last_attempt_meta()
        if self._done is not None or not meta or meta.get("status") != "failed":
            return None
        wrapper = MetaflowExceptionWrapper()
        wrapper.type = meta.get("error_type")
        wrapper.exception = meta.get("error")
        wrapper.stacktrace = meta.get("traceback")
        return wrapper

    def _last_attempt_meta(self) -> dict[str, Any] | None:
        return self._store.read_attempt(self.key, self.current_attempt)

    @property
    def origin_pathspec(self) -> str | None:
        return (self._done or {}).get("origin_pathspec")

    def artifacts_map(self) -> dict[str, DataArtifact]:
        if self._artifacts is None:
            refs = (self._done or {}).get("artifacts", {})
            self._artifacts = {name: DataArtifact(self._store, self.flow_name, self.pathspec, name,
                                                  ArtifactRef.from_json(ref), self)
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
            raise MetaflowNotFound(f"task {self.pathspec} has not succeeded: it has no data")
        return _Data({k: v for k, v in self.artifacts_map().items()}, self.pathspec)

    def __getitem__(self, name: str) -> DataArtifact:
        try:
            return self.artifacts_map()[name]
        except KeyError:
            raise MetaflowNotFound(f"task {self.pathspec} has no artifact {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.artifacts_map()

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    # ------------------------------------------------------------------ logs

    def _log(self, stream: str, attempt: int | None) -> str:
        data = self._store.read_log(self.key, self.current_attempt if attempt is None else attempt, stream)
        return data.decode("utf-8", "replace") if data else ""

    @property
    def stdout(self) -> str:
        return self._log("stdout", None)

    @property
    def stderr(self) -> str:
        return self._log("stderr", None)

    @property
    def stdout_size(self) -> int:
        return len(self.stdout.encode("utf-8"))

    @property
    def stderr_size(self) -> int:
        return len(self.stderr.encode("utf-8"))

    def loglines(self, stream: str = "stdout", as_unicode: bool = True,
                 attempt: int | None = None) -> Iterator[tuple[datetime.datetime | None, str | bytes]]:
        """``(timestamp, line)`` pairs as Metaflow yields them; flowc keeps no per-line time, so
        every line carries the attempt's finish (or start) time."""
        number = self.current_attempt if attempt is None else attempt
        text = self._log(stream, number)  # read (and the stream name checked) before iterating
        meta = self._store.read_attempt(self.key, number) or {}
        when = _datetime(meta.get("finished_at") or meta.get("started_at"))
        return iter([(when, line if as_unicode else line.encode("utf-8")) for line in text.splitlines()])

    # ------------------------------------------------------------------ metadata and lineage

    @property
    def metadata(self) -> list[Metadata]:
        created = self._created_ts()
        when = int(created * 1000) if created else 0
        return [Metadata(name, value, when, name, self.pathspec)
                for name, value in sorted(self.metadata_dict.items())]

    @property
    def metadata_dict(self) -> dict[str, str]:
        """Metaflow's per-task metadata names, as strings: attempt, attempt_ok, ds-type, ds-root,
        user, runtime, origin-run-id ..."""
        meta = self._last_attempt_meta() or {}
        facts = {"attempt": str(self.current_attempt),
                 "attempt_ok": str(meta.get("status") == "succeeded"),
                 "ds-type": "s3" if self._store.root.startswith("s3://") else "local",
                 "ds-root": self._store.root,
                 "runtime": str(self._info.record.get("scheduler") or "flowc"),
                 "user": next((t[5:] for t in self.system_tags if t.startswith("user:")), ""),
                 "host": str(meta.get("host", "")),
                 "pid": str(meta.get("pid", ""))}
        origin = (self._done or {}).get("origin_run_id")
        if origin:
            facts["origin-run-id"] = str(origin)
            facts["origin-task-id"] = str(self.origin_pathspec or "").rsplit("/", 1)[-1]
        return facts

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        for parent in (self._done or {}).get("parents", ()):
            yield f"{self.flow_name}/{self.run_id}/{parent}"

    @property
    def parent_tasks(self) -> Iterator["Task"]:
        for pathspec in self.parent_task_pathspecs:
            yield Task(pathspec, _namespace_check=False, _info=self._info)

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        """Tasks whose completion record names this task as a parent."""
        me = f"{self.step_name}/{self.id}"
        for step in self._store.list_steps(self.flow_name, self.run_id):
            for task_id, done in self._store.iter_done_tasks(self.flow_name, self.run_id, step):
                if me in done.get("parents", ()):
                    yield f"{self.flow_name}/{self.run_id}/{step}/{task_id}"

    @property
    def child_tasks(self) -> Iterator["Task"]:
        for pathspec in self.child_task_pathspecs:
            yield Task(pathspec, _namespace_check=False, _info=self._info)

    @property
    def code(self) -> MetaflowCode | None:
        return Run(f"{self.flow_name}/{self.run_id}", _namespace_check=False, _info=self._info).code

    @property
    def cards(self) -> "CardContainer":
        """The cards this task rendered (``get_cards(task)``)."""
        return get_cards(self)


# --------------------------------------------------------------------------- steps, runs, flows


class Step(MetaflowObject):
    """``Step("X/run/step")``: the tasks of one step, in index order."""

    _NAME = "step"
    _info: _RunInfo

    def __init__(self, pathspec: str, datastore: Datastore | str | None = None,
                 _namespace_check: bool = True, _info: _RunInfo | None = None):
        self.flow_name, self.run_id, self.id = _split(pathspec, 3, "Step")
        self.pathspec = "/".join((self.flow_name, self.run_id, self.id))
        self._store = _info.store if _info is not None else _open(datastore)
        self._info = _info or _RunInfo(self._store, self.flow_name, self.run_id)
        self._task_ids = sorted(self._store.list_tasks(self.flow_name, self.run_id, self.id), key=_task_order)
        if not self._task_ids:
            raise MetaflowNotFound(f"step {self.pathspec} has no tasks under {self._store.root}")
        self._check_namespace(_namespace_check)

    def _task(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}", _namespace_check=False, _info=self._info)

    def tasks(self, *tags: str) -> list[Task]:
        if not self._has_tags(tags):
            return []
        return [self._task(tid) for tid in self._task_ids]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        if task_id not in self._task_ids:
            raise MetaflowNotFound(f"step {self.pathspec} has no task {task_id!r}")
        return self._task(task_id)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._task_ids

    @property
    def parent(self) -> "Run":
        return Run(f"{self.flow_name}/{self.run_id}", _namespace_check=False, _info=self._info)

    @property
    def task(self) -> Task:
        """A successful task (the first in index order), or the first task."""
        tasks = self.tasks()
        return next((t for t in tasks if t.successful), tasks[0])

    @property
    def finished_at(self) -> datetime.datetime | None:
        times = [t._finished_ts() for t in self.tasks()]
        return _datetime(max((t for t in times if t), default=None))

    @property
    def created_at(self) -> datetime.datetime | None:
        times = [t._created_ts() for t in self.tasks()]
        return _datetime(min((t for t in times if t), default=None))


class Run(MetaflowObject):
    """``Run("X/run_id")``."""

    _NAME = "run"
    _info: _RunInfo

    def __init__(self, pathspec: str, datastore: Datastore | str | None = None,
                 _namespace_check: bool = True, _info: _RunInfo | None = None):
        self.flow_name, self.id = _split(pathspec, 2, "Run")
        self.pathspec = f"{self.flow_name}/{self.id}"
        self._store = _info.store if _info is not None else _open(datastore)
        self._info = _info or _RunInfo(self._store, self.flow_name, self.id)
        self._step_names = self._store.list_steps(self.flow_name, self.id)
        if not self.record and not self._step_names:
            raise MetaflowNotFound(f"run {self.pathspec} does not exist under {self._store.root}")
        self._check_namespace(_namespace_check)

    @property
    def record(self) -> dict[str, Any]:
        return self._info.record

    def _step(self, name: str) -> Step:
        return Step(f"{self.pathspec}/{name}", _namespace_check=False, _info=self._info)

    def steps(self, *tags: str) -> list[Step]:
        """Steps, most recently finished first (Metaflow's order: ``end`` comes first)."""
        if not self._has_tags(tags):
            return []
        steps = []
        for name in self._step_names:
            try:
                steps.append(self._step(name))
            except MetaflowNotFound:
                continue
        return sorted(steps, key=lambda s: (_ts(s.finished_at), s.id), reverse=True)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        if step not in self._step_names:
            raise MetaflowNotFound(f"run {self.pathspec} has no step {step!r}")
        return self._step(step)

    def __contains__(self, step: str) -> bool:
        return step in self._step_names

    @property
    def parent(self) -> "Flow":
        return Flow(self.flow_name, self._store, _namespace_check=False)

    @property
    def end_task(self) -> Task | None:
        end = self.record.get("end_step", "end")  # a custom end step is in the run record
        if end not in self._step_names:
            return None
        task = self[end].task
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

    def _created_ts(self) -> float | None:
        return self.record.get("created_at") or self.record.get("started_at")

    @property
    def created_at(self) -> datetime.datetime | None:
        return _datetime(self._created_ts())

    @property
    def finished_at(self) -> datetime.datetime | None:
        end = self.end_task
        if end is not None:
            return end.finished_at
        return _datetime(self.record.get("finished_at")) if self.finished else None

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.record.get("parameters") or {})

    @property
    def origin_run_id(self) -> str | None:
        return self.record.get("origin_run_id")

    @property
    def origin_pathspec(self) -> str | None:
        return f"{self.flow_name}/{self.origin_run_id}" if self.origin_run_id else None

    @property
    def code(self) -> MetaflowCode | None:
        """The flow file the run recorded, while it still exists with the recorded content."""
        from flowc.runtime_shim.loader import file_sha256

        path = self.record.get("flow_file")
        if not path or not os.path.isfile(path):
            return None
        expected = self.record.get("source_sha256")
        if expected and file_sha256(path) != expected:
            return None
        return MetaflowCode(self.flow_name, path, {"flow_name": self.flow_name, "script": os.path.basename(path),
                                                   "sha256": expected})

    @property
    def trigger(self) -> Any:
        """What started this run on an engine that triggers; None for a run started by hand."""
        return self.record.get("trigger")

    # ------------------------------------------------------------------ tags

    def _set_user_tags(self, remove: Iterable[str], add: Iterable[str]) -> frozenset[str]:
        remove, add = [_check_tag(t) for t in remove], [_check_tag(t) for t in add]
        system = set(remove) & self.system_tags - set(add)
        if system:
            raise MetaflowTaggingError(f"cannot remove system tag(s) {', '.join(sorted(system))} of {self.pathspec}")
        record = self._info.reload()
        tags = (set(record.get("tags") or ()) - set(remove)) | (set(add) - self.system_tags)
        record["tags"] = sorted(tags)
        self._store.write_run(self.flow_name, self.id, record)
        return self.user_tags

    def add_tag(self, tag: str) -> frozenset[str]:
        return self._set_user_tags((), [tag])

    def add_tags(self, tags: Iterable[str]) -> frozenset[str]:
        return self._set_user_tags((), list(tags))

    def remove_tag(self, tag: str) -> frozenset[str]:
        return self._set_user_tags([tag], ())

    def remove_tags(self, tags: Iterable[str]) -> frozenset[str]:
        return self._set_user_tags(list(tags), ())

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> frozenset[str]:
        return self._set_user_tags([tag_to_remove], [tag_to_add])

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> frozenset[str]:
        return self._set_user_tags(list(tags_to_remove), list(tags_to_add))


def _ts(when: datetime.datetime | None) -> float:
    return when.timestamp() if when is not None else float("inf")


class Flow(MetaflowObject):
    """``Flow("X")``: the runs of flow X in the current namespace, newest first."""

    _NAME = "flow"

    def __init__(self, name: str, datastore: Datastore | str | None = None,
                 _namespace_check: bool = True):
        if not isinstance(name, str) or "/" in name.strip("/") or not name.strip("/"):
            raise MetaflowInvalidPathspec(f"a Flow is named by its class name, got {name!r}")
        self.id = self.pathspec = name.strip("/")
        self._store = _open(datastore)
        self._run_ids = self._store.list_runs(self.id)
        if not self._run_ids:
            raise MetaflowNotFound(f"flow {self.id} has no runs under {self._store.root}")
        self._check_namespace(_namespace_check)

    def is_in_namespace(self) -> bool:
        """A flow is in a namespace when one of its runs is (Metaflow's rule)."""
        return get_namespace() is None or any(run.is_in_namespace() for run in self._all_runs())

    @property
    def parent(self) -> None:
        return None

    def _all_runs(self) -> list[Run]:
        runs = []
        for run_id in self._run_ids:
            try:
                runs.append(Run(f"{self.id}/{run_id}", self._store, _namespace_check=False))
            except MetaflowNotFound:
                continue
        return sorted(runs, key=lambda r: (r._created_ts() or 0.0, r.id), reverse=True)

    def runs(self, *tags: str) -> list[Run]:
        """Runs in the current namespace carrying every tag in ``tags``, newest first."""
        return [run for run in self._all_runs() if run.is_in_namespace() and run._has_tags(tags)]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.id}/{run_id}", self._store)

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._run_ids

    @property
    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        return next((run for run in self.runs() if run.successful), None)

    @property
    def created_at(self) -> datetime.datetime | None:
        times = [run._created_ts() for run in self._all_runs()]
        return _datetime(min((t for t in times if t), default=None))


class Metaflow:
    """``Metaflow().flows``: every flow with a run in the current namespace."""

    def __init__(self, datastore: Datastore | str | None = None):
        self._store = _open(datastore)

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        for name in self._store.list_flows():
            try:
                yield Flow(name, self._store)
            except (MetaflowNotFound, MetaflowNamespaceMismatch):
                continue

    def __getitem__(self, name: str) -> Flow:
        return Flow(name, self._store)

    def __repr__(self) -> str:
        return "Metaflow()"


# --------------------------------------------------------------------------- cards


class Card:
    """One rendered card of a task: ``.type``, ``.id``, ``.hash``, ``get()`` (the HTML),
    ``.path`` (a local file holding it) and ``view()`` (open it in a browser)."""

    def __init__(self, task: Any, entry: dict[str, Any]):
        self._task = task
        self.type: str = entry["type"]
        self.id: str | None = entry.get("id")
        self.hash: str = entry.get("hash", "")
        self._file: str = entry["file"]
        self._html: str | None = None
        self._path: str | None = None

    def get(self) -> str:
        if self._html is None:
            text = read_card(self._task._store, self._task.key, self._file)
            if text is None:
                raise MetaflowNotFound(f"card {self._file} of {self._task.pathspec} is missing")
            self._html = text
        return self._html

    @property
    def html(self) -> str:
        return self.get()

    @property
    def path(self) -> str:
        """The card as a local file: in a local datastore the stored file itself, otherwise a
        temporary copy."""
        if self._path is None:
            store = self._task._store
            local = os.path.join(store.root, *cards_key(store.task_key(self._task.key)).split("/"), self._file)
            if os.path.isfile(local):
                self._path = local
            else:
                handle, self._path = tempfile.mkstemp(prefix="flowc-card-", suffix=".html")
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(self.get())
        return self._path

    def view(self) -> None:
        import webbrowser

        webbrowser.open("file://" + self.path)

    def _repr_html_(self) -> str:
        return self.get()

    def __repr__(self) -> str:
        return f"<Card type={self.type} id={self.id} of {self._task.pathspec}>"


class CardContainer:
    """The cards of a task, in the order of the step's ``@card`` decorators."""

    def __init__(self, cards: list[Card]):
        self._cards = cards

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __getitem__(self, index: int) -> Card:
        return self._cards[index]

    def _repr_html_(self) -> str:
        return "".join(card.get() for card in self._cards)


def get_cards(task: Any, id: str | None = None, type: str | None = None,  # noqa: A002
              follow_resumed: bool = True) -> CardContainer:
    """The cards of ``task`` (a client Task or its pathspec), optionally only those with this
    ``id`` or ``type``. A task cloned by ``resume`` shows its origin's cards."""
    if isinstance(task, str):
        task = Task(task)
    entries = read_index(task._store, task.key)
    if not entries and follow_resumed and task.origin_pathspec:
        origin = Task(task.origin_pathspec, task._store, _namespace_check=False)
        return get_cards(origin, id, type, follow_resumed=False)
    chosen = [Card(task, e) for e in entries
              if (id is None or e.get("id") == id) and (type is None or e.get("type") == type)]
    return CardContainer(chosen)


# --------------------------------------------------------------------------- text for the CLI


def _when(when: datetime.datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    for step in sorted(run.steps(), key=lambda s: (_ts(s.finished_at), s.id)):
        tasks = step.tasks()
        ok = sum(t.successful for t in tasks)
        retried = sum(t.current_attempt > 0 for t in tasks)
        caught = sum(t.caught for t in tasks)
        extra = "".join((f", {retried} retried" if retried else "", f", {caught} caught" if caught else ""))
        lines.append(f"    {step.id:<24} {ok}/{len(tasks)} tasks succeeded{extra}")
        for task in tasks:
            failure = task.exception
            if failure is not None:
                lines.append(f"      {task.id} attempt {task.current_attempt} failed: {failure.exception}")
    end = run.end_task
    if show_data and end is not None:
        lines.append("  artifacts of end:")
        for artifact in end.artifacts:
            try:
                shown = _short(artifact.data)
            except Exception as exc:  # noqa: BLE001 - show what we can
                shown = f"<cannot load: {exc}>"
            lines.append(f"    {artifact.id} = {shown}")
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
