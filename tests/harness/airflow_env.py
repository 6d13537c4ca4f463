"""A real Airflow for the tests: a temporary AIRFLOW_HOME, one ``airflow db migrate`` per session,
DagBag imports and in-process ``dag.test()`` runs.

Airflow reads its configuration when it is first imported, so this module sets the environment
at import time and must be imported before anything imports ``airflow`` (the Airflow test
modules import it first). Everything Airflow writes stays under one temporary directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="flowc-airflow-"))
atexit.register(shutil.rmtree, HOME, True)
# Only what this process's Airflow needs: pytest imports every test module before running any,
# so other tests' subprocesses inherit these (they set their own AIRFLOW_HOME).
ENV = {
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(HOME / "dags"),
    "KUBECONFIG": str(HOME / "kubeconfig"),
}
_IMPORTED_BEFORE = "airflow" in sys.modules
os.environ.update(ENV)

# A kubeconfig that points nowhere: enough for KubernetesPodOperator to build pod objects offline.
FAKE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://127.0.0.1:1"}
  name: fake
contexts:
- context: {cluster: fake, user: fake, namespace: default}
  name: fake
current-context: fake
users:
- name: fake
  user: {token: fake}
"""

_MIGRATED = False


def migrate() -> Path:
    """``airflow db migrate`` into the temporary home, once per process; returns the home."""
    global _MIGRATED
    if _IMPORTED_BEFORE:
        raise RuntimeError("airflow was imported before tests/harness/airflow_env.py set "
                           "AIRFLOW_HOME; import the harness first")
    if not _MIGRATED:
        (HOME / "dags").mkdir(exist_ok=True)
        (HOME / "kubeconfig").write_text(FAKE_KUBECONFIG)
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env={**os.environ, **ENV},
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stdout}\n{done.stderr}")
        _MIGRATED = True
    return HOME


@dataclass(frozen=True)
class Imported:
    dags: dict
    errors: dict
    warnings: tuple


def import_dags(folder: Path) -> Imported:
    """Every DAG file in ``folder`` through Airflow's own DagBag: the DAGs and the import errors."""
    migrate()
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    return Imported(dict(bag.dags), dict(bag.import_errors), tuple(getattr(bag, "captured_warnings", {}).items()))


def install_dag(text: str, name: str) -> Path:
    """Make ``text`` the only DAG file of the dags folder (``dag.test()`` re-parses the whole
    folder, so one file keeps it fast); returns its path."""
    migrate()
    dags = HOME / "dags"
    for old in dags.glob("*.py"):
        old.unlink()
    path = dags / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path


def load_dag(text: str, name: str, dag_id: str):
    """Install ``text`` as the only DAG file and import it through a DagBag."""
    path = install_dag(text, name)
    imported = import_dags(path.parent)
    assert not imported.errors, imported.errors
    return imported.dags[dag_id]


def run_dag(dag, conf: dict | None = None) -> tuple[str, str, dict]:
    """``dag.test()``: one DAG run in this process (the DAG must be the installed one);
    returns (run state, run id, {(task id, map index): state})."""
    migrate()
    run = dag.test(run_conf=conf)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id,
                                                  TaskInstance.run_id == run.run_id).all()
        states = {(ti.task_id, ti.map_index): str(ti.state) for ti in rows}
    return str(run.state), run.run_id, states


AIRFLOW2_VENV = Path(__file__).resolve().parents[2] / ".venvs" / "airflow2"
AIRFLOW2_INSTALL = (f"python -m venv {AIRFLOW2_VENV} && {AIRFLOW2_VENV}/bin/pip install "
                    "'apache-airflow==2.10.5' apache-airflow-providers-cncf-kubernetes")


def airflow2_python() -> Path:
    """The Python of the Airflow 2.10 virtualenv (``FLOWC_AIRFLOW2_PYTHON`` or .venvs/airflow2);
    fails the test with the command that creates it when it is missing."""
    import pytest

    python = Path(os.environ.get("FLOWC_AIRFLOW2_PYTHON", AIRFLOW2_VENV / "bin" / "python"))
    if not python.exists():
        pytest.fail(f"no Airflow 2.10 environment at {python}; create it with: {AIRFLOW2_INSTALL} "
                    "(or deselect these tests with -m 'not airflow2')")
    return python


def airflow2_env(home: Path) -> dict[str, str]:
    """Environment for the Airflow 2.10 interpreter: its own home, examples off."""
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"), "AIRFLOW__CORE__UNIT_TEST_MODE": "False"}
