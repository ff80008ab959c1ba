"""The capture point: every LLM request a test makes becomes an ``LLMCall``.

While a test runs, ``httpx.Client._transport_for_url`` and ``httpx.AsyncClient._transport_for_url``
(and the same methods of ``httpx2``, which openai>=3 uses) are wrapped: for a POST to an
LLM endpoint (chat completions, the Responses API, audio: see :mod:`.endpoints`) the
client gets a thin transport around the one it would have used. So every client is
seen wherever it was built (fixtures, application code, sync or async), whatever its
transport: httpx's own, an aiohttp-based one (httpx_aiohttp, litellm's), a mount, or
one a mocking library patched (vcrpy, pytest-httpx, respx keep working underneath).
Everything else goes to the client's transport untouched.

Live, the response body is not read ahead: it is wrapped in a tee that timestamps
each chunk as the client reads it and parses SSE events incrementally, so the
caller still streams in real time. With a cassette (:class:`~.cassettes.Tape`),
a matching recording is replayed instead: the original chunks, in order, at once
(or paced), each stamped with its recorded offset, so the ``LLMCall`` carries the
recorded timings.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

from .calls import Attempt, LLMCall
from .endpoints import (
    CHAT,
    Endpoint,
    describe_request,
    endpoint_for,
    input_audio_seconds,
    read_body,
    read_event,
    request_json,
)
from .secrets import Secrets
from .sse import SSEEvent, SSEParser

__all__ = ["Interceptor", "Recorder", "llm_endpoint"]

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def llm_endpoint(request: Any) -> Endpoint | None:
    """The LLM endpoint an httpx request goes to, or None."""
    return endpoint_for(request.method, request.url.path)


def request_bytes(request: Any) -> bytes:
    """The body of an httpx request that has been read (or built from bytes)."""
    try:
        return bytes(request.content)
    except Exception:  # a streaming request body not read yet
        return b""


_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("llmlatency_inside", default=False)
"""Set while a captured request is handed to its transport: a transport that itself sends
through an httpx client is not captured twice."""


def _now() -> int:
    return time.perf_counter_ns()


class Recorder:
    """The calls of one test, in the order they were made (thread-safe)."""

    def __init__(self, tape: Any = None, secrets: Secrets | None = None) -> None:
        self._lock = threading.Lock()
        self.secrets = secrets if secrets is not None else Secrets()
        """Keys seen so far; scrubbed from the parameters and messages kept in each call."""
        self.calls: list[LLMCall] = []
        self.iteration = 0
        self.warmup = False
        self.tape = tape
        """The test's cassette (``cassettes.Tape``), or None."""
        self.budgets: list[Any] = []
        """The test's budgets (``markers.Budget``), judged after the call phase."""
        self.repeat: Any = None
        """The test's ``llm_repeat`` (``markers.Repeat``), or None."""
        self.baseline: Any = None
        """The test's ``llm_baseline`` (``markers.BaselineOptions``), or None."""
        self.repeating = False

    def begin(
        self, request: Any, flavour: ModuleType | None = None, endpoint: Endpoint = CHAT, raw: bytes | None = None
    ) -> _Capture:
        if raw is None:
            raw = request_bytes(request)
        body = request_json(raw, request.headers.get("content-type", ""))
        self.secrets.learn(request.headers, str(request.url))
        try:
            retry = int(request.headers.get("x-stainless-retry-count") or 0)
        except ValueError:
            retry = 0
        attempt = Attempt(start_ns=_now())
        with self._lock:
            call = None
            if retry > 0:
                # a retry of the latest call with the same body whose last attempt failed in a way
                # the SDK retries, and that no other retry has claimed yet
                for previous in reversed(self.calls):
                    if previous.request_body == raw and previous.attempts and previous.attempts[-1].retryable:
                        previous.attempts[-1].retryable = False
                        call = previous
                        break
            if call is None:
                scrub = self.secrets.obj
                model, params, messages, streamed = describe_request(endpoint, body)
                call = LLMCall(
                    model=model,
                    params=scrub(params),
                    messages=scrub(messages),
                    url=str(request.url.copy_with(query=None)),
                    endpoint=endpoint.name,
                    streamed=streamed,
                    iteration=self.iteration,
                    warmup=self.warmup,
                    request_body=raw,
                    audio_seconds=input_audio_seconds(body) if endpoint.audio_in else None,
                )
                self.calls.append(call)
            # a new attempt resets what the previous one left
            call.attempts.append(attempt)
            call.headers_ns = call.end_ns = None
            call.token_times_ns = []
            call.completed = call.abandoned = call.reasoning_streamed = False
            call.error = call.finish_reason = call.capture_error = call.undecodable = None
            call.status = None
            call.usage = None
            call.content = ""
        return _Capture(call, attempt, flavour, endpoint)

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
        now = _now()
        self.attempt.end_ns = now
        self.attempt.retryable = isinstance(exc, Exception)
        self.attempt.error = _describe(exc)
        self.call.error = self.attempt.error
        self.call.end_ns = now

    def response(
        self, status: int, headers: Any, *, at: int | None = None, reason: str = "", decode: bool = True
    ) -> None:
        call = self.call
        call.headers_ns = _now() if at is None else at
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
        now = _now() if at is None else at
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
        self.call.capture_error = _describe(exc)

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
        now = _now() if at is None else at
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
        now = _now()
        self._done = True
        self._not_recorded(f"the response broke off ({_describe(exc)})")
        self.attempt.end_ns = now
        self.attempt.error = self.call.error = _describe(exc)
        self.call.end_ns = now

    def close(self) -> None:
        if not self._done and not self.call.completed:
            now = _now()
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
        from .cassettes import TIMING_KEY, timing_meta

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


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- replay ----------------------------------------------------------------------------------


