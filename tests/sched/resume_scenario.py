"""The resume scenario every engine test plays: a run of ResumeFlow fails in its late step, the
failure is fixed, a resumed run on the same engine clones everything before the late step.

Each engine test gives two callables: ``run(run_id) -> bool`` (start a run under that id on the
engine, wait, return whether it succeeded) and ``store()`` (the datastore the engine's tasks use).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flowc.compiler import compile_file
from flowc.runtime_shim import resume
from flowc.runtime_shim.datastore import Datastore
from tests.harness.artifacts import run_locally, snapshot
from tests.sched.flows import executed, write_resumable

# What re-runs after the late step failed: the late step and end; everything else is cloned.
RERUN = ["end/t", "late/t"]


@dataclass(frozen=True)
class Outcome:
    original_seconds: float
    resumed_seconds: float

    @property
    def ratio(self) -> float:
        return self.resumed_seconds / self.original_seconds


def play(directory: Path, run: Callable[[str], bool], store: Callable[[], Datastore],
         snapshot_of: Callable[[str], dict],
         run_ids: tuple[str, str] = ("origin-run", "resumed-run")) -> Outcome:
    """``run_ids``: the ids the engine gives the original and the resumed run."""
    origin_id, resumed_id = run_ids
    flow_file = write_resumable(directory, broken=True)
    flow = compile_file(flow_file).flow
    started = time.monotonic()
    assert not run(origin_id), "the broken run should fail"
    original = time.monotonic() - started
    assert "late/t" in executed(directory)

    write_resumable(directory, broken=False)  # the fix
    (directory / "executed.log").unlink()
    point = resume.resume_point(store(), flow, origin_id, None)
    assert point.step == "late"
    resume.prepare_run(store(), flow, resumed_id, point)
    started = time.monotonic()
    assert run(resumed_id), "the resumed run should succeed"
    resumed = time.monotonic() - started

    assert executed(directory) == RERUN
    clean_dir = directory / "clean"
    clean_dir.mkdir()
    clean_id = run_locally(write_resumable(clean_dir, broken=False), clean_dir)
    clean = snapshot(clean_dir / "datastore", "ResumeFlow", clean_id)
    got = snapshot_of(resumed_id)
    for step in ("late", "end"):  # current.origin_run_id, as the late step saw it
        assert got[step]["t"].pop("origin") == origin_id
        assert clean[step]["t"].pop("origin") is None
    assert got == clean, {step: (got.get(step), clean.get(step)) for step in set(got) | set(clean)
                          if got.get(step) != clean.get(step)}
    assert sorted(got["loop"]) == ["t", "t_r1", "t_r2"] and got["late"]["t"]["result"] == "big:14:3"
    return Outcome(original, resumed)
