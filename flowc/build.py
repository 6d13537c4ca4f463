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
from flowc.package import PackageError, assemble
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
            outputs.append(Output(flow_file, target, relative, emitted.text, package))
    return BuildResult(tuple(outputs), tuple(diagnostics))


def code_package_for(flow_file: Path, settings: Settings, leave_out: Sequence[Path] = ()
                     ) -> tuple[Settings, CodePackage | None]:
    """With code 'package' and no ``code_package`` URL given: the flow's own package, named by
    its content in ``code_package_dir``, and the settings naming it. Raises ``PackageError``."""
    if settings.code != "package" or settings.code_package or settings.datastore_root is None:
        return settings, None
    data, built = assemble(flow_file, leave_out={p.resolve() for p in leave_out})
    url = settings.package_dir.rstrip("/") + "/" + built.path.name
    return dataclasses.replace(settings, code_package=url), CodePackage(url, data)


def write_packages(outputs: Iterable[Output], directory: Path) -> list[Path]:
    """Write each distinct code package the outputs name into ``directory`` (kept when already
    there: the name is the content)."""
    written = []
    for package in {o.package.name: o.package for o in outputs if o.package is not None}.values():
        path = directory / package.name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(package.data)
            tmp.replace(path)
        written.append(path)
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


def check_outputs(outputs: Iterable[Output], output_dir: Path) -> tuple[str, list[Diagnostic]]:
    """A unified diff of every committed spec that differs from what flowc generates now."""
    from flowc.compiler import read_regular_file

    diffs: list[str] = []
    diagnostics: list[Diagnostic] = []
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
        committed = committed_bytes.decode("utf-8", errors="replace")
        if committed != output.text:
            diffs.extend(difflib.unified_diff(
                committed.splitlines(keepends=True), output.text.splitlines(keepends=True),
                fromfile=str(path), tofile=f"{path} (generated from {output.flow_file})"))
    return "".join(diffs), diagnostics


def _clash(flow_file: Path, other: Path, relative: Path) -> Diagnostic:
    common = os.path.commonpath([flow_file.resolve().parent, other.resolve().parent])
    if not os.path.relpath(common).startswith(".."):
        common = os.path.relpath(common)
    return Diagnostic(OUTPUT_CLASH, f"{flow_file} and {other} both compile to {relative}",
                      _file_span(flow_file), hint=f"compile their directory instead (flowc compile {common} "
                      "...) to keep each flow's folder, or use one --output-dir each")


def _file_span(path: Path) -> Span:
    return Span(str(path), 0, 0, 0, 0)
