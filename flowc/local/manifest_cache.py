"""A cache of compiled manifests in a local datastore, so re-running an unchanged flow skips the
front end (importing libcst is about half of a small run's wall time).

The key covers everything the compile depends on: the flow file's bytes and the path as given,
the ``--flow`` choice, and the compiler's own source files (path, size, modification time), so
editing either recompiles. Warnings are cached with the manifest and shown again on a hit. S3
datastores are not used for this: a remote round trip would cost what it saves.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from flowc.compiler import ir

_DIR = ".manifests"
_FORMAT = 1


def _compiler_fingerprint() -> str:
    digest = hashlib.sha256()
    root = Path(ir.__file__).parent  # the compiler package
    for path in sorted(root.glob("*.py")):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def cache_key(flow_file: Path, flow_name: str | None) -> str | None:
    try:
        source = flow_file.read_bytes()
    except OSError:
        return None  # the front end reports a missing file properly
    digest = hashlib.sha256()
    for part in (str(_FORMAT), str(flow_file), flow_name or "", _compiler_fingerprint()):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(source)
    return digest.hexdigest()


def _path(root: str, key: str) -> Path | None:
    if root.startswith("s3://"):
        return None
    return Path(root) / _DIR / f"{key}.json"


def load(root: str, key: str) -> tuple[ir.Flow, str] | None:
    """(manifest, rendered warnings) from the cache, or None."""
    path = _path(root, key)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ir.from_manifest(data["manifest"]), str(data.get("warnings", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(root: str, key: str, flow: ir.Flow, warnings: str) -> None:
    """Write atomically (temp file + rename); a cache that cannot be written is simply skipped."""
    path = _path(root, key)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        temp.write_text(json.dumps({"manifest": ir.to_manifest(flow), "warnings": warnings}),
                        encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        pass
