"""Reproducible code packages: the flow's directory as a tar.gz named by its content hash.

Building twice from the same files gives the same bytes: entries are sorted, timestamps, owners
and permissions are fixed, and the gzip header carries no name or time. The archive is named
``<flow stem>-<sha256>.tar.gz`` so a spec that references it also pins its content; the container
side (``flowc.runtime_shim.code_package``) verifies the hash before running anything.

What goes in: every file under the flow file's directory, minus hidden files and directories,
``__pycache__``, ``*.pyc``, the output directory, whatever ``.gitignore`` files in that tree
ignore and ``--exclude`` patterns (gitignore syntax); with ``--include`` patterns only files
matching one of them. A package or module the flow file imports that lives beside that
directory in the same project (``../mylib``, up to the directory holding ``pyproject.toml`` or
``.git``) goes in too, at the archive's top level, where the flow's imports find it.

flowc's own runtime goes in too, under ``flowc/``: the runtime shim and the authoring API a flow
imports (standard library only), found by following their imports. A task then needs nothing
but a Python in its image, as Metaflow's code package carries Metaflow.

Symbolic links: a linked directory is not followed (reported); a linked file is packaged (its
content) only when it resolves inside the directory being packaged. A link pointing anywhere
else (``/etc/passwd``, ``~/.aws/credentials``) or nowhere is an error: nothing outside the
project is ever packaged by accident.
"""

from __future__ import annotations

import ast
import dataclasses
import gzip
import hashlib
import io
import os
import re
import stat
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Collection, Sequence

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

# 1980-01-01: the earliest time every archive format and tool accepts.
FIXED_MTIME = 315532800
ALWAYS_EXCLUDED = ("__pycache__/", "*.pyc", ".*", "flowc-code/")  # flowc-code/: archives compile wrote


class PackageError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Package:
    path: Path
    sha256: str
    files: tuple[str, ...]
    skipped_links: tuple[str, ...]
    siblings: tuple[str, ...] = ()  # project-local packages beside the flow's directory
    runtime: tuple[str, ...] = ()  # flowc's runtime files, under flowc/


# Where following imports starts: what a task runs, and every module a flow can import through
# `metaflow` (flowc.surface.MODULES); flowc.api is the compiler's side and is never followed.
RUNTIME_ROOTS = ("flowc", "flowc.runtime_shim", "flowc.runtime_shim.__main__", "flowc.metaflow_version",
                 "flowc.exception")
COMPILE_SIDE = frozenset({"flowc.api"})


def _gitignore_specs(root: Path) -> list[tuple[PurePosixPath, GitIgnoreSpec]]:
    import pathspec

    specs = []
    for ignore_file in sorted(root.rglob(".gitignore")):
        relative_dir = PurePosixPath(ignore_file.parent.relative_to(root).as_posix())
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
        specs.append((relative_dir, pathspec.GitIgnoreSpec.from_lines(lines)))
    return specs


