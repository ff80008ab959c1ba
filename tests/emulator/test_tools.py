"""Tool calling: the emulator's policy, Groq's wire shapes (checked against real cassettes),
400s and the ``tool_use_failed`` fault."""

from __future__ import annotations

import json
import re
from typing import Any

import groq
import pytest

from pytest_llmlatency.core.sse import SSEParser
from pytest_llmlatency.emulator import GroqEmulator, plan_request

from ..helpers import PYDANTIC_AI_CASSETTES, cassette_interactions, json_paths, post_chat

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "additionalProperties": False,
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "type": "object",
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current local time in a timezone.",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
    },
}
ASK = [{"role": "user", "content": "What's the weather in Paris?"}]


def _events(text: str) -> list[tuple[str | None, str]]:
    parser = SSEParser()
    return [(e.event, e.data) for e in parser.feed(text.encode()) + parser.close()]


def _real(name: str) -> list[dict[str, Any]]:
    return cassette_interactions(PYDANTIC_AI_CASSETTES / name)


# -- the policy ---------------------------------------------------------------------------


def _plan(messages: list[Any], tools: list[Any], **params: Any) -> Any:
    return plan_request({"model": "llama-3.3-70b-versatile", "messages": messages, "tools": tools, **params})


def test_auto_calls_the_best_matching_tool_then_answers_after_the_result() -> None:
    first = _plan(ASK, [TIME, WEATHER])
    assert [c.name for c in first.tool_calls] == ["get_weather"] and first.finish_reason == "tool_calls"
    assert json.loads(first.tool_calls[0].arguments) == {"city": "Paris"}
    assert first.content == [] and first.completion_tokens == first.tool_tokens > 0
    call = first.tool_calls[0]
    follow = [
        *ASK,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 22C in Paris"},
    ]
    second = _plan(follow, [TIME, WEATHER])
    assert second.tool_calls == [] and second.finish_reason == "stop" and second.content
    assert second.prompt_tokens > first.prompt_tokens, "the call and its result are prompt tokens"
    # forced after a result: a tool not called yet goes first (agent loops end)
    forced = _plan(follow, [TIME, WEATHER], tool_choice="required")
    assert [c.name for c in forced.tool_calls] == ["get_time"]


def test_tool_choice_variants() -> None:
    assert _plan(ASK, [TIME, WEATHER], tool_choice="none").tool_calls == []
    assert [c.name for c in _plan(ASK, [TIME, WEATHER], tool_choice="required").tool_calls] == ["get_weather"]
    named = {"type": "function", "function": {"name": "get_time"}}
    assert [c.name for c in _plan(ASK, [TIME, WEATHER], tool_choice=named).tool_calls] == ["get_time"]
    unrelated = [{"role": "user", "content": "Hello there"}]
    assert [c.name for c in _plan(unrelated, [TIME, WEATHER]).tool_calls] == ["get_time"], "no match: the first"


def test_parallel_calls_when_the_message_names_several_tools() -> None:
    both = [{"role": "user", "content": "Get the weather and the time in Tokyo."}]
    assert [c.name for c in _plan(both, [TIME, WEATHER]).tool_calls] == ["get_time", "get_weather"]
    one = _plan(both, [TIME, WEATHER], parallel_tool_calls=False)
    assert len(one.tool_calls) == 1


def test_same_request_same_calls_and_ids() -> None:
    a, b = _plan(ASK, [WEATHER]), _plan(ASK, [WEATHER])
    assert a.tool_calls == b.tool_calls
    assert re.fullmatch(r"[0-9a-z]{9}", a.tool_calls[0].id), "Groq's id format on Llama (real: 48f5r72yf)"
    oss = plan_request({"model": "openai/gpt-oss-20b", "messages": ASK, "tools": [WEATHER]})
    assert re.fullmatch(r"fc_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", oss.tool_calls[0].id)
    assert oss.reasoning and oss.completion_tokens == len(oss.reasoning) + oss.tool_tokens


def test_cap_below_the_tool_call_gives_length() -> None:
    plan = _plan(ASK, [WEATHER], max_completion_tokens=3)
    assert plan.tool_calls == [] and plan.finish_reason == "length" and plan.completion_tokens == 3


