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
each chunk as the client reads it and keeps it (parsed when the test reads its calls:
:mod:`.capture`), so the caller still streams in real time. A body httpx read as the
response was made (a mocked answer) is taken whole, at the headers' time. With a cassette (:class:`~.cassettes.Tape`),
a matching recording is replayed instead: the original chunks, in order, at once
(or paced), each stamped with its recorded offset, so the ``LLMCall`` carries the
recorded timings.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

from ..core.calls import Attempt, LLMCall
from ..core.endpoints import (
    CHAT,
    Endpoint,
    endpoint_for,
)
from .attempt import Capture, now_ns
from .replay import RecordedResponse, ReplayMismatch
from .secrets import Secrets
from .unmeasured import ObservedTransport, Unmeasured

__all__ = ["Interceptor", "Recorder", "llm_endpoint"]


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


_REQUEST_HEADERS = frozenset({b"x-stainless-retry-count", b"content-type"})

PENDING_CHECK = 64
PENDING_BYTES = 16 * 1024 * 1024
"""Bodies that ended wait to be parsed until the test reads its calls (the client's read only
takes the time); a test that makes many calls without reading them has them parsed once
they keep more than 16 MB (checked at 64, 128, 256, ... open calls)."""


class Recorder:
    """The calls of one test, in the order they were made (thread-safe)."""

    def __init__(self, tape: Any = None, secrets: Secrets | None = None) -> None:
        self._lock = threading.RLock()
        self._capture_lock = threading.Lock()  # one for all its captures: an object fewer each
        self.secrets = secrets if secrets is not None else Secrets()
        """Keys seen so far; scrubbed from the parameters and messages kept in each call."""
        self._calls: list[LLMCall] = []
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
        self.price_table: Any = None
        """The session's prices (``prices.PriceTable``; None: Groq's published ones)."""
        self._captures: list[Capture] = []
        """The captures not finished yet, in the order their requests were sent."""
        self._ref = weakref.ref(self)  # what a capture holds to get its call (no cycle)
        self._next_check = PENDING_CHECK
        self.unmeasured = Unmeasured()
        """Requests to endpoints the plugin does not measure (embeddings, the model list, ...)."""
        self.cleared: list[LLMCall] = []
        """Calls the test forgot with ``llm_calls.clear()``: still seen by the capture."""

    @property
    def calls(self) -> list[LLMCall]:
        """Every call of the test so far, in order, each current with what its client has read
        (the list itself: clearing it forgets the calls)."""
        self.settle()
        return self._calls

    def settle(self) -> None:
        """Give the captures begun so far their calls, parse whatever they have read so far,
        and apply the bodies that ended (their calls are then current)."""
        with self._lock:
            self.link()
            captures = list(self._captures)
        for capture in captures:
            capture.settle()
        with self._lock:
            self._captures = [c for c in self._captures if not c.finished]
            self._next_check = max(PENDING_CHECK, 2 * len(self._captures))

    def begin(
        self, request: Any, flavour: ModuleType | None = None, endpoint: Endpoint = CHAT, raw: bytes | None = None
    ) -> Capture:
        """A request is being sent: its capture, which gets its call when the calls are read
        (:meth:`link`). Only the time is taken here, in the client's call: the request's
        headers (its keys, its retry count), what it asks for and the call itself wait."""
        capture = Capture(
            None,
            Attempt(start_ns=time.perf_counter_ns()),
            flavour,
            endpoint,
            self._capture_lock,
            self._ref,
            request.headers,
            request.url,
            request_bytes(request) if raw is None else raw,
            self.iteration,
            self.warmup,
        )
        with self._lock:
            captures = self._captures
            captures.append(capture)
            check = len(captures) >= self._next_check
            if check:  # checked at 64, 128, 256, ... open captures: a constant cost per call
                self._next_check = 2 * len(captures)
        if check and sum(map(Capture.pending_bytes, list(captures))) > PENDING_BYTES:
            self.settle()  # a long loop that never reads its calls: bounded memory
        return capture

    def link(self, upto: Capture | None = None) -> None:
        """Give each capture begun so far (up to ``upto``) its call, in the order the requests
        were sent: a new call, or the call a retry retries (the retry count the SDK sends)."""
        with self._lock:
            for capture in self._captures:
                if capture._call is None:
                    self._link(capture)
                if capture is upto:
                    break

    def _link(self, capture: Capture) -> None:
        headers, url, raw = capture.sent, capture._url, capture.raw
        capture.sent = capture._url = None
        try:
            # one pass over the headers: the keys learnt, the two headers read
            found = self.secrets.learn(headers, str(url), _REQUEST_HEADERS)
        except Exception:  # measuring must never break the test reading its calls
            url, found = "", {}
        try:
            retry = int(found.get(b"x-stainless-retry-count") or 0)
        except ValueError:
            retry = 0
        call = None
        if retry > 0:
            # what the attempts before it read is applied first, as it came
            for earlier in self._captures:
                if earlier is capture:
                    break
                earlier.settle()
            # a retry of the latest call with the same body whose last attempt failed in a way
            # the SDK retries, and that no other retry has claimed yet
            for previous in reversed(self._calls):
                if previous.request_body == raw and previous.attempts and previous.attempts[-1].retryable:
                    previous.attempts[-1].retryable = False
                    call = previous
                    break
        if call is None:
            call = LLMCall(
                model="",
                params={},
                endpoint=capture.endpoint.name,
                iteration=capture.iteration,
                warmup=capture.warmup,
                request_body=raw,
                price_table=self.price_table,
            )
            self._calls.append(call)
            # what the request asks for (model, parameters, messages) is read when settled
            # (nothing that holds the recorder: a capture that kept it alive would be a cycle)
            capture.describe_later(found.get(b"content-type", ""), self.secrets, url)
        else:
            # a new attempt resets what the previous one left
            call.headers_ns = call.end_ns = call.first_read_ns = call.client_ttft_ns = call.client_stall_ns = None
            call.client_late_events = 0
            call.token_times_ns = []
            call.completed = call.abandoned = call.reasoning_streamed = False
            call.error = call.finish_reason = call.capture_error = call.undecodable = None
            call.status = None
            call.usage = None
            call.content = ""
        call.attempts.append(capture.attempt)
        capture._call = call

    def finish_open(self) -> None:
        """Close calls whose stream the test never closed: marked abandoned."""
        self.settle()
        now = now_ns()
        with self._lock:
            for call in self._calls:
                if call.end_ns is None and call.headers_ns is not None and not call.error:
                    call.abandoned = True
                    call.end_ns = call.token_times_ns[-1] if call.token_times_ns else now

    def measured(self) -> list[LLMCall]:
        """Calls outside warmup iterations."""
        self.settle()
        with self._lock:
            return [c for c in self._calls if not c.warmup]


