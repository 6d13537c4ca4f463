"""Container-side bootstrap for code packages: fetch, verify, extract, then run the shim.

    python -m flowc.runtime_shim.code_package --package URL -- <shim arguments>

URL is a path, ``file://`` or ``s3://`` location whose file name ends in ``-<sha256>.tar.gz``
(what ``flowc package`` writes). The archive's sha256 must equal the one in its name, otherwise
nothing runs. Archives are extracted once per host into ``$FLOWC_CODE_CACHE`` (default
``/tmp/flowc-code``), with a marker written last so a crashed extraction is redone. The cache is
trusted only when this user owns it and nobody else can write to it (``/tmp`` is shared: another
user could pre-create the directory), and an existing extraction is compared with the verified
archive before it is used; anything else is refused or extracted afresh. Standard library only;
boto3 only for ``s3://``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NoReturn

_NAME = re.compile(r"-(?P<sha>[0-9a-f]{64})\.tar\.gz$")
READY_MARKER = ".flowc-extracted"


class CodePackageError(Exception):
    pass


def expected_sha256(url: str) -> str:
    match = _NAME.search(url)
    if match is None:
        raise CodePackageError(
            f"code package {url!r} is not named <stem>-<sha256>.tar.gz; build it with 'flowc package'")
    return match.group("sha")


def fetch(url: str) -> bytes:
    if url.startswith("s3://"):
        from flowc.runtime_shim.datastore import DatastoreError
        from flowc.runtime_shim.s3 import read_url  # boto3 only when the package lives in S3

        try:
            return read_url(url)  # retries transient errors, honours the endpoint override
        except DatastoreError as exc:
            raise CodePackageError(f"cannot read code package: {exc}") from None
    path = url[len("file://"):] if url.startswith("file://") else url
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CodePackageError(f"cannot read code package {url}: {exc.strerror}") from None


def verify(data: bytes, sha256: str, url: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise CodePackageError(
            f"code package {url} has sha256 {actual}, but its name promises {sha256}; refusing to run it")


def _check_private(path: Path) -> None:
    """``path`` must be a real directory (not a link) owned by this user and writable by no one
    else; code from anywhere else could have been put there by someone else."""
    info = path.lstat()
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        raise CodePackageError(
            f"code cache {path} is not a directory owned by this user and writable only by it; "
            "refusing to run code from it (point FLOWC_CODE_CACHE at a private directory)")


def _matches(target: Path, data: bytes) -> bool:
    """Whether the extraction at ``target`` holds exactly the archive's files (and the marker),
    owned by this user and writable by no one else. Tasks run with ``PYTHONDONTWRITEBYTECODE``,
    so nothing is ever added to an extraction: anything extra is someone else's."""
    import io

    try:
        expected: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    handle = tar.extractfile(member)
                    expected[str(Path(member.name))] = handle.read() if handle else b""
        found: set[str] = set()
        for directory, dirnames, filenames in os.walk(target):
            for name in dirnames:
                _check_private(Path(directory) / name)
            for name in filenames:
                path = Path(directory) / name
                rel = str(path.relative_to(target))
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or \
                        info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                    return False
                if rel == READY_MARKER:
                    continue
                if expected.get(rel) != path.read_bytes():
                    return False
                found.add(rel)
        return found == set(expected)
    except (OSError, tarfile.TarError, CodePackageError):
        return False


def _drop_write_for_others(root: Path) -> None:
    """Whatever the umask, nobody but this user may change an extraction."""
    root.chmod(0o700)
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(directory) / name
            path.chmod(path.lstat().st_mode & 0o755)


def extract(data: bytes, sha256: str, cache: Path) -> Path:
    """Extract into ``cache/<sha256>`` unless a complete, matching extraction is already there."""
    target = cache / sha256
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(cache)
    if (target / READY_MARKER).exists():
        _check_private(target)
        if _matches(target, data):
            return target
        # Ours (checked above) but not what the archive holds: set it aside in one atomic step
        # (a task may still be running from it) and extract afresh.
        stale = Path(tempfile.mkdtemp(prefix=f".stale-{sha256[:12]}-", dir=cache))
        target.rename(stale / "code")
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{sha256[:12]}-", dir=cache))
    archive = staging / "package.tar.gz"
    archive.write_bytes(data)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
                raise CodePackageError(f"code package member {member.name!r} is not a plain relative file")
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(staging / "code", filter="data")
        else:  # the members were checked above
            tar.extractall(staging / "code")
    _drop_write_for_others(staging / "code")
    (staging / "code" / READY_MARKER).write_text(sha256)
    try:
        (staging / "code").rename(target)
    except OSError:
        if not (target / READY_MARKER).exists():  # lost a race with a half-done extraction
            shutil.rmtree(target, ignore_errors=True)
            (staging / "code").rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def run(data: bytes, url: str, shim_args: list[str]) -> NoReturn:
    """Verify ``data`` (the archive read from ``url``), extract it into the code cache and replace
    this process with the shim running from there; one-line errors, exit status 2."""
    try:
        sha256 = expected_sha256(url)
        verify(data, sha256, url)
        code_dir = extract(data, sha256, Path(os.environ.get("FLOWC_CODE_CACHE", "/tmp/flowc-code")))
    except OSError as exc:
        print(f"flowc: error: code cache: {exc.strerror}: {exc.filename}", file=sys.stderr)
        sys.exit(2)
    except CodePackageError as exc:
        print(f"flowc: error: {exc}", file=sys.stderr)
        sys.exit(2)
    os.chdir(code_dir)
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # an extraction stays exactly the archive
    os.execv(sys.executable, [sys.executable, "-m", "flowc.runtime_shim", *shim_args])


def main(argv: list[str] | None = None) -> None:
    """The entry of specs compiled before the bootstrap (``python -m ...code_package``): the
    same steps, with flowc from the image."""
    parser = argparse.ArgumentParser(prog="python -m flowc.runtime_shim.code_package",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--package", required=True, help="path, file:// or s3:// URL of the archive")
    parser.add_argument("shim_args", nargs=argparse.REMAINDER, help="-- then the shim's arguments")
    args = parser.parse_args(argv)
    shim_args = args.shim_args[1:] if args.shim_args[:1] == ["--"] else args.shim_args
    try:
        data = fetch(args.package)
    except CodePackageError as exc:
        print(f"flowc: error: {exc}", file=sys.stderr)
        sys.exit(2)
    run(data, args.package, shim_args)


if __name__ == "__main__":
    main()
