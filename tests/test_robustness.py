"""Measuring never breaks the application, and odd cases are measured right."""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import groq
import httpx
import pytest

from pytest_llmlatency.capture.intercept import Interceptor, Recorder
from pytest_llmlatency.emulator import GroqEmulator

from .helpers import ANYIO_CONFTEST

SSE = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":" world"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n'
    b"data: [DONE]\n\n"
)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.fixture
def canned() -> Iterator[dict[str, Any]]:
    """A tiny OpenAI-compatible server answering one canned body with given headers."""
    state: dict[str, Any] = {"body": SSE, "headers": {"Content-Type": "text/event-stream"}}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = state["body"]
            self.send_response(200)
            for k, v in state["headers"].items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _post(url: str) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(url, json={"model": "m", "messages": [], "stream": True})


def test_raw_deflate_is_decoded_like_httpx_does(canned: dict[str, Any]) -> None:
    canned["body"] = _raw_deflate(SSE)
    canned["headers"] = {"Content-Type": "text/event-stream", "Content-Encoding": "deflate"}
    recorder = Recorder()
    with Interceptor(recorder):
        resp = _post(canned["url"])
    assert resp.text == SSE.decode()
    call = recorder.calls[0]
    assert call.ok and call.content == "Hello world" and call.completion_tokens == 2
    assert call.capture_error is None


def test_undecodable_body_leaves_the_application_alone(canned: dict[str, Any]) -> None:
    canned["body"] = b"\x00\x01not a known encoding"
    canned["headers"] = {"Content-Type": "text/event-stream", "Content-Encoding": "x-unknown"}
    recorder = Recorder()
    with Interceptor(recorder):
        resp = _post(canned["url"])
    assert resp.status_code == 200
    assert recorder.calls[0].undecodable == "x-unknown"


def test_a_broken_gzip_body_fails_only_as_httpx_would(canned: dict[str, Any]) -> None:
    canned["body"] = b"not gzip at all"
    canned["headers"] = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    with pytest.raises(httpx.DecodingError):
        _post(canned["url"])  # what the application sees without the plugin
    recorder = Recorder()
    with Interceptor(recorder), pytest.raises(httpx.DecodingError):
        _post(canned["url"])  # the same error with it: nothing of ours in between
    assert recorder.calls[0].capture_error is not None


def test_concurrent_identical_requests_with_retries_stay_apart() -> None:
    async def one(client: groq.AsyncGroq) -> int:
        stream = await client.chat.completions.create(
            model="llama-3.1-8b-instant",
            stream=True,
            messages=[{"role": "user", "content": "Describe queues in 100 words."}],
            extra_headers={"x-emulator-fault": "429;retry_after=0.05;times=1"},
        )
        return len([c async for c in stream])

    async def main(emu: GroqEmulator) -> list[int]:
        async with groq.AsyncGroq(base_url=emu.base_url, api_key="gsk_x") as client:
            return list(await asyncio.gather(one(client), one(client)))

    recorder = Recorder()
    with GroqEmulator(time_scale=5, jitter=0) as emu, Interceptor(recorder):
        chunks = asyncio.run(main(emu))
    assert chunks[0] == chunks[1]
    assert len(recorder.calls) == 2
    for call in recorder.calls:
        assert call.ok
        assert [a.status for a in call.attempts] == [429, 200]
        assert len(call.token_times_ns) == call.completion_tokens


