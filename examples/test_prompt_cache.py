"""Warm against cold prompt cache: the same long system prompt sent twice. Groq caches a prompt
prefix it saw in the last 2 hours on the models that support it (gpt-oss, kimi-k2): the second
call's prompt is mostly cached, so its prompt time (and TTFT) drop and its input costs less. The
report's "cached" and "cost" columns and its "prompt cache" line show the effect (docs/levers.md)."""

from __future__ import annotations

import groq
import pytest

from pytest_llmlatency import LLMCalls

SYSTEM = "You are a support agent for a bicycle shop. " + "Answer briefly, in one sentence. " * 80


def ask(client: groq.Groq, question: str) -> None:
    client.chat.completions.create(
        model="openai/gpt-oss-20b",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        max_completion_tokens=64,
        reasoning_effort="low",
    )


@pytest.mark.max_cost(usd=0.001, scope="test")
def test_second_call_meets_a_warm_cache(groq_client: groq.Groq, llm_calls: LLMCalls) -> None:
    ask(groq_client, "Do you repair e-bikes?")  # cold (unless the cache is warm from an earlier run)
    ask(groq_client, "Are you open on Sundays?")  # the same system prompt: a cached prefix
    cold, warm = llm_calls
    assert cold.cached_share is not None and warm.cached_share is not None
    assert warm.cached_share >= cold.cached_share
    assert cold.cost_usd is not None and warm.cost_usd is not None
