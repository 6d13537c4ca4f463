"""Run a corpus flow under Metaflow 2.19 (a venv, default /tmp/mf) and under ``flowc run``, and
compare the artifacts of every step (as multisets per step: task ids differ by design).

    python -m tests.corpus.metaflow_compare [CORPUS_FILE ...]   # all compiling flows by default

Writes a line per flow: ``same``, ``DIFF ...``, or why the Metaflow run could not be made (a
third-party library, a cloud datastore). Metaflow's own bookkeeping artifacts (``_*``, ``name``)
are left out, as ``flowc run``'s are.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from tests.conftest import METAFLOW_PYTHON  # the one place tests find the reference Metaflow

CORPUS = Path(__file__).resolve().parent

_DUMP = r"""
import pickle, sys
from metaflow import Flow, namespace
namespace(None)
run = Flow(sys.argv[1]).latest_run
out = {}
for step in run:
    out[step.id] = [{a.id: a.data for a in task if not a.id.startswith("_") and a.id != "name"}
                    for task in step]
pickle.dump(out, open(sys.argv[2], "wb"))
"""


def _caught(value: Any) -> Any:
    """@catch's exception wrapper (as ``comparable`` gives it) reduced to the last line of its
    text, ``ZeroDivisionError: division by zero``: the stack trace above names each engine's own
    files and lines."""
    if isinstance(value, dict) and value.get("__exception__") == "MetaflowExceptionWrapper":
        lines = [line for line in str(value.get("message")).splitlines() if line.strip()]
        return {**value, "message": lines[-1].strip() if lines else ""}
    return value


def _normal(steps: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    from tests.harness.artifacts import comparable

    return {step: sorted(repr(sorted((k, _caught(v)) for k, v in comparable(task).items())) for task in tasks)
            for step, tasks in steps.items()}


@contextlib.contextmanager
def _user(name: str) -> Iterator[None]:
    """The user both runs see (``@project``'s user branch, ``current.username``)."""
    saved = {var: os.environ.get(var) for var in ("METAFLOW_USER", "USERNAME")}
    os.environ.update(METAFLOW_USER=name, USERNAME=name)
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _commit(work: Path) -> None:
    """Make the copy a git repository with one commit: flows whose configs read ``git rev-parse``
    then see the same commit under both runs."""
    env = dict(os.environ, GIT_AUTHOR_NAME="corpus", GIT_AUTHOR_EMAIL="corpus@example.invalid",
               GIT_COMMITTER_NAME="corpus", GIT_COMMITTER_EMAIL="corpus@example.invalid",
               GIT_AUTHOR_DATE="2026-01-01T00:00:00Z", GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "corpus flow"]):
        subprocess.run(["git", *command], cwd=work, env=env, check=True, capture_output=True)


def _config_values(name: str) -> tuple[tuple[str, str], ...]:
    """The ``--config-value`` pairs the corpus compiles the flow with (expected.json)."""
    entry = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8")).get(name, {})
    return tuple((n, v) for n, v in entry.get("options", {}).get("config_values", ()))


def compare(name: str) -> str:
    """``same``, ``DIFF <step>: ...``, ``metaflow run failed: <last line>`` or ``FLOWC RUN FAILED: ...``."""
    from flowc.compiler import compile_file
    from flowc.compiler.options import CompileOptions, using
    from flowc.runtime_shim.loader import install_metaflow_alias
    from tests.harness import run_locally, snapshot

    path = CORPUS / name
    options = CompileOptions(config_values=_config_values(name))
    with using(options), _user("tester"):  # a mutator may read the user when the flow compiles
        flow = compile_file(path).flow
    tmp = Path(tempfile.mkdtemp(prefix="mfcompare"))
    try:
        work = tmp / "src"
        shutil.copytree(path.parent, work)
        _commit(work)
        env = dict(os.environ, METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local",
                   METAFLOW_DATASTORE_SYSROOT_LOCAL=str(tmp / "mf"), USERNAME="tester", METAFLOW_USER="tester",
                   PYTHONPATH="")
        configs = [word for pair in options.config_values for word in ("--config-value", *pair)]
        done = subprocess.run([str(METAFLOW_PYTHON), path.name, "--no-pylint", *configs, "run"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return "metaflow run failed: " + (done.stderr.strip().splitlines() or ["?"])[-1].strip()[:200]
        subprocess.run([str(METAFLOW_PYTHON), "-c", _DUMP, flow.name, str(tmp / "mf.pkl")], cwd=work, env=env,
                       check=True, capture_output=True, timeout=600)
        install_metaflow_alias()  # Metaflow's pickled objects (@catch's exception) load as flowc's
        theirs = _normal(pickle.loads((tmp / "mf.pkl").read_bytes()))
        try:
            with using(options), _user("tester"):
                run_id = run_locally(work / path.name, tmp / "flowc")
        except AssertionError as failed:
            errors = [line for line in str(failed).splitlines() if "Error" in line] or ["?"]
            return "FLOWC RUN FAILED: " + errors[-1].strip()[:200]
        ours = _normal({step: list(tasks.values())
                        for step, tasks in snapshot(tmp / "flowc" / "datastore", flow.name, run_id).items()})
        if ours == theirs:
            return "same"
        steps = sorted(s for s in set(ours) | set(theirs) if ours.get(s) != theirs.get(s))
        return "DIFF " + "; ".join(f"{s}: flowc {ours.get(s)} metaflow {theirs.get(s)}"[:300] for s in steps[:2])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> int:
    expected = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
    names = argv or sorted(n for n, e in expected.items() if "targets" in e)
    for name in names:
        print(f"{name}: {compare(name)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
