"""What every task of a spec is told besides the manifest: a flow with @pypi / @conda steps carries
the hash of the lock file beside it (or "none"), so tasks install exactly what was reviewed, on
every target; a flow without environments carries nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLOW = '''
from metaflow import FlowSpec, pypi, step

class LockedFlow(FlowSpec):
    @pypi(packages={"pyjokes": "0.8.3"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def compile_all(project: Path) -> dict[str, str]:
    out = project / "out"
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", "locked.py", "--target", "all",
                           "--set", "sfn_format=cloudformation", "--output-dir", str(out)],
                          cwd=project, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 0, done.stderr
    return {p.parent.name: p.read_text() for p in out.rglob("locked.*")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.flowc]\ndatastore_root = "s3://b/p"\n')
    (tmp_path / "locked.py").write_text(FLOW)
    return tmp_path


def test_the_lock_hash_reaches_every_target(project: Path) -> None:
    unlocked = compile_all(project)
    assert all("FLOWC_LOCK_SHA256" in text for text in unlocked.values())
    assert "value: none" in unlocked["argo"]
    lock = project / "locked.flowc.lock"
    lock.write_text(json.dumps({"lock_version": 1, "environments": {}}))
    import hashlib

    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    locked = compile_all(project)
    assert all(digest in text for text in locked.values()), "every target carries the lock's hash"


def test_a_flow_without_environments_carries_no_lock_hash(project: Path) -> None:
    (project / "locked.py").write_text(FLOW.replace('    @pypi(packages={"pyjokes": "0.8.3"})\n', ""))
    assert not any("FLOWC_LOCK_SHA256" in text for text in compile_all(project).values())
