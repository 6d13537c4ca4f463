"""Flow sources: the corpus of bad files, then generated damage to every example and shape flow
(bytes inserted, deleted, duplicated; deep nesting spliced in; names made odd), through
``flowc ir`` in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.cli import main
from tests.conftest import EXAMPLES, SHAPES
from tests.fuzz.checks import COUNTS, SHARES, assert_clean_failure, time_limit
from tests.fuzz.conftest import CORPUS

BAD_FILES = sorted((CORPUS / "flows").glob("*.pysrc"))
SOURCES = [p.read_bytes() for p in sorted(EXAMPLES.glob("*.py")) + sorted(SHAPES.glob("*.py"))]
SPLICES = [b"[" * 400, b"(" * 3000, b"+1" * 5000, b"-" * 3000, b"lambda: " * 500, b"not " * 2000,
           b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\t", b"\r", b"\\", b'"""', b"'", b"}}{{", b"self.next(",
           b"@step\n", b"    " * 120, b"\n" * 3, b"class X(FlowSpec):\n", b"\xef\xbb\xbf", b"$(HOME)"]


def compile_bytes(data: bytes, path: Path, suite: str, case: object) -> int:
    path.write_bytes(data)
    with time_limit():
        result = CliRunner().invoke(main, ["ir", str(path)])
    assert_clean_failure(result.exit_code, result.stderr, result.exception, case, suite)
    return result.exit_code


@pytest.mark.parametrize("bad", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_corpus_flow_files(bad, tmp_path):
    assert compile_bytes(bad.read_bytes(), tmp_path / "flow.py", "flows-corpus", bad.name) == 1


@st.composite
def damaged_sources(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "splice", "duplicate", "truncate"]))
        if kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif kind == "splice":
            data[at:at] = draw(st.sampled_from(SPLICES))
        elif kind == "duplicate":
            data[at:at] = data[max(0, at - 200):at]
        else:
            del data[at:]
    return bytes(data)


@settings(settings.get_profile("fuzz"), max_examples=300)
@given(source=damaged_sources())
def damaged_flows(source, directory):
    if compile_bytes(source, directory / "flow.py", "flows-generated", source[:200]) == 0:
        # still a flow: every target must emit it or refuse it in diagnostics
        with time_limit():
            result = CliRunner().invoke(main, ["compile", str(directory / "flow.py"), "--target", "all",
                                               "--output-dir", str(directory / "out")])
        assert_clean_failure(result.exit_code, result.stderr, result.exception, source[:200], "emit")


def test_damaged_flows(sandbox):
    before = COUNTS.get("flows-generated", 0)
    damaged_flows(directory=Path(sandbox["root"]))  # under the sandbox's pyproject.toml
    assert COUNTS["flows-generated"] - before >= SHARES["flows-generated"]  # most are bad
