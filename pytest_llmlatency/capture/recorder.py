"""The calls of one test, as its requests are sent: each request's :class:`~.attempt.Capture`
gets its call (a new one, or the one a retry retries) when the test reads its calls."""

from __future__ import annotations

import threading
import time
import weakref
from types import ModuleType
from typing import Any

from ..core.calls import Attempt, LLMCall
from ..core.endpoints import CHAT, Endpoint
from .attempt import Capture, now_ns
from .secrets import Secrets
from .unmeasured import Unmeasured

__all__ = ["PENDING_BYTES", "PENDING_CHECK", "Recorder", "request_bytes"]


def request_bytes(request: Any) -> bytes:
    """The body of an httpx request that has been read (or built from bytes)."""
    try:
        return bytes(request.content)
    except Exception:  # a streaming request body not read yet
        return b""


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
        """The test's cassette (``cassettes.tape.Tape``), or None."""
        self.budgets: list[Any] = []
        """The test's budgets (``budgets.budget.Budget``), judged after the call phase."""
        self.repeat: Any = None
        """The test's ``llm_repeat`` (``budgets.options.Repeat``), or None."""
        self.baseline: Any = None
        """The test's ``llm_baseline`` (``budgets.options.BaselineOptions``), or None."""
        self.repeating = False
        self.price_table: Any = None
        """The session's prices (``core.prices.PriceTable``; None: Groq's published ones)."""
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
