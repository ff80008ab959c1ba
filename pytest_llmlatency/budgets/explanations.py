"""The wording of budget messages: which call, how its time came about, why a value is missing.

The kinds (:mod:`.speed`, :mod:`.usage`) and the predicted judging (:mod:`.predicted`) build
their verdicts' messages from these pieces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..core.calls import LLMCall

__all__ = [
    "CLIENT_NOTE_MS",
    "NO_CALL_WHY",
    "agent_detail",
    "client_lead",
    "client_share",
    "explain",
    "failure",
    "fmt_ms",
    "limits_label",
    "metric_value",
    "no_split",
    "roster",
    "usd",
    "who",
    "why_missing",
]

NO_CALL_WHY = "(no chat-completions, Responses API or audio request went through httpx while it ran)"
"""Why a budget found no call; the plugin replaces it with the requests the test did make to
endpoints it does not measure, when there were some (``unmeasured.name_unmeasured``)."""

CLIENT_NOTE_MS = 50.0
"""The client's share of e2e is named in explanations from this size (and a quarter of e2e) on."""


def fmt_ms(ms: float | None) -> str:
    """A duration in ms for messages: no decimals from 100 on, one below, ``?`` when unknown."""
    if ms is None:
        return "?"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:,.1f}"


def usd(value: float) -> str:
    """A cost in US dollars: ``$0.000123`` below a cent, ``$1.2345`` from a cent on."""
    return f"${value:.6f}".rstrip("0").rstrip(".") if value < 0.01 else f"${value:,.4f}"


def failure(call: LLMCall) -> str:
    """How a failed call failed: its error, or its HTTP status, with the attempts it took."""
    attempts = f" after {len(call.attempts)} attempt(s)" if len(call.attempts) > 1 else ""
    if call.error:
        return f"{call.error}{attempts}"
    detail = call.attempts[-1].error if call.attempts else None
    return f"HTTP {call.status}{attempts}" + (f": {detail}" if detail else "")


def explain(call: LLMCall) -> str:
    """e2e = TTFT (queue, prompt) + output tokens at a decode speed; the request's knobs."""
    text = f"e2e {fmt_ms(call.e2e_ms)} ms" + _timing(call)
    notes = _notes(call)
    if notes:
        text += "; " + "; ".join(notes)
    return f"{text}; {call.describe_params()}"


def _timing(call: LLMCall) -> str:
    """How e2e came about: TTFT and decoding for a stream, Groq's server times without one."""
    ttft = call.ttft_ms
    n = call.output_tokens
    server = []
    if call.queue_ms is not None:
        server.append(f"queue {fmt_ms(call.queue_ms)}")
    if call.prompt_ms is not None:
        server.append(f"prompt {fmt_ms(call.prompt_ms)}")
    if call.streamed and ttft is not None and call.e2e_ms is not None:
        decode = call.e2e_ms - ttft
        speed = call.output_tokens_per_s
        text = f" = TTFT {fmt_ms(ttft)} ms"
        notes = []
        if call.first_output in ("reasoning", "tool_call"):
            notes.append(f"first output: {call.first_output.replace('_', ' ')}")
        if server:
            notes.append(f"server {', '.join(server)}")
        if notes:
            text += f" ({'; '.join(notes)})"
        text += f" + {n if n is not None else '?'} tokens in {fmt_ms(decode)} ms"
        if speed:
            text += f" at {speed:,.0f} tok/s"
        return text
    if call.server_ms is not None:
        server.append(f"completion {fmt_ms(call.completion_ms)}")
        text = f", not streamed; server {', '.join(server)} for {n} tokens"
        if call.completion_ms:
            text += f" ({(call.completion_tokens or 0) / call.completion_ms * 1000:,.0f} tok/s)"
        return text
    return ""


