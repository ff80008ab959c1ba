"""One captured attempt: the response headers, then the body as the client reads it,
turned into the ``LLMCall``'s timings, tokens and outcome (and, when recording, the
cassette response).

The hot path (the tee, for every chunk the client reads) only keeps the chunk with
two timestamps: when the client asked for it and when it got it, appended to one flat
list (:attr:`Capture.log`). It holds no object the garbage collector tracks, so a test
holding many streams does not make the collector run more often in the application's
calls (a tuple per read did: one collection per ~700 reads). Reading the response's
headers, decoding, SSE parsing, JSON and token counting happen later, in
:meth:`Capture.settle`: when the body ends, when the client closes it, or when a test reads
its calls. The results are the same as parsing each chunk as it came, because every event
is stamped with the time its chunk was read.

The two timestamps also say who was waiting for whom. A read that blocked found
no bytes yet: the server (or the network) set the pace. A read that returned at
once found them waiting: they had arrived while the application was busy
elsewhere. :meth:`Capture._split` turns that into the client's share of TTFT and
of the end-to-end time, and into the arrival times a recording stores
(docs/metrics.md, "Where the time went").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter, sub
from types import ModuleType
from typing import Any

from ..core.calls import Attempt, LLMCall
from ..core.endpoints import CHAT, Endpoint, describe_request, input_audio_seconds, request_json
from .arrivals import WAITED_NS, estimate_arrivals, event_times, recorded_pieces
from .bodyreader import END, OUTPUT, BodyReader
from .headers import header_values
from .secrets import Secrets
from .timing import TIMING_KEY, timing_meta

__all__ = ["RETRYABLE_STATUS", "Capture", "describe_exc", "header_values", "now_ns"]

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def now_ns() -> int:
    return time.perf_counter_ns()


_RESPONSE_HEADERS = frozenset({b"x-request-id", b"content-type", b"content-encoding"})


def describe_call(call: LLMCall, endpoint: Endpoint, content_type: str, secrets: Secrets, url: Any = "") -> None:
    """Fill in what a call's request (``call.request_body``, sent to ``url``) asked for, its
    secrets scrubbed."""
    if url:
        call.url = str(url).partition("?")[0]
    body = request_json(call.request_body, content_type)
    call.model, params, messages, call.streamed = describe_request(endpoint, body)
    call.params, call.messages = secrets.obj(params), secrets.obj(messages)
    if endpoint.audio_in:
        call.audio_seconds = input_audio_seconds(body)


class Capture:
    """Observes one attempt: headers, then the body as the client reads it.

    A test may hold thousands of these until it reads its calls, so a pending capture keeps
    few objects the garbage collector tracks (each one costs every collection, and makes
    them come sooner): the call itself is made when the calls are read (:attr:`call`), from
    the request's headers, URL and body kept until then; the response's headers are kept
    until settled; the body's reader is made when it is parsed; the lock is the recorder's."""

    # what a capture starts with, as class attributes: set on the instance when they change
    # (a call path that makes one capture per request sets few attributes, not thirty)
    reads: Sequence[tuple[int, int, bytes]] = ()
    """``(asked_ns, got_ns, raw bytes)`` per read, made from the two lists when settled."""
    live = True
    """Reads stamped by the client's clock (False when replayed: no client split)."""
    _settled = 0  # reads parsed so far
    _reader: BodyReader | None = None  # made when the body is parsed (``_body``)
    _sse = False  # the body is an event stream
    _content_type = ""
    _arrivals: list[int] | None = None  # estimated arrival per event (live calls)
    _decoder: Any = None
    _size: int | None = None  # bytes kept by an ended body not yet applied
    # recording: the tape and the vcr request
    _tape: Any = None
    _vcr_request: Any = None  # made when recorded (``get()``)
    _recording = False
    _headers: Any = None  # the response's headers, copied when recorded
    _encoding = ""  # the body's content-encoding: decoded as it is parsed
    _secrets: Secrets | None = None  # set by describe_later: what settle describes with
    _request_type = ""
    _decode = True  # decode the body as its content-encoding says

    def __init__(
        self,
        call: LLMCall | None,
        attempt: Attempt,
        flavour: ModuleType | None = None,
        endpoint: Endpoint = CHAT,
        lock: threading.Lock | None = None,
        owner: Callable[[], Any] | None = None,
        sent: Any = None,
        url: Any = "",
        raw: bytes = b"",
        iteration: int = 0,
        warmup: bool = False,
    ) -> None:
        self._call = call
        self.endpoint = endpoint
        self.attempt = attempt
        self._flavour = flavour
        self.log: list[Any] = []
        """``asked_ns, got_ns, raw bytes`` of each read, flat, appended by the tee (the hot
        path) in that order: one list, not one per kind (an object fewer per pending call)."""
        self._lock = threading.Lock() if lock is None else lock  # shared by a recorder's captures
        # until the recorder gives the capture its call (``Recorder.link``): what it is made from
        self._owner = owner  # the recorder, as a weak reference (no cycle)
        self.sent = sent
        """The request's headers (httpx's), until its call is made: read then (the keys learnt)."""
        self._url = url  # the request's URL (httpx's), until its call is made and described
        self.raw = raw
        """The request's body as sent."""
        self.iteration, self.warmup = iteration, warmup
        # what the call path writes, set here first: every capture keeps these in the first
        # slots of the key table CPython shares between its instances (at most 30 keys), so a
        # pending capture never gets a dict of its own (an object the collector tracks),
        # whatever attributes other captures added first
        self._reason: str | bytes = ""
        self._unread: Any = None  # the response headers, until read when settled
        self._headers_at: int | None = None  # when the response headers came, until applied
        self._done = False
        self._eof_at: tuple[int, int] | None = None  # (asked_ns, got_ns) of the read that found the end
        self._ended: int | None = None  # when the body ended, until settle applies it

    @property
    def call(self) -> LLMCall:
        """The call this attempt belongs to. A recorder's capture starts without one: the
        recorder gives it its call (a new one, or the call it retries) when the calls are read,
        in the order the requests were sent (``Recorder.link``), not while the client waits."""
        call = self._call
        if call is None:
            owner = self._owner() if self._owner is not None else None
            if owner is not None:
                owner.link(self)
            call = self._call
            if call is None:  # its recorder is gone: a call of its own
                call = LLMCall(model="", params={}, endpoint=self.endpoint.name, request_body=self.raw)
                call.attempts.append(self.attempt)
                self.sent = self._url = None
                self._call = call
        return call

    def describe_later(self, content_type: str, secrets: Secrets, url: Any = "") -> None:
        """Fill in what the request asked for when settled (:func:`describe_call`), not while
        the client waits for its answer (``url``: the request's, made a string then)."""
        self._request_type, self._secrets, self._url = content_type, secrets, url

    def _body(self) -> BodyReader:
        reader = self._reader
        if reader is None:
            reader = BodyReader(self.call, self.attempt, self.endpoint, self._sse, self._content_type)
            self._reader = reader
        return reader

    def record_to(self, tape: Any, vcr_request: Any) -> None:
        self._tape = tape
        self._vcr_request = vcr_request
        self._recording = True

    # -- request phase -------------------------------------------------------------
    def failed(self, exc: BaseException) -> None:
        now = now_ns()
        self.attempt.end_ns = now
        self.attempt.retryable = isinstance(exc, Exception)
        self.attempt.error = describe_exc(exc)
        call = self.call
        call.error = self.attempt.error
        call.end_ns = now

    def response(
        self, status: int, headers: Any, *, at: int | None = None, reason: str | bytes = "", decode: bool = True
    ) -> int:
        """The response's status and headers came (``at``; now when None); returns that time.
        Only the time and the status are taken here, in the client's call (on the attempt:
        the call has them when settled); the few headers the capture reads are read then too
        (:meth:`_read_headers`), and the reason phrase decoded when recorded."""
        if at is None:
            at = time.perf_counter_ns()
        attempt = self.attempt
        attempt.status = status = int(status)
        attempt.retryable = status in RETRYABLE_STATUS
        if reason:
            self._reason = reason
        if self._recording:
            self._headers = headers
        self._unread = headers
        if not decode:
            self._decode = False
        self._headers_at = at  # last: a settle that sees it sees the status too
        return at

    def _read_headers(self) -> None:
        """Read the response headers :meth:`response` kept: the request id, the content type
        and the content encoding (under the lock, once)."""
        headers, self._unread = self._unread, None
        found = header_values(headers, _RESPONSE_HEADERS)
        self.call.request_id = self.attempt.request_id = found.get(b"x-request-id")
        content_type = found.get(b"content-type", "").lower()
        self._content_type, self._sse = content_type, "text/event-stream" in content_type
        self._reader = None
        encoding = found.get(b"content-encoding", "").lower().strip() if self._decode else ""
        if encoding and encoding != "identity":
            self._encoding = encoding  # httpx's decoder is made when the body is parsed

    # -- response body ---------------------------------------------------------------
    def feed(self, chunk: bytes, at: int | None = None) -> None:
        """A chunk read at ``at`` (replay and offline use: no client split)."""
        now = now_ns() if at is None else at
        if at is not None:
            self.live = False
        self.log += (now, now, chunk)

    def read_at_once(self, chunks: Iterable[bytes], at: int) -> None:
        """A body the transport read before the client got the response: httpx reads a
        ``Response(content=...)`` as it is made (``httpx.MockTransport``, respx, pytest-httpx).
        It came with the headers, and it has ended."""
        for chunk in chunks:
            if chunk:
                self.log += (at, at, chunk)
        self.eof(at, at)

    def _reads(self) -> Sequence[tuple[int, int, bytes]]:
        """The reads so far as ``(asked, got, bytes)``: those the tee added since, joined on."""
        reads, log, done = self.reads, self.log, len(self.reads)
        # whole reads only: one the tee is adding meanwhile (another thread) is left for the
        # next time
        end = len(log) // 3 * 3
        if end > 3 * done:
            if not isinstance(reads, list):
                self.reads = reads = []  # made on first use: one object fewer while pending
            start = 3 * done
            reads.extend(zip(log[start:end:3], log[start + 1 : end : 3], log[start + 2 : end : 3], strict=True))
        return reads

    def settle(self) -> None:
        """Parse what has been read so far, and apply the end of the body if it came
        (idempotent, thread-safe, never raises)."""
        call = self.call  # made first (outside the lock: the recorder takes its own)
        with self._lock:
            at = self._headers_at
            if at is not None:
                self._headers_at = None
                call.headers_ns, call.status = at, self.attempt.status
            if self._secrets is not None:
                secrets, self._secrets = self._secrets, None
                try:
                    url, self._url = self._url, ""
                    describe_call(call, self.endpoint, self._request_type, secrets, url)
                except Exception as exc:  # measuring must never break the test reading its calls
                    call.capture_error = describe_exc(exc)
            if self._unread is not None:
                try:
                    self._read_headers()
                except Exception as exc:
                    self._give_up(exc)
            reads = self._reads()
            if self._settled < len(reads) and self._decoder is not False:
                try:
                    self._parse(len(reads))
                except Exception as exc:  # measuring must never break the application's request
                    self._give_up(exc)
            if self._ended is not None:
                self._complete(self._ended)

    def pending_bytes(self) -> int:
        """What an ended body not yet applied keeps in memory (0 once applied)."""
        if self._ended is None:
            return 0
        if self._size is None:
            self._size = sum(map(len, self.log[2::3]))
        return self._size

    def _give_up(self, exc: Exception) -> None:
        self._decoder = False
        self._recording = False
        self._sse, self._content_type = False, ""
        self._reader = None
        self.call.capture_error = describe_exc(exc)

    def _parse(self, upto: int) -> None:
        first = self._settled
        self._settled = upto
        decoder = self._decoding()
        if decoder is False:
            return
        datas = self.log[3 * first + 2 : 3 * upto : 3]
        if decoder is not None:
            datas = [_bytes(decoder.decode(raw)) for raw in datas]
        self._body().add_batch(first, self.log[3 * first + 1 : 3 * upto : 3], datas)

    def _decoding(self) -> Any:
        """httpx's decoder for the body's content-encoding (made once), None for none, False
        for one we cannot decode."""
        if self._encoding and self._decoder is None:
            self._decoder = _decoder_for(self._flavour, self._encoding)
            if self._decoder is None:
                # an encoding we cannot decode: timings only, nothing to parse or record
                self._decoder = False
                self._recording = False
                self.call.undecodable = self._encoding
        return self._decoder

    def _finish(self, now: int) -> None:
        self._body().finish(now)

    def eof(self, at: int | None = None, asked: int | None = None) -> None:
        """The body ended (``asked``: when the client asked for the read that found the end).
        Only the time is taken here, in the client's read: parsing, the client split and
        recording wait until the calls are read (:meth:`settle`)."""
        now = now_ns() if at is None else at
        with self._lock:
            if self._done:
                return
            self._done = True
            self._eof_at = (now if asked is None else asked, now)
            self._ended = now

    def _complete(self, now: int) -> None:
        """Apply the end of the body that came at ``now`` (under the lock, once)."""
        self._ended = None
        try:
            self._eof(now)
        except Exception as exc:  # measuring must never break the application's request
            self._give_up(exc)
        try:
            self._finish(now)
            self._split()
            self._commit()
        except Exception as exc:  # nor the test reading its calls
            self.call.capture_error = describe_exc(exc)
        self._release()

    def _eof(self, now: int) -> None:
        decoder = self._decoding()
        if decoder is False:
            return
        if decoder is not None:
            tail = _bytes(decoder.flush())
            if tail:
                self.log += (now, now, b"")
                self._settled = len(self._reads())
                self._body().add(self._settled - 1, now, tail)
        self._body().close(now)

    def _not_recorded(self, why: str) -> None:
        if self._recording and self._tape is not None:
            self._tape.note_unrecorded(f"a call to {self.call.model} was not recorded: {why}")
        self._recording = False

    def stream_error(self, exc: BaseException) -> None:
        now = now_ns()
        self.settle()
        self._done = True
        self._not_recorded(f"the response broke off ({describe_exc(exc)})")
        self.attempt.end_ns = now
        self.attempt.error = self.call.error = describe_exc(exc)
        self.call.end_ns = now
        self._release()

    def close(self) -> None:
        """The client closed the response (after its end, or abandoning it)."""
        if self._done:
            return  # after the end, or a break: applied by settle, or already
        self.settle()
        with self._lock:
            if self._done:
                return
            self._done = True
        call = self.call
        if call.completed:
            self._split()
        else:
            self._not_recorded("the client abandoned the stream before its end (read it to the end to record it)")
            call.abandoned = True
            call.end_ns = self.attempt.end_ns = call.token_times_ns[-1] if call.token_times_ns else now_ns()
        self._commit()
        self._release()

    @property
    def finished(self) -> bool:
        """The body ended, broke off or was closed, and that is applied to the call."""
        return self._done and self._ended is None

    def _release(self) -> None:
        """Drop the bytes once the call is complete (a long repeat keeps only its calls)."""
        if self._done and not self._recording:
            self.log, self.reads, self._arrivals = [], (), None
            self._sse, self._content_type, self._reader, self._headers = False, "", None, None
            self._settled = 0

    # -- where the time went -----------------------------------------------------------
    def _split(self) -> None:
        """Estimate when each event's bytes arrived, and from that the client's share of TTFT
        and of the end-to-end time (docs/metrics.md, "Where the time went")."""
        call = self.call
        if not self.live or not self.reads or call.headers_ns is None or call.end_ns is None:
            return
        marks = self._body().marks
        gots, kinds = event_times(self.reads, marks), list(map(itemgetter(2), marks))
        self._arrivals = arrivals = estimate_arrivals(call, self.attempt.start_ns, self.reads, marks, gots, kinds)
        call.first_read_ns = self.reads[0][0]
        call.client_late_events = 0 if arrivals == gots else sum(map(WAITED_NS.__le__, map(sub, gots, arrivals)))
        if call.token_times_ns and OUTPUT in kinds:
            call.client_ttft_ns = max(0, call.token_times_ns[0] - arrivals[kinds.index(OUTPUT)])
        end_arrival = arrivals[-1] if arrivals else call.headers_ns
        if END in kinds:
            end_arrival = arrivals[kinds.index(END)]
        elif self._eof_at is not None:
            asked, got = self._eof_at
            end_arrival = got if got - asked >= WAITED_NS else max(end_arrival, min(asked, got))
        stall = call.end_ns - end_arrival
        call.client_stall_ns = stall if stall >= WAITED_NS else 0  # within the method's error: none

    # -- recording ---------------------------------------------------------------------
    def _commit(self) -> None:
        """Hand a complete final response to the tape (once): a success, or an error the client
        does not retry (a 400 such as Groq's ``tool_use_failed``, a 404 for a decommissioned
        model), which replays as the same failure."""
        recording, self._recording = self._recording, False
        call = self.call
        if not recording or self._tape is None or not call.completed or call.status is None:
            return
        if not 200 <= call.status < 500 or call.status in RETRYABLE_STATUS or call.status in (401, 403):
            # attempts the SDK retries are not recorded (replay gives the final answer at once),
            # nor answers to a bad key
            return
        chunks = recorded_pieces(
            self.attempt.start_ns, self.reads, self._body().data, self._body().marks, self._arrivals
        )
        start = self.attempt.start_ns
        headers: dict[str, list[str]] = {}
        items = self._headers.multi_items() if hasattr(self._headers, "multi_items") else []
        for key, value in items:
            headers.setdefault(str(key), []).append(str(value))
        meta = timing_meta(
            None if call.headers_ns is None else call.headers_ns - start,
            None if call.end_ns is None else call.end_ns - start,
            [(offset, len(data)) for offset, data in chunks],
        )
        if call.client_stall_ns:
            # what the client itself added when this was recorded: not part of the stored pace
            meta["client_stall_ms"] = round(call.client_stall_ns / 1e6, 3)
            if call.end_ns is not None and chunks:
                meta["e2e_ms"] = round(max(chunks[-1][0], call.end_ns - start - call.client_stall_ns) / 1e6, 3)
        response = {
            "status": {"code": call.status, "message": _text(self._reason) or "OK"},
            "headers": headers,
            "body": {"string": b"".join(data for _, data in chunks)},
            TIMING_KEY: meta,
        }
        self._tape.record(self._vcr_request.get(), response)


def _text(reason: str | bytes) -> str:
    """A reason phrase as text (httpx keeps it as bytes)."""
    return reason.decode("ascii", "replace") if isinstance(reason, bytes) else str(reason)


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
