"""The openai SDK against Groq's OpenAI-compatible API: a hand-written tool loop on chat
completions, and a streamed answer from the Responses API."""

from __future__ import annotations

import pytest

pytest.importorskip("openai")

from app.assistant import run_support_loop, stream_order_summary

from pytest_llmlatency import LLMCalls


@pytest.mark.max_calls(n=2)
@pytest.mark.max_latency(ms=600, scope="test")
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=120)
def test_tool_loop(llm_calls: LLMCalls) -> None:
    """Step 1 calls lookup_order, step 2 answers in text within the word limit."""
    reply = run_support_loop("Where is my order 1042? It should have arrived by now.")
    assert reply
    assert llm_calls[0].tool_names == ["lookup_order"]
    assert llm_calls[1].finish_reason == "stop"


@pytest.mark.llm_repeat(n=3, warmup=1)
@pytest.mark.max_ttft(ms=100)
@pytest.mark.max_latency(ms=250)
@pytest.mark.min_throughput(tokens_per_s=400)
def test_responses_summary_streams(llm_calls: LLMCalls) -> None:
    """The Responses API, streamed: first words early, then gpt-oss-20b's decode speed.

    The warm-up run is not judged: the first Responses stream in a process pays a few
    hundred ms of the SDK's own start-up (its event types are built on first use),
    which would otherwise land in the first call's TTFT."""
    words = list(stream_order_summary(1042))
    assert len(words) > 10
    assert all(call.endpoint == "responses" for call in llm_calls)  # empty in the warm-up run
