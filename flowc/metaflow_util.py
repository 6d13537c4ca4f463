"""``metaflow.util``: the helpers flows import from it, with Metaflow 2.19's meanings.

Standard library only: tasks import it. Names Metaflow's ``util`` has but this module lacks are
refused when the flow compiles (FLOW084).
"""

from __future__ import annotations

import os

# Metaflow's order after its own USER setting; a name of "root" never counts.
_USER_VARIABLES = ("SUDO_USER", "USERNAME", "USER")


def get_username() -> str | None:
    """The user running the flow, or None: ``FLOWC_USER`` (flowc's override, the name
    ``current.username`` and ``@project`` use), then Metaflow's rule: its ``USER`` setting
    (``METAFLOW_USER`` or the configuration file), then ``SUDO_USER``, ``USERNAME``, ``USER``."""
    from flowc import metaflow_config

    candidates = [os.environ.get("FLOWC_USER"), metaflow_config.USER]
    candidates += [os.environ.get(name) for name in _USER_VARIABLES]
    return next((user for user in candidates if user and user != "root"), None)


__all__ = ["get_username"]
