"""Command lines: the corpus of bad invocations, then generated ones, in process (CliRunner)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.cli import main
from tests.fuzz.checks import COUNTS, SHARES, assert_clean_failure, time_limit
from tests.fuzz.conftest import CORPUS

CASES = json.loads((CORPUS / "arguments.json").read_text(encoding="utf-8"))
COMMANDS = ["compile", "ir", "graph", "explain", "show", "logs", "resume", "run", "deploy",
            "trigger", "status", "package", "targets"]
FLAGS = ["--target", "-t", "-o", "--output-dir", "--check", "--flow", "--format", "--set",
         "--param", "--max-workers", "--datastore", "--argo-version", "--sfn-format", "--limit",
         "--timeout", "--attempt", "--stderr", "--step", "--image", "--namespace", "--help"]
VALUES = ["", "-", "0", "-1", "all", "argo", "sfn,airflow", "=", "a=b", "x}}{{y", "../../etc/passwd",
          "s3://", "s3://bucket/../x", "http://[::1", "\u00e9\u00e8", "a" * 300, "{fifo}", "{dir}",
          "{file}", "{binary}", "/dev/zero", "/dev/full", "/nonexistent/x", "F/1/s/t"]


def invoke(argv: list[str], sandbox: dict[str, str], suite: str) -> None:
    for name, path in sandbox.items():
        argv = [arg.replace("{" + name + "}", path) for arg in argv]
    with time_limit():
        result = CliRunner().invoke(main, argv)
    assert_clean_failure(result.exit_code, result.stderr, result.exception, argv, suite)


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c)[:60] for c in CASES])
def test_corpus_command_lines(argv, sandbox):
    before = COUNTS.get("cli-corpus", 0)
    invoke(argv, sandbox, "cli-corpus")
    assert COUNTS.get("cli-corpus", 0) == before + 1, f"{argv} succeeded; the corpus holds bad inputs"


command_lines = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES),
                       st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                max_size=12)),
             max_size=5),
).map(lambda t: [t[0], *t[1]])


@settings(settings.get_profile("fuzz"), max_examples=200)
@given(argv=command_lines)
def generated_command_lines(argv, sandbox):
    invoke(argv, sandbox, "cli-generated")


def test_generated_command_lines(sandbox):
    before = COUNTS.get("cli-generated", 0)
    generated_command_lines(sandbox=sandbox)
    assert COUNTS["cli-generated"] - before >= SHARES["cli-generated"]  # most are bad
