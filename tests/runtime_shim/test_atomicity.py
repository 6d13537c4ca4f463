"""A task killed while saving leaves nothing a reader can see; its retry succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from flowc.client import Run
from flowc.compiler import compile_file
from flowc.runtime_shim.datastore import TaskKey, open_datastore
from flowc.runtime_shim.manifest_source import encode_inline
from tests.runtime_shim.driver import write_flow

FLOW = """
    import os, time
    from metaflow import FlowSpec, current, step

    class Stall:
        '''Pickling this announces itself, then stalls (only on attempt 0): the kill lands mid-save.'''

        def __reduce__(self):
            if os.environ.get("FLOWC_ATTEMPT", "0") == "0":
                open(os.environ["STALL_MARKER"], "w").close()
                time.sleep(60)
            return (Stall, ())

    class KillFlow(FlowSpec):
        @step
        def start(self):
            self.a_first = b"a" * 100_000
            self.b_stall = Stall()
            self.c_last = "never saved on attempt 0"
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_sigkill_mid_save_leaves_no_visible_task(tmp_path):
    path = write_flow(tmp_path, FLOW)
    marker = tmp_path / "stalled"
    env = {**os.environ, "STALL_MARKER": str(marker),
           "FLOWC_MANIFEST": encode_inline(compile_file(path).flow)}
    cmd = [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(path), "--run-id", "r1",
           "--datastore", "ds", "--step", "start", "--side-channel-dir", "sc"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the task never reached its save"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    store = open_datastore(str(tmp_path / "ds"))
    key = TaskKey("KillFlow", "r1", "start", "t")
    assert store.read_done(key) is None
    assert list(store.iter_done_tasks("KillFlow", "r1", "start")) == []
    assert store.read_attempt(key, 0)["status"] == "running"
    assert not Run("KillFlow/r1", store)["start"].task.successful
    assert not (tmp_path / "sc").exists()
    blobs = [p for p in (tmp_path / "ds" / "KillFlow" / "blobs").rglob("*") if p.is_file()]
    # Only complete, content-addressed blobs are ever visible under their hash.
    for blob in blobs:
        if not blob.name.startswith(".tmp-"):
            import hashlib

            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

    retry = subprocess.run(cmd, cwd=tmp_path, env={**env, "FLOWC_ATTEMPT": "1"}, capture_output=True,
                           text=True, timeout=60)
    assert retry.returncode == 0, retry.stderr
    done = store.read_done(key)
    assert done["attempt"] == 1 and set(done["artifacts"]) >= {"a_first", "b_stall", "c_last"}
