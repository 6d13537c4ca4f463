"""``S3(run=self)`` inside a flow under ``flowc run``: a per-run area under the datastore root,
local or in S3, readable afterwards with ``S3(run=Run(...))``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import boto3

from flowc.client import Flow
from flowc.s3 import S3

FLOW = """
    from metaflow import FlowSpec, S3, card, current, step
    from metaflow.cards import Markdown

    class S3Flow(FlowSpec):
        @step
        def start(self):
            with S3(run=self) as s3:
                self.url = s3.put("greeting", "hello from start")
                s3.put_many([("parts/%d" % i, str(i)) for i in range(3)])
            self.next(self.end)

        @card
        @step
        def end(self):
            current.card.append(Markdown("read back from S3"))
            from metaflow.plugins.datatools.s3 import S3 as Same
            with Same(run=self) as s3:
                self.greeting = s3.get("greeting").text
                self.parts = sorted(o.text for o in s3.get_recursive(["parts"]))
"""


def _run(tmp_path, datastore, env=None):
    (tmp_path / "s3_flow.py").write_text(textwrap.dedent(FLOW), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "run", "s3_flow.py", "--datastore", datastore,
                           "--no-logs"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return Flow("S3Flow", datastore if datastore.startswith("s3://") else str(tmp_path / datastore)).latest_run


def test_s3_run_self_on_a_local_datastore(tmp_path):
    run = _run(tmp_path, "ds")
    assert run.data.greeting == "hello from start" and run.data.parts == ["0", "1", "2"]
    expected = tmp_path / "ds" / "data" / "S3Flow" / run.id / "greeting"
    assert run["start"].task.data.url == str(expected) and expected.read_text() == "hello from start"
    with S3(run=run, tmproot=str(tmp_path)) as s3:
        assert s3.get("greeting").text == "hello from start"


def test_s3_run_self_on_an_s3_datastore(tmp_path, bucket, s3_env):
    run = _run(tmp_path, f"s3://{bucket}/flowc", s3_env)
    assert run.data.greeting == "hello from start" and run.data.parts == ["0", "1", "2"]
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"flowc/data/S3Flow/{run.id}/greeting")["Body"]
    assert body.read() == b"hello from start"
    assert run["start"].task.data.url == f"s3://{bucket}/flowc/data/S3Flow/{run.id}/greeting"
    [card] = run["end"].task.cards  # cards are stored in an S3 datastore too
    assert "read back from S3" in card.get() and open(card.path).read() == card.get()
