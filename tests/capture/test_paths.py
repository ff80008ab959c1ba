"""Every path a call takes: any httpx transport (aiohttp ones too), the Responses API and
audio are measured, recorded and replayed; a client the capture cannot see is named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..helpers import ANYIO_CONFTEST

DEAD = "http://127.0.0.1:9"  # nothing listens here: a replay that went live would fail


def _calls(report: Path) -> dict[str, list[dict[str, Any]]]:
    doc = json.loads(report.read_text())
    return {t["nodeid"].split("::")[-1]: t["calls"] for t in doc["tests"]}


def _three_modes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str, tests: int
) -> tuple[Any, Any]:
    """Run against the emulator while recording, then replay with nothing listening;
    return both runs' calls per test (from --llm-report-json)."""
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(test_paths_app=source)
    rec = pytester.runpytest("-p", "no:cacheprovider", "--llm-record-mode=once", "--llm-report-json=rec.json")
    rec.assert_outcomes(passed=tests)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_replay_needs_no_real_key")
    rep = pytester.runpytest(
        "-p", "no:cacheprovider", f"--llm-base-url={DEAD}", "--llm-report-json=rep.json", "--llm-predict=off"
    )
    rep.assert_outcomes(passed=tests)
    recorded, replayed = _calls(pytester.path / "rec.json"), _calls(pytester.path / "rep.json")
    for name, calls in recorded.items():
        assert [c["replayed"] for c in calls] == [False] * len(calls)
        assert [c["replayed"] for c in replayed[name]] == [True] * len(calls)
        for live, again in zip(calls, replayed[name], strict=True):
            # replay keeps the recorded timings (at the server's pace: what the recording client
            # added by reading late is not stored) and the server's usage
            client = {"ttft_ms": live.get("client_ttft_ms") or 0.0, "e2e_ms": live.get("client_stall_ms") or 0.0}
            for key in ("ttft_ms", "e2e_ms", "ttfb_ms", "completion_tokens", "endpoint", "content"):
                if key in live and isinstance(live[key], float):
                    assert again[key] == pytest.approx(live[key] - client.get(key, 0.0), abs=1e-3), key
                elif key in live:
                    assert again[key] == live[key], key
    return recorded, replayed


AIOHTTP_APP = """
import groq, openai, pytest

MSG = [{"role": "user", "content": "Describe queues in 30 words."}]

@pytest.mark.anyio
@pytest.mark.max_ttft(ms=60000)
async def test_groq_aiohttp(groq_env, llm_calls):
    # base URL and key from GROQ_BASE_URL / GROQ_API_KEY, as an application's client would
    async with groq.AsyncGroq(http_client=groq.DefaultAioHttpClient()) as client:
        plain = await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
        stream = await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == plain.choices[0].message.content
    assert [c.streamed for c in llm_calls] == [False, True]
    assert llm_calls[1].ttft_ms < llm_calls[1].e2e_ms and len(llm_calls[1].itl_ms) > 5

@pytest.mark.anyio
async def test_openai_aiohttp(groq_openai_base_url, llm_calls):
    async with openai.AsyncOpenAI(base_url=groq_openai_base_url, api_key="gsk_dummy",
                                  http_client=openai.DefaultAioHttpClient()) as client:
        stream = await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text and len(llm_calls) == 1 and llm_calls.last.ttft_ms is not None
"""


def test_aiohttp_transports_are_measured_recorded_and_replayed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("httpx_aiohttp")
    recorded, _ = _three_modes(pytester, monkeypatch, AIOHTTP_APP, tests=2)
    assert len(recorded["test_groq_aiohttp"]) == 2 and len(recorded["test_openai_aiohttp"]) == 1


