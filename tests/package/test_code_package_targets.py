"""Every target starts its tasks through the code-package bootstrap when --code-package is set,
and through the baked-in code otherwise (one builder, common.task_argv, serves all three)."""

from __future__ import annotations

import pytest

from flowc.compiler import compile_file
from flowc.plan import build as build_plan
from flowc.targets import get_target, target_names
from tests.conftest import ROOT, target_settings

PACKAGE = "s3://bucket/pkgs/foreach-" + "ab" * 32 + ".tar.gz"


@pytest.mark.parametrize("target", target_names())
def test_tasks_fetch_and_verify_the_code_package(target):
    flow = compile_file(ROOT / "tests" / "flows" / "foreach.py").flow
    baked = get_target(target).emit(build_plan(flow), target_settings(airflow_operator="local")).text
    packaged = get_target(target).emit(
        build_plan(flow), target_settings(airflow_operator="local", code_package=PACKAGE)).text
    assert "FLOWC_BOOTSTRAP" not in baked
    assert "/app/" in baked
    assert "exec(os.environ[" in packaged and PACKAGE in packaged
    assert "def fetch(url: str) -> bytes:" in packaged  # the bootstrap's code rides in the spec
    assert "/app/" not in packaged  # the flow file is found inside the extracted package
