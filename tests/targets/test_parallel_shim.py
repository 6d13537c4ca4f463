"""The shim's side of @parallel on engines: a gang member started with its gang's index path and
its place in the environment (a JobSet's pod, a Batch multi-node job's node) writes the task
``flowc run`` writes, so the join and every artifact come out the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowc.runtime_shim import gang
from tests.conftest import ROOT
from tests.harness.artifacts import run_locally, snapshot
from tests.targets.parallel_checks import run_gang_like_an_engine, without_main_ip

FLOW = ROOT / "tests" / "targets" / "parallel_flows" / "gang.py"


def jobset_env(node: int, nodes: int) -> dict[str, str]:
    """What the JobSet's pods get (argo_jobset): the global job index, the size, the DNS name."""
    return {"FLOWC_PARALLEL_NODE_INDEX": str(node), "FLOWC_PARALLEL_NUM_NODES": str(nodes),
            "FLOWC_PARALLEL_MAIN_IP": "gangflow-x-control-0-0.gangflow-x"}


def batch_env(node: int, nodes: int) -> dict[str, str]:
    """What AWS Batch gives each node of a multi-node job (the main node's address to the others)."""
    env = {"AWS_BATCH_JOB_NODE_INDEX": str(node), "AWS_BATCH_JOB_NUM_NODES": str(nodes),
           "AWS_BATCH_JOB_MAIN_NODE_INDEX": "0"}
    if node:
        env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] = "10.0.0.7"
    return env


@pytest.mark.parametrize("engine,member_env,main_ips", [
    ("jobset", jobset_env, {"gangflow-x-control-0-0.gangflow-x"}),
    ("batch", batch_env, {"10.0.0.7", gang._own_address()}),
])
def test_engine_gang_writes_what_flowc_run_writes(engine, member_env, main_ips, tmp_path: Path) -> None:
    local = tmp_path / "local"
    engine_dir = tmp_path / engine
    engine_dir.mkdir()
    local_run = run_locally(FLOW, local, params={"nodes": "3"})
    members, run_id = run_gang_like_an_engine(FLOW, engine_dir, 3, member_env)
    assert [m.returncode for m in members] == [0, 0, 0], [m.stderr for m in members]
    expected = snapshot(local / "datastore", "GangFlow", local_run)
    got = snapshot(engine_dir / "datastore", "GangFlow", run_id)
    assert sorted(got["train"]) == ["t_0", "t_1", "t_2"]
    assert without_main_ip(got) == without_main_ip(expected)
    assert got["join"]["t"]["ranks"] == [0, 1, 2] and got["join"]["t"]["sizes"] == [3]
    assert {values["control"] for values in got["train"].values()} == {"t_0"}  # node 0, as in Metaflow
    assert {values["main"] for values in got["train"].values()} <= main_ips
    assert {values["main"] for values in expected["train"].values()} == {"127.0.0.1"}


def test_batch_main_node_fails_when_a_member_fails(tmp_path: Path) -> None:
    """A multi-node job ends with its main node: node 0 waits for the others and fails with them."""
    members, _ = run_gang_like_an_engine(FLOW, tmp_path, 3, batch_env, params={"fail_rank": "2"})
    codes = [m.returncode for m in members]
    assert codes == [1, 0, 1], [m.stderr for m in members]
    assert "gang member GangFlow/engine-run/train/t_2 failed" in members[0].stderr


def test_jobset_member_does_not_wait(tmp_path: Path) -> None:
    """A JobSet waits for all its jobs itself: node 0 succeeds on its own task."""
    members, _ = run_gang_like_an_engine(FLOW, tmp_path, 2, jobset_env, params={"fail_rank": "1"})
    assert [m.returncode for m in members] == [0, 1]


@pytest.mark.parametrize("environ,expected", [
    ({}, None),
    (jobset_env(2, 4), gang.GangMember(4, 2, "gangflow-x-control-0-0.gangflow-x")),
    (batch_env(0, 2), gang.GangMember(2, 0, gang._own_address(), waits_for_members=True)),
    (batch_env(1, 2), gang.GangMember(2, 1, "10.0.0.7")),
])
def test_gang_member_from_the_environment(environ, expected) -> None:
    assert gang.gang_member(environ) == expected


@pytest.mark.parametrize("environ,message", [
    (jobset_env(4, 4), "outside a gang of 4"),
    ({**jobset_env(0, 2), "FLOWC_PARALLEL_NUM_NODES": "x"}, "FLOWC_PARALLEL_NUM_NODES must be"),
    ({**batch_env(1, 2), "AWS_BATCH_JOB_MAIN_NODE_INDEX": "1"}, "control task at node 0"),
])
def test_bad_gang_environment_is_one_line_error(environ, message) -> None:
    with pytest.raises(ValueError, match=message):
        gang.gang_member(environ)


def test_main_node_reports_a_member_that_never_started(tmp_path: Path) -> None:
    """On Batch a node that dies before the shim records its attempt would leave node 0 waiting
    forever: after the start timeout it fails instead (a fake clock: no real waiting)."""
    from flowc.runtime_shim.datastore import TaskKey, open_datastore

    store = open_datastore(str(tmp_path))
    key = TaskKey("GangFlow", "r1", "train", "t_0")
    store.write_attempt(TaskKey("GangFlow", "r1", "train", "t_1"), 0, {"status": "running"})
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    error = gang.wait_for_members(store, key, (0,), 0, 0, 3, poll_seconds=30, start_timeout=100,
                                  sleep=sleep, clock=lambda: now[0])
    assert error == "gang member GangFlow/r1/train/t_2 did not start within 100 s"
    store.write_done(TaskKey("GangFlow", "r1", "train", "t_2"), {"artifacts": {}})
    store.write_attempt(TaskKey("GangFlow", "r1", "train", "t_1"), 0, {"status": "failed", "error": "boom"})
    assert gang.wait_for_members(store, key, (0,), 0, 0, 3, sleep=sleep, clock=lambda: now[0]) == \
        "gang member GangFlow/r1/train/t_1 failed: boom"
