"""The Groq emulator's HTTP server (standard library only): :class:`GroqEmulator` and routing.

A ``ThreadingHTTPServer`` on loopback: one thread per connection, HTTP/1.1 keep-alive
(``connection.py`` holds the socket helpers: writing, chunked encoding, pacing). Each POST
goes to its endpoint, which serves next to the code that plans its answer: chat completions
(``chat.py``, compound systems in ``compound.py``), the Responses API (``responses.py``),
audio (``audio.py``). What they share (the served-request record, the request prologue,
queue, prefill and decode timing, fault points) is in ``streaming.py``; a refusal is an
:class:`~.validation.APIError`, answered here with Groq's error body. SSE is sent with
chunked transfer encoding, one event per token, each written when its deadline comes
(deadlines are absolute, so pauses never drift). Every wait is on the server's stop event,
so :meth:`GroqEmulator.stop` ends even a stalled stream at once.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from .audio import serve_speech, serve_transcription, serve_translation
from .cache import PromptCache, keeps_hit, prompt_blocks
from .chat import serve_chat
from .connection import Connection, HostServer, Stopped
from .faults import Fault, FaultError, parse_fault
from .model import Plan, with_cached_prefix
from .profiles import QUEUE_PROFILES, model_cards
from .responses import serve_responses
from .streaming import ServedRequest, require_key
from .validation import APIError, model_not_found, unknown_url

__all__ = ["GroqEmulator", "ServedRequest"]

CHAT_PATHS = ("/openai/v1/chat/completions", "/v1/chat/completions")
MODELS_PATHS = ("/openai/v1/models", "/v1/models")
RESPONSES_PATHS = ("/openai/v1/responses", "/v1/responses")
TRANSCRIPTION_PATHS = ("/openai/v1/audio/transcriptions", "/v1/audio/transcriptions")
TRANSLATION_PATHS = ("/openai/v1/audio/translations", "/v1/audio/translations")
SPEECH_PATHS = ("/openai/v1/audio/speech", "/v1/audio/speech")
FAULT_HEADER = "x-emulator-fault"

Endpoint = Callable[[Connection, ServedRequest, bytes], None]
ROUTES: dict[str, Endpoint] = {
    **dict.fromkeys(CHAT_PATHS, serve_chat),
    **dict.fromkeys(RESPONSES_PATHS, serve_responses),
    **dict.fromkeys(TRANSCRIPTION_PATHS, serve_transcription),
    **dict.fromkeys(TRANSLATION_PATHS, serve_translation),
    **dict.fromkeys(SPEECH_PATHS, serve_speech),
}
"""Each POST path (query and trailing slash stripped) and the endpoint that serves it."""


class _Handler(Connection):
    def do_GET(self) -> None:
        try:
            self._models()
        except APIError as err:
            self.send_api_error(err)

    def _models(self) -> None:
        """``GET /models`` and ``GET /models/{id}`` (after the key check)."""
        path = self.path.split("?", 1)[0].rstrip("/")
        require_key(self)
        cards = model_cards(serve_retired=self.emulator.serve_retired)
        if path in MODELS_PATHS:
            self.send_json(200, {"object": "list", "data": cards})
            return
        for prefix in MODELS_PATHS:
            if path.startswith(prefix + "/"):
                model = urllib.parse.unquote(path[len(prefix) + 1 :])
                card = next((c for c in cards if c["id"] == model), None)
                if card is None:
                    raise model_not_found(model)
                self.send_json(200, card)
                return
        raise unknown_url("GET", self.path)

    def do_POST(self) -> None:
        record = ServedRequest(path=self.path, t_received_ns=time.perf_counter_ns())
        record.headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        serve = ROUTES.get(self.path.split("?", 1)[0].rstrip("/"))
        if serve is None:
            self.send_api_error(unknown_url("POST", self.path))
            return
        self.emulator._log(record)
        try:
            try:
                serve(self, record, raw)
            except APIError as err:  # a refusal, always before the answer starts
                record.status = err.status
                self.send_api_error(err)
        except (BrokenPipeError, ConnectionResetError, Stopped):
            self.close_connection = True
        finally:
            record.t_done_ns = record.t_done_ns or time.perf_counter_ns()


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
        queue_profile: ``"calm"`` (default: each model's narrow queue time) or ``"groq"``
            (the heavy-tailed queue time measured on real Groq, median 101 ms, p90 608 ms,
            and at least 7 % speed jitter per request); see ``profiles.QUEUE_PROFILES``.
        sampling: a request that gives no ``temperature`` samples at Groq's default 1, so
            its answer length varies (log-normal, relative sd 0.3) between identical requests;
            off (default), only a request with ``temperature`` > 0 does.
        api_key: accept only this key (default: any non-empty key).
        faults: server-wide faults (``"500;times=2"``, see ``faults.py``).
        serve_retired: keep serving the models Groq has shut down recently
            (``profiles.RETIRED``); False answers them with Groq's
            ``model_decommissioned`` error, as Groq's free and developer tiers do.
        prompt_cache: cache prompt prefixes on the models Groq caches for
            (``ModelProfile.prompt_caching``): a repeated prefix is reported in
            ``usage.prompt_tokens_details.cached_tokens`` and prefilled faster.
        cache_ttl_s: how long an unused prefix stays cached (Groq: 2 hours).
        cache_max_entries: most prefixes remembered (least recently used dropped first).
        cache_hit_rate: the probability that a request whose prefix is cached finds it (as
            on real Groq, where it may land on a server without it); None (default): always.
        capacity_pressure: the flex tier is out of capacity: flex requests (and ``auto``
            ones falling back to flex) fail fast with 498 ``capacity_exceeded``.
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
        queue_profile: str = "calm",
        sampling: bool = False,
        api_key: str | None = None,
        faults: Sequence[str] = (),
        verbose: bool = False,
        serve_retired: bool = True,
        prompt_cache: bool = True,
        cache_ttl_s: float = 7200.0,
        cache_max_entries: int = 4096,
        cache_hit_rate: float | None = None,
        capacity_pressure: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter!r}")
        if queue_ms is not None and queue_ms < 0:
            raise ValueError(f"queue_ms must be >= 0, got {queue_ms!r}")
        if cache_hit_rate is not None and not 0.0 <= cache_hit_rate <= 1.0:
            raise ValueError(f"cache_hit_rate must be between 0 and 1, got {cache_hit_rate!r}")
        self.host = host
        self.port = port
        self.time_scale = float(time_scale)
        self.seed = seed
        self.jitter = float(jitter)
        self.queue_ms = queue_ms
        if queue_profile not in QUEUE_PROFILES:
            raise ValueError(f"queue_profile must be one of {', '.join(QUEUE_PROFILES)}, got {queue_profile!r}")
        self.queue_profile = queue_profile
        self.sampling = bool(sampling)
        self.api_key = api_key
        self.verbose = verbose
        self.serve_retired = serve_retired
        self.prompt_cache = prompt_cache
        self._cache = PromptCache(ttl_s=cache_ttl_s, max_entries=cache_max_entries)
        self.cache_hit_rate = None if cache_hit_rate is None else float(cache_hit_rate)
        self.capacity_pressure = capacity_pressure
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [Fault, remaining or None]
        for spec in faults:
            self.inject(spec)
        self._stop = threading.Event()
        self._server: HostServer | None = None
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
        server = HostServer((self.host, self.port), _Handler)
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
        """Every request served so far (chat, responses, audio), oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_since(self, t_ns: int) -> list[ServedRequest]:
        """Requests received at or after ``t_ns`` (a ``perf_counter_ns`` value), oldest first."""
        out: list[ServedRequest] = []
        with self._lock:
            for record in reversed(self._requests):
                if record.t_received_ns < t_ns:
                    break
                out.append(record)
        out.reverse()
        return out

    def reset(self) -> None:
        """Forget served requests, occurrence counts, faults and the prompt cache."""
        with self._lock:
            self._requests.clear()
            self._occurrences.clear()
            self._faults.clear()
        self._cache.clear()

    def clear_prompt_cache(self) -> None:
        """Forget every cached prompt prefix: the next requests run cold."""
        self._cache.clear()

    def set_capacity_pressure(self, on: bool = True) -> None:
        """Switch flex-tier capacity pressure on or off (see ``capacity_pressure``)."""
        self.capacity_pressure = on

    def _apply_prompt_cache(self, plan: Plan, body: Any) -> Plan:
        if not self.prompt_cache or not plan.profile.prompt_caching or not isinstance(body, dict):
            return plan
        cached = self._cache.lookup_and_store(prompt_blocks(body, plan.prompt_tokens))
        if cached and not keeps_hit(self.cache_hit_rate, self.seed, body, plan.occurrence):
            cached = 0
        return with_cached_prefix(plan, cached)

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
