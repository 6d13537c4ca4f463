"""What the datastore and its backends (a directory, S3) share, so that neither backend module
needs the other: the error a user sees, and removing a temporary file."""

from __future__ import annotations

import os


class DatastoreError(RuntimeError):
    """A datastore failure with a message a user can act on (names the artifact or path)."""


def remove_if_present(path: str) -> None:
    """Delete a local (temporary) file; one that is already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