LITELLM_APP = """
import pytest
import litellm

MSG = [{"role": "user", "content": "Describe queues in 30 words."}]

@pytest.mark.anyio
async def test_litellm_acompletion(groq_env, llm_calls):
    resp = await litellm.acompletion(model="groq/llama-3.1-8b-instant", messages=MSG)
    stream = await litellm.acompletion(model="groq/llama-3.1-8b-instant", messages=MSG, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert resp.choices[0].message.content == text
    assert [c.streamed for c in llm_calls] == [False, True]
    assert llm_calls[1].ttft_ms is not None

def test_litellm_completion(groq_env, llm_calls):
    resp = litellm.completion(model="groq/llama-3.1-8b-instant", messages=MSG)
    assert resp.choices[0].message.content and len(llm_calls) == 1
"""


def test_litellm_sync_and_async_are_measured_recorded_and_replayed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("litellm")  # tests/conftest.py keeps it off the network
    _three_modes(pytester, monkeypatch, LITELLM_APP, tests=2)


UNSEEN_APP = """
import json, urllib.request, pytest

def _raw_call(base):
    req = urllib.request.Request(
        base + "/openai/v1/chat/completions",
        data=json.dumps({"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={"Authorization": "Bearer gsk_dummy", "Content-Type": "application/json", "User-Agent": "raw-urllib"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)

@pytest.mark.max_latency(ms=60000)
def test_budget_on_an_unseen_call(groq_base_url, llm_calls):
    _raw_call(groq_base_url)

def test_unseen_without_budget(groq_base_url, llm_calls):
    _raw_call(groq_base_url)

def test_seen(groq_client, llm_calls):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}])
"""


def test_a_call_the_capture_cannot_see_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unseen=UNSEEN_APP)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "always::pytest.PytestWarning")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*budgets not proven: 1 LLM request(s) reached the emulator without passing the plugin's capture*"
            "POST /openai/v1/chat/completions (user-agent 'raw-urllib')*",
        ]
    )
    result.stdout.fnmatch_lines(["*LLMLatencyWarning: *test_unseen_without_budget: 1 LLM request(s)*"])
    assert "test_seen: " not in result.stdout.str()


RESPONSES_APP = """
import openai, pytest

@pytest.mark.max_ttft(ms=60000)
@pytest.mark.max_tokens(completion=4000)
def test_responses(groq_openai_base_url, llm_calls):
    client = openai.OpenAI(base_url=groq_openai_base_url, api_key="gsk_dummy")
    plain = client.responses.create(model="openai/gpt-oss-20b", input="Describe queues in 20 words.",
                                    reasoning={"effort": "low"})
    events = list(client.responses.create(model="openai/gpt-oss-20b", input="Describe queues in 20 words.",
                                          reasoning={"effort": "low"}, stream=True))
    streamed_text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed_text == plain.output_text
    one, two = llm_calls
    assert (one.endpoint, two.endpoint) == ("responses", "responses")
    assert (one.streamed, two.streamed) == (False, True)
    assert one.content == two.content == plain.output_text
    # usage read from the Responses API's own keys
    assert one.prompt_tokens == plain.usage.input_tokens and one.completion_tokens == plain.usage.output_tokens
    assert one.reasoning_tokens == plain.usage.output_tokens_details.reasoning_tokens > 0
    # the first output of the stream is its first reasoning or text delta
    assert two.reasoning_streamed and two.ttft_ms < two.e2e_ms
    assert len(two.token_times_ns) == sum(1 for e in events if e.type.endswith("_text.delta"))

def test_responses_cut_by_max_output_tokens(groq_openai_base_url, llm_calls):
    client = openai.OpenAI(base_url=groq_openai_base_url, api_key="gsk_dummy")
    resp = client.responses.create(model="llama-3.3-70b-versatile", input="Describe queues in 200 words.",
                                   max_output_tokens=20)
    assert resp.status == "incomplete"
    assert llm_calls.last.finish_reason == "length" and llm_calls.last.completion_tokens == 20
"""


def test_responses_api_is_measured_recorded_and_replayed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded, _ = _three_modes(pytester, monkeypatch, RESPONSES_APP, tests=2)
    assert [c["endpoint"] for c in recorded["test_responses"]] == ["responses", "responses"]


