"""Compile-time benchmark: cold-process times of the flowc front end (and of a full compile).

Prints, for every example and for generated 10/100/1,000/2,000-step flows, the median wall time
and CPU time of a fresh ``python -m flowc.cli ir --json FLOW`` process (parse, analyze, check,
print the manifest) and, when the Argo target is available, of ``flowc compile --target argo``;
then the 2,000/1,000 ratio. Goals (issue 2): 1,000 steps < 2 s, ratio <= 2.2, 10 steps well under 0.53 s
(half of Metaflow's ``argo-workflows create --only-json``, 1.07 s on the same machine).

    python benchmarks/compile_bench.py [--repeat 3] [--sizes 10,100,1000,2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(steps: int) -> str:
    """A realistic flow of about ``steps`` steps: blocks of split -> two branches -> join ->
    foreach -> body -> join, with parameters, decorators, docstrings and a few lines per step."""
    lines = [
        '"""Generated benchmark flow."""',
        "from flowc import FlowSpec, Parameter, resources, retry, step",
        "",
        "WIDTH = 3",
        "",
        "",
        f"class Generated{steps}Flow(FlowSpec):",
        '    """A generated flow."""',
        "",
        '    alpha = Parameter("alpha", default=0.5, help="a float")',
        '    rounds = Parameter("rounds", default=3, help="an int")',
        "",
    ]
    blocks = max((steps - 2) // 7, 0)
    linear = steps - 2 - 7 * blocks

    def add(name: str, body: list[str], nxt: str, join: bool = False, decorators: tuple[str, ...] = ()) -> None:
        lines.extend(f"    {d}" for d in decorators)
        lines.append("    @step")
        lines.append(f"    def {name}(self{', inputs' if join else ''}):")
        lines.append(f'        """Step {name}."""')
        lines.extend(f"        {b}" for b in body)
        lines.append(f"        {nxt}")
        lines.append("")

    chain = [f"b{i}" for i in range(blocks)]
    first = f"{chain[0]}_fan" if chain else ("l0" if linear else "end")
    add("start", ["self.total = 0"], f"self.next(self.{first})")
    for index, block in enumerate(chain):
        after = f"{chain[index + 1]}_fan" if index + 1 < len(chain) else ("l0" if linear else "end")
        add(f"{block}_fan", ["self.value = self.rounds * 2"], f"self.next(self.{block}_left, self.{block}_right)")
        add(f"{block}_left", ["self.value += 1"], f"self.next(self.{block}_join)",
            decorators=("@retry(times=2)",))
        add(f"{block}_right", ["self.value -= 1"], f"self.next(self.{block}_join)")
        add(f"{block}_join", ["self.value = sum(i.value for i in inputs)"], f"self.next(self.{block}_each)",
            join=True)
        add(f"{block}_each", ["self.items = list(range(WIDTH))"],
            f'self.next(self.{block}_body, foreach="items")')
        add(f"{block}_body", ["self.out = self.input * self.alpha"], f"self.next(self.{block}_gather)",
            decorators=('@resources(cpu=1, memory="2Gi")',))
        add(f"{block}_gather", ["self.total = sum(i.out for i in inputs)"], f"self.next(self.{after})",
            join=True)
    for index in range(linear):
        after = f"l{index + 1}" if index + 1 < linear else "end"
        add(f"l{index}", ["self.total += 1"], f"self.next(self.{after})")
    lines.extend(["    @step", "    def end(self):", '        """Done."""', "        print(self.total)", ""])
    return "\n".join(lines) + "\n"


def cold(args: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of a fresh interpreter running
    ``python -m flowc.cli ARGS``. On a shared machine the CPU time is the stable figure: wall
    time grows with everyone else's load."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flowc.cli", *args], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"flowc {' '.join(args)} failed:\n{done.stderr}")
    return statistics.median(walls), statistics.median(cpus)


def argo_available() -> bool:
    try:
        import flowc.targets.argo  # noqa: F401
    except Exception:  # any import problem means: skip the full-compile column
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10,100,1000,2000")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)
    sizes = [int(s) for s in options.sizes.split(",")]
    with_argo = argo_available()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(f"examples/{p.name}", p) for p in sorted((ROOT / "examples").glob("*.py"))]
        for size in sizes:
            path = Path(tmp) / f"generated_{size}.py"
            path.write_text(generate(size), encoding="utf-8")
            cases.append((f"generated {size} steps", path))
        for label, path in cases:
            wall, cpu = cold(["ir", "--json", str(path)], options.repeat)
            row = {"case": label, "ir_wall": round(wall, 3), "ir_cpu": round(cpu, 3)}
            if with_argo:
                wall, cpu = cold(["compile", "--target", "argo", "-o", "-", str(path)], options.repeat)
                row.update(argo_wall=round(wall, 3), argo_cpu=round(cpu, 3))
            rows.append(row)
    by_case = {r["case"]: r for r in rows}
    ratios = {}
    if "generated 1000 steps" in by_case and "generated 2000 steps" in by_case:
        for key in ("ir_wall", "ir_cpu"):
            ratios[key] = round(by_case["generated 2000 steps"][key] / by_case["generated 1000 steps"][key], 2)
    if options.json:
        print(json.dumps({"rows": rows, "ratio_2000_1000": ratios}, indent=2))
        return 0
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times include others' load)")
    header = f"{'case':28} {'ir wall':>9} {'ir cpu':>9}" + (f" {'argo wall':>10} {'argo cpu':>9}" if with_argo else "")
    print(header)
    for row in rows:
        line = f"{row['case']:28} {row['ir_wall']:>8.3f}s {row['ir_cpu']:>8.3f}s"
        if with_argo:
            line += f" {row['argo_wall']:>9.3f}s {row['argo_cpu']:>8.3f}s"
        print(line)
    if ratios:
        print(f"2000/1000-step ratio (flowc ir): wall {ratios['ir_wall']}, cpu {ratios['ir_cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
