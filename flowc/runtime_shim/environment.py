"""Step environments (@pypi, @conda and their flow-level bases) built with uv, cached by content.

A step's environment is an :class:`EnvSpec`: the installer family, a Python version and pinned
packages (Metaflow's semantics, :func:`environment_spec`). :func:`ensure_environment` turns it
into a virtual environment under the cache directory (``$FLOWC_ENV_CACHE``, default
``~/.cache/flowc/envs``), named by a hash of (Python version, packages or locked set, platform):

- warm: one ``stat`` of the marker file plus one ``readlink``, so a task pays microseconds;
- cold: under an exclusive ``flock`` per key (``.<key>.lock``), ``uv venv --relocatable`` in a
  temporary directory, ``uv pip install``, the marker written last, then one ``rename`` into place. A crashed builder
  leaves only a temporary directory; a second builder waits for the first and reuses its result.

The environment does not get flowc installed: a ``.pth`` file (relative, so the environment
stays relocatable) adds ``<env>/flowc-runtime`` to ``sys.path``, where a symlink points at the
running flowc package. Nothing else of flowc's own environment leaks into the step's.

When ``flowc lock`` wrote ``<flow>.flowc.lock`` beside the flow file, a task installs exactly the
locked, hash-checked set for its spec (``uv pip install --no-deps --require-hashes``).

@conda: uv installs PyPI packages only. Conda package names are mapped to their PyPI names
(:data:`CONDA_TO_PYPI`, else the same name); packages that exist only on conda channels
(:data:`CONDA_ONLY`, ``r-*``) are refused by name (docs/environments.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from flowc.compiler import ir
from flowc.exceptions import FlowcException

MARKER = "flowc-env.json"
RUNTIME_DIR = "flowc-runtime"
LOCK_SUFFIX = ".flowc.lock"
LOCK_VERSION = 1
# What `flowc lock` resolves for: the containers every target runs in.
LOCK_PLATFORM = "x86_64-unknown-linux-gnu"
# Needed by the shim itself inside the step's environment for S3 and Secrets Manager.
RUNTIME_PACKAGES = ("boto3",)

# Conda names whose PyPI distribution is called differently.
CONDA_TO_PYPI = {
    "pytorch": "torch", "pytorch-cpu": "torch", "py-xgboost": "xgboost",
    "py-opencv": "opencv-python", "msgpack-python": "msgpack", "pytables": "tables",
    "matplotlib-base": "matplotlib", "tensorflow-base": "tensorflow", "py-lightgbm": "lightgbm",
    "python-graphviz": "graphviz", "pyqt": "PyQt5", "ruamel_yaml": "ruamel.yaml",
}
# Conda packages with no installable PyPI counterpart: system libraries, compilers, runtimes.
CONDA_ONLY = frozenset({
    "python", "cudatoolkit", "cudnn", "nccl", "cuda-toolkit", "cuda-nvcc", "mkl-service", "libgcc",
    "libgcc-ng", "libstdcxx-ng", "gcc", "gxx", "gfortran", "compilers", "make", "openblas",
    "libblas", "liblapack", "blas", "ffmpeg", "graphviz-bin", "openjdk", "nodejs", "r-base",
    "r-essentials", "gdal-bin", "libgdal", "proj", "geos", "hdf5", "libnetcdf", "openssl", "zlib",
    "curl", "git", "imagemagick", "poppler", "tesseract", "sqlite", "libxml2", "boost",
    "boost-cpp", "eigen", "openmpi", "mpich",
})


class StepEnvironmentError(FlowcException):
    headline = "step environment"


class EnvironmentBuildError(StepEnvironmentError):
    """uv failed (an index unreachable, a package missing): another attempt may succeed."""


@dataclass(frozen=True, slots=True)
class EnvSpec:
    """What a step's environment contains. ``python`` None means the running interpreter's."""

    kind: str  # "pypi" | "conda"
    python: str | None
    packages: tuple[tuple[str, str], ...]  # sorted by name

    @property
    def spec_id(self) -> str:
        """The lock file's key: the decorators' content, independent of machine and lock."""
        text = json.dumps([self.kind, self.python, [list(p) for p in self.packages]])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    def with_packages(self, extra: Sequence[str]) -> EnvSpec:
        """Add packages the runtime needs (unpinned) unless the user already names them."""
        names = {name.lower() for name, _ in self.packages}
        added = tuple((name, "") for name in extra if name.lower() not in names)
        return EnvSpec(self.kind, self.python, tuple(sorted(self.packages + added)))


# --------------------------------------------------------------------------- spec from the IR


@dataclass(frozen=True, slots=True)
class _Layer:
    packages: dict[str, str]
    python: str | None
    disabled: bool


def _layer(own: Any, base: Any) -> _Layer | None:
    """A step decorator over its flow-level base: packages augmented (the step's win by name,
    conda's deprecated ``libraries=`` merged in), ``python`` and ``disabled`` inherited when the
    step leaves them unset."""
    if own is None and base is None:
        return None
    packages: dict[str, str] = {}
    python = None
    disabled = None
    for deco in (base, own):
        if deco is None:
            continue
        packages.update({str(k): str(v) for k, v in getattr(deco, "libraries", ())})
        packages.update({str(k): str(v) for k, v in deco.packages})
        python = deco.python or python
        if deco.disabled is not None:
            disabled = deco.disabled
    return _Layer(packages, str(python) if python else None, bool(disabled))


def environment_spec(flow: ir.Flow, step: ir.Step) -> EnvSpec | None:
    """The step's environment, as Metaflow 2.19 resolves it; None when the step has none.

    @pypi over @pypi_base and @conda over @conda_base each merge as :func:`_layer` says; either
    one disabled means the image's own interpreter; PyPI and conda packages together in one step
    are refused (Metaflow: "Mixing and matching ... is not yet supported"); @pypi's ``python``
    falls back on @conda's.
    """
    pypi = _layer(step.decorator(ir.Pypi), flow.decorator(ir.PypiBase))
    conda = _layer(step.decorator(ir.Conda), flow.decorator(ir.CondaBase))
    present = [layer for layer in (pypi, conda) if layer is not None]
    if not present or any(layer.disabled for layer in present):
        return None
    if pypi is not None and conda is not None and pypi.packages and conda.packages:
        raise StepEnvironmentError(f"step {step.name!r} mixes @pypi and @conda packages; use "
                                   "one of @pypi or @conda (and its _base form) only")
    use_conda = conda is not None and (bool(conda.packages) or pypi is None)
    kind, chosen = ("conda", conda) if use_conda else ("pypi", pypi)
    assert chosen is not None
    python = (pypi.python if pypi else None) or (conda.python if conda else None)
    return EnvSpec(kind, python, tuple(sorted(chosen.packages.items())))


def requirement(name: str, version: str) -> str:
    """``name==version`` for a bare version, ``name>=1,<2`` for a specifier, ``name`` for none."""
    version = version.strip()
    if not version:
        return name
    if version[0] in "<>=!~":
        return f"{name}{version}"
    return f"{name}=={version}"


def conda_only(spec: EnvSpec) -> list[str]:
    """The @conda packages uv cannot install (no PyPI counterpart); empty for @pypi."""
    if spec.kind != "conda":
        return []
    return [name for name, _ in spec.packages
            if name.lower() in CONDA_ONLY or name.lower().startswith("r-")]


def requirements(spec: EnvSpec) -> list[str]:
    """The PEP 508 requirements uv installs for ``spec`` (conda names mapped to PyPI's)."""
    refused = conda_only(spec)
    if refused:
        raise StepEnvironmentError(
            f"@conda package(s) {', '.join(refused)} exist only on conda channels and flowc "
            "installs with uv from PyPI: install them in the image (docs/environments.md)")
    out = []
    for name, version in spec.packages:
        if spec.kind == "conda":
            name = CONDA_TO_PYPI.get(name.lower(), name)
            if version.startswith("=") and not version.startswith("=="):
                version = f"=={version[1:]}.*"  # conda's fuzzy '=1.2' is PEP 440's '==1.2.*'
        out.append(requirement(name, version))
    return out


# --------------------------------------------------------------------------- lock files


def lock_path(flow_file: str) -> str:
    """``flows/train.py`` -> ``flows/train.flowc.lock``."""
    return os.path.splitext(flow_file)[0] + LOCK_SUFFIX


def read_lock(flow_file: str) -> dict[str, Any] | None:
    """The lock file beside ``flow_file``, or None when there is none."""
    path = lock_path(flow_file)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StepEnvironmentError(f"lock file {path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise StepEnvironmentError(f"lock file {path} is not a version {LOCK_VERSION} flowc lock; "
                                   "run flowc lock again")
    return data


def lock_hash(flow_file: str) -> str | None:
    """sha256 of the lock file's bytes (what a compiled spec embeds), or None without a lock."""
    try:
        with open(lock_path(flow_file), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None


LOCK_ENV = "FLOWC_LOCK_SHA256"  # set by every compiled spec of a flow with step environments


def check_lock_hash(flow_file: str) -> None:
    """Refuse a lock file other than the one the spec was compiled with (``FLOWC_LOCK_SHA256``,
    set by the compiled spec; ``none`` when it was compiled without a lock)."""
    expected = os.environ.get(LOCK_ENV, "").strip()
    if not expected:
        return
    actual = lock_hash(flow_file) or "none"
    if actual != expected:
        raise StepEnvironmentError(
            f"lock file {lock_path(flow_file)} (sha256 {actual[:12]}) is not the one the flow was "
            f"compiled with (sha256 {expected[:12]}): compile again after flowc lock")


def locked_entry(lock: dict[str, Any] | None, spec: EnvSpec, flow_file: str) -> dict[str, Any] | None:
    """The lock's entry for ``spec``; a lock that lacks it is stale and refused."""
    if lock is None:
        return None
    entry = lock.get("environments", {}).get(spec.spec_id)
    if entry is None:
        raise StepEnvironmentError(f"lock file {lock_path(flow_file)} has no entry for this step's "
                                   "environment (the decorators changed): run flowc lock again")
    return entry


# --------------------------------------------------------------------------- the cache


def cache_root() -> str:
    return os.environ.get("FLOWC_ENV_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                              "flowc", "envs")


def platform_tag() -> str:
    return f"{sys.platform}-{os.uname().machine}"


def python_version(spec: EnvSpec) -> str:
    return spec.python or f"{sys.version_info.major}.{sys.version_info.minor}"


def env_key(spec: EnvSpec, entry: dict[str, Any] | None) -> str:
    """Names the environment: Python version, the locked set (or the packages), platform."""
    content: Any = entry["requirements"] if entry else [list(p) for p in spec.packages]
    python = entry["python"] if entry else python_version(spec)
    text = json.dumps([python, content, platform_tag()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def env_python(env_dir: str) -> str:
    return os.path.join(env_dir, "bin", "python")


def uv_command() -> list[str]:
    """How to call uv: the ``uv`` on PATH, else next to this interpreter, else ``python -m uv``."""
    found = shutil.which("uv") or shutil.which("uv", path=os.path.dirname(sys.executable))
    if found:
        return [found]
    import importlib.util

    try:
        found_module = importlib.util.find_spec("uv") is not None
    except (ImportError, ValueError):
        found_module = False
    if not found_module:
        raise StepEnvironmentError("uv is not installed: this step has @pypi/@conda and flowc "
                                   "builds its environment with uv (pip install uv)")
    return [sys.executable, "-m", "uv"]


def _runtime_link(env_dir: str) -> None:
    """Point ``<env>/flowc-runtime/flowc`` at the running flowc package (atomic when it moved)."""
    target = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../flowc
    link = os.path.join(env_dir, RUNTIME_DIR, "flowc")
    try:
        if os.readlink(link) == target:
            return
    except OSError:
        pass
    os.makedirs(os.path.dirname(link), exist_ok=True)
    temp = f"{link}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    os.symlink(target, temp)
    os.replace(temp, link)


@contextlib.contextmanager
def _exclusive(path: str) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_environment(spec: EnvSpec, entry: dict[str, Any] | None = None,
                       root: str | None = None) -> str:
    """The environment's directory, built now if the cache does not have it yet."""
    root = root or cache_root()
    env_dir = os.path.join(root, env_key(spec, entry))
    if os.path.exists(os.path.join(env_dir, MARKER)):
        _runtime_link(env_dir)
        return env_dir
    os.makedirs(root, exist_ok=True)
    # Hidden, like the temporary build directories: the cache holds only environments to see.
    with _exclusive(os.path.join(root, f".{os.path.basename(env_dir)}.lock")):
        if not os.path.exists(os.path.join(env_dir, MARKER)):
            _build(spec, entry, root, env_dir)
    _runtime_link(env_dir)
    return env_dir


def _run_uv(args: list[str], what: str, hint: str = "") -> None:
    import subprocess

    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stdout.strip().splitlines() if line.strip()]
        detail = " / ".join(lines[-3:]) if lines else f"exit code {result.returncode}"
        raise EnvironmentBuildError(f"{what} failed: {detail}{hint}")


def _build(spec: EnvSpec, entry: dict[str, Any] | None, root: str, env_dir: str) -> None:
    import glob
    import tempfile

    uv = uv_command()
    started = time.monotonic()
    what = "the locked set" if entry else (", ".join(requirements(spec)) or "no packages")
    print(f"flowc: building a step environment ({what}) in {env_dir}", file=sys.stderr, flush=True)
    python = entry["python"] if entry else python_version(spec)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    interpreter = sys.executable if python in (here, sys.version.split()[0]) else python
    temp = tempfile.mkdtemp(prefix=".build-", dir=root)
    try:
        _run_uv([*uv, "venv", "--quiet", "--relocatable", "--python", interpreter, temp],
                f"creating a Python {python} environment",
                f" (uv finds Python {python} on PATH or among its own installs, else downloads it)")
        target = ["--python", env_python(temp)]
        if entry:
            locked = os.path.join(temp, "flowc-requirements.txt")
            with open(locked, "w", encoding="utf-8") as handle:
                handle.write("".join(f"{line}\n" for line in entry["requirements"]))
            _run_uv([*uv, "pip", "install", "--quiet", *target, "--no-deps", "--require-hashes",
                     "-r", locked], "installing the locked packages")
        elif spec.packages:
            _run_uv([*uv, "pip", "install", "--quiet", *target, *requirements(spec)],
                    f"installing {', '.join(requirements(spec))}")
        for site in glob.glob(os.path.join(temp, "lib", "python*", "site-packages")):
            with open(os.path.join(site, "_flowc_runtime.pth"), "w", encoding="utf-8") as handle:
                handle.write(os.path.join("..", "..", "..", RUNTIME_DIR) + "\n")
        with open(os.path.join(temp, MARKER), "w", encoding="utf-8") as handle:
            json.dump({"spec": [spec.kind, spec.python, [list(p) for p in spec.packages]],
                       "python": python, "locked": bool(entry), "platform": platform_tag(),
                       "build_seconds": round(time.monotonic() - started, 3)}, handle)
        if os.path.isdir(env_dir):  # a crashed builder's partial directory, no marker
            shutil.rmtree(env_dir)
        os.rename(temp, env_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- the shim's hook
# (imports kept to the standard library's cheapest: this runs before every task of such a step)


def runtime_packages(step: ir.Step, datastore: str) -> tuple[str, ...]:
    """What the shim itself imports inside the environment: boto3 for S3 or Secrets Manager."""
    if datastore.startswith("s3://"):
        return RUNTIME_PACKAGES
    secrets = step.decorator(ir.Secrets)
    if secrets is not None:
        from flowc.runtime_shim.step_env import needs_aws

        if needs_aws(secrets.sources):
            return RUNTIME_PACKAGES
    return ()


def prepare(flow: ir.Flow, step_name: str, flow_file: str, datastore: str) -> str | None:
    """The interpreter the step must run in, or None when it runs in this one."""
    step = flow.step(step_name)
    spec = environment_spec(flow, step)
    if spec is None:
        return None
    check_lock_hash(flow_file)
    entry = locked_entry(read_lock(flow_file), spec, flow_file)
    if entry is None:
        spec = spec.with_packages(runtime_packages(step, datastore))
    if os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(cache_root(), env_key(spec, entry))):
        return None  # already re-executed into it
    return env_python(ensure_environment(spec, entry))