# -- the wire, against the real cassettes ----------------------------------------------------


def test_non_streamed_tool_call_matches_the_real_response(fast_emulator: GroqEmulator) -> None:
    real = _real("test_tool_choice_matrix[auto-groq].yaml")
    request = real[0]["request"]["parsed_body"]
    ours = post_chat(fast_emulator, request).json()
    expected = real[0]["response"]["parsed_body"]
    assert json_paths(expected) <= json_paths(ours)
    assert json_paths(ours["choices"][0]) == json_paths(expected["choices"][0]), "same keys in the choice, no content"
    assert ours["choices"][0]["message"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert ours["choices"][0]["finish_reason"] == "tool_calls"
    # the follow-up with the tool result answers in text, as Groq did
    follow = post_chat(fast_emulator, real[1]["request"]["parsed_body"]).json()
    assert json_paths(follow["choices"][0]) == json_paths(real[1]["response"]["parsed_body"]["choices"][0])
    assert follow["choices"][0]["finish_reason"] == "stop"


def _stream_chunks(text: str) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in _events(text) if data.startswith("{")]


def test_streamed_tool_call_matches_the_real_stream(fast_emulator: GroqEmulator) -> None:
    real = _real("test_tool_use_failed_error_streaming.yaml")[1]
    real_chunks = _stream_chunks(real["response"]["body"]["string"])
    resp = post_chat(fast_emulator, real["request"]["parsed_body"])
    assert resp.status_code == 200
    ours = _stream_chunks(resp.text)
    assert _events(resp.text)[-1][1] == "[DONE]"

    def kinds(chunks: list[dict[str, Any]]) -> list[str]:
        out: list[str] = []
        for c in chunks:
            delta, finish = c["choices"][0]["delta"], c["choices"][0]["finish_reason"]
            kind = (
                "final" if finish else "role" if "role" in delta else "tool" if "tool_calls" in delta else "reasoning"
            )
            if not out or out[-1] != kind:
                out.append(kind)
        return out

    assert kinds(ours) == kinds(real_chunks) == ["role", "reasoning", "tool", "final"]
    for kind in ("tool", "reasoning", "final"):
        mine = next(c for c in ours if kinds([ours[0], c])[-1] == kind)
        theirs = next(c for c in real_chunks if kinds([real_chunks[0], c])[-1] == kind)
        assert json_paths(mine) == json_paths(theirs), kind
        if kind != "final":
            assert list(mine["choices"][0]["delta"]) == list(theirs["choices"][0]["delta"]), "key order"
    tool = next(c for c in ours if "tool_calls" in c["choices"][0]["delta"])["choices"][0]["delta"]["tool_calls"]
    assert len(tool) == 1 and tool[0]["function"]["name"] == "get_something_by_name"
    assert set(json.loads(tool[0]["function"]["arguments"])) == {"name"}, "the whole arguments string at once"
    assert ours[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert (
        ours[-1]["x_groq"]["usage"]["completion_tokens"]
        > ours[-1]["x_groq"]["usage"]["completion_tokens_details"]["reasoning_tokens"]
    )


def test_streamed_tool_call_is_timed_like_output(fast_emulator: GroqEmulator) -> None:
    body = {"model": "llama-3.1-8b-instant", "messages": ASK, "tools": [WEATHER], "stream": True}
    resp = post_chat(fast_emulator, body)
    record = fast_emulator.requests[-1]
    assert record.finish_reason == "tool_calls"
    assert len(record.token_times_ns) == 1 and record.t_first_token_ns == record.token_times_ns[0]
    plan = plan_request(body)
    # the one delta waits for every token of the call (decode time, scaled by the emulator's time_scale)
    decode_ns = plan.tool_tokens * plan.timing.token_s / fast_emulator.time_scale * 1e9
    assert record.usage is not None and record.usage["completion_tokens"] == plan.tool_tokens
    assert record.usage["completion_time"] * 1e9 >= decode_ns * 0.99
    assert "tool_calls" in resp.text


def test_groq_sdk_streamed_and_not(fast_emulator: GroqEmulator) -> None:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        for choice in ("auto", "required", {"type": "function", "function": {"name": "get_time"}}):
            resp = client.chat.completions.create(  # type: ignore[call-overload]
                model="openai/gpt-oss-20b",
                messages=ASK,
                tools=[WEATHER, TIME],
                tool_choice=choice,
            )
            calls = resp.choices[0].message.tool_calls
            assert calls and resp.choices[0].finish_reason == "tool_calls"
            stream = client.chat.completions.create(  # type: ignore[call-overload]
                model="openai/gpt-oss-20b",
                messages=ASK,
                tools=[WEATHER, TIME],
                tool_choice=choice,
                stream=True,
            )
            streamed = [tc for c in stream if c.choices for tc in c.choices[0].delta.tool_calls or []]
            assert [(t.function.name, t.function.arguments) for t in streamed if t.function] == [
                (c.function.name, c.function.arguments) for c in calls
            ]


# -- 400s and tool_use_failed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "param", "text"),
    [
        ({"tools": None, "tool_choice": "auto"}, "tool_choice", "only allowed when `tools` are specified"),
        ({"tool_choice": "any"}, "tool_choice", "Only allowed string values for 'tool_choice' are none, auto"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "`nope` is not one of the tools",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
            "tools.0.function.parameters",
            "invalid JSON schema for tool f",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
            "tools.0.function.parameters",
            "invalid JSON schema",
        ),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools.0.function.name", "pattern"),
        ({"tools": [{"type": "retrieval"}]}, "tools.0.type", "must be 'function'"),
        (
            {"model": "qwen/qwen3-32b", "reasoning_format": "raw"},
            "reasoning_format",
            "not supported with JSON mode or tool use",
        ),
    ],
)
def test_invalid_tools_get_groq_400s(
    fast_emulator: GroqEmulator, change: dict[str, Any], param: str, text: str
) -> None:
    body = {"model": "llama-3.3-70b-versatile", "messages": ASK, "tools": [WEATHER], **change}
    body = {k: v for k, v in body.items() if v is not None}
    resp = post_chat(fast_emulator, body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and text in error["message"]
    with (
        groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test", max_retries=0) as client,
        pytest.raises(groq.BadRequestError),
    ):
        client.chat.completions.create(**body)


def test_tool_use_failed_streamed_as_groq_sends_it(fast_emulator: GroqEmulator) -> None:
    real = _real("test_tool_use_failed_error_streaming.yaml")[0]
    real_events = _events(real["response"]["body"]["string"])
    body = real["request"]["parsed_body"]
    resp = post_chat(fast_emulator, body, **{"x-emulator-fault": "tool_use_failed"})
    assert resp.status_code == 200
    events = _events(resp.text)
    assert events[-1][0] == real_events[-1][0] == "error", "the stream ends with an error event, no [DONE]"
    ours, theirs = json.loads(events[-1][1]), json.loads(real_events[-1][1])
    assert json_paths(ours) == json_paths(theirs)
    assert ours["error"]["code"] == "tool_use_failed" and ours["error"]["status_code"] == 400
    assert "get_something_by_name" in ours["error"]["failed_generation"]
    before = [json.loads(d) for _, d in events[:-1]]
    assert before[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("reasoning" in c["choices"][0]["delta"] for c in before[1:]), "reasoning, then the error"
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test", max_retries=0) as client:
        with pytest.raises(groq.APIError) as info:
            stream = client.chat.completions.create(**body, extra_headers={"x-emulator-fault": "tool_use_failed"})
            list(stream)
        assert "tool_use_failed" in str(info.value.body) or "Tool call validation failed" in str(info.value)


def test_tool_use_failed_non_streamed_is_a_400(fast_emulator: GroqEmulator) -> None:
    fast_emulator.inject("tool_use_failed", times=1)
    resp = post_chat(fast_emulator, {"model": "llama-3.3-70b-versatile", "messages": ASK, "tools": [WEATHER]})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "code", "failed_generation"}
    assert error["code"] == "tool_use_failed" and "get_weather" in error["failed_generation"]
    again = post_chat(fast_emulator, {"model": "llama-3.3-70b-versatile", "messages": ASK, "tools": [WEATHER]})
    assert again.status_code == 200, "times=1"
