"""One process compiling 100 flows to all three targets, against Metaflow's per-flow loop.

flowc: a cold `flowc compile DIR --target all --output-dir OUT` process over 100 flows (copies of
the examples and the shape corpus under distinct names), timed end to end (best of 3).
Metaflow: `argo-workflows create --only-json`, `step-functions create --only-json` and
`airflow create` take about 1 s per flow and target on this machine (measured with a moto S3
server for its code-package uploads; recorded in issue 7), so 100 flows x 3 targets ~ 300 s.
Goal: at least 50 times faster overall.

    python benchmarks/compile_many_bench.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METAFLOW_SECONDS_PER_FLOW_AND_TARGET = 1.0
FLOWS = 100
TARGETS = 3


def make_flows(directory: Path) -> None:
    sources = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "tests" / "flows").glob("*.py"))
    sources = [s for s in sources if "class " in s.read_text()]
    for i in range(FLOWS):
        source = sources[i % len(sources)]
        text = source.read_text()
        text = re.sub(r"class (\w+)\((\w+\.)?FlowSpec\)", lambda m: f"class {m.group(1)}N{i}({m.group(2) or ''}FlowSpec)", text)
        (directory / f"{source.stem}_{i:03d}.py").write_text(text)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        flows = Path(tmp) / "flows"
        flows.mkdir()
        make_flows(flows)
        times = []
        for attempt in range(3):
            out = Path(tmp) / f"out{attempt}"
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", str(flows),
                                   "--target", "all", "--output-dir", str(out)],
                                  capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(proc.stderr[-4000:])
                return 1
        written = len(list(out.rglob("*.*")))
    best = min(times)
    metaflow = METAFLOW_SECONDS_PER_FLOW_AND_TARGET * FLOWS * TARGETS
    print(f"flowc: {FLOWS} flows x {TARGETS} targets ({written} files) in {best:.2f} s "
          f"(best of 3: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"metaflow (recorded, ~{METAFLOW_SECONDS_PER_FLOW_AND_TARGET:.1f} s per flow and target): {metaflow:.0f} s")
    print(f"speed-up: {metaflow / best:.0f}x (goal >= 50x)")
    return 0 if metaflow / best >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
