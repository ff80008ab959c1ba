"""The Groq emulator's HTTP server (standard library only).

A ``ThreadingHTTPServer`` on loopback: one thread per connection, HTTP/1.1
keep-alive, SSE sent with chunked transfer encoding, one event per token, each
written when its deadline comes (deadlines are absolute, so pauses never drift).
Every wait is on the server's stop event, so :meth:`GroqEmulator.stop` ends even
a stalled stream at once.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..sse import encode_event
from . import wire
from .faults import Fault, FaultError, parse_fault
from .model import APIError, Plan, plan_request
from .profiles import PROFILES

__all__ = ["GroqEmulator", "ServedRequest"]

CHAT_PATHS = ("/openai/v1/chat/completions", "/v1/chat/completions")
MODELS_PATHS = ("/openai/v1/models", "/v1/models")
FAULT_HEADER = "x-emulator-fault"


@dataclass
class ServedRequest:
    """What the server did for one request, with its own timestamps.

    Timestamps are ``time.perf_counter_ns()`` values (a system-wide monotonic
    clock), taken just before the bytes were written to the socket.
    """

    path: str
    status: int = 0
    model: str | None = None
    stream: bool = False
    fault: str | None = None
    request_id: str | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    t_received_ns: int = 0
    t_headers_ns: int | None = None
    t_first_token_ns: int | None = None
    t_last_token_ns: int | None = None
    t_done_ns: int | None = None
    token_times_ns: list[int] = field(default_factory=list)
    """When each reasoning or content token chunk was written."""
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    emulator: GroqEmulator


class _Stopped(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # idle keep-alive connections close by themselves

    def setup(self) -> None:
        super().setup()
        # one SSE event per write: without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs would hold small chunks back by up to 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    # -- routing ---------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._authorized():
            return
        if path in MODELS_PATHS:
            self._send_json(200, wire.models_body())
            return
        for prefix in MODELS_PATHS:
            if path.startswith(prefix + "/"):
                model = urllib.parse.unquote(path[len(prefix) + 1 :])
                if model in PROFILES:
                    self._send_json(200, wire.model_body(model))
                else:
                    self._send_error(
                        APIError(
                            404,
                            f"The model `{model}` does not exist or you do not have access to it.",
                            code="model_not_found",
                        )
                    )
                return
        self._unknown_url("GET")

    def do_POST(self) -> None:
        emu = self.server.emulator
        record = ServedRequest(path=self.path, t_received_ns=time.perf_counter_ns())
        record.headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self._read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in CHAT_PATHS:
            self._unknown_url("POST")
            return
        emu._log(record)
        try:
            self._chat(record, raw)
        except (BrokenPipeError, ConnectionResetError, _Stopped):
            self.close_connection = True
        finally:
            record.t_done_ns = record.t_done_ns or time.perf_counter_ns()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        auth = self.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        expected = self.server.emulator.api_key
        if not key or (expected is not None and key != expected):
            self._send_error(APIError(401, "Invalid API Key", code="invalid_api_key"))
            return False
        return True

    def _unknown_url(self, method: str) -> None:
        self._send_error(
            APIError(
                404,
                f"Unknown request URL: {method} {self.path}. Please check the URL for typos, "
                "or see the docs at https://console.groq.com/docs/",
                code="unknown_url",
            )
        )

    # -- chat completions -------------------------------------------------------
    def _chat(self, record: ServedRequest, raw: bytes) -> None:
        emu = self.server.emulator
        if not self._authorized():
            record.status = 401
            return
        try:
            fault = emu._fault_for(self.headers)
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        record.fault = str(fault) if fault else None
        if fault is not None and fault.status is not None:
            record.status = fault.status
            self._send_fault_status(fault)
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            record.status = 400
            self._send_error(APIError(400, "We could not parse the JSON body of your request."))
            return
        record.body = body if isinstance(body, dict) else None
        try:
            occurrence = emu._occurrence(body)
            plan = plan_request(
                body,
                seed=emu.seed,
                occurrence=occurrence,
                jitter=emu.jitter,
                queue_ms=emu.queue_ms,
            )
        except APIError as err:
            record.status = err.status
            self._send_error(err)
            return
        record.model = plan.model
        record.stream = plan.stream
        record.status = 200
        record.finish_reason = plan.finish_reason
        if plan.stream:
            self._stream(plan, record, fault)
        else:
            self._complete(plan, record, fault)

    def _wait_until(self, deadline_ns: int) -> None:
        remaining = (deadline_ns - time.perf_counter_ns()) / 1e9
        if remaining > 0 and self.server.emulator._stop.wait(remaining):
            raise _Stopped
        if self.server.emulator._stop.is_set():
            raise _Stopped

    def _delay(self, fault: Fault | None, start_ns: int) -> int:
        """Apply a slow first byte; returns the time the queue starts."""
        if fault is not None and fault.name == "slow_first_byte":
            self._wait_until(start_ns + int(float(fault.get("seconds")) * 1e9))
        return start_ns

    def _complete(self, plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        t = plan.timing
        self._wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        self._wait_until(t_admit + int(t.prompt_s / scale * 1e9))
        t_prefilled = time.perf_counter_ns()
        self._wait_until(t_prefilled + int(plan.completion_tokens * t.token_s / scale * 1e9))
        t_end = time.perf_counter_ns()
        usage = wire.usage_body(
            plan,
            queue_s=(t_admit - t0) / 1e9,
            prompt_s=(t_prefilled - t_admit) / 1e9,
            completion_s=(t_end - t_prefilled) / 1e9,
        )
        completion_id, request_id = wire.new_ids()
        record.request_id = request_id
        record.usage = usage
        data = json.dumps(wire.completion_body(plan, completion_id, request_id, usage)).encode()
        gzipped = "gzip" in self.headers.get("accept-encoding", "")
        if gzipped:  # Groq compresses JSON bodies for clients that accept it
            data = gzip.compress(data, compresslevel=5)
        record.t_last_token_ns = t_end  # generation ended; the body is encoded and sent next
        record.t_headers_ns = record.t_first_token_ns = time.perf_counter_ns()
        if fault is not None and fault.name in ("cut", "stall"):
            # a non-streaming body cut or stalled half-way
            self._start(200, "application/json", request_id, plan, length=len(data), gzipped=gzipped)
            half = len(data) // 2
            self.wfile.write(data[:half])
            if fault.name == "stall":
                self._wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))
                self.wfile.write(data[half:])
            else:
                self._cut()
            return
        self._start(200, "application/json", request_id, plan, length=len(data), gzipped=gzipped)
        self.wfile.write(data)
        record.t_done_ns = time.perf_counter_ns()

    def _stream(self, plan: Plan, record: ServedRequest, fault: Fault | None) -> None:
        scale = self.server.emulator.time_scale
        t0 = record.t_received_ns
        self._delay(fault, t0)
        t = plan.timing
        completion_id, request_id = wire.new_ids()
        record.request_id = request_id
        created = int(time.time())
        self._wait_until(t0 + int(t.queue_s / scale * 1e9))
        t_admit = time.perf_counter_ns()
        record.t_headers_ns = t_admit
        self._start(200, "text/event-stream", request_id, plan)
        self._send_chunk(encode_event(wire.role_chunk(plan, completion_id, request_id, created)))
        t_prefilled_target = t_admit + int(t.prompt_s / scale * 1e9)
        self._wait_until(t_prefilled_target)
        t_prefilled = time.perf_counter_ns()
        gap_ns = t.token_s / scale * 1e9
        cut_after = stall_after = None
        total = len(plan.reasoning) + len(plan.content)
        if fault is not None and fault.name in ("cut", "stall"):
            after = fault.get("after")
            point = int(after) if after is not None else total // 2
            if fault.name == "cut":
                cut_after = point
            else:
                stall_after = point
        for i, (kind, text) in enumerate(self._deltas(plan)):
            if cut_after is not None and i >= cut_after:
                self._cut()
                return
            if stall_after is not None and i == stall_after:
                self._wait_until(time.perf_counter_ns() + int(float(fault.get("seconds")) * 1e9))  # type: ignore[union-attr]
            self._wait_until(t_prefilled + int((i + 1) * gap_ns))
            if kind == "reasoning":
                event = wire.chunk(plan, completion_id, created, reasoning=text)
            else:
                event = wire.chunk(plan, completion_id, created, content=text)
            now = time.perf_counter_ns()
            record.token_times_ns.append(now)
            if record.t_first_token_ns is None:
                record.t_first_token_ns = now
            self._send_chunk(encode_event(event))
        if cut_after is not None and cut_after >= total:
            self._cut()
            return
        # tokens billed but not sent (the one holding a stop sequence) still take time
        self._wait_until(t_prefilled + int(plan.completion_tokens * gap_ns))
        t_end = time.perf_counter_ns()
        record.t_last_token_ns = record.token_times_ns[-1] if record.token_times_ns else t_end
        usage = wire.usage_body(
            plan,
            queue_s=(t_admit - t0) / 1e9,
            prompt_s=(t_prefilled - t_admit) / 1e9,
            completion_s=(t_end - t_prefilled) / 1e9,
        )
        record.usage = usage
        self._send_chunk(encode_event(wire.final_chunk(plan, completion_id, request_id, created, usage)))
        if plan.include_usage:
            self._send_chunk(encode_event(wire.usage_chunk(plan, completion_id, created, usage)))
        self._send_chunk(encode_event("[DONE]"))
        self.wfile.write(b"0\r\n\r\n")
        record.t_done_ns = time.perf_counter_ns()

    @staticmethod
    def _deltas(plan: Plan) -> Iterator[tuple[str, str]]:
        if plan.show_reasoning == "raw" and plan.reasoning:
            last = len(plan.reasoning) - 1
            for i, piece in enumerate(plan.reasoning):
                text = ("<think>\n" if i == 0 else "") + piece + ("\n</think>\n\n" if i == last else "")
                yield "content", text
        elif plan.show_reasoning == "field":
            for piece in plan.reasoning:
                yield "reasoning", piece
        else:
            for _ in plan.reasoning:
                yield "hidden", ""
        for piece in plan.content:
            yield "content", piece

    # -- low-level writing ---------------------------------------------------------
    def _start(
        self,
        status: int,
        content_type: str,
        request_id: str | None,
        plan: Plan | None,
        *,
        length: int | None = None,
        extra: dict[str, str] | None = None,
        gzipped: bool = False,
    ) -> None:
        emu = self.server.emulator
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
        else:
            self.send_header("Content-Length", str(length))
        for key, value in emu._ratelimit_headers(plan).items():
            self.send_header(key, value)
        if request_id:
            self.send_header("x-request-id", request_id)
        self.send_header("x-groq-region", "emulator")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _cut(self) -> None:
        """Drop the connection mid-response, as a network failure would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._start(status, "application/json", None, None, length=len(data), extra=extra)
        self.wfile.write(data)

    def _send_error(self, err: APIError, extra: dict[str, str] | None = None) -> None:
        _, request_id = wire.new_ids()
        headers = {"x-request-id": request_id, **(extra or {})}
        self._send_json(err.status, err.body(), headers)

    def _send_fault_status(self, fault: Fault) -> None:
        status = fault.status
        extra: dict[str, str] = {}
        retry_after = fault.get("retry_after")
        if retry_after is not None:
            extra["retry-after"] = f"{float(retry_after):g}"
        if status == 429:
            err = APIError(
                429,
                "Rate limit reached for model in organization `org_emulator` service tier "
                "`on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. "
                f"Please try again in {float(retry_after or 0):g}s.",
                type="requests",
                code="rate_limit_exceeded",
            )
        elif status == 498:
            err = APIError(
                498,
                "Flex tier capacity exceeded. This is a temporary condition, please try again later.",
                type="capacity_exceeded",
                code="capacity_exceeded",
            )
        elif status == 503:
            err = APIError(503, "Service Unavailable", type="internal_server_error", code="service_unavailable")
        elif status == 502:
            err = APIError(502, "Bad Gateway", type="internal_server_error")
        else:
            err = APIError(500, "Internal Server Error", type="internal_server_error")
        self._send_error(err, extra)