class _Replay:
    """A recorded response: status, headers, and body chunks at their recorded offsets."""

    def __init__(self, response: dict[str, Any], start_ns: int, pace: float | None) -> None:
        from .cassettes import read_timing

        self.status = int(response["status"]["code"])
        self.reason = str(response["status"].get("message") or "")
        self.headers = [(k, str(v)) for k, values in (response.get("headers") or {}).items() for v in values]
        body = response.get("body", {}).get("string", b"")
        body = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        meta = read_timing(response)
        self.start_ns = start_ns
        self.pace = pace
        self.real_start = time.perf_counter()
        sizes = [int(size) for _, size in meta["chunks"]] if meta else []
        if meta is not None and sum(sizes) == len(body):
            self.timed = True
            self.ttfb_ns = round(float(meta.get("ttfb_ms") or 0) * 1e6)
            self.end_ns = round(float(meta.get("e2e_ms") or 0) * 1e6)
            self.chunks: list[tuple[int, bytes]] = []
            pos = 0
            for (offset, _), size in zip(meta["chunks"], sizes, strict=True):
                self.chunks.append((round(float(offset) * 1e6), body[pos : pos + size]))
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


def _tee_classes(mod: ModuleType) -> tuple[type, type, type]:
    """Stream classes deriving from this httpx flavour's byte stream bases."""

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

    class ReplayStream(mod.SyncByteStream, mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, replay: _Replay, capture: _Capture) -> None:
            self._replay = replay
            self._capture = capture

        def __iter__(self) -> Iterator[bytes]:
            replay = self._replay
            for offset, chunk in replay.chunks:
                wait = replay.delay(offset)
                if wait:
                    time.sleep(wait)
                self._capture.feed(chunk, at=replay.start_ns + offset)
                yield chunk
            self._capture.eof(at=replay.start_ns + replay.end_ns)

        async def __aiter__(self) -> AsyncIterator[bytes]:
            import anyio

            replay = self._replay
            for offset, chunk in replay.chunks:
                wait = replay.delay(offset)
                if wait:
                    await anyio.sleep(wait)
                self._capture.feed(chunk, at=replay.start_ns + offset)
                yield chunk
            self._capture.eof(at=replay.start_ns + replay.end_ns)

        def close(self) -> None:
            self._capture.close()

        async def aclose(self) -> None:
            self._capture.close()

    return TeeSyncStream, TeeAsyncStream, ReplayStream


