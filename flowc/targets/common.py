"""What the three emitters share, so none of them re-derives it.

- the shim's command line (one builder; each target passes its own expressions for the values
  only the engine knows at run time, such as the run id or the retry count);
- the inline manifest every target hands to the shim;
- the Kubernetes form of a step's resources (Argo and Airflow's pod operator);
- name shortening with a deterministic hash.

Graph facts and decorator meanings are not here: they are in the plan (``flowc.plan``).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, Sequence

from flowc.compiler import ir
from flowc.plan import FlowPlan, Resources
from flowc.runtime_shim.environment import LOCK_ENV
from flowc.runtime_shim.params import BRANCH_ENV, username
from flowc.targets.base import Settings

SHIM_MODULE = "flowc.runtime_shim"
# How every target carries @pypi / @conda: the shim does it, the same way everywhere.
PYTHON_ENVIRONMENT = "built at task start by the shim with uv (docs/environments.md)"
# Code packages: every task starts with the bootstrap (flowc/runtime_shim/bootstrap.py), which
# the spec carries once as an environment variable, so an image needs nothing but Python.
BOOTSTRAP_ENV = "FLOWC_BOOTSTRAP"
BOOTSTRAP_COMMAND = "import os;exec(os.environ['FLOWC_BOOTSTRAP'])"
# The shim enforces @timeout itself (so @catch can record the timeout); an engine's own deadline
# (an Argo pod's activeDeadlineSeconds, a Step Functions Task's TimeoutSeconds) is the backstop
# for a step stuck where the shim cannot interrupt it, so it fires a little later.
DEADLINE_GRACE_SECONDS = 30

# --------------------------------------------------------------------------- the shim command


def flow_file_in_image(flow: ir.Flow, code_dir: str) -> str:
    """Where the flow file is inside the image: its path as compiled, under ``code_dir``."""
    path = PurePath(flow.path)
    relative = PurePosixPath(path.name) if path.is_absolute() else PurePosixPath(path.as_posix())
    return posixpath.join(code_dir, str(relative))


def shim_argv(
    python: str,
    flow_file: str,
    *,
    step: str,
    run_id: str,
    index_path: str | None = None,
    attempt: str | None = None,
    iteration: str | None = None,
    datastore: str | None = None,
    side_channel_dir: str | None = None,
    params: Sequence[tuple[str, str]] = (),
    manifest: str | None = None,
) -> list[str]:
    """The argv that runs one task (docs/contracts.md section 4).

    Every value is either a literal or an engine expression the caller built with its own helper
    (``{{retries}}``, ``$$.State.RetryCount`` via Parameters, an Airflow template); this function
    never quotes: targets serialize the list (YAML/JSON list, ``shlex.join``) themselves.
    """
    argv = [python, "-m", SHIM_MODULE, "--flow-file", flow_file, "--step", step, "--run-id", run_id]
    optional = (
        ("--index-path", index_path),
        ("--attempt", attempt),
        ("--iteration", iteration),
        ("--datastore", datastore),
        ("--side-channel-dir", side_channel_dir),
        ("--manifest", manifest),
    )
    for flag, value in optional:
        if value is not None:
            argv += [flag, value]
    for name, value in params:
        argv += ["--param", f"{name}={value}"]
    return argv


def task_argv(flow: ir.Flow, settings: Settings, **engine_values: Any) -> list[str]:
    """The full command of one task under ``settings``: what every target should call.

    ``engine_values`` are ``shim_argv``'s keyword arguments (step, run_id, index_path, attempt,
    iteration, side_channel_dir, params, manifest). With a code package (``settings.code_package``,
    which ``flowc.build`` sets to the flow's own package by default) the bootstrap fetches the
    archive, verifies its sha256 and runs the shim from it; with code 'image' the image holds the
    flow and flowc.
    """
    engine_values.setdefault("datastore", settings.datastore)
    if settings.code_package:
        # The archive holds the flow file's directory, so the file sits at its top.
        shim = shim_argv(settings.python, PurePath(flow.path).name, **engine_values)
        return [settings.python, "-c", BOOTSTRAP_COMMAND, settings.code_package, *shim[3:]]
    if settings.code == "package":
        raise AssertionError("flowc.build resolves the code package before a target renders")
    return shim_argv(settings.python, flow_file_in_image(flow, settings.code_dir), **engine_values)


@cache
def bootstrap_source() -> str:
    """The bootstrap's code as specs carry it: its module without the docstring, blank lines and
    comment lines."""
    from flowc.runtime_shim import bootstrap

    text = Path(bootstrap.__file__).read_text(encoding="utf-8")
    code = text[text.index('"""', 3) + 3:].splitlines()
    return "\n".join(line for line in code if line.strip() and not line.lstrip().startswith("#")) + "\n"


def inline_manifest(flow: ir.Flow) -> str:
    """The manifest as every spec carries it (once, not per task): JSON laid out for a reviewer,
    one line per field and each small object or list on one line, so an edit to the flow is an
    edit of a few lines of the spec's diff. ``{{`` never appears in it (JSON has none outside
    strings; inside them the second brace is written ``\\u007b``), so no engine reads a template tag."""
    return _layout(ir.to_manifest(flow), 0).replace("{{", "{\\u007b") + "\n"


_ONE_LINE = 96  # an object or list this short, holding no larger one, stays on one line


def _layout(value: object, depth: int) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    nested = isinstance(value, (dict, list)) and any(
        isinstance(v, (dict, list)) and v for v in (value.values() if isinstance(value, dict) else value))
    if not isinstance(value, (dict, list)) or not value or (len(flat) <= _ONE_LINE and not (
            isinstance(value, dict) and nested)):
        return flat
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_layout(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    return "[\n" + ",\n".join(pad + _layout(v, depth + 1) for v in value) + "\n" + "  " * depth + "]"


# --------------------------------------------------------------------------- @project


@dataclass(frozen=True, slots=True)
class ProjectIdentity:
    """Where an @project flow is deployed: its project and branch (Metaflow's naming)."""

    project: str
    branch: str
    flow: str

    @property
    def flow_name(self) -> str:
        """``project.branch.Flow``: the deployment's name on every engine."""
        return f"{self.project}.{self.branch}.{self.flow}"

    @property
    def production(self) -> bool:
        return self.branch == "prod" or self.branch.startswith("prod.")


def project_identity(flow: ir.Flow, settings: Settings) -> ProjectIdentity | None:
    """The flow's @project identity under ``settings`` (``--branch`` / ``--production``); the
    user of a user branch is whoever compiles, as in Metaflow."""
    project: ir.Project | None = flow.decorator(ir.Project)
    if project is None or not project.name:
        return None
    branch = project.branch_name(username(), settings.branch, settings.production or None)
    return ProjectIdentity(project.name, branch, flow.name)


def spec_environment(plan: FlowPlan, settings: Settings) -> list[tuple[str, str]]:
    """Variables every task of a spec gets besides the manifest: the @project branch the spec was
    compiled for (the shim's ``current.branch_name``; the pod's own user is not the deployer),
    the code package's bootstrap, and the hash of the lock file its step environments must be
    installed from."""
    identity = project_identity(plan.flow, settings)
    out = [(BRANCH_ENV, identity.branch)] if identity is not None else []
    if settings.code_package:
        out.append((BOOTSTRAP_ENV, bootstrap_source()))
    if plan.lock_sha256 is not None:
        out.append((LOCK_ENV, plan.lock_sha256))
    return out


# --------------------------------------------------------------------------- Kubernetes


def cpu_quantity(cores: float) -> str:
    """Cores as a Kubernetes quantity: ``2``, ``500m``."""
    return str(int(cores)) if float(cores).is_integer() else f"{int(round(cores * 1000))}m"


def kubernetes_resources(resources: Resources) -> dict[str, dict[str, str]]:
    """A container's ``resources`` (requests, and limits for GPUs) from a step's plan; Argo and
    Airflow's pod operator both write exactly this."""
    out = {"requests": {
        "cpu": cpu_quantity(resources.cpu),
        "memory": f"{resources.memory_mib}Mi",
        "ephemeral-storage": f"{resources.disk_mib}Mi",
    }}
    if resources.gpu:
        out["limits"] = {f"{resources.gpu_vendor}.com/gpu": str(resources.gpu)}
    return out


# --------------------------------------------------------------------------- names


def short_name(name: str, limit: int, separator: str = "-") -> str:
    """``name`` if it fits in ``limit`` characters, else a prefix plus an 8-hex-digit hash of the
    whole name, so distinct long names stay distinct and the result never changes between runs."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    keep = limit - len(digest) - len(separator)
    return name[:keep].rstrip(separator) + separator + digest
