"""``flowc compile --check`` tells a committed spec that differs only because a deploy-time
environment value changed (the compile read ``os.getenv``) from a real change, one line per spec."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from flowc.cli import main

FLOW = '''
import os
from metaflow import FlowSpec, step, environment

TAG = os.getenv("IMAGE_TAG", "latest")


class EnvFlow(FlowSpec):
    @environment(vars={"TAG": TAG, "TOKEN": os.getenv("API_TOKEN", "")})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def compile_all(tmp_path: Path, env: dict[str, str], *extra: str):
    args = ["compile", "flow.py", "-t", "all", "--output-dir", "out", "--datastore-root", "s3://b/p", *extra]
    return CliRunner().invoke(main, args, env={"IMAGE_TAG": None, "API_TOKEN": None, **env})


def test_a_changed_environment_value_is_named_instead_of_diffed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flow.py").write_text(FLOW)
    assert compile_all(tmp_path, {"IMAGE_TAG": "v1"}).exit_code == 0
    same = compile_all(tmp_path, {"IMAGE_TAG": "v1"}, "--check")
    assert same.exit_code == 0, same.output
    changed = compile_all(tmp_path, {"IMAGE_TAG": "v2"}, "--check")
    assert changed.exit_code == 1
    lines = [line for line in changed.stdout.splitlines() if line]
    assert lines == [f"{Path('out') / target}: differs only in environment values IMAGE_TAG ('v1' -> 'v2')"
                     for target in ("argo/flow.yaml", "sfn/flow.json", "airflow/flow.py")]
    assert "---" not in changed.stdout  # no diff for them
    assert "only in deploy-time environment values" in changed.stderr


def test_a_secret_looking_value_is_never_shown(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flow.py").write_text(FLOW)
    assert compile_all(tmp_path, {}).exit_code == 0
    changed = compile_all(tmp_path, {"API_TOKEN": "s3cr3t"}, "--check")
    assert changed.exit_code == 1
    assert "s3cr3t" not in changed.output
    assert "API_TOKEN (unset -> <hidden>)" in changed.stdout


def test_a_real_change_beside_an_environment_change_is_diffed(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flow.py").write_text(FLOW)
    assert compile_all(tmp_path, {"IMAGE_TAG": "v1"}).exit_code == 0
    (tmp_path / "flow.py").write_text(FLOW.replace('"TAG": TAG', '"TAG": TAG, "MORE": "x"'))
    changed = compile_all(tmp_path, {"IMAGE_TAG": "v2"}, "--check")
    assert changed.exit_code == 1
    assert "differs only" not in changed.stdout
    assert "+++ out/argo/flow.yaml" in changed.stdout and "MORE" in changed.stdout
