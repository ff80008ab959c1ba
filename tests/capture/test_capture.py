"""Every way a test can call Groq is captured: one ``LLMCall`` per logical call."""

from __future__ import annotations

import httpx
import pytest

from ..helpers import ANYIO_CONFTEST, run_suite

MSG = '[{"role": "user", "content": "Describe queues in 40 words."}]'
HEADER = f"import groq, pytest\nMSG = {MSG}\n"


def test_sync_streaming_and_not(pytester: pytest.Pytester) -> None:
    body = """
def test_it(groq_client, llm_calls):
    resp = groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    text = "".join(c.choices[0].delta.content or "" for c in groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG, stream=True) if c.choices)
    assert len(llm_calls) == 2
    plain, streamed = llm_calls
    assert (plain.streamed, streamed.streamed) == (False, True)
    assert plain.ok and streamed.ok
    assert plain.content == resp.choices[0].message.content == text == streamed.content
    assert plain.usage == resp.usage.model_dump(exclude_none=True)
    assert plain.request_id == resp.x_groq.id
    assert plain.ttft_ms == plain.e2e_ms and plain.itl_ms == [] and plain.tpot_ms is None
    assert streamed.ttfb_ms <= streamed.ttft_ms <= streamed.e2e_ms
    assert len(streamed.itl_ms) == streamed.completion_tokens - 1
    assert streamed.model == "llama-3.1-8b-instant" and streamed.params == {"stream": True}
    assert streamed.finish_reason == "stop" and not streamed.replayed and streamed.attempts[0].status == 200
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(passed=1)


def test_app_constructed_clients_and_raw_responses(pytester: pytest.Pytester) -> None:
    body = """
def app_call():
    # the application builds its own client from GROQ_BASE_URL / GROQ_API_KEY
    with groq.Groq() as client:
        return client.chat.completions.create(model="openai/gpt-oss-20b", messages=MSG, reasoning_effort="low")

def test_app(groq_env, llm_calls):
    app_call()
    assert llm_calls.last.model == "openai/gpt-oss-20b"
    assert llm_calls.last.params == {"reasoning_effort": "low"}
    assert llm_calls.last.reasoning_tokens > 0

def test_raw_and_streaming_response(groq_client, llm_calls):
    raw = groq_client.chat.completions.with_raw_response.create(model="llama-3.1-8b-instant", messages=MSG)
    assert raw.parse().choices
    with groq_client.chat.completions.with_streaming_response.create(
            model="llama-3.1-8b-instant", messages=MSG, stream=True) as resp:
        lines = list(resp.iter_lines())
    assert lines
    assert [c.streamed for c in llm_calls] == [False, True]
    assert all(c.ok for c in llm_calls)
    assert llm_calls[1].completion_tokens == llm_calls[0].completion_tokens

def test_not_measured_without_the_plugin(groq_client):
    # no marker and no llm_calls: nothing is patched
    import httpx
    assert not hasattr(httpx.Client._transport_for_url, "__wrapped__")
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(passed=3)


def test_async_client(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.anyio
async def test_async(async_groq_client, llm_calls):
    resp = await async_groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    stream = await async_groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG, stream=True)
    async for _ in stream:
        pass
    assert [c.streamed for c in llm_calls] == [False, True]
    assert all(c.ok for c in llm_calls)
    assert llm_calls[1].ttft_ms < llm_calls[1].e2e_ms

@pytest.mark.anyio
@pytest.mark.max_latency(ms=5000)
async def test_app_async_client(groq_base_url, llm_calls):
    async with groq.AsyncGroq(base_url=groq_base_url, api_key="gsk_x") as client:
        await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    assert len(llm_calls) == 1
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(passed=2)


def test_openai_sdk_against_a_compatible_server(pytester: pytest.Pytester) -> None:
    pytest.importorskip("openai")
    body = """
import openai

def test_openai(groq_emulator, llm_calls):
    client = openai.OpenAI(base_url=groq_emulator.openai_base_url, api_key="sk-x")
    client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    for _ in client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True):
        pass
    client.close()
    assert [c.ok for c in llm_calls] == [True, True]
    assert llm_calls[1].streamed and llm_calls[1].url.endswith("/openai/v1/chat/completions")
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(passed=1)


def test_retries_make_one_call_with_attempts(pytester: pytest.Pytester) -> None:
    body = """
def test_retry(groq_client, llm_calls):
    groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG,
        extra_headers={"x-emulator-fault": "429;retry_after=0.2;times=1"})
    assert len(llm_calls) == 1
    call = llm_calls.last
    assert [a.status for a in call.attempts] == [429, 200]
    assert call.retries == 1 and call.ok
    assert call.backoff_ms >= 200          # the SDK honoured retry-after
    assert call.e2e_ms < call.wall_ms      # generation time excludes the failed attempt and backoff
    assert call.wall_ms >= call.e2e_ms + call.backoff_ms

