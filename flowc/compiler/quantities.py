"""Resource quantities: Kubernetes-style strings (``500m``, ``4Gi``) and Metaflow's plain numbers.

Metaflow takes memory and disk as integers in MiB and cpu as a number of cores; Kubernetes
quantities are accepted too. The checker validates them here and the targets convert with the
same functions, so a value the checker accepted always converts.
"""

from __future__ import annotations

import re

_QUANTITY = re.compile(r"^(?P<number>\d+(?:\.\d+)?|\.\d+)(?P<suffix>m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")
_BYTES = {
    None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}


class QuantityError(ValueError):
    pass


def _parse(text: str) -> tuple[float, str | None]:
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise QuantityError(f"{text!r} is not a quantity (expected e.g. 4096, '500m', '4Gi')")
    return float(match.group("number")), match.group("suffix")


def cpu_cores(value: int | float | str) -> float:
    """Cores as a float: ``2`` -> 2.0, ``'500m'`` -> 0.5."""
    if isinstance(value, bool):
        raise QuantityError("cpu must be a number or a quantity string, not a boolean")
    if isinstance(value, (int, float)):
        cores = float(value)
    else:
        number, suffix = _parse(value)
        if suffix not in (None, "m"):
            raise QuantityError(f"cpu {value!r} has a suffix other than 'm'")
        cores = number / 1000 if suffix == "m" else number
    if cores <= 0:
        raise QuantityError(f"cpu must be positive, got {value!r}")
    return cores


def mebibytes(value: int | float | str, what: str = "memory") -> int:
    """MiB as an int: ``4096`` -> 4096 (Metaflow's unit), ``'4Gi'`` -> 4096, ``'1G'`` -> 954."""
    if isinstance(value, bool):
        raise QuantityError(f"{what} must be a number or a quantity string, not a boolean")
    if isinstance(value, (int, float)):
        mib = float(value)
    else:
        number, suffix = _parse(value)
        if suffix == "m":
            raise QuantityError(f"{what} {value!r} uses 'm' (milli); did you mean 'Mi'?")
        mib = number * _BYTES[suffix] / 2**20 if suffix else number
    if mib <= 0:
        raise QuantityError(f"{what} must be positive, got {value!r}")
    return max(int(mib), 1)
