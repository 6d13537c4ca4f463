"""A sample of the bad inputs in real processes: what CliRunner cannot show (a signal such as the
SIGSEGV libcst gave on deep nesting, a hang on a FIFO, an error at interpreter exit)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.fuzz.conftest import CORPUS

SAMPLE = [
    ["ir", str(CORPUS / "flows" / "deep_list.pysrc")],
    ["ir", str(CORPUS / "flows" / "long_sum.pysrc")],
    ["ir", str(CORPUS / "flows" / "deep_calls.pysrc")],
    ["ir", str(CORPUS / "flows" / "deep_blocks.pysrc")],
    ["ir", "/dev/zero"],
    ["ir", "{fifo}"],
    ["run", "{fifo}"],
    ["compile", "{dir}", "--target", "all", "--output-dir", "{root}/out"],  # a FIFO, a broken link
    ["compile", "{flow}", "--target", "argo", "-o", "/dev/full"],
]


@pytest.mark.parametrize("argv", SAMPLE, ids=[" ".join(a)[-50:] for a in SAMPLE])
def test_real_process(argv, sandbox):
    for name, path in sandbox.items():
        argv = [arg.replace("{" + name + "}", path) for arg in argv]
    done = subprocess.run([sys.executable, "-m", "flowc.cli", *argv], capture_output=True, text=True,
                          timeout=60, cwd=sandbox["root"], env=_env(sandbox))
    assert done.returncode == 1, (argv, done.returncode, done.stderr[-2000:])  # not a signal (< 0)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-2000:]
    assert len(done.stderr) < 20_000


def test_standard_output_on_a_full_disk(sandbox):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", sandbox["flow"], "--target",
                               "argo"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                              cwd=sandbox["root"], env=_env(sandbox))
    assert done.returncode == 1 and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def _env(sandbox):
    return {**os.environ, "PYTHONPATH": str(ROOT), "FLOWC_DATASTORE": f"{sandbox['root']}/datastore"}
