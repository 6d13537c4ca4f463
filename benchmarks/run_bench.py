"""`flowc run` against Metaflow's `python flow.py run` on a 50-way foreach of trivial steps.

Both run the same file (written `from metaflow import ...`, which flowc runs on its own API),
side by side, from a cold process, with the same --max-workers and a fresh local datastore in a
temporary directory. Metaflow is installed into a virtual environment of its own
(`.venvs/bench-metaflow` under the repo, created on first use; pass --venv to reuse another).
Metaflow took about 22 s here; the goal is flowc at least 10 times faster.

    python benchmarks/run_bench.py [--width 50] [--repeat 3] [--max-workers 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 10.0

FLOW = textwrap.dedent('''
    from metaflow import FlowSpec, step


    class BenchForeachFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range({width}))
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.value = self.input * 2
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.value for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        BenchForeachFlow()
''')


def ensure_metaflow(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import metaflow"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing metaflow into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "metaflow"], check=True)
    return python


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median is compared")
    parser.add_argument("--max-workers", type=int, default=16, help="the same for both (Metaflow's default)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venvs" / "bench-metaflow")
    parser.add_argument("--skip-metaflow", action="store_true", help="time flowc only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="flowc-run-bench-") as tmp:
        work = Path(tmp)
        flow = work / "bench_foreach_flow.py"
        flow.write_text(FLOW.format(width=args.width), encoding="utf-8")
        env = {**os.environ, "USER": os.environ.get("USER", "bench"),
               "USERNAME": os.environ.get("USER", "bench"),
               "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local",
               "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "metaflow-ds")}
        env.pop("FLOWC_DATASTORE", None)
        flowc_times = []
        for i in range(args.repeat):
            argv = [sys.executable, "-m", "flowc.cli", "run", str(flow), "--max-workers",
                    str(args.max_workers), "--datastore", str(work / f"flowc-ds-{i}")]
            flowc_times.append(timed(argv, work, env))
        metaflow_times = []
        if not args.skip_metaflow:
            python = ensure_metaflow(args.venv)
            for _ in range(args.repeat):
                argv = [str(python), str(flow), "--no-pylint", "run", "--max-workers",
                        str(args.max_workers)]
                metaflow_times.append(timed(argv, work, env))

    ours = statistics.median(flowc_times)
    print(f"{args.width}-way foreach of trivial steps, --max-workers {args.max_workers}, "
          f"{args.repeat} run(s) each, median wall-clock seconds")
    print(f"  flowc run            {ours:8.2f} s   {' '.join(f'{t:.2f}' for t in flowc_times)}")
    if not metaflow_times:
        return 0
    theirs = statistics.median(metaflow_times)
    ratio = theirs / ours
    print(f"  metaflow (python flow.py run) {theirs:8.2f} s   "
          f"{' '.join(f'{t:.2f}' for t in metaflow_times)}")
    print(f"  ratio                {ratio:8.1f}x   (goal >= {GOAL:.0f}x: {'met' if ratio >= GOAL else 'NOT met'})")
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
