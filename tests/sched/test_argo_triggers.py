"""``current.trigger`` on Argo: the Sensor's trigger hands the run the event (or the upstream
workflow), the start task records it, every task reads it back.

The flows are the ones the Step Functions tests use (``tests/sched/trigger_flows``); the
Sensor's submission is computed from a sample event with Argo Events' trigger-parameter
semantics (``tests.targets.argo_helpers.sensor_submission``) and run in the Argo interpreter.
"""

from __future__ import annotations

import datetime
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from flowc.cli import main
from flowc.deploy import DeployError
from flowc.deploy.events import publish
from flowc.integrations import ArgoEvent, ArgoEventException

from flowc.runtime_shim.datastore import open_datastore
from flowc.runtime_shim.trigger import Trigger, argo_event, events_from_environment
from tests.conftest import ROOT
from tests.harness.argo_interpreter import SUCCEEDED, Interpreter, load_documents
from tests.harness.artifacts import snapshot
from tests.targets.argo_helpers import CODE_DIR, SAMPLE_CONTEXT, emit, failure_report, sensor_submission
from tests.targets.argo_checks import schema_errors, semantic_errors

FLOWS = ROOT / "tests" / "sched" / "trigger_flows"
ON_EVENT, ON_FINISH = FLOWS / "on_event.py", FLOWS / "on_finish.py"
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
PHASE_LABEL = "workflows.argoproj.io/phase"


def _documents(path: Path, tmp: Path) -> dict[str, dict[str, Any]]:
    text = emit(path, datastore_root=str(tmp / "datastore"), code_dir=CODE_DIR)
    docs = load_documents(text)
    assert semantic_errors(docs) == []
    return {doc["kind"]: doc for doc in docs}


def _run(workflow: dict[str, Any] | None, template: dict[str, Any], run_id: str, tmp: Path) -> None:
    assert workflow is not None, "no dependency of the sensor matched the event"
    run = Interpreter(workflow, workflow_name=run_id, workdir=tmp / run_id, workflow_templates=[template],
                      path_map={CODE_DIR: str(ROOT)}, shared_paths=[tmp]).run()
    assert run.phase == SUCCEEDED, failure_report(run)


