"""Compile-time benchmark: cold-process times of the flowc front end (and of a full compile).

Prints, for every example and for generated 10/100/1,000/2,000-step flows, the median wall time
of a fresh ``python -m flowc.cli ir --json FLOW`` process (parse, analyze, check, print the
manifest) and, when the Argo target is available, of ``flowc compile --target argo``; then the
2,000/1,000 ratio. Goals (issue 2): 1,000 steps < 2 s, ratio <= 2.2, 10 steps well under 0.53 s
(half of Metaflow's ``argo-workflows create --only-json``, 1.07 s on the same machine).

    python benchmarks/compile_bench.py [--repeat 3] [--sizes 10,100,1000,2000] [--json]
"""

from __future__ import annotations

import argparse
import json
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


def cold(args: list[str], repeat: int) -> float:
    """Median wall time of a fresh interpreter running ``python -m flowc.cli ARGS``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flowc.cli", *args], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"flowc {' '.join(args)} failed:\n{done.stderr}")
        times.append(elapsed)
    return statistics.median(times)


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
            row = {"case": label, "ir_seconds": round(cold(["ir", "--json", str(path)], options.repeat), 3)}
            if with_argo:
                row["argo_seconds"] = round(cold(["compile", "--target", "argo", "-o", "-", str(path)],
                                                 options.repeat), 3)
            rows.append(row)
    by_case = {r["case"]: r for r in rows}
    ratio = None
    if "generated 1000 steps" in by_case and "generated 2000 steps" in by_case:
        ratio = round(by_case["generated 2000 steps"]["ir_seconds"] / by_case["generated 1000 steps"]["ir_seconds"], 2)
    if options.json:
        print(json.dumps({"rows": rows, "ratio_2000_1000": ratio}, indent=2))
        return 0
    header = f"{'case':32} {'flowc ir --json':>16}" + (f" {'compile argo':>14}" if with_argo else "")
    print(header)
    for row in rows:
        line = f"{row['case']:32} {row['ir_seconds']:>15.3f}s"
        if with_argo:
            line += f" {row['argo_seconds']:>13.3f}s"
        print(line)
    if ratio is not None:
        print(f"2000/1000-step ratio (ir): {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
