"""Inbox triage with litellm (async): three e-mails, three concurrent structured-output
calls (``response_format`` json_schema), each judged on its own.

No ``scope="test"`` budget here: on replay, concurrent calls are laid end to end on the
agent clock (the cassette does not keep how they overlapped), so the agent wall time of
a concurrent fan-out is judged as if the calls were made one after the other."""

from __future__ import annotations

import pytest

pytest.importorskip("litellm")
# litellm builds pydantic schemas of its own TypedDicts on first use, each with a UserWarning
pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

from app.triage import triage  # noqa: E402

from pytest_llmlatency import LLMCalls  # noqa: E402

INBOX = [
    "Hi, order 1042 never arrived and I want a refund. Please reply to jane.doe@example.com",
    "Order 1043: my card was charged twice, a billing error. me@example.org",
    "Urgent! My account is locked and I cannot see order 1044. bob@example.net",
]


@pytest.mark.anyio
@pytest.mark.max_calls(n=3)
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=120)
async def test_triage_inbox_concurrently(llm_calls: LLMCalls) -> None:
    tickets = await triage(INBOX)
    assert [t.order_id for t in tickets] == [1042, 1043, 1044]
    assert [t.category for t in tickets] == ["refund", "billing", "account"]
    assert all(call.response_format == "json_schema" for call in llm_calls)
