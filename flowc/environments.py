"""The development side of step environments: ``flowc lock`` and pre-built environments.

``flowc lock FLOW`` resolves each distinct @pypi/@conda environment of the flow with
``uv pip compile`` for the containers the targets run in (Linux x86_64, the step's Python) and
writes ``<flow>.flowc.lock`` beside the flow: reviewable JSON whose entries, keyed by the
environment's spec id, hold the pinned requirements with their hashes. The lock travels with the
flow (the code package takes every file of the flow's directory); a task that finds it installs
exactly that set. ``lock_hash`` (the runtime shim's) is what a compiled spec embeds.

``prebuild`` builds every environment of a flow into a directory (``flowc package
--environments DIR``): run it in the image build and point ``FLOWC_ENV_CACHE`` at ``DIR``, and
tasks start with no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flowc.compiler import ir
from flowc.runtime_shim import environment as env
from flowc.runtime_shim.environment import EnvSpec, StepEnvironmentError


def flow_environments(flow: ir.Flow) -> dict[str, tuple[EnvSpec, tuple[str, ...]]]:
    """Each distinct environment of the flow by spec id, with the steps that use it."""
    found: dict[str, tuple[EnvSpec, tuple[str, ...]]] = {}
    for step in flow.steps:
        spec = env.environment_spec(flow, step)
        if spec is not None:
            steps = found.get(spec.spec_id, (spec, ()))[1]
            found[spec.spec_id] = (spec, (*steps, step.name))
    return found


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the shim would refuse at run time, found at compile time (for a diagnostic)."""

    step: str
    span: ir.Span
    message: str


def problems(flow: ir.Flow, flow_file: Path | None = None) -> list[Problem]:
    """Environments the shim would refuse: PyPI and conda packages mixed in one step, conda-only
    packages, and (given the flow file) a lock beside it that misses the step."""
    out: list[Problem] = []
    lock = env.read_lock(str(flow_file)) if flow_file is not None else None
    for step in flow.steps:
        deco = next((d for d in step.decorators if isinstance(d, (ir.Pypi, ir.Conda))), None)
        span = deco.span if deco is not None else step.span
        try:
            spec = env.environment_spec(flow, step)
            if spec is not None:
                env.requirements(spec)
                if flow_file is not None:
                    env.locked_entry(lock, spec, str(flow_file))
        except StepEnvironmentError as exc:
            out.append(Problem(step.name, span, str(exc)))
    return out


def resolve(spec: EnvSpec, python: str, platform: str = env.LOCK_PLATFORM) -> list[str]:
    """The pinned, hashed requirement set of ``spec`` (plus the shim's own needs) for
    ``python`` on ``platform``, as ``uv pip compile`` writes it."""
    wanted = env.requirements(spec.with_packages(env.RUNTIME_PACKAGES))
    with tempfile.TemporaryDirectory(prefix="flowc-lock-") as temp:
        source = os.path.join(temp, "requirements.in")
        Path(source).write_text("\n".join(wanted) + "\n", encoding="utf-8")
        result = subprocess.run(
            [*env.uv_command(), "pip", "compile", "--quiet", "--generate-hashes", "--no-header",
             "--no-annotate", "--python-version", python, "--python-platform", platform, source],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise StepEnvironmentError(f"resolving {', '.join(wanted)} for Python {python} failed: "
                                   + (" / ".join(lines[-3:]) or f"exit code {result.returncode}"))
    return _one_line_each(result.stdout)


def _one_line_each(text: str) -> list[str]:
    """``uv pip compile``'s output as one requirement per entry (hashes on the same line), so
    the lock reviews as one JSON line per package."""
    joined = text.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def build_lock(flow: ir.Flow, platform: str = env.LOCK_PLATFORM) -> dict:
    """The lock file's content for every environment of ``flow``."""
    environments = {}
    for spec_id, (spec, steps) in sorted(flow_environments(flow).items()):
        python = env.python_version(spec)
        environments[spec_id] = {
            "kind": spec.kind, "python": python, "steps": list(steps),
            "packages": dict(spec.packages),
            "requirements": resolve(spec, python, platform),
        }
    return {"version": env.LOCK_VERSION, "platform": platform, "environments": environments}


def write_lock(flow: ir.Flow, flow_file: Path, platform: str = env.LOCK_PLATFORM) -> Path | None:
    """Write ``<flow>.flowc.lock`` (atomically); None, and no file, for a flow without
    environments (an old lock is removed: it would only be stale)."""
    path = Path(env.lock_path(str(flow_file)))
    if not flow_environments(flow):
        path.unlink(missing_ok=True)
        return None
    text = json.dumps(build_lock(flow, platform), indent=2, sort_keys=True) + "\n"
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)
    return path


def stale_environments(flow: ir.Flow, flow_file: Path) -> list[str]:
    """Steps whose environment the lock beside the flow does not cover (all of them without a
    lock); empty when the lock is current. Resolves nothing: cheap enough for a CI check."""
    lock = env.read_lock(str(flow_file)) or {}
    locked = lock.get("environments", {})
    return [step for spec_id, (_spec, steps) in flow_environments(flow).items()
            if spec_id not in locked for step in steps]


def prebuild(flow: ir.Flow, flow_file: Path, directory: Path) -> list[Path]:
    """Build every environment of ``flow`` into ``directory`` as tasks will look them up
    (locked when the lock is there, else with the shim's S3 needs added)."""
    lock = env.read_lock(str(flow_file))
    built = []
    for spec, _steps in flow_environments(flow).values():
        entry = env.locked_entry(lock, spec, str(flow_file))
        if entry is None:
            spec = spec.with_packages(env.RUNTIME_PACKAGES)
        built.append(Path(env.ensure_environment(spec, entry, root=str(directory))))
    return built
