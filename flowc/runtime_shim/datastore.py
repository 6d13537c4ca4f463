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
from typing import Any, BinaryIO, Iterator

from flowc.runtime_shim.s3 import S3Backend
from flowc.runtime_shim.storage import DatastoreError, remove_if_present

PICKLE_PROTOCOL = 5
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class TaskKey:
    """Which task: ``Flow/run_id/step/task_id``."""

    flow: str
    run_id: str
    step: str
    task_id: str

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
    def from_json(data: dict[str, Any]) -> "ArtifactRef":
        return ArtifactRef(data["sha"], int(data["size"]), data.get("encoding", "pickle"))


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


class _HashingReader(io.RawIOBase):
    """Reads from ``raw`` and hashes what was read, so a load can verify its blob for free."""

    def __init__(self, raw: io.BufferedIOBase):
        self.raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def _read_full(self, chunk: memoryview) -> int:
        got = 0
        while got < chunk.nbytes:
            n = self.raw.readinto(chunk[got:])
            if not n:
                break
            got += n
        return got

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if view.nbytes <= _PIPELINE:
            n = self.raw.readinto(view) or 0
            self.digest.update(view[:n])
            return n
        return _pipelined(view, self.digest, self._read_full)

    def drain(self) -> None:
        while True:
            chunk = self.raw.read(_CHUNK)
            if not chunk:
                return
            self.digest.update(chunk)


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
        return os.path.join(self.root, *key.split("/"))

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
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def open_read(self, key: str) -> io.BufferedIOBase | None:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            return None

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

    @staticmethod
    def blob_key(flow: str, sha: str) -> str:
        return f"{flow}/blobs/{sha[:2]}/{sha}"

    @staticmethod
    def run_key(flow: str, run_id: str) -> str:
        return f"{flow}/runs/{run_id}"

    def task_key(self, task: TaskKey) -> str:
        return f"{self.run_key(task.flow, task.run_id)}/{task.step}/{task.task_id}"

    def attempt_key(self, task: TaskKey, attempt: int) -> str:
        return f"{self.task_key(task)}/{attempt}"

    # ------------------------------------------------------------------ blobs

    def save_artifact(self, flow: str, name: str, value: Any) -> ArtifactRef:
        """Pickle ``value`` straight into a temporary blob while hashing it; store it by hash."""
        handle, temp = self.backend.temp_file(f"{flow}/blobs/.tmp/x")
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

    def load_artifact(self, flow: str, name: str, ref: ArtifactRef, verify: bool = True) -> Any:
        """Unpickle a blob as it streams in; a missing or corrupt blob names the artifact."""
        key = self.blob_key(flow, ref.sha)
        handle = self.backend.open_read(key)
        if handle is None:
            raise DatastoreError(f"artifact {name!r} is missing: blob {ref.sha} not found under {self.root}")
        with handle:
            reader = _HashingReader(handle)
            source: Any = reader if verify else io.BufferedReader(reader, _CHUNK)
            if ref.encoding == "pickle+gzip":
                source = _Chunked(gzip.GzipFile(fileobj=source, mode="rb"))
            elif ref.encoding != "pickle":
                raise DatastoreError(f"artifact {name!r} has an unknown encoding {ref.encoding!r}; "
                                     "upgrade flowc")
            try:
                value = pickle.load(source)
            except Exception as exc:
                raise DatastoreError(f"artifact {name!r} is corrupt: blob {ref.sha} cannot be "
                                     f"unpickled ({type(exc).__name__}: {exc})") from exc
            if verify:
                reader.drain()
                if reader.digest.hexdigest() != ref.sha:
                    raise DatastoreError(f"artifact {name!r} is corrupt: blob {ref.sha} does not "
                                         f"match its sha256")
        return value

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
            raise DatastoreError(f"{self.root}/{key} is not valid JSON: {exc}") from exc

    # runs

    def read_run(self, flow: str, run_id: str) -> dict[str, Any] | None:
        return self._get_json(f"{self.run_key(flow, run_id)}/run.json")

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
        return self._get_json(f"{self.attempt_key(task, attempt)}/attempt.json")

    def write_done(self, task: TaskKey, done: dict[str, Any]) -> None:
        """The completion marker: call it last, after every blob and side file."""
        self._put_json(f"{self.task_key(task)}/DONE.json", done)

    def read_done(self, task: TaskKey) -> dict[str, Any] | None:
        return self._get_json(f"{self.task_key(task)}/DONE.json")

    def write_task_file(self, task: TaskKey, name: str, data: Any) -> None:
        self._put_json(f"{self.task_key(task)}/{name}", data)

    def read_task_file(self, task: TaskKey, name: str) -> Any:
        return self._get_json(f"{self.task_key(task)}/{name}")

    # logs

    def save_log(self, task: TaskKey, attempt: int, stream: str, data: bytes) -> None:
        """Store one captured stream (``stdout`` or ``stderr``) of an attempt."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"unknown log stream {stream!r}")
        try:
            self.backend.put_bytes(f"{self.attempt_key(task, attempt)}/{stream}.log", data)
        except OSError as exc:
            raise DatastoreError(f"cannot store {stream} of {task.pathspec}: {exc}") from exc

    def save_log_file(self, task: TaskKey, attempt: int, stream: str, path: str) -> None:
        with open(path, "rb") as handle:
            self.save_log(task, attempt, stream, handle.read())

    def read_log(self, task: TaskKey, attempt: int, stream: str) -> bytes | None:
        return self.backend.get_bytes(f"{self.attempt_key(task, attempt)}/{stream}.log")

    # listings

    def list_flows(self) -> list[str]:
        return [name for name in self.backend.list_dir("") if self.backend.list_dir(f"{name}/runs")]

    def list_runs(self, flow: str) -> list[str]:
        return self.backend.list_dir(f"{flow}/runs")

    def list_steps(self, flow: str, run_id: str) -> list[str]:
        return [name for name in self.backend.list_dir(self.run_key(flow, run_id)) if "." not in name]

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[str]:
        return [name for name in self.backend.list_dir(f"{self.run_key(flow, run_id)}/{step}")
                if name.startswith("t")]

    def list_attempts(self, task: TaskKey) -> list[int]:
        return sorted(int(name) for name in self.backend.list_dir(self.task_key(task)) if name.isdigit())

    def iter_done_tasks(self, flow: str, run_id: str, step: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for task_id in self.list_tasks(flow, run_id, step):
            done = self.read_done(TaskKey(flow, run_id, step, task_id))
            if done is not None:
                yield task_id, done


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
