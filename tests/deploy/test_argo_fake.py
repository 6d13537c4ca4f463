"""The fake Argo Server checks every request body against Argo's published schema, so the deploy
tests prove flowc sends bodies the real API accepts, not only the paths it calls."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request

import pytest

from flowc import deploy as facade
from tests.deploy.argo_fake import FakeArgo, request_errors
from tests.deploy.conftest import make_project


def post(url: str, body: object) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_flowc_bodies_pass_and_a_broken_one_is_refused(tmp_path, monkeypatch):
    flow = make_project(tmp_path, "parameters", {"namespace": "flows"})
    with FakeArgo() as server:
        monkeypatch.setenv("ARGO_SERVER", server.url)
        facade.deploy(flow, "argo")
        facade.trigger(flow, "argo", ["count=2"])
        sent = [r for r in server.requests if r["body"] is not None]
        assert {(r["method"], r["path"].split("/")[3]) for r in sent} >= {
            ("POST", "workflow-templates"), ("POST", "workflows")}
        created = next(r for r in sent if r["path"].endswith("/workflow-templates/flows"))
        broken = copy.deepcopy(created["body"])
        broken["template"]["spec"]["templates"][0]["dependss"] = "x"
        assert post(server.url + created["path"], broken) == 400
        assert any("dependss" in line for line in server.invalid)
        server.invalid.clear()  # the refusal was the point of this test


@pytest.mark.parametrize("body,needle", [
    ({"namespace": "n", "resourceKind": "WorkflowTemplate", "resourceName": "x",
      "submitOptions": {"parameter": ["a=1"]}}, "parameter"),
    ({"namespace": "n", "template": {"metadata": {"name": "x"}, "spec": {"entrypoint": 3}}}, "entrypoint"),
])
def test_request_errors_name_the_field(body, needle):
    parts = ["workflows", "n", "submit"] if "resourceKind" in body else ["workflow-templates", "n"]
    errors = request_errors("POST", parts, body)
    assert errors and any(needle in e for e in errors)
