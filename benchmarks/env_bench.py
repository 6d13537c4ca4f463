"""Step-environment benchmark: cold creation of a 3-package @pypi environment, and warm reuse.

Cold: flowc's builder (``uv venv`` + ``uv pip install`` into a new cache entry) against the
baseline Metaflow's @pypi bootstrap would be. Metaflow 2.19 bootstraps @pypi with micromamba,
which it downloads from micro.mamba.pm and which then fetches Python from conda-forge; where that
cannot run (no network but PyPI: the case on flowc's build machines) the script says so and
compares with what a user does by hand instead: ``python -m venv`` + ``pip install``. Both sides
run twice: with their package caches already holding the wheels (the usual case: a new
environment of known packages) and with empty package caches (everything downloaded).

Warm: ``ensure_environment`` on an existing environment (a stat and a readlink), and the whole
per-task cost of an environment: ``python -m flowc.runtime_shim`` for a start step with @pypi
(which re-executes in the environment) minus the same step without it. Goals (issue 12): cold at
least 5x faster than the baseline, warm reuse under 50 ms per task.

    python benchmarks/env_bench.py [--repeat 3] [--skip-metaflow] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowc.compiler import compile_file, ir  # noqa: E402
from flowc.runtime_shim import environment as env  # noqa: E402

PACKAGES = {"requests": "2.32.3", "tabulate": "0.9.0", "pyjokes": "0.8.3"}
METAFLOW_VENV = Path(os.environ.get("FLOWC_BENCH_METAFLOW", ROOT / ".venvs" / "bench-metaflow"))

FLOW = '''
from metaflow import FlowSpec, pypi, step


class EnvBenchFlow(FlowSpec):
    {decorator}
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvBenchFlow()
'''


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def flowc_cold(spec: env.EnvSpec, uv_cache: str | None) -> float:
    """One new environment in a fresh flowc cache (uv's package cache as given)."""
    with tempfile.TemporaryDirectory(prefix="flowc-envs-") as root:
        saved = os.environ.get("UV_CACHE_DIR")
        if uv_cache:
            os.environ["UV_CACHE_DIR"] = uv_cache
        try:
            return timed(lambda: env.ensure_environment(spec, root=root))
        finally:
            if uv_cache:
                os.environ.pop("UV_CACHE_DIR")
                if saved is not None:
                    os.environ["UV_CACHE_DIR"] = saved


def pip_cold(cache: bool) -> float:
    """The baseline: ``python -m venv`` then ``pip install`` of the same pinned packages."""
    wanted = [env.requirement(k, v) for k, v in PACKAGES.items()]
    with tempfile.TemporaryDirectory(prefix="pip-env-") as temp:
        def build() -> None:
            run([sys.executable, "-m", "venv", f"{temp}/venv"], check=True)
            extra = [] if cache else ["--no-cache-dir"]
            run([f"{temp}/venv/bin/pip", "install", "-q", "--disable-pip-version-check", *extra,
                 *wanted], check=True)
        return timed(build)


def metaflow_attempt(workdir: Path) -> tuple[float | None, str]:
    """Metaflow's own @pypi bootstrap, once; (seconds, '') or (None, why it could not run)."""
    python = METAFLOW_VENV / "bin" / "python"
    if not python.exists():
        return None, (f"no Metaflow venv at {METAFLOW_VENV} (python3 -m venv {METAFLOW_VENV} && "
                      f"{METAFLOW_VENV}/bin/pip install metaflow==2.19.39)")
    flow = workdir / "mf_flow.py"
    flow.write_text(FLOW.format(decorator=f"@pypi(packages={PACKAGES!r})"))
    environ = {**os.environ, "USERNAME": "bench", "METAFLOW_HOME": str(workdir / "mfhome")}
    started = time.perf_counter()
    done = run([str(python), str(flow), "--no-pylint", "--environment=pypi", "run"],
               cwd=workdir, env=environ, timeout=900)
    seconds = time.perf_counter() - started
    if done.returncode == 0:
        return seconds, ""
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    why = next((line for line in lines if "failed" in line),
               next((line for line in lines if "error" in line.lower()), lines[-1] if lines else ""))
    return None, why[:200]


def shim_task(workdir: Path, flow_file: Path, manifest: Path, run_id: str,
              environ: dict[str, str] | None = None) -> float:
    args = [sys.executable, "-m", "flowc.runtime_shim", "--flow-file", str(flow_file), "--step",
            "start", "--run-id", run_id, "--manifest", str(manifest), "--datastore",
            str(workdir / "ds")]
    started = time.perf_counter()
    done = run(args, cwd=workdir, env=environ)
    if done.returncode != 0:
        raise SystemExit(f"shim failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - started


def warm_per_task(workdir: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of one start task without and with @pypi (its environment already
    built), the two kinds alternating so the machine's load drifts alike on both."""
    prepared = []
    for name, decorator in (("plain", ""), ("pypi", f"@pypi(packages={PACKAGES!r})")):
        flow_file = workdir / f"{name}_flow.py"
        flow_file.write_text(FLOW.format(decorator=decorator))
        manifest = workdir / f"{name}.json"
        manifest.write_text(ir.dump_manifest(compile_file(flow_file).flow))
        shim_task(workdir, flow_file, manifest, f"{name}-warmup")
        prepared.append((name, flow_file, manifest))
    times: dict[str, list[float]] = {"plain": [], "pypi": []}
    for i in range(repeat):
        for name, flow_file, manifest in prepared:
            times[name].append(shim_task(workdir, flow_file, manifest, f"{name}-{i}"))
    return statistics.median(times["plain"]), statistics.median(times["pypi"])


def host_hop(workdir: Path, repeat: int) -> tuple[float, float, float]:
    """What the shim does before it re-executes (interpreter start, ``import flowc``, manifest,
    cache lookup, exec), measured against an environment whose ``bin/python`` is /bin/true;
    with a bare interpreter start and ``import flowc`` alone beside it (medians, alternating)."""
    flow_file = workdir / "hop_flow.py"
    flow_file.write_text(FLOW.format(decorator=f"@pypi(packages={PACKAGES!r})"))
    flow = compile_file(flow_file).flow
    manifest = workdir / "hop.json"
    manifest.write_text(ir.dump_manifest(flow))
    fake = workdir / "fake-envs"
    env_dir = fake / env.env_key(env.environment_spec(flow, flow.step("start")), None)
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "python").symlink_to("/bin/true")
    (env_dir / env.MARKER).write_text("{}")
    environ = {**os.environ, "FLOWC_ENV_CACHE": str(fake)}
    times: dict[str, list[float]] = {"hop": [], "bare": [], "flowc": []}
    for _ in range(repeat):
        times["hop"].append(shim_task(workdir, flow_file, manifest, "hop", environ))
        times["bare"].append(timed(lambda: run([sys.executable, "-c", "pass"])))
        times["flowc"].append(timed(lambda: run([sys.executable, "-c", "import flowc"])))
    return tuple(statistics.median(times[k]) for k in ("hop", "bare", "flowc"))  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-metaflow", action="store_true")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    spec = env.EnvSpec("pypi", None, tuple(sorted(PACKAGES.items())))
    out: dict[str, object] = {"packages": PACKAGES}
    with tempfile.TemporaryDirectory(prefix="env-bench-") as temp:
        workdir = Path(temp)
        # Images ship compiled bytecode: let the interpreters cache it (outside the tree).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
        if not options.skip_metaflow:
            out["metaflow_seconds"], out["metaflow_unavailable"] = metaflow_attempt(workdir)
        # Warm the package caches once (not timed), then new environments from them.
        flowc_cold(spec, None)
        pip_cold(cache=True)
        out["flowc_cached"] = statistics.median(flowc_cold(spec, None) for _ in range(options.repeat))
        out["pip_cached"] = statistics.median(pip_cold(cache=True) for _ in range(options.repeat))
        out["flowc_empty"] = statistics.median(
            flowc_cold(spec, tempfile.mkdtemp(dir=temp)) for _ in range(options.repeat))
        out["pip_empty"] = statistics.median(pip_cold(cache=False) for _ in range(options.repeat))
        warm_repeat = max(options.repeat * 3, 15)
        with tempfile.TemporaryDirectory(prefix="flowc-envs-") as root:
            env.ensure_environment(spec, root=root)
            calls = 1000
            out["ensure_warm_us"] = timed(lambda: [env.ensure_environment(spec, root=root)
                                                   for _ in range(calls)]) / calls * 1e6
            os.environ["FLOWC_ENV_CACHE"] = root
            out["task_plain"], out["task_pypi"] = warm_per_task(workdir, warm_repeat)
        out["hop"], out["bare_start"], out["import_flowc"] = host_hop(workdir, warm_repeat)
    baseline = out.get("metaflow_seconds") or out["pip_cached"]
    out["baseline"] = "metaflow @pypi" if out.get("metaflow_seconds") else "python -m venv + pip install"
    out["cold_ratio_cached"] = out["pip_cached"] / out["flowc_cached"]
    out["cold_ratio_empty"] = out["pip_empty"] / out["flowc_empty"]
    out["cold_ratio_vs_baseline"] = baseline / out["flowc_cached"]
    ms = {k: out[k] * 1000 for k in ("task_plain", "task_pypi", "hop", "bare_start", "import_flowc")}
    if options.json:
        print(json.dumps(out, indent=2))
    else:
        metaflow = (f"{out['metaflow_seconds']:.2f} s" if out.get("metaflow_seconds")
                    else "cannot run here: " + str(out.get("metaflow_unavailable") or "skipped"))
        print(textwrap.dedent(f"""\
            packages: {', '.join(f'{k}=={v}' for k, v in PACKAGES.items())}
            metaflow @pypi bootstrap: {metaflow}
            cold, package caches warm:  flowc {out['flowc_cached']:.2f} s   venv+pip {out['pip_cached']:.2f} s   ratio {out['cold_ratio_cached']:.1f}x
            cold, package caches empty: flowc {out['flowc_empty']:.2f} s   venv+pip {out['pip_empty']:.2f} s   ratio {out['cold_ratio_empty']:.1f}x
            warm reuse (ensure_environment on an existing environment): {out['ensure_warm_us']:.0f} us
            shim re-exec hop: {ms['hop']:.0f} ms (bare interpreter {ms['bare_start']:.0f} ms, python -c 'import flowc' {ms['import_flowc']:.0f} ms)
            one shim task: {ms['task_pypi']:.0f} ms with @pypi vs {ms['task_plain']:.0f} ms without
            goals: cold >= 5x faster than {out['baseline']}; warm reuse < 50 ms per task"""))
    ok = out["cold_ratio_vs_baseline"] >= 5 and out["ensure_warm_us"] < 50_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
