"""Kubernetes' own expansion of container fields, for the executors that stand in for a kubelet.

Kubernetes expands ``$(VAR)`` in a container's ``command``, ``args`` and ``env`` values with the
container's environment variables (those declared before it, for an env value), leaves an
undefined ``$(VAR)`` as it is, and turns ``$$`` into ``$``. A spec that puts user values there
must escape them, or a value such as ``$(AWS_SECRET_ACCESS_KEY)`` reads the pod's secret.
"""

from __future__ import annotations

import re
from typing import Mapping

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, variables: Mapping[str, str]) -> str:
    """``text`` as the container sees it, expanded the way the kubelet expands it."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return variables[name] if name in variables else match.group(0)

    return _REFERENCE.sub(replace, text)


def expand_container(argv: list[str], env: list[tuple[str, str]]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment a container's process gets from its declared command and env."""
    variables: dict[str, str] = {}
    for name, value in env:
        variables[name] = expand(value, variables)
    return [expand(a, variables) for a in argv], variables
