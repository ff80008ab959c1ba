"""Capture of tool calls, structured output and mid-stream errors: from real Groq recordings
(pydantic-ai's cassettes, replayed with synthetic chunk timing so every number is known) and
from the emulator (compared with what it wrote on the wire)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.capture.replay import call_from_recording
from pytest_llmlatency.capture.timing import TIMING_KEY, timing_meta
from pytest_llmlatency.core.calls import LLMCall
from pytest_llmlatency.emulator import GroqEmulator

from ..helpers import PYDANTIC_AI_CASSETTES, REAL_CASSETTES, cassette_interactions

TTFB_MS = 50
STEP_MS = 2
DEAD = "http://127.0.0.1:9"

WEATHER: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def _events(body: str) -> list[str]:
    """An SSE body split into its events, each with its blank-line terminator."""
    parts = body.split("\n\n")
    out = [p + "\n\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def timed_interactions(name: str) -> list[dict[str, Any]]:
    """A pydantic-ai cassette (bodies stored decoded under ``parsed_body``) as vcrpy interactions
    in this plugin's format: each SSE event read ``STEP_MS`` after the previous one, the first
    ``TTFB_MS + STEP_MS`` after the request; a JSON body as one chunk at that time."""
    out = []
    for it in cassette_interactions(PYDANTIC_AI_CASSETTES / name):
        request = dict(it["request"])
        request["body"] = json.dumps(request.pop("parsed_body"))
        request["headers"] = {"content-type": ["application/json"]}
        response = dict(it["response"])
        if "parsed_body" in response:
            chunks = [json.dumps(response.pop("parsed_body"))]
        else:
            chunks = _events(response["body"]["string"])
        response["headers"] = {
            k: v for k, v in response["headers"].items() if k not in ("content-length", "transfer-encoding")
        }
        response["body"] = {"string": "".join(chunks)}
        offsets = [(TTFB_MS + STEP_MS * (k + 1)) * 1_000_000 for k in range(len(chunks))]
        response[TIMING_KEY] = timing_meta(
            TTFB_MS * 1_000_000, offsets[-1], [(o, len(c.encode())) for o, c in zip(offsets, chunks, strict=True)]
        )
        out.append({"request": request, "response": response})
    return out


def _offline(interaction: dict[str, Any]) -> LLMCall:
    from vcr.request import Request

    rq = interaction["request"]
    request = Request(rq["method"], rq["uri"], rq["body"].encode(), {"content-type": "application/json"})
    response = dict(interaction["response"])
    response["body"] = {"string": response["body"]["string"].encode()}
    return call_from_recording(request, response)


def _event_index(interaction: dict[str, Any], needle: str) -> int:
    events = _events(interaction["response"]["body"]["string"])
    return next(k for k, e in enumerate(events) if needle in e)


def test_streamed_tool_call_is_output_and_a_rejected_one_a_failure() -> None:
    """test_tool_use_failed_error_streaming.yaml: a stream Groq ends with ``tool_use_failed``,
    a streamed tool call after reasoning, then the text answer."""
    failed, tool, answer = (_offline(i) for i in timed_interactions("test_tool_use_failed_error_streaming.yaml"))
    assert not failed.ok and failed.completed and failed.status == 200
    assert failed.error is not None and failed.error.startswith("tool_use_failed: Tool call validation failed")
    assert failed.tool_calls == [] and failed.first_output == "reasoning"

    interactions = timed_interactions("test_tool_use_failed_error_streaming.yaml")
    assert tool.ok and tool.finish_reason == "tool_calls"
    assert tool.tool_names == ["get_something_by_name"]
    assert tool.tool_calls[0]["id"] == "fc_bfb39741-3748-4def-9886-a93fc9c64a90"
    assert tool.tool_calls[0]["arguments_chars"] == len('{"name":"example"}')
    assert tool.first_output == "reasoning"  # the reasoning came first: TTFT timed it
    # every event's time is known: TTFT is the first reasoning event, the tool call the last token event
    first_reasoning = _event_index(interactions[1], '"reasoning"')
    tool_event = _event_index(interactions[1], '"tool_calls"')
    assert tool.ttft_ms == TTFB_MS + STEP_MS * (first_reasoning + 1)
    assert (tool.token_times_ns[-1] - tool.start_ns) / 1e6 == TTFB_MS + STEP_MS * (tool_event + 1)
    reasoning_events = interactions[1]["response"]["body"]["string"].count('"reasoning"')
    assert len(tool.token_times_ns) == reasoning_events + 1
    assert tool.usage is not None and tool.completion_tokens == 49
    assert tool.answer_kind == "tool call get_something_by_name"
    assert answer.ok and answer.tool_calls == [] and answer.answer_kind == "text answer"
    record = tool.to_dict()
    assert json.loads(json.dumps(record))["tool_calls"] == [
        {"id": "fc_bfb39741-3748-4def-9886-a93fc9c64a90", "name": "get_something_by_name", "arguments_chars": 18}
    ]
    assert record["tool_names"] == ["get_something_by_name"] and record["first_output"] == "reasoning"


def test_a_tool_only_stream_times_the_tool_call() -> None:
    """With the reasoning events taken out, the only output is the tool call: TTFT is its event."""
    interaction = timed_interactions("test_tool_use_failed_error_streaming.yaml")[1]
    events = [e for e in _events(interaction["response"]["body"]["string"]) if '"reasoning"' not in e]
    response = interaction["response"]
    response["body"] = {"string": "".join(events)}
    offsets = [(TTFB_MS + STEP_MS * (k + 1)) * 1_000_000 for k in range(len(events))]
    response[TIMING_KEY] = timing_meta(
        TTFB_MS * 1_000_000, offsets[-1], [(o, len(e.encode())) for o, e in zip(offsets, events, strict=True)]
    )
    call = _offline(interaction)
    tool_event = next(k for k, e in enumerate(events) if '"tool_calls"' in e)
    assert call.first_output == "tool_call"
    assert call.ttft_ms == TTFB_MS + STEP_MS * (tool_event + 1)
    assert len(call.token_times_ns) == 1 and call.itl_ms == []


def test_non_streamed_tool_call_and_json_schema_answer() -> None:
    tool, answer = (_offline(i) for i in timed_interactions("test_tool_choice_matrix[auto-groq].yaml"))
    assert tool.tool_names == ["get_weather"] and tool.tool_calls[0]["id"] == "48f5r72yf"
    assert tool.tool_calls[0]["arguments_chars"] == len('{"city":"Paris"}')
    assert tool.first_output == "tool_call" and tool.finish_reason == "tool_calls"
    assert tool.ttft_ms == tool.e2e_ms == TTFB_MS + STEP_MS
    assert answer.tool_calls == [] and answer.first_output == "content"
    (native,) = (_offline(i) for i in timed_interactions("test_groq_native_output.yaml"))
    assert native.response_format == "json_schema" and native.answer_kind == "JSON answer"
    assert native.to_dict()["response_format"] == "json_schema"


def _write_cassette(path: Path, interactions: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))


def test_rejected_tool_call_replays_as_a_failure_the_sdk_raises(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    interactions = timed_interactions("test_tool_use_failed_error_streaming.yaml")
    requests = [json.loads(i["request"]["body"]) for i in interactions]
    for name in ("test_agent", "test_failed_budget", "test_tool_budget"):
        _write_cassette(pytester.path / "cassettes" / "test_replayed" / f"{name}.yaml", interactions)
    tool_event = _event_index(interactions[1], '"tool_calls"')
    pytester.makepyfile(
        test_replayed=f"""
