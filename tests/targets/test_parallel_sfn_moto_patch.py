"""The moto harness's ``node_overrides`` patch is needed (a module of its own: patches stay
installed while any harness is open, so this cannot share a module-scoped one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.targets.parallel_checks import MULTINODE_DEFINITION, deploy_gang_flow


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_without_the_node_overrides_patch_moto_runs_the_definitions_nodes(tmp_path: Path) -> None:
    """Without it moto drops NodeOverrides: the definition's two nodes run its placeholder
    command instead of the gang of three, and the execution fails."""
    from tests.harness.moto_sfn import MotoSfn

    with MotoSfn(tmp_path, max_processes=2, without=("node_overrides",)) as harness:
        harness.register_multinode_job_definition(MULTINODE_DEFINITION)
        _, text = deploy_gang_flow(harness)
        result = harness.run(text, {"nodes": "3"}, timeout=240)
    assert result.status == "FAILED"
    (gang,) = [j for j in result.jobs if j["name"] == "GangFlow-train"]
    assert gang["command"] == ["false"]
