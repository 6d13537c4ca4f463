"""Bad inputs a careless user (or a broken proxy) gives flowc end in one line and exit 1: never a
traceback, a hang or a signal (issue 13, item 11)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main
from tests.conftest import ROOT, SHAPES
from tests.fuzz.raw_server import Answer, RawServer

FLOW = SHAPES / "linear.py"
STORE = ("--datastore-root", "s3://bucket/flows")  # every compile names where tasks keep artifacts


def flowc(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """The real command in a real process: signals, hangs and exit-time errors show here."""
    return subprocess.run([sys.executable, "-m", "flowc.cli", *args], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def assert_one_line(done: subprocess.CompletedProcess | object, needle: str) -> None:
    stderr = done.stderr
    code = done.returncode if hasattr(done, "returncode") else done.exit_code
    assert code == 1, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert needle in stderr


@pytest.mark.parametrize("output,needle", [
    ("/nonexistent/x.yaml", "cannot write /nonexistent/x.yaml: No such file or directory"),
    ("/tmp", "cannot write /tmp: is a directory"),
    ("/dev/full", "cannot write /dev/full: No space left on device"),
])
def test_unwritable_output(output, needle):
    assert_one_line(flowc("compile", str(FLOW), "-t", "argo", *STORE, "-o", output), needle)


def test_output_dir_that_is_a_file(tmp_path):
    (tmp_path / "argo").write_text("a file where a directory should be")
    assert_one_line(flowc("compile", str(FLOW), "-t", "argo", *STORE, "--output-dir", str(tmp_path)),
                    "flowc: error:")


def test_standard_output_on_a_full_disk():
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", str(FLOW), "-t", "argo", *STORE],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert_one_line(done, "No space left on device")


def test_check_against_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "argo").mkdir()
    (tmp_path / "argo" / "linear.yaml").write_bytes(b"\xff\xfe not yaml")
    result = CliRunner().invoke(main, ["compile", str(FLOW), "-t", "argo", *STORE, "--output-dir",
                                       str(tmp_path), "--check"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "committed specs differ" in result.stderr and "+++" in result.stdout


def test_broken_symlink_in_a_compiled_directory(tmp_path):
    shutil.copy(FLOW, tmp_path / "linear.py")
    (tmp_path / "broken.py").symlink_to(tmp_path / "nowhere.py")
    result = CliRunner().invoke(main, ["compile", str(tmp_path), "-t", "argo", *STORE, "--set", "code=image",
                                       "--output-dir", str(tmp_path / "out")])
    assert_one_line(result, f"broken symbolic link: {tmp_path / 'broken.py'} [FLOW001]")


@pytest.mark.parametrize("where", ["flow", "directory"])
def test_a_fifo_is_refused_without_opening_it_for_reading(tmp_path, where):
    """Opening a FIFO for reading blocks until a writer comes: flowc must check first."""
    fifo = tmp_path / "flow.py"
    os.mkfifo(fifo)
    target = str(fifo) if where == "flow" else str(tmp_path)
    args = ["ir", target] if where == "flow" else ["compile", target, "-t", "argo", *STORE, "--output-dir",
                                                     str(tmp_path / "out")]
    assert_one_line(flowc(*args, timeout=30), "is not a regular file [FLOW001]")


def test_dev_zero_is_not_read_forever():
    assert_one_line(flowc("ir", "/dev/zero", timeout=30), "/dev/zero is not a regular file [FLOW001]")


def test_a_huge_file_is_refused_before_reading(tmp_path):
    from flowc.compiler import MAX_FLOW_BYTES

    path = tmp_path / "flow.py"
    with path.open("wb") as handle:
        handle.truncate(MAX_FLOW_BYTES + 1)  # sparse: nothing is written
    assert_one_line(CliRunner().invoke(main, ["ir", str(path)]), "more than the")


@pytest.mark.parametrize("server", ["http://[::1", "http://localhost:99999", "http://a b", "http://x\x01y"])
def test_malformed_argo_server(monkeypatch, server):
    monkeypatch.setenv("ARGO_SERVER", server)
    monkeypatch.delenv("ARGO_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["status", str(FLOW), "-t", "argo"])
    assert_one_line(result, "flowc: error:")


@pytest.mark.parametrize("endpoint", ["not a url", "http://[::1", "http://localhost:99999", "ftp://x"])
def test_malformed_aws_endpoint_url(monkeypatch, endpoint):
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["status", str(FLOW), "-t", "sfn"])
    assert_one_line(result, "flowc: error:")


def test_malformed_aws_endpoint_url_for_the_s3_datastore(monkeypatch):
    from flowc.runtime_shim.datastore import DatastoreError
    from flowc.runtime_shim.s3 import endpoint_url

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://[::1")
    with pytest.raises(DatastoreError, match="AWS_ENDPOINT_URL is not an http"):
        endpoint_url()


ANSWERS = {
    "html": Answer(200, b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "not utf-8": Answer(200, b'{"items": ["\xff\xfe"]}'),
    "deeply nested": Answer(200, b"[" * 100_000 + b"]" * 100_000),
    "a list": Answer(200, b"[1, 2]"),
    "items not a list": Answer(200, b'{"items": {"a": 1}}'),
    "workflow without metadata": Answer(200, b'{"items": [{"status": 3}]}'),
    "html error page": Answer(500, b"<html>oops</html>", "text/html"),
    "nested error": Answer(500, b"[" * 100_000 + b"]" * 100_000),
}


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_odd_answers_from_the_argo_server(monkeypatch, case):
    with RawServer() as server:
        server.answer = ANSWERS[case]
        monkeypatch.setenv("ARGO_SERVER", server.url)
        monkeypatch.delenv("ARGO_TOKEN", raising=False)
        result = CliRunner().invoke(main, ["status", str(FLOW), "-t", "argo"])
    assert_one_line(result, "flowc: error: ")


def test_odd_answers_when_deploying(monkeypatch, tmp_path):
    with RawServer() as server:
        server.answer = Answer(200, json.dumps({"metadata": "not an object", "spec": 1}).encode())
        monkeypatch.setenv("ARGO_SERVER", server.url)
        monkeypatch.delenv("ARGO_TOKEN", raising=False)
        result = CliRunner().invoke(main, ["deploy", str(FLOW), "-t", "argo"])
    # the odd object is treated as a different one and updated; no AttributeError on the way
    assert result.exit_code == 0 and "Traceback" not in result.stderr, result.stderr


def test_a_huge_single_line_of_task_output_is_not_echoed_whole(tmp_path):
    """The task prints 20 MB on one line to stderr: the console gets a clipped line and the
    stored log all of it."""
    flow = tmp_path / "loud.py"
    flow.write_text('''from flowc import FlowSpec, step
import sys


class LoudFlow(FlowSpec):
    @step
    def start(self):
        sys.stderr.write("x" * 20_000_000)
        self.next(self.end)

    @step
    def end(self):
        pass
''', encoding="utf-8")
    done = flowc("run", str(flow), "--datastore", str(tmp_path / "ds"), timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stderr) < 20_000 and "more characters in the stored log" in done.stderr
    logs = flowc("logs", "LoudFlow/" + _run_id(tmp_path / "ds") + "/start", "--stderr",
                 "--datastore", str(tmp_path / "ds"))
    assert (logs.stdout + logs.stderr).count("x") >= 20_000_000  # the stored log has all of it


def _run_id(root: Path) -> str:
    (run,) = [p.name for p in (root / "LoudFlow" / "runs").iterdir()]
    return run


@pytest.mark.parametrize("args", [["ir"], ["compile", "-t", "argo", *STORE, "-o", "out.yaml"]])
def test_a_path_with_a_newline_stays_one_line(tmp_path, args):
    """Found by the fuzz suite: a file named 'a<newline>b' split the error over two lines."""
    name = str(tmp_path / "a\nb.py")
    result = CliRunner().invoke(main, [args[0], name, *args[1:]])
    assert_one_line(result, "a\\nb.py")


@pytest.mark.parametrize("body", [b"[1]", b"[" * 100_000 + b"]" * 100_000, b"<html>", b'{"access_token": 3}'])
def test_odd_answers_to_the_airflow_login(body):
    from flowc.deploy.airflow import _login
    from flowc.deploy.base import DeployError

    with RawServer() as server:
        server.answer = Answer(200, body)
        with pytest.raises(DeployError, match="cannot reach Airflow") as error:
            _login(server.url, "user", "password")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("url", ["http://a b", "http://[::1"])
def test_malformed_airflow_url(url):
    from flowc.deploy.airflow import _login
    from flowc.deploy.base import DeployError

    with pytest.raises(DeployError, match="cannot reach Airflow"):
        _login(url, "user", "password")


def test_output_to_a_fifo_nobody_reads_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    assert_one_line(flowc("compile", str(FLOW), "-t", "argo", *STORE, "-o", str(fifo), timeout=30),
                    "No such device or address")


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    (tmp_path / "real.yaml").write_text("old")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    result = CliRunner().invoke(main, ["compile", str(FLOW), "-t", "argo", *STORE, "-o",
                                       str(tmp_path / "link.yaml")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "link.yaml").is_symlink() and "kind: WorkflowTemplate" in (tmp_path / "real.yaml").read_text()
