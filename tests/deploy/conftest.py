"""Fixtures for the deploy tests: a flow project in a temp directory, moto's server on loopback.

Nothing here reaches the network: AWS calls go to a ``ThreadedMotoServer`` bound to 127.0.0.1 on a
free port (``AWS_ENDPOINT_URL``), with fake credentials in the environment.
"""

from __future__ import annotations

import json
import shutil
import socket
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SHAPES, TEST_DATASTORE

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAFLOWCTESTKEY0000",
    "AWS_SECRET_ACCESS_KEY": "flowc-test-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "flowc-deploy-test"
ROLE = "arn:aws:iam::123456789012:role/flowc-sfn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """Fake credentials pointing boto3 at a freshly reset moto, with the datastore bucket made."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in FAKE_AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(request).close()
    # Executions stay RUNNING (moto's default) whatever an earlier test configured.
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/config", method="POST",
                                     data=b'{"stepfunctions": {"execute_state_machine": false}}',
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return moto_endpoint


def make_project(root: Path, flow: str, settings: dict[str, object], name: str = "flow.py") -> Path:
    """A directory holding one flow file (a corpus name like ``parameters`` or flow source) and a
    pyproject.toml whose [tool.flowc] holds ``settings``; returns the flow file's path."""
    root.mkdir(parents=True, exist_ok=True)
    if "\n" in flow:
        (root / name).write_text(textwrap.dedent(flow), encoding="utf-8")
    else:
        shutil.copyfile(SHAPES / f"{flow}.py", root / name)
    # a project names its datastore; code "image" as the repository's examples (tests choosing
    # code packages say so)
    settings = {"datastore_root": TEST_DATASTORE, "code": "image", **settings}
    lines = ["[tool.flowc]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / name
