"""``flowc.exception``: the same names as :mod:`flowc.exceptions` (Metaflow spells the module
``metaflow.exception``; both spellings work here)."""

from flowc.exceptions import *  # noqa: F401,F403
