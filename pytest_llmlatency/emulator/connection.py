"""Socket helpers of the emulator's HTTP server: connection handling, writing and pacing.

:class:`Connection` is the request handler every endpoint writes through: one thread per
connection, HTTP/1.1 keep-alive (idle connections close after a minute), ``TCP_NODELAY`` so
that each SSE event leaves at once, Groq's status line and headers, chunked transfer
encoding, JSON and error bodies, a dropped connection (:meth:`Connection.cut`), and waits on
the emulator's stop event: :meth:`GroqEmulator.stop` ends even a stalled stream at once
(:class:`Stopped`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from . import wire
from .faults import Fault
from .model import Plan
from .validation import APIError

__all__ = ["Connection", "Host", "HostServer", "Stopped"]


class Host(Protocol):
    """What the server's connections and endpoints use of the emulator (``GroqEmulator``)."""

    verbose: bool
    time_scale: float
    seed: int
    jitter: float
    queue_ms: float | None
    queue_profile: str
    sampling: bool
    api_key: str | None
    serve_retired: bool
    capacity_pressure: bool
    _stop: threading.Event

    def _track(self, conn: socket.socket, add: bool) -> None: ...
    def _log(self, record: Any) -> None: ...
    def _ratelimit_headers(self, plan: Plan | None) -> dict[str, str]: ...
    def _occurrence(self, body: Any) -> int: ...
    def _fault_for(self, headers: Any) -> Fault | None: ...
    def _apply_prompt_cache(self, plan: Plan, body: Any) -> Plan: ...


class HostServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    emulator: Host


class Stopped(Exception):
    """The emulator stopped while a response was waiting for its time."""


class Connection(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostServer
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

    @property
    def emulator(self) -> Host:
        return self.server.emulator

    # -- pacing ------------------------------------------------------------------------
    def wait_until(self, deadline_ns: int) -> None:
        """Wait until ``deadline_ns`` (``perf_counter_ns``); :class:`Stopped` when the emulator stops."""
        stop = self.server.emulator._stop
        remaining = (deadline_ns - time.perf_counter_ns()) / 1e9
        if remaining > 0 and stop.wait(remaining):
            raise Stopped
        if stop.is_set():
            raise Stopped

    # -- writing -----------------------------------------------------------------------
    def begin_response(
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
        """The status line and Groq's headers; without ``length`` the body is chunked."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
        else:
            self.send_header("Content-Length", str(length))
        for key, value in self.server.emulator._ratelimit_headers(plan).items():
            self.send_header(key, value)
        if request_id:
            self.send_header("x-request-id", request_id)
        self.send_header("x-groq-region", "emulator")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        """The last chunk of a chunked body."""
        self.wfile.write(b"0\r\n\r\n")

    def cut(self) -> None:
        """Drop the connection mid-response, as a network failure would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def send_json(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.begin_response(status, "application/json", None, None, length=len(data), extra=extra)
        self.wfile.write(data)

    def send_error_body(self, status: int, body: dict[str, Any]) -> None:
        """An error body as given, with a fresh ``x-request-id``."""
        _, request_id = wire.new_ids()
        self.send_json(status, body, {"x-request-id": request_id})

    def send_api_error(self, err: APIError) -> None:
        """Groq's error body for ``err``, with a fresh ``x-request-id`` and the error's headers."""
        _, request_id = wire.new_ids()
        self.send_json(err.status, err.body(), {"x-request-id": request_id, **err.headers})
