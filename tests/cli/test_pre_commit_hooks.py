"""The pre-commit hooks run flowc as pre-commit would: entry + args (+ file names)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import yaml

from tests.conftest import ROOT

HOOKS = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def run_hook(hook_id: str, args: list[str], cwd) -> subprocess.CompletedProcess:
    entry = shlex.split(HOOKS[hook_id]["entry"])
    assert entry[0] == "flowc"
    return subprocess.run([sys.executable, "-m", "flowc.cli", *entry[1:], *args], cwd=cwd,
                          capture_output=True, text=True)


def test_check_hook_passes_on_fresh_specs_and_fails_with_a_diff_on_stale_ones(tmp_path):
    shutil.copy(ROOT / "examples" / "train.py", tmp_path / "train.py")
    (tmp_path / "pyproject.toml").write_text('[tool.flowc]\ndatastore_root = "s3://team/flowc"\n')
    args = ["train.py", "--target", "all", "--output-dir", "deploy"]
    written = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", *args], cwd=tmp_path,
                             capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    assert run_hook("flowc-check", args, tmp_path).returncode == 0
    spec = tmp_path / "deploy" / "argo" / "train.yaml"
    spec.write_text(spec.read_text().replace("parallelism: 100", "parallelism: 7"))
    stale = run_hook("flowc-check", args, tmp_path)
    assert stale.returncode == 1
    assert "-  parallelism: 7" in stale.stdout and "+  parallelism: 100" in stale.stdout
    assert spec.read_text().count("parallelism: 7") == 1  # --check writes nothing


def test_lint_hook_reports_diagnostics_of_the_files_it_is_given(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from flowc import FlowSpec, step\n\nclass Bad(FlowSpec):\n    @step\n"
                   "    def start(self):\n        self.next(self.tarin)\n\n    @step\n"
                   "    def end(self):\n        pass\n")
    result = run_hook("flowc-lint", [bad.name], tmp_path)
    assert result.returncode == 1
    assert "bad.py:6:19: error:" in result.stderr
    assert HOOKS["flowc-check"]["pass_filenames"] is False
