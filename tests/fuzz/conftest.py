"""Fixtures of the fuzz suite: a sandbox (own working directory and datastore, no engine reachable)
and the bad paths cases refer to as ``{fifo}``, ``{dir}``, ... in corpus/arguments.json."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import SHAPES

CORPUS = Path(__file__).parent / "corpus"

# Derandomized by default so a CI run is reproducible; FLOWC_FUZZ_RANDOM=1 explores new inputs.
settings.register_profile("fuzz", deadline=None, database=None, print_blob=True,
                          derandomize=not os.environ.get("FLOWC_FUZZ_RANDOM"),
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Paths the cases use, in a fresh directory."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "pyproject.toml").write_text('[tool.flowc]\ndatastore_root = "s3://fuzz/flows"\n')
    flow = root / "flow.py"
    shutil.copyfile(SHAPES / "linear.py", flow)
    (root / "a_dir").mkdir()  # flows beside a FIFO and a broken link: compiling it must not hang
    shutil.copyfile(SHAPES / "branch.py", root / "a_dir" / "branch.py")
    os.mkfifo(root / "a_dir" / "stuck.py")
    (root / "a_dir" / "gone.py").symlink_to(root / "nowhere.py")
    (root / "a_file.txt").write_text("a file, not a directory\n")
    (root / "binary.py").write_bytes(bytes(range(256)) * 4)
    os.mkfifo(root / "fifo.py")
    return {"root": str(root), "flow": str(flow), "dir": str(root / "a_dir"),
            "file": str(root / "a_file.txt"), "binary": str(root / "binary.py"),
            "fifo": str(root / "fifo.py")}


@pytest.fixture(autouse=True)
def isolated(sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """No case writes into the repository or reaches an engine."""
    monkeypatch.chdir(sandbox["root"])
    monkeypatch.setenv("FLOWC_DATASTORE", str(Path(sandbox["root"]) / "datastore"))
    for name in ("ARGO_SERVER", "ARGO_TOKEN", "AWS_PROFILE", "AIRFLOW_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # closed: refused at once
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "fuzz")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fuzz")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
