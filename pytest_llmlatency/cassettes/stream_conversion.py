"""A recorded chat completion in the other shape: a streamed recording (SSE) as one
``chat.completion`` body, or a body as a stream. Used when a changed request is answered
from its closest recording (``--llm-predict``) and asks for the other shape; no timing is
kept: that call's cost is predicted."""

from __future__ import annotations

import json
from typing import Any

from ..core.sse import SSEParser, encode_event

__all__ = ["convert_stream"]

_REPLACED_HEADERS = ("content-type", "content-encoding", "content-length", "transfer-encoding")
"""Headers the converted response does not keep: its body has another type and length, and
is not compressed."""


def convert_stream(response: dict[str, Any], stream: bool) -> dict[str, Any] | None:
    """The recorded response in the shape the new request expects: an SSE stream turned into
    one chat.completion body, or a body into a stream (role chunk, the whole text in one chunk,
    the final chunk with usage, ``[DONE]``). No timing: the call's cost is predicted.
    None when the recording cannot be read."""
    body = response.get("body", {}).get("string", b"")
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    headers = {k: v for k, v in (response.get("headers") or {}).items() if k.lower() not in _REPLACED_HEADERS}
    is_stream = any(
        "event-stream" in str(v)
        for k, vs in (response.get("headers") or {}).items()
        if k.lower() == "content-type"
        for v in vs
    )
    if is_stream == stream:
        return response
    if any(k.lower() == "content-encoding" for k in response.get("headers") or {}):
        import gzip

        try:
            raw = gzip.decompress(raw)
        except OSError:
            return None
    if is_stream:
        text, content_type = json.dumps(_stream_as_body(raw)).encode(), "application/json"
    else:
        converted = _body_as_stream(raw)
        if converted is None:
            return None
        text, content_type = converted, "text/event-stream"
    return {
        "status": response.get("status", {"code": 200, "message": "OK"}),
        "headers": {**headers, "content-type": [content_type]},
        "body": {"string": text},
    }


def _stream_as_body(raw: bytes) -> dict[str, Any]:
    """An SSE chat completion stream as the ``chat.completion`` body it adds up to."""
    parser = SSEParser()
    chunks = [e.json() for e in parser.feed(raw) + parser.close() if not e.is_done]
    content, reasoning, finish, usage, first = "", "", None, None, (chunks[0] if chunks else {})
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content += delta.get("content") or ""
            reasoning += delta.get("reasoning") or ""
            finish = choice.get("finish_reason") or finish
        usage = (chunk.get("x_groq") or {}).get("usage") or chunk.get("usage") or usage
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning"] = reasoning
    return {
        "id": first.get("id"),
        "object": "chat.completion",
        "created": first.get("created"),
        "model": first.get("model"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
        "system_fingerprint": first.get("system_fingerprint"),
        "x_groq": {"id": (first.get("x_groq") or {}).get("id")},
    }


def _body_as_stream(raw: bytes) -> bytes | None:
    """A ``chat.completion`` body as an SSE stream: the role chunk, the whole text in one
    chunk, the final chunk with usage, ``[DONE]``. None when the body is not one."""
    try:
        doc = json.loads(raw)
        choice = doc["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    base = {
        "id": doc.get("id"),
        "object": "chat.completion.chunk",
        "created": doc.get("created"),
        "model": doc.get("model"),
        "system_fingerprint": doc.get("system_fingerprint"),
    }
    message = choice.get("message") or {}
    delta = {k: message[k] for k in ("content", "reasoning") if message.get(k)}
    events = [
        {
            **base,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            ],
            "x_groq": doc.get("x_groq") or {},
        },
        {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]},
        {
            **base,
            "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": choice.get("finish_reason")}],
            "x_groq": {**(doc.get("x_groq") or {}), "usage": doc.get("usage")},
            "usage": doc.get("usage"),
        },
    ]
    return b"".join(encode_event(e) for e in events) + encode_event("[DONE]")
