"""Replayed from a committed cassette: no server, no waiting, the recorded timings.

``cassettes/test_recorded/test_intent_from_cassette.yaml`` was recorded from the
built-in emulator with ``pytest examples/test_recorded.py --llm-record-mode=once``;
a team records theirs against api.groq.com the same way (see docs/recording.md).
Change a parameter of ``classify`` and this test fails at once with the diff.
"""

from __future__ import annotations

import pytest
from app.intent import classify


@pytest.mark.max_latency(ms=300)
@pytest.mark.max_ttft(ms=120)
@pytest.mark.max_tokens(completion=50)
def test_intent_from_cassette() -> None:
    assert classify("My card was charged twice") in {
        "billing",
        "refund",
        "shipping",
        "account",
        "support",
        "cancel",
        "greeting",
    }
