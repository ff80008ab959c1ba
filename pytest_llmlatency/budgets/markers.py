"""Markers -> validated budgets, and budgets judged on recorded calls.

Every marker takes keyword arguments only; a wrong one raises :class:`MarkerError`
naming the marker and the argument, and the plugin errors that test alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.calls import LLMCall, agent_spans, agent_wall_ms, percentile
from ..core.names import BUDGET_MARKERS, LATENCY_METRICS, LATENCY_SCOPES, MARKERS

__all__ = [
    "MARKERS",
    "Budget",
    "CacheShareBudget",
    "CallCountBudget",
    "CostBudget",
    "LatencyBudget",
    "MarkerError",
    "RealtimeBudget",
    "Repeat",
    "ServerTimeBudget",
    "ThroughputBudget",
    "TokenBudget",
    "Verdict",
    "budgets_for",
    "repeat_for",
]


class MarkerError(ValueError):
    """A marker with a bad argument; the message names the marker and the argument."""


NO_CALL_WHY = "(no chat-completions, Responses API or audio request went through httpx while it ran)"
"""Why a budget found no call; the plugin replaces it with the requests the test did make to
endpoints it does not measure, when there were some (``outcomes.name_unmeasured``)."""


def _check_kwargs(name: str, mark: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any]:
    if mark.args:
        raise MarkerError(
            f"@pytest.mark.{name} takes keyword arguments only, got positional {list(mark.args)!r}; "
            f"write e.g. @pytest.mark.{name}({allowed[0]}=...)"
        )
    kwargs = dict(mark.kwargs)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise MarkerError(f"@pytest.mark.{name} got unknown argument {unknown[0]!r}; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in kwargs:
            raise MarkerError(f"@pytest.mark.{name} needs the argument {key}=")
    return kwargs


def _positive(name: str, key: str, value: Any, *, integer: bool = False) -> float:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = "a positive integer" if integer else "a positive number"
        raise MarkerError(f"@pytest.mark.{name}: {key}= must be {kind}, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise MarkerError(f"@pytest.mark.{name}: {key}= is too large, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise MarkerError(f"@pytest.mark.{name}: {key}= must be > 0, got {value!r}")
    return number


def _percentile(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
        raise MarkerError(f"@pytest.mark.{name}: percentile= must be a number in (0, 100], got {value!r}")
    return float(value)


def _call_selector(name: str, value: Any) -> int | str | None:
    # plain int / str (an IntEnum or StrEnum member becomes its value): JSON-safe for xdist
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value:
        return str.__str__(value)
    raise MarkerError(
        f"@pytest.mark.{name}: call= must be an index into the test's calls (0 is the first, -1 "
        f"the last) or a model name, got {value!r}"
    )


@dataclass(frozen=True)
class Verdict:
    budget: str
    passed: bool
    message: str
    observed: float | None = None
    limit: float | None = None
    risk: bool = False
    """A predicted, not measured, breach that does not fail the test (reported as a risk)."""


class Budget:
    """A limit judged on the calls a test made."""

    marker: str = ""
    call: int | str | None = None

    def label(self) -> str:
        raise NotImplementedError

    def key(self) -> tuple[Any, ...]:
        """Budgets with the same key replace each other (the closest marker wins)."""
        return (self.marker, self.call)

    def select(self, calls: Sequence[LLMCall]) -> tuple[list[tuple[int, LLMCall]], str | None]:
        """The calls this budget judges, with their indices, or an explanation of why none."""
        indexed = list(enumerate(calls))
        if not indexed:
            return [], f"{self.label()}: the test made no LLM call {NO_CALL_WHY}"
        if isinstance(self.call, int):
            try:
                index = range(len(calls))[self.call]
            except IndexError:
                return [], f"{self.label()}: call={self.call} but the test made {len(calls)} LLM call(s)"
            indexed = [(index, calls[index])]
        elif isinstance(self.call, str):
            indexed = [(i, c) for i, c in indexed if c.model == self.call]
            if not indexed:
                models = sorted({c.model for c in calls})
                return [], f"{self.label()}: no LLM call to model {self.call!r}; the test called {models}"
        if any(c.prediction is not None for _, c in indexed):
            # answered from a recording with a predicted cost: judged by judge_predicted
            return [(i, c) for i, c in indexed if c.prediction is None and (c.ok or c.abandoned)], None
        failed = [(i, c) for i, c in indexed if not c.ok and not c.abandoned]
        usable = [(i, c) for i, c in indexed if c.ok or c.abandoned]
        if not usable:
            i, c = failed[-1]
            return [], f"{self.label()}: no LLM call succeeded; {_who(i, len(calls), c)} failed: {_failure(c)}"
        return usable, None

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        raise NotImplementedError


def _failure(call: LLMCall) -> str:
    attempts = f" after {len(call.attempts)} attempt(s)" if len(call.attempts) > 1 else ""
    if call.error:
        return f"{call.error}{attempts}"
    detail = call.attempts[-1].error if call.attempts else None
    return f"HTTP {call.status}{attempts}" + (f": {detail}" if detail else "")


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "?"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:,.1f}"


def explain(call: LLMCall) -> str:
    """e2e = TTFT (queue, prompt) + output tokens at a decode speed; the request's knobs."""
    parts = [f"e2e {_fmt(call.e2e_ms)} ms"]
    ttft = call.ttft_ms
    n = call.output_tokens
    server = []
    if call.queue_ms is not None:
        server.append(f"queue {_fmt(call.queue_ms)}")
    if call.prompt_ms is not None:
        server.append(f"prompt {_fmt(call.prompt_ms)}")
    if call.streamed and ttft is not None and call.e2e_ms is not None:
        decode = call.e2e_ms - ttft
        speed = call.output_tokens_per_s
        text = f" = TTFT {_fmt(ttft)} ms"
        notes = []
        if call.first_output in ("reasoning", "tool_call"):
            notes.append(f"first output: {call.first_output.replace('_', ' ')}")
        if server:
            notes.append(f"server {', '.join(server)}")
        if notes:
            text += f" ({'; '.join(notes)})"
        text += f" + {n if n is not None else '?'} tokens in {_fmt(decode)} ms"
        if speed:
            text += f" at {speed:,.0f} tok/s"
        parts[0] += text
    elif call.server_ms is not None:
        server.append(f"completion {_fmt(call.completion_ms)}")
        parts[0] += f", not streamed; server {', '.join(server)} for {n} tokens"
        if call.completion_ms:
            parts[0] += f" ({(call.completion_tokens or 0) / call.completion_ms * 1000:,.0f} tok/s)"
    tokens = []
    if call.reasoning_tokens:
        tokens.append(f"{call.reasoning_tokens} of the {call.completion_tokens} output tokens were reasoning")
    if call.finish_reason == "length":
        tokens.append("finish_reason=length: the answer was cut at the token cap")
    if call.tool_calls:
        tokens.append(
            f"{len(call.tool_calls)} tool call(s): "
            + ", ".join(
                f"{t.get('name') or '?'} ({t.get('arguments_chars', 0)} chars of arguments)" for t in call.tool_calls
            )
        )
    client = _client_note(call)
    if client:
        tokens.append(client)
    if call.abandoned:
        tokens.append("the stream was abandoned by the client")
    if call.retries:
        tokens.append(f"{call.retries} retr{'y' if call.retries == 1 else 'ies'}, backoff {_fmt(call.backoff_ms)} ms")
    text = parts[0]
    if tokens:
        text += "; " + "; ".join(tokens)
    return f"{text}; {call.describe_params()}"


