"""Issue 13 items 5 and 11: ids are checked wherever they enter (CLI, client, shim, resume), so
none reaches outside the datastore root; a corrupt record is one error line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from flowc.client import Flow, Run, Step, Task
from flowc.compiler import compile_file
from flowc.runtime_shim.datastore import TaskKey, open_datastore
from flowc.runtime_shim.manifest_source import encode_inline
from tests.security.conftest import assert_one_line_error, cli, edit_done, task_dir


def _plant_outside(root):
    """A run the way flowc would store it, but where the flow name ``..`` leads: beside the
    datastore root instead of in it."""
    outside = root.parent / "runs" / "x" / "s" / "t" / "0"
    outside.mkdir(parents=True)
    (outside / "stdout.log").write_text("SECRET outside the root\n")
    (outside.parent / "DONE.json").write_text(json.dumps({"artifacts": {}}))
    (root.parent / "runs" / "x" / "run.json").write_text(json.dumps({"status": "SECRET"}))


@pytest.mark.parametrize("pathspec", ["../x/s/t", "../x/s", "SecFlow/r1/start/t\n"])
def test_logs_refuses_ids_that_leave_the_root(finished_run, pathspec):
    root, _ = finished_run
    _plant_outside(root)
    code, output, unexpected = cli("logs", pathspec, "--datastore", str(root))
    assert "SECRET" not in output
    assert_one_line_error(code, output, unexpected)


@pytest.mark.parametrize("make", [
    lambda root: Task("../x/s/t", str(root)),
    lambda root: Step("../x/s", str(root)),
    lambda root: Run("../x", str(root)),
    lambda root: Run("SecFlow/..", str(root)),
    lambda root: Flow("..", str(root)),
    lambda root: Task("SecFlow/r1/start/t\n", str(root)),
    lambda root: Task("SecFlow/r1/start/t", str(root)).loglines("../../../../../../runs/x/s/t/0/stdout"),
])
def test_client_objects_refuse_ids_that_leave_the_root(finished_run, make):
    root, _ = finished_run
    _plant_outside(root)
    with pytest.raises(ValueError, match=r"not a (flow name|run id|step name|flowc task id)|unknown log stream"):
        make(root)


def test_show_refuses_a_run_id_that_leaves_the_root(finished_run):
    root, _ = finished_run
    _plant_outside(root)
    code, output, unexpected = cli("show", "../x", "--datastore", str(root))
    assert "SECRET" not in output
    assert_one_line_error(code, output, unexpected)


def test_resume_refuses_an_origin_that_leaves_the_root(finished_run):
    root, path = finished_run
    code, output, unexpected = cli("resume", str(path), "..", "--datastore", str(root))
    assert_one_line_error(code, output, unexpected)
    assert "not a run id" in output


@pytest.mark.parametrize("bad", ["../../../out", "a/b", ".hidden", "", "r1\nx", "-r"])
def test_the_shim_refuses_a_run_id_that_leaves_the_root(finished_run, tmp_path, bad):
    root, path = finished_run
    flow = compile_file(path).flow
    result = subprocess.run(
        [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(path), "--step", "start",
         f"--run-id={bad}", "--datastore", str(root)],
        cwd=tmp_path, env={**os.environ, "FLOWC_MANIFEST": encode_inline(flow)},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "not a run id" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ds", "flow.py"])
    assert not (root / "SecFlow" / "runs" / "r1").joinpath("..", "..", "..", "out").exists()


def test_the_shim_exits_2_for_a_bad_parameter_value(tmp_path):
    from tests.runtime_shim.driver import write_flow

    path = write_flow(tmp_path, """
        from metaflow import FlowSpec, Parameter, step

        class P(FlowSpec):
            n = Parameter("n", default=1)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """)
    flow = compile_file(path).flow
    result = subprocess.run(
        [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(path), "--step", "start",
         "--run-id", "r1", "--datastore", str(tmp_path / "ds"), "--param", "n=notanint"],
        cwd=tmp_path, env={**os.environ, "FLOWC_MANIFEST": encode_inline(flow)},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr


def test_keys_are_never_built_from_unchecked_parts(tmp_path):
    store = open_datastore(str(tmp_path))
    for bad in (lambda: TaskKey("F", "..", "s", "t"), lambda: TaskKey("F", "r", "../s", "t"),
                lambda: TaskKey("F", "r", "s", "../t"), lambda: store.run_key("../F", "r"),
                lambda: store.attempt_key(TaskKey("F", "r", "s", "t"), -1),  # type: ignore[arg-type]
                lambda: store.attempt_key(TaskKey("F", "r", "s", "t"), "0/../.."),  # type: ignore[arg-type]
                lambda: store.list_tasks("F", "r", "../../x"),
                lambda: store.read_task_file(TaskKey("F", "r", "s", "t"), "../../../x.json"),
                lambda: store.read_log(TaskKey("F", "r", "s", "t"), 0, "../../x"),
                lambda: store.backend.get_bytes("F/runs/../../x"),
                lambda: store.backend.put_bytes("F//x", b"")):
        with pytest.raises(ValueError):
            bad()


# --------------------------------------------------------------------------- corrupt records

def _done_as(value):
    return lambda root: (task_dir(root, "end") / "DONE.json").write_text(json.dumps(value))


def _run_json(change):
    def apply(root):
        path = root / "SecFlow" / "runs" / "r1" / "run.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return apply


def _directory_for_done(root):
    done = task_dir(root, "end") / "DONE.json"
    done.unlink()
    done.mkdir()


CORRUPTIONS = {
    "done is a list": _done_as([1, 2]),
    "done artifacts null": lambda root: edit_done(root, "end", lambda d: {**d, "artifacts": None}),
    "done ref without sha": lambda root: edit_done(
        root, "end", lambda d: {**d, "artifacts": {"y": {"size": 3}}}),
    "done ref is a string": lambda root: edit_done(
        root, "end", lambda d: {**d, "artifacts": {"y": "abc"}}),
    "done is a directory": _directory_for_done,
    "done finished_at a string": lambda root: edit_done(
        root, "end", lambda d: {**d, "finished_at": "2024-01-01"}),
    "done is not json": lambda root: (task_dir(root, "end") / "DONE.json").write_text("{"),
    "run is a list": _run_json(lambda r: [r]),
    "run date a string": _run_json(lambda r: {**r, "created_at": "2024-01-01", "started_at": "x"}),
    "run parameters a list": _run_json(lambda r: {**r, "parameters": [1]}),
    "run is a directory": lambda root: _replace_with_directory(root / "SecFlow" / "runs" / "r1" / "run.json"),
    "attempt is a list": lambda root: (task_dir(root, "end") / "0" / "attempt.json").write_text("[]"),
}


def _replace_with_directory(path):
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize("corrupt", sorted(CORRUPTIONS))
@pytest.mark.parametrize("command", ["show", "logs", "resume"])
def test_a_corrupt_record_is_one_error_line(finished_run, corrupt, command):
    root, path = finished_run
    CORRUPTIONS[corrupt](root)
    args = {"show": ["show", "SecFlow/r1"], "logs": ["logs", "SecFlow/r1/end/t"],
            "resume": ["resume", str(path), "r1"]}[command]
    code, output, unexpected = cli(*args, "--datastore", str(root))
    if (command, corrupt.split()[0]) in (("logs", "run"), ("logs", "attempt")):
        assert unexpected is None and code == 0  # a record this command does not need
        return
    assert_one_line_error(code, output, unexpected)


def test_the_shim_refuses_a_manifest_whose_flow_name_leaves_the_root(finished_run, tmp_path):
    import dataclasses

    root, path = finished_run
    flow = dataclasses.replace(compile_file(path).flow, name="../../escaped")
    result = subprocess.run(
        [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(path), "--step", "start",
         "--run-id", "r9", "--datastore", str(root)],
        cwd=tmp_path, env={**os.environ, "FLOWC_MANIFEST": encode_inline(flow)},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "not a flow name: '../../escaped'" in result.stderr
    assert not (tmp_path / "escaped").exists() and not (root.parent.parent / "escaped").exists()
