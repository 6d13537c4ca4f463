"""Issue 13 item 8: a full disk neither loses a step's output silently nor leaves a failed run
looking successful. The datastore lives on a tiny tmpfs mounted in a private mount namespace
(``unshare -rm``), so the kernel itself says ENOSPC."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PAGE = 4096


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    with tempfile.TemporaryDirectory() as point:
        probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=4k tmpfs {point}"],
                               capture_output=True, timeout=30)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _unshare_works(),
                                reason="needs unshare -rm and a tmpfs mount (Linux user namespaces)")


def _on_tiny_disk(tmp_path: Path, size: int, *commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Run each flowc command with ``tmp_path/disk`` a ``size``-byte tmpfs; the disk lives only
    as long as one shell, so every command runs in it and each result is cut out of its output."""
    disk = tmp_path / "disk"
    disk.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    script = [f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(disk))} || exit 99"]
    for i, command in enumerate(commands):
        line = " ".join(shlex.quote(part) for part in [sys.executable, "-m", "flowc.cli", *command])
        script.append(f"{line} >{scratch}/out{i} 2>{scratch}/err{i}; echo $? >{scratch}/rc{i}")
    env = {k: v for k, v in os.environ.items() if k != "FLOWC_DATASTORE"}
    env["TMPDIR"] = str(scratch)  # the captured output itself is not on the tiny disk
    done = subprocess.run(["unshare", "-rm", "sh", "-c", "\n".join(script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 99, done.stderr
    return [subprocess.CompletedProcess(command, int((scratch / f"rc{i}").read_text()),
                                        (scratch / f"out{i}").read_text(),
                                        (scratch / f"err{i}").read_text())
            for i, command in enumerate(commands)]


LOUD = '''
    from flowc import FlowSpec, step


    class LoudFlow(FlowSpec):
        @step
        def start(self):
            for i in range(3000):
                print("LOUD-LINE", i, "x" * 100)
            self.next(self.end)

        @step
        def end(self):
            pass
'''


def test_output_the_datastore_cannot_take_is_shown_despite_no_logs(write_flow, tmp_path):
    path = write_flow("loud_flow", LOUD)
    (run,) = _on_tiny_disk(tmp_path, 160 * 1024,
                           ["run", str(path), "--no-logs", "--datastore", str(tmp_path / "disk" / "ds")])
    assert "[start/t] LOUD-LINE 2999 xxx" in run.stderr, run.stderr[-2000:]
    assert "warning: the output of start/t could not be stored in the datastore" in run.stderr


FILLS_THE_DISK = '''
    import os
    from flowc import FlowSpec, step


    class FullFlow(FlowSpec):
        @step
        def start(self):
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            # Fill the disk, then give back one page: room for end's DONE.json and nothing after.
            with open(os.path.join({disk!r}, "filler"), "wb", buffering=0) as filler:
                try:
                    while True:
                        filler.write(b"f" * {page})
                except OSError:
                    pass
                filler.truncate(max(0, os.fstat(filler.fileno()).st_size - {page}))
'''


def test_a_run_that_ran_out_of_space_does_not_read_as_succeeded(write_flow, tmp_path):
    path = write_flow("full_flow", FILLS_THE_DISK.format(disk=str(tmp_path / "disk"), page=PAGE))
    ds = str(tmp_path / "disk" / "ds")
    run, show = _on_tiny_disk(tmp_path, 256 * 1024,
                              ["run", str(path), "--datastore", ds, "--run-id-file", str(tmp_path / "id")],
                              ["show", "FullFlow", "--datastore", ds, "--no-data"])
    assert run.returncode == 1, run.stderr[-2000:]
    first = show.stdout.splitlines()[0] if show.stdout else show.stderr
    assert first.startswith("Run FullFlow/") and first.endswith(": failed"), show.stdout + show.stderr