CLIENT_NOTE_MS = 50.0
"""The client's share of e2e is named in explanations from this size (and a quarter of e2e) on."""


def _client_share(call: LLMCall, metric: str) -> float | None:
    """The client's own part of a metric: of TTFT, :attr:`~.calls.LLMCall.client_ttft_ms`; of
    e2e, wall and ``client``, :attr:`~.calls.LLMCall.client_stall_ms`; None when not measured."""
    if metric == "ttft":
        return call.client_ttft_ms
    if metric in ("e2e", "wall", "client"):
        return call.client_stall_ms
    return None


def _metric(call: LLMCall, name: str) -> float | None:
    """A latency budget's metric: ``client`` is the client's own share of e2e."""
    return call.client_stall_ms if name == "client" else call.metric(name)


def _no_split(call: LLMCall) -> str:
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
    text = f"~{_fmt(share)} ms of the e2e was the client {_reading(call)}"
    first = call.headers_to_first_read_ms
    if first is not None and first >= CLIENT_NOTE_MS:
        text += f" (its first read came {_fmt(first)} ms after the response headers)"
    return text


def _client_lead(call: LLMCall, metric: str, limit: float) -> str | None:
    """For a breach mostly on the client's side: ``TTFT 23,290 ms, of which ~23,270 ms was the
    client not reading the stream (response headers at 16 ms; Groq prompt time 5.6 ms)``, with
    what to do. None when the client's share is unknown or not the larger part of the breach."""
    value = _metric(call, metric)
    share = _client_share(call, metric)
    if value is None or share is None or share <= 0:
        return None
    holds = value - share <= limit
    if not holds and share < value / 2:
        return None
    name = "TTFT" if metric == "ttft" else metric
    context = [f"response headers at {_fmt(call.ttfb_ms)} ms"]
    first = call.headers_to_first_read_ms
    if first is not None and first >= 1:
        context.append(f"first read of the body {_fmt(first)} ms after them")
    groq = []
    if call.queue_ms is not None:
        groq.append(f"queue {_fmt(call.queue_ms)} ms")
    if metric == "ttft" and call.prompt_ms is not None:
        groq.append(f"prompt time {_fmt(call.prompt_ms)} ms")
    elif metric != "ttft" and call.server_ms is not None:
        groq.append(f"total time {_fmt(call.server_ms)} ms")
    if groq:
        context.append("Groq " + ", ".join(groq))
    text = f"{name} {_fmt(value)} ms, of which ~{_fmt(share)} ms was the client {_reading(call)} ({'; '.join(context)})"
    if holds:
        text += f"; without it, {_fmt(value - share)} ms would meet the budget"
    return (
        text + ". The application delayed reading the response (work, a sleep or a blocked event loop "
        "between the headers and its reads): read it as it arrives, or judge the server's part alone with "
        "exclude='client'"
    )


def _label(marker: str, limits: Iterable[tuple[str, float | None]], call: int | str | None) -> str:
    """``marker(key=value, ..., call=...)`` with the arguments that were given."""
    args = [f"{k}={v}" if isinstance(v, int) else f"{k}={v:g}" for k, v in limits if v is not None]
    if call is not None:
        args.append(f"call={call!r}")
    return f"{marker}({', '.join(args)})"


def _who(index: int, total: int, call: LLMCall) -> str:
    """``call 2 of 3 (model)``; with what the call answered when that is more than plain chat:
    ``(model, tool call get_weather)``, ``(model, JSON answer)``, ``(model, text answer)`` for a
    call that was offered tools or asked for a format, ``(model, transcription)``."""
    if call.offered_tools or call.tool_calls or call.response_format or call.endpoint not in ("chat", "responses"):
        kind = "failed" if call.error and not call.tool_calls else call.answer_kind
        return f"call {index + 1} of {total} ({call.model}, {kind})"
    return f"call {index + 1} of {total} ({call.model})"


def _roster(calls: Sequence[LLMCall]) -> str:
    """The calls a test made, compactly: ``1. llama-3.3-70b (tool call get_weather) 812 ms; ...``."""
    parts = []
    for i, c in enumerate(calls):
        e2e = c.e2e_ms
        timing = f" {_fmt(e2e)} ms" if e2e is not None else ""
        state = c.answer_kind if c.ok or c.abandoned else f"failed: {_failure(c)}"
        parts.append(f"{i + 1}. {c.model} ({state}){timing}")
    return "; ".join(parts)


