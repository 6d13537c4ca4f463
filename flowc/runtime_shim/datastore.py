"""The datastore: content-addressed artifacts, per-attempt metadata, completion markers.

Layout (docs/datastore.md is the reference)::

    R/<Flow>/blobs/<sha256[:2]>/<sha256>                         pickled artifact (protocol 5)
    R/<Flow>/runs/<run_id>/run.json                               run record
    R/<Flow>/runs/<run_id>/<step>/<task_id>/<attempt>/attempt.json  attempt metadata
    R/<Flow>/runs/<run_id>/<step>/<task_id>/<attempt>/stdout.log  captured output
    R/<Flow>/runs/<run_id>/<step>/<task_id>/foreach_indices.json  for Map ItemReader
    R/<Flow>/runs/<run_id>/<step>/<task_id>/switch_case.json      {"case", "next_step"}
    R/<Flow>/runs/<run_id>/<step>/<task_id>/DONE.json             completion marker, last

A task exists for every reader only once its ``DONE.json`` exists; everything it points at was
written before it, so a task killed while saving is simply not there. The storage itself is a
small ``Backend`` (local directory or S3, see ``s3.py``); all layout logic lives here once.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import pickle
import time
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator

from flowc.runtime_shim import ids
from flowc.runtime_shim.ids import InvalidId, check_key
from flowc.runtime_shim.s3 import S3Backend
from flowc.runtime_shim.storage import DatastoreError, remove_if_present

PICKLE_PROTOCOL = 5
_CHUNK = 1 << 20


class CorruptRecord(DatastoreError):
    """A JSON record of the datastore that flowc did not write: wrong shape, bad id or sha."""


@dataclass(frozen=True, slots=True)
class TaskKey:
    """Which task: ``Flow/run_id/step/task_id``."""

    flow: str
    run_id: str
    step: str
    task_id: str

    def __post_init__(self) -> None:
        ids.check_flow_name(self.flow)
        ids.check_run_id(self.run_id)
        ids.check_step_name(self.step)
        ids.check_task_id(self.task_id)

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A stored artifact: its blob's sha256, size in bytes and encoding (``pickle`` or
    ``pickle+gzip``; the hash is always of the stored bytes)."""

    sha: str
    size: int
    encoding: str = "pickle"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sha": self.sha, "size": self.size}
        if self.encoding != "pickle":
            data["encoding"] = self.encoding
        return data

    @staticmethod
    def from_json(data: Any) -> "ArtifactRef":
        """The ref a record holds; anything but ``{"sha": <sha256>, "size": <int>}`` (plus an
        optional encoding) raises ``InvalidId``, so a record can never point outside the blobs."""
        if not isinstance(data, dict):
            raise InvalidId(f"an artifact ref must be an object, got {type(data).__name__}")
        size, encoding = data.get("size"), data.get("encoding", "pickle")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidId(f"an artifact ref's size must be a non-negative integer, got {size!r}")
        if encoding not in ("pickle", "pickle+gzip"):
            raise InvalidId(f"unknown artifact encoding {encoding!r}")
        return ArtifactRef(ids.check_sha256(data.get("sha")), size, encoding)


# --------------------------------------------------------------------------- streams


_PIPELINE = 8 << 20  # above this, hash one chunk in a thread while the next is copied


def _pipelined(view: memoryview, digest: Any, move: Any) -> int:
    """``move`` chunks of ``view`` in order while hashing the previous chunk in another thread.

    Both hashlib and file I/O release the GIL on large buffers, so hashing costs no wall time
    on a multi-core machine; for small buffers it is done inline.
    """
    if view.nbytes <= _PIPELINE:
        n = move(view)
        digest.update(view[:n])
        return n
    import threading

    total = 0
    pending: threading.Thread | None = None
    for start in range(0, view.nbytes, _PIPELINE):
        chunk = view[start:start + _PIPELINE]
        n = move(chunk)
        if pending is not None:
            pending.join()
        done = chunk[:n]
        pending = threading.Thread(target=digest.update, args=(done,))
        pending.start()
        total += n
        if n < chunk.nbytes:
            break
    if pending is not None:
        pending.join()
    return total