AUDIO_APP = """
import io, wave, groq, openai, pytest

def _wav(seconds, tone=0):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(bytes([tone % 256, 0]) * int(16000 * seconds))
    return buf.getvalue()

def test_transcription(groq_client, llm_calls):
    first = groq_client.audio.transcriptions.create(file=("call.wav", _wav(12)), model="whisper-large-v3-turbo")
    other = groq_client.audio.transcriptions.create(file=("call.wav", _wav(12, tone=7)), model="whisper-large-v3-turbo")
    one, two = llm_calls
    assert (one.endpoint, one.content) == ("transcription", first.text)
    assert two.content == other.text
    assert one.audio_seconds == 12.0 and one.realtime_factor == 12.0 / (one.e2e_ms / 1000)
    assert one.params["file"]["bytes"] == len(_wav(12)) and "sha256" in one.params["file"]

def test_translation_openai_sdk(groq_openai_base_url, llm_calls):
    client = openai.OpenAI(base_url=groq_openai_base_url, api_key="gsk_dummy")
    out = client.audio.translations.create(file=("talk.wav", _wav(4)), model="whisper-large-v3")
    assert llm_calls.last.endpoint == "translation" and llm_calls.last.content == out.text

def test_speech(groq_client, llm_calls):
    audio = groq_client.audio.speech.create(model="canopylabs/orpheus-v1-english", voice="troy",
                                            input="Your order has shipped.", response_format="wav")
    data = audio.read()
    assert data.startswith(b"RIFF")
    assert llm_calls.last.endpoint == "speech" and llm_calls.last.output_audio_seconds > 0
"""


def test_audio_is_measured_recorded_and_replayed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _three_modes(pytester, monkeypatch, AUDIO_APP, tests=3)
    # the cassette keeps the audio's fingerprint, not the audio
    text = (pytester.path / "cassettes" / "test_paths_app" / "test_transcription.yaml").read_text()
    assert "sha256" in text and "RIFF" not in text and "Authorization" not in text.title()
    # a different recording of the same length does not match: the audio's hash is compared
    pytester.makepyfile(test_paths_app=AUDIO_APP.replace("_wav(12, tone=7)", "_wav(12, tone=9)"))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--llm-base-url={DEAD}", "-k", "test_transcription")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*request changed since recording: file.sha256*"])


ERRORS_APP = """
import groq, pytest

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

def test_rejected_tool_call(groq_client, llm_calls):
    with pytest.raises(groq.BadRequestError) as info:
        groq_client.chat.completions.create(
            model="openai/gpt-oss-20b", messages=[{"role": "user", "content": "weather in Paris?"}],
            tools=TOOLS, extra_headers={"x-emulator-fault": "tool_use_failed"})
    assert "tool_use_failed" in str(info.value)
    assert llm_calls.last.status == 400 and not llm_calls.last.ok

def test_decommissioned_model(groq_client, llm_calls):
    with pytest.raises(groq.BadRequestError) as info:
        groq_client.chat.completions.create(model="gemma2-9b-it", messages=[{"role": "user", "content": "hi"}])
    assert "decommissioned" in str(info.value)
"""


