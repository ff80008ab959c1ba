"""One captured attempt: the response headers, then the body as the client reads it,
turned into the ``LLMCall``'s timings, tokens and outcome (and, when recording, the
cassette response)."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from .calls import Attempt, LLMCall
from .endpoints import CHAT, Endpoint, read_body, read_event
from .sse import SSEEvent, SSEParser
from .timing import TIMING_KEY, timing_meta

__all__ = ["RETRYABLE_STATUS", "Capture", "describe_exc", "now_ns"]

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def now_ns() -> int:
    return time.perf_counter_ns()


class Capture:
    """Observes one attempt: headers, then the body as the client reads it."""

    def __init__(
        self, call: LLMCall, attempt: Attempt, flavour: ModuleType | None = None, endpoint: Endpoint = CHAT
    ) -> None:
        self.call = call
        self.endpoint = endpoint
        self.attempt = attempt
        self._flavour = flavour
        self._sse: SSEParser | None = None
        self._body: list[bytes] = []
        self._decoder: Any = None
        self._done = False
        # recording: the tape, the vcr request, and (offset_ns, decoded bytes) per chunk
        self._tape: Any = None
        self._vcr_request: Any = None
        self._chunks: list[tuple[int, bytes]] | None = None
        self._reason = ""
        self._headers: list[tuple[str, str]] = []
        self._content_type = ""

    def record_to(self, tape: Any, vcr_request: Any) -> None:
        self._tape = tape
        self._vcr_request = vcr_request
        self._chunks = []

    # -- request phase -------------------------------------------------------------
    def failed(self, exc: BaseException) -> None:
        now = now_ns()
        self.attempt.end_ns = now
        self.attempt.retryable = isinstance(exc, Exception)
        self.attempt.error = describe_exc(exc)
        self.call.error = self.attempt.error
        self.call.end_ns = now

    def response(
        self, status: int, headers: Any, *, at: int | None = None, reason: str = "", decode: bool = True
    ) -> None:
        call = self.call
        call.headers_ns = now_ns() if at is None else at
        call.status = self.attempt.status = int(status)
        self.attempt.retryable = call.status in RETRYABLE_STATUS
        request_id = headers.get("x-request-id")
        call.request_id = self.attempt.request_id = request_id
        self._reason = reason
        self._headers = [(str(k), str(v)) for k, v in headers.multi_items()] if hasattr(headers, "multi_items") else []
        self._content_type = headers.get("content-type", "").lower()
        if "text/event-stream" in self._content_type:
            self._sse = SSEParser()
        encoding = headers.get("content-encoding", "").lower().strip() if decode else ""
        if encoding and encoding != "identity":
            self._decoder = _decoder_for(self._flavour, encoding)
            if self._decoder is None:
                # an encoding we cannot decode: timings only, nothing to parse or record
                self._decoder = False
                self._chunks = None
                self.call.undecodable = encoding

    # -- response body ---------------------------------------------------------------
    def feed(self, chunk: bytes, at: int | None = None) -> None:
        now = now_ns() if at is None else at
        if self._decoder is False or not chunk:
            return
        try:
            self._feed(chunk, now)
        except Exception as exc:  # measuring must never break the application's request
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        self._decoder = False
        self._chunks = None
        self._sse = None
        self._body = []
        self.call.capture_error = describe_exc(exc)

    def _feed(self, chunk: bytes, now: int) -> None:
        data = _bytes(self._decoder.decode(chunk)) if self._decoder is not None else chunk
        if self._chunks is not None and data:
            self._chunks.append((now - self.attempt.start_ns, data))
        if self._sse is not None:
            for event in self._sse.feed(data):
                self._event(event, now)
        else:
            self._body.append(data)

    def _event(self, event: SSEEvent, now: int) -> None:
        if event.is_done:
            # the stream's logical end: SDKs may close the response without reading further
            self._finish(now)
            return
        try:
            chunk = event.json()
        except ValueError:
            return
        if isinstance(chunk, dict) and read_event(self.endpoint, self.call, chunk, event.event, now):
            self._finish(now)

    def _finish(self, now: int) -> None:
        if not self.call.completed:
            self.call.end_ns = self.attempt.end_ns = now
            self.call.completed = True

    def eof(self, at: int | None = None) -> None:
        now = now_ns() if at is None else at
        if self._done:
            return
        self._done = True
        try:
            self._eof(now)
        except Exception as exc:  # measuring must never break the application's request
            self._give_up(exc)
        self._finish(now)
        self._commit()

    def _eof(self, now: int) -> None:
        if self._decoder is False:
            return
        if self._decoder is not None:
            tail = _bytes(self._decoder.flush())
            if tail:
                if self._chunks is not None:
                    self._chunks.append((now - self.attempt.start_ns, tail))
                if self._sse is not None:
                    for event in self._sse.feed(tail):
                        self._event(event, now)
                else:
                    self._body.append(tail)
        if self._sse is not None:
            for event in self._sse.close():
                self._event(event, now)
        elif self._body:
            self._parse_json(b"".join(self._body))
            self._body = []

    def _parse_json(self, raw: bytes) -> None:
        message = read_body(self.endpoint, self.call, raw, self._content_type)
        if message:
            self.attempt.error = message

    def _not_recorded(self, why: str) -> None:
        if self._chunks is not None and self._tape is not None:
            self._tape.note_unrecorded(f"a call to {self.call.model} was not recorded: {why}")
        self._chunks = None

    def stream_error(self, exc: BaseException) -> None:
        now = now_ns()
        self._done = True
        self._not_recorded(f"the response broke off ({describe_exc(exc)})")
        self.attempt.end_ns = now
        self.attempt.error = self.call.error = describe_exc(exc)
        self.call.end_ns = now

    def close(self) -> None:
        if not self._done and not self.call.completed:
            now = now_ns()
            self._done = True
            self._not_recorded("the client abandoned the stream before its end (read it to the end to record it)")
            call = self.call
            call.abandoned = True
            call.end_ns = self.attempt.end_ns = call.token_times_ns[-1] if call.token_times_ns else now
        self._commit()

    def _commit(self) -> None:
        """Hand a complete final response to the tape (once): a success, or an error the client
        does not retry (a 400 such as Groq's ``tool_use_failed``, a 404 for a decommissioned
        model), which replays as the same failure."""
        chunks, self._chunks = self._chunks, None
        call = self.call
        if chunks is None or self._tape is None or not call.completed or call.status is None:
            return
        if not 200 <= call.status < 500 or call.status in RETRYABLE_STATUS or call.status in (401, 403):
            # attempts the SDK retries are not recorded (replay gives the final answer at once),
            # nor answers to a bad key
            return
        start = self.attempt.start_ns
        headers: dict[str, list[str]] = {}
        for key, value in self._headers:
            headers.setdefault(key, []).append(value)
        response = {
            "status": {"code": call.status, "message": self._reason or "OK"},
            "headers": headers,
            "body": {"string": b"".join(data for _, data in chunks)},
            TIMING_KEY: timing_meta(
                None if call.headers_ns is None else call.headers_ns - start,
                None if call.end_ns is None else call.end_ns - start,
                [(offset, len(data)) for offset, data in chunks],
            ),
        }
        self._tape.record(self._vcr_request, response)


def _bytes(out: Any) -> bytes:
    """httpx's decoders return bytes; httpx2's yield them."""
    return bytes(out) if isinstance(out, (bytes, bytearray)) else b"".join(out)


def _decoder_for(flavour: ModuleType | None, encoding: str) -> Any:
    """httpx's own decoder for a content-encoding (gzip, deflate, br and zstd when httpx
    supports them), so we read the body exactly as the client does; None if unsupported."""
    decoders = getattr(getattr(flavour, "_decoders", None), "SUPPORTED_DECODERS", None)
    if decoders is None:
        import httpx

        decoders = httpx._decoders.SUPPORTED_DECODERS
    names = [e.strip() for e in encoding.split(",") if e.strip() and e.strip() != "identity"]
    if len(names) != 1 or names[0] not in decoders:
        return None
    return decoders[names[0]]()


def describe_exc(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
