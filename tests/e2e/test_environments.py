"""``flowc run`` with @pypi: the step runs in its own environment, built once and reused.

pyjokes is installed from PyPI with uv (network); it is not in flowc's own environment, so the
only way the step can import it is the environment flowc built for it.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import pytest

from flowc.local.api import run_flow
from tests.harness import snapshot

pytestmark = pytest.mark.network

FLOW = '''
    from metaflow import FlowSpec, pypi, step


    class JokeFlow(FlowSpec):
        @step
        def start(self):
            try:
                import pyjokes  # noqa: F401
                self.outside = "importable"
            except ImportError:
                self.outside = "absent"
            self.items = [1, 2]
            self.next(self.joke, foreach="items")

        @pypi(packages={"pyjokes": "0.8.3"})
        @step
        def joke(self):
            import importlib.metadata
            import sys
            import pyjokes

            self.version = importlib.metadata.version("pyjokes")
            self.has_joke = bool(pyjokes.get_joke())
            self.prefix = sys.prefix
            print("told a joke", self.input)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.versions = sorted({i.version for i in inputs})
            self.prefixes = sorted({i.prefix for i in inputs})
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_a_pypi_step_runs_in_its_environment_under_flowc_run(write_flow, tmp_path: Path,
                                                              monkeypatch) -> None:
    assert importlib.util.find_spec("pyjokes") is None, "pyjokes must not be in flowc's venv"
    cache = tmp_path / "envs"
    monkeypatch.setenv("FLOWC_ENV_CACHE", str(cache))
    path = write_flow("joke_flow", FLOW)
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "succeeded", out.getvalue()
    tasks = snapshot(tmp_path / "ds", "JokeFlow", result.run_id)
    assert tasks["start"]["t"]["outside"] == "absent"
    assert [t["version"] for t in tasks["joke"].values()] == ["0.8.3", "0.8.3"]
    assert all(t["has_joke"] for t in tasks["joke"].values())
    join = tasks["join"]["t"]
    # Both foreach tasks ran in the one environment the cache holds.
    envs = [p for p in cache.iterdir() if (p / "flowc-env.json").exists()]
    assert len(envs) == 1 and join["prefixes"] == [str(envs[0])]
    assert "told a joke 1" in out.getvalue()

    # A second run reuses the environment: nothing is built.
    marker = json.loads((envs[0] / "flowc-env.json").read_text())
    again = run_flow(path, datastore=str(tmp_path / "ds"), stream=io.StringIO(), live=False)
    assert again.status == "succeeded"
    assert json.loads((envs[0] / "flowc-env.json").read_text()) == marker
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1


def test_flowc_lock_pins_with_hashes_and_tasks_install_exactly_that(write_flow, tmp_path: Path,
                                                                    monkeypatch) -> None:
    from tests.e2e.conftest import flowc_cli

    cache = tmp_path / "envs"
    monkeypatch.setenv("FLOWC_ENV_CACHE", str(cache))
    path = write_flow("joke_flow", FLOW)
    locked = flowc_cli("lock", path.name, cwd=tmp_path, timeout=300)
    assert locked.returncode == 0, locked.stderr
    lock_file = tmp_path / "joke_flow.flowc.lock"
    assert locked.stdout.strip() == lock_file.name
    lock = json.loads(lock_file.read_text())
    assert lock["platform"] == "x86_64-unknown-linux-gnu"
    [entry] = lock["environments"].values()
    assert entry["steps"] == ["joke"] and entry["packages"] == {"pyjokes": "0.8.3"}
    pins = {line.split("==")[0]: line for line in entry["requirements"]}
    assert pins["pyjokes"].startswith("pyjokes==0.8.3 --hash=sha256:")
    assert "boto3" in pins  # the shim's own need for S3, resolved with the user's packages
    assert all("--hash=sha256:" in line for line in entry["requirements"])

    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=io.StringIO(), live=False)
    assert result.status == "succeeded"
    [env_dir] = [p for p in cache.iterdir() if p.is_dir()]
    assert json.loads((env_dir / "flowc-env.json").read_text())["locked"] is True
    assert (env_dir / "flowc-requirements.txt").read_text().splitlines() == entry["requirements"]

    # Changing the step's packages without locking again is refused, by name of the cure.
    path.write_text(path.read_text().replace('"0.8.3"', '"0.8.2"'))
    out = io.StringIO()
    stale = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert stale.status == "failed"
    assert "run flowc lock again" in out.getvalue()


def test_flowc_lock_without_environments_writes_nothing(write_flow, tmp_path: Path) -> None:
    from tests.e2e.conftest import flowc_cli

    path = write_flow("plain", FLOW.replace('@pypi(packages={"pyjokes": "0.8.3"})', ""))
    done = flowc_cli("lock", path.name, cwd=tmp_path)
    assert done.returncode == 0 and "nothing to lock" in done.stdout
    assert not (tmp_path / "plain.flowc.lock").exists()
