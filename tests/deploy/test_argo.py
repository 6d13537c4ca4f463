"""flowc deploy / trigger / status on Argo Workflows.

No Argo server can run here (it needs a Kubernetes cluster), so these tests check the exact
requests flowc sends to the Argo Server REST API against a recording HTTP server on loopback
(``tests/deploy/argo_fake.py``) that answers the way the API documents (404 when missing, 409 on
a clash or stale resourceVersion, 401 on a bad token). They prove what flowc asks for, not that
a real Argo accepts it; the objects themselves are the compiled specs the argo target's tests
validate against Argo's JSON schema.
"""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from flowc import deploy as facade
from flowc.cli import main
from flowc.deploy.base import DeployError
from tests.deploy.argo_fake import FakeArgo
from tests.deploy.conftest import free_port, make_project

SETTINGS = {"namespace": "flows", "datastore_root": "s3://bucket/ds"}
TOKEN = "argo-secret-token-123"
SCHEDULED = '''
    from flowc import FlowSpec, Parameter, schedule, step

    @schedule(cron="30 4 * * 1")
    class NightlyFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
'''


@pytest.fixture
def argo(monkeypatch):
    with FakeArgo(token=TOKEN) as server:
        monkeypatch.setenv("ARGO_SERVER", server.url)
        monkeypatch.setenv("ARGO_TOKEN", TOKEN)
        monkeypatch.delenv("ARGO_NAMESPACE", raising=False)
        monkeypatch.delenv("ARGO_BASE_HREF", raising=False)
        yield server


def test_deploy_creates_then_leaves_alone_then_updates(argo, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", SETTINGS)
    deployment, prepared = facade.deploy(flow, "argo")
    assert [str(a) for a in deployment.actions] == ["created WorkflowTemplate flows/parametersflow"]
    assert argo.requests[0]["authorization"] == f"Bearer {TOKEN}"
    posted = argo.requests[1]["body"]
    assert argo.calls() == ["GET /api/v1/workflow-templates/flows/parametersflow",
                            "POST /api/v1/workflow-templates/flows",
                            "GET /api/v1/cron-workflows/flows/parametersflow"]  # none to remove
    (compiled,) = yaml.safe_load_all(prepared.spec)
    compiled["metadata"]["namespace"] = "flows"
    assert posted == {"namespace": "flows", "template": compiled}

    again, _ = facade.deploy(flow, "argo")
    assert [a.verb for a in again.actions] == ["unchanged"]
    assert argo.calls() == ["GET /api/v1/workflow-templates/flows/parametersflow",
                            "GET /api/v1/cron-workflows/flows/parametersflow"]

    pyproject = tmp_path / "p" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'image = "example.com/flows:v2"\n')
    third, prepared3 = facade.deploy(flow, "argo")
    assert [str(a) for a in third.actions] == ["updated WorkflowTemplate flows/parametersflow"]
    put = argo.requests[1]
    assert argo.calls() == ["GET /api/v1/workflow-templates/flows/parametersflow",
                            "PUT /api/v1/workflow-templates/flows/parametersflow",
                            "GET /api/v1/cron-workflows/flows/parametersflow"]
    assert put["body"]["name"] == "parametersflow" and put["body"]["namespace"] == "flows"
    assert put["body"]["template"]["metadata"]["resourceVersion"] == "1"
    assert put["body"]["template"]["spec"] == next(yaml.safe_load_all(prepared3.spec))["spec"]
    assert "example.com/flows:v2" in prepared3.spec


