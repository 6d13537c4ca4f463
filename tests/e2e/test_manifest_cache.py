"""Re-running an unchanged flow reuses its compiled manifest; any edit recompiles."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import flowc.compiler
from flowc.local.api import run_flow

FLOW = '''
    from flowc import FlowSpec, step


    def mystery(func):
        return func


    class CachedFlow(FlowSpec):
        @mystery
        @step
        def start(self):
            self.value = {value}
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def _run(path: Path, tmp_path: Path) -> str:
    out = io.StringIO()
    result = run_flow(path, datastore=str(tmp_path / "ds"), stream=out, live=False)
    assert result.status == "succeeded", out.getvalue()
    return out.getvalue()


def test_unchanged_flow_skips_the_front_end(write_flow, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_flow("cached_flow", FLOW.format(value=1))
    first = _run(path, tmp_path)
    assert len(list((tmp_path / "ds" / ".manifests").glob("*.json"))) == 1

    def no_compiling(*args, **kwargs):
        raise AssertionError("the front end ran for an unchanged flow")

    monkeypatch.setattr(flowc.compiler, "compile_file", no_compiling)
    second = _run(path, tmp_path)
    warning = "warning: unknown decorator @mystery"
    assert warning in first and warning in second  # warnings are shown again from the cache

    path.write_text(path.read_text().replace("self.value = 1", "self.value = 2"))
    with pytest.raises(AssertionError, match="the front end ran"):
        _run(path, tmp_path)