@dataclass(frozen=True)
class LatencyBudget(Budget):
    ms: float
    metric: str = "e2e"
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "max_latency"
    scope: str = "call"
    """``call``: every call (or the percentile over calls) is judged; ``test``: the agent wall
    time, first call's start to last call's end (:func:`calls.agent_wall_ms`)."""
    exclude: tuple[str, ...] = ()
    """``("queue",)``: judge the metric minus Groq's reported queue time (Groq's load, not the
    application's latency); ``("client",)``: minus the client's own share (time it held the
    response unread beyond the server's pace)."""

    def key(self) -> tuple[Any, ...]:
        return ("latency", self.metric, self.call, self.scope)

    def value(self, call: LLMCall) -> float | None:
        """The judged value of one call: the metric, less what ``exclude`` leaves out. None when
        the queue time to leave out is unknown; a call without a client split (replayed, not
        streamed) is judged whole, and its message says so."""
        value = _metric(call, self.metric)
        if value is None:
            return None
        if "queue" in self.exclude:
            if call.queue_ms is None:
                return None
            value = max(0.0, value - call.queue_ms)
        share = _client_share(call, self.metric) if "client" in self.exclude else None
        return value if share is None else max(0.0, value - share)

    def label(self) -> str:
        args = [f"ms={self.ms:g}"]
        if self.marker == "max_latency" and self.metric != "e2e":
            args.append(f"metric={self.metric!r}")
        if self.scope != "call":
            args.append(f"scope={self.scope!r}")
        if self.percentile is not None:
            args.append(f"percentile={self.percentile:g}")
        if self.call is not None:
            args.append(f"call={self.call!r}")
        if self.exclude:
            args.append(f"exclude={self.exclude[0]!r}" if len(self.exclude) == 1 else f"exclude={list(self.exclude)!r}")
        return f"{self.marker}({', '.join(args)})"

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        if self.scope == "test":
            return self._judge_test(calls)
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        missing = [(i, c) for i, c in selected if _metric(c, self.metric) is None]
        if missing:
            i, c = missing[0]
            return [
                Verdict(
                    self.label(),
                    False,
                    f"{self.label()}: {_who(i, len(calls), c)} has no "
                    f"{self.metric} timing{_why_missing(c, self.metric)}",
                )
            ]
        no_queue = [(i, c) for i, c in selected if self.value(c) is None]
        if no_queue:
            i, c = no_queue[0]
            return [
                Verdict(
                    self.label(),
                    False,
                    f"{self.label()}: {_who(i, len(calls), c)} reported no usage.queue_time, so its queue time "
                    "cannot be left out (a server other than Groq, or a recording without it); drop exclude= "
                    "to judge the whole latency",
                )
            ]
        if self.percentile is not None:
            samples = [self.value(c) or 0.0 for _, c in selected]
            value = percentile(samples, self.percentile)
            ok = value <= self.ms
            msg = (
                f"{self.label()} {'met' if ok else 'exceeded'}: p{self.percentile:g} {self.metric} "
                f"{_fmt(value)} ms over {len(samples)} call(s) (p50 {_fmt(percentile(samples, 50))}, "
                f"max {_fmt(max(samples))})"
            )
            if not ok:
                worst_i, worst = max(selected, key=lambda ic: self.value(ic[1]) or 0.0)
                msg += f"; slowest, {_who(worst_i, len(calls), worst)}: {self._detail(worst, ok)}"
            return [Verdict(self.label(), ok, msg, value, self.ms)]
        verdicts = []
        for i, c in selected:
            value = self.value(c) or 0.0
            ok = value <= self.ms
            head = f"{self.label()} {'met' if ok else 'exceeded'} by {_who(i, len(calls), c)}: "
            verdicts.append(Verdict(self.label(), ok, head + self._detail(c, ok), value, self.ms))
        return verdicts

    def _detail(self, call: LLMCall, ok: bool) -> str:
        """How one call's judged value came about: what was left out; a breach that is mostly
        the client's own time says so first."""
        value = self.value(call) or 0.0
        if self.metric == "client":
            first = call.headers_to_first_read_ms
            where = f"; its first read came {_fmt(first)} ms after the response headers" if first is not None else ""
            return (
                f"the client held the response unread for ~{_fmt(value)} ms beyond the server's pace"
                f"{where}; {explain(call)}"
            )
        less = []
        if "queue" in self.exclude:
            less.append(f"less queue {_fmt(call.queue_ms)} ms")
        split = ""
        if "client" in self.exclude:
            share = _client_share(call, self.metric)
            if share is None:
                split = f" (no client split to leave out: {_no_split(call)}; judged whole)"
            else:
                less.append(f"less the client's own {_fmt(share)} ms")
        if less or split:
            raw = _metric(call, self.metric)
            text = f"{self.metric} {_fmt(raw)} ms"
            if less:
                text += f" {' and '.join(less)} = {_fmt(value)} ms"
            return f"{text}{split}; {explain(call)}"
        lead = None if ok else _client_lead(call, self.metric, self.ms)
        if lead:
            return f"{lead}; {explain(call)}"
        return (
            explain(call)
            if self.metric in ("e2e", "ttft", "wall")
            else f"{self.metric} {_fmt(value)} ms; {explain(call)}"
        )

    def _judge_test(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        """The agent wall time of the whole test (each ``llm_repeat`` iteration)."""
        if not calls:
            return [Verdict(self.label(), False, f"{self.label()}: the test made no LLM call {NO_CALL_WHY}")]
        walls = agent_wall_ms(calls)
        untimed = [i for i, span in enumerate(agent_spans(calls)) if span is None]
        if untimed:
            i = untimed[0]
            return [
                Verdict(
                    self.label(),
                    False,
                    f"{self.label()}: {_who(i, len(calls), calls[i])} has no client timing, so the test's agent "
                    f"wall time is unknown{_why_missing(calls[i], 'e2e')}",
                )
            ]
        by_iteration: dict[int, list[LLMCall]] = {}
        for c in calls:
            by_iteration.setdefault(c.iteration, []).append(c)
        if self.percentile is not None and len(walls) > 1:
            samples = list(walls.values())
            value = percentile(samples, self.percentile)
            ok = value <= self.ms
            msg = (
                f"{self.label()} {'met' if ok else 'exceeded'}: p{self.percentile:g} agent wall time "
                f"{_fmt(value)} ms over {len(samples)} run(s) (max {_fmt(max(samples))})"
            )
            if not ok:
                worst = max(walls, key=lambda it: walls[it])
                msg += f"; slowest run: {_agent_detail(walls[worst], by_iteration[worst])}"
            return [Verdict(self.label(), ok, msg, value, self.ms)]
        verdicts = []
        for iteration, wall in walls.items():
            ok = wall <= self.ms
            run = f" in run {iteration + 1}" if len(walls) > 1 else ""
            head = f"{self.label()} {'met' if ok else 'exceeded'}{run}: "
            verdicts.append(
                Verdict(self.label(), ok, head + _agent_detail(wall, by_iteration[iteration]), wall, self.ms)
            )
        return verdicts


def _agent_detail(wall: float, calls: Sequence[LLMCall]) -> str:
    """``agent wall 2,410 ms = 3 LLM calls 1,980 ms + 430 ms between them: 1. ...; 2. ...``."""
    llm = sum(c.wall_ms or 0.0 for c in calls)
    between = max(0.0, wall - llm)
    return (
        f"agent wall time {_fmt(wall)} ms (first call's start to last call's end) = {len(calls)} LLM call(s) "
        f"{_fmt(llm)} ms + {_fmt(between)} ms of the application's own time between them; {_roster(calls)}"
    )


def _why_missing(call: LLMCall, metric: str) -> str:
    if metric == "client":
        return f" (no client split: {_no_split(call)})"
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


class _LimitsBudget(Budget):
    """A budget of several upper limits on one call each (tokens, Groq's server times):
    one verdict per call and given limit."""

    def limits(self) -> list[tuple[str, float | None]]:
        """(argument name, limit) in marker order."""
        raise NotImplementedError

    def value(self, call: LLMCall, name: str) -> float | None:
        raise NotImplementedError

    def missing(self, call: LLMCall, name: str) -> str:
        """Why the call has no value for this limit."""
        raise NotImplementedError

    def verdict_text(self, call: LLMCall, name: str, value: float, limit: float, ok: bool) -> str:
        raise NotImplementedError

    def label(self) -> str:
        return _label(self.marker, self.limits(), self.call)

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        verdicts = []
        for i, c in selected:
            for name, limit in self.limits():
                if limit is None:
                    continue
                value = self.value(c, name)
                if value is None:
                    verdicts.append(
                        Verdict(
                            self.label(), False, f"{self.label()}: {_who(i, len(calls), c)} {self.missing(c, name)}"
                        )
                    )
                    continue
                ok = value <= limit
                head = f"{self.label()} {'met' if ok else 'exceeded'} by {_who(i, len(calls), c)}: "
                text = head + self.verdict_text(c, name, value, limit, ok) + f"; {c.describe_params()}"
                verdicts.append(Verdict(self.label(), ok, text, float(value), float(limit)))
        return verdicts


@dataclass(frozen=True)
class TokenBudget(_LimitsBudget):
    prompt: int | None = None
    completion: int | None = None
    reasoning: int | None = None
    total: int | None = None
    call: int | str | None = None
    marker: str = "max_tokens"

    def limits(self) -> list[tuple[str, float | None]]:
        return [
            ("prompt", self.prompt),
            ("completion", self.completion),
            ("reasoning", self.reasoning),
            ("total", self.total),
        ]

    def value(self, call: LLMCall, name: str) -> float | None:
        value: int | None = getattr(call, f"{name}_tokens")
        return value

    def missing(self, call: LLMCall, name: str) -> str:
        why = (
            "the stream was abandoned before its final chunk, which carries usage"
            if call.abandoned
            else "the response had no usage"
        )
        return f"reported no {name}_tokens ({why})"

    def verdict_text(self, call: LLMCall, name: str, value: float, limit: float, ok: bool) -> str:
        text = f"{name}_tokens {value:,.0f} {'<=' if ok else '>'} {limit:,.0f}"
        if name == "completion" and call.reasoning_tokens:
            text += f" (reasoning {call.reasoning_tokens:,})"
        return text + f"; finish_reason={call.finish_reason}"


@dataclass(frozen=True)
class ThroughputBudget(Budget):
    tokens_per_s: float
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "min_throughput"

    def label(self) -> str:
        args = [f"tokens_per_s={self.tokens_per_s:g}"]
        if self.percentile is not None:
            args.append(f"percentile={self.percentile:g}")
        if self.call is not None:
            args.append(f"call={self.call!r}")
        return f"min_throughput({', '.join(args)})"

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        rated = [(i, c, c.output_tokens_per_s) for i, c in selected]
        missing = [(i, c) for i, c, v in rated if v is None]
        if missing:
            i, c = missing[0]
            return [
                Verdict(
                    self.label(),
                    False,
                    f"{self.label()}: {_who(i, len(calls), c)} has no throughput "
                    "(fewer than two output tokens, or no token count)",
                )
            ]
        if self.percentile is not None:
            # the p-th percentile of slowness: the (100 - p)-th percentile of speed
            samples = [v or 0.0 for _, _, v in rated]
            value = percentile(samples, 100 - self.percentile)
            ok = value >= self.tokens_per_s
            return [
                Verdict(
                    self.label(),
                    ok,
                    f"{self.label()} {'met' if ok else 'missed'}: "
                    f"p{self.percentile:g} (slowest side) {value:,.0f} tok/s over {len(samples)} call(s)",
                    value,
                    self.tokens_per_s,
                )
            ]
        verdicts = []
        for i, c, v in rated:
            value = v or 0.0
            ok = value >= self.tokens_per_s
            verdicts.append(
                Verdict(
                    self.label(),
                    ok,
                    f"{self.label()} {'met' if ok else 'missed'} by "
                    f"{_who(i, len(calls), c)}: {value:,.0f} tok/s; {explain(c)}",
                    value,
                    self.tokens_per_s,
                )
            )
        return verdicts


@dataclass(frozen=True)
class CallCountBudget(Budget):
    """At most ``n`` LLM calls per test run: an agent that loops more often is slower."""

    n: int
    marker: str = "max_calls"

    def key(self) -> tuple[Any, ...]:
        return (self.marker,)

    def label(self) -> str:
        return f"max_calls(n={self.n})"

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        by_iteration: dict[int, list[LLMCall]] = {}
        for c in calls:
            by_iteration.setdefault(c.iteration, []).append(c)
        if not by_iteration:
            by_iteration[0] = []
        verdicts = []
        for iteration, made in by_iteration.items():
            ok = len(made) <= self.n
            run = f" in run {iteration + 1}" if len(by_iteration) > 1 else ""
            tools = [name for c in made for name in c.tool_names]
            text = (
                f"{self.label()} {'met' if ok else 'exceeded'}{run}: the test made {len(made)} LLM call(s)"
                + (f" (the agent took {len(made) - self.n} more step(s) than allowed)" if not ok else "")
                + (f", {len(tools)} tool call(s): {', '.join(tools)}" if tools else "")
                + (f"; {_roster(made)}" if made else "")
            )
            verdicts.append(Verdict(self.label(), ok, text, float(len(made)), float(self.n)))
        return verdicts


AUDIO_ENDPOINTS = ("transcription", "translation", "speech")


@dataclass(frozen=True)
class RealtimeBudget(Budget):
    """Audio calls: seconds of audio per second of latency at least ``x``."""

    x: float
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "min_realtime_factor"

    def label(self) -> str:
        return _label(self.marker, [("x", self.x), ("percentile", self.percentile)], self.call)

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        if self.call is None:
            selected = [(i, c) for i, c in selected if c.endpoint in AUDIO_ENDPOINTS]
            if not selected:
                kinds = sorted({c.endpoint for c in calls})
                return [
                    Verdict(
                        self.label(),
                        False,
                        f"{self.label()}: the test made no audio call (transcription, translation or speech) "
                        f"that succeeded; its calls went to: {', '.join(kinds)}",
                    )
                ]
        rated = [(i, c, c.realtime_factor) for i, c in selected]
        missing = [(i, c) for i, c, v in rated if v is None]
        if missing:
            i, c = missing[0]
            why = (
                "it sent no audio whose length is known (a WAV file, or a response with duration)"
                if c.endpoint in AUDIO_ENDPOINTS
                else "it is not an audio call"
            )
            return [
                Verdict(
                    self.label(),
                    False,
                    f"{self.label()}: {_who(i, len(calls), c)} has no real-time factor: "
                    + (why if c.e2e_ms is not None else f"it has no e2e timing{_why_missing(c, 'e2e')}"),
                )
            ]
        if self.percentile is not None:
            samples = [v or 0.0 for _, _, v in rated]
            value = percentile(samples, 100 - self.percentile)
            ok = value >= self.x
            return [
                Verdict(
                    self.label(),
                    ok,
                    f"{self.label()} {'met' if ok else 'missed'}: p{self.percentile:g} (slowest side) "
                    f"{value:,.1f}x real time over {len(samples)} call(s)",
                    value,
                    self.x,
                )
            ]
        verdicts = []
        for i, c, v in rated:
            value = v or 0.0
            ok = value >= self.x
            audio = c.audio_seconds if c.audio_seconds is not None else c.output_audio_seconds
            verdicts.append(
                Verdict(
                    self.label(),
                    ok,
                    f"{self.label()} {'met' if ok else 'missed'} by {_who(i, len(calls), c)}: {value:,.1f}x real "
                    f"time = {audio or 0:,.2f} s of audio / e2e {_fmt(c.e2e_ms)} ms; {c.describe_params()}",
                    value,
                    self.x,
                )
            )
        return verdicts


def _usd(value: float) -> str:
    return f"${value:.6f}".rstrip("0").rstrip(".") if value < 0.01 else f"${value:,.4f}"


@dataclass(frozen=True)
class CostBudget(Budget):
    """``max_cost(usd=..., scope='call'|'test', percentile=None, call=None)``: each call's cost (or
    the percentile over calls), or the test's total per ``llm_repeat`` run, at Groq's prices."""

    usd: float
    scope: str = "call"
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "max_cost"

    def key(self) -> tuple[Any, ...]:
        return ("cost", self.call, self.scope)

    def label(self) -> str:
        args = [f"usd={self.usd:g}"]
        if self.scope != "call":
            args.append(f"scope={self.scope!r}")
        if self.percentile is not None:
            args.append(f"percentile={self.percentile:g}")
        if self.call is not None:
            args.append(f"call={self.call!r}")
        return f"max_cost({', '.join(args)})"

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        costs = [(i, c, c.cost()) for i, c in selected]
        unknown = [(i, c, why) for i, c, (v, why) in costs if v is None]
        if unknown:
            i, c, why = unknown[0]
            return [Verdict(self.label(), False, f"{self.label()}: {_who(i, len(calls), c)}: {why}")]
        if self.scope == "test":
            runs: dict[int, float] = {}
            for _, c, (v, _why) in costs:
                runs[c.iteration] = runs.get(c.iteration, 0.0) + (v or 0.0)
            if self.percentile is not None and len(runs) > 1:
                value = percentile(list(runs.values()), self.percentile)
                ok = value <= self.usd
                text = f"p{self.percentile:g} test cost {_usd(value)} over {len(runs)} run(s)"
                return [
                    Verdict(self.label(), ok, f"{self.label()} {'met' if ok else 'exceeded'}: {text}", value, self.usd)
                ]
            out = []
            for iteration, value in runs.items():
                ok = value <= self.usd
                run = f" in run {iteration + 1}" if len(runs) > 1 else ""
                parts = "; ".join(
                    f"{i + 1}. {c.model} {_usd(v or 0.0)}" for i, c, (v, _w) in costs if c.iteration == iteration
                )
                text = f"{self.label()} {'met' if ok else 'exceeded'}{run}: test cost {_usd(value)} = {parts}"
                out.append(Verdict(self.label(), ok, text, value, self.usd))
            return out
        if self.percentile is not None:
            samples = [v or 0.0 for _, _, (v, _w) in costs]
            value = percentile(samples, self.percentile)
            ok = value <= self.usd
            text = (
                f"{self.label()} {'met' if ok else 'exceeded'}: p{self.percentile:g} cost {_usd(value)} over "
                f"{len(samples)} call(s) (max {_usd(max(samples))})"
            )
            return [Verdict(self.label(), ok, text, value, self.usd)]
        verdicts = []
        for i, c, (v, why) in costs:
            value = v or 0.0
            ok = value <= self.usd
            detail = f"cost {_usd(value)} ({why}): {c.prompt_tokens} prompt tokens"
            if c.cached_tokens:
                detail += f" ({c.cached_tokens} cached)"
            detail += f", {c.completion_tokens} completion tokens"
            head = f"{self.label()} {'met' if ok else 'exceeded'} by {_who(i, len(calls), c)}: "
            verdicts.append(Verdict(self.label(), ok, head + detail + f"; {c.describe_params()}", value, self.usd))
        return verdicts


@dataclass(frozen=True)
class CacheShareBudget(Budget):
    """``min_cache_share(p, percentile=None, call=None)``: the share of each call's prompt that
    Groq's prompt cache served (cached_tokens / prompt_tokens) must be at least p."""

    share: float
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "min_cache_share"

    def key(self) -> tuple[Any, ...]:
        return ("cache_share", self.call)

    def label(self) -> str:
        args = [f"{self.share:g}"]
        if self.percentile is not None:
            args.append(f"percentile={self.percentile:g}")
        if self.call is not None:
            args.append(f"call={self.call!r}")
        return f"min_cache_share({', '.join(args)})"

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        missing = [(i, c) for i, c in selected if c.cached_share is None]
        if missing:
            i, c = missing[0]
            why = "the response reported no usage.prompt_tokens, so its cached share is unknown"
            return [Verdict(self.label(), False, f"{self.label()}: {_who(i, len(calls), c)}: {why}")]
        if self.percentile is not None:
            # the p-th percentile of coldness: the (100 - p)-th percentile of the share
            samples = [c.cached_share or 0.0 for _, c in selected]
            value = percentile(samples, 100 - self.percentile)
            ok = value >= self.share
            text = (
                f"{self.label()} {'met' if ok else 'missed'}: p{self.percentile:g} (coldest side) cached share "
                f"{value:.0%} over {len(samples)} call(s)"
            )
            return [Verdict(self.label(), ok, text, value, self.share)]
        verdicts = []
        for i, c in selected:
            value = c.cached_share or 0.0
            ok = value >= self.share
            text = (
                f"{self.label()} {'met' if ok else 'missed'} by {_who(i, len(calls), c)}: {c.cached_tokens or 0} of "
                f"{c.prompt_tokens} prompt tokens cached ({value:.0%}); Groq prompt time {_fmt(c.prompt_ms)} ms"
            )
            if not ok:
                text += (
                    "; a cold cache: Groq caches a prompt prefix it saw in the last 2 hours, best effort, on "
                    "the models that support prompt caching (warm it with llm_repeat(warmup=1) and keep the "
                    "prompt's start identical)"
                )
            verdicts.append(Verdict(self.label(), ok, text, value, self.share))
        return verdicts


_SERVER_FIELDS = {
    "queue_ms": ("queue_ms", "queue_time"),
    "prompt_ms": ("prompt_ms", "prompt_time"),
    "completion_ms": ("completion_ms", "completion_time"),
    "total_ms": ("server_ms", "total_time"),
}


@dataclass(frozen=True)
class ServerTimeBudget(_LimitsBudget):
    queue_ms: float | None = None
    prompt_ms: float | None = None
    completion_ms: float | None = None
    total_ms: float | None = None
    call: int | str | None = None
    marker: str = "max_server_time"

    def limits(self) -> list[tuple[str, float | None]]:
        return [
            ("queue_ms", self.queue_ms),
            ("prompt_ms", self.prompt_ms),
            ("completion_ms", self.completion_ms),
            ("total_ms", self.total_ms),
        ]

    def value(self, call: LLMCall, name: str) -> float | None:
        value: float | None = getattr(call, _SERVER_FIELDS[name][0])
        return value

    def missing(self, call: LLMCall, name: str) -> str:
        return f"reported no usage.{_SERVER_FIELDS[name][1]}"

    def verdict_text(self, call: LLMCall, name: str, value: float, limit: float, ok: bool) -> str:
        text = f"Groq {_SERVER_FIELDS[name][1]} {_fmt(value)} ms {'<=' if ok else '>'} {limit:g} ms"
        if name in ("completion_ms", "total_ms"):
            text += f" for {call.completion_tokens} output tokens"
        return text


@dataclass(frozen=True)
class BaselineOptions:
    tolerance: tuple[str, ...] | None = None
    compare: bool = True


def baseline_options_for(mark: Any) -> BaselineOptions | None:
    """``llm_baseline(tolerance=..., compare=...)``; the thresholds are parsed by the gate."""
    if mark is None:
        return None
    kw = _check_kwargs("llm_baseline", mark, ["tolerance", "compare"])
    tolerance = kw.get("tolerance")
    parts: tuple[str, ...] | None
    if tolerance is None:
        parts = None
    elif isinstance(tolerance, str):
        parts = (tolerance,)
    elif isinstance(tolerance, (list, tuple)) and all(isinstance(t, str) for t in tolerance):
        parts = tuple(tolerance)
    elif isinstance(tolerance, dict) and all(isinstance(k, str) for k in tolerance):
        parts = tuple(f"{k}:{v}" for k, v in tolerance.items())
    else:
        raise MarkerError(
            "@pytest.mark.llm_baseline: tolerance= must be a string like 'e2e:25%', a list of them, or a "
            f"dict like {{'e2e': '25%'}}, got {tolerance!r}"
        )
    if parts is not None:
        from ..gate.baseline import BaselineError, parse_thresholds

        try:
            parse_thresholds(parts, source="@pytest.mark.llm_baseline: tolerance=")
        except BaselineError as err:
            raise MarkerError(str(err)) from None
    compare = kw.get("compare", True)
    if not isinstance(compare, bool):
        raise MarkerError(f"@pytest.mark.llm_baseline: compare= must be True or False, got {compare!r}")
    return BaselineOptions(tolerance=parts, compare=compare)


@dataclass(frozen=True)
class Repeat:
    n: int
    warmup: int = 0


EXCLUDABLE = ("queue", "client")
_EXCLUDE_METRICS = {"queue": ("e2e", "ttft", "ttfb", "wall"), "client": ("e2e", "ttft", "wall")}


def _exclude(name: str, value: Any, metric: str, scope: str) -> tuple[str, ...]:
    """``exclude="queue"``, ``"client"`` or a list of them: leave Groq's queue time, or the
    client's own share (time it held the response unread), out of the latency."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(v, str) for v in items):
        raise MarkerError(f"@pytest.mark.{name}: exclude= must be 'queue', 'client' or a list of them, got {value!r}")
    unknown = [v for v in items if v not in EXCLUDABLE]
    if unknown:
        raise MarkerError(
            f"@pytest.mark.{name}: exclude= can leave out 'queue' (Groq's queue time) or 'client' (the "
            f"client's own time not reading the response), got {unknown[0]!r}"
        )
    for item in items:
        if metric in _EXCLUDE_METRICS[item]:
            continue
        if item == "queue":
            why = "holds no queue time to leave out"
        elif metric == "client":
            why = "is the client's time alone: there is nothing left once it is left out"
        elif metric == "ttfb":
            why = "holds no client time to leave out (the headers arrive before the client reads the body)"
        else:
            why = "holds no client time to leave out (it is Groq's own timing)"
        raise MarkerError(
            f"@pytest.mark.{name}: exclude={item!r} applies to {', '.join(_EXCLUDE_METRICS[item])}; "
            f"metric={metric!r} {why}"
        )
    if scope != "call":
        raise MarkerError(f"@pytest.mark.{name}: exclude={items[0]!r} judges each call; it takes no scope={scope!r}")
    return tuple(dict.fromkeys(str.__str__(v) for v in items))


def _parse(mark: Any) -> Budget | None:
    name = mark.name
    if name in ("max_latency", "max_ttft"):
        allowed = (
            ["ms", "metric", "percentile", "call", "scope", "exclude"]
            if name == "max_latency"
            else ["ms", "percentile", "call", "exclude"]
        )
        kw = _check_kwargs(name, mark, allowed, ["ms"])
        metric = kw.get("metric", "e2e") if name == "max_latency" else "ttft"
        if not isinstance(metric, str) or metric not in LATENCY_METRICS:
            raise MarkerError(
                f"@pytest.mark.{name}: metric= must be one of {', '.join(LATENCY_METRICS)}, got {metric!r}"
            )
        scope = kw.get("scope", "call")
        if not isinstance(scope, str) or scope not in LATENCY_SCOPES:
            raise MarkerError(
                f"@pytest.mark.{name}: scope= must be one of {', '.join(map(repr, LATENCY_SCOPES))}, got {scope!r}"
            )
        scope = str.__str__(scope)
        if scope == "test" and metric != "e2e":
            raise MarkerError(
                f"@pytest.mark.{name}: scope='test' judges the agent wall time (first call's start to last "
                f"call's end); it takes no metric=, got metric={metric!r}"
            )
        if scope == "test" and kw.get("call") is not None:
            raise MarkerError(
                f"@pytest.mark.{name}: scope='test' judges all the test's calls together; it takes no call=, "
                f"got call={kw['call']!r}"
            )
        return LatencyBudget(
            ms=_positive(name, "ms", kw["ms"]),
            metric=str.__str__(metric),
            percentile=_percentile(name, kw.get("percentile")),
            call=_call_selector(name, kw.get("call")),
            marker=name,
            scope=scope,
            exclude=_exclude(name, kw.get("exclude"), str.__str__(metric), scope),
        )
    if name == "max_calls":
        kw = _check_kwargs(name, mark, ["n"], ["n"])
        return CallCountBudget(n=int(_positive(name, "n", kw["n"], integer=True)))
    if name == "min_realtime_factor":
        kw = _check_kwargs(name, mark, ["x", "percentile", "call"], ["x"])
        return RealtimeBudget(
            x=_positive(name, "x", kw["x"]),
            percentile=_percentile(name, kw.get("percentile")),
            call=_call_selector(name, kw.get("call")),
        )
    if name == "max_tokens":
        kinds = ["prompt", "completion", "reasoning", "total"]
        kw = _check_kwargs(name, mark, [*kinds, "call"])
        limits = {k: kw.get(k) for k in kinds}
        if all(v is None for v in limits.values()):
            raise MarkerError("@pytest.mark.max_tokens needs at least one of prompt=, completion=, reasoning=, total=")
        ints = {k: None if v is None else int(_positive(name, k, v, integer=True)) for k, v in limits.items()}
        return TokenBudget(
            prompt=ints["prompt"],
            completion=ints["completion"],
            reasoning=ints["reasoning"],
            total=ints["total"],
            call=_call_selector(name, kw.get("call")),
        )
    if name == "min_throughput":
        kw = _check_kwargs(name, mark, ["tokens_per_s", "percentile", "call"], ["tokens_per_s"])
        return ThroughputBudget(
            tokens_per_s=_positive(name, "tokens_per_s", kw["tokens_per_s"]),
            percentile=_percentile(name, kw.get("percentile")),
            call=_call_selector(name, kw.get("call")),
        )
    if name == "max_server_time":
        kinds = ["queue_ms", "prompt_ms", "completion_ms", "total_ms"]
        kw = _check_kwargs(name, mark, [*kinds, "call"])
        limits = {k: kw.get(k) for k in kinds}
        if all(v is None for v in limits.values()):
            raise MarkerError(
                "@pytest.mark.max_server_time needs at least one of queue_ms=, prompt_ms=, completion_ms=, total_ms="
            )
        ms = {k: None if v is None else _positive(name, k, v) for k, v in limits.items()}
        return ServerTimeBudget(
            queue_ms=ms["queue_ms"],
            prompt_ms=ms["prompt_ms"],
            completion_ms=ms["completion_ms"],
            total_ms=ms["total_ms"],
            call=_call_selector(name, kw.get("call")),
        )
    if name == "max_cost":
        kw = _check_kwargs(name, mark, ["usd", "scope", "percentile", "call"], ["usd"])
        scope = kw.get("scope", "call")
        if not isinstance(scope, str) or scope not in LATENCY_SCOPES:
            raise MarkerError(
                f"@pytest.mark.max_cost: scope= must be one of {', '.join(map(repr, LATENCY_SCOPES))}, got {scope!r}"
            )
        if scope == "test" and kw.get("call") is not None:
            raise MarkerError("@pytest.mark.max_cost: scope='test' sums all the test's calls; it takes no call=")
        return CostBudget(
            usd=_positive(name, "usd", kw["usd"]),
            scope=str.__str__(scope),
            percentile=_percentile(name, kw.get("percentile")),
            call=_call_selector(name, kw.get("call")),
        )
    if name == "min_cache_share":
        if len(mark.args) > 1 or (mark.args and "p" in mark.kwargs):
            raise MarkerError("@pytest.mark.min_cache_share takes one share, e.g. min_cache_share(0.8)")
        kw = dict(mark.kwargs)
        if mark.args:
            kw["p"] = mark.args[0]
        unknown = sorted(set(kw) - {"p", "percentile", "call"})
        if unknown:
            raise MarkerError(
                f"@pytest.mark.min_cache_share got unknown argument {unknown[0]!r}; allowed: p, percentile, call"
            )
        p = kw.get("p")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise MarkerError(
                f"@pytest.mark.min_cache_share: the share must be a number in (0, 1] (0.8 = 80 % of the prompt "
                f"tokens cached), got {p!r}"
            )
        return CacheShareBudget(
            share=float(p),
            percentile=_percentile(name, kw.get("percentile")),
            call=_call_selector(name, kw.get("call")),
        )
    return None


def judge_predicted(budget: Budget, calls: Sequence[LLMCall], nodeid: str) -> list[Verdict]:
    """Judge a budget on the predictions of calls answered from a changed request's closest
    recording. Under ``--llm-predict=fail`` (the default, for CI) green means proven: the budget
    passes only when it holds in the worst case of the predicted range; a possible breach
    ("risk") and a budget the prediction cannot judge fail, with the range and the command that
    re-records. ``--llm-predict=warn`` reports them as risks and passes."""
    selected, problem = _select_all(budget, calls)
    if problem:
        return []
    checks: list[tuple[str, float]] = []
    if isinstance(budget, LatencyBudget) and budget.metric in ("e2e", "ttft") and budget.scope == "call":
        checks.append((budget.metric, budget.ms))
    elif isinstance(budget, TokenBudget):
        checks += [
            (k, float(v))
            for k, v in (("completion", budget.completion), ("reasoning", budget.reasoning))
            if v is not None
        ]
    verdicts = []
    for i, c in selected:
        p = c.prediction or {}
        for kind, limit in checks:
            key = {"e2e": "e2e_ms", "ttft": "ttft_ms"}.get(kind, kind)
            pair = p.get(key)
            strict = p.get("mode") == "fail"
            rerecord = f"Re-record to measure it: pytest --llm-record-mode=rewrite {nodeid}"
            if not pair:
                text = (
                    f"{budget.label()} cannot be judged for {_who(i, len(calls), c)}: the change "
                    f"({p.get('diff')}) leaves its {kind} unpredicted ({p.get('text')})."
                )
                if strict:
                    text += f" Not proven, so not green (--llm-predict=fail; warn passes it). {rerecord}"
                else:
                    text += f" {rerecord}"
                verdicts.append(Verdict(budget.label(), not strict, text, risk=not strict))
                continue
            lo, hi = pair[0], float("inf") if pair[1] is None else pair[1]
            verdict = "breaks" if lo > limit else "risks" if hi > limit else "holds"
            head = (
                f"{budget.label()} {verdict.replace('breaks', 'is broken').replace('risks', 'is at risk')} "
                f"by {_who(i, len(calls), c)}, predicted, not measured: request changed since recording: "
                f"{p.get('diff')}; {p.get('text')}."
            )
            unit = " ms" if kind in ("e2e", "ttft") else " tokens"
            if verdict == "holds":
                verdicts.append(Verdict(budget.label(), True, f"{head} {rerecord}"))
            elif strict and verdict == "risks":
                worst = "is unbounded" if hi == float("inf") else f"{_fmt(hi)}{unit} exceeds {limit:g}{unit}"
                text = (
                    f"{head} Not proven: the worst case {worst}, so not green under --llm-predict=fail "
                    f"(--llm-predict=warn passes it). {rerecord}"
                )
                verdicts.append(Verdict(budget.label(), False, text, hi, limit))
            elif strict:
                verdicts.append(Verdict(budget.label(), False, f"{head} {rerecord}", lo, limit))
            else:
                verdicts.append(Verdict(budget.label(), True, f"{head} {rerecord}", lo, limit, risk=True))
    return verdicts


def _select_all(budget: Budget, calls: Sequence[LLMCall]) -> tuple[list[tuple[int, LLMCall]], str | None]:
    indexed = [(i, c) for i, c in enumerate(calls) if c.prediction is not None]
    if isinstance(budget.call, int):
        try:
            index = range(len(calls))[budget.call]
        except IndexError:
            return [], "out of range"
        indexed = [(i, c) for i, c in indexed if i == index]
    elif isinstance(budget.call, str):
        indexed = [(i, c) for i, c in indexed if c.model == budget.call]
    return indexed, None


def budgets_for(marks: Iterable[Any]) -> list[Budget]:
    """Budgets from an item's markers, closest first; a farther marker with the same
    key (same kind, metric and call) is overridden by the closer one."""
    seen: dict[tuple[Any, ...], Budget] = {}
    for mark in marks:
        if mark.name not in BUDGET_MARKERS:
            continue
        budget = _parse(mark)
        if budget is not None and budget.key() not in seen:
            seen[budget.key()] = budget
    # in the order a reader sees the decorators (pytest yields the bottom one first)
    return list(reversed(seen.values()))


def repeat_for(mark: Any) -> Repeat | None:
    if mark is None:
        return None
    kw = _check_kwargs("llm_repeat", mark, ["n", "warmup"], ["n"])
    n = int(_positive("llm_repeat", "n", kw["n"], integer=True))
    warmup = kw.get("warmup", 0)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise MarkerError(f"@pytest.mark.llm_repeat: warmup= must be an integer >= 0, got {warmup!r}")
    return Repeat(n=n, warmup=warmup)
