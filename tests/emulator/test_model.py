"""The emulator's generation model: lengths, caps, stop sequences, reasoning effort."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmlatency.emulator import PROFILES, APIError, plan_request
from pytest_llmlatency.emulator.model import count_tokens, natural_length, prompt_tokens


def _req(content: str, model: str = "llama-3.1-8b-instant", **params: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **params}


def test_prompt_tokens_agree_with_real_groq_billing() -> None:
    # real cassettes: Groq billed 17 for this prompt and 20 for the latency one
    assert prompt_tokens([{"role": "user", "content": "What is the capital of India?"}]) == 17
    assert 18 <= prompt_tokens([{"role": "user", "content": "Explain the importance of low latency LLMs"}]) <= 22


def test_same_request_same_answer() -> None:
    a = plan_request(_req("Tell me about caching."))
    b = plan_request(_req("Tell me about caching."))
    assert a.content == b.content and a.completion_tokens == b.completion_tokens


@pytest.mark.parametrize("param", [{"temperature": 0}, {"top_p": 0.5}, {"seed": 7}])
def test_sampling_changes_text_not_length(param: dict[str, Any]) -> None:
    """What is drawn changes, not how long it is (at temperature > 0 the length is drawn too:
    tests/emulator/test_sampling.py)."""
    base = plan_request(_req("Tell me about caching."))
    other = plan_request(_req("Tell me about caching.", **param))
    assert other.content != base.content
    assert other.completion_tokens == base.completion_tokens
    assert other.timing == base.timing


@pytest.mark.parametrize(
    ("prompt", "lo", "hi"),
    [
        ("Describe Groq in about 300 words.", 350, 430),
        ("Describe Groq in 100 words", 117, 143),
        ("Answer in one word: what colour is the sky?", 1, 3),
        ("Reply with at most 40 tokens.", 32, 40),
        ("Reply in about 200 tokens.", 180, 220),
        ("Summarize this in two sentences.", 36, 44),
        ("Write three paragraphs about queues.", 243, 297),
    ],
)
def test_requested_lengths_are_honoured_roughly(prompt: str, lo: int, hi: int) -> None:
    plan = plan_request(_req(prompt))
    assert lo <= plan.completion_tokens <= hi
    assert plan.finish_reason == "stop"


def test_unspecified_length_is_within_the_profile_range() -> None:
    profile = PROFILES["llama-3.1-8b-instant"]
    lengths = {
        natural_length(profile.id, [{"role": "user", "content": f"Question number {i}?"}], profile) for i in range(200)
    }
    lo, hi = profile.typical_answer
    assert min(lengths) >= lo and max(lengths) <= hi
    assert len(lengths) > 100, "lengths vary across prompts"


def test_cap_truncates_only_below_the_natural_length() -> None:
    natural = plan_request(_req("Describe Groq in about 300 words."))
    capped = plan_request(_req("Describe Groq in about 300 words.", max_completion_tokens=50))
    above = plan_request(_req("Describe Groq in about 300 words.", max_completion_tokens=1024))
    assert capped.completion_tokens == 50 and capped.finish_reason == "length"
    assert capped.duration_s < natural.duration_s
    assert above.completion_tokens == natural.completion_tokens and above.finish_reason == "stop"
    assert above.duration_s == natural.duration_s
    legacy = plan_request(_req("Describe Groq in about 300 words.", max_tokens=50))
    assert legacy.completion_tokens == 50, "max_tokens is the deprecated alias"


def test_stop_sequence_ends_the_answer_early() -> None:
    prompt = "Classify the intent of 'where is my money back?'. Reply in JSON."
    free = plan_request(_req(prompt))
    stopped = plan_request(_req(prompt, stop=[":"]))
    assert isinstance(json.loads("".join(free.content)), dict), "prompted JSON is one object and nothing else"
    text = "".join(stopped.content)
    assert text == '{"intent"'
    assert stopped.finish_reason == "stop"
    assert stopped.completion_tokens == 5, "the token holding the stop sequence is billed"
    assert free.completion_tokens > stopped.completion_tokens
    assert stopped.duration_s < free.duration_s


def test_stop_sequence_not_in_the_answer_changes_nothing() -> None:
    a = plan_request(_req("Tell me about caching."))
    b = plan_request(_req("Tell me about caching.", stop=["<END>"]))
    assert a.content == b.content and a.completion_tokens == b.completion_tokens


def test_reasoning_effort_orders_reasoning_tokens_and_time() -> None:
    plans = {
        effort: plan_request(_req("Plan a trip.", model="openai/gpt-oss-20b", reasoning_effort=effort))
        for effort in ("low", "medium", "high")
    }
    assert plans["low"].reasoning_tokens < plans["medium"].reasoning_tokens < plans["high"].reasoning_tokens
    assert plans["low"].duration_s < plans["medium"].duration_s < plans["high"].duration_s
    default = plan_request(_req("Plan a trip.", model="openai/gpt-oss-20b"))
    assert default.reasoning_tokens == plans["medium"].reasoning_tokens, "gpt-oss defaults to medium"
    content = len(plans["low"].content)
    assert all(p.completion_tokens == p.reasoning_tokens + content for p in plans.values())


def test_qwen_reasoning_none_and_default() -> None:
    none = plan_request(_req("Plan a trip.", model="qwen/qwen3-32b", reasoning_effort="none"))
    default = plan_request(_req("Plan a trip.", model="qwen/qwen3-32b"))
    assert none.reasoning_tokens == 0 < default.reasoning_tokens


def test_reasoning_counts_against_the_cap() -> None:
    plan = plan_request(
        _req("Plan a trip.", model="openai/gpt-oss-20b", reasoning_effort="high", max_completion_tokens=100)
    )
    assert plan.completion_tokens == 100 and plan.reasoning_tokens == 100
    assert plan.content == [] and plan.finish_reason == "length"


def test_timing_formula() -> None:
    plan = plan_request(_req("Describe Groq in 100 words", model="openai/gpt-oss-20b"), jitter=0, queue_ms=10)
    profile = PROFILES["openai/gpt-oss-20b"]
    assert plan.timing.queue_s == pytest.approx(0.010)
    assert plan.timing.prompt_s == pytest.approx(plan.prompt_tokens / profile.prefill_tps)
    assert plan.timing.token_s == pytest.approx(1 / profile.decode_tps)
    assert plan.duration_s == pytest.approx(
        0.010 + plan.prompt_tokens / profile.prefill_tps + plan.completion_tokens / profile.decode_tps
    )


def test_jitter_is_seeded_and_varies_across_occurrences() -> None:
    body = _req("Tell me about caching.")
    a = [plan_request(body, seed=1, occurrence=i).timing for i in range(5)]
    b = [plan_request(body, seed=1, occurrence=i).timing for i in range(5)]
    c = [plan_request(body, seed=2, occurrence=i).timing for i in range(5)]
    assert a == b and a != c
    assert len({t.token_s for t in a}) == 5


def test_count_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello, world") == 3
    assert count_tokens("internationalization") == 3


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
        ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, None),
        (_req("x", n=3), 400, "n"),
        (_req("x", stop=["1", "2", "3", "4", "5"]), 400, "stop"),
        (_req("x", stop=[1]), 400, "stop"),
        (_req("x", temperature=3), 400, "temperature"),
        (_req("x", max_completion_tokens=10**6), 400, "max_completion_tokens"),
        (_req("x", max_completion_tokens="10"), 400, "max_completion_tokens"),
        (_req("x", model="openai/gpt-oss-20b", reasoning_effort="extreme"), 400, "reasoning_effort"),
        (_req("x", model="openai/gpt-oss-20b", reasoning_format="raw"), 400, "reasoning_format"),
        (
            {"model": "llama-3.1-8b-instant", "messages": [{"role": "robot", "content": "x"}]},
            400,
            "messages.0",
        ),
        ([1, 2], 400, None),
    ],
)
def test_validation(body: Any, status: int, param: str | None) -> None:
    with pytest.raises(APIError) as info:
        plan_request(body)
    assert info.value.status == status
    assert info.value.param == param
    assert info.value.body()["error"]["message"]