class _HashingWriter(io.RawIOBase):
    """Writes through to ``raw`` and hashes every byte; pickle streams into it chunk by chunk."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def _write_all(self, chunk: memoryview) -> int:
        written = 0
        while written < chunk.nbytes:
            written += self.raw.write(chunk[written:]) or 0
        return written

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = _pipelined(view, self.digest, self._write_all)
        self.size += n
        return n


def _sha256_of(handle: io.BufferedIOBase, size_hint: int) -> str:
    """The sha256 of everything ``handle`` still has to give, read in chunks of up to 1 MiB
    (no bigger than the expected size: loading many small artifacts allocates little)."""
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(min(_CHUNK, max(size_hint + 1, 4096))))
    while True:
        n = handle.readinto(buffer)
        if not n:
            return digest.hexdigest()
        digest.update(buffer[:n])


class _Chunked(io.RawIOBase):
    """Feeds a gzip stream in bounded chunks, so compressing or decompressing a 1 GiB buffer never
    holds a second full-size copy (gzip would otherwise (de)compress the whole buffer at once)."""

    def __init__(self, inner: Any):
        self.inner = inner

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, view.nbytes, _PIPELINE):
            self.inner.write(view[start:start + _PIPELINE])
        return view.nbytes

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        got = 0
        while got < view.nbytes:
            n = self.inner.readinto(view[got:got + _PIPELINE])
            if not n:
                break
            got += n
        return got


def _disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


# --------------------------------------------------------------------------- backends


class LocalBackend:
    """A directory. Every write goes to a temporary file first and is renamed into place."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.url = self.root

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def _open_temp(self, directory: str) -> tuple[BinaryIO, str]:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        return open(path, "xb"), path

    def temp_file(self, near_key: str) -> tuple[BinaryIO, str]:
        """A new temporary file on the same filesystem as ``near_key`` (so rename is atomic)."""
        return self._open_temp(os.path.dirname(self._path(near_key)))

    def commit_file(self, temp_path: str, key: str) -> None:
        target = self._path(key)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(temp_path, target)

    def discard_temp(self, temp_path: str) -> None:
        remove_if_present(temp_path)

    def put_bytes(self, key: str, data: bytes) -> None:
        handle, temp = self.temp_file(key)
        try:
            with handle:
                handle.write(data)
            self.commit_file(temp, key)
        except BaseException:
            self.discard_temp(temp)
            raise

    def get_bytes(self, key: str) -> bytes | None:
        handle = self.open_read(key)
        if handle is None:
            return None
        with handle:
            try:
                return handle.read()
            except OSError as exc:
                raise DatastoreError(f"cannot read {self._path(key)}: {exc.strerror}") from None

    def open_read(self, key: str) -> io.BufferedIOBase | None:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory where a file belongs, no permission, ...
            raise DatastoreError(f"cannot read {self._path(key)}: {exc.strerror}") from None

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def list_dir(self, key: str) -> list[str]:
        try:
            names = os.listdir(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(name for name in names if not name.startswith(".tmp-"))


# --------------------------------------------------------------------------- the datastore


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, default=repr) + "\n").encode("utf-8")