def test_schedule_deploys_template_and_cron_workflow(argo, tmp_path):
    flow = make_project(tmp_path / "p", SCHEDULED, SETTINGS)
    deployment, _ = facade.deploy(flow, "argo")
    assert [str(a) for a in deployment.actions] == ["created WorkflowTemplate flows/nightlyflow",
                                                    "created CronWorkflow flows/nightlyflow"]
    assert argo.calls() == ["GET /api/v1/workflow-templates/flows/nightlyflow",
                            "POST /api/v1/workflow-templates/flows",
                            "GET /api/v1/cron-workflows/flows/nightlyflow",
                            "POST /api/v1/cron-workflows/flows"]
    cron = argo.objects[("cron-workflows", "flows", "nightlyflow")]
    assert cron["kind"] == "CronWorkflow"
    assert cron["spec"]["workflowSpec"]["workflowTemplateRef"]["name"] == "nightlyflow"

    # the flow loses its @schedule: the CronWorkflow flowc made goes too
    flow.write_text(flow.read_text().replace('@schedule(cron="30 4 * * 1")\n', ""))
    deployment, _ = facade.deploy(flow, "argo")
    assert [str(a) for a in deployment.actions] == [
        "updated WorkflowTemplate flows/nightlyflow",
        "deleted CronWorkflow flows/nightlyflow (the flow has no @schedule)"]
    assert argo.calls() == ["GET /api/v1/workflow-templates/flows/nightlyflow",
                            "PUT /api/v1/workflow-templates/flows/nightlyflow",
                            "GET /api/v1/cron-workflows/flows/nightlyflow",
                            "DELETE /api/v1/cron-workflows/flows/nightlyflow"]
    assert ("cron-workflows", "flows", "nightlyflow") not in argo.objects
    # one that flowc did not make is left alone
    argo.objects[("cron-workflows", "flows", "nightlyflow")] = {"metadata": {"name": "nightlyflow"}}
    deployment, _ = facade.deploy(flow, "argo")
    assert [a.verb for a in deployment.actions] == ["unchanged"]
    assert ("cron-workflows", "flows", "nightlyflow") in argo.objects


def test_trigger_submits_from_template_and_wait_follows_it(argo, tmp_path):
    flow = make_project(tmp_path / "p", "parameters", SETTINGS)
    facade.deploy(flow, "argo")
    argo.calls()
    run = facade.trigger(flow, "argo", ["who=flowc", "count=7"])
    assert run.run_id == "parametersflow-00001" and run.status == "queued"
    submit = argo.requests[0]
    assert argo.calls() == ["POST /api/v1/workflows/flows/submit"]
    assert submit["body"] == {"namespace": "flows", "resourceKind": "WorkflowTemplate",
                              "resourceName": "parametersflow",
                              "submitOptions": {"parameters": ["count=7", "who=flowc"]}}

    workflow = argo.workflows[("flows", run.run_id)]
    phases = iter(["Running", "Running", "Succeeded"])

    def advance(info):
        seen.append(info.status)

    seen: list[str] = []
    original = argo.answer

    def answer(method, path, query, body, authorization):
        if method == "GET" and path.endswith(run.run_id):
            phase = next(phases)
            workflow["status"] = {"phase": phase, "startedAt": "2026-11-26T12:00:00Z",
                                  "finishedAt": "2026-11-26T12:01:00Z" if phase == "Succeeded" else None}
        return original(method, path, query, body, authorization)

    argo.answer = answer
    final = facade.wait(flow, "argo", run.run_id, poll=0.01, on_change=advance)
    assert final.successful and final.finished == "2026-11-26T12:01:00Z"
    assert seen == ["running", "succeeded"]
    assert argo.calls() == [f"GET /api/v1/workflows/flows/{run.run_id}"] * 3

    argo.answer = original
    second = facade.trigger(flow, "argo", [])
    assert argo.requests[0]["body"]["submitOptions"] == {}
    argo.calls()
    runs = facade.status(flow, "argo")
    assert argo.requests[0]["query"] == {
        "listOptions.labelSelector": "workflows.argoproj.io/workflow-template=parametersflow"}
    assert [(r.run_id, r.status) for r in runs] == [(second.run_id, "queued"), (run.run_id, "succeeded")]


