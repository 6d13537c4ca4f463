"""``S3`` (data tools): flowc's against Metaflow's, on the same moto S3 server, in one run.

Measured, each in a fresh child process per side (so neither side warms the other's caches):
``put_many`` then ``get_many`` of 1,000 small objects, and ``put_files`` then ``get`` of one
large object (1 GiB by default). moto's server runs in a process of its own. The sides take turns
``--repeat`` times (who goes first alternates) and the median of each operation is compared: on a
shared machine one run of each is mostly noise. Metaflow's side needs an interpreter with metaflow
and boto3 (``--metaflow-python``; by default ``FLOWC_METAFLOW_PYTHON``, else ``.venvs/metaflow``,
else ``/tmp/mf``, else ``.venvs/bench-metaflow``, created on first use). Goal from issue 11: flowc
at least as fast (ratio Metaflow / flowc >= 1).

    python benchmarks/s3_bench.py [--count 1000] [--object-kib 1] [--big-mib 1024] [--repeat 3]
                                  [--skip-metaflow]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.0


def child(impl: str, s3root: str, count: int, object_kib: int, big_mib: int, work: str) -> dict:
    """The timed operations, in this process, with ``impl``'s S3 class."""
    if impl == "flowc":
        from flowc.s3 import S3
    else:
        from metaflow import S3  # type: ignore[no-redef]
    payload = os.urandom(object_kib << 10)
    keys = [f"small/{i:05d}" for i in range(count)]
    big = os.path.join(work, "big.bin")
    if big_mib:
        block = os.urandom(1 << 20)
        with open(big, "wb") as handle:
            for _ in range(big_mib):
                handle.write(block)
            # on disk before the clock starts: else the side that reaches put_big sooner (flowc,
            # whose small-object rounds are faster) uploads while the kernel is still writing it
            handle.flush()
            os.fsync(handle.fileno())
    times: dict[str, float] = {}
    with S3(s3root=f"{s3root}/{impl}", tmproot=work) as s3:
        started = time.perf_counter()
        s3.put_many([(key, payload) for key in keys])
        times["put_many"] = time.perf_counter() - started
        started = time.perf_counter()
        got = s3.get_many(keys)
        times["get_many"] = time.perf_counter() - started
        assert len(got) == count and got[-1].size == len(payload)
        if big_mib:
            started = time.perf_counter()
            s3.put_files([("big", big)])
            times["put_big"] = time.perf_counter() - started
            started = time.perf_counter()
            obj = s3.get("big")
            times["get_big"] = time.perf_counter() - started
            assert obj.size == big_mib << 20
    _delete_prefix(f"{s3root}/{impl}")  # moto keeps every object; the next round starts empty
    return times


def _delete_prefix(url: str) -> None:
    import boto3

    bucket, _, prefix = url[len("s3://"):].partition("/")
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, endpoint
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto's server did not start")


def metaflow_python(explicit: str | None) -> str:
    for candidate in (explicit, os.environ.get("FLOWC_METAFLOW_PYTHON"), ROOT / ".venvs/metaflow/bin/python",
                      "/tmp/mf/bin/python"):
        if candidate and os.path.exists(candidate):
            return str(candidate)
    venv = ROOT / ".venvs" / "bench-metaflow"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import metaflow, boto3"]
    if not (python.exists() and subprocess.run(probe, capture_output=True).returncode == 0):
        print(f"installing metaflow and boto3 into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "metaflow", "boto3"], check=True)
    return str(python)


def _medians(rounds: list[dict]) -> dict:
    return {name: statistics.median(times[name] for times in rounds) for name in rounds[0]}


def run_side(python: str, impl: str, endpoint: str, s3root: str, args: argparse.Namespace) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
           "METAFLOW_S3_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix=f"s3bench-{impl}-") as work:
        done = subprocess.run([python, __file__, "--child", impl, "--s3root", s3root, "--work", work,
                               "--count", str(args.count), "--object-kib", str(args.object_kib),
                               "--big-mib", str(args.big_mib)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{impl} side failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--object-kib", type=int, default=1)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--metaflow-python")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--s3root", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.s3root, args.count, args.object_kib, args.big_mib, args.work)))
        return 0
    server, endpoint = start_moto()
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                     aws_secret_access_key="bench").create_bucket(Bucket="bench")
        sides = {"flowc": sys.executable}
        if not args.skip_metaflow:
            sides["metaflow"] = metaflow_python(args.metaflow_python)
        rounds: dict[str, list[dict]] = {impl: [] for impl in sides}
        for turn in range(args.repeat):
            for impl in sorted(sides, reverse=turn % 2 == 1):
                rounds[impl].append(run_side(sides[impl], impl, endpoint, f"s3://bench/run{turn}", args))
    finally:
        server.terminate()
        server.wait()
    ours = _medians(rounds["flowc"])
    theirs = _medians(rounds["metaflow"]) if "metaflow" in rounds else None
    print(f"{args.count} objects of {args.object_kib} KiB, one object of {args.big_mib} MiB, moto on loopback, "
          f"median of {args.repeat} alternating rounds")
    print(f"{'operation':<10} {'flowc s':>9} {'metaflow s':>11} {'ratio':>7}")
    missed = False
    for name, seconds in ours.items():
        other = theirs.get(name) if theirs else None
        ratio = other / seconds if other else None
        missed |= ratio is not None and ratio < GOAL
        print(f"{name:<10} {seconds:>9.2f} {other if other is not None else float('nan'):>11.2f} "
              f"{ratio if ratio is not None else float('nan'):>6.2f}x")
    print(f"goal: metaflow/flowc >= {GOAL} on every operation: {'missed' if missed else 'met'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
