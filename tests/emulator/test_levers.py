"""Groq's latency levers in the emulator: prompt caching, service tiers, compound systems and
``x_groq.error``, through the real groq SDK (and the pure planning functions for latency)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import groq
import pytest

from pytest_llmlatency.core import endpoints
from pytest_llmlatency.core.calls import LLMCall
from pytest_llmlatency.emulator import GroqEmulator, plan_request
from pytest_llmlatency.emulator.cache import PromptCache, prompt_blocks
from pytest_llmlatency.emulator.compound import TOOL_SECONDS, plan_compound
from pytest_llmlatency.emulator.model import PERFORMANCE_QUEUE_FACTOR, with_cached_prefix
from pytest_llmlatency.emulator.profiles import PROFILES

from ..helpers import PYDANTIC_AI_CASSETTES, cassette_interactions

REAL_COMPOUND = PYDANTIC_AI_CASSETTES / "test_groq_model_web_search_tool_stream.yaml"
SYSTEM: Any = {"role": "system", "content": "You are the support assistant of a shop. " * 40}
CACHING = "openai/gpt-oss-20b"


@pytest.fixture
def emu() -> Iterator[GroqEmulator]:
    with GroqEmulator(time_scale=200, jitter=0, queue_ms=1) as server:
        yield server


@pytest.fixture
def client(emu: GroqEmulator) -> Iterator[groq.Groq]:
    with groq.Groq(base_url=emu.base_url, api_key="gsk_test", max_retries=0) as sdk:
        yield sdk


def _ask(client: groq.Groq, question: str, model: str = CACHING, **kw: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=[SYSTEM, {"role": "user", "content": question}], max_completion_tokens=40, **kw
    )


# -- prompt caching -------------------------------------------------------------------------


def test_caching_models_are_the_ones_groq_lists() -> None:
    caching = {m for m, p in PROFILES.items() if p.prompt_caching}
    assert caching == {
        "openai/gpt-oss-20b",
        "openai/gpt-oss-120b",
        "openai/gpt-oss-safeguard-20b",
        "moonshotai/kimi-k2-instruct-0905",
    }


def test_repeated_prompt_is_cached_and_reported(client: groq.Groq) -> None:
    cold = _ask(client, "Where is my order?")
    warm = _ask(client, "Where is my order?")
    assert cold.usage.prompt_tokens_details is None  # as the real cold gpt-oss-120b body
    assert cold.x_groq.usage is None
    assert warm.usage.prompt_tokens_details.cached_tokens == warm.usage.prompt_tokens
    assert warm.x_groq.usage.dram_cached_tokens == warm.usage.prompt_tokens
    assert warm.x_groq.usage.sram_cached_tokens == 0


def test_shared_prefix_is_cached_in_streams(client: groq.Groq) -> None:
    _ask(client, "Where is my order?")
    stream = _ask(client, "Can I get a refund?", stream=True, extra_body={"stream_options": {"include_usage": True}})
    chunks = list(stream)
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    cached = final.x_groq.usage.prompt_tokens_details.cached_tokens
    assert 0 < cached < final.x_groq.usage.prompt_tokens  # the system prompt, not the new question
    assert final.usage.prompt_tokens_details.cached_tokens == cached
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens_details.cached_tokens == cached


def test_cache_switches(emu: GroqEmulator, client: groq.Groq) -> None:
    _ask(client, "Hello")
    emu.clear_prompt_cache()
    assert _ask(client, "Hello").usage.prompt_tokens_details is None
    # a model Groq does not cache for never reports cached tokens
    _ask(client, "Hello", model="llama-3.1-8b-instant")
    assert _ask(client, "Hello", model="llama-3.1-8b-instant").usage.prompt_tokens_details is None
    with (
        GroqEmulator(time_scale=200, jitter=0, prompt_cache=False) as off,
        groq.Groq(base_url=off.base_url, api_key="k", max_retries=0) as c,
    ):
        _ask(c, "Hello")
        assert _ask(c, "Hello").usage.prompt_tokens_details is None


def test_cached_prefix_prefills_faster_per_profile() -> None:
    body = {"model": CACHING, "messages": [SYSTEM, {"role": "user", "content": "Hi"}]}
    plan = plan_request(body, jitter=0, queue_ms=0)
    warm = with_cached_prefix(plan, plan.prompt_tokens)
    assert warm.cached_tokens == plan.prompt_tokens
    assert warm.timing.prompt_s == pytest.approx(plan.timing.prompt_s / PROFILES[CACHING].cached_prefill_speedup)
    assert warm.timing.token_s == plan.timing.token_s and warm.completion_tokens == plan.completion_tokens
    llama = plan_request({**body, "model": "llama-3.1-8b-instant"}, jitter=0)
    assert with_cached_prefix(llama, llama.prompt_tokens).cached_tokens == 0


def test_prompt_cache_expires_and_is_bounded() -> None:
    now = [0.0]
    cache = PromptCache(ttl_s=10, max_entries=3, clock=lambda: now[0])
    body = {"model": CACHING, "messages": [SYSTEM, {"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    plan = plan_request(body, jitter=0)
    blocks = prompt_blocks(body, plan.prompt_tokens)
    assert sum(t for _, t in blocks) == plan.prompt_tokens
    assert cache.lookup_and_store(blocks) == 0
    now[0] = 9.0
    assert cache.lookup_and_store(blocks) == plan.prompt_tokens
    now[0] = 20.0  # 11 s without use
    assert cache.lookup_and_store(blocks) == 0
    other = {**body, "messages": [{"role": "user", "content": f"q{i}"} for i in range(5)]}
    cache.lookup_and_store(prompt_blocks(other, plan_request(other, jitter=0).prompt_tokens))
    assert len(cache) == 3
    with pytest.raises(ValueError, match="cache_ttl_s"):
        PromptCache(ttl_s=0)


# -- service tiers ----------------------------------------------------------------------------


def test_service_tier_is_validated_and_echoed(client: groq.Groq) -> None:
    with pytest.raises(groq.BadRequestError) as err:
        _ask(client, "Hi", service_tier="premium")
    assert err.value.body == {
        "error": {
            "message": "'service_tier' : value must be one of: auto, on_demand, flex, performance",
            "type": "invalid_request_error",
            "param": "service_tier",
        }
    }
    assert _ask(client, "Hi").service_tier == "on_demand"
    assert _ask(client, "Hi", service_tier="flex").service_tier == "flex"
    assert _ask(client, "Hi", service_tier="performance").service_tier == "performance"
    assert _ask(client, "Hi", service_tier="auto").service_tier == "on_demand"
    # auto falls back to flex when on-demand limits are hit
    hit = _ask(client, "Hi", service_tier="auto", extra_headers={"x-emulator-fault": "429"})
    assert hit.service_tier == "flex"


def test_flex_fails_fast_under_capacity_pressure(emu: GroqEmulator, client: groq.Groq) -> None:
    emu.set_capacity_pressure(True)
    with pytest.raises(groq.APIStatusError) as err:
        _ask(client, "Hi", service_tier="flex")
    assert err.value.status_code == 498
    assert err.value.body["error"]["code"] == "capacity_exceeded"  # type: ignore[index]
    assert _ask(client, "Hi", service_tier="on_demand").service_tier == "on_demand"
    emu.set_capacity_pressure(False)
    assert _ask(client, "Hi", service_tier="flex").service_tier == "flex"
    with pytest.raises(groq.APIStatusError) as err:
        _ask(client, "Hi", service_tier="flex", extra_headers={"x-emulator-fault": "capacity_pressure"})
    assert err.value.status_code == 498
    assert emu.requests[-1].status == 498 and emu.requests[-1].t_headers_ns is None  # no queue, no tokens


def test_performance_tier_halves_the_queue() -> None:
    body = {"model": CACHING, "messages": [{"role": "user", "content": "Hi"}]}
    on_demand = plan_request(body, jitter=0)
    performance = plan_request({**body, "service_tier": "performance"}, jitter=0)
    assert performance.timing.queue_s == pytest.approx(on_demand.timing.queue_s * PERFORMANCE_QUEUE_FACTOR)
    assert performance.timing.prompt_s == on_demand.timing.prompt_s


# -- compound systems ---------------------------------------------------------------------------


def _real_compound_chunks() -> list[dict[str, Any]]:
    recorded = cassette_interactions(REAL_COMPOUND)[0]["response"]["body"]["string"]
    return [json.loads(e[6:]) for e in recorded.split("\n\n") if e.startswith("data: {")]


def test_compound_stream_is_shaped_like_the_real_recording(client: groq.Groq, emu: GroqEmulator) -> None:
    real = _real_compound_chunks()
    question = "What is the weather in San Francisco today?"
    stream = client.chat.completions.create(
        model="compound-beta", messages=[{"role": "user", "content": question}], stream=True
    )
    ours = [c.model_dump(exclude_unset=True) for c in stream]
    assert ours[0]["choices"][0]["delta"] == {"reasoning": ours[0]["choices"][0]["delta"]["reasoning"]}  # no role chunk
    assert len({c["id"] for c in ours}) == len(ours)
    tools = [c for c in ours if "executed_tools" in c["choices"][0]["delta"]]
    real_tools = [c for c in real if "executed_tools" in c["choices"][0]["delta"]]
    assert len(tools) == len(real_tools) == 2
    for mine, theirs in zip(tools, real_tools, strict=True):
        assert mine.keys() == theirs.keys()
        assert set(mine["choices"][0]["delta"]["executed_tools"][0]) == set(
            theirs["choices"][0]["delta"]["executed_tools"][0]
        )
    assert json.loads(tools[0]["choices"][0]["delta"]["executed_tools"][0]["arguments"]) == {"query": question}
    final, real_final = ours[-1], real[-1]
    assert final["id"] == real_final["id"] == "stub"
    assert final.keys() == real_final.keys() and final["x_groq"].keys() == real_final["x_groq"].keys()
    models = [m["model"] for m in final["x_groq"]["usage_breakdown"]["models"]]
    assert models == [m["model"] for m in real_final["x_groq"]["usage_breakdown"]["models"]]
    inner = [m["usage"] for m in final["x_groq"]["usage_breakdown"]["models"]]
    assert final["x_groq"]["usage"]["prompt_tokens"] == sum(u["prompt_tokens"] for u in inner)
    assert final["x_groq"]["usage"]["completion_tokens"] == sum(u["completion_tokens"] for u in inner)
    assert final["model"] == "groq/compound"
    # the served tool run is in the wall time the server measured, not in usage
    record = emu.requests[-1]
    assert record.t_done_ns is not None and record.usage is not None
    wall_s = (record.t_done_ns - record.t_received_ns) / 1e9
    assert wall_s >= TOOL_SECONDS["search"] / emu.time_scale


def test_compound_body_and_plan(client: groq.Groq) -> None:
    question = "What is the latest price of gold? Then calculate 17 * 23."
    full = client.chat.completions.create(model="groq/compound", messages=[{"role": "user", "content": question}])
    message = full.choices[0].message
    assert [t.type for t in message.executed_tools or []] == ["search", "python"]
    assert message.executed_tools and message.executed_tools[1].code_results
    assert message.reasoning and message.content
    assert full.usage_breakdown is not None and len(full.usage_breakdown.models) == 1 + 3 * 2
    assert full.usage is not None
    assert full.usage.prompt_tokens == sum(m.usage.prompt_tokens for m in full.usage_breakdown.models)
    mini = client.chat.completions.create(model="groq/compound-mini", messages=[{"role": "user", "content": question}])
    assert [t.type for t in mini.choices[0].message.executed_tools or []] == ["search"]
    plain = client.chat.completions.create(model="groq/compound", messages=[{"role": "user", "content": "Say hi"}])
    assert plain.choices[0].message.executed_tools == [] and len(plain.usage_breakdown.models) == 1  # type: ignore[union-attr]
    # latency: the sum of the inner calls and the tool runs
    body = {"model": "groq/compound", "messages": [{"role": "user", "content": question}]}
    plan = plan_request(body, jitter=0, queue_ms=0)
    cplan = plan_compound(plan, body)
    model_s = sum(c.prompt_s + c.completion_s for c in cplan.calls)
    assert cplan.duration_s == pytest.approx(model_s + TOOL_SECONDS["search"] + TOOL_SECONDS["python"])
    assert plan_compound(plan, body).usage() == cplan.usage()  # deterministic


# -- x_groq.error -------------------------------------------------------------------------------


def test_x_groq_error_stops_the_stream_and_fails_the_call(client: groq.Groq) -> None:
    stream = client.chat.completions.create(
        model="llama-3.1-8b-instant",
        messages=[{"role": "user", "content": "Tell me about latency in about 50 words"}],
        stream=True,
        extra_headers={"x-emulator-fault": "x_groq_error;after=3"},
    )
    chunks = [c.model_dump(exclude_unset=True) for c in stream]  # the SDK does not raise on it
    assert chunks[-1]["x_groq"]["error"] == "over_capacity"
    assert sum(1 for c in chunks if c["choices"][0]["delta"].get("content")) == 3
    call = LLMCall(model="llama-3.1-8b-instant", params={})
    ended = [endpoints.read_event(endpoints.CHAT, call, c, None, i) for i, c in enumerate(chunks)]
    assert ended[-1] is True and call.error == "over_capacity"
