"""``python -m flowc.runtime_shim`` end to end, as an orchestrator calls it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowc.compiler import compile_file, ir
from flowc.runtime_shim.datastore import TaskKey, open_datastore
from flowc.runtime_shim.manifest_source import decode_inline, encode_inline
from tests.runtime_shim.driver import write_flow

FLOW = """
    from metaflow import FlowSpec, Parameter, step

    class CliFlow(FlowSpec):
        n = Parameter("n", default=2)

        @step
        def start(self):
            self.items = list(range(self.n))
            print("fanning out", self.n)
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.v = self.input * 10
            self.mode = "big" if self.input else "small"
            self.next({"big": self.big, "small": self.small}, condition="mode")

        @step
        def big(self):
            self.next(self.merge)

        @step
        def small(self):
            self.next(self.merge)

        @step
        def merge(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.vs = [i.v for i in inputs]
            self.next(self.end)

        @step
        def end(self):
            print("vs", self.vs)
"""


def shim(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowc.runtime_shim", *args], cwd=tmp_path,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60)


@pytest.fixture
def compiled(tmp_path):
    path = write_flow(tmp_path, FLOW)
    flow = compile_file(path).flow
    manifest = tmp_path / "manifest.json"
    manifest.write_text(ir.dump_manifest(flow), encoding="utf-8")
    return path, flow, manifest


@pytest.mark.slow
def test_tasks_run_with_side_channels_and_datastore_facts(tmp_path, compiled):
    path, flow, manifest = compiled
    common = ["--flow-file", path.name, "--run-id", "r1", "--datastore", "ds"]
    env = {"FLOWC_MANIFEST": encode_inline(flow)}
    start = shim(tmp_path, *common, "--step", "start", "--param", "n=3",
                 "--side-channel-dir", "sc/start", env=env)
    assert start.returncode == 0, start.stderr
    assert "fanning out 3" in start.stdout
    assert (tmp_path / "sc/start/foreach_width").read_text() == "3"
    assert (tmp_path / "sc/start/foreach_indices").read_text() == "[0,1,2]"
    for i in range(3):
        body = shim(tmp_path, *common, "--manifest", str(manifest), "--step", "body",
                    "--index-path", str(i), "--side-channel-dir", f"sc/body{i}")
        assert body.returncode == 0, body.stderr
        case = "big" if i else "small"
        assert (tmp_path / f"sc/body{i}/switch_case").read_text() == case
        assert (tmp_path / f"sc/body{i}/next_step").read_text() == case
        for step in (case, "merge"):
            assert shim(tmp_path, *common, "--manifest", str(manifest), "--step", step,
                        "--index-path", str(i)).returncode == 0
    for step in ("join", "end"):
        done = shim(tmp_path, *common, "--manifest", str(manifest), "--step", step)
        assert done.returncode == 0, done.stderr
    assert "vs [0, 10, 20]" in done.stdout
    store = open_datastore(str(tmp_path / "ds"))
    assert store.read_task_file(TaskKey("CliFlow", "r1", "start", "t"), "foreach_indices.json") == [0, 1, 2]
    assert store.read_task_file(TaskKey("CliFlow", "r1", "body", "t_1"), "switch_case.json") == \
        {"case": "big", "next_step": "big"}
    assert store.read_log(TaskKey("CliFlow", "r1", "start", "t"), 0, "stdout") == b"fanning out 3\n"
    assert store.read_run("CliFlow", "r1")["status"] == "succeeded"


def test_failure_exit_code_retry_attempts_and_logs(tmp_path):
    path = write_flow(tmp_path, """
        from metaflow import FlowSpec, current, retry, step

        class FailFlow(FlowSpec):
            @retry(times=1)
            @step
            def start(self):
                print("attempt", current.retry_count)
                if current.retry_count == 0:
                    raise RuntimeError("first attempt fails")
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    manifest = encode_inline(compile_file(path).flow)
    common = ["--flow-file", str(path), "--run-id", "r1", "--manifest", manifest, "--step", "start"]
    first = shim(tmp_path, *common)
    assert first.returncode == 1
    assert "RuntimeError: first attempt fails" in first.stderr
    second = shim(tmp_path, *common, env={"FLOWC_ATTEMPT": "1"})
    assert second.returncode == 0, second.stderr
    store = open_datastore(str(tmp_path / ".flowc"))
    key = TaskKey("FailFlow", "r1", "start", "t")
    assert store.read_attempt(key, 0)["status"] == "failed"
    assert store.read_attempt(key, 1)["status"] == "succeeded"
    assert store.read_done(key)["attempt"] == 1
    assert b"first attempt fails" in store.read_log(key, 0, "stderr")
    assert store.read_log(key, 1, "stdout") == b"attempt 1\n"


def test_stale_flow_file_is_refused_in_one_line(tmp_path, compiled):
    path, flow, manifest = compiled
    path.write_text(path.read_text() + "\n# edited\n")
    proc = shim(tmp_path, "--flow-file", str(path), "--run-id", "r1", "--manifest", str(manifest),
                "--step", "start")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "differs from the compiled manifest" in proc.stderr and "recompile" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--step", "nope"], "the flow has no step 'nope'"),
    (["--step", "start", "--index-path", "1.x"], "bad index path '1.x'"),
    (["--step", "start", "--param", "oops"], "--param expects NAME=VALUE"),
    (["--step", "start", "--attempt", "-1"], "never negative"),
])
def test_bad_command_lines(tmp_path, compiled, args, message):
    path, flow, manifest = compiled
    proc = shim(tmp_path, "--flow-file", str(path), "--run-id", "r1", "--manifest", str(manifest), *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_inline_manifest_roundtrip_and_corruption(compiled):
    _, flow, _ = compiled
    inline = encode_inline(flow)
    assert inline.startswith("z:") and decode_inline(inline) == flow
    assert encode_inline(flow) == inline
    from flowc.runtime_shim.manifest_source import ManifestSourceError, load

    with pytest.raises(ManifestSourceError, match="corrupt"):
        load("z:not-base64!!")


def test_import_metaflow_means_flowc_even_when_metaflow_is_installed(tmp_path):
    fake = tmp_path / "site" / "metaflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the real metaflow must not be imported')\n")
    path = write_flow(tmp_path, """
        import metaflow
        from metaflow import FlowSpec, step

        class AliasFlow(FlowSpec):
            @step
            def start(self):
                self.where = metaflow.__name__
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    manifest = encode_inline(compile_file(path).flow)
    proc = shim(tmp_path, "--flow-file", str(path), "--run-id", "r1", "--manifest", manifest,
                "--step", "start", env={"PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{os.getcwd()}"})
    assert proc.returncode == 0, proc.stderr
    from flowc.client import Task

    assert Task("AliasFlow/r1/start/t", str(tmp_path / ".flowc")).data.where == "flowc"


def test_shim_never_imports_libcst_or_jinja2(tmp_path, compiled):
    path, flow, manifest = compiled
    probe = textwrap.dedent(f"""
        import sys, runpy
        import flowc
        assert "flowc.client" not in sys.modules and "flowc.runtime_shim.task" not in sys.modules
        from flowc import FlowSpec, Flow, Run  # the client is imported on first use
        assert "flowc.client" in sys.modules
        sys.argv = ["shim", "--flow-file", {str(path)!r}, "--run-id", "r1", "--manifest",
                    {str(manifest)!r}, "--step", "start", "--datastore", {str(tmp_path / 'ds')!r}]
        try:
            runpy.run_module("flowc.runtime_shim", run_name="__main__")
        except SystemExit as exit:
            assert exit.code == 0, exit.code
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("libcst", "jinja2", "click", "yaml", "boto3"))
        print(heavy)
    """)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_python_flow_py_run_forwards_to_flowc_run(tmp_path):
    path = write_flow(tmp_path, """
        from flowc import FlowSpec, Parameter, step

        class MainFlow(FlowSpec):
            alpha = Parameter("alpha", default=1)

            @step
            def start(self):
                self.doubled = self.alpha * 2
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            MainFlow()
    """, name="main_flow.py")
    proc = subprocess.run([sys.executable, str(path), "run", "--alpha", "21", "--datastore", "ds"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from flowc.client import Flow

    assert Flow("MainFlow", datastore=str(tmp_path / "ds")).latest_run.data.doubled == 42


def test_flow_given_as_a_module_path_inside_the_image(tmp_path):
    package = tmp_path / "flows"
    package.mkdir()
    (package / "__init__.py").write_text("")
    path = write_flow(package, """
        from metaflow import FlowSpec, step
        from .helpers import VALUE

        class ModFlow(FlowSpec):
            @step
            def start(self):
                self.value = VALUE
                self.next(self.end)

            @step
            def end(self):
                pass
    """, name="mod_flow.py")
    (package / "helpers.py").write_text("VALUE = 'relative import works'\n")
    manifest = encode_inline(compile_file(path).flow)
    proc = shim(tmp_path, "--flow-file", "flows.mod_flow", "--run-id", "r1", "--manifest", manifest,
                "--step", "start", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.getcwd()}"})
    assert proc.returncode == 0, proc.stderr
    from flowc.client import Task

    assert Task("ModFlow/r1/start/t", str(tmp_path / ".flowc")).data.value == "relative import works"


def test_output_of_child_processes_is_stored_and_still_shown(tmp_path):
    path = write_flow(tmp_path, """
        import os, subprocess, sys
        from metaflow import FlowSpec, step

        class SysFlow(FlowSpec):
            @step
            def start(self):
                print("python print", flush=True)
                os.system("echo from-os-system")
                subprocess.run(["sh", "-c", "echo to-stderr >&2"])
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    manifest = encode_inline(compile_file(path).flow)
    proc = shim(tmp_path, "--flow-file", str(path), "--run-id", "r1", "--manifest", manifest, "--step", "start")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "python print\nfrom-os-system\n" and proc.stderr == "to-stderr\n"
    store = open_datastore(str(tmp_path / ".flowc"))
    key = TaskKey("SysFlow", "r1", "start", "t")
    assert store.read_log(key, 0, "stdout") == b"python print\nfrom-os-system\n"
    assert store.read_log(key, 0, "stderr") == b"to-stderr\n"


def test_bad_flowc_attempt_variable(tmp_path, compiled):
    path, flow, manifest = compiled
    proc = shim(tmp_path, "--flow-file", str(path), "--run-id", "r1", "--manifest", str(manifest),
                "--step", "start", env={"FLOWC_ATTEMPT": "first"})
    assert proc.returncode == 2 and "FLOWC_ATTEMPT must be a non-negative integer" in proc.stderr
