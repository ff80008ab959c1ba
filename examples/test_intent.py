"""The latency suite a team writes for its Groq application: these budgets hold."""

from __future__ import annotations

import groq
import pytest
from app.intent import classify, stream_reply

from pytest_llmlatency import LLMCalls

LABELS = {"billing", "refund", "shipping", "account", "support", "cancel", "greeting"}


@pytest.mark.max_latency(ms=300)
@pytest.mark.max_ttft(ms=120)
@pytest.mark.max_tokens(completion=50)
def test_intent() -> None:
    """The classifier as tuned: gpt-oss-20b, 50 tokens max, low effort, stop at '}'."""
    assert classify("I was charged twice this month") in LABELS


@pytest.mark.llm_repeat(n=10, warmup=1)
@pytest.mark.max_latency(ms=250, percentile=95)
@pytest.mark.max_server_time(queue_ms=250)
def test_intent_p95() -> None:
    """Ten measured runs after a warm-up: the 95th percentile stays under budget."""
    assert classify("Where is my parcel?") in LABELS


@pytest.mark.max_ttft(ms=150)
@pytest.mark.max_latency(ms=700)
@pytest.mark.min_throughput(tokens_per_s=300)
def test_support_reply_streams() -> None:
    """A streamed answer on llama-3.1-8b-instant: first words fast, then ~560 tok/s."""
    words = list(stream_reply("How do I reset my password?"))
    assert len(words) > 20


@pytest.mark.max_tokens(reasoning=60, total=200)
@pytest.mark.max_latency(ms=400, metric="server")
def test_reasoning_budget(groq_client: groq.Groq) -> None:
    """A reasoning model with low effort: its reasoning tokens stay small."""
    resp = groq_client.chat.completions.create(
        model="openai/gpt-oss-120b",
        messages=[{"role": "user", "content": "Is 'I want my money back' a refund request? One word."}],
        reasoning_effort="low",
        max_completion_tokens=100,
    )
    assert resp.choices[0].message.content


def test_plain_asserts(llm_calls: LLMCalls) -> None:
    """For those who prefer plain asserts: llm_calls holds every call the test made."""
    classify("Cancel my subscription")
    call = llm_calls.last
    assert call.model == "openai/gpt-oss-20b"
    assert call.completion_tokens is not None and call.completion_tokens <= 50
    assert call.finish_reason == "stop"
    llm_calls.assert_max_latency(300)
    llm_calls.assert_max_tokens(completion=50)
