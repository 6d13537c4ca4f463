"""``current`` inside steps shows what Metaflow 2.19's shows: the same ``dir()``, the same
``in`` answers, the same values (ids by shape), ``task``/``run`` client objects and the graph.

``current_flow.py`` writes what it sees per step (with ``@card``, ``@project``, a parameter, a
foreach, ``@parallel``, ``--tag``). ``metaflow_2_19_current.json`` is what it wrote under Metaflow
2.19.39 (local datastore and metadata, USER=flowc-tester, ``run --tag exp-1``, the five step
files gathered into one object by step name); the second test runs Metaflow live. Editing
``current_flow.py`` moves its line numbers: record the file again from a Metaflow run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_metaflow

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "metaflow_2_19_current.json"
STEPS = ("start", "body", "join", "gang", "end")


def _env(facts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FLOWC_USER", "METAFLOW_USER", "USERNAME", "SUDO_USER", "FLOWC_DATASTORE")}
    return {**env, "USER": "flowc-tester", "CURRENT_FACTS": str(facts)}


def _facts(command: list[str], work: Path, **extra: str) -> dict[str, dict]:
    work.mkdir()
    shutil.copy(HERE / "current_flow.py", work / "current_flow.py")
    (work / "facts").mkdir()
    done = subprocess.run(command, cwd=work, env={**_env(work / "facts"), **extra}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {step: json.loads((work / "facts" / f"{step}.json").read_text(encoding="utf-8")) for step in STEPS}


def _flowc(tmp_path: Path) -> dict[str, dict]:
    return _facts([sys.executable, "-m", "flowc.cli", "run", "current_flow.py", "--datastore", "ds", "--no-logs",
                   "--tag", "exp-1"], tmp_path / "flowc")


def test_current_shows_what_it_showed_under_metaflow(tmp_path):
    ours = _flowc(tmp_path)
    assert ours == json.loads(RECORDED.read_text(encoding="utf-8"))
    # the facts are not vacuous: plugin attributes appear only where Metaflow's do
    assert "card" in ours["start"]["dir"] and "card" not in ours["end"]["dir"]
    assert "is_parallel" in ours["gang"]["dir"] and "is_parallel" not in ours["start"]["dir"]
    assert ours["gang"]["parallel"] == ["127.0.0.1", 2, 1, True]
    assert ours["start"]["graph"]["graph_structure"] == ["start", [["body"]], "join", "launch", "gang",
                                                         "gang_join", "end"]


def test_current_matches_a_live_metaflow_run(tmp_path):
    metaflow_python = require_metaflow()
    # Metaflow's local @parallel starts its other nodes with the ``python`` found on PATH
    path = f"{metaflow_python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    theirs = _facts([str(metaflow_python), "current_flow.py", "--no-pylint", "run", "--tag", "exp-1"],
                    tmp_path / "metaflow", PATH=path, METAFLOW_DEFAULT_DATASTORE="local",
                    METAFLOW_DEFAULT_METADATA="local")
    assert _flowc(tmp_path) == theirs
