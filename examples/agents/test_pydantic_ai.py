"""The support agent (pydantic-ai: a tool and a typed answer), as its team tests it.

An agent's latency is the sum of its steps, so the budgets are on the whole run
(``scope="test"``: first call's start to last call's end, the tool's time included),
on the number of steps (one more loop is one more round trip), and on each step.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pydantic_ai")

from app.agent import answer, stream_answer

from pytest_llmlatency import LLMCalls

QUESTION = "Where is my order 1042? It should have arrived by now."


@pytest.mark.anyio
@pytest.mark.max_calls(n=2)
@pytest.mark.max_latency(ms=600, scope="test")
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=120, reasoning=60)
async def test_support_agent(llm_calls: LLMCalls) -> None:
    """Two steps: the tool call, then the typed answer (pydantic-ai's output tool)."""
    out = await answer(QUESTION)
    assert out.order_id == 1042
    assert [call.tool_names for call in llm_calls] == [["lookup_order"], ["final_result"]]


@pytest.mark.anyio
@pytest.mark.max_calls(n=2)
@pytest.mark.max_latency(ms=600, scope="test")
@pytest.mark.max_ttft(ms=160)
async def test_support_agent_streamed(llm_calls: LLMCalls) -> None:
    """Streamed, each step shows progress early: TTFT counts reasoning and tool-call deltas."""
    out = await stream_answer("Has order 1044 been delivered?")
    assert out.order_id == 1044
    assert all(call.streamed for call in llm_calls)