def select_files(root: Path, include: Sequence[str] = (), exclude: Sequence[str] = (),
                 leave_out: Collection[Path] = ()) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of the files to package (sorted) and of what was skipped (symlinked
    directories, files that are not regular files); ``leave_out`` (resolved paths: the output directory or file) is never packaged."""
    import pathspec

    ignored = pathspec.GitIgnoreSpec.from_lines([*ALWAYS_EXCLUDED, *exclude])
    wanted = pathspec.GitIgnoreSpec.from_lines(include) if include else None
    gitignores = _gitignore_specs(root)
    files: list[str] = []
    skipped: list[str] = []
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = PurePosixPath(Path(directory).relative_to(root).as_posix())
        keep_dirs = []
        for name in sorted(dirnames):
            rel = (rel_dir / name).as_posix() + "/"
            if (Path(directory) / name).is_symlink():
                skipped.append(rel.rstrip("/"))
            elif (Path(directory) / name).resolve() in leave_out:
                continue
            elif not ignored.match_file(rel) and not _git_ignored(gitignores, rel):
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in filenames:
            rel = (rel_dir / name).as_posix().removeprefix("./")
            if ignored.match_file(rel) or _git_ignored(gitignores, rel) or \
                    (leave_out and (Path(directory) / name).resolve() in leave_out):
                continue
            if wanted is not None and not wanted.match_file(rel):
                continue
            _check_link(root, Path(directory) / name, rel)
            if not (Path(directory) / name).is_file():  # a FIFO, socket or device: never read
                skipped.append(rel)
                continue
            files.append(rel)
    return sorted(files), sorted(skipped)


def _check_link(root: Path, path: Path, rel: str) -> None:
    """A file symlink is packaged only when it resolves to a file inside ``root``."""
    if not path.is_symlink():
        return
    target = path.resolve()
    if not target.is_file():
        raise PackageError(f"{rel} is a symbolic link to nothing packageable ({target}); "
                           "remove it or --exclude it")
    if not target.is_relative_to(root):
        raise PackageError(f"{rel} is a symbolic link to {target}, outside {root}; flowc packages "
                           "nothing from outside the project: copy the file in or --exclude it")


def _imported_names(flow_file: Path) -> set[str]:
    """Top-level names of the absolute imports anywhere in the flow file."""
    try:
        tree = ast.parse(flow_file.read_bytes())
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def _project_dirs(root: Path) -> list[Path]:
    """``root``'s ancestors up to the project's top (the nearest holding pyproject.toml or
    .git), nearest first; none outside a project (a home directory is not a project)."""
    for top in (root, *root.parents):
        if (top / "pyproject.toml").exists() or (top / ".git").exists():
            return [d for d in root.parents if d.is_relative_to(top)]
    return []


def sibling_modules(flow_file: Path, root: Path) -> list[tuple[str, Path]]:
    """(name, path) of each package or module the flow imports that is not under ``root`` but
    beside it in the same project."""
    found: list[tuple[str, Path]] = []
    for name in sorted(_imported_names(flow_file)):
        if (root / name).exists() or (root / f"{name}.py").exists():
            continue
        for directory in _project_dirs(root):
            if (directory / name / "__init__.py").is_file():
                found.append((name, directory / name))
                break
            if (directory / f"{name}.py").is_file():
                found.append((f"{name}.py", directory / f"{name}.py"))
                break
    return found


def _git_ignored(specs: list[tuple[PurePosixPath, GitIgnoreSpec]], rel: str) -> bool:
    for base, spec in specs:
        base_text = base.as_posix()
        if base_text in ("", "."):
            candidate = rel
        elif rel.startswith(base_text + "/"):
            candidate = rel[len(base_text) + 1:]
        else:
            continue
        if spec.match_file(candidate):
            return True
    return False


def archive_bytes(root: Path, files: Sequence[str], extra: Sequence[tuple[str, Path]] = ()) -> bytes:
    """The deterministic tar.gz of ``files`` (relative to ``root``) and ``extra`` (archive name,
    source path) entries."""
    entries = sorted([(rel, root / rel) for rel in files] + list(extra))
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel, source in entries:
            data = source.read_bytes()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            executable = source.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            info.mode = 0o755 if executable else 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(tar_buffer.getvalue())
    return out.getvalue()


def _sibling_entries(flow_file: Path, root: Path, exclude: Sequence[str],
                     leave_out: Collection[Path]) -> list[tuple[str, Path]]:
    entries: list[tuple[str, Path]] = []
    for name, path in sibling_modules(flow_file, root):
        if path.is_file():
            entries.append((name, path))
            continue
        inner, _ = select_files(path, (), exclude, leave_out)
        entries.extend((f"{name}/{rel}", path / rel) for rel in inner)
    return entries


@cache
def _module_file(name: str) -> Path | None:
    """The source file of flowc module ``name`` (a package's ``__init__.py``), if there is one."""
    base = Path(__file__).resolve().parent.joinpath(*name.split(".")[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


_FROM_IMPORT = re.compile(r"^([ \t]*)from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.M)
_IMPORT = re.compile(r"^([ \t]*)import[ \t]+([\w.]+(?:[ \t]*,[ \t]*[\w.]+)*)", re.M)


def _flowc_imports(path: Path, package: str, top_level_only: bool = False) -> set[str]:
    """The ``flowc`` modules ``path`` imports: at any depth of its code (lazy imports too), or
    only at its top level (what merely importing it runs). A line scan, not a parse: four times
    faster, and a docstring that looks like an import only adds a file to the archive."""
    text = path.read_text(encoding="utf-8")
    found: set[str] = set()
    for indent, names in _IMPORT.findall(text):
        if not (top_level_only and indent):
            found.update(name.strip() for name in names.split(","))
    for indent, base, names in _FROM_IMPORT.findall(text):
        if top_level_only and indent:
            continue
        if base.startswith("."):
            level = len(base) - len(base.lstrip("."))
            parts = package.split(".")[: len(package.split(".")) - level + 1]
            base = ".".join([*parts, *([base.lstrip(".")] if base.lstrip(".") else [])])
        aliases = names.strip("()").replace("\n", " ").split(",")
        submodules = {f"{base}.{a.split()[0]}" for a in aliases if a.split()}
        found.update(name for name in submodules if _module_file(name) is not None)
        if not submodules <= found:  # names defined in ``base`` itself
            found.add(base)
    return {name for name in found if name == "flowc" or name.startswith("flowc.")}


@cache
def runtime_entries() -> list[tuple[str, Path]]:
    """(archive name, source) of flowc's runtime: the modules reachable by import from
    ``RUNTIME_ROOTS`` (and the Metaflow aliases), never the compiler's side, plus each reached
    package's data files (a card's scripts). A package entered only on the way to one of its
    modules (``flowc.compiler`` for ``flowc.compiler.ir``) adds what its top level imports."""
    from flowc.surface import MODULES

    top = Path(__file__).resolve().parent.parent
    shim_dir = top / "flowc" / "runtime_shim"
    pending = [(name, False) for name in (*RUNTIME_ROOTS, *MODULES.values(),
                                          *(f"flowc.runtime_shim.{p.stem}" for p in shim_dir.glob("*.py")))]
    followed: dict[str, bool] = {}  # module -> whether only its top level was followed
    while pending:
        name, top_level_only = pending.pop()
        path = _module_file(name)
        done = followed.get(name)  # None: not yet; True: its top level; False: all of it
        if path is None or name in COMPILE_SIDE or done is False or (done and top_level_only):
            continue
        followed[name] = top_level_only
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        pending.extend((n, False) for n in _flowc_imports(path, package, top_level_only))
        parents = name.split(".")
        pending.extend((".".join(parents[:i]), True) for i in range(1, len(parents)))
    files = {p for p in map(_module_file, followed) if p is not None}
    for path in list(files):
        if path.name == "__init__.py":
            files.update(p for p in path.parent.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc"))
    return sorted((p.relative_to(top).as_posix(), p) for p in files)


def assemble(flow_file: Path, include: Sequence[str] = (), exclude: Sequence[str] = (),
             leave_out: Collection[Path] = (), runtime: bool = True) -> tuple[bytes, Package]:
    """The archive's bytes and what is in it (``Package.path`` is its file name alone): the flow
    file's directory, the project-local packages it imports from beside it, and flowc's runtime."""
    root = flow_file.resolve().parent
    if not flow_file.is_file():
        raise PackageError(f"{flow_file}: no such file")
    files, skipped = select_files(root, include, exclude, leave_out)
    if flow_file.name not in files:
        raise PackageError(f"{flow_file.name} itself is excluded by the package rules")
    extra = _sibling_entries(flow_file, root, exclude, leave_out) if not include else []
    ours = runtime_entries() if runtime else []
    clash = sorted({name for name in [*files, *(n for n, _ in extra)] if name.split("/")[0] in ("flowc", "flowc.py")})
    if ours and clash:
        raise PackageError(f"{clash[0]}: the package's flowc/ holds flowc's runtime; rename the "
                           "project's own flowc module or package")
    try:
        data = archive_bytes(root, files, [*extra, *ours])
    except OSError as exc:
        raise PackageError(f"cannot read {exc.filename}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    siblings = tuple(sorted({name.partition("/")[0] for name, _ in extra}))
    package = Package(Path(f"{flow_file.stem}-{digest}.tar.gz"), digest,
                      tuple(sorted(files + [name for name, _ in extra])), tuple(skipped), siblings,
                      tuple(name for name, _ in ours))
    return data, package


def build_package(flow_file: Path, output_dir: Path, include: Sequence[str] = (),
                  exclude: Sequence[str] = (), runtime: bool = True) -> Package:
    """Write the archive ``assemble`` makes into ``output_dir`` (left out of the archive)."""
    data, package = assemble(flow_file, include, exclude, {output_dir.resolve()}, runtime)
    path = place_archive(output_dir / package.path, data)
    return dataclasses.replace(package, path=path)


def place_archive(path: Path, data: bytes, keep_existing: bool = False) -> Path:
    """Write an archive at ``path`` atomically (never half a file); with ``keep_existing`` not
    when a file of that name is already there (the name is the content). Raises ``OSError``."""
    if not (keep_existing and path.is_file()):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
