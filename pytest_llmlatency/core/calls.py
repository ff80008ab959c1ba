"""``LLMCall``: one logical LLM call with its timings and token counts (pure data).

Timestamps are ``time.perf_counter_ns()`` values taken by the interceptor as the
client sent the request and read the response. Every derived metric is a
property, and every formula is stated in ``docs/metrics.md``.

A call's cost is computed in :mod:`.costs`, Groq's extra response fields are read in
:mod:`.groq_fields`, and the functions over many calls (``percentile``, ``values``,
``agent_spans``, ``agent_wall_ms``) live in :mod:`.aggregate`; they are importable from here too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from .aggregate import agent_spans, agent_wall_ms, percentile, values
from .costs import cached_tokens_of, call_cost
from .groq_fields import read_groq_fields
from .records import AttemptRecord, CallRecord

__all__ = ["Attempt", "LLMCall", "percentile", "LATENCY_PARAMS", "agent_spans", "agent_wall_ms", "values"]

# request parameters that change how long a call takes (shown in failure messages)
LATENCY_PARAMS = (
    "max_completion_tokens",
    "max_tokens",
    "reasoning_effort",
    "reasoning_format",
    "include_reasoning",
    "stop",
    "stream",
    "service_tier",
    "response_format",
    "tools",
    "tool_choice",
)


@dataclass(slots=True)
class Attempt:
    """One HTTP attempt of a logical call (the SDK retries 408/409/429/5xx)."""

    start_ns: int
    end_ns: int | None = None
    status: int | None = None
    error: str | None = None
    request_id: str | None = None
    retryable: bool = False
    """The attempt failed in a way the SDK retries (408/409/429/5xx, transport error)."""

    @property
    def ms(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6

    def to_dict(self) -> AttemptRecord:
        return {"ms": self.ms, "status": self.status, "error": self.error, "request_id": self.request_id}


def _ms(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) / 1e6


_N = TypeVar("_N", int, float)


class _UsageNumber(Generic[_N]):
    """A read-only attribute of :class:`LLMCall`: a number from Groq's ``usage`` passed through
    ``convert``; None when ``usage`` lacks it or holds no number there."""

    def __init__(self, key: str, convert: Callable[[float], _N]) -> None:
        self.key = key
        self.convert: Callable[[float], _N] = convert

    @overload
    def __get__(self, call: None, owner: type[Any]) -> _UsageNumber[_N]: ...
    @overload
    def __get__(self, call: LLMCall, owner: type[Any]) -> _N | None: ...
    def __get__(self, call: LLMCall | None, owner: type[Any]) -> _UsageNumber[_N] | _N | None:
        if call is None:
            return self
        value = (call.usage or {}).get(self.key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.convert(value)
        return None


def _seconds_to_ms(seconds: float) -> float:
    """Groq's times are in seconds: ``usage``'s queue, prompt, completion and total time."""
    return float(seconds) * 1000.0


@dataclass(slots=True)
class LLMCall:
    """One logical chat-completion call, retries included.

    Client timings describe the last attempt (the one that produced the answer);
    retries and their backoff are in :attr:`attempts`, :attr:`retries`,
    :attr:`backoff_ms` and :attr:`wall_ms`.
    """

    model: str
    params: dict[str, Any]
    """The request's parameters except ``messages`` (and ``model``), as sent. For audio
    requests, the form fields, with the file as its summary (name, size, sha256, seconds)."""
    messages: list[Any] = field(default_factory=list)
    """Chat ``messages``; the Responses API's ``input``."""
    url: str = ""
    endpoint: str = "chat"
    """Which endpoint (``endpoints.ENDPOINTS``): chat, responses, transcription, translation, speech."""
    audio_seconds: float | None = None
    """Seconds of audio sent (transcription, translation), from the WAV header or the
    response's ``duration``."""
    output_audio_seconds: float | None = None
    """Seconds of audio received (speech), from the WAV header."""
    streamed: bool = False
    replayed: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    headers_ns: int | None = None
    token_times_ns: list[int] = field(default_factory=list)
    """When each SSE event carrying output was read: content or reasoning text, or a tool call
    (its name or a piece of its arguments)."""
    first_output: str | None = None
    """What the first output was: ``"reasoning"``, ``"content"`` or ``"tool_call"`` (what TTFT
    timed). Without streaming, the first part of the answer the server generated."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """The tool calls the answer made, in order: ``{"id", "name", "arguments_chars", "index"}``
    (``arguments_chars``: the length of the arguments' JSON text, which is not kept; ``index``:
    the call's index in the stream, or its output index in the Responses API)."""
    end_ns: int | None = None
    completed: bool = False
    """The whole response was read (a stream up to its end)."""
    abandoned: bool = False
    """The client closed a stream before its end."""
    error: str | None = None
    status: int | None = None
    finish_reason: str | None = None
    request_id: str | None = None
    usage: dict[str, Any] | None = None
    """Groq's ``usage`` exactly as the response held it."""
    content: str = ""
    reasoning_streamed: bool = False
    """The stream carried reasoning text (``delta.reasoning``)."""
    iteration: int = 0
    """Index of the ``llm_repeat`` iteration the call was made in (0 without repeats)."""
    warmup: bool = False
    request_body: bytes = field(default=b"", repr=False)
    """The request body as sent (used to match retries and recordings)."""
    capture_error: str | None = None
    """Why the response could not be parsed (the application's request was unaffected)."""
    undecodable: str | None = None
    """A content-encoding the plugin could not decode: timings only, no tokens or usage."""
    prediction: dict[str, Any] | None = None
    """Set when the call was answered from the closest recording of a request whose generation
    parameters changed: budgets judge this prediction (``advisor.Prediction.to_dict``)."""
    first_read_ns: int | None = None
    """When the client first asked for the response body (live calls)."""
    client_ttft_ns: int | None = None
    """The part of TTFT the client spent not reading: the first output's read minus its
    estimated arrival (live streams; docs/metrics.md, "Where the time went")."""
    client_stall_ns: int | None = None
    """The client's share of the end-to-end time: the end's read minus its estimated arrival."""
    client_late_events: int = 0
    """Events the client read at least 2 ms after their estimated arrival: a recording stores
    them at that arrival (the server's pace), not when they were read."""
    client_timing: bool = True
    """False for a call replayed from a cassette recorded without this plugin: it
    holds the response but no client timing, so e2e, TTFB, TTFT, ITL are None."""
    served_tier: str | None = None
    """The service tier that served the call, as the response said (``service_tier``)."""
    usage_breakdown: list[dict[str, Any]] = field(default_factory=list)
    """Compound systems (``groq/compound``): each inner model call as ``{"model", "usage"}``,
    from ``usage_breakdown.models`` (``x_groq.usage_breakdown`` in a stream)."""
    executed_tools: list[dict[str, Any]] = field(default_factory=list)
    """Compound systems: the server-side tools run, in order: ``{"index", "type",
    "arguments_chars", "output_chars", "start_ns", "end_ns"}`` (in a stream, when the tool's
    arguments and its output were read; None otherwise)."""
    hardware_cache: dict[str, int] = field(default_factory=dict)
    """``x_groq.usage``'s ``dram_cached_tokens`` / ``sram_cached_tokens``, when Groq sends them."""
    price_table: Any = field(default=None, repr=False, compare=False)
    """The ``prices.PriceTable`` costs are computed with (the built-in table when None)."""

    # -- timings --------------------------------------------------------------------
    def _client_ms(self, start: int | None, end: int | None) -> float | None:
        return _ms(start, end) if self.client_timing else None

    @property
    def start_ns(self) -> int:
        return self.attempts[-1].start_ns if self.attempts else 0

    @property
    def ok(self) -> bool:
        """A 2xx response read to its end, without an error event in it (a stream that Groq
        ended with ``{"error": ...}``, such as ``tool_use_failed``, is a failed call)."""
        return self.status is not None and 200 <= self.status < 300 and self.completed and self.error is None

    # -- what the call asked for and answered ------------------------------------------------
    @property
    def tool_names(self) -> list[str]:
        """The names of the tools the answer called, in order (repeats kept)."""
        return [str(t.get("name") or "?") for t in self.tool_calls]

    @property
    def response_format(self) -> str | None:
        """The structured-output kind the request asked for: ``json_object``, ``json_schema``,
        ``text``; None when the request did not say (plain text). Reads chat's
        ``response_format.type`` and the Responses API's ``text.format.type``."""
        fmt = self.params.get("response_format")
        if fmt is None:
            text = self.params.get("text")
            fmt = text.get("format") if isinstance(text, dict) else None
        if isinstance(fmt, dict) and isinstance(fmt.get("type"), str):
            return str(fmt["type"])
        return fmt if isinstance(fmt, str) and fmt else None

    @property
    def offered_tools(self) -> bool:
        """The request offered tools (``tools`` non-empty)."""
        return bool(self.params.get("tools"))

    @property
    def answer_kind(self) -> str:
        """What the answer was, for messages: ``tool call NAME[, NAME]``, ``JSON answer``
        (``response_format`` json_object/json_schema), ``audio``, or ``text answer``."""
        if self.tool_calls:
            return "tool call " + ", ".join(self.tool_names)
        if self.endpoint in ("transcription", "translation"):
            return self.endpoint
        if self.endpoint == "speech":
            return "speech"
        if self.response_format in ("json_object", "json_schema"):
            return "JSON answer"
        return "text answer"

    @property
    def e2e_ms(self) -> float | None:
        """Request sent -> last byte of the response read (last attempt)."""
        return self._client_ms(self.start_ns, self.end_ns)

    @property
    def ttfb_ms(self) -> float | None:
        """Request sent -> response headers received."""
        return self._client_ms(self.start_ns, self.headers_ns)

    @property
    def ttft_ms(self) -> float | None:
        """Request sent -> first output read: a content or reasoning token, or a tool call
        (:attr:`first_output` says which). Without streaming the first token arrives with the
        whole body: TTFT equals e2e."""
        if not self.streamed:
            return self.e2e_ms
        if not self.token_times_ns:
            return None
        return self._client_ms(self.start_ns, self.token_times_ns[0])

    @property
    def client_ttft_ms(self) -> float | None:
        """The part of :attr:`ttft_ms` the client itself added (not reading the stream while
        the first output had arrived); None when not measured (replayed calls)."""
        return None if self.client_ttft_ns is None else self.client_ttft_ns / 1e6

    @property
    def client_stall_ms(self) -> float | None:
        """The part of :attr:`e2e_ms` the client itself added (reading later than the response
        arrived); None when not measured (replayed calls)."""
        return None if self.client_stall_ns is None else self.client_stall_ns / 1e6

    @property
    def headers_to_first_read_ms(self) -> float | None:
        """Response headers handed to the client -> its first read of the body."""
        if self.first_read_ns is None or self.headers_ns is None:
            return None
        return max(0.0, (self.first_read_ns - self.headers_ns) / 1e6)

    @property
    def itl_ms(self) -> list[float]:
        """Gaps between consecutive token events (streams only)."""
        t = self.token_times_ns
        return [(b - a) / 1e6 for a, b in itertools.pairwise(t)]

    @property
    def output_tokens(self) -> int | None:
        """Completion tokens (reasoning included) from usage, else the token events seen."""
        if self.completion_tokens is not None:
            return self.completion_tokens
        return len(self.token_times_ns) if self.streamed else None

    @property
    def streamed_tokens(self) -> int | None:
        """Output tokens that arrived as stream events: completion tokens, less reasoning
        tokens the server did not stream (``include_reasoning=False``, hidden format)."""
        n = self.output_tokens
        if n is None or not self.streamed:
            return n
        hidden = (self.reasoning_tokens or 0) if not self.reasoning_streamed else 0
        return max(len(self.token_times_ns), n - hidden) if hidden else n

    @property
    def tpot_ms(self) -> float | None:
        """(e2e - TTFT) / (streamed tokens - 1): time per output token after the first."""
        e2e, ttft, n = self.e2e_ms, self.ttft_ms, self.streamed_tokens
        if not self.streamed or e2e is None or ttft is None or n is None or n < 2:
            return None
        return (e2e - ttft) / (n - 1)

    @property
    def output_tokens_per_s(self) -> float | None:
        """Decode speed seen by the client: (output tokens - 1) / (e2e - TTFT) for a
        stream; output tokens / e2e without streaming."""
        n, e2e = self.output_tokens, self.e2e_ms
        if n is None or e2e is None:
            return None
        if self.streamed:
            tpot = self.tpot_ms
            return None if not tpot else 1000.0 / tpot
        return n / (e2e / 1000.0) if e2e > 0 else None

    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)

    @property
    def backoff_ms(self) -> float:
        """Time between attempts: the SDK's retry waits."""
        total = 0.0
        for prev, nxt in zip(self.attempts, self.attempts[1:], strict=False):
            if prev.end_ns is not None:
                total += (nxt.start_ns - prev.end_ns) / 1e6
        return total

    @property
    def wall_ms(self) -> float | None:
        """First attempt sent -> last byte read: e2e plus failed attempts and backoff."""
        if not self.attempts:
            return None
        return self._client_ms(self.attempts[0].start_ns, self.end_ns)

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio per second of latency: audio seconds (sent for transcription and
        translation, received for speech) / (e2e / 1000)."""
        audio = self.audio_seconds if self.audio_seconds is not None else self.output_audio_seconds
        e2e = self.e2e_ms
        if audio is None or not e2e:
            return None
        return audio / (e2e / 1000.0)

    # -- Groq's usage -----------------------------------------------------------------
    prompt_tokens = _UsageNumber("prompt_tokens", int)
    completion_tokens = _UsageNumber("completion_tokens", int)
    total_tokens = _UsageNumber("total_tokens", int)
    queue_ms = _UsageNumber("queue_time", _seconds_to_ms)
    prompt_ms = _UsageNumber("prompt_time", _seconds_to_ms)
    completion_ms = _UsageNumber("completion_time", _seconds_to_ms)
    server_ms = _UsageNumber("total_time", _seconds_to_ms)
    """Groq's ``total_time``: prompt_time + completion_time (queue excluded)."""

    @property
    def reasoning_tokens(self) -> int | None:
        details = (self.usage or {}).get("completion_tokens_details") or {}
        value = details.get("reasoning_tokens") if isinstance(details, dict) else None
        if isinstance(value, int):
            return value
        return 0 if self.usage is not None else None

    @property
    def cached_tokens(self) -> int | None:
        details = (self.usage or {}).get("prompt_tokens_details") or {}
        value = details.get("cached_tokens") if isinstance(details, dict) else None
        return value if isinstance(value, int) else None

    @property
    def cached_share(self) -> float | None:
        """cached_tokens / prompt_tokens (0..1): how much of the prompt Groq's prompt cache
        served. Groq omits ``prompt_tokens_details`` when nothing was cached, so a usage without it
        counts 0 cached; None when the response reported no prompt tokens."""
        prompt = self.prompt_tokens
        if not prompt:
            return None
        return min(1.0, (self.cached_tokens or 0) / prompt)

    @property
    def requested_tier(self) -> str | None:
        """The ``service_tier`` the request asked for (None: Groq's default, on_demand)."""
        tier = self.params.get("service_tier")
        return tier if isinstance(tier, str) and tier else None

    @property
    def service_tier(self) -> str | None:
        """The tier that served the call: as the response said, else the tier the request asked
        for when it names one (``auto`` says nothing about the tier that served it)."""
        if self.served_tier:
            return self.served_tier
        tier = self.requested_tier
        return tier if tier != "auto" else None

    @property
    def compound(self) -> bool:
        """A compound system's answer: it reported inner model calls or executed tools."""
        return bool(self.usage_breakdown or self.executed_tools)

    @property
    def inner_usage(self) -> dict[str, float] | None:
        """The inner model calls' usage summed (compound systems): token counts and Groq's
        times in seconds, as in ``usage``; None without a breakdown."""
        if not self.usage_breakdown:
            return None
        total: dict[str, float] = {}
        for row in self.inner_models.values():
            for key, value in row.items():
                if key != "calls":
                    total[key] = total.get(key, 0) + value
        return total

    @property
    def inner_models(self) -> dict[str, dict[str, float]]:
        """The inner usage per model (compound systems): ``{model: {"calls", "prompt_tokens",
        "completion_tokens", "cached_tokens", ...}}``, in the order the models first ran."""
        out: dict[str, dict[str, float]] = {}
        for entry in self.usage_breakdown:
            if not isinstance(entry, dict):
                continue
            model = str(entry.get("model") or "?")
            row = out.setdefault(model, {"calls": 0})
            row["calls"] += 1
            usage = entry.get("usage")
            for key, value in (usage if isinstance(usage, dict) else {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    row[key] = row.get(key, 0) + value
            cached = cached_tokens_of(usage)
            if cached is not None:
                row["cached_tokens"] = row.get("cached_tokens", 0) + cached
        return out

    @property
    def tool_names_executed(self) -> list[str]:
        """The types of the server-side tools a compound system ran, in order (``search``, ...)."""
        return [str(t.get("type") or "?") for t in self.executed_tools]

    @property
    def tool_run_ms(self) -> float | None:
        """Streams of compound systems: the time between each executed tool's arguments and its
        output arriving, summed (the tools' run time as the client saw it); None when unknown."""
        spans = [
            (t["end_ns"] - t["start_ns"]) / 1e6
            for t in self.executed_tools
            if isinstance(t.get("start_ns"), int) and isinstance(t.get("end_ns"), int)
        ]
        return sum(spans) if spans and self.client_timing else None

    # -- cost ---------------------------------------------------------------------------------
    def cost(self) -> tuple[float | None, str]:
        """(USD, how it was computed) or (None, why the cost is unknown). Never a guess: a model
        missing from the price table, or a price the call needs that is not published, gives
        None. Compound systems: the inner models' tokens at their own prices; the server-side
        tools' fees are not in the table, so a call that ran tools has no cost."""
        return call_cost(self)

    @property
    def cost_usd(self) -> float | None:
        """The call's cost in US dollars from the price table (:meth:`cost`), None when unknown."""
        return self.cost()[0]

    # -- Groq's extra fields -------------------------------------------------------------
    def read_groq_fields(self, obj: dict[str, Any], now: int | None = None) -> None:
        """Take the served tier, a compound system's usage breakdown and executed tools, and
        ``x_groq.usage``'s hardware-cache counts from a response body or a stream chunk
        (``now``: when the chunk was read). Never raises for odd input."""
        read_groq_fields(self, obj, now)

    # -- presentation -------------------------------------------------------------------
    def metric(self, name: str) -> float | None:
        """A metric by its budget name: e2e, ttfb, ttft, server, queue, wall, tpot, tokens_per_s,
        cached_share, cost, realtime_factor, client (the client's share of e2e)."""
        return {
            "e2e": lambda: self.e2e_ms,
            "ttfb": lambda: self.ttfb_ms,
            "ttft": lambda: self.ttft_ms,
            "server": lambda: self.server_ms,
            "queue": lambda: self.queue_ms,
            "wall": lambda: self.wall_ms,
            "tpot": lambda: self.tpot_ms,
            "tokens_per_s": lambda: self.output_tokens_per_s,
            "cached_share": lambda: self.cached_share,
            "cost": lambda: self.cost_usd,
            "realtime_factor": lambda: self.realtime_factor,
            "client": lambda: self.client_stall_ms,
        }[name]()

    def latency_params(self) -> dict[str, Any]:
        return {k: self.params[k] for k in LATENCY_PARAMS if k in self.params}

    def describe_params(self) -> str:
        # a parameter sent as null (langchain sends reasoning_effort=None, stop=None) was not set
        params = {k: v for k, v in self.latency_params().items() if v is not None}
        if not params:
            return "request set none of max_completion_tokens, reasoning_effort, stop"
        return "request had " + ", ".join(f"{k}={_short(v)}" for k, v in params.items())

    def to_dict(self) -> CallRecord:
        """A JSON-safe record (for reports, xdist and baselines). Holds no secrets:
        neither headers nor the API key are part of an ``LLMCall``."""
        cost, cost_note = self.cost()
        return {
            "model": self.model,
            "url": self.url,
            "endpoint": self.endpoint,
            "params": self.params,
            "streamed": self.streamed,
            "replayed": self.replayed,
            "client_timing": self.client_timing,
            "prediction": self.prediction,
            "status": self.status,
            "ok": self.ok,
            "abandoned": self.abandoned,
            "error": self.error,
            "capture_error": self.capture_error,
            "iteration": self.iteration,
            "warmup": self.warmup,
            "attempts": [a.to_dict() for a in self.attempts],
            "retries": self.retries,
            "backoff_ms": self.backoff_ms,
            "wall_ms": self.wall_ms,
            "e2e_ms": self.e2e_ms,
            "ttfb_ms": self.ttfb_ms,
            "ttft_ms": self.ttft_ms,
            "client_ttft_ms": self.client_ttft_ms,
            "client_stall_ms": self.client_stall_ms,
            "headers_to_first_read_ms": self.headers_to_first_read_ms,
            "client_late_events": self.client_late_events,
            "tpot_ms": self.tpot_ms,
            "itl_ms": self.itl_ms,
            "output_tokens_per_s": self.output_tokens_per_s,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "cached_share": self.cached_share,
            "service_tier": self.service_tier,
            "requested_tier": self.requested_tier,
            "cost_usd": cost,
            "cost_note": cost_note,
            "hardware_cache": dict(self.hardware_cache) or None,
            "inner_usage": self.inner_usage,
            "inner_models": self.inner_models or None,
            "executed_tools": [
                {k: t.get(k) for k in ("index", "type", "arguments_chars", "output_chars")} for t in self.executed_tools
            ],
            "tool_run_ms": self.tool_run_ms,
            "queue_ms": self.queue_ms,
            "prompt_ms": self.prompt_ms,
            "completion_ms": self.completion_ms,
            "server_ms": self.server_ms,
            "finish_reason": self.finish_reason,
            "first_output": self.first_output,
            "tool_calls": [
                {"id": t.get("id"), "name": t.get("name"), "arguments_chars": t.get("arguments_chars", 0)}
                for t in self.tool_calls
            ],
            "tool_names": self.tool_names,
            "response_format": self.response_format,
            "answer_kind": self.answer_kind,
            "audio_seconds": self.audio_seconds,
            "output_audio_seconds": self.output_audio_seconds,
            "realtime_factor": self.realtime_factor,
            "request_id": self.request_id,
            "prompt_chars": sum(len(str(m.get("content", ""))) for m in self.messages if isinstance(m, dict)),
        }

    def __repr__(self) -> str:
        e2e = self.e2e_ms
        return (
            f"<LLMCall {self.model} status={self.status} "
            f"e2e={'?' if e2e is None else f'{e2e:.1f}'}ms tokens={self.completion_tokens}>"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
