"""Recorded responses: replaying one at its recorded offsets, and the ``LLMCall`` a
recording replays as (computed offline, by the same capture code)."""

from __future__ import annotations

import time
from typing import Any

from ..core.calls import Attempt, LLMCall
from ..core.endpoints import CHAT, describe_request, endpoint_for_uri, input_audio_seconds, request_json
from .attempt import Capture
from .timing import read_timing

__all__ = ["RecordedResponse", "ReplayMismatch", "call_from_recording"]


class ReplayMismatch(Exception):
    """No recording answers this request and the record mode forbids a live call."""


class RecordedResponse:
    """A recorded response: status, headers, and body chunks at their recorded offsets."""

    def __init__(self, response: dict[str, Any], start_ns: int, pace: float | None) -> None:
        self.status = int(response["status"]["code"])
        self.reason = str(response["status"].get("message") or "")
        self.headers = [(k, str(v)) for k, values in (response.get("headers") or {}).items() for v in values]
        body = response.get("body", {}).get("string", b"")
        body = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        timing = read_timing(response)
        self.start_ns = start_ns
        self.pace = pace
        self.real_start = time.perf_counter()
        if timing is not None and sum(timing.sizes) == len(body):
            self.timed = True
            self.ttfb_ns, self.end_ns = timing.ttfb_ns, timing.end_ns
            self.chunks: list[tuple[int, bytes]] = []
            pos = 0
            for offset, size in zip(timing.offsets_ns, timing.sizes, strict=True):
                self.chunks.append((offset, body[pos : pos + size]))
                pos += size
        else:
            # recorded without pytest-llmlatency: the body, no timing
            self.timed = False
            self.ttfb_ns = self.end_ns = 0
            self.chunks = [(0, body)] if body else []

    def delay(self, offset_ns: int) -> float:
        """Seconds to wait (paced replay) before something recorded at offset_ns."""
        if not self.pace:
            return 0.0
        return max(0.0, self.real_start + offset_ns / 1e9 * self.pace - time.perf_counter())


def call_from_recording(request: Any, response: dict[str, Any]) -> LLMCall:
    """The ``LLMCall`` a recorded interaction replays as, computed offline (no HTTP):
    the same capture code reads the recorded chunks at their recorded offsets."""
    import httpx

    raw = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    endpoint = endpoint_for_uri(request.method, str(request.uri)) or CHAT
    body = request_json(raw)
    model, params, messages, streamed = describe_request(endpoint, body)
    call = LLMCall(
        model=model,
        params=params,
        messages=messages,
        url=str(request.uri),
        endpoint=endpoint.name,
        streamed=streamed,
        replayed=True,
        request_body=raw,
        audio_seconds=input_audio_seconds(body) if endpoint.audio_in else None,
    )
    attempt = Attempt(start_ns=0)
    call.attempts.append(attempt)
    capture = Capture(call, attempt, httpx, endpoint)
    replay = RecordedResponse(response, 0, None)
    call.client_timing = replay.timed
    capture.response(replay.status, httpx.Headers(replay.headers), at=replay.ttfb_ns, reason=replay.reason)
    for offset, chunk in replay.chunks:
        capture.feed(chunk, at=offset)
    capture.eof(at=replay.end_ns)
    capture.settle()
    return call