import groq, pytest

REQUESTS = {requests!r}

def run(client):
    with pytest.raises(groq.APIError, match="Tool call validation failed"):
        for _ in client.chat.completions.create(**REQUESTS[0]):
            pass
    chunks = list(client.chat.completions.create(**REQUESTS[1]))
    list(client.chat.completions.create(**REQUESTS[2]))
    return chunks

def test_agent(groq_client, llm_calls):
    chunks = run(groq_client)
    assert [c.choices[0].delta.tool_calls[0].function.name for c in chunks if c.choices and c.choices[0].delta.tool_calls] == ["get_something_by_name"]
    assert [c.ok for c in llm_calls] == [False, True, True]
    assert llm_calls[0].error.startswith("tool_use_failed: ")
    assert llm_calls[1].tool_names == ["get_something_by_name"]
    assert (llm_calls[1].token_times_ns[-1] - llm_calls[1].start_ns) / 1e6 == {TTFB_MS + STEP_MS * (tool_event + 1)}

@pytest.mark.max_latency(ms=100000, call=0)
def test_failed_budget(groq_client):
    run(groq_client)

@pytest.mark.max_latency(ms=1)
def test_tool_budget(groq_client):
    run(groq_client)
"""
    )
    monkeypatch.setenv("GROQ_API_KEY", "gsk_x")
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}", "--llm-report-json=r.json")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*max_latency(ms=100000, call=0): no LLM call succeeded; call 1 of 3 (openai/gpt-oss-120b, failed) "
            "failed: tool_use_failed: Tool call validation failed*",
            "*max_latency(ms=1) exceeded by call 2 of 3 (openai/gpt-oss-120b, tool call get_something_by_name): "
            "e2e * ms = TTFT * ms (first output: reasoning; server queue*; 1 tool call(s): get_something_by_name "
            "(18 chars of arguments); *",
            "*max_latency(ms=1) exceeded by call 3 of 3 (openai/gpt-oss-120b, text answer)*",
        ]
    )
    doc = json.loads((pytester.path / "r.json").read_text())
    agent = next(t for t in doc["tests"] if t["nodeid"].endswith("test_agent"))
    assert agent["summary"]["tool_calls"] == 1 and agent["summary"]["tool_names"] == ["get_something_by_name"]
    assert [c["tool_names"] for c in agent["calls"]] == [[], ["get_something_by_name"], []]
    assert agent["calls"][0]["error"].startswith("tool_use_failed")


def test_real_pydantic_cassettes_are_kept_with_their_license() -> None:
    readme = (REAL_CASSETTES / "README.md").read_text()
    assert "pydantic/pydantic-ai**: MIT" in readme
    for name in ("test_tool_use_failed_error_streaming.yaml", "test_tool_choice_matrix[auto-groq].yaml"):
        assert name in readme and (PYDANTIC_AI_CASSETTES / name).is_file()


# -- against the emulator: the numbers compared with what it wrote on the wire ---------------------


@pytest.fixture
def captured(fast_emulator: GroqEmulator) -> Iterator[tuple[GroqEmulator, Recorder, Any]]:
    groq = pytest.importorskip("groq")
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_x", max_retries=0) as client:
        yield fast_emulator, Recorder(), client


def test_emulator_streamed_tool_call_has_ttft_from_its_event(captured: tuple[GroqEmulator, Recorder, Any]) -> None:
    emulator, recorder, client = captured
    with Interceptor(recorder):
        chunks = list(
            client.chat.completions.create(
                model="llama-3.3-70b-versatile",
                messages=[{"role": "user", "content": "What's the weather in Paris?"}],
                tools=WEATHER,
                tool_choice="required",
                stream=True,
            )
        )
    (call,) = recorder.calls
    (served,) = emulator.requests
    streamed = [t for c in chunks if c.choices and c.choices[0].delta.tool_calls for t in c.choices[0].delta.tool_calls]
    assert call.tool_names == [t.function.name for t in streamed] == ["get_weather"]
    assert call.tool_calls[0]["arguments_chars"] == len(streamed[0].function.arguments)
    assert call.first_output == "tool_call" and call.finish_reason == served.finish_reason == "tool_calls"
    assert len(call.token_times_ns) == len(served.token_times_ns)
    # the client read each token event after the server wrote it, and after sending the request
    assert served.t_first_token_ns is not None and call.token_times_ns[0] >= served.t_first_token_ns
    assert call.ttft_ms is not None and call.ttft_ms >= (served.t_first_token_ns - call.start_ns) / 1e6
    assert call.output_tokens == (served.usage or {}).get("completion_tokens")


def test_emulator_tool_use_failed_is_a_failed_call(captured: tuple[GroqEmulator, Recorder, Any]) -> None:
    """The emulator's ``tool_use_failed`` fault ends the stream with Groq's error event: the SDK
    raises, and the call is failed with that error, not a short answer."""
    groq = pytest.importorskip("groq")
    emulator, recorder, client = captured
    with Interceptor(recorder), pytest.raises(groq.APIError) as raised:
        for _ in client.chat.completions.create(
            model="openai/gpt-oss-20b",
            messages=[{"role": "user", "content": "What's the weather in Paris?"}],
            tools=WEATHER,
            stream=True,
            extra_headers={"x-emulator-fault": "tool_use_failed"},
        ):
            pass
    (call,) = recorder.calls
    (served,) = emulator.requests
    assert not call.ok and call.status == 200 and call.completed
    assert call.error == f"tool_use_failed: {raised.value.message}"
    assert call.tool_calls == [] and call.finish_reason is None is served.finish_reason
    assert len(call.token_times_ns) == len(served.token_times_ns)


def test_emulator_non_streamed_tool_call_and_json_modes(captured: tuple[GroqEmulator, Recorder, Any]) -> None:
    _, recorder, client = captured
    messages = [{"role": "user", "content": "What's the weather in Paris? Answer in JSON."}]
    with Interceptor(recorder):
        answer = client.chat.completions.create(
            model="llama-3.3-70b-versatile", messages=messages, tools=WEATHER, tool_choice="required"
        )
        client.chat.completions.create(
            model="llama-3.3-70b-versatile", messages=messages, response_format={"type": "json_object"}
        )
    tool, as_json = recorder.calls
    assert tool.tool_names == [t.function.name for t in answer.choices[0].message.tool_calls]
    assert tool.tool_calls[0]["id"] == answer.choices[0].message.tool_calls[0].id
    assert tool.first_output == "tool_call" and tool.answer_kind == "tool call get_weather"
    assert as_json.response_format == "json_object" and as_json.answer_kind == "JSON answer"
    assert as_json.tool_calls == [] and as_json.first_output == "content"


def test_emulator_responses_api_function_call(captured: tuple[GroqEmulator, Recorder, Any]) -> None:
    openai = pytest.importorskip("openai")
    emulator, recorder, _ = captured
    tools = [{"type": "function", **WEATHER[0]["function"]}]
    with (
        openai.OpenAI(base_url=emulator.base_url + "/openai/v1", api_key="gsk_x", max_retries=0) as client,
        Interceptor(recorder),
    ):
        events = list(
            client.responses.create(model="openai/gpt-oss-20b", input="Weather in Paris?", tools=tools, stream=True)
        )
        body = client.responses.create(model="openai/gpt-oss-20b", input="Weather in Paris?", tools=tools)
    streamed, whole = recorder.calls
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert streamed.tool_names == [e.name for e in done] == ["get_weather"]
    assert streamed.tool_calls[0]["arguments_chars"] == len(done[0].arguments)
    assert streamed.first_output == "reasoning" and streamed.finish_reason == "tool_calls"
    calls = [o for o in body.output if o.type == "function_call"]
    assert whole.tool_names == [o.name for o in calls] and whole.tool_calls[0]["id"] == calls[0].call_id
    assert set(streamed.to_dict()["tool_calls"][0]) == {"id", "name", "arguments_chars"}


def test_conversion_keeps_every_byte_of_the_stream() -> None:
    original = cassette_interactions(PYDANTIC_AI_CASSETTES / "test_tool_use_failed_error_streaming.yaml")
    for it, timed in zip(original, timed_interactions("test_tool_use_failed_error_streaming.yaml"), strict=True):
        assert timed["response"]["body"]["string"] == it["response"]["body"]["string"]