def test_gives_up(groq_client, llm_calls):
    with pytest.raises(groq.InternalServerError):
        groq_client.with_options(max_retries=1).chat.completions.create(
            model="llama-3.1-8b-instant", messages=MSG, extra_headers={"x-emulator-fault": "503;retry_after=0.05"})
    call = llm_calls.last
    assert len(llm_calls) == 1 and [a.status for a in call.attempts] == [503, 503]
    assert not call.ok and "Service Unavailable" in call.attempts[-1].error

@pytest.mark.max_latency(ms=5000)
def test_budget_names_the_failure(groq_client):
    try:
        groq_client.with_options(max_retries=1).chat.completions.create(
            model="llama-3.1-8b-instant", messages=MSG, extra_headers={"x-emulator-fault": "503;retry_after=0.05"})
    except groq.InternalServerError:
        pass
"""
    result = run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*max_latency(ms=5000): no LLM call succeeded; call 1 of 1 "
            "(llama-3.1-8b-instant) failed: HTTP 503 after 2 attempt(s): Service Unavailable*"
        ]
    )


def test_abandoned_and_cut_streams(pytester: pytest.Pytester) -> None:
    body = """
import httpx

def test_abandoned(groq_client, llm_calls):
    stream = groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
    chunks = iter(stream)
    for _ in range(4):
        next(chunks)
    stream.close()
    call = llm_calls.last
    assert call.abandoned and not call.ok
    assert len(call.token_times_ns) == 3      # the role chunk carries no token
    assert call.usage is None and call.e2e_ms is not None

def test_never_closed(groq_client, llm_calls):
    stream = groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True)
    next(iter(stream))
    llm_calls._recorder.finish_open()
    assert llm_calls.last.abandoned

def test_cut(groq_client, llm_calls):
    stream = groq_client.with_options(max_retries=0).chat.completions.create(
        model="llama-3.1-8b-instant", messages=MSG, stream=True, extra_headers={"x-emulator-fault": "cut;after=5"})
    with pytest.raises(httpx.RemoteProtocolError):
        for _ in stream:
            pass
    call = llm_calls.last
    assert not call.ok and not call.abandoned and "RemoteProtocolError" in call.error
    assert len(call.token_times_ns) == 5

@pytest.mark.max_ttft(ms=5000)
def test_abandoned_budget_message(groq_client):
    groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True).close()
"""
    result = run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*has no ttft timing (the client abandoned the stream before it ended*"])


def test_threads_and_non_chat_traffic(pytester: pytest.Pytester) -> None:
    body = """
from concurrent.futures import ThreadPoolExecutor

def test_threads(groq_client, llm_calls):
    groq_client.models.list()               # not a chat completion: passes through, not recorded
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: groq_client.chat.completions.create(
            model="llama-3.1-8b-instant", messages=[{"role": "user", "content": f"q{i}: in one word"}]), range(16)))
    assert len(llm_calls) == 16 and all(c.ok for c in llm_calls)
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(passed=1)


def test_patch_is_undone_even_when_the_test_fails(pytester: pytest.Pytester) -> None:
    original = httpx.HTTPTransport.handle_request
    original_async = httpx.AsyncHTTPTransport.handle_async_request
    body = """
import httpx

def test_fails(llm_calls):
    assert hasattr(httpx.Client._transport_for_url, "__wrapped__")
    raise RuntimeError("boom")

def test_after():
    assert not hasattr(httpx.Client._transport_for_url, "__wrapped__")
    assert not hasattr(httpx.AsyncClient._transport_for_url, "__wrapped__")
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(
        passed=1, failed=1
    )
    assert httpx.HTTPTransport.handle_request is original
    assert httpx.AsyncHTTPTransport.handle_async_request is original_async


def test_llm_calls_api(pytester: pytest.Pytester) -> None:
    body = """
def test_api(groq_client, llm_calls):
    with pytest.raises(LookupError, match="no LLM call"):
        llm_calls.last
    for i in range(3):
        groq_client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    assert len(llm_calls) == 3 and llm_calls[-1] is llm_calls.last and len(llm_calls[:2]) == 2
    summary = llm_calls.summary()
    assert summary["calls"] == 3 and summary["models"] == ["llama-3.1-8b-instant"]
    assert summary["e2e_p50"] <= summary["e2e_p95"] <= summary["e2e_max"]
    llm_calls.assert_max_latency(5000)
    llm_calls.assert_max_tokens(completion=1000)
    llm_calls.assert_max_server_time(total_ms=5000)
    with pytest.raises(AssertionError, match=r"max_tokens\\(completion=5\\) exceeded by call 1 of 3"):
        llm_calls.assert_max_tokens(completion=5)
    with pytest.raises(AssertionError, match="p50 e2e"):
        llm_calls.assert_max_latency(0.001, percentile=50)
    llm_calls.clear()
    assert len(llm_calls) == 0
"""
    run_suite(pytester, files={"test_capture": HEADER + body}, conftest=ANYIO_CONFTEST).assert_outcomes(passed=1)
