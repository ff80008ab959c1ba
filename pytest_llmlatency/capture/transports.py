"""The transports a captured client gets around its own, for a request to an LLM endpoint:
a POST starts a capture (``Interceptor._prepare``) and is answered from its recording, or sent
through the client's transport with the response's body wrapped in the tee
(:mod:`.bodystreams`).

:func:`transport_classes` builds them on an httpx flavour's transport bases, once per flavour,
from the handler builders below.
"""

from __future__ import annotations

import contextvars
import functools
import os
import time
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

from ..core.endpoints import Endpoint
from .attempt import Capture
from .bodystreams import stream_classes
from .replay import RecordedResponse

__all__ = ["INSIDE", "Prepare", "transport_classes"]


INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("llmlatency_inside", default=False)
"""Set while a captured request is handed to its transport: a transport that itself sends
through an httpx client is not captured twice."""


Prepare = Callable[[Any, ModuleType, Endpoint, bytes], "tuple[Capture, RecordedResponse | None]"]
"""``Interceptor._prepare``: start a capture, and find its recording or arrange to record it."""


class _Transport:
    """What both transports hold: the transport wrapped, the endpoint, and the installing
    interceptor's ``_prepare``."""

    def __init__(self, inner: Any, endpoint: Endpoint, prepare: Prepare) -> None:
        self._inner = inner
        self._endpoint = endpoint
        self._prepare = prepare


# The handlers are closures over the flavour's module and classes, as each one runs on every
# request (a cell is cheaper to read than a class attribute through the instance). The sync
# and the async handler are alike but for ``await``: their steps stay inline, since a shared
# helper costs a call each, about 1 % of the plugin's own work per call.

Replayed = Callable[[Capture, RecordedResponse], Any]
"""Makes the response a recording answers with."""
Live = Callable[[Capture, Any, type], Any]
"""Notes a live response's headers and wraps its body in the given tee."""


def _responses(mod: ModuleType, replay_stream: type) -> tuple[Replayed, Live]:
    """How this flavour's responses are made from a recording, and wrapped live."""

    def replayed(capture: Capture, replay: RecordedResponse) -> Any:
        headers = mod.Headers(replay.headers)
        capture.response(replay.status, headers, at=replay.start_ns + replay.ttfb_ns, reason=replay.reason)
        return mod.Response(
            status_code=replay.status,
            headers=replay.headers,
            stream=replay_stream(replay, capture),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": replay.reason.encode()},
        )

    def live(capture: Capture, response: Any, tee: type) -> Any:
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

    return replayed, live


def _sync_handler(mod: ModuleType, tee: type, replayed: Replayed, live: Live) -> Callable[[Any, Any], Any]:
    """``handle_request`` of this flavour's sync transport."""

    def handle_request(self: Any, request: Any) -> Any:
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
        token = INSIDE.set(True)
        try:
            response = handler(self._inner, request)
        except BaseException as exc:
            capture.failed(exc)
            raise
        finally:
            INSIDE.reset(token)
        return live(capture, response, tee)

    return handle_request


def _async_handler(
    mod: ModuleType, tee: type, replayed: Replayed, live: Live
) -> Callable[[Any, Any], Coroutine[Any, Any, Any]]:
    """``handle_async_request`` of this flavour's async transport."""

    async def handle_async_request(self: Any, request: Any) -> Any:
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
        token = INSIDE.set(True)
        try:
            response = await handler(self._inner, request)
        except BaseException as exc:
            capture.failed(exc)
            raise
        finally:
            INSIDE.reset(token)
        return live(capture, response, tee)

    return handle_async_request


@functools.cache
def transport_classes(mod: ModuleType) -> tuple[type, type]:
    """The sync and async transports that wrap a client's own, for this httpx flavour: made
    once (classes made per test would cost each test their creation, and the interpreter
    would learn every new class's attribute lookups again); each instance carries the
    installing interceptor's ``_prepare``."""
    tee_sync, tee_async, replay_stream = stream_classes(mod)
    replayed, live = _responses(mod, replay_stream)

    class SyncTransport(_Transport, mod.BaseTransport):  # type: ignore[name-defined,misc]
        handle_request = _sync_handler(mod, tee_sync, replayed, live)

    class AsyncTransport(_Transport, mod.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        handle_async_request = _async_handler(mod, tee_async, replayed, live)

    return SyncTransport, AsyncTransport


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
