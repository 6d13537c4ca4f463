"""Batch array jobs on the moto harness: every child runs with its AWS_BATCH_JOB_ARRAY_INDEX, the
parent ends by its children (moto marked it SUCCEEDED at submit time, before any child ran), and
a child the harness did not run fails the execution loudly."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.harness import moto_sfn
from tests.harness.moto_sfn import MotoSfn

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def array_machine(aws: MotoSfn, size: int, script: str) -> dict:
    return {"StartAt": "fan", "States": {"fan": {
        "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
        "Parameters": {"JobName": "fan", "JobQueue": aws.job_queue, "JobDefinition": aws.job_definition,
                       "ArrayProperties": {"Size": size},
                       "ContainerOverrides": {"Command": ["sh", "-c", script]}},
        "ResultPath": None, "End": True}}}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory):
    with MotoSfn(tmp_path_factory.mktemp("sfn-array"), max_processes=3) as harness:
        yield harness


def test_every_child_runs_with_its_index(aws: MotoSfn, tmp_path: Path):
    out = tmp_path / "children"
    out.mkdir()
    result = aws.run(array_machine(aws, 3, f'sleep 0.5; echo ran > {out}/"$AWS_BATCH_JOB_ARRAY_INDEX"'))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert sorted(p.name for p in out.iterdir()) == ["0", "1", "2"]
    parent = [job for job in result.jobs if job["array_size"] == 3]
    assert len(parent) == 1 and parent[0]["seconds"] >= 0.5  # it waited for its children


def test_a_failing_child_fails_the_parent(aws: MotoSfn):
    result = aws.run(array_machine(aws, 3, 'test "$AWS_BATCH_JOB_ARRAY_INDEX" != 1'))
    assert result.status == "FAILED"
    codes = sorted((job["array_index"], job["exit_code"]) for job in result.jobs
                   if job["array_index"] is not None)
    assert codes == [(0, 0), (1, 1), (2, 0)]


def test_a_child_the_harness_did_not_run_is_loud(aws: MotoSfn, monkeypatch):
    """As if moto's backend marked children done itself (what batch_simple does unpatched)."""
    runner = aws.runner
    monkeypatch.setattr(runner, "start", lambda job: job._mark_stopped(success=True))
    with pytest.raises(AssertionError, match="children expected, 0 run by the harness"):
        aws.run(array_machine(aws, 2, "true"), timeout=60)
    runner.errors.clear()
