"""Ticket extraction with instructor: one call per e-mail, or the latency doubles.

instructor re-asks the model when the answer fails validation; each re-ask is one more
full LLM call, so ``max_calls(n=1)`` is the budget that catches a schema the model
struggles with.
"""

from __future__ import annotations

import pytest

pytest.importorskip("instructor")

from app.extract import extract_ticket
from instructor import Mode

EMAIL = "Hi, order 1042 never arrived and I want a refund. Please reply to jane.doe@example.com"


@pytest.mark.parametrize("mode", [Mode.TOOLS, Mode.JSON], ids=["tools", "json"])
@pytest.mark.max_calls(n=1)
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=120)
def test_extract_ticket(mode: Mode) -> None:
    ticket = extract_ticket(EMAIL, mode=mode)
    assert ticket.order_id == 1042
    assert ticket.category == "refund"
    assert ticket.customer_email == "jane.doe@example.com"
