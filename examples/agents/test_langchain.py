"""The support agent with langchain-groq (``bind_tools`` and ``with_structured_output``).

langchain-groq pins ``groq<1.0``; where it is not installed these tests skip."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_groq")

from app.lc_agent import run_support_loop, typed_answer

from pytest_llmlatency import LLMCalls

QUESTION = "Where is my order 1042? It should have arrived by now."


@pytest.mark.max_calls(n=2)
@pytest.mark.max_latency(ms=700, scope="test")
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=120)
def test_tool_loop(llm_calls: LLMCalls) -> None:
    assert run_support_loop(QUESTION)
    assert llm_calls[0].tool_names == ["lookup_order"]


@pytest.mark.max_calls(n=1)
@pytest.mark.max_latency(ms=250)
def test_structured_output(llm_calls: LLMCalls) -> None:
    """with_structured_output is one forced tool call: one round trip for a typed answer."""
    out = typed_answer(QUESTION)
    assert out.order_id == 1042
    assert llm_calls.last.tool_names == ["SupportAnswer"]
