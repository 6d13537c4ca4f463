"""Mistakes that used to compile and fail at run time (issue 16): each is now one error at the
line of the mistake, with nothing written, or a precise warning where flowc cannot tell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file
from tests.conftest import ROOT
from tests.frontend.helpers import LINEAR_END, compile_text, flow_with

INVALID = ROOT / "tests" / "frontend" / "invalid"


@pytest.mark.parametrize("case, line, code, message", [
    ("undefined_decorator.py", 15, "FLOW063", "decorator @retyr is not defined"),
    ("foreach_attribute_typo.py", 11, "FLOW024", "step 'start' has foreach='itms', but no step up to it "
                                                 "assigns self.itms"),
    ("join_without_inputs.py", 17, "FLOW034", "step 'join' looks like the join of the split at 'start' "
                                              "but takes no inputs"),
])
def test_mistake_is_one_error_at_its_line_and_nothing_is_written(tmp_path: Path, case: str, line: int,
                                                                 code: str, message: str):
    flow = tmp_path / "flow.py"
    flow.write_text((INVALID / case).read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", str(flow), "--target", "argo",
                           "--output-dir", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    errors = [l for l in done.stderr.splitlines() if ": error: " in l]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"{flow}:{line}:") and errors[0].endswith(f"[{code}]")
    assert message in errors[0]
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_undefined_decorator_suggests_the_flowc_decorator():
    with pytest.raises(CompileError) as info:
        compile_file(INVALID / "undefined_decorator.py")
    (error,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert error.hint == "did you mean '@retry'? (and import it)"
    # the warning for the same decorator is superseded, the other two stay
    assert [d.span.line for d in info.value.diagnostics if d.code == "FLOW052"] == [20, 21]


def test_star_import_makes_an_unknown_name_only_a_warning():
    result = compile_text(flow_with("""
        @retyr(times=2)
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, header="from metaflow import FlowSpec, step\nfrom helpers import *"))
    assert [(d.code, d.severity, d.span.line) for d in result.diagnostics] == [("FLOW052", "warning", 6)]


def test_class_level_decorator_name_is_defined():
    result = compile_text(flow_with("""
        @timing
        @step
        def start(self):
            self.next(self.end)
    """ + LINEAR_END, extra="timing = staticmethod(lambda f: f)"))
    assert [d.code for d in result.diagnostics] == ["FLOW052"]


FOREACH_HIDDEN = """
        @step
        def start(self):
            {setter}
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
""" + LINEAR_END


@pytest.mark.parametrize("setter, why", [
    ('setattr(self, "items", [1, 2])', "setattr(self, ...)"),
    ("self.prepare()", "self.prepare(...)"),
    ('self.__dict__["items"] = [1]', "self.__dict__"),
])
def test_foreach_attribute_set_where_flowc_cannot_see_is_a_warning(setter: str, why: str):
    result = compile_text(flow_with(FOREACH_HIDDEN.replace("{setter}", setter)))
    (warning,) = result.diagnostics
    assert (warning.code, warning.severity, warning.span.line) == ("FLOW025", "warning", 8)
    assert warning.message == ("step 'start' has foreach='items', but no step up to it visibly assigns "
                               f"self.items ({why} may)")


@pytest.mark.parametrize("setter, extra", [
    ("self.items = [1, 2]", ""),
    ("self.a, (self.items, self.b) = 1, ([2], 3)", ""),
    ("for self.items in [[1], [2]]: pass", ""),
    ("pass", "items = [1, 2]"),
    ("pass", 'items = Parameter("items", default="1,2")'),
])
def test_foreach_attribute_visibly_set_is_silent(setter: str, extra: str):
    header = "from metaflow import FlowSpec, Parameter, step"
    result = compile_text(flow_with(FOREACH_HIDDEN.replace("{setter}", setter), header=header, extra=extra))
    assert result.diagnostics == ()


def test_foreach_attribute_from_an_earlier_step_is_silent():
    result = compile_text(flow_with("""
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.middle)

        @step
        def middle(self):
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)
    """ + LINEAR_END))
    assert result.diagnostics == ()


def test_foreach_attribute_from_a_base_class_elsewhere_is_a_warning():
    source = flow_with(FOREACH_HIDDEN.replace("{setter}", "pass"),
                       header="from metaflow import FlowSpec, step\nfrom common import ItemsMixin")
    source = source.replace("class TestFlow(FlowSpec):", "class TestFlow(FlowSpec, ItemsMixin):")
    (warning,) = compile_text(source).diagnostics
    assert warning.code == "FLOW025"
    assert warning.message.endswith("self.items (base class ItemsMixin may)")


def test_foreach_over_a_local_variable_says_so():
    source = flow_with(FOREACH_HIDDEN.replace("{setter}", "items = [1, 2]"))
    with pytest.raises(CompileError) as info:
        compile_text(source)
    (error,) = info.value.diagnostics
    assert (error.code, error.span.line) == ("FLOW024", 8)
    assert error.hint == "'items' is a local variable of 'start': assign self.items instead"
