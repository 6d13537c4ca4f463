from __future__ import annotations

import pytest

from flowc.current import current


@pytest.fixture(autouse=True)
def _isolated_runtime(monkeypatch: pytest.MonkeyPatch):
    """Tasks run in-process here; keep each test's environment and ``current`` its own."""
    monkeypatch.delenv("FLOWC_DATASTORE", raising=False)
    yield
    current._clear()