def test_final_errors_are_recorded_and_replay_as_the_same_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 the SDK does not retry (Groq's tool_use_failed, a decommissioned model) is the
    call's final answer: recorded, and replayed as the error the SDK raises."""
    recorded, _ = _three_modes(pytester, monkeypatch, ERRORS_APP, tests=2)
    assert [c["status"] for c in recorded["test_rejected_tool_call"]] == [400]


_MOCKED_ANSWER = {
    "id": "chatcmpl-mock",
    "object": "chat.completion",
    "model": "llama-3.1-8b-instant",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "mocked"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


def test_a_mocked_answer_is_measured() -> None:
    """httpx reads an answer made with ``content=`` as it is made (httpx.MockTransport, respx,
    pytest-httpx): the client never reads it through the capture, so it is taken whole, as
    having come with the headers, sync and async."""
    import asyncio

    import groq
    import httpx

    from pytest_llmlatency.capture.intercept import Interceptor, Recorder

    answer = _MOCKED_ANSWER

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer, headers={"x-request-id": "req_mock"})

    messages = [{"role": "user", "content": "hi"}]
    recorder = Recorder()
    key = "gsk_canary_mocked_0123456789"
    with Interceptor(recorder):
        sync = groq.Groq(api_key=key, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
        out = sync.chat.completions.create(model="llama-3.1-8b-instant", messages=messages)  # type: ignore[arg-type]
        assert out.choices[0].message.content == "mocked"

        async def ask() -> None:
            transport = httpx.MockTransport(handler)
            client = groq.AsyncGroq(api_key=key, http_client=httpx.AsyncClient(transport=transport))
            await client.chat.completions.create(model="llama-3.1-8b-instant", messages=messages)  # type: ignore[arg-type]

        asyncio.run(ask())
    calls = recorder.calls
    assert len(calls) == 2
    for call in calls:
        assert call.ok and call.completed and not call.abandoned
        assert call.usage == answer["usage"] and call.content == "mocked" and call.request_id == "req_mock"
        assert call.end_ns == call.headers_ns and call.e2e_ms is not None and call.e2e_ms >= 0
        assert call.model == "llama-3.1-8b-instant" and key not in repr(call.params)


def test_a_mocked_answer_is_recorded_and_replayed(tmp_path: Path) -> None:
    """A mocked answer (read by httpx as it was made) is recorded like a live one, and replays
    with the mock gone: the same answer, usage and request id, and the recorded timing."""
    import groq
    import httpx

    from pytest_llmlatency.capture.intercept import Interceptor, Recorder
    from pytest_llmlatency.cassettes.tape import Tape

    answer = _MOCKED_ANSWER

    def mocked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer, headers={"x-request-id": "req_mock"})

    def gone(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the replay went to the transport")

    path = tmp_path / "cassettes" / "test_m" / "test_mocked.yaml"
    key = "gsk_canary_mocked_record_0123456789"

    def call(handler: Any, mode: str) -> Any:
        recorder = Recorder()
        recorder.tape = Tape(path, nodeid="test_m.py::test_mocked", mode=mode, secrets=recorder.secrets)
        client = groq.Groq(api_key=key, max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
        with Interceptor(recorder):
            out = client.chat.completions.create(
                model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}]
            )
        assert out.choices[0].message.content == "mocked"
        (made,) = recorder.calls
        assert recorder.tape.commit() or mode == "none"
        return made

    live = call(mocked, "once")
    assert path.exists() and key not in path.read_text() and not live.replayed
    replayed = call(gone, "none")
    assert replayed.replayed and replayed.completed
    assert (replayed.content, replayed.usage, replayed.request_id) == ("mocked", answer["usage"], "req_mock")
    assert replayed.e2e_ms == pytest.approx(live.e2e_ms, abs=1e-3)


def test_the_endpoint_of_a_path_is_found_again_from_its_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request's path is looked up once: the same answer from the cache, a GET is never
    an LLM call, and paths that carry ids do not grow the cache without end."""
    from pytest_llmlatency.core import endpoints

    monkeypatch.setattr(endpoints, "_BY_PATH", {})
    paths = {
        "/openai/v1/chat/completions": "chat",
        "/openai/v1/chat/completions/": "chat",
        "/v1/responses": "responses",
        "/openai/v1/audio/transcriptions": "transcription",
        "/openai/v1/audio/translations": "translation",
        "/openai/v1/audio/speech": "speech",
        "/openai/v1/embeddings": None,
        "/openai/v1/models": None,
    }
    for _ in range(2):  # looked up, then from the cache
        found = {path: endpoints.endpoint_for("POST", path) for path in paths}
        assert {path: e.name if e else None for path, e in found.items()} == paths
    assert endpoints.endpoint_for("GET", "/openai/v1/chat/completions") is None
    for i in range(2000):
        assert endpoints.endpoint_for("POST", f"/v1/files/{i}") is None
    assert endpoints.endpoint_for("POST", "/v2/chat/completions") is endpoints.CHAT  # past the bound
    assert len(endpoints._BY_PATH) == 1024
