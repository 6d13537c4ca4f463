"""Sources libcst cannot parse safely get FLOW007, never a RecursionError, a SIGSEGV or minutes of
parsing; parameter names no engine can carry get FLOW076."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main
from flowc.compiler import CompileError, compile_source

STEPS = '''
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def flow_with(expression: str) -> str:
    return f"from metaflow import FlowSpec, Parameter, step\nX = {expression}\n{STEPS}"


DEEP = {
    "nested lists": lambda n: "[" * n + "]" * n,
    "nested parentheses": lambda n: "(" * n + "1" + ")" * n,
    "sum": lambda n: "+".join(["1"] * n),
    "unary minus": lambda n: "-" * n + "1",
    "attribute chain": lambda n: "a" + ".b" * n,
    "conditional chain": lambda n: "1 if x else " * n + "1",
    "lambda chain": lambda n: "lambda: " * n + "1",
    "call chain": lambda n: "f" + "(x)" * n,
    "boolean chain": lambda n: " and ".join(["x"] * n),
    "implicit concatenation": lambda n: "(" + " ".join(["'a'"] * n) + ")",
}


def codes_of(source: str) -> list[str]:
    try:
        compile_source(source, "flow.py")
    except CompileError as error:
        return [d.code for d in error.diagnostics]
    return []


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deep_expressions_are_refused_before_parsing(kind):
    """500 deep raised RecursionError from libcst's passes before the guard existed."""
    assert codes_of(flow_with(DEEP[kind](500))) == ["FLOW007"]


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_ordinary_nesting_still_compiles(kind):
    assert codes_of(flow_with(DEEP[kind](60))) == []


def test_long_flat_literals_are_not_nesting():
    """A 2,000-element list or a dict of tuples is wide, not deep: commas reset the estimate."""
    assert codes_of(flow_with("[" + ", ".join(["-1"] * 2000) + "]")) == []
    assert codes_of(flow_with("{" + ", ".join(f"'k{i}': (1, 2)" for i in range(500)) + "}")) == []


def test_the_diagnostic_points_at_the_expression(tmp_path: Path):
    path = tmp_path / "flow.py"
    path.write_text(flow_with(DEEP["sum"](20000)), encoding="utf-8")
    result = CliRunner().invoke(main, ["ir", str(path)])
    assert result.exit_code == 1
    first, shown = result.stderr.splitlines()[:2]
    assert first.startswith(f"{path}:2:") and first.endswith("[FLOW007]")
    assert len(shown) < 140  # the 40,000-character line is clipped around the column


@pytest.mark.parametrize("kind,size", [("nested lists", 2000), ("sum", 20000), ("unary minus", 20000)])
def test_the_process_survives(tmp_path: Path, kind, size):
    """In a real process: these ended in SIGSEGV (exit 139) or parsed for minutes."""
    path = tmp_path / "flow.py"
    path.write_text(flow_with(DEEP[kind](size)), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "ir", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "[FLOW007]" in done.stderr.splitlines()[0] and "Traceback" not in done.stderr


def test_recursion_error_anywhere_is_a_diagnostic():
    """The guard's bound assumes a shallow caller; a caller already deep in its stack gets FLOW007
    from whichever pass overflows, not a RecursionError."""
    source = flow_with(DEEP["sum"](150))
    limit = sys.getrecursionlimit()

    def nested(depth: int) -> list[str]:
        return nested(depth - 1) if depth else codes_of(source)

    assert nested(limit - 250) == ["FLOW007"]


def test_oversized_source_is_refused():
    from flowc.compiler.guard import MAX_SOURCE_CHARS

    assert codes_of(flow_with("1") + "#" * MAX_SOURCE_CHARS) == ["FLOW007"]


@pytest.mark.parametrize("name", ["a}}{{b", "x=y", "a b", "1st", "é", "a.b", "", "a\nb", "{{x}}"])
def test_parameter_names_no_engine_can_carry_are_errors(name):
    source = flow_with("1").replace("class F(FlowSpec):\n",
                                    f"class F(FlowSpec):\n    p = Parameter({name!r}, default=1)\n")
    codes = codes_of(source)
    assert "FLOW076" in codes or (not name and "FLOW072" in codes)


@pytest.mark.parametrize("name", ["alpha", "alpha_beta", "alpha-beta", "_private", "A1"])
def test_metaflow_parameter_names_compile(name):
    source = flow_with("1").replace("class F(FlowSpec):\n",
                                    f"class F(FlowSpec):\n    p = Parameter({name!r}, default=1)\n")
    assert codes_of(source) == []
