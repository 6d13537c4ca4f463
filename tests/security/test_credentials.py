"""Issue 13 item 4: credentials never reach the console, whether a value is malformed, sits in
a URL with a '/' in it, has an unusual shape, or is echoed back by the server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from flowc.cli import main
from flowc.deploy.base import redact
from tests.deploy.argo_fake import FakeArgo
from tests.deploy.conftest import make_project

SETTINGS = {"namespace": "flows", "datastore_root": "s3://bucket/ds"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    for name in ("ARGO_NAMESPACE", "ARGO_BASE_HREF", "ARGO_TOKEN", "ARGO_SERVER"):
        monkeypatch.delenv(name, raising=False)
    return make_project(tmp_path / "p", "linear", SETTINGS)


def _deploy(flow):
    result = CliRunner().invoke(main, ["deploy", str(flow), "-t", "argo"])
    assert isinstance(result.exception, SystemExit), f"traceback: {result.exception!r}"
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1, result.output
    return result.output


@pytest.mark.parametrize("token", ["s3cr3t-tok\r\nX-Injected: 1", "s3cr3t\ntok", "s3cr3t-tok\x7fx",
                                   "s3cr3t-tök"])
def test_a_token_that_is_no_header_value_is_refused_unprinted(project, monkeypatch, token):
    with FakeArgo(token="s3cr3t-tok") as server:
        monkeypatch.setenv("ARGO_SERVER", server.url)
        monkeypatch.setenv("ARGO_TOKEN", token)
        output = _deploy(project)
        assert server.requests == []
    assert "s3cr3t" not in output and "ARGO_TOKEN holds a line break" in output


def test_a_server_url_with_a_password_holding_a_slash_leaks_nothing(project, monkeypatch):
    monkeypatch.setenv("ARGO_SERVER", "https://admin:pa55/w0rd@127.0.0.1:9")
    output = _deploy(project)
    assert "pa55" not in output and "w0rd" not in output and "admin" not in output


def test_a_token_the_server_echoes_back_is_redacted(project, monkeypatch):
    with FakeArgo(token="the-right-one") as server:
        monkeypatch.setenv("ARGO_SERVER", server.url)
        monkeypatch.setenv("ARGO_TOKEN", "wrong-k3y-4242")
        server.answer = lambda method, path, query, body, authorization: (
            401, {"message": f"unknown credential {authorization.split()[-1]} ({authorization!r})"})
        output = _deploy(project)
    assert "k3y" not in output and "HTTP 401" in output


@pytest.mark.parametrize("text, secret", [
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "wJalrXUtnFEMI"),
    ("AWS_SESSION_TOKEN: FwoGZXIvYXdzEBYaDH", "FwoGZXIvYXdzEBYaDH"),
    ("Authorization: Token abc123def", "abc123def"),
    ("GET https://admin:pa/ss@host:2746/api failed", "pa/ss"),
    ("GET https://admin:pa/ss@host:2746/api failed", "ss@"),
    ('{"password": "correct horse battery staple"}', "horse"),
    ("{'password': 'correct horse battery staple'}", "horse"),
])
def test_redact_covers_the_shapes_the_patterns_missed(text, secret):
    assert secret not in redact(text)


def test_redact_knows_the_secret_values_of_this_process(monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", "Bearer plain-w0rds-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kS/3+x=y")
    echoed = "server said: plain-w0rds-token is not kS/3+x=y nor kS%2F3%2Bx%3Dy"
    assert redact(echoed) == "server said: *** is not *** nor ***"
