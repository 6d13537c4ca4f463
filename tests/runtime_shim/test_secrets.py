"""@secrets: AWS Secrets Manager (against moto), env: and file: sources, and no value ever leaks
into output, logs or the datastore."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from flowc.local.api import run_flow
from flowc.runtime_shim.step_env import SecretsError, classify_source, needs_aws, resolve_secrets
from tests.harness import snapshot
from tests.runtime_shim.driver import write_flow

PASSWORD = "pw-7f3a9c-never-print-me"
TOKEN = "tok-51e0d2-never-print-me"


@pytest.fixture
def secrets_manager(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "FLOWC_DEFAULT_SECRETS_ROLE", "METAFLOW_DEFAULT_SECRETS_ROLE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        db = client.create_secret(Name="prod/db-creds",
                                  SecretString=json.dumps({"DB_USER": "etl", "DB_PASSWORD": PASSWORD}))
        client.create_secret(Name="api-token", SecretString=TOKEN)
        yield db["ARN"]


def test_a_json_secret_becomes_one_variable_per_key(secrets_manager):
    expected = {"DB_USER": "etl", "DB_PASSWORD": PASSWORD}
    assert resolve_secrets(["prod/db-creds"]) == expected
    assert resolve_secrets(["aws-secrets-manager:prod/db-creds"]) == expected
    assert resolve_secrets(["aws-secrets-manager.prod/db-creds"]) == expected
    assert resolve_secrets([secrets_manager]) == expected  # the ARN


def test_a_string_secret_becomes_one_variable_named_after_it(secrets_manager):
    assert resolve_secrets(["api-token"]) == {"API_TOKEN": TOKEN}


def test_role_is_assumed_through_sts(secrets_manager):
    role = "arn:aws:iam::123456789012:role/reads-secrets"
    assert resolve_secrets(["api-token"], role=role) == {"API_TOKEN": TOKEN}


def test_the_default_role_comes_from_the_environment(secrets_manager, monkeypatch):
    import flowc.runtime_shim.step_env as step_env

    assumed = []
    real = step_env._secrets_manager_client
    monkeypatch.setattr(step_env, "_secrets_manager_client",
                        lambda region, role: assumed.append(role) or real(region, role))
    monkeypatch.setenv("METAFLOW_DEFAULT_SECRETS_ROLE", "arn:aws:iam::123456789012:role/metaflow")
    assert resolve_secrets(["api-token"]) == {"API_TOKEN": TOKEN}
    monkeypatch.setenv("FLOWC_DEFAULT_SECRETS_ROLE", "arn:aws:iam::123456789012:role/flowc")
    resolve_secrets(["api-token"])
    resolve_secrets(["api-token"], role="arn:aws:iam::123456789012:role/own")
    assert assumed == ["arn:aws:iam::123456789012:role/metaflow", "arn:aws:iam::123456789012:role/flowc",
                       "arn:aws:iam::123456789012:role/own"]


def test_a_missing_secret_is_one_clear_line(secrets_manager):
    with pytest.raises(SecretsError) as caught:
        resolve_secrets(["api-token", "no-such-secret"])
    message = str(caught.value)
    assert message == "secret source no-such-secret: no such secret in AWS Secrets Manager"
    assert TOKEN not in message


def test_later_sources_win_and_env_and_file_sources_stay(secrets_manager, tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_JSON", json.dumps({"DB_USER": "override"}))
    (tmp_path / "extra.env").write_text("export EXTRA='x y'\n# comment\n")
    values = resolve_secrets(["prod/db-creds", "env:LOCAL_JSON", f"file:{tmp_path / 'extra.env'}"])
    assert values == {"DB_USER": "override", "DB_PASSWORD": PASSWORD, "EXTRA": "x y"}


@pytest.mark.parametrize("source", ["gcp-secret-manager.projects/x", "vault:kv/x", "inline.x",
                                    "k8s:secret", ""])
def test_unknown_sources_are_refused(source):
    with pytest.raises(SecretsError, match="unknown source"):
        classify_source(source)


def test_which_sources_need_aws():
    assert needs_aws(["env:A", "db-creds"]) and needs_aws(["arn:aws:secretsmanager:eu-west-1:1:secret:x"])
    assert not needs_aws(["env:A", "file:/x"]) and not needs_aws(["vault:x"])


def test_keys_that_are_not_variable_names_are_refused_without_values(monkeypatch):
    monkeypatch.setenv("BAD", json.dumps({"not-a-name": PASSWORD, "METAFLOW_X": "1"}))
    with pytest.raises(SecretsError) as caught:
        resolve_secrets(["env:BAD"])
    assert "METAFLOW_X, not-a-name" in str(caught.value) and PASSWORD not in str(caught.value)


FLOW = '''
    import os

    from metaflow import FlowSpec, secrets, step


    class SecretFlow(FlowSpec):
        @secrets(sources=["prod/db-creds", "aws-secrets-manager:api-token"])
        @step
        def start(self):
            self.password_length = len(os.environ["DB_PASSWORD"])
            self.token_set = os.environ["API_TOKEN"] != ""
            print("connected as", os.environ["DB_USER"])
            self.next(self.end)

        @step
        def end(self):
            self.leaked = "DB_PASSWORD" in os.environ
'''


def _every_file_mentioning(root: Path, values: list[str]) -> list[str]:
    hits = []
    for directory, _dirs, files in os.walk(root):
        for name in files:
            data = Path(directory, name).read_bytes()
            hits.extend(f"{directory}/{name}" for v in values if v.encode() in data)
    return hits


def test_a_run_with_secrets_never_stores_or_prints_their_values(secrets_manager, tmp_path: Path, capfd):
    path = write_flow(tmp_path, FLOW, "secret_flow.py")
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "succeeded", out.getvalue()
    tasks = snapshot(tmp_path / "ds", "SecretFlow", result.run_id)
    assert tasks["start"]["t"]["password_length"] == len(PASSWORD)
    assert tasks["start"]["t"]["token_set"] is True
    assert tasks["end"]["t"]["leaked"] is False
    assert "connected as etl" in out.getvalue()
    captured = capfd.readouterr()
    for text in (out.getvalue(), captured.out, captured.err):
        assert PASSWORD not in text and TOKEN not in text
    assert _every_file_mentioning(tmp_path, [PASSWORD, TOKEN]) == []
    from click.testing import CliRunner

    from flowc.cli import main

    for args in (["show", f"SecretFlow/{result.run_id}"], ["logs", f"SecretFlow/{result.run_id}/start"],
                 ["logs", "--stderr", f"SecretFlow/{result.run_id}/start"]):
        shown = CliRunner().invoke(main, [*args, "--datastore", str(tmp_path / "ds")])
        assert shown.exit_code == 0 and PASSWORD not in shown.output and TOKEN not in shown.output
    # The scan does read the stored logs: what the step printed is found there.
    assert _every_file_mentioning(tmp_path, ["connected as etl"])


def test_a_missing_secret_fails_the_task_with_a_clear_error(secrets_manager, tmp_path: Path):
    path = write_flow(tmp_path, FLOW.replace("prod/db-creds", "prod/missing"), "secret_flow.py")
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "failed" and result.failed_tasks == ("start/t",)
    assert "secret source prod/missing: no such secret in AWS Secrets Manager" in out.getvalue()
    assert _every_file_mentioning(tmp_path, [PASSWORD, TOKEN]) == []
