"""The S3 datastore against moto's server on loopback, with injected transient errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A hard import: without moto these tests must fail, not turn into a green skip.
import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from flowc.runtime_shim.datastore import DatastoreError, S3Datastore, TaskKey, open_datastore  # noqa: E402
from flowc.runtime_shim.s3 import is_transient  # noqa: E402
from tests.runtime_shim.driver import drive, write_flow  # noqa: E402


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


@pytest.fixture
def bucket(s3_env, request):
    name = "flowc-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


class FailFirst:
    """A botocore ``before-send`` hook answering the first ``n`` matching requests with ``status``."""

    def __init__(self, n: int, status: int = 503, methods: tuple[str, ...] = ("GET", "PUT", "HEAD")):
        self.remaining = n
        self.status = status
        self.methods = methods
        self.failed = 0

    def __call__(self, request, **kwargs):
        if self.remaining <= 0 or request.method not in self.methods:
            return None
        self.remaining -= 1
        self.failed += 1
        return AWSResponse(request.url, self.status, {}, _Raw(b""))


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def _store(bucket: str, hook=None) -> S3Datastore:
    return _store_at(f"s3://{bucket}/pre/fix", hook)


def _store_at(root: str, hook=None) -> S3Datastore:
    store = open_datastore(root)
    assert isinstance(store, S3Datastore)
    store.backend.base_delay = 0.01
    if hook is not None:
        store.backend.client.meta.events.register("before-send.s3", hook)
    return store


def test_roundtrip_layout_and_listing(bucket):
    store = _store(bucket)
    ref = store.save_artifact("F", "x", {"a": 1})
    assert store.save_artifact("F", "y", {"a": 1}) == ref
    assert store.load_artifact("F", "x", ref) == {"a": 1}
    key = TaskKey("F", "r1", "start", "t")
    store.write_attempt(key, 0, {"status": "succeeded"})
    store.save_log(key, 0, "stdout", b"out")
    store.write_done(key, {"artifacts": {"x": ref.to_json()}})
    keys = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"pre/fix/F/blobs/{ref.sha[:2]}/{ref.sha}", "pre/fix/F/runs/r1/start/t/0/attempt.json",
                    "pre/fix/F/runs/r1/start/t/0/stdout.log", "pre/fix/F/runs/r1/start/t/DONE.json"]
    assert store.list_runs("F") == ["r1"]
    assert store.list_steps("F", "r1") == ["start"]
    assert store.list_tasks("F", "r1", "start") == ["t"]
    assert store.read_done(key)["artifacts"]["x"]["sha"] == ref.sha
    assert store.read_done(TaskKey("F", "r1", "start", "t_9")) is None
    assert store.read_log(key, 0, "stdout") == b"out"


def test_large_artifact_uses_multipart_upload(bucket):
    store = _store(bucket)
    value = os.urandom(9 << 20)  # above boto3's 8 MiB multipart threshold
    ref = store.save_artifact("F", "big", value)
    assert ref.size > 9 << 20
    assert store.load_artifact("F", "big", ref) == value


def test_transient_errors_are_retried_with_backoff(bucket):
    hook = FailFirst(3)
    store = _store(bucket, hook)
    ref = store.save_artifact("F", "x", [1, 2])
    store.write_run("F", "r1", {"status": "running"})
    assert store.load_artifact("F", "x", ref) == [1, 2]
    assert store.read_run("F", "r1") == {"status": "running"}
    assert hook.failed == 3 and store.backend.retries == 3


def test_persistent_errors_give_up_and_4xx_is_not_retried(bucket):
    store = _store(bucket, FailFirst(100))
    store.backend.attempts = 3
    with pytest.raises(DatastoreError, match="cannot write"):
        store.write_run("F", "r1", {})
    assert store.backend.retries == 2
    denied = _store(bucket, FailFirst(100, status=403))
    with pytest.raises(DatastoreError):
        denied.write_run("F", "r1", {})
    assert denied.backend.retries == 0


def test_missing_blob_names_the_artifact(bucket):
    from flowc.runtime_shim.datastore import ArtifactRef

    with pytest.raises(DatastoreError, match="artifact 'm' is missing"):
        _store(bucket).load_artifact("F", "m", ArtifactRef("ab" * 32, 3))


def test_is_transient_classifies_connection_errors():
    from botocore.exceptions import ClientError, EndpointConnectionError

    assert is_transient(EndpointConnectionError(endpoint_url="http://x"))
    assert is_transient(ClientError({"Error": {"Code": "SlowDown"}}, "PutObject"))
    assert not is_transient(ClientError({"Error": {"Code": "AccessDenied"},
                                         "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject"))
    assert not is_transient(ValueError("x"))


FLOW = """
    from metaflow import FlowSpec, step

    class S3Flow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2, 3]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.sq = self.input ** 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.sq for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            print("total", self.total)
"""


class FailEvery(FailFirst):
    """Answers every ``n``-th request with a 503, for as long as the test runs."""

    def __init__(self, n: int):
        super().__init__(0)
        self.n = n
        self.seen = 0

    def __call__(self, request, **kwargs):
        self.seen += 1
        if self.seen % self.n:
            return None
        self.failed += 1
        return AWSResponse(request.url, 503, {}, _Raw(b""))


def test_a_flow_runs_on_s3_in_process_through_transient_errors(bucket, tmp_path):
    hook = FailEvery(5)
    driven = drive(write_flow(tmp_path, FLOW), _store_at(f"s3://{bucket}/root", hook))
    assert hook.failed >= 10 and driven.datastore.backend.retries == hook.failed
    from flowc import Flow

    run = Flow("S3Flow", datastore=f"s3://{bucket}/root").latest_run
    assert run.successful and run.data.total == 14
    assert driven.done("body", "t_2")["artifacts"]["sq"]["size"] > 0


def test_shim_cli_on_s3_with_manifest_in_s3(bucket, tmp_path, s3_env):
    from flowc.compiler import compile_file, ir

    path = write_flow(tmp_path, """
        from metaflow import FlowSpec, step

        class S3Flow(FlowSpec):
            @step
            def start(self):
                self.total = 14
                self.next(self.end)

            @step
            def end(self):
                print("total", self.total)
    """)
    flow = compile_file(path).flow
    boto3.client("s3").put_object(Bucket=bucket, Key="manifests/s3flow.json",
                                  Body=ir.dump_manifest(flow).encode())
    env = {**os.environ, **s3_env, "FLOWC_MANIFEST": f"s3://{bucket}/manifests/s3flow.json",
           "FLOWC_DATASTORE": f"s3://{bucket}/cli"}
    base = [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(path), "--run-id", "c1"]
    for extra in (["--step", "start"], ["--step", "end"]):
        proc = subprocess.run(base + extra, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert "total 14" in proc.stdout
    store = _store(bucket)
    cli = open_datastore(f"s3://{bucket}/cli")
    assert cli.read_log(TaskKey("S3Flow", "c1", "end", "t"), 0, "stdout") == b"total 14\n"
    assert store.list_runs("S3Flow") == []


def test_endpoint_override_order(monkeypatch):
    from flowc.runtime_shim.s3 import endpoint_url, split_url

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://generic:1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("FLOWC_S3_ENDPOINT_URL", raising=False)
    assert endpoint_url() == "http://generic:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2")
    assert endpoint_url() == "http://s3-only:2"
    monkeypatch.setenv("FLOWC_S3_ENDPOINT_URL", "http://minio:9000")
    assert endpoint_url() == "http://minio:9000"
    assert split_url("s3://b/some/prefix/") == ("b", "some/prefix")
    with pytest.raises(ValueError):
        split_url("s3:///nobucket")