class GroqEmulator:
    """A Groq-compatible server on ``127.0.0.1`` with Groq's latency behaviour.

    Use as a context manager or call :meth:`start` / :meth:`stop`::

        with GroqEmulator(time_scale=10) as emu:
            client = groq.Groq(base_url=emu.base_url, api_key="gsk_test")

    Parameters:
        port: 0 picks a free port.
        time_scale: run N times faster than Groq (all model time divided by N;
            fault durations are real seconds and are not scaled).
        seed: seeds timing jitter; the same seed gives the same timings.
        jitter: relative spread (standard deviation) of decode and prefill speed
            per request; 0 for an exact schedule.
        queue_ms: fixed queue time instead of the profile's distribution.
        api_key: accept only this key (default: any non-empty key).
        faults: server-wide faults (``"500;times=2"``, see ``faults.py``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        seed: int = 0,
        jitter: float = 0.05,
        queue_ms: float | None = None,
        api_key: str | None = None,
        faults: Sequence[str] = (),
        verbose: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter!r}")
        if queue_ms is not None and queue_ms < 0:
            raise ValueError(f"queue_ms must be >= 0, got {queue_ms!r}")
        self.host = host
        self.port = port
        self.time_scale = float(time_scale)
        self.seed = seed
        self.jitter = float(jitter)
        self.queue_ms = queue_ms
        self.api_key = api_key
        self.verbose = verbose
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [Fault, remaining or None]
        for spec in faults:
            self.inject(spec)
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._requests: list[ServedRequest] = []
        self._occurrences: dict[str, int] = {}
        self._served = 0

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> GroqEmulator:
        if self._server is not None:
            return self
        self._stop.clear()
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"groq-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: ends streams in progress and closes every connection."""
        server = self._server
        if server is None:
            return
        self._stop.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> GroqEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        """Base URL for ``groq.Groq(base_url=...)`` (the SDK adds ``/openai/v1``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``."""
        return f"{self.base_url}/openai/v1"

    # -- faults and records -----------------------------------------------------------
    def inject(self, spec: str, times: int | None = None) -> None:
        """Apply a fault to the next ``times`` requests (or all, if None).

        ``times`` may also be given in the spec (``"500;times=2"``)."""
        fault = parse_fault(spec)
        count = times if times is not None else fault.times
        if count is not None and count < 1:
            raise FaultError(f"times must be a positive integer, got {count!r}")
        with self._lock:
            self._faults.append([fault, count])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[ServedRequest]:
        """Every chat-completion request served so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget served requests, occurrence counts and faults."""
        with self._lock:
            self._requests.clear()
            self._occurrences.clear()
            self._faults.clear()

    def _log(self, record: ServedRequest) -> None:
        with self._lock:
            self._requests.append(record)
            self._served += 1

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _occurrence(self, body: Any) -> int:
        key = json.dumps(body, sort_keys=True, default=str)
        with self._lock:
            n = self._occurrences.get(key, 0)
            self._occurrences[key] = n + 1
        return n

    def _fault_for(self, headers: Any) -> Fault | None:
        spec = headers.get(FAULT_HEADER)
        if spec:
            try:
                fault = parse_fault(spec)
            except FaultError as err:
                raise APIError(400, f"{FAULT_HEADER}: {err}", param=FAULT_HEADER) from None
            attempt = int(headers.get("x-stainless-retry-count") or 0)
            if fault.times is not None and attempt >= fault.times:
                return None
            return fault
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                if remaining is None:
                    return fault  # type: ignore[no-any-return]
                if remaining > 0:
                    entry[1] = remaining - 1
                    return fault  # type: ignore[no-any-return]
        return None

    def _ratelimit_headers(self, plan: Plan | None) -> dict[str, str]:
        with self._lock:
            served = self._served
        tokens = 0 if plan is None else plan.prompt_tokens + plan.completion_tokens
        return {
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-limit-tokens": "250000",
            "x-ratelimit-remaining-requests": str(max(0, 14400 - served)),
            "x-ratelimit-remaining-tokens": str(max(0, 250000 - tokens)),
            "x-ratelimit-reset-requests": "6s",
            "x-ratelimit-reset-tokens": f"{tokens * 0.24:.0f}ms",
        }
