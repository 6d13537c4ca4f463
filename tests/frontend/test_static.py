"""Static pieces of the front end: positions, constant evaluation, cron, quantities, and the
guarantee that compiling never runs the flow's code."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from flowc.compiler import compile_file, cron, quantities
from flowc.compiler.positions import FastPositionProvider
from flowc.compiler.values import NotStatic, collect_constants, evaluate
from tests.conftest import ROOT, example_flows, shape_flows


@pytest.mark.parametrize("path", example_flows() + shape_flows() + sorted((ROOT / "tests" / "frontend" / "invalid").glob("m*.py")), ids=lambda p: p.stem)
def test_fast_positions_equal_libcst_positions(path):
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    reference = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    fast = MetadataWrapper(module, unsafe_skip_copy=True).resolve(FastPositionProvider)
    assert len(fast) == len(reference)
    for node, where in reference.items():
        assert fast[node] == (where.start.line, where.start.column, where.end.line, where.end.column)


def _expr(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


@pytest.mark.parametrize("text,value", [
    ("3", 3), ("-2.5", -2.5), ("'a' 'b'", "ab"), ("f'x{{y}}'", "x{y}"), ("60 * 60", 3600),
    ("[1, (2, 3)]", (1, (2, 3))), ("{'a': [1], 'b': None}", (("a", (1,)), ("b", None))),
    ("True", True), ("'ab' + 'c'", "abc"), ("{3, 1}", (1, 3)), ("2 ** 10", 1024), ("7 // 2", 3),
])
def test_static_values(text, value):
    assert evaluate(_expr(text), {}) == value


@pytest.mark.parametrize("text", ["f(1)", "x", "self.a", "f'{x}'", "[*a]", "{**a}", "1 / 0", "'a' * 3",
                                  "2 ** 1000", "lambda: 1", "a if b else c"])
def test_non_static_values(text):
    with pytest.raises(NotStatic):
        evaluate(_expr(text), {})


def test_constants_follow_bindings():
    module = cst.parse_module("A = 1\nB = A + 1\nC = 1\nC = 2\nD: int = 4\nE, F = 1, 2\nif x:\n    G = 1\n"
                              "import H\nI = f()\n")
    assert collect_constants(module) == {"A": 1, "B": 2, "D": 4}


@pytest.mark.parametrize("expression", ["0 * * * *", "*/15 9-17 * * MON-FRI", "0 0 1,15 JAN,JUL *",
                                        "@daily", "0 12 * * ? *", "0/5 8 ? * MON-FRI 2030", "0 10 L * ? *",
                                        "0 10 ? * 6#3 *"])
def test_valid_cron(expression):
    assert cron.check(expression) is None


@pytest.mark.parametrize("expression,problem", [
    ("60 * * * *", "outside 0-59"), ("* * *", "expected 5 fields"), ("0 0 0 * *", "outside 1-31"),
    ("0 0 * 13 *", "outside 1-12"), ("0 0 * * FUNDAY", "not a number"), ("5-1 * * * *", "backwards"),
    ("*/0 * * * *", "at least 1"), ("@sometimes", "unknown cron macro"),
    ("0 12 * * MON *", "exactly one"), ("0 12 ? * MON 1900", "outside 1970-2199"),
])
def test_invalid_cron(expression, problem):
    assert problem in cron.check(expression)


def test_quantities():
    assert quantities.cpu_cores("500m") == 0.5 and quantities.cpu_cores(2) == 2.0
    assert quantities.mebibytes("4Gi") == 4096 and quantities.mebibytes(512) == 512
    assert quantities.mebibytes("1G") == 953 and quantities.mebibytes("4096") == 4096
    for bad in ("4GB", "-1", "0", "10m"):
        with pytest.raises(quantities.QuantityError):
            quantities.mebibytes(bad)
    with pytest.raises(quantities.QuantityError):
        quantities.cpu_cores("2Gi")


def test_compiling_never_runs_the_module(tmp_path):
    marker = tmp_path / "side_effect.txt"
    flow = tmp_path / "effects.py"
    flow.write_text(f'''
import sys
from metaflow import FlowSpec, Parameter, step

open({str(marker)!r}, "w").write("ran")
sys.exit(3)
raise RuntimeError("module body executed")


class EffectFlow(FlowSpec):
    when = Parameter("when", default=open({str(marker)!r}, "w").write("default ran"))
    open({str(marker)!r}, "w").write("class body ran")

    @step
    def start(self):
        open({str(marker)!r}, "w").write("step ran")
        self.next(self.end)

    @step
    def end(self):
        pass
''', encoding="utf-8")
    result = compile_file(flow)
    assert result.flow.name == "EffectFlow"
    assert result.flow.parameters[0].default_kind == "runtime"
    assert not marker.exists()


def test_ir_side_of_the_compiler_is_standard_library_only():
    """The runtime shim imports these; containers do not install libcst or jinja2."""
    import subprocess
    import sys

    code = ("import sys\nimport flowc.compiler, flowc.compiler.ir, flowc.compiler.graph, flowc.compiler.render, "
            "flowc.compiler.cron, flowc.compiler.quantities, flowc.compiler.diagnostics\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('libcst', 'jinja2', 'click', 'yaml'))\n"
            "print(','.join(heavy))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