def _upstream_workflow(name: str, template: str, phase: str = "Succeeded") -> dict[str, Any]:
    """The Workflow object the resource event source reports (what the sensor filters on)."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "labels": {TEMPLATE_LABEL: template, PHASE_LABEL: phase}},
            "status": {"phase": phase}}


def test_an_event_and_an_upstream_finish_reach_current_trigger(tmp_path: Path) -> None:
    """The event's mapped fields arrive as parameters and its name, id and time as
    ``current.trigger`` in start and end; the downstream flow's start reads the upstream run's
    artifact through ``current.trigger.run``."""
    upstream = _documents(ON_EVENT, tmp_path)
    sensor = upstream["Sensor"]
    assert schema_errors(sensor, "argo-events-v1.9.11.schema.json") == []
    body = {"payload": {"name": "data_ready", "value": 2.5, "user": "ada", "extra": [1, {"a": "<b>"}]}}
    _run(sensor_submission(sensor, body), upstream["WorkflowTemplate"], "oneventflow-x7k2p", tmp_path)

    data = snapshot(tmp_path / "datastore", "OnEventFlow", "oneventflow-x7k2p")
    start, end = data["start"]["t"], data["end"]["t"]
    assert (start["alpha"], start["who"]) == (2.5, "ada")
    assert start["event"] == ["data_ready", "event", True]
    assert end["seen_in_end"] == "data_ready"
    store = open_datastore(str(tmp_path / "datastore"))
    record = store.read_run("OnEventFlow", "oneventflow-x7k2p")
    assert record["trigger"] == [{"type": "event", "name": "data_ready", "id": SAMPLE_CONTEXT["id"],
                                  "timestamp": SAMPLE_CONTEXT["time"]}]

    downstream = _documents(ON_FINISH, tmp_path)
    finish_sensor = downstream["Sensor"]
    assert schema_errors(finish_sensor, "argo-events-v1.9.11.schema.json") == []
    template = upstream["WorkflowTemplate"]["metadata"]["name"]
    assert sensor_submission(finish_sensor, _upstream_workflow("oneventflow-x7k2p", template, "Failed")) is None
    submitted = sensor_submission(finish_sensor, _upstream_workflow("oneventflow-x7k2p", template))
    _run(submitted, downstream["WorkflowTemplate"], "oneventflow-downstream", tmp_path)
    start = snapshot(tmp_path / "datastore", "OnFinishFlow", "oneventflow-downstream")["start"]["t"]
    assert start["event"] == ["metaflow.OnEventFlow.end", "run"]
    assert start["upstream"] == "OnEventFlow/oneventflow-x7k2p"
    assert start["upstream_alpha"] == 2.5


def test_a_run_submitted_by_hand_has_no_trigger(tmp_path: Path) -> None:
    """Without the Sensor the reserved arguments are empty: ``current.trigger`` is None and the
    parameters keep their defaults."""
    docs = _documents(ON_EVENT, tmp_path)
    _run(docs["WorkflowTemplate"], docs["WorkflowTemplate"], "by-hand", tmp_path)
    start = snapshot(tmp_path / "datastore", "OnEventFlow", "by-hand")["start"]["t"]
    assert (start["alpha"], start["who"], start["event"]) == (0.5, "nobody", None)
    assert "trigger" not in open_datastore(str(tmp_path / "datastore")).read_run("OnEventFlow", "by-hand")


TWO_EVENTS = '''
from flowc import FlowSpec, Parameter, current, step, trigger

@trigger(events=[{"name": "a_ready", "parameters": {"size": "n"}}, {"name": "b_ready", "parameters": {"who": "user"}}])
class TwoEvents(FlowSpec):
    size = Parameter("size", default=1, type=int)
    who = Parameter("who", default="nobody")

    @step
    def start(self):
        self.names = sorted(e.name for e in current.trigger.events)
        self.next(self.end)

    @step
    def end(self):
        self.ids = sorted(e.id for e in current.trigger.events)
'''


def test_several_events_start_one_run_once_all_have_arrived(tmp_path: Path) -> None:
    """As Metaflow: the Sensor's one trigger waits for every event; the run gets each event's
    mapped parameters and sees all the events in ``current.trigger.events``."""
    source = tmp_path / "code" / "two_events.py"
    source.parent.mkdir()
    source.write_text(TWO_EVENTS)
    docs = _documents(source, tmp_path)
    sensor = docs["Sensor"]
    assert schema_errors(sensor, "argo-events-v1.9.11.schema.json") == []
    (trigger,) = sensor["spec"]["triggers"]
    assert trigger["template"]["conditions"] == "a-ready && b-ready"
    a, b = {"payload": {"name": "a_ready", "n": 5}}, {"payload": {"name": "b_ready", "user": "ada"}}
    assert sensor_submission(sensor, a) is None and sensor_submission(sensor, b) is None
    submitted = sensor_submission(sensor, a, b)
    run = Interpreter(submitted, workflow_name="two", workdir=tmp_path / "two", workflow_templates=[docs["WorkflowTemplate"]],
                      path_map={CODE_DIR: str(source.parent)}, shared_paths=[tmp_path]).run()
    assert run.phase == SUCCEEDED, failure_report(run)
    data = snapshot(tmp_path / "datastore", "TwoEvents", "two")
    start, end = data["start"]["t"], data["end"]["t"]
    assert (start["size"], start["who"], start["names"]) == (5, "ada", ["a_ready", "b_ready"])
    assert end["ids"] == sorted([SAMPLE_CONTEXT["id"], SAMPLE_CONTEXT["id"] + "-1"])


UNMAPPED = '''
from flowc import FlowSpec, Parameter, step, {decorator}

{usage}
class Unmapped(FlowSpec):
    alpha = Parameter("alpha", default=1, type=int)
    who = Parameter("who", default="nobody")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_one_event_without_a_mapping_maps_every_parameter_by_name(tmp_path: Path) -> None:
    """As Metaflow's Argo target does: the flow's only event, with no mapping, passes each
    parameter from the payload field of its name; with two events nothing is implied."""
    def submitted(usage: str, *bodies: dict[str, Any]) -> dict[str, str]:
        path = tmp_path / f"unmapped{len(usage)}.py"
        path.write_text(UNMAPPED.format(decorator="trigger", usage=usage))
        sensor = _documents(path, tmp_path)["Sensor"]
        workflow = sensor_submission(sensor, *bodies)
        assert workflow is not None
        return {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]
                if not p["name"].startswith("flowc-")}

    one = '@trigger(event="data_ready")'
    assert submitted(one, {"payload": {"name": "data_ready", "alpha": 7, "who": "ada"}}) == {
        "alpha": "7", "who": "ada"}
    assert submitted(one, {"payload": {"name": "data_ready"}}) == {"alpha": "1", "who": "nobody"}
    two = '@trigger(events=["data_ready", "other"])'
    assert submitted(two, {"payload": {"name": "data_ready", "alpha": 7}}, {"payload": {"name": "other"}}) == {}


def test_payload_fields_with_path_characters_are_read_as_named(tmp_path: Path) -> None:
    """gjson reads ``.``, ``*`` and ``?`` in a dataKey as path syntax: the Sensor escapes them."""
    path = tmp_path / "odd.py"
    path.write_text(UNMAPPED.format(decorator="trigger",
                                    usage='@trigger(event={"name": "e", "parameters": {"alpha": "size.kb", "who": "a*b?"}})'))
    sensor = _documents(path, tmp_path)["Sensor"]
    keys = [p["src"].get("dataKey") for p in sensor["spec"]["triggers"][0]["template"]["argoWorkflow"]["parameters"]]
    assert keys[:2] == ["body.payload.size\\.kb", "body.payload.a\\*b\\?"]
    workflow = sensor_submission(sensor, {"payload": {"name": "e", "size.kb": 3, "size": {"kb": 9}, "a*b?": "x"}})
    assert workflow is not None
    values = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert (values["alpha"], values["who"]) == ("3", "x")


def test_the_argo_arguments_become_the_recorded_events() -> None:
    """A payload's own id and timestamp (Metaflow's publisher puts them there) win over the
    event source's; a hand-made run, or a broken description, records nothing."""
    described = '[{"type":"event","name":"data_ready"},{"type":"run","flow":"Up"}]'
    environ = {"FLOWC_TRIGGER": described,
               "FLOWC_TRIGGER_DATA_0": '{"name":"data_ready","id":"abc","timestamp":1700000000}',
               "FLOWC_TRIGGER_ID_0": "ctx-id", "FLOWC_TRIGGER_TIME_0": "2026-12-05T09:30:00Z",
               "FLOWC_TRIGGER_DATA_1": "up-abc", "FLOWC_TRIGGER_ID_1": "ctx-2", "FLOWC_TRIGGER_TIME_1": "2026-12-05T09:31:00Z"}
    event, run = events_from_environment(environ) or []
    assert event == {"type": "event", "name": "data_ready", "id": "abc", "timestamp": 1700000000}
    assert run == {"type": "run", "name": "metaflow.Up.end", "id": "Up/up-abc/end/t", "timestamp": "2026-12-05T09:31:00Z"}
    assert Trigger([event]).event.timestamp == datetime.datetime(2023, 11, 14, 22, 13, 20,
                                                                 tzinfo=datetime.timezone.utc)
    assert argo_event({"type": "event", "name": "e"}, "", "ctx-id", "2026-12-05T09:30:00Z")["id"] == "ctx-id"
    assert events_from_environment({"FLOWC_TRIGGER": "", "FLOWC_TRIGGER_DATA_0": ""}) is None
    assert events_from_environment({"FLOWC_TRIGGER": "{not json"}) is None
    assert events_from_environment({"FLOWC_TRIGGER": '{"type":"event"}'}) is None


