"""merge_artifacts rules under ``flowc run``: conflicts, include/exclude, values the join set
itself, and artifacts missing from every input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from flowc.local.api import run_flow
from tests.harness import snapshot

MERGE = '''
    from flowc import FlowSpec, step


    class MergeRulesFlow(FlowSpec):
        @step
        def start(self):
            self.shared = "same"
            self.next(self.a, self.b)

        @step
        def a(self):
            self.x = "from-a"
            self.only_a = 1
            self.next(self.join)

        @step
        def b(self):
            self.x = "from-b"
            self.only_b = 2
            self.next(self.join)

        @step
        def join(self, inputs):
            {body}
            self.next(self.end)

        @step
        def end(self):
            self.names = sorted(k for k in ("shared", "x", "only_a", "only_b") if hasattr(self, k))
            self.x_value = getattr(self, "x", None)
'''


@pytest.mark.parametrize("body,names,x_value", [
    ('self.x = "join wins"\n            self.merge_artifacts(inputs)',
     ["only_a", "only_b", "shared", "x"], "join wins"),
    ('self.merge_artifacts(inputs, exclude=["x"])', ["only_a", "only_b", "shared"], None),
    ('self.merge_artifacts(inputs, include=["only_a", "shared"])', ["only_a", "shared"], None),
], ids=["set-in-join-wins", "exclude", "include"])
def test_merge_rules(write_flow, tmp_path: Path, body: str, names: list[str], x_value) -> None:
    path = write_flow("merge_rules", MERGE.format(body=body))
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=io.StringIO(), live=False)
    assert result.status == "succeeded"
    end = snapshot(tmp_path / "ds", "MergeRulesFlow", result.run_id)["end"]["t"]
    assert end["names"] == names
    assert end["x_value"] == x_value


@pytest.mark.parametrize("body,message", [
    ("self.merge_artifacts(inputs)", "x"),
    ('self.merge_artifacts(inputs, include=["nowhere"])', "nowhere"),
    ('self.merge_artifacts(inputs, include=["x"], exclude=["only_a"])', "include"),
], ids=["conflict", "include-missing", "include-and-exclude"])
def test_merge_errors_fail_the_join(write_flow, tmp_path: Path, body: str, message: str) -> None:
    path = write_flow("merge_rules", MERGE.format(body=body))
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "failed" and result.failed_tasks == ("join/t",)
    error = [line for line in out.getvalue().splitlines() if line.startswith("[join/t] ")][-1]
    assert "Merge" in error or "merge" in error
    assert message in error
