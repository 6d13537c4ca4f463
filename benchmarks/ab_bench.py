"""The same compile workload on two versions of flowc, interleaved, for a ratio of one run.

A change's cost is measured against its baseline in the same session: this checks the baseline
revision out into a temporary git worktree and alternately times, in fresh processes,
``python -m flowc.cli compile DIR --target all --output-dir OUT`` over the examples and the shape
corpus (each flow 5 times under distinct names), then ``flowc ir --json`` of a generated
1,000-step flow, with each tree's own code (PYTHONPATH). It prints the medians and new/baseline.

    python benchmarks/ab_bench.py --baseline f560874 [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from compile_bench import generate  # noqa: E402 - the benchmarks directory is not a package


def corpus(directory: Path, datastore: str) -> None:
    """The flows both versions compile: examples and shapes, five copies each, and a project
    file naming the datastore (the new version requires one; the baseline ignores it)."""
    sources = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "tests" / "flows").glob("*.py"))
    for copy in range(5):
        for source in sources:
            shutil.copy(source, directory / f"{source.stem}_{copy}.py")
    (directory / "pyproject.toml").write_text(f'[tool.flowc]\ndatastore_root = "{datastore}"\n')


def timed(tree: Path, argv: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flowc.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{tree}: flowc {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowc-ab-") as temp:
        work = Path(temp)
        base = work / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.baseline],
                       cwd=ROOT, check=True)
        try:
            flows = work / "flows"
            flows.mkdir()
            corpus(flows, "s3://bench/flowc")
            big = work / "big.py"
            big.write_text(generate(1000))
            workloads = {
                "compile 130 flows x 3 targets": (["compile", str(flows), "--target", "all",
                                                   "--output-dir", "OUT"], flows),
                "ir --json, 1,000 steps": (["ir", "--json", str(big)], work),
            }
            for name, (argv, cwd) in workloads.items():
                times: dict[str, list[float]] = {"baseline": [], "new": []}
                for i in range(args.repeat):
                    for label, tree in (("baseline", base), ("new", ROOT)):
                        out = work / f"out-{label}-{i}"
                        times[label].append(timed(tree, [a.replace("OUT", str(out)) for a in argv], cwd))
                old, new = statistics.median(times["baseline"]), statistics.median(times["new"])
                print(f"{name}: baseline {old:.2f} s, new {new:.2f} s, new/baseline {new / old:.2f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
