"""Specs name files relative to the project (the directory holding pyproject.toml or .git), so the
same flow compiles to the same bytes whatever directory compile runs from, and `--check` in CI
does not depend on the working directory. Diagnostics still name the file as the user gave it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def compile_from(cwd: Path, flow: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowc.cli", "compile", os.path.relpath(flow, cwd),
                           "--target", "all", "--output-dir", str(out), *extra],
                          cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("code", ["package", "image"])
def test_the_same_flow_compiles_to_the_same_bytes_from_any_directory(tmp_path: Path, code: str) -> None:
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "pyproject.toml").write_text(f'[tool.flowc]\ndatastore_root = "s3://team/flowc"\ncode = "{code}"\n')
    flow = project / "flows" / "nightly.py"
    shutil.copy(ROOT / "examples" / "train.py", flow)
    outputs = []
    for cwd in (project, project / "flows", tmp_path):
        out = tmp_path / f"out-{len(outputs)}"
        done = compile_from(cwd, flow, out)
        assert done.returncode == 0, done.stderr
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.*"))})
    assert outputs[0] == outputs[1] == outputs[2]
    if code == "image":
        assert len(outputs[0]) == 3
        assert b"/app/flows/nightly.py" in outputs[0]["argo/nightly.yaml"]
    else:  # the three specs and the code package they name, the same bytes too
        (archive,) = [name for name in outputs[0] if name.startswith("flowc-code/nightly-")]
        assert len(outputs[0]) == 4
        assert f"s3://team/flowc/{archive}".encode() in outputs[0]["argo/nightly.yaml"]


def test_diagnostics_name_the_file_as_it_was_given(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.flowc]\ndatastore_root = "/not/s3"\n')
    flow = project / "flows" / "nightly.py"
    shutil.copy(ROOT / "examples" / "train.py", flow)
    done = compile_from(project / "flows", flow, tmp_path / "out", "--format", "json")
    assert done.returncode == 1
    (error,) = [d for d in json.loads(done.stdout) if d["severity"] == "error"]
    assert error["code"] == "FLOW230" and error["path"] == "nightly.py"  # sfn needs an S3 datastore
