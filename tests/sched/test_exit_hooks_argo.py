"""@exit_hook on Argo: the onExit handler runs the hooks of the workflow's outcome in the test
interpreter (which runs handlers as Argo does), and a failing hook leaves the phase alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.argo_interpreter import FAILED, SUCCEEDED
from tests.sched.flows import expected_hooks, expected_record, hook_log, recorded_hooks, write_hooked
from tests.targets.argo_checks import schema_errors, semantic_errors, workflow_schema_files
from tests.targets.argo_helpers import documents, emit, failure_report, run_compiled


def test_the_handler_is_the_shim_in_exit_hook_mode(tmp_path: Path) -> None:
    docs = documents(emit(write_hooked(tmp_path)))
    template = docs[0]
    assert semantic_errors(docs) == []
    for schema in workflow_schema_files(template, "4"):
        assert schema_errors(template, schema) == [], schema
    handler = next(t for t in template["spec"]["templates"] if t["name"] == template["spec"]["onExit"])
    command = handler["container"]["command"]
    assert command[command.index("--exit-hook"):command.index("--exit-hook") + 3] == [
        "--exit-hook", "--status", "{{workflow.status}}"]
    assert "--step" not in command


@pytest.mark.parametrize("fail", [False, True])
def test_onexit_runs_the_hooks_of_the_outcome(tmp_path: Path, fail: bool) -> None:
    write_hooked(tmp_path)
    run, _ = run_compiled(tmp_path / "hooked_flow.py", tmp_path, parameters={"fail": str(fail).lower()})
    assert run.phase == (FAILED if fail else SUCCEEDED), failure_report(run)
    handler = run.find("onExit")
    assert [n.phase for n in handler] == [SUCCEEDED]
    assert "exit hook broken_hook failed" in handler[0].stderr
    assert hook_log(tmp_path) == expected_hooks("HookedFlow/argo-run", not fail)
    assert recorded_hooks(tmp_path / "datastore", "argo-run") == expected_record(not fail)
