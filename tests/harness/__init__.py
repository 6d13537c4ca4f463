"""Test helpers shared by every executor's tests: run a corpus flow locally, snapshot artifacts.

Each target's end-to-end tests run a flow from ``tests/flows`` on their engine and compare
``snapshot(...)`` of that run with ``snapshot(...)`` of ``run_locally(...)``.
"""

from tests.harness.artifacts import comparable, run_locally, snapshot

__all__ = ["comparable", "run_locally", "snapshot"]
