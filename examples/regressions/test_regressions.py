"""Deliberately over budget: what the gate says when someone "improves" the request.

Each test keeps the budgets of ``test_intent`` but changes one knob, as a pull
request might. They are expected to fail (``xfail(strict=True)``): the run stays
green, and the LLM latency section shows the messages a team would see.
"""

from __future__ import annotations

import pytest
from app.intent import classify

OVER_BUDGET = pytest.mark.xfail(strict=True, reason="deliberately over budget: see the LLM latency report")


@OVER_BUDGET
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=50)
def test_default_effort_and_bigger_cap() -> None:
    """reasoning_effort left at the model's default (medium) and max_completion_tokens=1024:
    the model thinks for ~300 tokens before a one-word answer."""
    classify("I was charged twice this month", reasoning_effort=None, max_completion_tokens=1024)


@OVER_BUDGET
@pytest.mark.max_latency(ms=300)
@pytest.mark.max_tokens(completion=50)
def test_high_reasoning_effort() -> None:
    """reasoning_effort='high': hundreds of reasoning tokens before the answer."""
    classify("I was charged twice this month", reasoning_effort="high", max_completion_tokens=2048)


@OVER_BUDGET
@pytest.mark.max_ttft(ms=120)
@pytest.mark.max_tokens(completion=50)
def test_bigger_model() -> None:
    """A switch to openai/gpt-oss-120b at its default effort: a slower model that reasons
    more, with no cap to stop it."""
    classify(
        "I was charged twice this month",
        model="openai/gpt-oss-120b",
        reasoning_effort=None,
        max_completion_tokens=1024,
    )
