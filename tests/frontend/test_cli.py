"""The inspection commands and diagnostics as users see them: flowc ir / graph / explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main
from tests.conftest import ROOT

BAD = '''from metaflow import FlowSpec, retry, step


class BadFlow(FlowSpec):
    @retry(tims=2)
    @step
    def start(self):
        self.next(self.jion)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def run(*args: str) -> "Result":
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def bad_flow(tmp_path: Path) -> Path:
    path = tmp_path / "bad.py"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_ir_text_dump(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("ir", "examples/etl.py")
    assert result.exit_code == 0
    assert result.output == (ROOT / "golden/ir/examples/etl.txt").read_text(encoding="utf-8")


def test_ir_json_is_the_manifest(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run("ir", "--json", "examples/etl.py")
    assert result.exit_code == 0
    assert json.loads(result.output)["manifest_version"] == 1
    assert result.output == (ROOT / "golden/ir/examples/etl.json").read_text(encoding="utf-8")


def test_graph_formats(monkeypatch):
    monkeypatch.chdir(ROOT)
    mermaid = run("graph", "examples/quality_gate.py")
    assert mermaid.exit_code == 0 and mermaid.output.startswith("flowchart TD\n")
    assert 'step_score -->|"verdict = pass"| step_publish' in mermaid.output
    dot = run("graph", "examples/quality_gate.py", "--format", "dot")
    assert dot.exit_code == 0 and dot.output.startswith('digraph "QualityGateFlow" {')


def test_errors_text_format(bad_flow):
    result = run("ir", str(bad_flow))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{bad_flow}:5:12: error: @retry has no argument 'tims' [FLOW053]\n"
        "        @retry(tims=2)\n"
        "               ^~~~\n"
        "    hint: did you mean 'times'?\n"
        f"{bad_flow}:8:19: error: step 'start' transitions to unknown step 'jion' [FLOW022]\n"
        "            self.next(self.jion)\n"
        "                      ^~~~~~~~~\n"
        "    hint: did you mean 'join'?\n"
        "Found 2 errors in 1 file\n")


def test_errors_json_format(bad_flow):
    result = run("ir", str(bad_flow), "--format", "json")
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert [(r["line"], r["column"], r["code"], r["severity"]) for r in records] == [
        (5, 12, "FLOW053", "error"), (8, 19, "FLOW022", "error")]
    assert records[1]["hint"] == "did you mean 'join'?"


@pytest.mark.parametrize("content,message,code", [
    (None, "no such file", "FLOW001"),
    (b"\xff\xfe\x00x", "is a binary file", "FLOW002"),
    (b"x = '\xe9'\n", "is not UTF-8", "FLOW002"),
    (b"class A(:\n", "syntax error: invalid syntax", "FLOW003"),
    (b"x = 1if 2 else 3\nclass A(:\n", "syntax error: invalid syntax", "FLOW003"),  # no SyntaxWarning
    (b"import os\n", "no FlowSpec subclass found", "FLOW004"),
])
def test_file_problems_are_one_line(tmp_path, content, message, code):
    path = tmp_path / "flow.py"
    if content is not None:
        path.write_bytes(content)
    result = run("ir", str(path))
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}") and message in first and first.endswith(f"[{code}]")
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr


def test_several_flows_need_flow_option(tmp_path):
    path = tmp_path / "two.py"
    # without its __main__ block (which picks the flow, as in Metaflow: see test_deploy_time_values)
    example = (ROOT / "examples/etl.py").read_text().split('if __name__ == "__main__":')[0]
    path.write_text(example + "\n\nclass Second(EtlFlow):\n    pass\n"
                    + "\n\nclass Third(FlowSpec):\n    pass\n", encoding="utf-8")
    result = run("ir", str(path))
    assert result.exit_code == 1
    assert result.stderr == (f"{path}: error: the file defines several flows (EtlFlow, Second, Third); "
                             "choose one with --flow NAME [FLOW005]\n")
    assert run("ir", str(path), "--flow", "EtlFlow").exit_code == 0
    assert run("ir", str(path), "--flow", "Second").exit_code == 0  # inherits every step


def test_explain():
    result = run("explain", "FLOW022")
    assert result.exit_code == 0
    assert result.output.startswith("FLOW022: transition to an unknown step\n\n")
    listing = run("explain")
    assert "FLOW031  unreachable step" in listing.output
    unknown = run("explain", "FLOW0222")
    assert unknown.exit_code == 1 and "did you mean FLOW022?" in unknown.stderr


def test_cli_process_never_shows_a_traceback(tmp_path):
    """The installed entry point, in a real process: exit status 1 and one clean line."""
    path = tmp_path / "missing.py"
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "ir", str(path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == f"{path}: error: no such file: {path} [FLOW001]\n"
    assert done.stdout == ""


def test_diagnostics_doc_is_generated_from_the_registry():
    from flowc.catalogue import markdown

    assert (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8") == markdown(), (
        "regenerate with: python -m flowc.catalogue > docs/diagnostics.md")


def test_every_front_end_code_is_exercised_by_the_corpus_or_tests():
    """No code is registered without a test that produces it."""
    import re

    from flowc.catalogue import load_all

    texts = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "frontend").rglob("*.py"))
    used = set(re.findall(r"FLOW0\d\d", texts))
    registered = {code for code in load_all() if code.startswith("FLOW0")}
    assert registered - used == set()
