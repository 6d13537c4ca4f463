"""Every flow of the shape corpus (tests/flows) under ``flowc run``: the artifacts at the end,
their values and the order joins saw their inputs in, and which tasks ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import shape_flows
from tests.harness import run_locally, snapshot

FLOWS = Path(__file__).resolve().parents[1] / "flows"

# stem -> (flow class, parameters, {"step/task": {artifact: value}}, {step: [task ids]})
# Task lists are complete for the steps named; artifacts are the ones that prove the shape.
CASES: dict[str, tuple[str, dict[str, Any], dict[str, dict[str, Any]], dict[str, list[str]]]] = {
    "linear": ("LinearFlow", {}, {
        "end/t": {"x": 123, "trace": ["start", "a", "b", "end"],
                  "result": {"x": 123, "trace": ["start", "a", "b", "end"]}},
    }, {"start": ["t"], "a": ["t"], "b": ["t"], "end": ["t"]}),
    "branch": ("BranchFlow", {}, {
        "join/t": {"labels": ["L", "M", "R"], "values": [11, 12, 13], "middle_by_name": 12,
                   "first_by_position": "L", "base": 10},
        "end/t": {"summary": "LMR:46"},
    }, {"left": ["t"], "middle": ["t"], "right": ["t"], "join": ["t"]}),
    "nested_branches": ("NestedBranchesFlow", {}, {
        "a_join/t": {"trace": [["start", "a", "a1"], ["start", "a", "a2"]]},
        "end/t": {"traces": [[["start", "a", "a1"], ["start", "a", "a2"]], ["start", "b"]],
                  "inner": [["start", "a", "a1"], ["start", "a", "a2"]], "count": 2},
    }, {"a1": ["t"], "a2": ["t"], "a_join": ["t"], "join": ["t"]}),
    "foreach": ("ForeachFlow", {}, {
        "square/t_2": {"item": 4, "position": 2, "squared": 16},
        "join/t": {"squares": [9, 1, 16, 1, 25], "positions": [0, 1, 2, 3, 4],
                   "items": [3, 1, 4, 1, 5]},
        "end/t": {"total": 52},
    }, {"square": ["t_0", "t_1", "t_2", "t_3", "t_4"], "join": ["t"]}),
    "foreach_two_step": ("ForeachTwoStepFlow", {}, {
        "prepare/t_1": {"word": "beta", "upper": "BETA"},
        "join/t": {"pairs": [(0, "alpha", "ALPHA!"), (1, "beta", "BETA!"), (2, "gamma", "GAMMA!")]},
        "end/t": {"joined": "ALPHA! BETA! GAMMA!"},
    }, {"prepare": ["t_0", "t_1", "t_2"], "finish": ["t_0", "t_1", "t_2"]}),
    "nested_foreach": ("NestedForeachFlow", {}, {
        "inner/t_1_1_2": {"tag": "b2z@2"},
        "inner_join/t_0_0": {"tags": ["a1x@0", "a1y@1"]},
        "mid_join/t_1": {"tags": [["b1x@0", "b1y@1"], ["b2x@0", "b2y@1", "b2z@2"]]},
        "end/t": {"flat": ["a1x@0", "a1y@1", "a2x@0", "a2y@1", "a2z@2",
                           "b1x@0", "b1y@1", "b2x@0", "b2y@1", "b2z@2"]},
    }, {"outer": ["t_0", "t_1"], "mid": ["t_0_0", "t_0_1", "t_1_0", "t_1_1"],
        "inner": ["t_0_0_0", "t_0_0_1", "t_0_1_0", "t_0_1_1", "t_0_1_2",
                  "t_1_0_0", "t_1_0_1", "t_1_1_0", "t_1_1_1", "t_1_1_2"],
        "inner_join": ["t_0_0", "t_0_1", "t_1_0", "t_1_1"], "mid_join": ["t_0", "t_1"],
        "outer_join": ["t"]}),
    "switch": ("SwitchFlow", {}, {
        "end/t": {"path": ["start", "high", "end"], "outcome": "high:72"},
    }, {"high": ["t"], "end": ["t"]}),
    "nested_switch": ("NestedSwitchFlow", {}, {
        "end/t": {"path": ["start", "big", "big_blue", "big_done", "end"]},
    }, {"big": ["t"], "big_blue": ["t"], "big_done": ["t"]}),
    "switch_in_branch": ("SwitchInBranchFlow", {}, {
        "join/t": {"routes": [["a", "a_fast", "a_done"], ["b"]]},
        "end/t": {"mode_seen": "fast"},
    }, {"a_fast": ["t"], "a_done": ["t"], "b": ["t"]}),
    "switch_in_foreach": ("SwitchInForeachFlow", {}, {
        "join/t": {"entries": ["1:odd:4", "2:even:1", "3:odd:10", "4:even:2", "7:odd:22"]},
        "end/t": {"count": 5},
    }, {"classify": ["t_0", "t_1", "t_2", "t_3", "t_4"], "even": ["t_1", "t_3"],
        "odd": ["t_0", "t_2", "t_4"], "collect": ["t_0", "t_1", "t_2", "t_3", "t_4"]}),
    "branch_in_switch": ("BranchInSwitchFlow", {}, {
        "fan_join/t": {"parts": [("p", 10), ("q", 15)]},
        "end/t": {"result": {"p": 10, "q": 15}},
    }, {"fan": ["t"], "p": ["t"], "q": ["t"], "fan_join": ["t"]}),
    "foreach_in_switch": ("ForeachInSwitchFlow", {}, {
        "fan_join/t": {"results": ["u0", "v1", "w2", "x3"]},
        "end/t": {"count": 4},
    }, {"work": ["t_0", "t_1", "t_2", "t_3"]}),
    "recursion": ("RecursionFlow", {}, {
        "loop/t_r2": {"count": 3, "state": "again"},
        "end/t": {"final": (4, [1, 2, 3, 4])},
    }, {"loop": ["t", "t_r1", "t_r2", "t_r3"], "end": ["t"]}),
    "recursion_in_foreach": ("RecursionInForeachFlow", {}, {
        "join/t": {"reports": [(0, 2, 2), (1, 1, 1), (2, 3, 3)]},
        "end/t": {"total": 6},
    }, {"loop": ["t_0", "t_0_r1", "t_1", "t_2", "t_2_r1", "t_2_r2"],
        "finish": ["t_0", "t_1", "t_2"]}),
    "parameters": ("ParametersFlow", {}, {
        "start/t": {"seen": {"who": ["world", "str"], "count": [3, "int"], "ratio": [0.5, "float"],
                             "verbose": [False, "bool"],
                             "options": [{"depth": 2, "tags": ["a", "b"]}, "dict"],
                             "colors": [["red", "green"], "list"]}},
        "end/t": {"greeting": "hello world x3", "scaled": 1.5, "who": "world", "count": 3},
    }, {"start": ["t"], "end": ["t"]}),
    "merge_artifacts": ("MergeArtifactsFlow", {}, {
        "join/t": {"conflicts": ["a", "b"], "common": "from-start", "only_a": 1, "only_b": 2,
                   "same": [1, 2]},
        "end/t": {"merged": {"common": "from-start", "only_a": 1, "only_b": 2, "same": [1, 2],
                             "has_conflict": False}},
    }, {"join": ["t"]}),
    "retry": ("RetryFlow", {}, {
        "flaky/t": {"succeeded_on_attempt": 1},
        "end/t": {"result": "ok after 1 retry"},
    }, {"flaky": ["t"]}),
    "catch": ("CatchFlow", {}, {
        "end/t": {"caught": True, "quotient_missing": True},
    }, {"boom": ["t"], "end": ["t"]}),
    "metaflow_style": ("MetaflowStyleFlow", {}, {
        "start/t": {"flow_seen": "MetaflowStyleFlow"},
        "join/t": {"subtotals": [6, 6, 30]},
        "merge/t": {"sides": ["left:42", "right:30"]},
        "end/t": {"step_seen": "end"},
    }, {"total": ["t_0", "t_1", "t_2"], "left": ["t"], "right": ["t"]}),
}

# Other cases of the flows that take parameters: (stem, parameters, expected, tasks)
VARIANTS: list[tuple[str, dict[str, Any], dict[str, dict[str, Any]], dict[str, list[str]]]] = [
    ("switch", {"score": 10}, {"end/t": {"path": ["start", "low", "end"], "outcome": "low:10"}},
     {"low": ["t"]}),
    ("nested_switch", {"size": "big", "color": "red"},
     {"end/t": {"path": ["start", "big", "big_red", "big_done", "end"]}}, {"big_red": ["t"]}),
    ("nested_switch", {"size": "small"}, {"end/t": {"path": ["start", "small", "end"]}},
     {"small": ["t"], "end": ["t"]}),
    ("switch_in_branch", {"mode": "slow"},
     {"join/t": {"routes": [["a", "a_slow", "a_done"], ["b"]]}}, {"a_slow": ["t"]}),
    ("branch_in_switch", {"choice": "single"}, {"end/t": {"result": {"single": 1}}},
     {"single": ["t"]}),
    ("foreach_in_switch", {"choice": "one"}, {"end/t": {"results": ["only"], "count": 1}},
     {"one": ["t"]}),
    ("recursion", {"limit": 1}, {"end/t": {"final": (1, [1])}}, {"loop": ["t"]}),
    ("parameters", {"who": "flowc", "count": 5, "ratio": 0.25, "verbose": "yes",
                    "options": {"depth": [1, 2]}, "colors": "cyan,magenta,yellow"},
     {"start/t": {"seen": {"who": ["flowc", "str"], "count": [5, "int"], "ratio": [0.25, "float"],
                           "verbose": [True, "bool"], "options": [{"depth": [1, 2]}, "dict"],
                           "colors": [["cyan", "magenta", "yellow"], "list"]}},
      "end/t": {"greeting": "hello flowc x5", "scaled": 1.25}},
     {"start": ["t"]}),
]


def check(snap: dict[str, dict[str, dict[str, Any]]], expected: dict[str, dict[str, Any]],
          tasks: dict[str, list[str]]) -> None:
    for where, artifacts in expected.items():
        step, task = where.split("/")
        assert task in snap.get(step, {}), f"{where} did not run; ran: {sorted(snap)}"
        got = snap[step][task]
        for name, value in artifacts.items():
            assert name in got, f"{where}: artifact {name!r} missing (has {sorted(got)})"
            assert got[name] == value, f"{where}.{name}: {got[name]!r} != {value!r}"
    for step, ids in tasks.items():
        assert sorted(snap.get(step, {})) == sorted(ids), f"{step}: tasks {sorted(snap.get(step, {}))}"


def test_every_corpus_flow_has_a_case() -> None:
    assert sorted(p.stem for p in shape_flows()) == sorted(CASES)


@pytest.mark.parametrize("stem", sorted(CASES))
def test_shape(stem: str, tmp_path: Path) -> None:
    flow_name, params, expected, tasks = CASES[stem]
    run_id = run_locally(FLOWS / f"{stem}.py", tmp_path, params=params)
    snap = snapshot(tmp_path / "datastore", flow_name, run_id)
    check(snap, expected, tasks)
    # Only the steps the run took exist, and every task finished.
    assert "end" in snap and list(snap["end"]) == ["t"]


@pytest.mark.parametrize("stem,params,expected,tasks", VARIANTS,
                         ids=[f"{v[0]}-{'-'.join(f'{k}={v[1][k]}' for k in v[1])}" for v in VARIANTS])
def test_shape_variant(stem: str, params: dict[str, Any], expected: dict[str, dict[str, Any]],
                       tasks: dict[str, list[str]], tmp_path: Path) -> None:
    flow_name = CASES[stem][0]
    run_id = run_locally(FLOWS / f"{stem}.py", tmp_path, params=params)
    check(snapshot(tmp_path / "datastore", flow_name, run_id), expected, tasks)


def test_switch_runs_only_the_chosen_case(tmp_path: Path) -> None:
    run_id = run_locally(FLOWS / "switch.py", tmp_path)
    snap = snapshot(tmp_path / "datastore", "SwitchFlow", run_id)
    assert sorted(snap) == ["end", "high", "start"]