def _notes(call: LLMCall) -> list[str]:
    """What else shaped the call: reasoning, a cut answer, tool calls, the client, retries."""
    notes = []
    if call.reasoning_tokens:
        notes.append(f"{call.reasoning_tokens} of the {call.completion_tokens} output tokens were reasoning")
    if call.finish_reason == "length":
        notes.append("finish_reason=length: the answer was cut at the token cap")
    if call.tool_calls:
        notes.append(
            f"{len(call.tool_calls)} tool call(s): "
            + ", ".join(
                f"{t.get('name') or '?'} ({t.get('arguments_chars', 0)} chars of arguments)" for t in call.tool_calls
            )
        )
    client = _client_note(call)
    if client:
        notes.append(client)
    if call.abandoned:
        notes.append("the stream was abandoned by the client")
    if call.retries:
        notes.append(f"{call.retries} retr{'y' if call.retries == 1 else 'ies'}, backoff {fmt_ms(call.backoff_ms)} ms")
    return notes


def client_share(call: LLMCall, metric: str) -> float | None:
    """The client's own part of a metric: of TTFT, :attr:`~.calls.LLMCall.client_ttft_ms`; of
    e2e, wall and ``client``, :attr:`~.calls.LLMCall.client_stall_ms`; None when not measured."""
    if metric == "ttft":
        return call.client_ttft_ms
    if metric in ("e2e", "wall", "client"):
        return call.client_stall_ms
    return None


def metric_value(call: LLMCall, name: str) -> float | None:
    """A latency budget's metric: ``client`` is the client's own share of e2e."""
    return call.client_stall_ms if name == "client" else call.metric(name)


def no_split(call: LLMCall) -> str:
    """Why a call has no client split."""
    if call.replayed:
        return (
            "replayed from a cassette: the recording holds the server's pace, and a replay hands the chunks "
            "over at once, so this client's reads are not timed against it; measure it live (the emulator)"
        )
    if not call.streamed:
        return "not streamed: the body came in one piece, so reads cannot be told apart from its arrival"
    if call.abandoned:
        return "the client abandoned the stream before its end"
    return "the capture saw no read of the body to time against the server's pace"


def _reading(call: LLMCall) -> str:
    return "not reading the stream" if call.streamed else "not reading the response"


def _client_note(call: LLMCall) -> str | None:
    """``~2,030 ms of it was the client not reading the stream (...)`` when that is a large part
    of e2e (at least :data:`CLIENT_NOTE_MS` and a quarter)."""
    share, e2e = call.client_stall_ms, call.e2e_ms
    if share is None or e2e is None or share < CLIENT_NOTE_MS or share < e2e / 4:
        return None
    text = f"~{fmt_ms(share)} ms of the e2e was the client {_reading(call)}"
    first = call.headers_to_first_read_ms
    if first is not None and first >= CLIENT_NOTE_MS:
        text += f" (its first read came {fmt_ms(first)} ms after the response headers)"
    return text


def client_lead(call: LLMCall, metric: str, limit: float) -> str | None:
    """For a breach mostly on the client's side: ``TTFT 23,290 ms, of which ~23,270 ms was the
    client not reading the stream (response headers at 16 ms; Groq prompt time 5.6 ms)``, with
    what to do. None when the client's share is unknown or not the larger part of the breach."""
    value = metric_value(call, metric)
    share = client_share(call, metric)
    if value is None or share is None or share <= 0:
        return None
    holds = value - share <= limit
    if not holds and share < value / 2:
        return None
    name = "TTFT" if metric == "ttft" else metric
    text = (
        f"{name} {fmt_ms(value)} ms, of which ~{fmt_ms(share)} ms was the client {_reading(call)} "
        f"({'; '.join(_client_context(call, metric))})"
    )
    if holds:
        text += f"; without it, {fmt_ms(value - share)} ms would meet the budget"
    return (
        text + ". The application delayed reading the response (work, a sleep or a blocked event loop "
        "between the headers and its reads): read it as it arrives, or judge the server's part alone with "
        "exclude='client'"
    )


