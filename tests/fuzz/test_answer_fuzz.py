"""Engine answers: whatever the Argo Server (or a proxy in front of it) answers, deploy, trigger,
status and get_run end in a one-line ``DeployError`` or a result, never another exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.deploy import _prepare
from flowc.deploy.base import DeployError
from tests.conftest import SHAPES
from tests.fuzz.checks import COUNTS, SHARES, time_limit
from tests.fuzz.conftest import CORPUS
from tests.fuzz.raw_server import Answer, RawServer

ANSWERS = sorted((CORPUS / "answers").iterdir())
OPERATIONS = ["deploy", "trigger", "status", "get_run"]


@pytest.fixture(scope="module")
def server():
    with RawServer() as raw:
        yield raw


@pytest.fixture(scope="module")
def prepared():
    """One prepared flow for every case (compiling per case would dominate)."""
    return _prepare(SHAPES / "parameters.py", "argo", {"namespace": "fuzz"}, None, with_package=False)


@pytest.fixture
def argo(prepared, server, monkeypatch):
    monkeypatch.setenv("ARGO_SERVER", server.url)  # after the sandbox removed it
    return (*prepared, server)


def call(argo, operation: str, answer: Answer, suite: str) -> None:
    engine, prepared, server = argo
    server.answer = answer
    server.requests = 0
    calls = {"deploy": lambda: engine.deploy(prepared), "trigger": lambda: engine.trigger(prepared, {}),
             "status": lambda: engine.status(prepared, 5), "get_run": lambda: engine.get_run(prepared, "r-1")}
    try:
        with time_limit():
            calls[operation]()
    except DeployError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 2000, (operation, answer, message)
        COUNTS[suite] = COUNTS.get(suite, 0) + 1
    assert server.requests, "the case never reached the server"


@pytest.mark.parametrize("path", ANSWERS, ids=[p.name for p in ANSWERS])
def test_corpus_answers(argo, path: Path):
    """Every operation survives every answer; each answer is refused by at least two of them
    (``status`` rightly reads an object without ``items`` as no runs)."""
    before = COUNTS.get("answers-corpus", 0)
    status = 502 if path.name.startswith("html") else 200
    answer = Answer(status, path.read_bytes(), "text/html" if "html" in path.name else "application/json")
    for operation in OPERATIONS:
        call(argo, operation, answer, "answers-corpus")
    assert COUNTS["answers-corpus"] - before >= 2, f"{path.name} was accepted"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["metadata", "status", "items", "name", "phase", "spec", "labels",
                         "resourceVersion", "message", "startedAt"]) | st.text(max_size=8),
        children, max_size=5),
    max_leaves=20)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.text(max_size=64).map(lambda t: f"<html><body>{t}</body></html>".encode()),
)
answers = st.builds(Answer, st.sampled_from([200, 200, 200, 400, 401, 403, 404, 409, 500, 502, 503]),
                    bodies, st.sampled_from(["application/json", "text/html", "text/plain"]))


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(answer=answers, operation=st.sampled_from(OPERATIONS))
def generated_answers(answer, operation, argo):
    call(argo, operation, answer, "answers-generated")


def test_generated_answers(argo):
    before = COUNTS.get("answers-generated", 0)
    generated_answers(argo=argo)
    assert COUNTS["answers-generated"] - before >= SHARES["answers-generated"]  # most are refused
