"""Issue 13 item 11: a huge single-line log is neither echoed whole to the console nor held whole
in memory, by the scheduler's echo or by storing it; the datastore keeps every byte."""

from __future__ import annotations

import tracemalloc

from flowc.local.runner import _tail
from flowc.runtime_shim.datastore import TaskKey, open_datastore

SIZE = 50 << 20


def _peak(call):
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_50_mb_line_is_echoed_cut_and_read_in_bounded_memory(tmp_path):
    log = tmp_path / "stderr.log"
    with log.open("wb") as handle:
        handle.write(b"first line\n")
        for _ in range(SIZE >> 20):
            handle.write(b"y" * (1 << 20))
        handle.write(b"\nlast line\n")
    (skipped, lines), peak = _peak(lambda: _tail(log, 200))
    assert peak < 4 << 20, f"echoing the tail held {peak} bytes"
    assert lines[-1] == "last line" and skipped == 2  # the first line and the huge one
    assert all(len(line) < 3000 for line in lines)


def test_storing_a_50_mb_log_copies_it_in_chunks(tmp_path):
    log = tmp_path / "stdout.log"
    with log.open("wb") as handle:
        for _ in range(SIZE >> 20):
            handle.write(b"z" * (1 << 20))
    store = open_datastore(str(tmp_path / "ds"))
    task = TaskKey("F", "r1", "start", "t")
    _, peak = _peak(lambda: store.save_log_file(task, 0, "stdout", str(log)))
    assert peak < 4 << 20, f"storing the log held {peak} bytes"
    stored = tmp_path / "ds" / "F" / "runs" / "r1" / "start" / "t" / "0" / "stdout.log"
    assert stored.stat().st_size == SIZE
