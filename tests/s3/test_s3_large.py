"""A 256 MiB object moves through ``S3`` with flat memory (peak RSS growth measured in a child
process), to moto's S3 server and to a local directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SIZE_MIB = 256
LIMIT_MIB = 100  # transfer buffers (boto3's multipart chunks) are bounded; the object is not held


@pytest.mark.slow
def test_large_object_with_flat_memory(root, tmp_path, s3_env):
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("big_object.py")), root,
                           str(SIZE_MIB), str(work)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **s3_env, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["size"] == SIZE_MIB << 20 and report["same"]
    assert report["tail"] == 1 << 20 and report["tail_total"] == SIZE_MIB << 20
    print(f"peak RSS growth moving {SIZE_MIB} MiB: {report['growth_mib']} MiB")
    assert report["growth_mib"] < LIMIT_MIB, report
