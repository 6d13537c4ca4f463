"""Fixtures for the ``S3`` API: moto's S3 server on loopback, and a root in S3 or on local disk."""

from __future__ import annotations

import pytest

pytest.importorskip("moto.server")
import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402


@pytest.fixture(scope="session")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
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
    name = "s3api-" + request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")[:50].strip("-")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["moto", "local"])
def root(request, tmp_path):
    """An S3 root: in a moto bucket, or a local directory (a local datastore's data area)."""
    if request.param == "local":
        return str(tmp_path / "store")
    name = request.getfixturevalue("bucket")
    return f"s3://{name}/some/root"
