"""The emulator's Responses API, through the real openai SDK.

Shapes are checked with the SDK's own pydantic types (no unknown keys); timings
against the server's own recorded timestamps, never the wall clock alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from pytest_llmlatency.emulator import PROFILES, GroqEmulator

MS = 1_000_000  # ns
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Get the weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


@pytest.fixture
def fast(fast_emulator: GroqEmulator) -> Iterator[tuple[GroqEmulator, openai.OpenAI]]:
    with openai.OpenAI(base_url=fast_emulator.openai_base_url, api_key="gsk_test", max_retries=0) as client:
        yield fast_emulator, client


@pytest.fixture
def exact(exact_emulator: GroqEmulator) -> Iterator[tuple[GroqEmulator, openai.OpenAI]]:
    with openai.OpenAI(base_url=exact_emulator.openai_base_url, api_key="gsk_test", max_retries=0) as client:
        yield exact_emulator, client


def _raw(emu: GroqEmulator, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{emu.openai_base_url}/responses", json=body, headers={"authorization": "Bearer k"}, timeout=30)


def _events(resp: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in resp.text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_a_response_is_the_sdks_response_type_with_no_unknown_keys(fast_emulator: GroqEmulator) -> None:
    body = {"model": "openai/gpt-oss-20b", "input": "Explain queues in 40 words.", "reasoning": {"effort": "low"}}
    raw = _raw(fast_emulator, body)
    assert raw.status_code == 200
    assert raw.headers["x-request-id"].startswith("req_")
    resp = Response.model_validate(raw.json())
    assert resp.model_extra == {}
    assert resp.id.startswith("resp_") and resp.object == "response" and resp.status == "completed"
    reasoning, message = resp.output
    assert reasoning.type == "reasoning" and reasoning.content and reasoning.content[0].type == "reasoning_text"
    assert message.type == "message" and message.status == "completed"
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    served = fast_emulator.requests[-1].usage
    assert resp.usage is not None and served is not None
    assert resp.usage.output_tokens_details.reasoning_tokens == served["output_tokens_details"]["reasoning_tokens"]
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens


def test_the_answer_and_bill_equal_the_same_request_on_chat(fast: tuple[GroqEmulator, openai.OpenAI]) -> None:
    _fast_emulator, client = fast
    resp = client.responses.create(
        model="openai/gpt-oss-20b",
        instructions="Be brief.",
        input="Describe caching in 50 words.",
        reasoning={"effort": "low"},
    )
    chat = client.chat.completions.create(
        model="openai/gpt-oss-20b",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Describe caching in 50 words."},
        ],
        reasoning_effort="low",
    )
    assert resp.output_text == chat.choices[0].message.content
    assert chat.usage is not None and resp.usage is not None
    assert resp.usage.input_tokens == chat.usage.prompt_tokens
    assert resp.usage.output_tokens == chat.usage.completion_tokens
    reasoning = resp.output[0]
    assert reasoning.type == "reasoning" and reasoning.content
    assert reasoning.content[0].text == chat.choices[0].message.reasoning  # type: ignore[attr-defined]


def test_non_streamed_timing_is_the_chat_latency_model(exact: tuple[GroqEmulator, openai.OpenAI]) -> None:
    exact_emulator, client = exact
    t_sent = time.perf_counter_ns()
    resp = client.responses.create(model="llama-3.1-8b-instant", input="Describe queues in 60 words.")
    t_back = time.perf_counter_ns()
    served = exact_emulator.requests[-1]
    assert served.path == "/openai/v1/responses" and served.status == 200 and not served.stream
    assert resp.usage is not None and served.usage is not None
    assert served.usage["output_tokens"] == resp.usage.output_tokens
    profile = PROFILES["llama-3.1-8b-instant"]
    planned_s = 0.005 + resp.usage.input_tokens / profile.prefill_tps + resp.usage.output_tokens / profile.decode_tps
    assert served.t_last_token_ns is not None and served.t_headers_ns is not None
    waited_s = (served.t_last_token_ns - served.t_received_ns) / 1e9
    assert waited_s >= planned_s - 1e-4, "the server never answers before the plan says"
    assert served.t_last_token_ns <= served.t_headers_ns, "the body is sent after generation ends"
    assert t_sent <= served.t_received_ns and served.t_done_ns is not None and served.t_done_ns <= t_back


def test_stream_events_arrive_in_the_documented_order(fast_emulator: GroqEmulator) -> None:
    raw = _raw(
        fast_emulator,
        {
            "model": "openai/gpt-oss-20b",
            "input": "Explain SSE in 30 words.",
            "reasoning": {"effort": "low"},
            "stream": True,
        },
    )
    assert raw.headers["content-type"] == "text/event-stream"
    events = _events(raw)
    adapter: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)
    for name, data in events:
        assert name == data["type"]
        parsed = adapter.validate_python(data)
        assert not getattr(parsed, "model_extra", None), name
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    kinds = [name for name, _ in events]

    def squash(names: list[str]) -> list[str]:
        return [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]

    assert squash(kinds) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = Response.model_validate(events[-1][1]["response"])
    assert final.usage is not None
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert final.output_text == text
    deltas = sum(1 for n in kinds if n.endswith(".delta"))
    assert deltas == final.usage.output_tokens, "one event per token"
    assert events[0][1]["response"]["status"] == "in_progress" and events[0][1]["response"]["usage"] is None


def test_streamed_tokens_keep_the_servers_schedule(exact: tuple[GroqEmulator, openai.OpenAI]) -> None:
    exact_emulator, client = exact
    received: list[int] = []
    with client.responses.stream(model="llama-3.1-8b-instant", input="Describe queues in 60 words.") as stream:
        for ev in stream:
            if ev.type == "response.output_text.delta":
                received.append(time.perf_counter_ns())
        final = stream.get_final_response()
    served = exact_emulator.requests[-1]
    written = served.token_times_ns
    assert final.usage is not None
    assert len(received) == len(written) == final.usage.output_tokens
    assert all(r >= w for r, w in zip(received, written, strict=True)), "read after written"
    # token i is never written before queue + prefill + (i + 1) / decode rate (a loaded
    # machine can only delay it)
    profile = PROFILES["llama-3.1-8b-instant"]
    start_s = 0.005 + final.usage.input_tokens / profile.prefill_tps
    for i, t in enumerate(written):
        assert (t - served.t_received_ns) / 1e9 >= start_s + (i + 1) / profile.decode_tps - 1e-4
    assert served.t_first_token_ns == written[0]
    assert served.t_headers_ns is not None and served.t_headers_ns <= served.t_first_token_ns
    assert served.usage == final.usage.model_dump(exclude_none=True)


def test_max_output_tokens_makes_an_incomplete_response(fast: tuple[GroqEmulator, openai.OpenAI]) -> None:
    fast_emulator, client = fast
    resp = client.responses.create(
        model="llama-3.1-8b-instant", input="Write a story in 300 words.", max_output_tokens=20
    )
    assert resp.status == "incomplete"
    assert resp.incomplete_details is not None and resp.incomplete_details.reason == "max_output_tokens"
    assert resp.usage is not None and resp.usage.output_tokens == 20
    assert resp.output[0].type == "message" and resp.output[0].status == "incomplete"
    events = _events(
        _raw(
            fast_emulator,
            {
                "model": "llama-3.1-8b-instant",
                "input": "Write a story in 300 words.",
                "max_output_tokens": 20,
                "stream": True,
            },
        )
    )
    assert events[-1][0] == "response.incomplete"


def test_previous_response_id_gets_groqs_stateless_error(fast: tuple[GroqEmulator, openai.OpenAI]) -> None:
    fast_emulator, client = fast
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="llama-3.1-8b-instant", input="And then?", previous_response_id="resp_01abc")
    err = info.value.body
    assert isinstance(err, dict)
    assert err["param"] == "previous_response_id" and "not supported" in err["message"]
    assert fast_emulator.requests[-1].status == 400


def test_function_tools_come_back_as_function_call_items(fast: tuple[GroqEmulator, openai.OpenAI]) -> None:
    fast_emulator, client = fast
    resp = client.responses.create(
        model="openai/gpt-oss-20b", input="What's the weather in Paris?", tools=TOOLS, tool_choice="required"
    )
    call = resp.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"
    jsonschema.validate(json.loads(call.arguments), TOOLS[0]["parameters"])
    # the follow-up carries the call and its output as input items, statelessly
    follow = client.responses.create(
        model="openai/gpt-oss-20b",
        input=[
            {"role": "user", "content": "What's the weather in Paris?"},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
        ],
        tools=TOOLS,
    )
    assert follow.status == "completed" and follow.output_text
    events = _events(
        _raw(
            fast_emulator,
            {
                "model": "openai/gpt-oss-20b",
                "input": "Weather in Oslo?",
                "tools": TOOLS,
                "tool_choice": "required",
                "stream": True,
            },
        )
    )
    kinds = [n for n, _ in events]
    assert "response.function_call_arguments.done" in kinds
    done = next(d for n, d in events if n == "response.function_call_arguments.done")
    jsonschema.validate(json.loads(done["arguments"]), TOOLS[0]["parameters"])


def test_text_format_json_schema_answers_valid_json(fast: tuple[GroqEmulator, openai.OpenAI]) -> None:
    _fast_emulator, client = fast
    schema = {
        "type": "object",
        "properties": {"intent": {"type": "string", "enum": ["billing", "refund"]}, "n": {"type": "integer"}},
        "required": ["intent", "n"],
        "additionalProperties": False,
    }
    resp = client.responses.create(
        model="openai/gpt-oss-20b",
        input="Classify: I want my money back.",
        text={"format": {"type": "json_schema", "name": "intent", "schema": schema, "strict": True}},
    )
    jsonschema.validate(json.loads(resp.output_text), schema)


def test_async_client_and_status_faults(fast_emulator: GroqEmulator) -> None:
    async def go() -> str:
        async with openai.AsyncOpenAI(base_url=fast_emulator.openai_base_url, api_key="k", max_retries=0) as client:
            with pytest.raises(openai.RateLimitError):
                await client.responses.create(
                    model="llama-3.1-8b-instant",
                    input="hi",
                    extra_headers={"x-emulator-fault": "429;retry_after=0"},
                )
            resp = await client.responses.create(model="llama-3.1-8b-instant", input="Say hi in two words.")
            return resp.output_text

    assert asyncio.run(go())
    assert [r.status for r in fast_emulator.requests] == [429, 200]


def test_a_cut_stream_drops_the_connection(fast: tuple[GroqEmulator, openai.OpenAI]) -> None:
    fast_emulator, client = fast
    with pytest.raises(Exception) as info:  # noqa: PT011 - httpx or httpx2, whichever the SDK uses
        stream = client.responses.create(
            model="llama-3.1-8b-instant",
            input="Describe queues in 60 words.",
            stream=True,
            extra_headers={"x-emulator-fault": "cut;after=5"},
        )
        for _ in stream:
            pass
    assert type(info.value).__name__ in ("RemoteProtocolError", "APIConnectionError")
    assert len(fast_emulator.requests[-1].token_times_ns) == 5


def test_bad_input_is_refused_with_groqs_error_shape(fast_emulator: GroqEmulator) -> None:
    for body, param in (
        ({"model": "llama-3.1-8b-instant"}, "input"),
        ({"model": "llama-3.1-8b-instant", "input": [{"type": "web_search_call"}]}, "input.0.type"),
        ({"model": "llama-3.1-8b-instant", "input": "x", "tools": [{"type": "web_search"}]}, "tools.0"),
    ):
        raw = _raw(fast_emulator, body)
        assert raw.status_code == 400
        assert raw.json()["error"]["param"] == param
    assert _raw(fast_emulator, {"model": "nope", "input": "x"}).status_code == 404
