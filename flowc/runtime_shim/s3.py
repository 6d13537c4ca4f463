"""The S3 backend of the datastore (``s3://bucket/prefix``); boto3 is imported only here.

The endpoint can point at any S3-compatible store: ``FLOWC_S3_ENDPOINT_URL``, else boto3's own
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``. Transient failures (5xx, throttling, dropped
connections) are retried here with exponential backoff and jitter; botocore's own retries are
turned off so there is one retry policy, and it is tested.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import threading
import time
from typing import Any, BinaryIO, Callable, TypeVar

from flowc.runtime_shim.ids import check_key
from flowc.runtime_shim.storage import DatastoreError, remove_if_present

T = TypeVar("T")

_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
                    "RequestTimeoutException", "InternalError", "ServiceUnavailable",
                    "RequestLimitExceeded", "BandwidthLimitExceeded", "500", "502", "503", "504"}


def split_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    return bucket, prefix.strip("/")


def endpoint_url() -> str | None:
    """The S3 endpoint the environment names, checked: botocore would raise a bare ValueError
    from deep in the first request (the value is not echoed: it may carry a password)."""
    for name in ("FLOWC_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        value = os.environ.get(name)
        if value:
            if not is_http_url(value):
                raise DatastoreError(f"{name} is not an http(s) URL with a host and a valid port")
            return value
    return None


def is_http_url(value: str) -> bool:
    """Whether ``value`` is ``http(s)://host[:port][/path]`` with nothing a client rejects."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and value.isprintable() \
        and " " not in value


_SESSIONS: dict[int, Any] = {}
_SESSION_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    global _SESSION_LOCK
    _SESSION_LOCK = threading.Lock()  # a lock held by another thread at fork time stays held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def make_client(endpoint: str | None = None) -> Any:
    """A new S3 client from this process's session (loading service models once per process
    saves ~0.25 s per datastore; a forked child gets its own session, never its parent's)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # one line in a pod's log or on the command line, not a traceback
        raise DatastoreError("an s3:// datastore needs boto3, which is not installed: "
                             "pip install 'flowc[s3]'") from None

    config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=10, read_timeout=60, max_pool_connections=16)
    with _SESSION_LOCK:  # a boto3 session is not safe to use from several threads at once
        session = _SESSIONS.get(os.getpid())
        if session is None:
            session = _SESSIONS[os.getpid()] = boto3.session.Session()
        return session.client("s3", endpoint_url=endpoint or endpoint_url(), config=config)


def _status(exc: BaseException) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def is_transient(exc: BaseException | None) -> bool:
    """5xx, throttling and connection-level errors; a 4xx other than 429 is never retried."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, ClientError):
            code, status = _status(exc)
            return status >= 500 or status == 429 or code in _TRANSIENT_CODES
        if isinstance(exc, (ConnectionError, HTTPClientError)):
            return True
        exc = exc.__cause__ or exc.__context__  # boto3 wraps transfer errors
        seen += 1
    return False


def is_missing(exc: BaseException) -> bool:
    code, status = _status(exc)
    return status == 404 or code in ("404", "NoSuchKey", "NotFound")


def _found(request: Callable[[], object]) -> bool:
    """True when the request succeeds, False when its object does not exist; other errors
    propagate (to the retry loop)."""
    try:
        request()
    except Exception as exc:  # noqa: BLE001
        if is_missing(exc):
            return False
        raise
    return True


class S3Backend:
    """Keys under ``s3://bucket/prefix``; every call goes through :meth:`call` (retries)."""

    def __init__(self, url: str, client: Any = None, attempts: int = 6, base_delay: float = 0.2,
                 max_delay: float = 10.0):
        self.bucket, self.prefix = split_url(url)
        self.url = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self.client = client if client is not None else make_client()
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retries = 0  # transient failures absorbed so far (tests and logs read it)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def call(self, what: str, fn: Callable[[], T]) -> T:
        for attempt in range(self.attempts):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below
                if not is_transient(exc) or attempt + 1 == self.attempts:
                    raise
                self.retries += 1
                delay = min(self.max_delay, self.base_delay * (2 ** attempt))
                time.sleep(delay * (0.5 + random.random() / 2))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ backend API

    def temp_file(self, near_key: str) -> tuple[BinaryIO, str]:
        fd, path = tempfile.mkstemp(prefix="flowc-blob-")
        return os.fdopen(fd, "wb"), path

    def commit_file(self, temp_path: str, key: str) -> None:
        try:
            self.call(f"upload {key}", lambda: self.client.upload_file(temp_path, self.bucket, self._key(key)))
        except Exception as exc:  # noqa: BLE001
            raise DatastoreError(f"cannot upload {self.url}/{key}: {exc}") from exc
        finally:
            self.discard_temp(temp_path)

    def discard_temp(self, temp_path: str) -> None:
        remove_if_present(temp_path)

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.call(f"put {key}", lambda: self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data))
        except Exception as exc:  # noqa: BLE001
            raise DatastoreError(f"cannot write {self.url}/{key}: {exc}") from exc

    def get_bytes(self, key: str) -> bytes | None:
        def get() -> bytes | None:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except Exception as exc:  # noqa: BLE001
                if is_missing(exc):
                    return None
                raise
            return response["Body"].read()

        try:
            return self.call(f"get {key}", get)
        except Exception as exc:  # noqa: BLE001
            raise DatastoreError(f"cannot read {self.url}/{key}: {exc}") from exc

    def open_read(self, key: str) -> io.BufferedIOBase | None:
        """Downloads to an anonymous temporary file (so a retry restarts cleanly) and returns it."""
        handle = tempfile.TemporaryFile(prefix="flowc-blob-")

        def download() -> bool:
            handle.seek(0)
            handle.truncate()
            return _found(lambda: self.client.download_fileobj(self.bucket, self._key(key), handle))

        try:
            found = self.call(f"download {key}", download)
        except Exception as exc:  # noqa: BLE001
            handle.close()
            raise DatastoreError(f"cannot read {self.url}/{key}: {exc}") from exc
        if not found:
            handle.close()
            return None
        handle.seek(0)
        return handle

    def exists(self, key: str) -> bool:
        def head() -> bool:
            return _found(lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(key)))

        try:
            return self.call(f"head {key}", head)
        except Exception as exc:  # noqa: BLE001
            raise DatastoreError(f"cannot read {self.url}/{key}: {exc}") from exc

    def list_dir(self, key: str) -> list[str]:
        prefix = self._key(key).strip("/")
        prefix = f"{prefix}/" if prefix else ""

        def listing() -> list[str]:
            names: set[str] = set()
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    names.add(common["Prefix"][len(prefix):].rstrip("/"))
                for item in page.get("Contents", ()):
                    names.add(item["Key"][len(prefix):])
            return sorted(name for name in names if name)

        try:
            return self.call(f"list {key}", listing)
        except Exception as exc:  # noqa: BLE001
            raise DatastoreError(f"cannot list {self.url}/{key}: {exc}") from exc


def read_url(url: str) -> bytes:
    """One object's bytes (the manifest source ``s3://bucket/key``)."""
    bucket, key = split_url(url)
    backend = S3Backend(f"s3://{bucket}")
    data = backend.get_bytes(key)
    if data is None:
        raise DatastoreError(f"{url} does not exist")
    return data
