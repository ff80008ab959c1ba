"""The emulator speaks Groq's wire format: checked against real Groq cassettes and the SDK."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from typing import Any

import groq
import httpx
import pytest
from pydantic import BaseModel

from pytest_llmlatency.core.sse import SSEParser
from pytest_llmlatency.emulator import GroqEmulator

from ..helpers import REAL_CASSETTES, cassette_interactions, json_paths, post_chat

MESSAGES = [{"role": "user", "content": "Explain the importance of low latency LLMs in two sentences."}]


def _real_bodies() -> list[tuple[str, bool, str]]:
    """(file, streamed, decoded body) of every real plain Groq chat completion (the
    pydantic-ai recordings, in pydantic-ai's own cassette format, hold tool calls, JSON and
    compound answers: tests/emulator/test_tools.py compares those)."""
    out = []
    for path in sorted(REAL_CASSETTES.glob("*/*.yaml")):
        if path.parent.name == "pydantic__pydantic-ai":
            continue
        for interaction in cassette_interactions(path):
            body = interaction["response"]["body"]["string"]
            if isinstance(body, bytes):
                body = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
                body = body.decode()
            ctype = str(interaction["response"]["headers"].get("Content-Type", [""])[0])
            out.append((path.name, "event-stream" in ctype, body))
    return out


def _events(body: str) -> list[str]:
    parser = SSEParser()
    events = parser.feed(body.encode()) + parser.close()
    return [e.data for e in events]


def _chunk_kind(chunk: dict[str, Any]) -> str:
    if not chunk.get("choices"):
        return "usage"
    choice = chunk["choices"][0]
    if choice.get("finish_reason"):
        return "final"
    if choice["delta"].get("role"):
        return "role"
    return "delta"


def _chunkjson_paths(events: Iterable[str]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for data in events:
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        kinds.setdefault(_chunk_kind(chunk), set()).update(json_paths(chunk))
    return kinds


def test_real_cassettes_present() -> None:
    bodies = _real_bodies()
    assert len(bodies) == 8 + 10  # 8 files; the openllmetry ones hold 6 interactions each
    assert any(streamed for _, streamed, _ in bodies)


def test_non_streaming_body_has_every_key_groq_sends(fast_emulator: GroqEmulator) -> None:
    real = set().union(*(json_paths(json.loads(b)) for _, streamed, b in _real_bodies() if not streamed))
    resp = post_chat(fast_emulator, {"model": "llama-3.1-8b-instant", "messages": MESSAGES})
    assert resp.status_code == 200
    ours = json_paths(resp.json())
    missing = real - ours - {"choices[].message.tool_calls"}
    assert not missing, f"keys Groq sends that the emulator lacks: {sorted(missing)}"
    # the newer fields the issue names are there too
    assert {
        "usage.queue_time",
        "usage.completion_tokens_details.reasoning_tokens",
        "service_tier",
        "x_groq.id",
        "system_fingerprint",
    } <= ours


def test_stream_chunks_have_every_key_groq_sends(fast_emulator: GroqEmulator) -> None:
    real: dict[str, set[str]] = {}
    for _, streamed, body in _real_bodies():
        if streamed:
            for kind, paths in _chunkjson_paths(_events(body)).items():
                real.setdefault(kind, set()).update(paths)
    resp = post_chat(fast_emulator, {"model": "llama-3.1-8b-instant", "messages": MESSAGES, "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = _events(resp.text)
    assert events[-1] == "[DONE]"
    ours = _chunkjson_paths(events)
    assert set(real) == {"role", "delta", "final"} == set(ours)
    for kind in real:
        missing = real[kind] - ours[kind]
        assert not missing, f"{kind} chunk lacks {sorted(missing)}"


def test_stream_shape(fast_emulator: GroqEmulator) -> None:
    body = {
        "model": "openai/gpt-oss-20b",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
        "reasoning_effort": "low",
    }
    events = _events(post_chat(fast_emulator, body).text)
    chunks = [json.loads(e) for e in events[:-1]]
    first, final, usage_only = chunks[0], chunks[-2], chunks[-1]
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["x_groq"]["id"].startswith("req_01")
    middle = chunks[1:-2]
    assert middle and all(_chunk_kind(c) == "delta" for c in middle)
    reasoning = [c for c in middle if "reasoning" in c["choices"][0]["delta"]]
    content = [c for c in middle if "content" in c["choices"][0]["delta"]]
    assert reasoning and content
    assert middle.index(reasoning[-1]) < middle.index(content[0]), "reasoning comes before content"
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["x_groq"]["usage"] == final["usage"]
    usage = final["usage"]
    assert usage["completion_tokens"] == len(middle)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(reasoning)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage_only["choices"] == [] and usage_only["usage"] == usage
    assert events[-1] == "[DONE]"


def test_usage_keys_cover_the_manifest() -> None:
    manifest = json.loads((REAL_CASSETTES / "manifest.json").read_text())
    real_keys = {k for f in manifest for i in f["interactions"] for k in (i.get("usage") or {})}
    from pytest_llmlatency.emulator import plan_request
    from pytest_llmlatency.emulator.wire import usage_body

    plan = plan_request({"model": "llama-3.1-8b-instant", "messages": MESSAGES})
    ours = set(usage_body(plan, queue_s=0.01, prompt_s=0.01, completion_s=0.1))
    assert real_keys <= ours


def test_headers(fast_emulator: GroqEmulator) -> None:
    resp = post_chat(fast_emulator, {"model": "llama-3.1-8b-instant", "messages": MESSAGES})
    assert re.fullmatch(r"req_01[0-9a-z]{24}", resp.headers["x-request-id"])
    assert resp.json()["x_groq"]["id"] == resp.headers["x-request-id"]
    for name in (
        "limit-requests",
        "limit-tokens",
        "remaining-requests",
        "remaining-tokens",
        "reset-requests",
        "reset-tokens",
    ):
        assert f"x-ratelimit-{name}" in resp.headers


# keys real Groq sends that the SDK does not model (gpt-oss reasoning deltas carry their
# harmony channel: real-cassettes/pydantic__pydantic-ai/test_tool_use_failed_error_streaming.yaml)
_REAL_BUT_UNMODELLED = {"channel"}


def _assert_no_unknown_fields(model: BaseModel, where: str = "response") -> None:
    """Every key the emulator sends is a field the SDK knows (or one real Groq sends too)."""
    extra = {k: v for k, v in (model.model_extra or {}).items() if k not in _REAL_BUT_UNMODELLED}
    assert not extra, f"{where} has keys the groq SDK does not know: {extra}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, BaseModel):
                _assert_no_unknown_fields(item, f"{where}.{name}")


@pytest.mark.parametrize("model", ["llama-3.1-8b-instant", "openai/gpt-oss-20b", "qwen/qwen3-32b"])
def test_sdk_parses_non_streaming(fast_emulator: GroqEmulator, model: str) -> None:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        resp = client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    _assert_no_unknown_fields(resp)
    assert resp.model == model
    assert resp.choices[0].message.content
    assert resp.usage is not None and resp.usage.total_time is not None
    assert resp.x_groq is not None and resp.x_groq.id


def test_sdk_parses_streaming(fast_emulator: GroqEmulator) -> None:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        stream = client.chat.completions.create(
            model="openai/gpt-oss-20b",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
            extra_body={"stream_options": {"include_usage": True}},
        )
        chunks = list(stream)
    for chunk in chunks:
        _assert_no_unknown_fields(chunk, "chunk")
    assert chunks[-2].x_groq is not None and chunks[-2].x_groq.usage is not None
    assert chunks[-1].usage == chunks[-2].x_groq.usage


@pytest.mark.anyio
async def test_async_sdk_streaming_and_not(fast_emulator: GroqEmulator) -> None:
    async with groq.AsyncGroq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        resp = await client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES)  # type: ignore[arg-type]
        stream = await client.chat.completions.create(
            model="llama-3.3-70b-versatile",
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == resp.choices[0].message.content, "same request, same answer, streamed or not"


def test_reasoning_field_and_formats(fast_emulator: GroqEmulator) -> None:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        oss = client.chat.completions.create(model="openai/gpt-oss-20b", messages=MESSAGES)  # type: ignore[arg-type]
        hidden = client.chat.completions.create(
            model="openai/gpt-oss-20b",
            messages=MESSAGES,
            include_reasoning=False,  # type: ignore[arg-type]
        )
        raw = client.chat.completions.create(model="qwen/qwen3-32b", messages=MESSAGES)  # type: ignore[arg-type]
        parsed = client.chat.completions.create(
            model="qwen/qwen3-32b",
            messages=MESSAGES,
            reasoning_format="parsed",  # type: ignore[arg-type]
        )
    assert oss.choices[0].message.reasoning
    assert hidden.choices[0].message.reasoning is None
    assert hidden.usage is not None and oss.usage is not None
    assert hidden.usage.completion_tokens == oss.usage.completion_tokens, "hidden reasoning is still billed"
    assert (raw.choices[0].message.content or "").startswith("<think>\n")
    assert parsed.choices[0].message.reasoning and "<think>" not in (parsed.choices[0].message.content or "")


def test_models_endpoint(fast_emulator: GroqEmulator) -> None:
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        ids = {m.id for m in client.models.list().data}
        one = client.models.retrieve("openai/gpt-oss-20b")
    assert {
        "openai/gpt-oss-20b",
        "openai/gpt-oss-120b",
        "llama-3.1-8b-instant",
        "llama-3.3-70b-versatile",
        "qwen/qwen3-32b",
        "meta-llama/llama-4-scout-17b-16e-instruct",
    } <= ids  # the full catalogue is tested in test_emulator_models.py
    assert one.owned_by == "OpenAI"


def test_openai_sdk_path(fast_emulator: GroqEmulator) -> None:
    """The ``/v1`` path the openai SDK uses when pointed at the server root + /v1."""
    with httpx.Client(timeout=30) as client:
        resp = client.post(
            f"{fast_emulator.base_url}/v1/chat/completions",
            json={"model": "llama-3.1-8b-instant", "messages": MESSAGES},
            headers={"authorization": "Bearer sk-test"},
        )
    assert resp.status_code == 200 and resp.json()["object"] == "chat.completion"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "error_class"),
    [
        (
            {"model": "llama-3.1-8b-instant", "messages": MESSAGES},
            {"authorization": ""},
            401,
            "invalid_api_key",
            groq.AuthenticationError,
        ),
        ({"model": "gpt-5", "messages": MESSAGES}, {}, 404, "model_not_found", groq.NotFoundError),
        (
            {"model": "llama-3.1-8b-instant", "messages": MESSAGES, "n": 2},
            {},
            400,
            None,
            groq.BadRequestError,
        ),
        (
            {"model": "llama-3.1-8b-instant", "messages": MESSAGES, "stop": ["a", "b", "c", "d", "e"]},
            {},
            400,
            None,
            groq.BadRequestError,
        ),
        (
            {"model": "llama-3.1-8b-instant", "messages": MESSAGES, "reasoning_effort": "low"},
            {},
            400,
            None,
            groq.BadRequestError,
        ),
        ({"model": "llama-3.1-8b-instant", "messages": []}, {}, 400, None, groq.BadRequestError),
        (
            {"model": "llama-3.1-8b-instant", "messages": MESSAGES, "max_completion_tokens": 0},
            {},
            400,
            None,
            groq.BadRequestError,
        ),
    ],
    ids=["no-key", "unknown-model", "n", "five-stops", "effort-on-llama", "no-messages", "zero-cap"],
)
def test_validation_errors(
    fast_emulator: GroqEmulator,
    body: dict[str, Any],
    headers: dict[str, str],
    status: int,
    code: str | None,
    error_class: type[groq.APIStatusError],
) -> None:
    resp = post_chat(fast_emulator, body, **headers)
    assert resp.status_code == status
    error = resp.json()["error"]
    assert set(error) >= {"message", "type"}
    assert error["type"] == "invalid_request_error"
    if code:
        assert error["code"] == code
    if headers:
        return  # the SDK always sends a key: test_wrong_key_rejected_when_a_key_is_set covers it
    # the SDK raises the matching error class, without retrying a 4xx
    with groq.Groq(base_url=fast_emulator.base_url, api_key="gsk_test") as client:
        before = len(fast_emulator.requests)
        with pytest.raises(error_class) as info:
            client.chat.completions.create(**body)
    assert info.value.status_code == status
    assert len(fast_emulator.requests) - before == 1


def test_wrong_key_rejected_when_a_key_is_set() -> None:
    with GroqEmulator(api_key="gsk_right", time_scale=20) as emu:
        with (
            groq.Groq(base_url=emu.base_url, api_key="gsk_wrong") as client,
            pytest.raises(groq.AuthenticationError),
        ):
            client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES)  # type: ignore[arg-type]
        with groq.Groq(base_url=emu.base_url, api_key="gsk_right") as client:
            assert client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES).choices  # type: ignore[arg-type]


def test_unknown_url(fast_emulator: GroqEmulator) -> None:
    with httpx.Client(timeout=30) as client:
        resp = client.post(
            f"{fast_emulator.base_url}/openai/v1/embeddings",
            json={},
            headers={"authorization": "Bearer gsk_test"},
        )
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "unknown_url"
