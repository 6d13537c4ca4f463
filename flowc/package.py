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

Symbolic links: a linked directory is not followed (reported); a linked file is packaged (its
content) only when it resolves inside the directory being packaged. A link pointing anywhere
else (``/etc/passwd``, ``~/.aws/credentials``) or nowhere is an error: nothing outside the
project is ever packaged by accident.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

# 1980-01-01: the earliest time every archive format and tool accepts.
FIXED_MTIME = 315532800
ALWAYS_EXCLUDED = ("__pycache__/", "*.pyc", ".*")


class PackageError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Package:
    path: Path
    sha256: str
    files: tuple[str, ...]
    skipped_links: tuple[str, ...]
    siblings: tuple[str, ...] = ()  # project-local packages beside the flow's directory


def _gitignore_specs(root: Path) -> list[tuple[PurePosixPath, GitIgnoreSpec]]:
    import pathspec

    specs = []
    for ignore_file in sorted(root.rglob(".gitignore")):
        relative_dir = PurePosixPath(ignore_file.parent.relative_to(root).as_posix())
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
        specs.append((relative_dir, pathspec.GitIgnoreSpec.from_lines(lines)))
    return specs


def select_files(root: Path, include: Sequence[str] = (), exclude: Sequence[str] = (),
                 leave_out: Path | None = None) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of the files to package (sorted) and of symlinked directories
    skipped; ``leave_out`` (the output directory) is never entered."""
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
            elif leave_out is not None and (Path(directory) / name).resolve() == leave_out:
                continue
            elif not ignored.match_file(rel) and not _git_ignored(gitignores, rel):
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in filenames:
            rel = (rel_dir / name).as_posix().removeprefix("./")
            if ignored.match_file(rel) or _git_ignored(gitignores, rel):
                continue
            if wanted is not None and not wanted.match_file(rel):
                continue
            _check_link(root, Path(directory) / name, rel)
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
                     leave_out: Path) -> list[tuple[str, Path]]:
    entries: list[tuple[str, Path]] = []
    for name, path in sibling_modules(flow_file, root):
        if path.is_file():
            entries.append((name, path))
            continue
        inner, _ = select_files(path, (), exclude, leave_out)
        entries.extend((f"{name}/{rel}", path / rel) for rel in inner)
    return entries


def build_package(flow_file: Path, output_dir: Path, include: Sequence[str] = (),
                  exclude: Sequence[str] = ()) -> Package:
    """Archive the flow file's directory (and the project-local packages it imports from beside
    it) into ``output_dir``; the flow file must be included."""
    root = flow_file.resolve().parent
    if not flow_file.is_file():
        raise PackageError(f"{flow_file}: no such file")
    leave_out = output_dir.resolve()
    files, skipped = select_files(root, include, exclude, leave_out)
    if flow_file.name not in files:
        raise PackageError(f"{flow_file.name} itself is excluded by the package rules")
    extra = _sibling_entries(flow_file, root, exclude, leave_out) if not include else []
    try:
        data = archive_bytes(root, files, extra)
    except OSError as exc:
        raise PackageError(f"cannot read {exc.filename}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{flow_file.stem}-{digest}.tar.gz"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    siblings = tuple(sorted({name.partition("/")[0] for name, _ in extra}))
    return Package(path, digest, tuple(sorted(files + [name for name, _ in extra])), tuple(skipped), siblings)
