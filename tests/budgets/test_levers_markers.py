"""max_cost and min_cache_share judged in a pytest run against the emulator (the user's view)."""

from __future__ import annotations

import pytest


def test_cost_and_cache_budgets(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
import pytest

MSG = [{"role": "user", "content": "Say hello."}]

@pytest.mark.max_cost(usd=1.0)
@pytest.mark.max_cost(usd=1.0, scope="test")
def test_cheap(groq_client, llm_calls):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, max_completion_tokens=20)
    call = llm_calls.last
    assert call.cost_usd is not None and 0 < call.cost_usd < 1e-3
    assert call.service_tier == "on_demand"

@pytest.mark.max_cost(usd=1e-12)
def test_over_budget(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, max_completion_tokens=20)

@pytest.mark.max_cost(usd=1.0)
def test_unknown_price(groq_client):
    groq_client.chat.completions.create(model="allam-2-7b", messages=MSG, max_completion_tokens=20)

@pytest.mark.min_cache_share(0.5)
def test_cold(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, max_completion_tokens=20)

@pytest.mark.min_cache_share(1.5)
def test_bad_share(groq_client):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=3, errors=1)
    for line in (
        "*max_cost(usd=1e-12) exceeded by call 1 of 1 (llama-3.1-8b-instant): cost $*llama-3.1-8b-instant at "
        "$0.05/$0.08 per 1M tokens*",
        "*max_cost(usd=1): call 1 of 1 (allam-2-7b): cost unknown: allam-2-7b is not in the price table*",
        "*min_cache_share(0.5) missed by call 1 of 1 (llama-3.1-8b-instant): 0 of * prompt tokens cached (0%)*",
        "*min_cache_share: the share must be a number in (0, 1]*",
    ):
        result.stdout.fnmatch_lines([line])
