"""Reproducible code packages: the flow's directory as a tar.gz named by its content hash.

Building twice from the same files gives the same bytes: entries are sorted, timestamps, owners
and permissions are fixed, and the gzip header carries no name or time. The archive is named
``<flow stem>-<sha256>.tar.gz`` so a spec that references it also pins its content; the container
side (``flowc.runtime_shim.code_package``) verifies the hash before running anything.

What goes in: every file under the flow file's directory, minus hidden files and directories,
``__pycache__``, ``*.pyc``, whatever ``.gitignore`` files in that tree ignore and ``--exclude``
patterns (gitignore syntax); with ``--include`` patterns only files matching one of them.
"""

from __future__ import annotations

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


def _gitignore_specs(root: Path) -> list[tuple[PurePosixPath, GitIgnoreSpec]]:
    import pathspec

    specs = []
    for ignore_file in sorted(root.rglob(".gitignore")):
        relative_dir = PurePosixPath(ignore_file.parent.relative_to(root).as_posix())
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
        specs.append((relative_dir, pathspec.GitIgnoreSpec.from_lines(lines)))
    return specs


def select_files(root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
                 ) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of the files to package (sorted) and of symlinked directories skipped."""
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
            elif not ignored.match_file(rel) and not _git_ignored(gitignores, rel):
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in filenames:
            rel = (rel_dir / name).as_posix().removeprefix("./")
            if ignored.match_file(rel) or _git_ignored(gitignores, rel):
                continue
            if wanted is not None and not wanted.match_file(rel):
                continue
            files.append(rel)
    return sorted(files), sorted(skipped)


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


def archive_bytes(root: Path, files: Sequence[str]) -> bytes:
    """The deterministic tar.gz of ``files`` (relative to ``root``)."""
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in files:
            source = root / rel
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


def build_package(flow_file: Path, output_dir: Path, include: Sequence[str] = (),
                  exclude: Sequence[str] = ()) -> Package:
    """Archive the flow file's directory into ``output_dir``; the flow file must be included."""
    root = flow_file.resolve().parent
    if not flow_file.is_file():
        raise PackageError(f"{flow_file}: no such file")
    files, skipped = select_files(root, include, exclude)
    if flow_file.name not in files:
        raise PackageError(f"{flow_file.name} itself is excluded by the package rules")
    data = archive_bytes(root, files)
    digest = hashlib.sha256(data).hexdigest()
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{flow_file.stem}-{digest}.tar.gz"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return Package(path, digest, tuple(files), tuple(skipped))
