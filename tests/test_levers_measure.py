"""Groq's latency levers as measured values: prompt cache share, served tier, compound systems'
inner calls and executed tools, cost at the price table, and the budgets on them. From the real
compound/web-search recording, a hand-written cassette in Groq's shape, and the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmlatency.core.calls import LLMCall
from pytest_llmlatency.core.prices import BUILTIN, PriceError, PriceTable, load_prices
from pytest_llmlatency.report.terminal import cache_effect, compound_notes, lever_cells, render_table

from .capture.test_agents_capture import STEP_MS, _offline, timed_interactions
from .helpers import FIXTURES, cassette_interactions

LEVERS = FIXTURES / "levers"


def _replay(name: str) -> LLMCall:
    return _offline(cassette_interactions(LEVERS / name)[0])


def test_real_compound_stream_replays_with_its_breakdown_and_tools() -> None:
    """test_groq_model_web_search_tool_stream.yaml: four inner model calls in x_groq.usage_breakdown,
    one web search whose arguments and output arrive in two chunks."""
    (interaction,) = timed_interactions("test_groq_model_web_search_tool_stream.yaml")
    call = _offline(interaction)
    assert call.ok and call.compound
    assert [m["model"] for m in call.usage_breakdown] == [
        "llama-3.3-70b-versatile",
        "meta-llama/llama-4-scout-17b-16e-instruct",
        "meta-llama/llama-4-scout-17b-16e-instruct",
        "llama-3.3-70b-versatile",
    ]
    # the recording's quirk: every inner entry repeats the total usage, so the sum is four times it
    inner = call.inner_usage
    assert inner is not None and inner["prompt_tokens"] == 4 * 5003 and inner["completion_tokens"] == 4 * 359
    assert call.inner_models["llama-3.3-70b-versatile"]["calls"] == 2
    assert call.inner_models["meta-llama/llama-4-scout-17b-16e-instruct"]["completion_tokens"] == 2 * 359
    (tool,) = call.executed_tools
    assert tool["type"] == "search" and tool["arguments_chars"] == len(
        '{"query": "What is the weather in San Francisco today?"}'
    )
    assert tool["output_chars"] > 1000
    # started and done chunks are consecutive events here: one synthetic step apart
    assert call.tool_run_ms == pytest.approx(STEP_MS)
    cost, why = call.cost()
    assert cost is None and why.startswith("cost unknown: compound-beta ran server-side tools (search)")
    record = call.to_dict()
    assert record["executed_tools"] == [
        {"index": 0, "type": "search", "arguments_chars": tool["arguments_chars"], "output_chars": tool["output_chars"]}
    ]
    assert record["inner_usage"]["total_tokens"] == 4 * 5362 and record["cost_usd"] is None
    json.dumps(record)  # JSON-safe


def test_cached_share_tier_and_cost_from_a_groq_body() -> None:
    call = _replay("cached_flex.yaml")
    assert call.cached_tokens == 800 and call.cached_share == pytest.approx(0.8)
    assert call.service_tier == "flex" and call.served_tier == "flex" and call.requested_tier == "flex"
    assert call.hardware_cache == {"dram_cached_tokens": 800, "sram_cached_tokens": 0}
    price = BUILTIN["openai/gpt-oss-120b"]
    assert price.cached_input is not None and price.input is not None and price.output is not None
    expected = (200 * price.input + 800 * price.cached_input + 50 * price.output) / 1e6
    assert call.cost_usd == pytest.approx(expected)
    record = call.to_dict()
    assert record["cached_share"] == pytest.approx(0.8) and record["service_tier"] == "flex"
    assert record["cost_usd"] == pytest.approx(expected) and record["hardware_cache"]["dram_cached_tokens"] == 800


def test_cost_is_unknown_never_guessed() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    unknown = LLMCall(model="acme/secret-model", params={}, usage=usage)
    assert unknown.cost_usd is None
    assert "acme/secret-model is not in the price table" in unknown.cost()[1]
    # cached tokens on a model without a cached-input price: unknown, not the full input price
    cached = LLMCall(
        model="llama-3.1-8b-instant", params={}, usage={**usage, "prompt_tokens_details": {"cached_tokens": 50}}
    )
    assert cached.cost_usd is None and "no cached-input price" in cached.cost()[1]
    # Groq omits prompt_tokens_details when nothing was cached: 0 % cached, a known cost
    plain = LLMCall(model="llama-3.1-8b-instant", params={}, usage=usage)
    assert plain.cached_share == 0.0 and plain.cost_usd == pytest.approx((100 * 0.05 + 10 * 0.08) / 1e6)
    # auto says nothing about the tier that served a stream
    assert LLMCall(model="m", params={"service_tier": "auto"}).service_tier is None


def test_negotiated_prices_override_the_table(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"llama-3.1-8b-instant": {"input": 1.0, "output": 2.0, "as_of": "2026-01-01"}}))
    table = load_prices(path)
    call = LLMCall(
        model="llama-3.1-8b-instant",
        params={},
        usage={"prompt_tokens": 1_000_000, "completion_tokens": 1_000_000},
        price_table=table,
    )
    assert call.cost_usd == pytest.approx(3.0)
    assert table.get("openai/gpt-oss-20b") == BUILTIN["openai/gpt-oss-20b"]
    assert isinstance(PriceTable().get("openai/gpt-oss-120b"), type(BUILTIN["openai/gpt-oss-120b"]))
    for bad, needle in (
        ({"m": {"input": -1}}, "'m'.input must be a number >= 0"),
        ({"m": {"inputs": 1}}, "unknown key 'inputs'"),
        ({"m": {"source": "x"}}, "gives no price"),
        ([1], "must hold a JSON object"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(PriceError, match=str(path).replace("\\", "\\\\")) as err:
            load_prices(path)
        assert needle in str(err.value)


def test_every_builtin_price_names_its_source_and_date() -> None:
    for model, price in BUILTIN.items():
        assert price.source.startswith("https://"), model
        assert price.as_of[:4].isdigit(), model


def _result(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodeid": "t.py::test", "calls": calls, "summary": {"calls": len(calls)}, "verdicts": [], "verdict": "pass"}


def test_reports_show_levers_only_where_there_are_some() -> None:
    warm = _replay("cached_flex.yaml").to_dict()
    cold = {**warm, "cached_tokens": None, "cached_share": 0.0, "prompt_ms": 50.0}
    cells = lever_cells(_result([warm, cold]))
    assert cells["cache"] == "40%" and cells["tier"] == "flex" and cells["cost"].startswith("$")
    table = render_table([_result([warm, cold])])
    assert "cached" in table[0] and "tier" in table[0] and "cost" in table[0]
    (effect,) = cache_effect([_result([warm, cold])])
    assert effect.startswith("prompt cache openai/gpt-oss-120b: warm 1 call(s), 80% cached: prompt time p50 10 ms")
    assert "cold 1 call(s), 0% cached: prompt time p50 50 ms" in effect
    plain = {**warm, "cached_tokens": None, "cached_share": 0.0, "service_tier": None, "cost_usd": None}
    plain_table = render_table([_result([{**plain, "prompt_tokens": None}])])
    assert "cached" not in plain_table[0] and "tier" not in plain_table[0]
    (interaction,) = timed_interactions("test_groq_model_web_search_tool_stream.yaml")
    (note,) = compound_notes([_result([_offline(interaction).to_dict()])])
    assert "4 inner model call(s): llama-3.3-70b-versatile x2 (10,006/718 tokens)" in note
    assert "tools run: search" in note
