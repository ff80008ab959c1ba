"""The transport patch: every chat-completion request a test makes becomes an ``LLMCall``.

``httpx.HTTPTransport.handle_request`` and ``httpx.AsyncHTTPTransport.handle_async_request``
(and the same methods of ``httpx2``, which openai>=3 uses) are replaced while a test
runs, so clients built anywhere (fixtures, application code, sync or async) are
seen. Only ``POST .../chat/completions`` is captured; everything else goes to the
handler that was installed before (the original, vcrpy's or pytest-httpx's).

The response body is not read ahead: it is wrapped in a tee that timestamps each
chunk as the client reads it and parses SSE events incrementally, so the caller
still streams in real time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

from .calls import Attempt, LLMCall
from .sse import SSEEvent, SSEParser

__all__ = ["Interceptor", "Recorder", "is_chat_request"]

CHAT_SUFFIX = "/chat/completions"


def is_chat_request(request: Any) -> bool:
    return bool(request.method == "POST" and request.url.path.rstrip("/").endswith(CHAT_SUFFIX))


def _now() -> int:
    return time.perf_counter_ns()


class Recorder:
    """The calls of one test, in the order they were made (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[LLMCall] = []
        self.iteration = 0
        self.warmup = False
        self.budgets: list[Any] = []
        """The test's budgets (``markers.Budget``), judged after the call phase."""
        self.repeat: Any = None
        """The test's ``llm_repeat`` (``markers.Repeat``), or None."""
        self.repeating = False

    def begin(self, request: Any) -> _Capture:
        try:
            raw = bytes(request.content)
        except Exception:  # a streaming request body: not something the SDKs send
            raw = b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        try:
            retry = int(request.headers.get("x-stainless-retry-count") or 0)
        except ValueError:
            retry = 0
        attempt = Attempt(start_ns=_now())
        with self._lock:
            call = None
            if retry > 0:
                # a retry of the latest call with the same body that has not succeeded
                for previous in reversed(self.calls):
                    if previous.request_body == raw and not previous.ok:
                        call = previous
                        break
            if call is None:
                call = LLMCall(
                    model=str(body.get("model", "")),
                    params={k: v for k, v in body.items() if k not in ("messages", "model")},
                    messages=list(body.get("messages") or []),
                    url=str(request.url.copy_with(query=None)),
                    streamed=body.get("stream") is True,
                    iteration=self.iteration,
                    warmup=self.warmup,
                    request_body=raw,
                )
                self.calls.append(call)
            # a new attempt resets what the previous one left
            call.attempts.append(attempt)
            call.headers_ns = call.end_ns = None
            call.token_times_ns = []
            call.completed = call.abandoned = False
            call.error = call.finish_reason = None
            call.status = None
            call.usage = None
            call.content = ""
        return _Capture(call, attempt)

    def finish_open(self) -> None:
        """Close calls whose stream the test never closed: marked abandoned."""
        now = _now()
        with self._lock:
            for call in self.calls:
                if call.end_ns is None and call.headers_ns is not None and not call.error:
                    call.abandoned = True
                    call.end_ns = call.token_times_ns[-1] if call.token_times_ns else now

    def measured(self) -> list[LLMCall]:
        """Calls outside warmup iterations."""
        with self._lock:
            return [c for c in self.calls if not c.warmup]


class _Capture:
    """Observes one attempt: headers, then the body as the client reads it."""

    def __init__(self, call: LLMCall, attempt: Attempt) -> None:
        self.call = call
        self.attempt = attempt
        self._sse: SSEParser | None = None
        self._body: list[bytes] = []
        self._decoder: Any = None
        self._done = False

    # -- request phase -------------------------------------------------------------
    def failed(self, exc: BaseException) -> None:
        now = _now()
        self.attempt.end_ns = now
        self.attempt.error = _describe(exc)
        self.call.error = self.attempt.error
        self.call.end_ns = now

    def response(self, response: Any) -> None:
        now = _now()
        call = self.call
        call.headers_ns = now
        call.status = self.attempt.status = int(response.status_code)
        request_id = response.headers.get("x-request-id")
        call.request_id = self.attempt.request_id = request_id
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" in ctype:
            self._sse = SSEParser()
        encoding = response.headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            self._decoder = False  # an encoding we cannot decode: timings only

    # -- response body ---------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        now = _now()
        if self._decoder is False or not chunk:
            return
        data = self._decoder.decompress(chunk) if self._decoder is not None else chunk
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
        if not isinstance(chunk, dict):
            return
        call = self.call
        x_groq = chunk.get("x_groq")
        if not isinstance(x_groq, dict):
            x_groq = {}
        if x_groq.get("id") and not call.request_id:
            call.request_id = x_groq["id"]
        usage = x_groq.get("usage") or chunk.get("usage")
        if isinstance(usage, dict):
            call.usage = usage
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, dict):
                text = delta.get("content")
                reasoning = delta.get("reasoning")
                if text or reasoning:
                    call.token_times_ns.append(now)
                if isinstance(text, str):
                    call.content += text
            if choice.get("finish_reason"):
                call.finish_reason = choice["finish_reason"]

    def _finish(self, now: int) -> None:
        if not self.call.completed:
            self.call.end_ns = self.attempt.end_ns = now
            self.call.completed = True

    def eof(self) -> None:
        now = _now()
        if self._done:
            return
        self._done = True
        if self._decoder not in (None, False):
            tail = self._decoder.flush()
            if tail:
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
        self._finish(now)

    def _parse_json(self, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        call = self.call
        if isinstance(body.get("usage"), dict):
            call.usage = body["usage"]
        x_groq = body.get("x_groq")
        if isinstance(x_groq, dict) and x_groq.get("id") and not call.request_id:
            call.request_id = x_groq["id"]
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            self.attempt.error = str(error["message"])
        choices = body.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            call.finish_reason = choice.get("finish_reason")
            message = choice.get("message") or {}
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                call.content = message["content"]

    def stream_error(self, exc: BaseException) -> None:
        now = _now()
        self._done = True
        self.attempt.end_ns = now
        self.attempt.error = self.call.error = _describe(exc)
        self.call.end_ns = now

    def close(self) -> None:
        if not self._done and not self.call.completed:
            now = _now()
            self._done = True
            call = self.call
            call.abandoned = True
            call.end_ns = self.attempt.end_ns = call.token_times_ns[-1] if call.token_times_ns else now


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _tee_classes(mod: ModuleType) -> tuple[type, type]:
    """Tee stream classes deriving from this httpx flavour's byte stream bases."""

    class TeeSyncStream(mod.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, capture: _Capture) -> None:
            self._inner = inner
            self._capture = capture

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self._inner:
                    self._capture.feed(chunk)
                    yield chunk
            except GeneratorExit:
                raise
            except BaseException as exc:
                self._capture.stream_error(exc)
                raise
            self._capture.eof()

        def close(self) -> None:
            self._capture.close()
            self._inner.close()

    class TeeAsyncStream(mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, capture: _Capture) -> None:
            self._inner = inner
            self._capture = capture

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._inner:
                    self._capture.feed(chunk)
                    yield chunk
            except GeneratorExit:
                raise
            except BaseException as exc:
                self._capture.stream_error(exc)
                raise
            self._capture.eof()

        async def aclose(self) -> None:
            self._capture.close()
            await self._inner.aclose()

    return TeeSyncStream, TeeAsyncStream


class Interceptor:
    """Installs the transport patch for one recorder; :meth:`uninstall` undoes it."""

    FLAVOURS = ("httpx", "httpx2")

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        for name in self.FLAVOURS:
            mod = sys.modules.get(name)
            if mod is None and name == "httpx":
                import httpx as mod
            if mod is None or not hasattr(mod, "HTTPTransport"):
                continue
            self._patch(mod)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def __enter__(self) -> Interceptor:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _patch(self, mod: ModuleType) -> None:
        recorder = self.recorder
        tee_sync, tee_async = _tee_classes(mod)
        sync_cls, async_cls = mod.HTTPTransport, mod.AsyncHTTPTransport
        prev_sync = sync_cls.handle_request
        prev_async = async_cls.handle_async_request

        def handle_request(transport: Any, request: Any) -> Any:
            if not is_chat_request(request):
                return prev_sync(transport, request)
            capture = recorder.begin(request)
            try:
                response = prev_sync(transport, request)
            except BaseException as exc:
                capture.failed(exc)
                raise
            capture.response(response)
            response.stream = tee_sync(response.stream, capture)
            return response

        async def handle_async_request(transport: Any, request: Any) -> Any:
            if not is_chat_request(request):
                return await prev_async(transport, request)
            capture = recorder.begin(request)
            try:
                response = await prev_async(transport, request)
            except BaseException as exc:
                capture.failed(exc)
                raise
            capture.response(response)
            response.stream = tee_async(response.stream, capture)
            return response

        handle_request.__wrapped__ = prev_sync  # type: ignore[attr-defined]
        handle_async_request.__wrapped__ = prev_async  # type: ignore[attr-defined]
        sync_cls.handle_request = handle_request
        async_cls.handle_async_request = handle_async_request

        def undo() -> None:
            sync_cls.handle_request = prev_sync
            async_cls.handle_async_request = prev_async

        self._undo.append(undo)
