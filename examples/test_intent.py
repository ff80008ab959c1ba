"""The latency suite a team writes for its intent classifier."""

from __future__ import annotations

import time

from app.intent import classify, stream_reply


def test_intent_is_classified() -> None:
    assert classify("I was charged twice this month") in {
        "billing",
        "refund",
        "shipping",
        "account",
        "support",
        "cancel",
        "greeting",
    }


def test_intent_is_fast() -> None:
    t0 = time.perf_counter()
    classify("Where is my parcel?")
    assert time.perf_counter() - t0 < 0.3


def test_support_reply_streams_quickly() -> None:
    t0 = time.perf_counter()
    stream = stream_reply("How do I reset my password?")
    first = next(stream)
    ttft = time.perf_counter() - t0
    rest = "".join(stream)
    assert first and rest
    assert ttft < 0.15
