"""The engine-independent parts of deploy: redaction, run ids, the status table."""

from __future__ import annotations

import re

from flowc.deploy.base import RunInfo, format_runs, new_run_id, redact


def test_redact_hides_credentials_and_keeps_one_line():
    text = ("POST https://admin:s3cr3t@airflow.example.com/api failed\n"
            "Authorization: Bearer abc.def-ghi token=xyz123 key AKIAABCDEFGHIJKLMNOP "
            "jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    out = redact(text)
    assert out == ("POST https://***@airflow.example.com/api failed Authorization: Bearer *** "
                   "token=*** key *** jwt ***")
    assert redact("x" * 1000).endswith("...") and len(redact("x" * 1000)) == 400


def test_run_ids_sort_by_time_and_are_valid_names():
    run_id = new_run_id("sfn")
    assert re.fullmatch(r"sfn-\d{14}-[0-9a-f]{6}", run_id)
    assert new_run_id("sfn") != run_id


def test_status_table():
    runs = [RunInfo("argo-1", "succeeded", "Succeeded", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"),
            RunInfo("a", "running")]
    assert format_runs(runs) == (
        "RUN ID  STATUS     STARTED               FINISHED\n"
        "argo-1  succeeded  2026-01-01T00:00:00Z  2026-01-01T00:01:00Z\n"
        "a       running    -                     -\n")
    assert format_runs([]) == "no runs yet\n"
