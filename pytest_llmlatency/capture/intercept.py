"""The capture point: every LLM request a test makes becomes an ``LLMCall``.

While a test runs, ``httpx.Client._transport_for_url`` and ``httpx.AsyncClient._transport_for_url``
(and the same methods of ``httpx2``, which openai>=3 uses) are wrapped: for a POST to an
LLM endpoint (chat completions, the Responses API, audio: see :mod:`pytest_llmlatency.core.endpoints`) the
client gets a thin transport around the one it would have used (:mod:`.transports`). So every
client is seen wherever it was built (fixtures, application code, sync or async), whatever its
transport: httpx's own, an aiohttp-based one (httpx_aiohttp, litellm's), a mount, or
one a mocking library patched (vcrpy, pytest-httpx, respx keep working underneath).
Everything else goes to the client's transport untouched.

Live, the response body is not read ahead: it is wrapped in a tee (:mod:`.bodystreams`) that
timestamps each chunk as the client reads it and keeps it (parsed when the test reads its
calls: :mod:`.attempt`), so the caller still streams in real time. A body httpx read as the
response was made (a mocked answer) is taken whole, at the headers' time. With a cassette
(:class:`pytest_llmlatency.cassettes.tape.Tape`), a matching recording is replayed instead: the original
chunks, in order, at once (or paced), each stamped with its recorded offset, so the
``LLMCall`` carries the recorded timings. The calls of a test are kept by its
:class:`~.recorder.Recorder`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..core.endpoints import Endpoint, endpoint_for
from .attempt import Capture
from .recorder import Recorder
from .replay import RecordedResponse, ReplayMismatch
from .transports import INSIDE, transport_classes
from .unmeasured import ObservedTransport

__all__ = ["Interceptor", "Recorder", "llm_endpoint"]


def llm_endpoint(request: Any) -> Endpoint | None:
    """The LLM endpoint an httpx request goes to, or None."""
    return endpoint_for(request.method, request.url.path)


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
        sync_transport, async_transport = transport_classes(mod)
        sync_cls, async_cls = mod.Client, mod.AsyncClient
        prev_sync = sync_cls._transport_for_url
        prev_async = async_cls._transport_for_url
        prepare = self._prepare
        unmeasured = self.recorder.unmeasured
        active = [True]

        def wrap(transport: Any, url: Any, wrapper: type) -> Any:
            if not active[0] or INSIDE.get():
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
