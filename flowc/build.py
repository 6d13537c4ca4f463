"""Compile many flows to many targets in one process, and compare with committed specs.

This is what ``flowc compile`` and ``flowc.compile()`` call. Output naming is part of the public
contract (CI jobs and reviewers rely on it): ``<output-dir>/<target>/<flow file stem><ext>``,
the same shape as ``golden/<target>/<case><ext>``; a flow found under a directory argument keeps
its folder below that directory (``flows/a/flow.py`` -> ``<target>/a/flow<ext>``), so projects
with one ``flow.py`` per folder compile in one command.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from flowc.compiler import ir
from flowc.compiler.diagnostics import ERROR, CompileError, Diagnostic, register
from flowc.compiler.ir import Span
from flowc.package import PackageError, assemble, place_archive
from flowc.targets import Settings, target_names

NO_FLOW_FILES = register(
    "FLOW300", "no flow files",
    """A directory given to `flowc compile` holds no Python file that defines a FlowSpec subclass.
    Name the flow files directly, or check that the directory is the right one.""",
)
OUTPUT_CLASH = register(
    "FLOW301", "two flows map to the same output file",
    """Outputs are named `<output-dir>/<target>/<flow file stem><ext>`, below the flow's folder
    relative to the directory argument it was found in (`flowc compile flows/` writes
    `flows/a/flow.py` to `<target>/a/flow<ext>`). Two flow files named on the command line with the
    same stem would overwrite each other: compile their common directory instead, or compile them
    into different output directories.""",
)
NO_CODE_PACKAGE = register(
    "FLOW303", "code package cannot be built",
    """With `code = "package"` (the default) every spec names the flow's code package: its directory,
    the project modules it imports and flowc's runtime, archived and named by content. Building it
    failed (a file that cannot be read, a symbolic link leaving the project, a project module named
    `flowc`). Fix what the message names, or set `code = "image"` and bake the code into the
    image.""",
)
MISSING_OUTPUT = register(
    "FLOW302", "committed spec missing",
    """`flowc compile --check` found no committed spec where one is expected. Run the same command
    without `--check` to write it, and commit it.""",
)


@dataclass(frozen=True, slots=True)
class CodePackage:
    """The archive a spec's tasks fetch: where they fetch it, and its bytes."""

    url: str
    data: bytes

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Output:
    flow_file: Path
    target: str
    relative: Path  # <target>/<stem><ext>
    text: str
    package: CodePackage | None = None  # the flow's code package, which the spec names
    # the deploy-time environment reads of its flow (``--check`` tells a spec that differs only
    # because they changed)
    environment: tuple[ir.Evaluated, ...] = ()


