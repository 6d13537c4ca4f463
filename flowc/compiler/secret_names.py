"""Which environment variable names hold secrets, so their values are never shown. Stdlib only."""

from __future__ import annotations

import os
import re

_SECRET = re.compile(r"TOKEN|SECRET|PASSW|KEY|CREDENTIAL|AUTH|PRIVATE|CERT|SESSION|COOKIE", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's value must never be shown (judged by its name)."""
    return bool(_SECRET.search(name))


def hidden_values(evaluated: object) -> frozenset[str]:
    """The values of secret-looking variables the compiler read (``ir.Evaluated`` records), as
    this process sees them: what a readable dump must mask."""
    out = set()
    for record in evaluated:  # type: ignore[attr-defined]
        if record.kind == "environment" and looks_secret(record.name):
            value = os.environ.get(record.name)
            if value:
                out.add(value)
    return frozenset(out)
