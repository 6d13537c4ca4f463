"""The engine-independent parts of deploy: redaction and the status table."""

from __future__ import annotations

from flowc.deploy.base import RunInfo, format_runs, redact


def test_redact_hides_credentials_and_keeps_one_line():
    text = ("POST https://admin:s3cr3t@airflow.example.com/api failed\n"
            "Authorization: Bearer abc.def-ghi token=xyz123 key AKIAABCDEFGHIJKLMNOP "
            "jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    out = redact(text)
    assert out == ("POST https://***@airflow.example.com/api failed Authorization: Bearer *** "
                   "token=*** key *** jwt ***")
    assert redact("x" * 1000).endswith("...") and len(redact("x" * 1000)) == 400


def test_status_table():
    runs = [RunInfo("argo-1", "succeeded", "Succeeded", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"),
            RunInfo("a", "running")]
    assert format_runs(runs) == (
        "RUN ID  STATUS     STARTED               FINISHED\n"
        "argo-1  succeeded  2026-01-01T00:00:00Z  2026-01-01T00:01:00Z\n"
        "a       running    -                     -\n")
    assert format_runs([]) == "no runs yet\n"
