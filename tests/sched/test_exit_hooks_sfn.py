"""@exit_hook on Step Functions, run on moto: the hook job of the execution's outcome runs, the
execution keeps its result (a failed run still ends FAILED, with the step's error), and a
failing hook changes nothing."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from tests.harness.moto_sfn import MotoSfn
from tests.sched.flows import expected_hooks, expected_record, hook_log, write_hooked
from tests.sched.sfn_helpers import deploy, s3_run_record

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory):
    with MotoSfn(tmp_path_factory.mktemp("sfn-hooks"), max_processes=2) as harness:
        yield harness


def test_every_failing_state_is_caught_and_end_goes_on_to_the_hooks(tmp_path: Path, aws: MotoSfn) -> None:
    _, text = deploy(aws, write_hooked(tmp_path))
    states = json.loads(text)["States"]
    assert states["end"]["Next"] == "exit-hooks-on-success" and "End" not in states["end"]
    for name in ("start", "end"):
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                          "Next": "exit-hooks-on-error"}]
    command = states["exit-hooks-on-error"]["Parameters"]["ContainerOverrides"]["Command.$"]
    assert "'--exit-hook', '--status', 'failed', '--run-id', $$.Execution.Name" in command


@pytest.mark.parametrize("fail", [False, True])
def test_the_hooks_of_the_outcome_run_and_the_result_stays(tmp_path: Path, aws: MotoSfn, fail: bool) -> None:
    flow, text = deploy(aws, write_hooked(tmp_path))
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    result = aws.run(text, {"fail": fail}, name=name, timeout=300)
    assert result.status == ("FAILED" if fail else "SUCCEEDED"), (result.error, result.cause)
    if fail:
        assert result.error == "flowc.RunFailed"
        assert "end fails on purpose" in Path(next(
            j for j in result.jobs if j["name"].endswith("-end"))["log"]).read_text()
        cause = json.loads(result.cause)  # the failed Batch job, as the Catch caught it
        assert (cause["JobName"], cause["Status"]) == ("HookedFlow-end", "FAILED")
    hooks = [job for job in result.jobs if "--exit-hook" in job["command"]]
    assert [job["exit_code"] for job in hooks] == [0]
    assert "exit hook broken_hook failed" in Path(hooks[0]["log"]).read_text()
    assert hook_log(tmp_path) == expected_hooks(f"HookedFlow/{name}", not fail)
    assert s3_run_record(aws, flow.name, name)["exit_hooks"] == expected_record(not fail)


def test_the_hooked_machine_passes_the_validators_in_both_formats(tmp_path: Path) -> None:
    """statelint, asl-validator and cfn-lint (whose schema covers the machine's resources)."""
    from tests.sched.flows import HOOKED
    from tests.targets.sfn_helpers import (asl_validator, cfn_definition, cfn_lint, emit_source,
                                           statelint_problems)

    asl = json.loads(emit_source(HOOKED).text)
    template = emit_source(HOOKED, sfn_format="cloudformation").text
    in_stack = cfn_definition(json.loads(template))
    assert in_stack["States"]["end"]["Next"] == "exit-hooks-on-success"
    assert statelint_problems(asl) == [] and statelint_problems(in_stack) == []
    assert asl_validator({"asl": asl, "cfn": in_stack}, tmp_path) == {"asl": [], "cfn": []}
    done = cfn_lint({"hooked": template}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
