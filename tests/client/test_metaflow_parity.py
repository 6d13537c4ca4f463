"""The client, used the way Metaflow's documentation uses it, prints the same lines on a flowc run
as on a Metaflow 2.19 run of the same flow.

``metaflow_2_19_output.txt`` is what ``client_script.py`` printed against a Metaflow 2.19.39 run
of ``docs_flow.py`` (local datastore and metadata, USER=flowc-tester). The second test makes that
Metaflow run again with the reference Metaflow (``tests.conftest.require_metaflow``) and compares
the two live.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_metaflow

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "metaflow_2_19_output.txt"

# Runs the script with ``import metaflow`` meaning flowc, as inside flowc's runtime.
_UNDER_FLOWC = ("from flowc.runtime_shim.loader import install_metaflow_alias; install_metaflow_alias(); "
                "import runpy; runpy.run_path(%r, run_name='__main__')")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FLOWC_USER", "METAFLOW_USER", "USERNAME", "SUDO_USER", "FLOWC_DATASTORE")}
    return {**env, "USER": "flowc-tester", **extra}


def _flowc_output(tmp_path: Path) -> str:
    shutil.copy(HERE / "docs_flow.py", tmp_path / "docs_flow.py")
    env = _env()
    run = subprocess.run([sys.executable, "-m", "flowc.cli", "run", "docs_flow.py", "--datastore", "ds",
                          "--no-logs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    script = subprocess.run([sys.executable, "-c", _UNDER_FLOWC % str(HERE / "client_script.py")],
                            cwd=tmp_path, env={**env, "FLOWC_DATASTORE": "ds"}, capture_output=True,
                            text=True, timeout=120)
    assert script.returncode == 0, script.stderr
    return script.stdout


def test_client_script_prints_what_it_printed_under_metaflow(tmp_path):
    assert _flowc_output(tmp_path).splitlines() == RECORDED.read_text(encoding="utf-8").splitlines()


def test_client_script_matches_a_live_metaflow_run(tmp_path):
    metaflow_python = str(require_metaflow())
    work = tmp_path / "metaflow"
    work.mkdir()
    shutil.copy(HERE / "docs_flow.py", work / "docs_flow.py")
    env = _env(METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local")
    run = subprocess.run([metaflow_python, "docs_flow.py", "run"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    theirs = subprocess.run([metaflow_python, str(HERE / "client_script.py")], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    ours_dir = tmp_path / "flowc"
    ours_dir.mkdir()
    assert _flowc_output(ours_dir).splitlines() == theirs.stdout.splitlines()
