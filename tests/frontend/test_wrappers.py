"""A project decorator that applies a Metaflow decorator conditionally
(``@enable_decorator(retry(times=3), flag=os.getenv(...))``): flowc runs only that function, in
isolation, to learn whether it applies, and the wrapped decorator reaches the spec or is left out;
when that cannot be known the flow is refused naming both decorators, never silently changed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowc.compiler import CompileError, compile_file, ir
from flowc.compiler.options import CompileOptions, using
from tests.frontend.helpers import emit

HELPERS = '''
from pathlib import Path

Path("helpers_body_ran.txt").write_text("ran")  # must never run at compile time


def enable_decorator(dec, flag=True):
    """Apply dec when flag, read as an integer, is non-zero (a common public helper)."""
    try:
        flag = bool(int(flag))
    except Exception:
        flag = False

    def decorator(func):
        if flag:
            return dec(func)
        return func
    return decorator


def truthy_decorator(dec, flag=True):
    """The other common spelling: any non-empty flag applies (so "0" does)."""
    def decorator(func):
        return dec(func) if flag else func
    return decorator


def broken_decorator(dec, flag=True):
    raise RuntimeError("no")
'''

FLOW = '''
import os
from metaflow import FlowSpec, step, retry, resources
from {module} import {wrapper}


class WrappedFlow(FlowSpec):
    @{wrapper}(retry(times=3), flag={flag})
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def write(tmp_path: Path, flag: str = 'os.getenv("USE_RETRY", "0")', wrapper: str = "enable_decorator",
          module: str = "helpers") -> Path:
    (tmp_path / "helpers.py").write_text(textwrap.dedent(HELPERS))
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(flag=flag, wrapper=wrapper, module=module))
    return flow


def refused(path: Path, **options) -> list[tuple[str, str]]:
    with using(CompileOptions(**options)), pytest.raises(CompileError) as info:
        compile_file(path)
    return [(d.code, d.message) for d in info.value.diagnostics]


def test_a_wrapper_that_applies_puts_the_decorator_in_every_spec(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USE_RETRY", "1")
    flow = compile_file(write(tmp_path)).flow
    assert flow.step("start").decorator(ir.Retry).times == 3
    assert ir.Evaluated("wrapper", "enable_decorator", "applies @retry",
                        flow.step("start").decorator(ir.Retry).span) in flow.evaluated
    assert "retryStrategy:\n      limit: 3\n" in emit("argo", flow).text
    assert '"MaxAttempts": 3,' in emit("sfn", flow).text
    assert "retries=3," in emit("airflow", flow).text
    assert not (tmp_path / "helpers_body_ran.txt").exists()  # only the function ran


def test_a_wrapper_that_does_not_apply_leaves_the_decorator_out(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USE_RETRY", "0")
    flow = compile_file(write(tmp_path)).flow
    assert flow.step("start").decorators == ()
    assert [(e.kind, e.detail) for e in flow.evaluated if e.kind == "wrapper"] == [
        ("wrapper", "does not apply @retry")]


def test_the_wrappers_own_code_decides(tmp_path, monkeypatch) -> None:
    """``"0"`` is truthy for a wrapper testing ``if flag:``: flowc follows the code, not a guess."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USE_RETRY", "0")
    flow = compile_file(write(tmp_path, wrapper="truthy_decorator")).flow
    assert flow.step("start").decorator(ir.Retry).times == 3


def test_a_wrapper_from_outside_the_project_is_refused_naming_both(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert refused(write(tmp_path, module="somewhere_else")) == [
        ("FLOW088", "@enable_decorator may apply @retry, but flowc cannot tell whether it does: it is not "
                    "a function defined in the flow's project")]


def test_a_condition_known_only_at_run_time_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    [(code, message)] = refused(write(tmp_path, flag="compute_flag()"))
    assert code == "FLOW088" and "@enable_decorator may apply @retry" in message


def test_refused_evaluation_names_the_wrapper(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert refused(write(tmp_path), evaluate_code=False) == [
        ("FLOW082", "@enable_decorator decides at compile time whether @retry applies, which runs its "
                    "code; evaluation is refused")]


def test_a_failing_wrapper_is_reported(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    [(code, message)] = refused(write(tmp_path, wrapper="broken_decorator"))
    assert code == "FLOW083" and message.endswith("failed: RuntimeError: no")
