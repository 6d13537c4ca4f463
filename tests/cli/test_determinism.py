"""Compiled specs are the same bytes whatever the process: every example and every shape flow,
for every target and format, compiled in two fresh processes with different PYTHONHASHSEED
(string hashing, and so the order of sets and of anything built from them, differs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import EXAMPLES, ROOT, SHAPES

# Runs in each fresh process: {output name: sha256 of its bytes}.
COMPILE_EVERYTHING = """
import hashlib, json, sys
from pathlib import Path
from flowc.build import build
from flowc.targets import target_names

digests = {}
for source in ("examples", "tests/flows"):  # apart: both hold a nested_foreach.py
    for overrides in ({}, {"sfn_format": "cloudformation"}):
        result = build([Path(source)], target_names(), overrides)
        assert result.ok, [d.message for d in result.diagnostics]
        for output in result.outputs:
            name = f"{source}/{overrides}/{output.relative}"
            digests[name] = hashlib.sha256(output.text.encode("utf-8")).hexdigest()
json.dump(digests, sys.stdout, sort_keys=True)
"""


def digests(seed: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", COMPILE_EVERYTHING], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": seed})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_two_processes_with_different_hash_seeds_write_the_same_bytes():
    first, second = digests("1"), digests("2023")
    flows = len(list(EXAMPLES.glob("*.py"))) + len(list(SHAPES.glob("*.py")))
    assert len(first) == flows * 3 * 2  # every flow, every target, both Step Functions formats
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
