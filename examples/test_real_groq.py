"""A real Groq recording, replayed: judged on what api.groq.com reported.

``cassettes/test_real_groq/test_real_groq_stream.yaml`` is a cassette recorded
against api.groq.com by Scale3-Labs/langtrace-python-sdk (Apache-2.0, unmodified;
see cassettes/README.md). It was made with plain vcrpy, so it holds Groq's
``usage`` but no client timing: token and server-time budgets apply, and an e2e or
TTFT budget would say the cassette holds no client timing.
"""

from __future__ import annotations

import groq
import pytest

from pytest_llmlatency import LLMCalls


@pytest.mark.max_tokens(completion=700)
@pytest.mark.max_server_time(queue_ms=100, total_ms=600)
@pytest.mark.max_latency(ms=600, metric="server")
def test_real_groq_stream(groq_client: groq.Groq, llm_calls: LLMCalls) -> None:
    stream = groq_client.chat.completions.create(
        model="llama3-8b-8192",  # decommissioned since; the recording keeps it answerable
        messages=[{"role": "user", "content": "Explain the importance of low latency LLMs"}],
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "latency" in text.lower()
    call = llm_calls.last
    assert call.replayed and not call.client_timing
    assert call.completion_tokens == 656  # as Groq billed it on 2024-07-02
