"""``from metaflow import metaflow_version``: the version of what runs the flow (flowc's)."""

from __future__ import annotations


def get_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("flowc")
    except metadata.PackageNotFoundError:
        return "unknown"