def _client_context(call: LLMCall, metric: str) -> list[str]:
    """When the headers and the first read came, and Groq's own times, for :func:`client_lead`."""
    context = [f"response headers at {fmt_ms(call.ttfb_ms)} ms"]
    first = call.headers_to_first_read_ms
    if first is not None and first >= 1:
        context.append(f"first read of the body {fmt_ms(first)} ms after them")
    groq = []
    if call.queue_ms is not None:
        groq.append(f"queue {fmt_ms(call.queue_ms)} ms")
    if metric == "ttft" and call.prompt_ms is not None:
        groq.append(f"prompt time {fmt_ms(call.prompt_ms)} ms")
    elif metric != "ttft" and call.server_ms is not None:
        groq.append(f"total time {fmt_ms(call.server_ms)} ms")
    if groq:
        context.append("Groq " + ", ".join(groq))
    return context


def limits_label(marker: str, limits: Iterable[tuple[str, float | None]], call: int | str | None) -> str:
    """``marker(key=value, ..., call=...)`` with the arguments that were given."""
    args = [f"{k}={v}" if isinstance(v, int) else f"{k}={v:g}" for k, v in limits if v is not None]
    if call is not None:
        args.append(f"call={call!r}")
    return f"{marker}({', '.join(args)})"


def who(index: int, total: int, call: LLMCall) -> str:
    """``call 2 of 3 (model)``; with what the call answered when that is more than plain chat:
    ``(model, tool call get_weather)``, ``(model, JSON answer)``, ``(model, text answer)`` for a
    call that was offered tools or asked for a format, ``(model, transcription)``."""
    if call.offered_tools or call.tool_calls or call.response_format or call.endpoint not in ("chat", "responses"):
        kind = "failed" if call.error and not call.tool_calls else call.answer_kind
        return f"call {index + 1} of {total} ({call.model}, {kind})"
    return f"call {index + 1} of {total} ({call.model})"


def roster(calls: Sequence[LLMCall]) -> str:
    """The calls a test made, compactly: ``1. llama-3.3-70b (tool call get_weather) 812 ms; ...``."""
    parts = []
    for i, c in enumerate(calls):
        e2e = c.e2e_ms
        timing = f" {fmt_ms(e2e)} ms" if e2e is not None else ""
        state = c.answer_kind if c.ok or c.abandoned else f"failed: {failure(c)}"
        parts.append(f"{i + 1}. {c.model} ({state}){timing}")
    return "; ".join(parts)


def agent_detail(wall: float, calls: Sequence[LLMCall]) -> str:
    """``agent wall 2,410 ms = 3 LLM calls 1,980 ms + 430 ms between them: 1. ...; 2. ...``."""
    llm = sum(c.wall_ms or 0.0 for c in calls)
    between = max(0.0, wall - llm)
    return (
        f"agent wall time {fmt_ms(wall)} ms (first call's start to last call's end) = {len(calls)} LLM call(s) "
        f"{fmt_ms(llm)} ms + {fmt_ms(between)} ms of the application's own time between them; {roster(calls)}"
    )


def why_missing(call: LLMCall, metric: str) -> str:
    """Why a call has no value for a latency metric (`` (...)``), or nothing when it is plain."""
    if metric == "client":
        return f" (no client split: {no_split(call)})"
    if call.replayed and not call.client_timing and metric not in ("server", "queue"):
        return (
            " (replayed from a cassette recorded without pytest-llmlatency: it holds no client timing; "
            "re-record it with --llm-record-mode=rewrite, or judge Groq's own timing with metric='server')"
        )
    if call.abandoned:
        return " (the client abandoned the stream before it ended: read the stream to the end to measure it)"
    if metric in ("server", "queue"):
        return " (the response's usage has no " + ("total_time" if metric == "server" else "queue_time") + ")"
    if metric == "ttft" and call.streamed:
        return " (the stream carried no content, reasoning or tool-call token)"
    return ""
