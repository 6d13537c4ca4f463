"""Save + load of one large artifact: flowc's datastore against Metaflow's, with peak memory.

Each save and each load runs in a fresh process (the way tasks use a datastore), so the peak
resident memory of each is measured on its own (``ru_maxrss``) and compared with the artifact's
size. The artifact is ``bytes`` that gzip cannot shrink (a random 1 MiB block repeated: the
repeats are farther apart than gzip's window), as model weights or parquet bytes would be.
Metaflow is installed into a virtual environment of its own (``.venvs/bench-metaflow``, shared
with run_bench.py). Goals from the issue: flowc at least 3 times faster, peak memory under 1.5
times the artifact.

    python benchmarks/datastore_bench.py [--size-mib 1024] [--skip-metaflow] [--gzip]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEED_GOAL = 3.0
MEMORY_GOAL = 1.5


def make_value(size_mib: int) -> bytes:
    block = os.urandom(1 << 20)
    return block * size_mib


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child(mode: str, root: str, size_mib: int) -> dict:
    """One measured operation in this process; returns seconds and peak memory."""
    impl, op = mode.split("-")
    if op == "save":
        value = make_value(size_mib)
        before = peak_rss()
        started = time.perf_counter()
        if impl == "flowc":
            from flowc.runtime_shim.datastore import TaskKey, open_datastore

            store = open_datastore(root)
            ref = store.save_artifact("BenchFlow", "big", value)
            store.write_done(TaskKey("BenchFlow", "1", "start", "t"),
                             {"artifacts": {"big": ref.to_json()}})
        else:
            from metaflow.datastore import FlowDataStore
            from metaflow.plugins.datastores.local_storage import LocalStorage

            fds = FlowDataStore("BenchFlow", storage_impl=LocalStorage, ds_root=root)
            tds = fds.get_task_datastore("1", "start", "1", attempt=0, mode="w")
            tds.init_task()
            tds.save_artifacts([("big", value)])
            tds.done()
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "peak": peak_rss(), "before": before, "size": len(value)}
    before = peak_rss()
    started = time.perf_counter()
    if impl == "flowc":
        from flowc.runtime_shim.datastore import ArtifactRef, TaskKey, open_datastore

        store = open_datastore(root)
        done = store.read_done(TaskKey("BenchFlow", "1", "start", "t"))
        value = store.load_artifact("BenchFlow", "big", ArtifactRef.from_json(done["artifacts"]["big"]))
    else:
        from metaflow.datastore import FlowDataStore
        from metaflow.plugins.datastores.local_storage import LocalStorage

        fds = FlowDataStore("BenchFlow", storage_impl=LocalStorage, ds_root=root)
        value = fds.get_task_datastore("1", "start", "1", mode="r")["big"]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak": peak_rss(), "before": before, "size": len(value)}


def run_child(python: str, mode: str, root: Path, size_mib: int, env_extra: dict[str, str]) -> dict:
    env = {**os.environ, "USER": os.environ.get("USER", "bench"),
           "PYTHONPATH": str(ROOT) if mode.startswith("flowc") else "", **env_extra}
    proc = subprocess.run([python, __file__, "--child", mode, "--root", str(root),
                           "--size-mib", str(size_mib)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"{mode} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_metaflow(venv: Path) -> str:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import metaflow"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python)
    print(f"installing metaflow into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "metaflow"], check=True)
    return str(python)


def disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(python: str, impl: str, work: Path, size_mib: int, label: str = "",
            env_extra: dict[str, str] | None = None) -> dict:
    root = work / f"{label or impl}-ds"
    save = run_child(python, f"{impl}-save", root, size_mib, env_extra or {})
    load = run_child(python, f"{impl}-load", root, size_mib, env_extra or {})
    assert load["size"] == save["size"], "loaded artifact has the wrong size"
    return {"save": save, "load": load, "disk": disk_usage(root)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venvs" / "bench-metaflow")
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--gzip", action="store_true",
                        help="also time flowc with FLOWC_DATASTORE_COMPRESSION=gzip (the option)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.root, args.size_mib)))
        return 0

    size = args.size_mib << 20
    results = {}
    with tempfile.TemporaryDirectory(prefix="flowc-ds-bench-") as tmp:
        work = Path(tmp)
        results["flowc"] = measure(sys.executable, "flowc", work, args.size_mib)
        if args.gzip:
            results["flowc+gzip"] = measure(sys.executable, "flowc", work, args.size_mib, "flowc-gzip",
                                            {"FLOWC_DATASTORE_COMPRESSION": "gzip"})
        if not args.skip_metaflow:
            results["metaflow"] = measure(ensure_metaflow(args.venv), "metaflow", work, args.size_mib)

    gib = size / (1 << 30)
    print(f"save + load of one {args.size_mib} MiB artifact ({gib:.2f} GiB), one process each")
    print(f"  {'':10} {'save s':>8} {'load s':>8} {'total s':>8} {'peak save':>10} {'peak load':>10} {'on disk':>9}")
    for impl, r in results.items():
        total = r["save"]["seconds"] + r["load"]["seconds"]
        print(f"  {impl:10} {r['save']['seconds']:8.2f} {r['load']['seconds']:8.2f} {total:8.2f} "
              f"{r['save']['peak'] / size:9.2f}x {r['load']['peak'] / size:9.2f}x "
              f"{r['disk'] / size:8.2f}x")
    ours = results["flowc"]
    peak = max(ours["save"]["peak"], ours["load"]["peak"]) / size
    ok = peak < MEMORY_GOAL
    print(f"  flowc peak memory {peak:.2f}x the artifact (goal < {MEMORY_GOAL}x: {'met' if ok else 'NOT met'})")
    if "metaflow" in results:
        theirs = results["metaflow"]
        ratio = ((theirs["save"]["seconds"] + theirs["load"]["seconds"])
                 / (ours["save"]["seconds"] + ours["load"]["seconds"]))
        print(f"  speed ratio {ratio:.1f}x (goal >= {SPEED_GOAL:.0f}x: {'met' if ratio >= SPEED_GOAL else 'NOT met'})")
        ok = ok and ratio >= SPEED_GOAL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
