"""Metaflow's own tutorials 02-statistics and 03-playlist-redux (the second reads the first's
results through the client inside a step) run unchanged under ``flowc run`` and leave the same
artifacts as under Metaflow 2.19.

The tutorials are read from an installed Metaflow package (never copied here): the reference
Metaflow venv (``tests.conftest.require_metaflow()``). ``tutorials/compare.py`` prints the
artifacts; ``tutorials/metaflow_2_19_output.txt`` is what it printed after Metaflow 2.19.39 ran the
two flows. They need pandas, on both sides: a missing pandas fails the test (it is in the ``test``
extra), it never skips it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_metaflow

HERE = Path(__file__).resolve().parent / "tutorials"
_UNDER_FLOWC = ("from flowc.runtime_shim.loader import install_metaflow_alias; install_metaflow_alias(); "
                "import runpy; runpy.run_path(%r, run_name='__main__')")


def _tutorials() -> Path:
    metaflow_python = require_metaflow()
    found = subprocess.run([metaflow_python, "-c", "import metaflow, os; print(os.path.dirname(metaflow.__file__))"],
                           capture_output=True, text=True)
    path = Path(found.stdout.strip()) / "tutorials"
    assert found.returncode == 0 and path.is_dir(), f"{metaflow_python}: no metaflow/tutorials\n{found.stderr}"
    return path


def _copy(tutorials: Path, target: Path) -> None:
    target.mkdir()
    for name in ("02-statistics/stats.py", "02-statistics/movies.csv", "03-playlist-redux/playlist.py"):
        shutil.copy(tutorials / name, target / Path(name).name)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWC_USER", "METAFLOW_USER", "FLOWC_DATASTORE")}
    return {**env, "USER": "flowc-tester"}


def _flowc_side(tutorials: Path, tmp_path: Path) -> list[str]:
    if importlib.util.find_spec("pandas") is None:
        pytest.fail("the tutorials need pandas: pip install -e '.[test]'")
    work = tmp_path / "flowc"
    _copy(tutorials, work)
    for flow in ("stats.py", "playlist.py"):
        done = subprocess.run([sys.executable, "-m", "flowc.cli", "run", flow, "--datastore", "ds", "--no-logs"],
                              cwd=work, env=_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    shown = subprocess.run([sys.executable, "-c", _UNDER_FLOWC % str(HERE / "compare.py")], cwd=work,
                           env={**_env(), "FLOWC_DATASTORE": "ds"}, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.splitlines()


def test_tutorials_leave_the_artifacts_metaflow_left(tmp_path):
    recorded = (HERE / "metaflow_2_19_output.txt").read_text(encoding="utf-8").splitlines()
    assert _flowc_side(_tutorials(), tmp_path) == recorded


@pytest.mark.slow
def test_tutorials_match_a_live_metaflow_run(tmp_path):
    tutorials = _tutorials()
    metaflow_python = require_metaflow()
    probe = subprocess.run([metaflow_python, "-c", "import pandas"], capture_output=True)
    assert probe.returncode == 0, (f"the Metaflow venv {metaflow_python} has no pandas: "
                                   f"{metaflow_python} -m pip install pandas")
    work = tmp_path / "metaflow"
    _copy(tutorials, work)
    env = {**_env(), "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
    for flow in ("stats.py", "playlist.py"):
        done = subprocess.run([metaflow_python, flow, "run"], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
    theirs = subprocess.run([metaflow_python, str(HERE / "compare.py")], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    assert _flowc_side(tutorials, tmp_path) == theirs.stdout.splitlines()
