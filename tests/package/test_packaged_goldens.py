"""The default spec shape (code = "package") on every target, as reviewers see it: each task
starts the bootstrap the spec carries once, with the code package's URL. A fixed URL keeps these
goldens independent of the runtime's bytes (the real URL names the package's sha256)."""

from __future__ import annotations

import pytest

from flowc.compiler import compile_file
from flowc.plan import build as build_plan
from flowc.targets import get_target, target_names
from tests.conftest import ROOT, target_settings
from tests.targets.argo_checks import schema_errors, semantic_errors, workflow_schema_files
from tests.targets.argo_helpers import documents

PACKAGE = "s3://flowc-datastore/flowc/flowc-code/train-" + "0" * 64 + ".tar.gz"


def packaged(target: str) -> str:
    flow = compile_file((ROOT / "examples" / "train.py").relative_to(ROOT)).flow
    emitted = get_target(target).emit(build_plan(flow), target_settings(code="package", code_package=PACKAGE))
    assert not [d for d in emitted.diagnostics if d.severity == "error"]
    return emitted.text


@pytest.mark.parametrize("target", target_names())
def test_golden(target: str, golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    text = packaged(target)
    golden.check(f"{target}/packaged/train{get_target(target).extension}", text)


def test_the_packaged_argo_spec_is_schema_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    docs = documents(packaged("argo"))
    for doc in docs:
        for schema in workflow_schema_files(doc, "4"):
            assert schema_errors(doc, schema) == [], (doc["kind"], schema)
    assert semantic_errors(docs) == []
