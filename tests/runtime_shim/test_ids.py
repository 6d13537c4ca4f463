"""Run ids, task ids and index paths (docs/contracts.md section 3)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowc.runtime_shim.ids import (format_index_path, new_run_id, parse_index_path, parse_task_id,
                                    pathspec, task_id)


@pytest.mark.parametrize("path, iteration, expected", [
    ((), 0, "t"), ((3,), 0, "t_3"), ((3, 1), 0, "t_3_1"), ((), 2, "t_r2"), ((3,), 2, "t_3_r2"),
])
def test_contract_examples(path, iteration, expected):
    assert task_id(path, iteration) == expected
    assert parse_task_id(expected) == (path, iteration)


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=5),
       st.integers(min_value=0, max_value=1000))
def test_task_ids_roundtrip_and_are_unique(path, iteration):
    text = task_id(tuple(path), iteration)
    assert parse_task_id(text) == (tuple(path), iteration)
    assert parse_index_path(format_index_path(tuple(path))) == tuple(path)


@pytest.mark.parametrize("bad", ["", "t_", "t_r", "t_-1", "x_1", "t_1_r0x", "t__1"])
def test_bad_task_ids_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_task_id(bad)


def test_index_paths_and_pathspecs():
    assert parse_index_path("") == () and parse_index_path("3.1") == (3, 1)
    with pytest.raises(ValueError, match="never negative"):
        parse_index_path("-1")
    with pytest.raises(ValueError):
        task_id((-1,))
    assert pathspec("F", "r", "s", "t_1") == "F/r/s/t_1" and pathspec("F", "r") == "F/r"


def test_run_ids_are_microseconds_sorting_in_start_order_and_never_repeat():
    before = time.time_ns() // 1000
    ids = [new_run_id() for _ in range(1000)]
    assert all(re.fullmatch(r"\d{16}", run_id) for run_id in ids)
    assert int(ids[0]) >= before
    assert [int(i) for i in ids] == sorted(set(int(i) for i in ids))  # strictly increasing


def test_run_ids_of_engines_carry_the_engine_and_are_valid_names():
    first, second = new_run_id("sfn"), new_run_id("sfn")
    assert re.fullmatch(r"sfn-\d{16}", first) and first < second
    # Kubernetes names, Step Functions execution names and Airflow run ids all accept this.
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", new_run_id("airflow"))