# --------------------------------------------------------------------------- flowc trigger --event --target argo


class _Webhook(BaseHTTPRequestHandler):
    """An Argo Events webhook endpoint: ``/flowc`` takes a POST, anything else is 404; a
    configured token must come as a bearer token."""

    received: list[tuple[dict[str, str], Any]] = []
    token: str | None = None

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        if self.path != "/flowc":
            self.send_error(404)
            return
        if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_error(401)
            return
        type(self).received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Webhook.received, _Webhook.token = [], None
    server = HTTPServer(("127.0.0.1", 0), _Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_published_event_starts_the_flow_with_its_id(webhook: str, tmp_path: Path) -> None:
    """``flowc trigger --event --target argo`` POSTs what the Sensor matches; the run it starts
    records the id the command printed."""
    done = CliRunner().invoke(main, ["trigger", "--event", "data_ready", "--payload", '{"value": 0.25}',
                                     "--target", "argo", "--set", f"argo_webhook_url={webhook}/flowc"])
    assert done.exit_code == 0, done.output
    event_id = done.output.strip()
    ((headers, body),) = _Webhook.received
    assert headers["Content-Type"] == "application/json" and "Authorization" not in headers
    assert body["name"] == body["payload"]["name"] == "data_ready"
    assert body["payload"]["id"] == event_id and body["payload"]["value"] == 0.25

    docs = _documents(ON_EVENT, tmp_path)
    _run(sensor_submission(docs["Sensor"], body), docs["WorkflowTemplate"], "published", tmp_path)
    assert snapshot(tmp_path / "datastore", "OnEventFlow", "published")["start"]["t"]["alpha"] == 0.25
    (event,) = open_datastore(str(tmp_path / "datastore")).read_run("OnEventFlow", "published")["trigger"]
    assert event["id"] == event_id and event["timestamp"] == body["payload"]["timestamp"]


def test_the_cli_reports_a_missing_webhook_url_in_one_line() -> None:
    done = CliRunner().invoke(main, ["trigger", "--event", "data_ready", "--target", "argo"])
    assert done.exit_code == 1 and done.output.count("\n") == 1
    assert done.output.startswith("flowc: error: flowc trigger --event --target argo needs the webhook URL")


def test_a_webhook_token_is_sent_as_a_bearer_token(webhook: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _Webhook.token = "s3cret"
    settings = {"argo_webhook_url": f"{webhook}/flowc"}
    with pytest.raises(DeployError, match=r"HTTP 401 Unauthorized \(set FLOWC_ARGO_WEBHOOK_TOKEN\)$"):
        publish("argo", "e", "{}", settings=settings)
    monkeypatch.setenv("FLOWC_ARGO_WEBHOOK_TOKEN", "s3cret")
    assert publish("argo", "e", '{"id": 7}', settings=settings) == "7"
    assert _Webhook.received[0][1]["payload"] == {"id": 7, "timestamp": _Webhook.received[0][1]["payload"]["timestamp"],
                                                  "name": "e"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("url, payload, bus, message", [
    (None, "{}", None, "needs the webhook URL of the Argo Events event source: --set argo_webhook_url="),
    ("{webhook}/flowc", '{"name": "other"}', None, "--payload's 'name' is the event's name on Argo Events"),
    ("{webhook}/flowc", "{}", "flowc", "--bus names an EventBridge bus"),
    ("{webhook}/nowhere?token=hidden", "{}", None, r"to http://127\.0\.0\.1:\d+/nowhere: HTTP 404"),
    ("http://user:pw@127.0.0.1:{closed}/flowc", "{}", None, r"cannot reach http://127\.0\.0\.1:\d+/flowc: "),
    ("not a url", "{}", None, "cannot reach "),
    ("http://127.0.0.1:port/flowc", "{}", None, "cannot reach the webhook URL: nonnumeric port"),
])
def test_publish_errors_are_one_line_without_credentials(webhook: str, url: str | None, payload: str,
                                                         bus: str | None, message: str) -> None:
    settings = {} if url is None else {"argo_webhook_url": url.format(webhook=webhook, closed=_closed_port())}
    with pytest.raises(DeployError, match=message) as caught:
        publish("argo", "e", payload, bus, settings)
    text = str(caught.value)
    assert "\n" not in text and "hidden" not in text and "pw" not in text
    assert _Webhook.received == []


# --------------------------------------------------------------------------- ArgoEvent in a step

PUBLISHER = '''
from metaflow import FlowSpec, Parameter, step
from metaflow.integrations import ArgoEvent


class Publisher(FlowSpec):
    value = Parameter("value", default=0.75, type=float)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.event_id = ArgoEvent(name="data_ready").add_to_payload("user", "grace").safe_publish(
            payload={"value": self.value})
'''


def test_a_step_publishes_an_event_that_starts_the_downstream_flow(webhook: str, tmp_path: Path) -> None:
    """``ArgoEvent(...).safe_publish`` in a deployed step posts to the spec's webhook URL; the
    event starts the flow waiting for it, with the payload as its parameters."""
    source = tmp_path / "code" / "publisher.py"
    source.parent.mkdir()
    source.write_text(PUBLISHER)
    text = emit(source, datastore_root=str(tmp_path / "datastore"), code_dir=CODE_DIR,
                argo_webhook_url=f"{webhook}/flowc")
    (template,) = load_documents(text)
    run = Interpreter(template, workflow_name="publisher", workdir=tmp_path / "publisher",
                      path_map={CODE_DIR: str(source.parent)}, shared_paths=[tmp_path]).run()
    assert run.phase == SUCCEEDED, failure_report(run)
    ((_, body),) = _Webhook.received
    assert body["payload"]["value"] == 0.75 and body["payload"]["user"] == "grace"
    published = snapshot(tmp_path / "datastore", "Publisher", "publisher")["end"]["t"]["event_id"]
    assert published == body["payload"]["id"]

    docs = _documents(ON_EVENT, tmp_path)
    _run(sensor_submission(docs["Sensor"], body), docs["WorkflowTemplate"], "downstream", tmp_path)
    start = snapshot(tmp_path / "datastore", "OnEventFlow", "downstream")["start"]["t"]
    assert (start["alpha"], start["who"], start["event"]) == (0.75, "grace", ["data_ready", "event", True])


def test_argo_event_outside_argo_and_its_errors(webhook: str, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Metaflow's semantics: ``safe_publish`` is a no-op outside a deployed run, ``publish``
    always posts, errors are printed unless ``ignore_errors=False``."""
    monkeypatch.delenv("FLOWC_ARGO_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("METAFLOW_ARGO_EVENTS_WEBHOOK_URL", raising=False)
    event = ArgoEvent(lambda: "data_ready", url=f"{webhook}/flowc")
    assert event.safe_publish() is None and _Webhook.received == []
    assert "was not published outside a deployed Argo run" in capsys.readouterr().err
    assert event.publish({"value": 1}) == _Webhook.received[0][1]["payload"]["id"]
    with pytest.raises(ArgoEventException, match=r"to http://127\.0\.0\.1:\d+/nowhere: HTTP 404"):
        ArgoEvent("e", url=f"{webhook}/nowhere").publish(ignore_errors=False)
    assert ArgoEvent("e").publish() is None  # no URL anywhere: printed, not raised
    assert "no Argo Events webhook URL" in capsys.readouterr().err
    monkeypatch.setenv("METAFLOW_ARGO_EVENTS_WEBHOOK_URL", f"{webhook}/flowc")
    assert ArgoEvent("e").publish() is not None and len(_Webhook.received) == 2
