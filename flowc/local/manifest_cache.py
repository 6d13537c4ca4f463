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
    from flowc.compiler import CompileError, read_regular_file

    try:
        source = read_regular_file(flow_file)  # never a FIFO or /dev/zero
    except CompileError:
        return None  # the front end reports a missing or unreadable file properly
    from flowc.compiler.options import current

    digest = hashlib.sha256()
    for part in (str(_FORMAT), str(flow_file), flow_name or "", _compiler_fingerprint(),
                 current().fingerprint()):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(source)
    return digest.hexdigest()


def _inputs(flow: ir.Flow) -> str:
    """What the compile read besides the flow file (``flow.sources`` files, environment values
    it evaluated), hashed; "" for a flow that read nothing else (the common, cheap case)."""
    if not flow.sources and not flow.evaluated:
        return ""
    digest = hashlib.sha256()
    base = Path(flow.path).parent
    for source in flow.sources:
        try:
            digest.update(source.encode() + b"\0" + (base / source).read_bytes() + b"\0")
        except OSError:
            digest.update(source.encode() + b"\0missing\0")
    for record in flow.evaluated:
        if record.kind == "environment":
            value = os.environ.get(record.name)
            digest.update(record.name.encode() + (b"\1" + value.encode("utf-8", "surrogatepass")
                                                  if value is not None else b"\2"))
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
        flow = ir.from_manifest(data["manifest"])
        if data.get("inputs", "") != _inputs(flow):
            return None  # an imported module, a config file or an environment value changed
        return flow, str(data.get("warnings", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(root: str, key: str, flow: ir.Flow, warnings: str) -> None:
    """Write atomically (temp file + rename); a cache that cannot be written is simply skipped."""
    path = _path(root, key)
    if path is None or any(r.kind == "parameter-default" for r in flow.evaluated):
        return  # a callable default is evaluated again for every run, as Metaflow does
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        temp.write_text(json.dumps({"manifest": ir.to_manifest(flow), "warnings": warnings,
                                    "inputs": _inputs(flow)}),
                        encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        pass
