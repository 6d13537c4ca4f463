"""The CLI's small ones from issue 16, as a user meets them in a real process: logs of a failed
step, --alpha for --param, every code explainable, whole sentences in --help, one line for a
missing optional install, and flows of the same name in different folders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLOW = '''from metaflow import FlowSpec, step


class SmallFlow(FlowSpec):
    @step
    def start(self):
        print("hello from start")
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        raise ValueError("boom in end")
'''


PYPROJECT = '[tool.flowc]\ndatastore_root = "s3://bucket/prefix"\n'


def flowc(*args: str, cwd: Path | None = None, missing: str | None = None) -> subprocess.CompletedProcess:
    """``flowc ARGS`` in a new process; ``missing`` makes that module fail to import there."""
    hide = f"sys.modules[{missing!r}] = None; " if missing else ""
    code = f"import sys; {hide}sys.argv[0] = 'flowc'; from flowc.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory) -> tuple[Path, str]:
    """A local run whose end step raises: (datastore, run pathspec)."""
    tmp = tmp_path_factory.mktemp("run")
    (tmp / "flow.py").write_text(FLOW, encoding="utf-8")
    run_id_file = tmp / "run_id"
    done = flowc("run", "flow.py", "--datastore", "ds", "--run-id-file", str(run_id_file), "--no-logs", cwd=tmp)
    assert done.returncode == 1, done.stderr
    return tmp / "ds", "SmallFlow/" + run_id_file.read_text().strip()


def test_logs_of_a_failed_step_show_its_traceback(failed_run):
    datastore, run = failed_run
    done = flowc("logs", f"{run}/end", "--datastore", str(datastore))
    assert done.returncode == 0
    assert "ValueError: boom in end" in done.stderr and "Traceback" in done.stderr
    assert done.stdout == ""
    only_out = flowc("logs", f"{run}/end", "--stdout", "--datastore", str(datastore))
    assert only_out.stdout == "" and only_out.stderr == ""


def test_logs_show_stdout_and_say_when_there_is_nothing(failed_run):
    datastore, run = failed_run
    start = flowc("logs", f"{run}/start", "--datastore", str(datastore))
    assert (start.stdout, start.stderr) == ("hello from start\n", "")
    silent = flowc("logs", f"{run}/middle", "--datastore", str(datastore))
    assert silent.stdout == ""
    assert silent.stderr == f"flowc: {run}/middle wrote nothing to stdout or stderr\n"


def test_logs_of_a_task_that_never_ran_point_at_the_engine(failed_run):
    datastore, run = failed_run
    done = flowc("logs", f"{run}/nothere", "--datastore", str(datastore))
    assert done.returncode == 1
    assert done.stderr.startswith(f"flowc: error: step {run}/nothere has no tasks")
    assert done.stderr.endswith("see the engine's own logs, docs/production.md section 8)\n")
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("args, hint", [
    (["--alpha", "2"], "--param alpha=2"),
    (["--alpha=0.5"], "--param alpha=0.5"),
    (["--alpha"], "--param alpha=VALUE"),
])
def test_unknown_run_option_suggests_param(tmp_path: Path, args: list[str], hint: str):
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    done = flowc("run", "flow.py", *args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (f"Error: No such option '--alpha': flow parameters are "
                                            f"given as {hint}")
    assert not (tmp_path / ".flowc").exists()


def test_misspelled_flowc_option_keeps_did_you_mean(tmp_path: Path):
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    done = flowc("run", "flow.py", "--max-worker", "2", cwd=tmp_path)
    assert done.stderr.splitlines()[-1] == "Error: No such option '--max-worker'. Did you mean '--max-workers'?"


def test_every_registered_code_is_explainable():
    from flowc.catalogue import load_all

    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "flowc").rglob("*.py"))
    registered = set(re.findall(r"register\(\s*\"(FLOW\d{3})\"", sources))
    assert {"FLOW063", "FLOW300", "FLOW301", "FLOW302"} <= registered
    assert registered - set(load_all()) == set()
    done = flowc("explain", "FLOW300")
    assert done.returncode == 0
    assert done.stdout.startswith("FLOW300: no flow files\n\nA directory given to `flowc compile`")
    assert "\n    " not in done.stdout  # the explanation is dedented


def test_help_lists_every_command_with_a_whole_sentence():
    done = flowc("--help")
    commands = done.stdout.split("Commands:\n", 1)[1].splitlines()
    assert len(commands) >= 13
    for line in commands:
        assert line.endswith(".") and not line.endswith("..."), line
        assert line.count("(") == line.count(")"), line


@pytest.mark.parametrize("missing, args, package, extra", [
    ("boto3", ["run", "flow.py", "--datastore", "s3://bucket/prefix"], "boto3", "s3"),
    ("boto3", ["show", "SmallFlow/1", "--datastore", "s3://bucket/prefix"], "boto3", "s3"),
    ("boto3", ["logs", "SmallFlow/1/start", "--datastore", "s3://bucket/prefix"], "boto3", "s3"),
    ("boto3", ["status", "flow.py", "--target", "sfn"], "boto3", "s3"),
    ("boto3", ["resume", "flow.py", "1", "--datastore", "s3://bucket/prefix"], "boto3", "s3"),
    ("boto3", ["deploy", "flow.py", "--target", "argo", "--code-package-dir", "s3://bucket/code",
               "--set", "datastore_root=s3://bucket/prefix"], "boto3", "s3"),
    ("airflow_client", ["status", "flow.py", "--target", "airflow"], "apache-airflow-client", "airflow"),
])
def test_missing_optional_install_is_one_line(tmp_path: Path, missing: str, args: list[str], package: str,
                                              extra: str):
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    done = flowc(*args, cwd=tmp_path, missing=missing)
    assert done.returncode == 1
    needs = "an s3:// datastore needs" if "--datastore" in args else "this command needs"
    assert done.stderr == f"flowc: error: {needs} {package}, which is not installed: pip install 'flowc[{extra}]'\n"


def test_missing_boto3_in_the_image_is_one_line_from_the_shim(tmp_path: Path):
    """A task whose image lacks boto3 says so in its log, instead of a traceback."""
    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    (tmp_path / "manifest.json").write_text(flowc("ir", "--json", "flow.py", cwd=tmp_path).stdout)
    code = ("import sys; sys.modules['boto3'] = None; sys.argv[0] = 'shim'; "
            "from flowc.runtime_shim.__main__ import main; sys.exit(main())")
    done = subprocess.run([sys.executable, "-c", code, "--flow-file", "flow.py", "--step", "start",
                           "--run-id", "r1", "--datastore", "s3://bucket/prefix", "--manifest", "manifest.json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == ("flowc shim: error: an s3:// datastore needs boto3, which "
                                            "is not installed: pip install 'flowc[s3]'")
    assert "Traceback" not in done.stderr


def test_flows_of_the_same_name_keep_their_folders(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for folder in ("a", "b"):
        (tmp_path / "flows" / folder).mkdir(parents=True)
        (tmp_path / "flows" / folder / "flow.py").write_text(FLOW, encoding="utf-8")
    (tmp_path / "flows" / "top.py").write_text(FLOW, encoding="utf-8")
    done = flowc("compile", "flows", "--target", "argo", "--output-dir", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.yaml"))
    assert written == ["argo/a/flow.yaml", "argo/b/flow.yaml", "argo/top.yaml"]
    assert "name: smallflow" in (tmp_path / "out" / "argo" / "a" / "flow.yaml").read_text().lower()


def test_same_name_flows_given_as_files_are_refused_and_nothing_is_written(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    for folder in ("a", "b"):
        (tmp_path / "flows" / folder).mkdir(parents=True)
        (tmp_path / "flows" / folder / "flow.py").write_text(FLOW, encoding="utf-8")
    done = flowc("compile", "flows/a/flow.py", "flows/b/flow.py", "--target", "argo", "--output-dir", "out",
                 cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "flows/b/flow.py: error: flows/b/flow.py and flows/a/flow.py both compile to argo/flow.yaml [FLOW301]",
        "    hint: compile their directory instead (flowc compile flows ...) to keep each flow's folder, "
        "or use one --output-dir each"]
    assert not (tmp_path / "out").exists()


def test_param_hint_reads_the_arguments_given_to_main(tmp_path: Path):
    """In-process callers (click's CliRunner) pass args=...; the hint uses them, not sys.argv."""
    from click.testing import CliRunner

    from flowc.cli import main

    (tmp_path / "flow.py").write_text(FLOW, encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(tmp_path / "flow.py"), "--beta", "7"])
    assert result.exit_code == 1
    assert "flow parameters are given as --param beta=7" in result.output
