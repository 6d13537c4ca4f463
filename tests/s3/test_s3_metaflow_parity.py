"""``s3_script.py`` -- the same S3 calls, printed -- prints the same lines with flowc's ``S3`` as
with Metaflow 2.19's, against moto's S3 server.

``metaflow_2_19_s3_output.txt`` is what the script printed with Metaflow 2.19.39's S3. The second
test runs Metaflow's side live with the reference Metaflow (``tests.conftest.require_metaflow``,
with boto3 installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

from tests.conftest import require_metaflow

HERE = Path(__file__).resolve().parent
_UNDER_FLOWC = ("from flowc.runtime_shim.loader import install_metaflow_alias; install_metaflow_alias(); "
                "import runpy, sys; sys.argv = ['s3_script.py', %r]; runpy.run_path(%r, run_name='__main__')")


def _run(python: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    done = subprocess.run(python, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _flowc(bucket: str, s3_env: dict[str, str], tmp_path: Path) -> list[str]:
    script = _UNDER_FLOWC % (f"s3://{bucket}/flowc", str(HERE / "s3_script.py"))
    return _run([sys.executable, "-c", script], {**os.environ, **s3_env}, tmp_path)


def test_s3_calls_print_what_they_printed_under_metaflow(bucket, s3_env, tmp_path):
    recorded = (HERE / "metaflow_2_19_s3_output.txt").read_text(encoding="utf-8").splitlines()
    assert _flowc(bucket, s3_env, tmp_path) == recorded


def test_s3_calls_match_a_live_metaflow(bucket, s3_env, tmp_path):
    metaflow_python = str(require_metaflow())
    env = {**os.environ, **s3_env, "METAFLOW_S3_ENDPOINT_URL": s3_env["AWS_ENDPOINT_URL"]}
    theirs = _run([metaflow_python, str(HERE / "s3_script.py"), f"s3://{bucket}/metaflow"], env, tmp_path)
    assert _flowc(bucket, s3_env, tmp_path) == theirs
    assert boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="metaflow/")["KeyCount"] == 4  # it really ran there