@dataclass(frozen=True, slots=True)
class BuildResult:
    outputs: tuple[Output, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(d.severity == ERROR for d in self.diagnostics)


def parse_targets(spec: str) -> tuple[str, ...]:
    """``argo,sfn`` or ``all`` -> target names in the canonical order; raises ValueError."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    known = target_names()
    if names == ["all"]:
        return known
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"unknown target {', '.join(map(repr, unknown)) or repr(spec)}; "
            f"choose from {', '.join(known)} or 'all'"
        )
    return tuple(n for n in known if n in names)


def expand_paths(paths: Sequence[Path], origins: dict[Path, Path] | None = None
                 ) -> tuple[list[Path], list[Diagnostic]]:
    """Files as given; directories expanded to their ``*.py`` files that mention ``FlowSpec``
    (a cheap textual filter: the front end still decides what is a flow). ``origins`` receives
    the directory argument each expanded file was found under."""
    files: list[Path] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*.py")) if _may_be_flow(p)]
            if not found:
                diagnostics.append(Diagnostic(NO_FLOW_FILES, f"no flow files under {path}",
                                              _file_span(path)))
            files.extend(found)
            if origins is not None:
                origins.update((p, path) for p in found)
        else:
            files.append(path)
    return files, diagnostics


def _may_be_flow(path: Path) -> bool:
    """Whether a ``*.py`` file found in a directory is worth compiling: it mentions FlowSpec, or
    it cannot be read as a regular file (a broken link, a FIFO), which compiling then reports in
    one line instead of hanging or raising here."""
    from flowc.compiler import read_regular_file

    try:
        return b"FlowSpec" in read_regular_file(path)
    except CompileError:
        return True


def build(paths: Sequence[Path], targets: Sequence[str], overrides: Mapping[str, Any],
          flow_name: str | None = None, outputs_at: Sequence[Path] = ()) -> BuildResult:
    """Compile every flow file once and emit it for every target. ``outputs_at`` (the output
    directory or file) never goes into a code package: specs must not depend on earlier specs."""
    from flowc.compiler import compile_file
    from flowc.plan import build as build_plan
    from flowc.runtime_shim.environment import lock_hash
    from flowc.settings import load_settings, project_paths
    from flowc.targets import get_target

    origins: dict[Path, Path] = {}
    files, diagnostics = expand_paths(paths, origins)
    outputs: list[Output] = []
    owners: dict[Path, Path] = {}
    for flow_file in files:
        try:
            result = compile_file(flow_file, flow_name=flow_name)
        except CompileError as error:
            diagnostics.extend(error.diagnostics)
            continue
        diagnostics.extend(result.diagnostics)
        settings = load_settings(flow_file, overrides)
        try:
            settings, package = code_package_for(flow_file, settings, outputs_at)
        except PackageError as error:
            diagnostics.append(Diagnostic(NO_CODE_PACKAGE, f"code package: {error}", _file_span(flow_file)))
            continue
        relocations = project_paths(flow_file, ir.source_paths(result.flow))
        plan = build_plan(ir.relocate(result.flow, relocations), lock_sha256=lock_hash(str(flow_file)))
        back = {relocated: given for given, relocated in relocations.items()}
        environment = tuple(e for e in result.flow.evaluated if e.kind == "environment")
        for target in targets:
            emitted = get_target(target).emit(plan, settings)
            diagnostics.extend(ir.relocate(d, back) for d in emitted.diagnostics)
            if any(d.severity == ERROR for d in emitted.diagnostics):
                continue
            folder = flow_file.parent.relative_to(origins[flow_file]) if flow_file in origins else Path()
            relative = Path(target) / folder / f"{flow_file.stem}{emitted.extension}"
            if relative in owners and owners[relative] != flow_file:
                diagnostics.append(_clash(flow_file, owners[relative], relative))
                continue
            owners[relative] = flow_file
            outputs.append(Output(flow_file, target, relative, emitted.text, package, environment))
    return BuildResult(tuple(outputs), tuple(diagnostics))


def code_package_for(flow_file: Path, settings: Settings, leave_out: Sequence[Path] = ()
                     ) -> tuple[Settings, CodePackage | None]:
    """With code 'package' and no ``code_package`` URL given: the flow's own package, named by
    its content in ``code_package_dir``, and the settings naming it. Raises ``PackageError``."""
    if settings.code != "package" or settings.code_package or settings.datastore_root is None:
        return settings, None
    data, built = assemble(flow_file, leave_out={p.resolve() for p in leave_out})
    url = settings.package_url(built.path.name)
    return dataclasses.replace(settings, code_package=url), CodePackage(url, data)


def write_packages(outputs: Iterable[Output], directory: Path) -> list[Path]:
    """Write each distinct code package the outputs name into ``directory`` (kept when already
    there: the name is the content)."""
    written = []
    for package in {o.package.name: o.package for o in outputs if o.package is not None}.values():
        written.append(place_archive(directory / package.name, package.data, keep_existing=True))
    return written


def in_project(flow_file: Path, flow: ir.Flow) -> ir.Flow:
    """``flow`` with its paths relative to its project, as every spec names them."""
    from flowc.settings import project_paths

    return ir.relocate(flow, project_paths(flow_file, ir.source_paths(flow)))


def write_outputs(outputs: Iterable[Output], output_dir: Path) -> list[Path]:
    """Write each output atomically and return the paths written; ``OSError`` says which failed."""
    written = []
    for output in outputs:
        path = output_dir / output.relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, output.text)
        written.append(path)
    return written


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file renamed over ``path``, so a failed write (full disk, no
    permission) never leaves a truncated spec; raises ``OSError`` naming ``path``.

    A path that is not a regular file (``/dev/stdout``, ``/dev/full``, a FIFO) cannot be
    renamed over, so it is written in place."""
    if path.is_symlink() and path.resolve().is_file():
        path = path.resolve()  # write the file the link names, keep the link
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if path.exists() and not path.is_file():
        try:  # non-blocking open: a FIFO nobody reads is an error (ENXIO), not a hang
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            with open(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        return
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def check_outputs(outputs: Iterable[Output], output_dir: Path, overrides: Mapping[str, Any] | None = None,
                  flow_name: str | None = None, outputs_at: Sequence[Path] = ()
                  ) -> tuple[str, list[Diagnostic], list[str]]:
    """A unified diff of every committed spec that differs from what flowc generates now, and one
    line per spec that differs only because deploy-time environment values changed (recompiled
    with the values its committed manifest records, it is the same): those get no diff."""
    from flowc.compiler import read_regular_file

    outputs = list(outputs)
    diffs: list[str] = []
    diagnostics: list[Diagnostic] = []
    environment_only: list[str] = []
    committed_texts: dict[Path, str] = {}
    for output in outputs:
        path = output_dir / output.relative
        if not path.exists():
            diagnostics.append(Diagnostic(MISSING_OUTPUT, f"{path} does not exist",
                                          _file_span(output.flow_file)))
            continue
        try:
            committed_bytes = read_regular_file(path, limit=max(len(output.text) * 4, 1 << 20))
        except CompileError as error:
            diagnostics.extend(error.diagnostics)
            continue
        # A committed file that is not UTF-8 differs: show it (bytes replaced) rather than fail.
        committed_texts[output.relative] = committed_bytes.decode("utf-8", errors="replace")
    for output in outputs:
        if output.relative not in committed_texts or committed_texts[output.relative] == output.text:
            continue
        committed = committed_texts[output.relative]
        path = output_dir / output.relative
        siblings = [(o.target, committed_texts[o.relative]) for o in outputs
                    if o.flow_file == output.flow_file and o.relative in committed_texts]
        line = _environment_only(output, committed, siblings, overrides or {}, flow_name, outputs_at)
        if line is not None:
            environment_only.append(f"{path}: {line}")
            continue
        diffs.extend(difflib.unified_diff(
            committed.splitlines(keepends=True), output.text.splitlines(keepends=True),
            fromfile=str(path), tofile=f"{path} (generated from {output.flow_file})"))
    return "".join(diffs), diagnostics, environment_only


_SECRET = object()  # a committed value the manifest does not show


def _environment_only(output: Output, committed: str, siblings: list[tuple[str, str]], overrides: Mapping[str, Any],
                      flow_name: str | None, outputs_at: Sequence[Path]) -> str | None:
    """``differs only in environment values A ('x' -> 'y'), B`` when recompiling ``output``'s flow
    with the environment values its committed manifest (or a sibling target's: the ASL format
    carries none) records gives exactly ``committed``; None otherwise."""
    if not output.environment:
        return None
    texts = [(output.target, committed), *siblings]
    recorded = next((r for r in (_committed_environment(t, text) for t, text in texts) if r is not None), None)
    if recorded is None:
        return None
    now = {e.name: e.detail for e in output.environment}
    changed = sorted(name for name in now.keys() | recorded.keys() if now.get(name) != recorded.get(name))
    values = {name: _value_of(recorded[name]) for name in changed if name in recorded}
    if not changed or any(v is _SECRET for v in values.values()):
        return None
    from dataclasses import replace

    from flowc.compiler.options import current, using

    with using(replace(current(), environment=tuple(values.items()))):
        again = build([output.flow_file], [output.target], overrides, flow_name=flow_name, outputs_at=outputs_at)
    if [o.text for o in again.outputs] != [committed]:
        return None
    return "differs only in environment values " + ", ".join(
        f"{name} ({_shown(recorded.get(name))} -> {_shown(now.get(name))})" for name in changed)


def _committed_environment(target: str, text: str) -> dict[str, str] | None:
    """The environment reads (name -> detail) in the manifest a committed spec embeds (Argo,
    Airflow, the CloudFormation format); None when it embeds none."""
    manifest = _embedded_manifest(target, text)
    if manifest is None:
        return None
    return {e["name"]: e.get("detail", "") for e in manifest.get("flow", {}).get("evaluated", ())
            if e.get("kind") == "environment"}


def _embedded_manifest(target: str, text: str) -> dict[str, Any] | None:
    """The manifest in a spec: a string constant of an Airflow DAG file, a string (or a list of
    lines) in an Argo or Step Functions document."""
    import ast
    import json

    strings: list[str] = []
    if target == "airflow":
        try:
            strings = [n.value for n in ast.walk(ast.parse(text))
                       if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        except (SyntaxError, ValueError):
            return None
    else:
        import yaml

        def walk(node: Any) -> None:
            if isinstance(node, str):
                strings.append(node)
            elif isinstance(node, list):
                if node and all(isinstance(item, str) for item in node):
                    strings.append("".join(node))
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)
        try:
            for document in yaml.safe_load_all(text):
                walk(document)
        except yaml.YAMLError:
            return None
    for candidate in strings:
        if '"manifest_version"' in candidate:
            try:
                found = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(found, dict) and "flow" in found:
                return found
    return None


def _value_of(detail: str) -> Any:
    """The value an environment read's detail records: ``= 'x'`` -> ``'x'``, unset -> None."""
    import ast

    if detail.startswith("= "):
        return ast.literal_eval(detail[2:])
    return None if detail.startswith("unset") else _SECRET


def _shown(detail: str | None) -> str:
    if detail is None or detail.startswith("unset"):
        return "unset"
    return detail[2:] if detail.startswith("= ") else "<hidden>"


def _clash(flow_file: Path, other: Path, relative: Path) -> Diagnostic:
    common = os.path.commonpath([flow_file.resolve().parent, other.resolve().parent])
    if not os.path.relpath(common).startswith(".."):
        common = os.path.relpath(common)
    return Diagnostic(OUTPUT_CLASH, f"{flow_file} and {other} both compile to {relative}",
                      _file_span(flow_file), hint=f"compile their directory instead (flowc compile {common} "
                      "...) to keep each flow's folder, or use one --output-dir each")


def _file_span(path: Path) -> Span:
    return Span(str(path), 0, 0, 0, 0)