# -- replay ----------------------------------------------------------------------------------


def _tee_classes(mod: ModuleType) -> tuple[type, type, type]:
    """Stream classes deriving from this httpx flavour's byte stream bases."""

    class TeeSyncStream(mod.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, capture: Capture) -> None:
            self._inner = inner
            self._capture = capture

        def __iter__(self) -> Iterator[bytes]:
            # the hot path: two clock reads and three appends to one list per chunk, no object
            # the garbage collector tracks (a tuple per read made it collect every ~700 reads);
            # parsing comes later
            capture = self._capture
            log = capture.log.append
            clock = time.perf_counter_ns
            asked = clock()
            try:
                for chunk in self._inner:
                    if chunk:
                        log(asked)
                        log(clock())
                        log(chunk)
                    yield chunk
                    asked = clock()
            except GeneratorExit:
                raise
            except BaseException as exc:
                capture.stream_error(exc)
                raise
            capture.eof(clock(), asked)

        def close(self) -> None:
            self._capture.close()
            self._inner.close()

    class TeeAsyncStream(mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, capture: Capture) -> None:
            self._inner = inner
            self._capture = capture

        async def __aiter__(self) -> AsyncIterator[bytes]:
            capture = self._capture
            log = capture.log.append
            clock = time.perf_counter_ns
            asked = clock()
            try:
                async for chunk in self._inner:
                    if chunk:
                        log(asked)
                        log(clock())
                        log(chunk)
                    yield chunk
                    asked = clock()
            except GeneratorExit:
                raise
            except BaseException as exc:
                capture.stream_error(exc)
                raise
            capture.eof(clock(), asked)

        async def aclose(self) -> None:
            self._capture.close()
            await self._inner.aclose()

    class ReplayStream(mod.SyncByteStream, mod.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, replay: RecordedResponse, capture: Capture) -> None:
            self._replay = replay
            self._capture = capture

        def __iter__(self) -> Iterator[bytes]:
            replay = self._replay
            if not replay.pace:
                # virtual time: the capture reads the recorded chunks at their offsets, and the
                # client gets the body in one piece (as vcrpy gives it): nothing waits, so the
                # chunking is invisible to it, and one piece costs it far less than ninety
                yield from self._whole()
                return
            for offset, chunk in replay.chunks:
                wait = replay.delay(offset)
                if wait:
                    time.sleep(wait)
                self._capture.feed(chunk, at=replay.start_ns + offset)
                yield chunk
            self._capture.eof(at=replay.start_ns + replay.end_ns)

        def _whole(self) -> Iterator[bytes]:
            replay, capture = self._replay, self._capture
            for offset, chunk in replay.chunks:
                capture.feed(chunk, at=replay.start_ns + offset)
            capture.eof(at=replay.start_ns + replay.end_ns)
            body = b"".join(chunk for _, chunk in replay.chunks)
            if body:
                yield body

        async def __aiter__(self) -> AsyncIterator[bytes]:
            import anyio

            replay = self._replay
            if not replay.pace:
                for piece in self._whole():
                    yield piece
                return
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