class Datastore:
    """Layout and (de)serialization over a backend; shared by the shim, ``flowc run`` and the client."""

    def __init__(self, backend: Any, compression: str | None = None):
        self.backend = backend
        self.compress_level = parse_compression(compression)

    @property
    def root(self) -> str:
        return self.backend.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"

    # ------------------------------------------------------------------ keys

    # Every key is built here, from parts checked by flowc.runtime_shim.ids (``InvalidId``, a
    # ValueError, otherwise): no id, wherever it came from, can name a path outside the root.

    @staticmethod
    def blob_key(flow: str, sha: str) -> str:
        return f"{ids.check_flow_name(flow)}/blobs/{sha[:2]}/{ids.check_sha256(sha)}"

    @staticmethod
    def run_key(flow: str, run_id: str) -> str:
        return f"{ids.check_flow_name(flow)}/runs/{ids.check_run_id(run_id)}"

    def task_key(self, task: TaskKey) -> str:
        return f"{self.run_key(task.flow, task.run_id)}/{task.step}/{task.task_id}"

    def attempt_key(self, task: TaskKey, attempt: int) -> str:
        return f"{self.task_key(task)}/{ids.check_attempt(attempt)}"

    # ------------------------------------------------------------------ blobs

    def save_artifact(self, flow: str, name: str, value: Any) -> ArtifactRef:
        """Pickle ``value`` straight into a temporary blob while hashing it; store it by hash."""
        handle, temp = self.backend.temp_file(f"{ids.check_flow_name(flow)}/blobs/.tmp/x")
        try:
            with handle:
                writer = _HashingWriter(handle)
                sink: Any = writer
                if self.compress_level is not None:
                    sink = gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=self.compress_level, mtime=0)
                try:
                    pickle.dump(value, sink if sink is writer else _Chunked(sink), protocol=PICKLE_PROTOCOL)
                except OSError:
                    raise
                except Exception as exc:
                    raise DatastoreError(
                        f"artifact {name!r} cannot be saved: {type(value).__name__} is not "
                        f"picklable ({exc})") from exc
                if sink is not writer:
                    sink.close()
            sha = writer.digest.hexdigest()
            key = self.blob_key(flow, sha)
            if self.backend.exists(key):
                self.backend.discard_temp(temp)
            else:
                self.backend.commit_file(temp, key)
            return ArtifactRef(sha, writer.size, "pickle" if self.compress_level is None else "pickle+gzip")
        except OSError as exc:
            self.backend.discard_temp(temp)
            if _disk_full(exc):
                raise DatastoreError(
                    f"datastore {self.root} is full: no space left saving artifact {name!r} "
                    f"({exc.strerror}); free space or point --datastore elsewhere") from exc
            raise DatastoreError(f"cannot save artifact {name!r} to {self.root}: {exc}") from exc
        except BaseException:
            self.backend.discard_temp(temp)
            raise

    def load_artifact(self, flow: str, name: str, ref: ArtifactRef) -> Any:
        """Hash the stored blob, then unpickle it only if it is the one ``ref`` names: a blob
        that was replaced is refused before any of its bytes reach ``pickle``. Memory stays flat
        (both passes stream); a missing or corrupt blob names the artifact."""
        key = self.blob_key(flow, ref.sha)
        handle = self.backend.open_read(key)
        if handle is None:
            raise DatastoreError(f"artifact {name!r} is missing: blob {ref.sha} not found under {self.root}")
        with handle:
            if _sha256_of(handle, ref.size) != ref.sha:
                raise DatastoreError(f"artifact {name!r} is corrupt: blob {ref.sha} does not "
                                     f"match its sha256; it was not loaded")
            handle.seek(0)
            source: Any = handle
            if ref.encoding == "pickle+gzip":
                source = _Chunked(gzip.GzipFile(fileobj=handle, mode="rb"))
            elif ref.encoding != "pickle":
                raise DatastoreError(f"artifact {name!r} has an unknown encoding {ref.encoding!r}; "
                                     "upgrade flowc")
            try:
                return pickle.load(source)
            except Exception as exc:
                raise DatastoreError(f"artifact {name!r} is corrupt: blob {ref.sha} cannot be "
                                     f"unpickled ({type(exc).__name__}: {exc})") from exc

    # ------------------------------------------------------------------ json records

    def _put_json(self, key: str, data: Any) -> None:
        try:
            self.backend.put_bytes(key, _json_bytes(data))
        except OSError as exc:
            if _disk_full(exc):
                raise DatastoreError(f"datastore {self.root} is full: no space left writing {key} "
                                     f"({exc.strerror})") from exc
            raise DatastoreError(f"cannot write {key} under {self.root}: {exc}") from exc

    def _get_json(self, key: str) -> Any:
        raw = self.backend.get_bytes(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise CorruptRecord(f"{self.root}/{key} is not valid JSON: {exc}") from exc

    def _get_record(self, key: str, check: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """A JSON object record, checked by ``check`` (which raises ``InvalidId`` or
        ``TypeError``/``ValueError`` naming the field); anything else is one ``CorruptRecord``."""
        data = self._get_json(key)
        if data is None:
            return None
        try:
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            check(data)
        except (TypeError, ValueError) as exc:
            raise CorruptRecord(f"{self.root}/{key} is not a record flowc wrote: {exc}") from None
        return data

    # runs

    def read_run(self, flow: str, run_id: str) -> dict[str, Any] | None:
        return self._get_record(f"{self.run_key(flow, run_id)}/run.json", _check_run_record)

    def write_run(self, flow: str, run_id: str, record: dict[str, Any]) -> None:
        self._put_json(f"{self.run_key(flow, run_id)}/run.json", record)

    def update_run(self, flow: str, run_id: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into run.json (last writer wins; only the run's owner calls this)."""
        record = self.read_run(flow, run_id) or {"flow": flow, "run_id": run_id}
        record.update(fields)
        self.write_run(flow, run_id, record)
        return record

    # attempts and tasks

    def write_attempt(self, task: TaskKey, attempt: int, meta: dict[str, Any]) -> None:
        self._put_json(f"{self.attempt_key(task, attempt)}/attempt.json", meta)

    def read_attempt(self, task: TaskKey, attempt: int) -> dict[str, Any] | None:
        return self._get_record(f"{self.attempt_key(task, attempt)}/attempt.json", _check_attempt_record)

    def write_done(self, task: TaskKey, done: dict[str, Any]) -> None:
        """The completion marker: call it last, after every blob and side file."""
        self._put_json(f"{self.task_key(task)}/DONE.json", done)

    def read_done(self, task: TaskKey) -> dict[str, Any] | None:
        return self._get_record(f"{self.task_key(task)}/DONE.json", _check_done_record)

    def _task_file_key(self, task: TaskKey, name: str) -> str:
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".json"):
            raise InvalidId(f"not a task file name: {name!r} (a plain name ending in .json)")
        return f"{self.task_key(task)}/{name}"

    def write_task_file(self, task: TaskKey, name: str, data: Any) -> None:
        self._put_json(self._task_file_key(task, name), data)

    def read_task_file(self, task: TaskKey, name: str) -> Any:
        return self._get_json(self._task_file_key(task, name))

    # logs

    def _log_key(self, task: TaskKey, attempt: int, stream: str) -> str:
        if stream not in ("stdout", "stderr"):
            raise InvalidId(f"unknown log stream {stream!r} (stdout or stderr)")
        return f"{self.attempt_key(task, attempt)}/{stream}.log"

    def save_log(self, task: TaskKey, attempt: int, stream: str, data: bytes) -> None:
        """Store one captured stream (``stdout`` or ``stderr``) of an attempt."""
        key = self._log_key(task, attempt, stream)
        try:
            self.backend.put_bytes(key, data)
        except OSError as exc:
            raise DatastoreError(f"cannot store {stream} of {task.pathspec}: {exc}") from exc

    def save_log_file(self, task: TaskKey, attempt: int, stream: str, path: str) -> None:
        """Store a captured stream from a file, copied in chunks (a 100 MB log is never held
        in memory whole)."""
        import shutil

        key = self._log_key(task, attempt, stream)
        handle, temp = self.backend.temp_file(key)
        try:
            with handle, open(path, "rb") as source:
                shutil.copyfileobj(source, handle, _CHUNK)
            self.backend.commit_file(temp, key)
        except OSError as exc:
            self.backend.discard_temp(temp)
            raise DatastoreError(f"cannot store {stream} of {task.pathspec}: {exc}") from exc
        except BaseException:
            self.backend.discard_temp(temp)
            raise

    def read_log(self, task: TaskKey, attempt: int, stream: str) -> bytes | None:
        return self.backend.get_bytes(self._log_key(task, attempt, stream))

    # listings

    def list_flows(self) -> list[str]:
        return [name for name in self.backend.list_dir("")
                if ids.is_valid(ids.check_flow_name, name) and self.list_runs(name)]

    def list_runs(self, flow: str) -> list[str]:
        return [name for name in self.backend.list_dir(f"{ids.check_flow_name(flow)}/runs")
                if ids.is_valid(ids.check_run_id, name)]

    def list_steps(self, flow: str, run_id: str) -> list[str]:
        return [name for name in self.backend.list_dir(self.run_key(flow, run_id))
                if ids.is_valid(ids.check_step_name, name)]

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[str]:
        return [name for name in self.backend.list_dir(f"{self.run_key(flow, run_id)}/{ids.check_step_name(step)}")
                if ids.is_valid(ids.check_task_id, name)]

    def list_attempts(self, task: TaskKey) -> list[int]:
        return sorted(int(name) for name in self.backend.list_dir(self.task_key(task))
                      if name.isascii() and name.isdigit())

    def iter_done_tasks(self, flow: str, run_id: str, step: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for task_id in self.list_tasks(flow, run_id, step):
            done = self.read_done(TaskKey(flow, run_id, step, task_id))
            if done is not None:
                yield task_id, done


# --------------------------------------------------------------------------- record shapes


def endpoint_fields(start_step: str, end_step: str) -> dict[str, str]:
    """A run record's ``start_step`` / ``end_step`` (Metaflow records both with every run), for a
    flow whose first or last step has another name than ``start`` / ``end``; none otherwise.
    Every writer of a first record adds them: the client finds the end task by them."""
    if (start_step, end_step) == ("start", "end"):
        return {}
    return {"start_step": start_step, "end_step": end_step}


def _optional(data: dict[str, Any], field: str, kinds: tuple[type, ...], what: str) -> None:
    value = data.get(field)
    if value is not None and (isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds)):
        raise TypeError(f"{field!r} must be {what}, got {type(value).__name__}")


def _check_run_record(data: dict[str, Any]) -> None:
    for field in ("started_at", "finished_at", "created_at"):
        _optional(data, field, (int, float), "a number (seconds since the epoch)")
    for field in ("status", "scheduler", "flow_file", "scheduler_host", "scheduler_boot_id",
                  "scheduler_pid_namespace"):
        _optional(data, field, (str,), "a string")
    for field in ("scheduler_pid", "scheduler_start_ticks"):
        _optional(data, field, (int,), "an integer")
    for field in ("parameters", "cli_parameters"):
        _optional(data, field, (dict,), "an object")
    if data.get("origin_run_id") is not None:
        ids.check_run_id(data["origin_run_id"])


def _check_attempt_record(data: dict[str, Any]) -> None:
    for field in ("started_at", "finished_at"):
        _optional(data, field, (int, float), "a number (seconds since the epoch)")
    for field in ("status", "error", "traceback", "error_type"):
        _optional(data, field, (str,), "a string")


def _check_done_record(data: dict[str, Any]) -> None:
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        raise TypeError(f"'artifacts' must be an object, got {type(artifacts).__name__}")
    for name, ref in artifacts.items():
        try:
            ArtifactRef.from_json(ref)
        except InvalidId as exc:
            raise ValueError(f"artifact {name!r}: {exc}") from None
    _optional(data, "finished_at", (int, float), "a number (seconds since the epoch)")
    _optional(data, "attempt", (int,), "an integer")
    for field in ("foreach", "switch"):
        _optional(data, field, (dict,), "an object")
    width = (data.get("foreach") or {}).get("width")
    if width is not None and (isinstance(width, bool) or not isinstance(width, int) or width < 0):
        raise TypeError(f"'foreach.width' must be a non-negative integer, got {width!r}")
    next_step = (data.get("switch") or {}).get("next_step")
    if next_step is not None:
        ids.check_step_name(next_step)


class LocalDatastore(Datastore):
    def __init__(self, root: str, compression: str | None = None):
        super().__init__(LocalBackend(root), compression)


class S3Datastore(Datastore):
    def __init__(self, root: str, client: Any = None, compression: str | None = None, **retry: Any):
        super().__init__(S3Backend(root, client=client, **retry), compression)


def parse_compression(text: str | None) -> int | None:
    """``None``/``""``/``none`` -> no compression; ``gzip`` -> level 3; ``gzip:N`` -> level N."""
    if not text or text == "none":
        return None
    kind, _, level = text.partition(":")
    if kind != "gzip":
        raise ValueError(f"unknown datastore compression {text!r} (use gzip or gzip:1..9)")
    try:
        value = int(level) if level else 3
    except ValueError:
        raise ValueError(f"bad gzip level in {text!r}") from None
    if not 0 <= value <= 9:
        raise ValueError(f"bad gzip level in {text!r}")
    return value


def open_datastore(root: str | None = None) -> Datastore:
    """``s3://bucket/prefix`` -> S3Datastore (boto3 imported now); anything else is a directory.

    ``None`` means ``FLOWC_DATASTORE`` or ``.flowc`` under the working directory. New blobs are
    gzip-compressed when ``FLOWC_DATASTORE_COMPRESSION`` is ``gzip`` or ``gzip:N`` (off by
    default: see docs/datastore.md); reading handles both either way.
    """
    root = root or os.environ.get("FLOWC_DATASTORE") or ".flowc"
    compression = os.environ.get("FLOWC_DATASTORE_COMPRESSION")
    if root.startswith("s3://"):
        return S3Datastore(root, compression=compression)
    return LocalDatastore(root, compression)


def now() -> float:
    return round(time.time(), 3)
