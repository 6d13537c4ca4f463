"""What the three emitters share, so none of them re-derives it.

- the shim's command line (one builder; each target passes its own expressions for the values
  only the engine knows at run time, such as the run id or the retry count);
- the inline manifest every target hands to the shim;
- graph facts every lowering needs (the fan-outs enclosing a step, a topological order);
- name shortening with a deterministic hash;
- the vocabulary of constructs behind each target's capability table, and the diagnostic a target
  returns for a construct it cannot express.
"""

from __future__ import annotations

import hashlib
import heapq
import posixpath
from pathlib import PurePath, PurePosixPath
from typing import TYPE_CHECKING, Sequence

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, Diagnostic

if TYPE_CHECKING:
    from flowc.targets import Settings

SHIM_MODULE = "flowc.runtime_shim"
CODE_PACKAGE_MODULE = "flowc.runtime_shim.code_package"

# Constructs a capability table speaks of, in the order `flowc targets` prints them.
CONSTRUCTS: tuple[tuple[str, str], ...] = (
    ("linear", "linear steps"),
    ("split", "static branches and their join"),
    ("foreach", "foreach fan-out and join"),
    ("foreach_multi_step", "foreach with a multi-step body"),
    ("nested_foreach", "foreach inside a foreach"),
    ("switch", "switch (self.next({...}, condition=...))"),
    ("recursion", "a switch step looping to itself"),
    ("parallel", "@parallel / num_parallel gangs"),
    ("parameters", "Parameter / JSONType"),
    ("include_file", "IncludeFile"),
    ("retry", "@retry"),
    ("catch", "@catch"),
    ("timeout", "@timeout"),
    ("resources", "@resources"),
    ("kubernetes", "@kubernetes"),
    ("batch", "@batch"),
    ("environment", "@environment"),
    ("secrets", "@secrets"),
    ("schedule", "@schedule"),
    ("trigger", "@trigger"),
    ("trigger_on_finish", "@trigger_on_finish"),
    ("project", "@project"),
    ("exit_hook", "@exit_hook"),
)


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


def task_argv(flow: ir.Flow, settings: "Settings", **engine_values: object) -> list[str]:
    """The full command of one task under ``settings``: what every target should call.

    ``engine_values`` are ``shim_argv``'s keyword arguments (step, run_id, index_path, attempt,
    iteration, side_channel_dir, params, manifest). With ``settings.code_package`` the shim is
    started through the code-package bootstrap, which downloads the archive, verifies its sha256
    and runs the shim from the extracted directory; otherwise the code is baked into the image.
    """
    engine_values.setdefault("datastore", settings.datastore_root)
    if settings.code_package:
        # `flowc package` archives the flow file's directory, so the file sits at the top.
        shim = shim_argv(settings.python, PurePath(flow.path).name, **engine_values)
        return [settings.python, "-m", CODE_PACKAGE_MODULE, "--package", settings.code_package,
                "--", *shim[3:]]
    return shim_argv(settings.python, flow_file_in_image(flow, settings.code_dir), **engine_values)


def inline_manifest(flow: ir.Flow) -> str:
    """The manifest in the shim's ``z:`` inline form, to carry once per spec (not per task)."""
    from flowc.runtime_shim.manifest_source import encode_inline

    return encode_inline(flow)


# --------------------------------------------------------------------------- graph facts


def topological_order(flow: ir.Flow) -> tuple[str, ...]:
    """Steps in a topological order that breaks ties by source order (recursion edges ignored)."""
    position = {name: i for i, name in enumerate(flow.step_names)}
    indegree = dict.fromkeys(position, 0)
    for s in flow.steps:
        for target in set(s.transition.targets):
            if target != s.name and target in indegree:
                indegree[target] += 1
    ready = [position[n] for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = flow.steps[heapq.heappop(ready)].name
        order.append(name)
        for target in set(flow.step(name).transition.targets):
            if target == name or target not in indegree:
                continue
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, position[target])
    return tuple(order)


def enclosing(step: ir.Step) -> tuple[str, ...]:
    """The split, foreach and parallel steps whose region ``step`` runs in, outermost first.

    A join's ``split_parents`` end with the split it closes (Metaflow's convention), but the join
    itself runs outside that region.
    """
    return step.split_parents[:-1] if step.is_join else step.split_parents


def foreach_stack(flow: ir.Flow, step: ir.Step) -> tuple[str, ...]:
    """The foreach and parallel steps enclosing ``step``, outermost first: one per entry of its
    index path."""
    return tuple(
        p for p in enclosing(step) if isinstance(flow.step(p).transition, (ir.Foreach, ir.Parallel))
    )


def foreach_depth(step: ir.Step, flow: ir.Flow) -> int:
    """The length of ``step``'s index path."""
    return len(foreach_stack(flow, step))


# --------------------------------------------------------------------------- names


def short_name(name: str, limit: int, separator: str = "-") -> str:
    """``name`` if it fits in ``limit`` characters, else a prefix plus an 8-hex-digit hash of the
    whole name, so distinct long names stay distinct and the result never changes between runs."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    keep = limit - len(digest) - len(separator)
    return name[:keep].rstrip(separator) + separator + digest


# --------------------------------------------------------------------------- unsupported constructs


def unsupported(code: str, construct: str, target: str, span: ir.Span, way_out: str) -> Diagnostic:
    """The error a target returns for a construct it cannot express, pointing at the source."""
    return Diagnostic(
        code=code,
        message=f"{construct} cannot be expressed on {target}",
        span=span,
        severity=ERROR,
        hint=way_out,
    )
