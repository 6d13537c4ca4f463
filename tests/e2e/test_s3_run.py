"""``flowc run`` and ``flowc resume`` with the datastore in S3 (moto's server on loopback): the same
artifacts as a run on a local directory."""

from __future__ import annotations

from pathlib import Path

import pytest

# A hard import: without moto these tests must fail, not turn into a green skip.
import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from tests.e2e.conftest import FLOWS, flowc_cli  # noqa: E402
from tests.harness import run_locally, snapshot  # noqa: E402


@pytest.fixture(scope="module")
def s3_env():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    yield env
    server.stop()


@pytest.mark.slow
def test_run_on_s3_matches_a_local_run(s3_env, tmp_path: Path, monkeypatch) -> None:
    boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing",
                 ).create_bucket(Bucket="flowc-run")
    root = "s3://flowc-run/prefix"
    done = flowc_cli("run", str(FLOWS / "foreach.py"), "--datastore", root,
                     "--run-id-file", str(tmp_path / "id"), cwd=tmp_path, env=s3_env)
    assert done.returncode == 0, done.stderr
    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    remote = snapshot(root, "ForeachFlow", (tmp_path / "id").read_text())
    local_id = run_locally(FLOWS / "foreach.py", tmp_path / "local")
    assert remote == snapshot(tmp_path / "local" / "datastore", "ForeachFlow", local_id)
    origin = (tmp_path / "id").read_text()
    resumed = flowc_cli("resume", str(FLOWS / "foreach.py"), origin, "--step", "join",
                        "--datastore", root, "--run-id-file", str(tmp_path / "resumed"),
                        cwd=tmp_path, env=s3_env)
    assert resumed.returncode == 0, resumed.stderr
    resumed_id = (tmp_path / "resumed").read_text()
    assert resumed_id != origin
    # The resumed run holds the same artifacts, steps before join cloned, join and end re-run.
    assert snapshot(root, "ForeachFlow", resumed_id) == remote
    from flowc.client import Run

    run = Run(f"ForeachFlow/{resumed_id}", root)
    assert run.successful and run.origin_run_id == origin
    assert run["start"].task._done["origin_run_id"] == origin
    assert "origin_run_id" not in run["join"].task._done
