"""The capture's fast path (events split once per batch of reads, Groq's token chunks read
through a template) reads a stream exactly as reading every event as JSON does, however the
bytes are cut into reads and whatever the text holds."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import pytest

from pytest_llmlatency.capture.attempt import Capture
from pytest_llmlatency.core.calls import Attempt, LLMCall
from pytest_llmlatency.core.endpoints import CHAT, fast_chat_delta, read_event
from pytest_llmlatency.core.sse import SSEParser

from ..helpers import REAL_CASSETTES, cassette_interactions

HEAD = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp"'
TEXTS = [" Hello", "", ' say "hi"', "back\\slash", "tab\there", "é ü 漢字", "\\u00e9 escaped", "line\nbreak", " end"]


def _chunk(delta: dict[str, Any], **extra: Any) -> bytes:
    body = json.loads(HEAD + "}")
    body.update({"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}], **extra})
    return b"data: " + json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _stream() -> bytes:
    parts = [_chunk({"role": "assistant", "content": ""}, x_groq={"id": "req_1"})]
    parts += [_chunk({"reasoning": t, "channel": "analysis"}) for t in ("think", " more", ' "q"')]
    parts += [_chunk({"content": t}) for t in TEXTS]
    parts.append(b": a comment\n\n")
    parts.append(b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",\n')
    parts.append(b'data: "choices":[{"index":0,"delta":{"content":" split"},"finish_reason":null}]}\n\n')
    parts.append(_chunk({}, x_groq={"usage": {"prompt_tokens": 3, "completion_tokens": 14}}))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _reference(body: bytes, times: list[tuple[int, bytes]]) -> LLMCall:
    """Every event parsed as JSON and read by ``read_event``, each stamped by its read."""
    call = LLMCall(model="m", params={}, messages=[], url="u", streamed=True)
    parser = SSEParser()
    for at, chunk in times:
        for event in parser.feed(chunk):
            if event.is_done:
                call.end_ns = at
                continue
            try:
                data = event.json()
            except ValueError:
                continue
            if isinstance(data, dict):
                read_event(CHAT, call, data, event.event, at)
    return call


def _captured(times: list[tuple[int, bytes]], settle_every: int) -> LLMCall:
    call = LLMCall(model="m", params={}, messages=[], url="u", streamed=True)
    attempt = Attempt(start_ns=0)
    call.attempts.append(attempt)
    capture = Capture(call, attempt, httpx, CHAT)
    capture.response(200, httpx.Headers({"content-type": "text/event-stream"}), at=1)
    for i, (at, chunk) in enumerate(times):
        capture.feed(chunk, at=at)
        if settle_every and i % settle_every == 0:
            capture.settle()  # a test reading its calls mid-stream
    capture.eof(at=times[-1][0] + 1)
    capture.settle()  # what reading the calls does
    return call


def _cuts(body: bytes, rng: random.Random) -> list[tuple[int, bytes]]:
    out, pos, at = [], 0, 10
    while pos < len(body):
        size = rng.choice([1, 2, 7, 40, 200, 5000])
        out.append((at, body[pos : pos + size]))
        pos += size
        at += rng.randint(1, 1000)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_fast_path_equals_reading_every_event_as_json(seed: int) -> None:
    body = _stream()
    if seed % 3 == 2:
        body = body.replace(b"\n", b"\r\n")  # CRLF line ends: the general parser from then on
    times = _cuts(body, random.Random(seed))
    want = _reference(body, times)
    got = _captured(times, settle_every=seed % 4)
    assert got.token_times_ns == want.token_times_ns
    assert got.content == want.content == "".join(TEXTS) + " split"
    assert got.first_output == want.first_output == "reasoning" and got.reasoning_streamed
    assert got.usage == want.usage and got.request_id == "req_1"
    assert got.end_ns == want.end_ns and got.completed


def test_the_template_only_takes_chunks_it_fully_describes() -> None:
    token = _chunk({"content": " hi"})[6:-2]
    kind, text, head, tail = fast_chat_delta(token)  # type: ignore[misc]
    assert (kind, text) == ("content", " hi") and token == head + b'content":" hi' + tail
    for other in (
        _chunk({"content": " hi", "tool_calls": []})[6:-2],  # another key in the delta
        _chunk({"content": " hi"}, usage={"completion_tokens": 1})[6:-2],  # usage beside it
        _chunk({"content": " hi"}, x_groq={"error": "over_capacity"})[6:-2],  # a mid-stream error
        token.replace(b'"finish_reason":null', b'"finish_reason":"stop"'),
    ):
        assert fast_chat_delta(other) is None


def test_the_real_groq_streams_read_the_same_both_ways() -> None:
    checked = 0
    for path in sorted(REAL_CASSETTES.rglob("*.yaml")):
        for interaction in cassette_interactions(path):
            response = interaction.get("response") or {}
            body = (response.get("body") or {}).get("string")
            if not isinstance(body, str) or not body.startswith("data: ") or "chat.completion.chunk" not in body:
                continue
            raw = body.encode()
            times = _cuts(raw, random.Random(checked))
            want, got = _reference(raw, times), _captured(times, settle_every=0)
            assert (got.token_times_ns, got.content, got.usage) == (want.token_times_ns, want.content, want.usage), path
            checked += 1
    assert checked >= 3
