"""Where the shim reads its manifest from: a path, ``s3://bucket/key``, or inline: the manifest's
JSON text itself (what specs carry, readable in a review's diff) or the compact ``z:`` form.

Inline forms let a spec carry the whole manifest in one parameter or environment variable, so an
image needs no extra file.
"""

from __future__ import annotations

import base64
import json
import zlib

from flowc.compiler import ir

INLINE_PREFIX = "z:"


class ManifestSourceError(ValueError):
    pass


def encode_inline(flow: ir.Flow) -> str:
    """The ``z:`` form of ``flow``'s manifest: deterministic, URL- and shell-safe base64."""
    compact = json.dumps(ir.to_manifest(flow), separators=(",", ":"), ensure_ascii=False)
    packed = zlib.compress(compact.encode("utf-8"), 9)
    return INLINE_PREFIX + base64.urlsafe_b64encode(packed).decode("ascii")


def decode_inline(text: str) -> ir.Flow:
    try:
        packed = base64.urlsafe_b64decode(text[len(INLINE_PREFIX):].encode("ascii"))
        data = json.loads(zlib.decompress(packed).decode("utf-8"))
    except (ValueError, zlib.error, UnicodeError) as exc:
        raise ManifestSourceError(f"inline manifest ('z:...') is corrupt: {exc}") from None
    return ir.from_manifest(data)


def load(source: str) -> ir.Flow:
    """Read a manifest from a path, an ``s3://`` URL or the inline ``z:`` form."""
    if not source:
        raise ManifestSourceError("no manifest given (use --manifest or FLOWC_MANIFEST)")
    if source.startswith(INLINE_PREFIX):
        return decode_inline(source)
    if source.lstrip().startswith("{"):
        return _parse(source, "the inline manifest")
    if source.startswith("s3://"):
        from flowc.runtime_shim.s3 import read_url

        text = read_url(source).decode("utf-8")
    else:
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ManifestSourceError(f"cannot read manifest {source}: {exc.strerror or exc}") from None
    return _parse(text, f"manifest {source}")


def _parse(text: str, what: str) -> ir.Flow:
    try:
        return ir.load_manifest(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestSourceError(f"{what} is not a flowc manifest: {exc}") from None
