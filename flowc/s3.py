"""``S3``: Metaflow's data-tools S3 client (``from metaflow import S3``), on boto3.

Keys resolve to URLs: with ``run=self`` under ``<datastore root>/data/<Flow>/<run_id>``
(``METAFLOW_DATATOOLS_S3ROOT`` overrides ``<datastore root>/data``), with ``s3root=`` under that
root, and with neither every key is a full URL. A root that is not ``s3://`` is a local
directory and every method works the same on its files, so a flow using ``S3(run=self)`` runs
under ``flowc run`` with a local datastore and no cloud.

Downloads go to a temporary directory under ``tmproot`` that ``close()`` (or leaving the
``with`` block) removes. Transfers stream in chunks, so memory does not grow with object size;
``*_many`` run on a bounded thread pool that pulls its inputs lazily. The boto3 client and the
retry policy are the datastore's (``flowc.runtime_shim.s3``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, NamedTuple, TypeVar

from flowc.exceptions import MetaflowException

T = TypeVar("T")
R = TypeVar("R")

_CHUNK = 1 << 20
_USER_ATTRIBUTES = "metaflow-user-attributes"  # where Metaflow keeps user metadata, as JSON
_LOCAL_META = ".flowc-s3-meta"  # local mode: content type and metadata of each file
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 reports for an object put without one


class MetaflowS3Exception(MetaflowException):
    headline = "S3 access failed"


class MetaflowS3NotFound(MetaflowException):
    headline = "S3 object not found"


class MetaflowS3AccessDenied(MetaflowException):
    headline = "S3 access denied"


class MetaflowS3URLException(MetaflowException):
    headline = "Invalid address"


class MetaflowS3InvalidObject(MetaflowException):
    headline = "Not a string-like object"


class MetaflowS3InvalidRange(MetaflowException):
    headline = "S3 invalid range"


class MetaflowS3InsufficientDiskSpace(MetaflowException):
    headline = "Insufficient disk space"


class S3GetObject(NamedTuple):
    """A key to get, optionally a byte range: ``offset`` (negative: the last bytes) and ``length``."""

    key: str
    offset: int | None = None
    length: int | None = None


class S3PutObject(NamedTuple):
    """A key to put, from ``value`` (bytes, str or a readable file object) or a local ``path``."""

    key: str
    value: Any = None
    path: str | None = None
    content_type: str | None = None
    encryption: str | None = None
    metadata: dict[str, str] | None = None


class RangeInfo(NamedTuple):
    total_size: int
    request_offset: int = 0
    request_length: int = -1


class S3Object:
    """An object (or, from ``list_paths``, a prefix) with an optional downloaded local copy."""

    def __init__(self, prefix: str | None, url: str, path: str | None, size: int | None = None,
                 content_type: str | None = None, metadata: dict[str, str] | None = None,
                 range_info: RangeInfo | None = None, last_modified: float | None = None,
                 encryption: str | None = None, exists: bool | None = None):
        self._prefix, self._url, self._path = prefix, url, path
        self._size = size
        self._content_type, self._metadata = content_type, metadata
        self._range_info, self._last_modified, self._encryption = range_info, last_modified, encryption
        self._exists = (size is not None) if exists is None else exists
        if prefix is None or prefix == url:
            self._key = url
        else:
            self._key = url[len(prefix):].strip("/")

    exists = property(lambda self: self._exists, doc="True for an existing object (not a prefix).")
    downloaded = property(lambda self: self._path is not None)
    url = property(lambda self: self._url)
    prefix = property(lambda self: self._prefix)
    key = property(lambda self: self._key, doc="The key as requested: relative to the root, or a URL.")
    path = property(lambda self: self._path, doc="The local copy (removed when the S3 scope ends).")
    size = property(lambda self: self._size)
    metadata = property(lambda self: self._metadata)
    content_type = property(lambda self: self._content_type)
    encryption = property(lambda self: self._encryption)
    range_info = property(lambda self: self._range_info)
    last_modified = property(lambda self: self._last_modified)

    @property
    def has_info(self) -> bool:
        """True when content type, user metadata or range information came with the object."""
        return any(v is not None for v in (self._content_type, self._metadata, self._range_info, self._encryption))

    @property
    def blob(self) -> bytes | None:
        if self._path is None:
            return None
        with open(self._path, "rb") as handle:
            return handle.read()

    @property
    def text(self) -> str | None:
        blob = self.blob
        return None if blob is None else blob.decode("utf-8")

    def __str__(self) -> str:
        if not self._exists:
            return f"<S3Object {self._url} (does not exist)>"
        return f"<S3Object {self._url} ({self._size} bytes, {'local' if self._path else 'in S3'})>"

    __repr__ = __str__


class _Info(NamedTuple):
    """What a head, get or list tells about one object."""

    size: int
    content_type: str | None = None
    metadata: dict[str, str] | None = None
    last_modified: float | None = None
    encryption: str | None = None
    range_info: RangeInfo | None = None


def _range_header(offset: int | None, length: int | None) -> str | None:
    if offset is None and length is None:
        return None
    offset = offset or 0
    if offset < 0:
        return f"bytes={offset}"
    if length is None or length < 0:
        return f"bytes={offset}-"
    if length == 0:
        raise MetaflowS3InvalidRange(f"a range of length 0 at offset {offset}")
    return f"bytes={offset}-{offset + length - 1}"


def _stream(source: Any, target: Any, limit: int | None = None) -> int:
    """Copy in 1 MiB chunks (at most ``limit`` bytes): memory stays flat whatever the size."""
    copied = 0
    while limit is None or copied < limit:
        chunk = source.read(_CHUNK if limit is None else min(_CHUNK, limit - copied))
        if not chunk:
            break
        target.write(chunk)
        copied += len(chunk)
    return copied


def _user_metadata(raw: dict[str, str] | None) -> dict[str, str] | None:
    if raw and _USER_ATTRIBUTES in raw:
        return json.loads(raw[_USER_ATTRIBUTES])
    return dict(raw) if raw else None


# --------------------------------------------------------------------------- storage


class _S3Storage:
    """Objects in S3, through the datastore's boto3 client and retry loop."""

    def __init__(self) -> None:
        from flowc.runtime_shim.s3 import S3Backend, make_client

        self.client = make_client()
        self._backends: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._backend_class = S3Backend

    def _call(self, bucket: str, what: str, fn: Callable[[], T]) -> T:
        with self._lock:
            backend = self._backends.get(bucket)
            if backend is None:
                backend = self._backends[bucket] = self._backend_class(f"s3://{bucket}", client=self.client)
        try:
            return backend.call(what, fn)
        except MetaflowException:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to Metaflow's names
            raise _s3_error(exc, f"s3://{bucket}", what) from exc

    @staticmethod
    def split(url: str) -> tuple[str, str]:
        bucket, _, key = url[len("s3://"):].partition("/")
        if not bucket:
            raise MetaflowS3URLException(f"no bucket in {url!r}")
        return bucket, key

    def head(self, url: str) -> _Info | None:
        bucket, key = self.split(url)

        def head() -> _Info | None:
            from flowc.runtime_shim.s3 import is_missing

            try:
                meta = self.client.head_object(Bucket=bucket, Key=key)
            except Exception as exc:  # noqa: BLE001
                if is_missing(exc):
                    return None
                raise
            return _info(meta, meta["ContentLength"])

        return self._call(bucket, f"head {url}", head)

    def download(self, url: str, path: str, byte_range: str | None) -> _Info | None:
        bucket, key = self.split(url)

        def get() -> _Info | None:
            from flowc.runtime_shim.s3 import is_missing

            try:
                extra = {"Range": byte_range} if byte_range else {}
                response = self.client.get_object(Bucket=bucket, Key=key, **extra)
            except Exception as exc:  # noqa: BLE001
                if is_missing(exc):
                    return None
                raise
            with open(path, "wb") as handle:
                size = _stream(response["Body"], handle)
            info = _info(response, size)
            match = _RANGE.match(response.get("ContentRange") or "")
            if byte_range and match:
                start, end, total = (int(g) for g in match.groups())
                info = info._replace(range_info=RangeInfo(total, start, end - start + 1))
            return info

        return self._call(bucket, f"get {url}", get)

    def upload(self, url: str, source: Any, content_type: str | None, metadata: dict[str, str] | None,
               encryption: str | None) -> None:
        """``source`` is a local path or a readable binary file object (streamed, multipart)."""
        bucket, key = self.split(url)
        extra: dict[str, Any] = {}
        if content_type:
            extra["ContentType"] = content_type
        if metadata:
            extra["Metadata"] = {_USER_ATTRIBUTES: json.dumps(metadata)}
        if encryption:
            extra["ServerSideEncryption"] = encryption

        def put() -> None:
            if isinstance(source, str):
                self.client.upload_file(source, bucket, key, ExtraArgs=extra or None)
            else:
                source.seek(0)
                self.client.upload_fileobj(source, bucket, key, ExtraArgs=extra or None)

        self._call(bucket, f"put {url}", put)

    def list(self, url: str, recursive: bool) -> Iterator[tuple[str, _Info | None]]:
        """``(url, info)`` of the objects under ``url`` (and, not recursive, ``(prefix/, None)``)."""
        bucket, key = self.split(url)
        prefix = key if not key or key.endswith("/") else key + "/"

        def listing() -> list[tuple[str, _Info | None]]:
            found: list[tuple[str, _Info | None]] = []
            paginator = self.client.get_paginator("list_objects_v2")
            extra = {} if recursive else {"Delimiter": "/"}
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **extra):
                for common in page.get("CommonPrefixes", ()):
                    found.append((f"s3://{bucket}/{common['Prefix']}", None))
                for item in page.get("Contents", ()):
                    found.append((f"s3://{bucket}/{item['Key']}",
                                  _Info(item["Size"], last_modified=item["LastModified"].timestamp())))
            return found

        yield from self._call(bucket, f"list {url}", listing)