Prepare = Callable[[Any, ModuleType, Endpoint, bytes], "tuple[Capture, RecordedResponse | None]"]
"""``Interceptor._prepare``: start a capture, and find its recording or arrange to record it."""


@functools.cache
def _transport_classes(mod: ModuleType) -> tuple[type, type]:
    """The sync and async transports that wrap a client's own, for this httpx flavour: made
    once (classes made per test would cost each test their creation, and the interpreter
    would learn every new class's attribute lookups again); each instance carries the
    installing interceptor's ``_prepare``."""
    tee_sync, tee_async, replay_stream = _tee_classes(mod)

    def replayed(capture: Capture, replay: RecordedResponse) -> Any:
        headers = mod.Headers(replay.headers)
        capture.response(replay.status, headers, at=replay.start_ns + replay.ttfb_ns, reason=replay.reason)
        return mod.Response(
            status_code=replay.status,
            headers=replay.headers,
            stream=replay_stream(replay, capture),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": replay.reason.encode()},
        )

    def live_response(capture: Capture, response: Any, tee: type) -> Any:
        """Note the headers, and wrap the body in the tee that times it as the client reads."""
        at = capture.response(
            response.status_code, response.headers, reason=response.extensions.get("reason_phrase", b"")
        )
        whole = getattr(response, "is_stream_consumed", False) and isinstance(
            response.stream, getattr(mod, "ByteStream", ())
        )
        if whole:
            # read as it was made (a mocked answer): the client will not read it again
            capture.read_at_once(response.stream, at)
            return response
        response.stream = tee(response.stream, capture)
        return response

    class SyncTransport(mod.BaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, endpoint: Endpoint, prepare: Prepare) -> None:
            self._inner = inner
            self._endpoint = endpoint
            self._prepare = prepare

        def handle_request(self, request: Any) -> Any:
            if request.method != "POST":
                return self._inner.handle_request(request)
            try:
                raw = bytes(request.read())
            except Exception:  # a body that cannot be read twice: not what the SDKs send
                raw = b""
            capture, replay = self._prepare(request, mod, self._endpoint, raw)
            if replay is not None:
                wait = replay.delay(replay.ttfb_ns)
                if wait:
                    time.sleep(wait)
                return replayed(capture, replay)
            # LLM calls we send live skip vcrpy's patch (pytest-recording's): the cassette
            # keeps them with timing through us, and vcrpy would record them a second time
            handler = type(self._inner).handle_request
            if "__wrapped__" in getattr(handler, "__dict__", ()):
                handler = _skip_vcr(handler)
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
        def __init__(self, inner: Any, endpoint: Endpoint, prepare: Prepare) -> None:
            self._inner = inner
            self._endpoint = endpoint
            self._prepare = prepare

        async def handle_async_request(self, request: Any) -> Any:
            if request.method != "POST":
                return await self._inner.handle_async_request(request)
            try:
                raw = bytes(await request.aread())
            except Exception:
                raw = b""
            capture, replay = self._prepare(request, mod, self._endpoint, raw)
            if replay is not None:
                wait = replay.delay(replay.ttfb_ns)
                if wait:
                    import anyio

                    await anyio.sleep(wait)
                return replayed(capture, replay)
            handler = type(self._inner).handle_async_request
            if "__wrapped__" in getattr(handler, "__dict__", ()):
                handler = _skip_vcr(handler)
            token = _INSIDE.set(True)
            try:
                response = await handler(self._inner, request)
            except BaseException as exc:
                capture.failed(exc)
                raise
            finally:
                _INSIDE.reset(token)
            return live_response(capture, response, tee_async)

    return SyncTransport, AsyncTransport


