"""The suite's promise: over 500 bad inputs per run, each ending in a clean error. Every fuzz test
asserts its share (``checks.SHARES``); corpus tests assert one clean error per case."""

from __future__ import annotations

import json

from tests.fuzz.checks import SHARES
from tests.fuzz.conftest import CORPUS


def test_the_shares_add_up_to_over_500():
    assert sum(SHARES.values()) > 500


def test_the_corpora_hold_their_shares():
    assert len(json.loads((CORPUS / "arguments.json").read_text())) >= SHARES["cli-corpus"]
    assert len(list((CORPUS / "flows").glob("*.pysrc"))) >= SHARES["flows-corpus"]
    assert 2 * len(list((CORPUS / "answers").iterdir())) >= SHARES["answers-corpus"]  # >= 2 refusals each