def _info(response: dict[str, Any], size: int) -> _Info:
    modified = response.get("LastModified")
    return _Info(size, response.get("ContentType"), _user_metadata(response.get("Metadata")),
                 modified.timestamp() if modified is not None else None,
                 response.get("ServerSideEncryption"))


def _s3_error(exc: BaseException, url: str, what: str) -> MetaflowException:
    from flowc.runtime_shim.s3 import _status

    code, status = _status(exc)
    if status == 404 or code in ("NoSuchKey", "NoSuchBucket", "404"):
        return MetaflowS3NotFound(f"{what}: {url} does not exist ({code or status})")
    if status == 403 or code in ("AccessDenied", "403"):
        return MetaflowS3AccessDenied(f"{what}: access denied to {url}")
    if status == 416 or code == "InvalidRange":
        return MetaflowS3InvalidRange(f"{what}: invalid range for {url}")
    if isinstance(exc, OSError) and exc.errno == 28:
        return MetaflowS3InsufficientDiskSpace(f"{what}: no space left on the local disk")
    return MetaflowS3Exception(f"{what} failed: {exc}")


class _LocalStorage:
    """The same operations on a directory tree (a local datastore); URLs are absolute paths.

    Content type and user metadata, which files lack, sit beside them in ``.flowc-s3-meta/``.
    """

    @staticmethod
    def _meta_path(path: str) -> str:
        return os.path.join(os.path.dirname(path), _LOCAL_META, os.path.basename(path) + ".json")

    def _read_info(self, path: str, size: int) -> _Info:
        stat = os.stat(path)
        try:
            with open(self._meta_path(path), encoding="utf-8") as handle:
                extra = json.load(handle)
        except (FileNotFoundError, ValueError):
            extra = {}
        return _Info(size, extra.get("content_type") or _DEFAULT_CONTENT_TYPE, extra.get("metadata"), stat.st_mtime)

    def head(self, url: str) -> _Info | None:
        if not os.path.isfile(url):
            return None
        return self._read_info(url, os.path.getsize(url))

    def download(self, url: str, path: str, byte_range: str | None) -> _Info | None:
        try:
            source = open(url, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        with source, open(path, "wb") as target:
            total = os.fstat(source.fileno()).st_size
            start, limit = _local_range(byte_range, total, url)
            source.seek(start)
            size = _stream(source, target, limit)
        info = self._read_info(url, size)
        if byte_range:
            info = info._replace(range_info=RangeInfo(total, start, size))
        return info

    def upload(self, url: str, source: Any, content_type: str | None, metadata: dict[str, str] | None,
               encryption: str | None) -> None:
        directory = os.path.dirname(url)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        try:
            if isinstance(source, str):
                shutil.copyfile(source, temp)
            else:
                source.seek(0)
                with open(temp, "wb") as handle:
                    _stream(source, handle)
            os.replace(temp, url)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        meta_path = self._meta_path(url)
        if content_type or metadata:
            os.makedirs(os.path.dirname(meta_path), exist_ok=True)
            with open(meta_path, "w", encoding="utf-8") as handle:
                json.dump({"content_type": content_type, "metadata": metadata}, handle)
        elif os.path.exists(meta_path):
            os.unlink(meta_path)

    def list(self, url: str, recursive: bool) -> Iterator[tuple[str, _Info | None]]:
        if os.path.isfile(url):
            return
        if not recursive:
            try:
                entries = sorted(os.scandir(url), key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError):
                return
            for entry in entries:
                if entry.name == _LOCAL_META or entry.name.startswith(".tmp-"):
                    continue
                if entry.is_dir():
                    yield entry.path + "/", None
                else:
                    yield entry.path, _Info(entry.stat().st_size, last_modified=entry.stat().st_mtime)
            return
        for directory, dirs, files in os.walk(url):
            dirs[:] = sorted(d for d in dirs if d != _LOCAL_META)
            for name in sorted(files):
                if not name.startswith(".tmp-"):
                    path = os.path.join(directory, name)
                    yield path, _Info(os.path.getsize(path), last_modified=os.path.getmtime(path))


def _local_range(byte_range: str | None, total: int, url: str) -> tuple[int, int | None]:
    """``(start, length)`` of a Range header over a file of ``total`` bytes."""
    if not byte_range:
        return 0, None
    spec = byte_range[len("bytes="):]
    if spec.startswith("-"):
        length = min(int(spec[1:]), total)
        return total - length, length
    first, _, last = spec.partition("-")
    start = int(first)
    if start >= total:
        raise MetaflowS3InvalidRange(f"range {byte_range} is outside {url} ({total} bytes)")
    end = min(int(last), total - 1) if last else total - 1
    return start, end - start + 1


# --------------------------------------------------------------------------- the client


def _default_workers() -> int:
    return max(1, int(os.environ.get("FLOWC_S3_WORKERS", "16")))


def _run_root(run: Any, bucket: str | None, prefix: str | None) -> str:
    """``<datatools root>/<Flow>/<run_id>`` for a running FlowSpec (``self``) or a client Run."""
    from flowc.current import current

    pathspec = getattr(run, "pathspec", None)
    if isinstance(pathspec, str) and pathspec.count("/") == 1:
        flow, run_id = pathspec.split("/")
    elif current.is_running_flow:
        flow, run_id = current.flow_name, current.run_id
    else:
        raise MetaflowS3URLException("S3(run=...) takes the running flow (self) or a client Run")
    store = getattr(run, "_store", None)  # a client Run knows the datastore it was read from
    base = str(store.root) if store is not None else _datastore_root()
    root = os.environ.get("METAFLOW_DATATOOLS_S3ROOT") or base.rstrip("/") + "/data"
    if bucket is not None or prefix is not None:
        root = _override(root, bucket, prefix)
    return f"{root.rstrip('/')}/{flow}/{run_id}"


def _override(root: str, bucket: str | None, prefix: str | None) -> str:
    """``bucket=`` / ``prefix=`` replace those parts of the data-tools root (Metaflow's rule)."""
    if not root.startswith("s3://"):
        if bucket is None:
            raise MetaflowS3URLException("bucket= is needed to override the prefix of a local datastore")
        root = "s3://"
    root_bucket, _, root_prefix = root[len("s3://"):].partition("/")
    chosen = prefix if prefix is not None else root_prefix
    return f"s3://{bucket or root_bucket}/{chosen.strip('/')}"


def _datastore_root() -> str:
    from flowc.current import current

    store = current._values.get("_datastore") if current.is_running_flow else None
    if store is not None:
        return str(store.root)
    from flowc.client import datastore

    root = datastore()
    return root if root.startswith("s3://") else os.path.abspath(root)


def _normalize_root(root: str) -> str:
    if root.startswith("s3://"):
        return root.rstrip("/")
    if root.startswith("file://"):
        root = root[len("file://"):]
    return os.path.abspath(root)


class S3:
    """Metaflow's ``S3`` (see the module docstring); use it as a context manager."""

    def __init__(self, tmproot: str = ".", bucket: str | None = None, prefix: str | None = None,
                 run: Any = None, s3root: str | None = None, encryption: str | None = None,
                 max_workers: int | None = None, **kwargs: Any):
        if run is not None:
            self._s3root: str | None = _run_root(run, bucket, prefix)
        elif s3root is not None:
            self._s3root = _normalize_root(s3root)
        elif bucket is not None:
            self._s3root = f"s3://{bucket}/{(prefix or '').strip('/')}".rstrip("/")
        else:
            self._s3root = None
        self._encryption = encryption
        self._workers = max_workers or _default_workers()
        self._tmpdir: str | None = tempfile.mkdtemp(dir=tmproot, prefix="metaflow.s3.")
        self._storages: dict[str, Any] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ scope

    def __enter__(self) -> "S3":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove every downloaded file (the temporary directory)."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # ------------------------------------------------------------------ addressing

    def _url(self, key: str | None) -> str:
        if key is not None and not isinstance(key, str):
            raise MetaflowS3URLException(f"a key is a string, got {type(key).__name__}")
        absolute = key is not None and (key.startswith("s3://") or key.startswith("file://"))
        if self._s3root is None:
            if not absolute:
                raise MetaflowS3URLException(
                    f"{key!r} is not a full s3:// URL: initialize S3 with s3root= or run= to use keys")
            assert key is not None  # absolute
            return _normalize_root(key) if key.startswith("file://") else key
        if absolute:
            raise MetaflowS3URLException(f"S3 was initialized with a root ({self._s3root}): give "
                                         f"keys relative to it, not the URL {key}")
        if not key:
            return self._s3root
        return f"{self._s3root}/{key.lstrip('/')}" if self._s3root.startswith("s3://") else \
            os.path.join(self._s3root, *key.strip("/").split("/"))

    def _storage(self, url: str) -> Any:
        kind = "s3" if url.startswith("s3://") else "local"
        with self._lock:
            storage = self._storages.get(kind)
            if storage is None:
                storage = self._storages[kind] = _S3Storage() if kind == "s3" else _LocalStorage()
        return storage

    def _object(self, url: str, path: str | None, info: _Info | None, return_info: bool = True,
                prefix: str | None = None) -> S3Object:
        """The S3Object of a get or info; its key is relative to ``prefix`` (default: the root).
        A whole object downloaded with its info has the range ``(size, 0, size)``, as in Metaflow."""
        prefix = self._s3root if prefix is None else prefix
        if info is None:
            return S3Object(prefix, url, None, exists=False)
        if not return_info:
            return S3Object(prefix, url, path, info.size, range_info=info.range_info)
        range_info = info.range_info
        if range_info is None and path is not None:
            range_info = RangeInfo(info.size, 0, info.size)
        return S3Object(prefix, url, path, info.size, info.content_type, info.metadata,
                        range_info, info.last_modified, info.encryption)

    def _temp_path(self) -> str:
        if self._tmpdir is None:
            raise MetaflowS3Exception("this S3 object is closed")
        return os.path.join(self._tmpdir, uuid.uuid4().hex)

    def _parallel(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) ...]`` in order, at most ``2 * workers`` items in flight (inputs are
        pulled lazily, so a generator of large values is never held whole)."""
        results: list[R] = []
        pending: deque[Future[R]] = deque()
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="flowc-s3") as pool:
            try:
                for item in items:
                    pending.append(pool.submit(fn, item))
                    if len(pending) >= 2 * self._workers:
                        results.append(pending.popleft().result())
                while pending:
                    results.append(pending.popleft().result())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return results

    # ------------------------------------------------------------------ listing and info

    def list_paths(self, keys: Iterable[str | None] | None = None) -> list[S3Object]:
        """The objects and prefixes directly under each key (prefixes have ``exists == False``);
        keys are relative to the key listed."""
        return [self._listed(url, info, self._url(key)) for key in (keys or [None])
                for url, info in self._storage(self._url(key)).list(self._url(key), False)]

    def list_recursive(self, keys: Iterable[str | None] | None = None) -> list[S3Object]:
        """Every object under each key (leaves only)."""
        found = []
        for key in (keys or [None]):
            url = self._url(key)
            storage = self._storage(url)
            info = storage.head(url) if key else None
            if info is not None:
                found.append(self._listed(url, info, url))
                continue
            found += [self._listed(u, i, url) for u, i in storage.list(url, True)]
        return found

    def _listed(self, url: str, info: _Info | None, prefix: str | None) -> S3Object:
        if info is None:
            return S3Object(prefix, url, None, exists=False)
        return S3Object(prefix, url, None, info.size)

    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        """Size, content type and metadata of one object, without downloading it."""
        url = self._url(key)
        info = self._storage(url).head(url)
        if info is None and not return_missing:
            raise MetaflowS3NotFound(f"{url} does not exist")
        return self._object(url, None, info)

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        return self._parallel(lambda key: self.info(key, return_missing), keys)

    # ------------------------------------------------------------------ get

    def get(self, key: str | S3GetObject | None = None, return_missing: bool = False,
            return_info: bool = True) -> S3Object:
        """Download one object (or a byte range of it) to the temporary directory."""
        byte_range = None
        if isinstance(key, S3GetObject):
            byte_range = _range_header(key.offset, key.length)
            key = key.key
        url = self._url(key)
        path = self._temp_path()
        try:
            info = self._storage(url).download(url, path, byte_range)
        except OSError as exc:
            if os.path.exists(path):
                os.unlink(path)
            if exc.errno == 28:
                raise MetaflowS3InsufficientDiskSpace(f"no space left downloading {url}") from exc
            raise
        if info is None:
            if os.path.exists(path):
                os.unlink(path)
            if not return_missing:
                raise MetaflowS3NotFound(f"{url} does not exist")
            return self._object(url, None, None)
        return self._object(url, path, info, return_info)

    def get_many(self, keys: Iterable[str | S3GetObject], return_missing: bool = False,
                 return_info: bool = True) -> list[S3Object]:
        return self._parallel(lambda key: self.get(key, return_missing, return_info), keys)

    def get_recursive(self, keys: Iterable[str | None], return_info: bool = False) -> list[S3Object]:
        """Download every object under each key."""
        listed = self.list_recursive(keys)
        return self._parallel(lambda obj: self._get_url(obj.url, return_info, obj.prefix), listed)

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Download everything under the root."""
        if self._s3root is None:
            raise MetaflowS3URLException("get_all() needs S3 initialized with s3root= or run=")
        return self.get_recursive([None], return_info)

    def _get_url(self, url: str, return_info: bool, prefix: str | None) -> S3Object:
        path = self._temp_path()
        info = self._storage(url).download(url, path, None)
        if info is None:
            raise MetaflowS3NotFound(f"{url} does not exist")
        return self._object(url, path, info, return_info, prefix)

    def get_files(self, key_paths: Iterable[tuple[str, str]], return_missing: bool = False) -> list[S3Object]:
        """Download ``(key, local_path)`` pairs straight to those paths (not removed by close).

        Not in Metaflow's API: a convenience for data that must outlive the S3 scope."""
        def fetch(pair: tuple[str, str]) -> S3Object:
            key, local = pair
            url = self._url(key)
            os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
            info = self._storage(url).download(url, local, None)
            if info is None:
                if os.path.exists(local):
                    os.unlink(local)
                if not return_missing:
                    raise MetaflowS3NotFound(f"{url} does not exist")
            return self._object(url, local if info else None, info)

        return self._parallel(fetch, key_paths)

    # ------------------------------------------------------------------ put

    def put(self, key: str | S3PutObject, obj: Any = None, overwrite: bool = True,
            content_type: str | None = None, metadata: dict[str, str] | None = None) -> str:
        """Store ``obj`` (bytes, str, or a readable binary file object) at ``key``; the URL."""
        if isinstance(key, S3PutObject):
            return self._put(key, overwrite)
        return self._put(S3PutObject(key, obj, None, content_type, None, metadata), overwrite)

    def put_many(self, key_objs: Iterable[tuple[str, Any] | S3PutObject],
                 overwrite: bool = True) -> list[tuple[str, str]]:
        """Store many values; ``[(key, url)]`` in the order given."""
        def one(item: Any) -> tuple[str, str]:
            put = item if isinstance(item, S3PutObject) else S3PutObject(item[0], item[1])
            return put.key, self._put(put, overwrite)

        return self._parallel(one, key_objs)

    def put_files(self, key_paths: Iterable[tuple[str, str] | S3PutObject],
                  overwrite: bool = True) -> list[tuple[str, str]]:
        """Upload local files (streamed; multipart when large); ``[(key, url)]``."""
        def one(item: Any) -> tuple[str, str]:
            put = item if isinstance(item, S3PutObject) else S3PutObject(item[0], path=item[1])
            if put.path is None or not os.path.isfile(put.path):
                raise MetaflowS3NotFound(f"local file not found: {put.path}")
            return put.key, self._put(put, overwrite)

        return self._parallel(one, key_paths)

    def _put(self, put: S3PutObject, overwrite: bool) -> str:
        url = self._url(put.key)
        storage = self._storage(url)
        if not overwrite and storage.head(url) is not None:
            return url
        source: Any = put.path
        if source is None:
            source = _readable(put.value, put.key)
        storage.upload(url, source, put.content_type, put.metadata, put.encryption or self._encryption)
        return url


def _readable(value: Any, key: str) -> Any:
    """A seekable binary file object over ``value`` (bytes/str wrapped without a copy of a copy)."""
    import io

    if isinstance(value, str):
        return io.BytesIO(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return io.BytesIO(value)
    if hasattr(value, "read"):
        if hasattr(value, "seekable") and value.seekable():
            return value
        spooled = tempfile.TemporaryFile()
        _stream(value, spooled)
        return spooled
    raise MetaflowS3InvalidObject(f"cannot put a {type(value).__name__} at {key!r}: give bytes, str "
                                  "or a binary file object")


__all__ = ["S3", "S3Object", "S3GetObject", "S3PutObject", "RangeInfo", "MetaflowS3Exception",
           "MetaflowS3NotFound", "MetaflowS3AccessDenied", "MetaflowS3URLException",
           "MetaflowS3InvalidObject", "MetaflowS3InvalidRange", "MetaflowS3InsufficientDiskSpace"]
