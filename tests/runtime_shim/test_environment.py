"""Step environments: the spec from the decorators (pure), the cache and uv builds (network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowc.compiler import compile_file, compile_source, ir
from flowc.runtime_shim import environment as env
from flowc.runtime_shim.environment import EnvSpec, StepEnvironmentError
from tests.runtime_shim.driver import write_flow


def spec_of(source: str, step: str = "start") -> EnvSpec | None:
    flow = compile_source(textwrap.dedent(source)).flow
    return env.environment_spec(flow, flow.step(step))


def flow_text(flow_decorator: str = "", start: str = "", end: str = "") -> str:
    return f"""
from metaflow import FlowSpec, step, pypi, pypi_base, conda, conda_base

{flow_decorator}
class EnvFlow(FlowSpec):
    {start}
    @step
    def start(self):
        self.next(self.end)

    {end}
    @step
    def end(self):
        pass
"""


def test_a_step_without_environment_decorators_has_none():
    assert spec_of(flow_text()) is None


def test_step_packages_augment_the_base_and_win_by_name():
    source = flow_text('@pypi_base(packages={"pandas": "2.2.3", "numpy": "1.26.4"}, python="3.11")',
                       start='@pypi(packages={"numpy": "2.0.0", "pyjokes": "0.8.3"})')
    assert spec_of(source) == EnvSpec("pypi", "3.11", (("numpy", "2.0.0"), ("pandas", "2.2.3"),
                                                      ("pyjokes", "0.8.3")))
    # A step without its own decorator gets the base as it is.
    assert spec_of(source, "end") == EnvSpec("pypi", "3.11", (("numpy", "1.26.4"), ("pandas", "2.2.3")))


def test_step_python_overrides_the_base():
    source = flow_text('@pypi_base(python="3.10")', start='@pypi(python="3.11")')
    assert spec_of(source).python == "3.11"
    assert spec_of(source, "end").python == "3.10"


def test_disabled_on_the_step_or_inherited_from_the_base():
    base_off = flow_text('@pypi_base(packages={"a": "1"}, disabled=True)', start='@pypi(disabled=False)')
    assert spec_of(base_off, "end") is None
    assert spec_of(base_off) == EnvSpec("pypi", None, (("a", "1"),))
    inherited = flow_text('@pypi_base(disabled=True)', start='@pypi(packages={"b": "2"})')
    assert spec_of(inherited) is None
    step_off = flow_text('@pypi_base(packages={"a": "1"})', start='@pypi(disabled=True)')
    assert spec_of(step_off) is None
    assert spec_of(step_off, "end") is not None


def test_conda_libraries_merge_into_packages():
    source = flow_text('@conda_base(libraries={"numpy": "1.26.4"})', start='@conda(packages={"pandas": "2.2.3"})')
    assert spec_of(source) == EnvSpec("conda", None, (("numpy", "1.26.4"), ("pandas", "2.2.3")))


def test_pypi_and_conda_packages_in_one_step_are_refused():
    with pytest.raises(StepEnvironmentError, match="mixes @pypi and @conda packages"):
        spec_of(flow_text(start='@pypi(packages={"a": "1"})\n    @conda(packages={"b": "1"})'))
    with pytest.raises(StepEnvironmentError, match="mixes @pypi and @conda packages"):
        spec_of(flow_text('@conda_base(packages={"numpy": "1.26.4"})', start='@pypi(packages={"a": "1"})'))


def test_pypi_takes_its_python_from_conda_when_it_names_none():
    source = flow_text('@conda_base(python="3.10")', start='@pypi(packages={"a": "1"})')
    assert spec_of(source) == EnvSpec("pypi", "3.10", (("a", "1"),))
    assert spec_of(source, "end") == EnvSpec("conda", "3.10", ())


@pytest.mark.parametrize("version,expected", [
    ("2.2.3", "pandas==2.2.3"), ("", "pandas"), (">=2,<3", "pandas>=2,<3"),
    ("~=2.2", "pandas~=2.2"), ("==2.2.3", "pandas==2.2.3"), ("2.2.*", "pandas==2.2.*"),
])
def test_requirement_strings(version, expected):
    assert env.requirement("pandas", version) == expected


def test_conda_names_map_to_pypi_and_conda_only_packages_are_named():
    spec = EnvSpec("conda", None, (("numpy", "=1.26"), ("pytorch", "2.3.0")))
    assert env.requirements(spec) == ["numpy==1.26.*", "torch==2.3.0"]
    refused = EnvSpec("conda", None, (("cudatoolkit", "11.8"), ("numpy", "1"), ("r-base", "4.3")))
    assert env.conda_only(refused) == ["cudatoolkit", "r-base"]
    with pytest.raises(StepEnvironmentError, match="cudatoolkit, r-base exist only on conda"):
        env.requirements(refused)
    # The same names under @pypi are PyPI's business, not refused.
    assert env.conda_only(EnvSpec("pypi", None, (("python", ""),))) == []


def test_the_key_depends_on_python_packages_and_lock_but_not_order():
    a = EnvSpec("pypi", "3.11", (("a", "1"), ("b", "2")))
    assert env.env_key(a, None) == env.env_key(EnvSpec("pypi", "3.11", (("a", "1"), ("b", "2"))), None)
    assert env.env_key(a, None) != env.env_key(EnvSpec("pypi", "3.10", a.packages), None)
    assert env.env_key(a, None) != env.env_key(EnvSpec("pypi", "3.11", (("a", "1"),)), None)
    locked = {"python": "3.11", "requirements": ["a==1 --hash=sha256:00"]}
    assert env.env_key(a, locked) != env.env_key(a, None)


def test_lock_entries_are_found_by_spec_id_and_a_stale_lock_is_refused(tmp_path):
    flow_file = tmp_path / "f.py"
    spec = EnvSpec("pypi", None, (("a", "1"),))
    assert env.read_lock(str(flow_file)) is None and env.lock_hash(str(flow_file)) is None
    Path(env.lock_path(str(flow_file))).write_text(json.dumps(
        {"version": 1, "environments": {spec.spec_id: {"python": "3.11", "requirements": ["a==1"]}}}))
    lock = env.read_lock(str(flow_file))
    assert env.locked_entry(lock, spec, str(flow_file))["requirements"] == ["a==1"]
    assert len(env.lock_hash(str(flow_file))) == 64
    with pytest.raises(StepEnvironmentError, match="no entry for this step's environment"):
        env.locked_entry(lock, EnvSpec("pypi", None, (("a", "2"),)), str(flow_file))


def test_a_lock_other_than_the_compiled_one_is_refused(tmp_path, monkeypatch):
    flow_file = str(tmp_path / "f.py")
    monkeypatch.delenv("FLOWC_LOCK_SHA256", raising=False)
    env.check_lock_hash(flow_file)  # nothing expected: nothing checked
    monkeypatch.setenv("FLOWC_LOCK_SHA256", "none")
    env.check_lock_hash(flow_file)  # compiled without a lock, and there is none
    Path(env.lock_path(flow_file)).write_text('{"version": 1, "environments": {}}')
    with pytest.raises(StepEnvironmentError, match=r"is not the one the flow was compiled with \(sha256 none\)"):
        env.check_lock_hash(flow_file)
    monkeypatch.setenv("FLOWC_LOCK_SHA256", env.lock_hash(flow_file))
    env.check_lock_hash(flow_file)


def test_missing_uv_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(env.shutil, "which", lambda *a, **k: None)
    monkeypatch.setitem(sys.modules, "uv", None)
    with pytest.raises(StepEnvironmentError, match=r"uv is not installed.*pip install uv"):
        env.uv_command()


def test_a_warm_environment_is_a_stat_and_never_a_build(tmp_path, monkeypatch):
    spec = EnvSpec("pypi", None, (("a", "1"),))
    env_dir = tmp_path / env.env_key(spec, None)
    env_dir.mkdir()
    (env_dir / env.MARKER).write_text("{}")
    monkeypatch.setattr(env, "_build", lambda *a: pytest.fail("a warm environment was rebuilt"))
    assert env.ensure_environment(spec, root=str(tmp_path)) == str(env_dir)
    link = env_dir / env.RUNTIME_DIR / "flowc"
    assert link.resolve() == Path(env.__file__).resolve().parent.parent
    started = time.perf_counter()
    for _ in range(100):
        env.ensure_environment(spec, root=str(tmp_path))
    assert (time.perf_counter() - started) / 100 < 0.005


# --------------------------------------------------------------------------- network: uv and PyPI


@pytest.mark.network
def test_a_cold_build_installs_the_package_and_exposes_only_flowc(tmp_path):
    spec = EnvSpec("pypi", None, (("pyjokes", "0.8.3"),))
    env_dir = env.ensure_environment(spec, root=str(tmp_path))
    assert os.path.basename(env_dir) == env.env_key(spec, None)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".build-")]
    probe = subprocess.run(
        [env.env_python(env_dir), "-c",
         "import importlib.metadata as m, flowc.runtime_shim.task, sys\n"
         "print(m.version('pyjokes'))\n"
         "try:\n    import libcst\nexcept ImportError:\n    print('isolated')"],
        capture_output=True, text=True, check=True)
    assert probe.stdout.split() == ["0.8.3", "isolated"]
    marker = json.loads(Path(env_dir, env.MARKER).read_text())
    assert marker["locked"] is False and marker["build_seconds"] > 0


@pytest.mark.network
def test_a_failed_build_is_one_line_and_leaves_nothing_behind(tmp_path):
    spec = EnvSpec("pypi", None, (("flowc-surely-no-such-package", "1.0"),))
    with pytest.raises(StepEnvironmentError) as caught:
        env.ensure_environment(spec, root=str(tmp_path))
    message = str(caught.value)
    assert message.startswith("installing flowc-surely-no-such-package==1.0 failed: ")
    assert "\n" not in message
    assert [p.name for p in tmp_path.iterdir()] == [f".{env.env_key(spec, None)}.lock"]


def _shim_start(tmp_path: Path, decorator: str) -> subprocess.CompletedProcess[str]:
    path = write_flow(tmp_path, flow_text(start=decorator), "env_flow.py")
    (tmp_path / "m.json").write_text(ir.dump_manifest(compile_file(path).flow))
    return subprocess.run([sys.executable, "-m", "flowc.runtime_shim", "--flow-file", path.name,
                           "--step", "start", "--run-id", "r", "--manifest", "m.json"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "FLOWC_ENV_CACHE": str(tmp_path / "envs")})


def test_the_shim_refuses_conda_only_packages_in_one_line(tmp_path):
    done = _shim_start(tmp_path, '@conda(packages={"cudatoolkit": "11.8"})')
    assert done.returncode == 2  # refused: no retry can help
    assert done.stderr == ("flowc shim: error: @conda package(s) cudatoolkit exist only on conda "
                           "channels and flowc installs with uv from PyPI: install them in the "
                           "image (docs/environments.md)\n")


@pytest.mark.network
def test_a_failed_build_fails_the_task_so_it_can_be_retried(tmp_path):
    done = _shim_start(tmp_path, '@pypi(packages={"flowc-surely-no-such-package": "1.0"})')
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("flowc shim: error: installing flowc-surely-no-such-package==1.0 failed: ")


@pytest.mark.parametrize("secrets,datastore,expected", [
    ("", ".flowc", ()),
    ("", "s3://bucket/ds", ("boto3",)),
    ('@secrets(sources=["env:TOKEN"])', ".flowc", ()),
    ('@secrets(sources=["prod/db"])', ".flowc", ("boto3",)),
])
def test_the_shim_adds_boto3_only_when_it_needs_it(secrets, datastore, expected):
    source = flow_text(start=f'{secrets}\n    @pypi(packages={{"a": "1"}})').replace(
        "import FlowSpec, step,", "import FlowSpec, secrets, step,")
    flow = compile_source(textwrap.dedent(source)).flow
    assert env.runtime_packages(flow.step("start"), datastore) == expected


def test_compile_time_problems_name_the_step(tmp_path):
    from flowc.environments import problems

    source = flow_text(start='@conda(packages={"cudatoolkit": "11.8"})',
                       end='@pypi(packages={"a": "1"})\n    @conda(packages={"b": "1"})')
    flow = compile_source(textwrap.dedent(source)).flow
    found = {p.step: p.message for p in problems(flow)}
    assert found == {"start": "@conda package(s) cudatoolkit exist only on conda channels and flowc "
                              "installs with uv from PyPI: install them in the image (docs/environments.md)",
                     "end": "step 'end' mixes @pypi and @conda packages; use one of @pypi or @conda "
                            "(and its _base form) only"}
    assert all(p.span.line > 0 for p in problems(flow))
    clean = compile_source(textwrap.dedent(flow_text(start='@pypi(packages={"a": "1"})'))).flow
    assert problems(clean) == []
    flow_file = tmp_path / "f.py"
    Path(env.lock_path(str(flow_file))).write_text('{"version": 1, "environments": {}}')
    assert [p.step for p in problems(clean, flow_file)] == ["start"]