def test_cli_reports_engine_errors_in_one_line_without_the_token(argo, tmp_path, monkeypatch):
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    runner = CliRunner()
    result = runner.invoke(main, ["trigger", str(flow), "-t", "argo"])
    assert result.exit_code == 1
    assert result.output == ("flowc: error: WorkflowTemplate flows/linearflow not found: deploy it "
                             f"first with flowc deploy {flow} --target argo\n")

    monkeypatch.setenv("ARGO_TOKEN", "wrong-token-456")
    result = runner.invoke(main, ["deploy", str(flow), "-t", "argo"])
    assert result.exit_code == 1 and "wrong-token-456" not in result.output
    assert result.output == ("flowc: error: get WorkflowTemplate flows/linearflow: HTTP 401: not "
                             "authorized: set ARGO_TOKEN (token not valid for running mode)\n")

    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    # someone else changes the template between flowc's GET and PUT: Argo refuses the stale PUT
    argo.objects[("workflow-templates", "flows", "linearflow")] = {
        "metadata": {"name": "linearflow", "resourceVersion": "41"}}
    original = argo.answer

    def stale_read(method, path, query, body, authorization):
        status, reply = original(method, path, query, body, authorization)
        if method == "GET":
            reply = {**reply, "metadata": {**reply["metadata"], "resourceVersion": "40"}}
        return status, reply

    argo.answer = stale_read
    result = runner.invoke(main, ["deploy", str(flow), "-t", "argo"])
    argo.answer = original
    assert result.exit_code == 1
    assert result.output == ("flowc: error: update WorkflowTemplate flows/linearflow: HTTP 409: name "
                             "clash: the object has been modified\n")

    monkeypatch.setenv("ARGO_SERVER", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("ARGO_SECURE", "false")
    result = runner.invoke(main, ["status", str(flow), "-t", "argo"])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert "cannot reach the Argo Server at http://127.0.0.1:" in result.output


def test_without_a_server_setting_nothing_is_sent(tmp_path, monkeypatch):
    monkeypatch.delenv("ARGO_SERVER", raising=False)
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    assert facade.existing(flow, "argo")[0].name == "linearflow"  # named from the spec, offline
    with pytest.raises(DeployError, match="no Argo Server: set ARGO_SERVER"):
        facade.deploy(flow, "argo")


def test_a_missing_namespace_is_an_error_not_a_creation(argo, tmp_path):
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    original = argo.answer

    def no_namespace(method, path, query, body, authorization):
        if method == "POST":
            return 404, {"code": 5, "message": 'namespaces "flows" not found'}
        return original(method, path, query, body, authorization)

    argo.answer = no_namespace
    with pytest.raises(DeployError) as info:
        facade.deploy(flow, "argo")
    assert str(info.value) == ('create WorkflowTemplate flows/linearflow: HTTP 404: '
                               'namespaces "flows" not found')



def test_the_client_is_heras_workflows_service_with_the_argo_cli_settings(tmp_path, monkeypatch):
    """hera's WorkflowsService gets the host (with the base href, which hera's URL joining would
    drop without the final '/'), TLS verification and the token, read when the call is made."""
    from flowc.deploy import _prepare
    from flowc.deploy.argo import ArgoServer

    monkeypatch.setenv("ARGO_SERVER", "argo.example.com:2746")
    monkeypatch.setenv("ARGO_BASE_HREF", "/argo/")
    monkeypatch.setenv("ARGO_INSECURE_SKIP_VERIFY", "true")
    monkeypatch.setenv("ARGO_TOKEN", "Bearer abc")
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    _, prepared = _prepare(flow, "argo", {}, None, with_package=False)
    server = ArgoServer.from_settings(prepared)
    seen = {}

    def probe(api, models):
        seen.update(service=type(api).__module__, host=api.host, verify=api.verify_ssl, token=api.token,
                    models=models.__name__)

    assert server.call("probe", probe) is None  # nothing was answered
    assert seen == {"service": "hera.workflows.service", "host": "https://argo.example.com:2746/argo/",
                    "verify": False, "token": "Bearer abc", "models": "hera.workflows.models"}


def test_the_base_href_prefixes_every_request(argo, tmp_path, monkeypatch):
    monkeypatch.setenv("ARGO_BASE_HREF", "argo")
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    with pytest.raises(DeployError):  # the fake serves /api/v1 only
        facade.deploy(flow, "argo")
    assert argo.requests[0]["path"] == "/argo/api/v1/workflow-templates/flows/linearflow"


def test_without_hera_the_error_names_the_extra(argo, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "hera.workflows.service", None)
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    result = CliRunner().invoke(main, ["deploy", str(flow), "-t", "argo"])
    assert result.exit_code == 1
    assert result.output == "flowc: error: hera is not installed: pip install 'flowc[argo]'\n"
    assert argo.requests == []


def test_a_run_id_that_is_no_object_name_is_refused_before_any_request(argo, tmp_path):
    flow = make_project(tmp_path / "p", "linear", SETTINGS)
    with pytest.raises(DeployError, match=r"run id '\.\./x' is not a Kubernetes object name"):
        facade.get_run(flow, "argo", "../x")
    assert argo.requests == []