def test_hidden_reasoning_does_not_inflate_decode_speed() -> None:
    recorder = Recorder()
    with (
        GroqEmulator(jitter=0, queue_ms=1) as emu,
        Interceptor(recorder),
        groq.Groq(base_url=emu.base_url, api_key="gsk_x") as client,
    ):
        for include in (True, False):
            list(
                client.chat.completions.create(
                    model="openai/gpt-oss-20b",
                    reasoning_effort="medium",
                    include_reasoning=include,
                    stream=True,
                    messages=[{"role": "user", "content": "Describe queues in 100 words."}],
                )
            )
    shown, hidden = recorder.calls
    assert hidden.reasoning_tokens == shown.reasoning_tokens > 100
    assert not hidden.reasoning_streamed and shown.reasoning_streamed
    assert hidden.streamed_tokens == hidden.completion_tokens - hidden.reasoning_tokens
    # both decode at the emulator's 1000 tok/s. Counting the hidden reasoning tokens over the
    # streamed span would make the hidden call look about twice as fast as the shown one; a
    # client read late and then caught up (a loaded machine) shortens both spans alike
    assert shown.output_tokens_per_s is not None and hidden.output_tokens_per_s is not None
    assert 300 < shown.output_tokens_per_s < 2000 and 300 < hidden.output_tokens_per_s < 2000
    assert hidden.output_tokens_per_s < 1.35 * shown.output_tokens_per_s


def test_a_patch_on_top_of_ours_is_left_alone_and_ours_goes_inert(groq_emulator: GroqEmulator) -> None:
    original = httpx.HTTPTransport.handle_request
    recorder = Recorder()
    interceptor = Interceptor(recorder)
    interceptor.install()
    ours = httpx.HTTPTransport.handle_request

    def theirs(self: Any, request: Any) -> Any:
        return ours(self, request)

    httpx.HTTPTransport.handle_request = theirs  # type: ignore[method-assign]
    try:
        interceptor.uninstall()
        assert httpx.HTTPTransport.handle_request is theirs, "not clobbered"
        with groq.Groq(base_url=groq_emulator.base_url, api_key="gsk_x") as client:
            client.chat.completions.create(model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hi"}])
        assert recorder.calls == [], "the inert wrapper records nothing"
    finally:
        httpx.HTTPTransport.handle_request = original  # type: ignore[method-assign]


def test_async_client_fixture_leaks_nothing(pytester: pytest.Pytester) -> None:
    """Under filterwarnings=error, with anyio and pytest-asyncio, streams read or abandoned."""
    pytest.importorskip("pytest_asyncio")
    pytester.makeini("[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile("""
import gc, pytest

MSG = [{"role": "user", "content": "Describe queues in 20 words."}]

async def calls(client):
    await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG)
    async for _ in await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True):
        pass
    async for _ in await client.chat.completions.create(model="llama-3.1-8b-instant", messages=MSG, stream=True):
        break

@pytest.mark.anyio
@pytest.mark.parametrize("i", range(2))
async def test_anyio(async_groq_client, llm_calls, i):
    await calls(async_groq_client)

@pytest.mark.asyncio
@pytest.mark.parametrize("i", range(2))
async def test_asyncio(async_groq_client, i):
    await calls(async_groq_client)

def test_collect_garbage():
    gc.collect()
""")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_marker_edge_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import enum, pytest

class Model(str, enum.Enum):
    SMALL = "llama-3.1-8b-instant"

pytestmark = pytest.mark.max_latency(ms=100000, metric="ttft")

@pytest.mark.max_ttft(ms=0.001)
def test_alias_closest_wins(groq_client):
    list(groq_client.chat.completions.create(
        model="llama-3.1-8b-instant", stream=True, messages=[{"role": "user", "content": "in one word"}]))

@pytest.mark.max_latency(ms=100000, call=Model.SMALL)
def test_enum_call(groq_client):
    groq_client.chat.completions.create(model=Model.SMALL.value, messages=[{"role": "user", "content": "in one word"}])

@pytest.mark.max_latency(ms=10**400)
def test_huge_ms(groq_client):
    pass
""")
    # through xdist: the enum and the huge number travel from the worker to the controller
    # (one worker does that as two would, at the cost of one interpreter fewer)
    result = pytester.runpytest("-p", "no:cacheprovider", "-n", "1", "--llm-report-json", "r.json")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*max_ttft(ms=0.001) exceeded by call 1 of 1*",
            "*@pytest.mark.max_latency: ms= is too large*",
        ]
    )
    doc = json.loads((pytester.path / "r.json").read_text())
    enum_test = next(t for t in doc["tests"] if t["nodeid"].endswith("test_enum_call"))
    assert enum_test["budgets"][-1]["call"] == "llama-3.1-8b-instant"