def _skip_vcr(handler: Any) -> Any:
    """The handler under vcrpy's wrappers. vcrpy wraps with ``functools.wraps``, which
    copies the name and module, so its wrappers are known by where their code lives."""
    marker = f"{os.sep}vcr{os.sep}"
    while hasattr(handler, "__wrapped__") and marker in getattr(getattr(handler, "__code__", None), "co_filename", ""):
        handler = handler.__wrapped__
    return handler


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
            if mod is None or not hasattr(mod, "Client") or not hasattr(mod.Client, "_transport_for_url"):
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

    def _prepare(
        self, request: Any, flavour: ModuleType, endpoint: Endpoint, raw: bytes
    ) -> tuple[_Capture, _Replay | None]:
        """Start a capture; with a cassette, find its recording or arrange to record it."""
        capture = self.recorder.begin(request, flavour, endpoint, raw)
        tape = self.recorder.tape
        if tape is None:
            return capture, None
        from .cassettes import ReplayMismatch

        vcr_request = tape.vcr_request(request.method, str(request.url), raw, dict(request.headers))
        message: str | None = None
        try:
            decision = tape.decide(vcr_request)
        except ReplayMismatch as err:
            message = str(err)
        if message is not None:
            capture.call.error = f"ReplayMismatch: {message}"
            import pytest

            # a BaseException: the SDK neither retries nor wraps it in APIConnectionError
            pytest.fail(message, pytrace=False)
        if decision.response is not None:
            capture.call.replayed = True
            capture.call.prediction = decision.prediction
            replay = _Replay(decision.response, capture.attempt.start_ns, tape.pace)
            capture.call.client_timing = replay.timed
            return capture, replay
        if decision.record:
            capture.record_to(tape, vcr_request)
        return capture, None

    def _patch(self, mod: ModuleType) -> None:
        """Wrap whatever transport a client picks for a request (``_transport_for_url``, the
        one place both ``Client`` and ``AsyncClient`` of httpx and httpx2 choose it), so
        every transport is seen: httpx's own, aiohttp-based ones (httpx_aiohttp, litellm's),
        mounts, and whatever a mocking library patched into them."""
        tee_sync, tee_async, replay_stream = _tee_classes(mod)
        sync_cls, async_cls = mod.Client, mod.AsyncClient
        prev_sync = sync_cls._transport_for_url
        prev_async = async_cls._transport_for_url
        prepare = self._prepare
        active = [True]

        def replayed(capture: _Capture, replay: _Replay) -> Any:
            headers = mod.Headers(replay.headers)
            capture.response(replay.status, headers, at=replay.start_ns + replay.ttfb_ns, reason=replay.reason)
            return mod.Response(
                status_code=replay.status,
                headers=replay.headers,
                stream=replay_stream(replay, capture),
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": replay.reason.encode()},
            )

        def live_response(capture: _Capture, response: Any, tee: type) -> Any:
            """Note the headers, and wrap the body in the tee that times it as the client reads."""
            reason = response.extensions.get("reason_phrase", b"")
            reason = reason.decode("ascii", "replace") if isinstance(reason, bytes) else str(reason)
            capture.response(response.status_code, response.headers, reason=reason)
            response.stream = tee(response.stream, capture)
            return response

        class SyncTransport(mod.BaseTransport):  # type: ignore[name-defined,misc]
            def __init__(self, inner: Any, endpoint: Endpoint) -> None:
                self._inner = inner
                self._endpoint = endpoint

            def handle_request(self, request: Any) -> Any:
                if request.method != "POST":
                    return self._inner.handle_request(request)
                try:
                    raw = bytes(request.read())
                except Exception:  # a body that cannot be read twice: not what the SDKs send
                    raw = b""
                capture, replay = prepare(request, mod, self._endpoint, raw)
                if replay is not None:
                    wait = replay.delay(replay.ttfb_ns)
                    if wait:
                        time.sleep(wait)
                    return replayed(capture, replay)
                # LLM calls we send live skip vcrpy's patch (pytest-recording's): the cassette
                # keeps them with timing through us, and vcrpy would record them a second time
                handler = _skip_vcr(type(self._inner).handle_request)
                token = _INSIDE.set(True)
                try:
                    response = handler(self._inner, request)
                except BaseException as exc:
                    capture.failed(exc)
                    raise
                finally:
                    _INSIDE.reset(token)
                return live_response(capture, response, tee_sync)

        class AsyncTransport(mod.AsyncBaseTransport):  # type: ignore[name-defined,misc]
            def __init__(self, inner: Any, endpoint: Endpoint) -> None:
                self._inner = inner
                self._endpoint = endpoint

            async def handle_async_request(self, request: Any) -> Any:
                if request.method != "POST":
                    return await self._inner.handle_async_request(request)
                try:
                    raw = bytes(await request.aread())
                except Exception:
                    raw = b""
                capture, replay = prepare(request, mod, self._endpoint, raw)
                if replay is not None:
                    wait = replay.delay(replay.ttfb_ns)
                    if wait:
                        import anyio

                        await anyio.sleep(wait)
                    return replayed(capture, replay)
                handler = _skip_vcr(type(self._inner).handle_async_request)
                token = _INSIDE.set(True)
                try:
                    response = await handler(self._inner, request)
                except BaseException as exc:
                    capture.failed(exc)
                    raise
                finally:
                    _INSIDE.reset(token)
                return live_response(capture, response, tee_async)

        def wrap(transport: Any, url: Any, wrapper: type) -> Any:
            if not active[0] or _INSIDE.get():
                return transport
            endpoint = endpoint_for("POST", url.path)
            return transport if endpoint is None else wrapper(transport, endpoint)

        def transport_for_url(client: Any, url: Any) -> Any:
            return wrap(prev_sync(client, url), url, SyncTransport)

        def async_transport_for_url(client: Any, url: Any) -> Any:
            return wrap(prev_async(client, url), url, AsyncTransport)

        transport_for_url.__wrapped__ = prev_sync  # type: ignore[attr-defined]
        async_transport_for_url.__wrapped__ = prev_async  # type: ignore[attr-defined]
        sync_cls._transport_for_url = transport_for_url
        async_cls._transport_for_url = async_transport_for_url

        def undo() -> None:
            # something patched over us meanwhile (a test's monkeypatch, another plugin):
            # leave it in place, and our wrapper passes everything through from now on
            active[0] = False
            if sync_cls.__dict__.get("_transport_for_url") is transport_for_url:
                sync_cls._transport_for_url = prev_sync
            if async_cls.__dict__.get("_transport_for_url") is async_transport_for_url:
                async_cls._transport_for_url = prev_async

        self._undo.append(undo)


def call_from_recording(request: Any, response: dict[str, Any]) -> LLMCall:
    """The ``LLMCall`` a recorded interaction replays as, computed offline (no HTTP):
    the same capture code reads the recorded chunks at their recorded offsets."""
    import httpx

    from .endpoints import endpoint_for_uri

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
    capture = _Capture(call, attempt, httpx, endpoint)
    replay = _Replay(response, 0, None)
    call.client_timing = replay.timed
    capture.response(replay.status, httpx.Headers(replay.headers), at=replay.ttfb_ns, reason=replay.reason)
    for offset, chunk in replay.chunks:
        capture.feed(chunk, at=offset)
    capture.eof(at=replay.end_ns)
    return call