class _VcrRequest:
    """The request as vcrpy's, made on first use (``get()``: a lookup in the cassette, or a
    recording when settled), then kept."""

    __slots__ = ("_raw", "_request", "_tape", "_value")

    def __init__(self, tape: Any, request: Any, raw: bytes) -> None:
        self._tape, self._request, self._raw = tape, request, raw
        self._value: Any = None

    def get(self) -> Any:
        request = self._request
        if request is not None:
            self._value = self._tape.vcr_request(request.method, str(request.url), self._raw, _headers(request))
            self._request = None
        return self._value


def _headers(request: Any) -> dict[str, str]:
    """A request's headers as a dict, as ``dict(httpx.Headers)`` gives it (repeated names
    joined with ", "), in one pass."""
    items = request.headers.multi_items()
    out: dict[str, str] = {}
    for key, value in items:
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


_VCR_CODE = f"{os.sep}vcr{os.sep}"


def _skip_vcr(handler: Any) -> Any:
    """The handler under vcrpy's wrappers. vcrpy wraps with ``functools.wraps``, which
    copies the name and module, so its wrappers are known by where their code lives.
    (``functools.wraps`` puts ``__wrapped__`` in the wrapper's ``__dict__``: looked up there,
    a handler that is not wrapped costs no AttributeError on every call; and nothing is
    cached, since a vcrpy wrapper holds its cassette.)"""
    while "__wrapped__" in getattr(handler, "__dict__", ()) and _VCR_CODE in getattr(
        getattr(handler, "__code__", None), "co_filename", ""
    ):
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
    ) -> tuple[Capture, RecordedResponse | None]:
        """Start a capture; with a cassette, find its recording or arrange to record it."""
        capture = self.recorder.begin(request, flavour, endpoint, raw)
        tape = self.recorder.tape
        if tape is None or tape.inert:
            return capture, None
        vcr_request = _VcrRequest(tape, request, raw)
        message: str | None = None
        try:
            # the request as vcrpy's: made only for a lookup (replay) or a recording (settled later)
            decision = tape.decide(vcr_request)
        except ReplayMismatch as err:
            message = str(err)
        if message is not None:
            capture.call.error = f"ReplayMismatch: {message}"
            import pytest

            # a BaseException: the SDK neither retries nor wraps it in APIConnectionError
            pytest.fail(message, pytrace=False)
        if decision.response is not None:
            call = capture.call  # made now: replayed, it carries the recording's timing
            call.replayed = True
            call.prediction = decision.prediction
            replay = RecordedResponse(decision.response, capture.attempt.start_ns, tape.pace)
            call.client_timing = replay.timed
            return capture, replay
        if decision.record:
            capture.record_to(tape, vcr_request)
        return capture, None

    def _patch(self, mod: ModuleType) -> None:
        """Wrap whatever transport a client picks for a request (``_transport_for_url``, the
        one place both ``Client`` and ``AsyncClient`` of httpx and httpx2 choose it), so
        every transport is seen: httpx's own, aiohttp-based ones (httpx_aiohttp, litellm's),
        mounts, and whatever a mocking library patched into them."""
        sync_transport, async_transport = _transport_classes(mod)
        sync_cls, async_cls = mod.Client, mod.AsyncClient
        prev_sync = sync_cls._transport_for_url
        prev_async = async_cls._transport_for_url
        prepare = self._prepare
        unmeasured = self.recorder.unmeasured
        active = [True]

        def wrap(transport: Any, url: Any, wrapper: type) -> Any:
            if not active[0] or _INSIDE.get():
                return transport
            endpoint = endpoint_for("POST", url.path)
            return (
                ObservedTransport(transport, unmeasured) if endpoint is None else wrapper(transport, endpoint, prepare)
            )

        def transport_for_url(client: Any, url: Any) -> Any:
            return wrap(prev_sync(client, url), url, sync_transport)

        def async_transport_for_url(client: Any, url: Any) -> Any:
            return wrap(prev_async(client, url), url, async_transport)

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
