"""The budget kinds on how fast a test's LLM calls were: ``max_latency`` and its shorthand
``max_ttft``, ``min_throughput``, ``min_realtime_factor`` (audio) and ``max_calls`` (agent steps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.calls import LLMCall, agent_spans, agent_wall_ms, percentile
from ..core.names import LATENCY_METRICS
from .budget import Budget, Rated, Run, Verdict, by_run
from .explanations import (
    NO_CALL_WHY,
    agent_detail,
    client_lead,
    client_share,
    explain,
    fmt_ms,
    metric_value,
    no_split,
    roster,
    who,
    why_missing,
)
from .parsing import MarkerError, call_selector, percentile_arg, positive, scope_arg

__all__ = [
    "EXCLUDABLE",
    "AUDIO_ENDPOINTS",
    "CallCountBudget",
    "LatencyBudget",
    "RealtimeBudget",
    "ThroughputBudget",
    "TtftBudget",
]

EXCLUDABLE = ("queue", "client")
_EXCLUDE_METRICS = {"queue": ("e2e", "ttft", "ttfb", "wall"), "client": ("e2e", "ttft", "wall")}

AUDIO_ENDPOINTS = ("transcription", "translation", "speech")


@dataclass(frozen=True)
class LatencyBudget(Budget):
    """``max_latency(ms=..., metric='e2e', percentile=None, call=None, scope='call', exclude=None)``."""

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

    kind: ClassVar[str] = "latency"
    allowed: ClassVar[tuple[str, ...]] = ("ms", "metric", "percentile", "call", "scope", "exclude")
    required: ClassVar[tuple[str, ...]] = ("ms",)
    limit_field: ClassVar[str] = "ms"

    @classmethod
    def parse(cls, kw: dict[str, Any]) -> Budget:
        name = cls.marker
        metric = kw.get("metric", cls.metric)
        if not isinstance(metric, str) or metric not in LATENCY_METRICS:
            raise MarkerError(
                f"@pytest.mark.{name}: metric= must be one of {', '.join(LATENCY_METRICS)}, got {metric!r}"
            )
        scope = scope_arg(name, kw.get("scope", "call"))
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
        return cls(
            ms=positive(name, "ms", kw["ms"]),
            metric=str.__str__(metric),
            percentile=percentile_arg(name, kw.get("percentile")),
            call=call_selector(name, kw.get("call")),
            marker=name,
            scope=scope,
            exclude=_exclude(name, kw.get("exclude"), str.__str__(metric), scope),
        )

    def key(self) -> tuple[Any, ...]:
        return ("latency", self.metric, self.call, self.scope)

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

    def predicted_limits(self) -> list[tuple[str, float]]:
        return [(self.metric, self.ms)] if self.metric in ("e2e", "ttft") and self.scope == "call" else []

    def rate(self, call: LLMCall) -> float | None:
        """The judged value of one call: the metric, less what ``exclude`` leaves out. None when
        the metric, or the queue time to leave out, is unknown; a call without a client split
        (replayed, not streamed) is judged whole, and its message says so."""
        value = metric_value(call, self.metric)
        if value is None:
            return None
        if "queue" in self.exclude:
            if call.queue_ms is None:
                return None
            value = max(0.0, value - call.queue_ms)
        share = client_share(call, self.metric) if "client" in self.exclude else None
        return value if share is None else max(0.0, value - share)

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        return self._judge_test(calls) if self.scope == "test" else super().judge(calls)

    def first_unrated(self, values: Sequence[tuple[int, LLMCall, float | None]]) -> tuple[int, LLMCall] | None:
        """A call without the metric first, then one without the queue time to leave out."""
        no_metric = next(((i, c) for i, c, _ in values if metric_value(c, self.metric) is None), None)
        return no_metric or super().first_unrated(values)

    def unrated(self, call: LLMCall) -> str:
        if metric_value(call, self.metric) is None:
            return f" has no {self.metric} timing{why_missing(call, self.metric)}"
        return (
            " reported no usage.queue_time, so its queue time cannot be left out (a server other than Groq, "
            "or a recording without it); drop exclude= to judge the whole latency"
        )

    def percentile_text(self, value: float, rated: Sequence[Rated], calls: Sequence[LLMCall], ok: bool) -> str:
        samples = [v for _, _, v in rated]
        text = (
            f"{self.metric} {fmt_ms(value)} ms over {len(samples)} call(s) (p50 {fmt_ms(percentile(samples, 50))}, "
            f"max {fmt_ms(max(samples))})"
        )
        if not ok:
            worst_i, worst, worst_value = max(rated, key=lambda icv: icv[2])
            text += f"; slowest, {who(worst_i, len(calls), worst)}: {self.call_text(worst, worst_value, ok)}"
        return text

    def call_text(self, call: LLMCall, value: float, ok: bool) -> str:
        """How one call's judged value came about: what was left out; a breach that is mostly
        the client's own time says so first."""
        if self.metric == "client":
            first = call.headers_to_first_read_ms
            where = f"; its first read came {fmt_ms(first)} ms after the response headers" if first is not None else ""
            return (
                f"the client held the response unread for ~{fmt_ms(value)} ms beyond the server's pace"
                f"{where}; {explain(call)}"
            )
        if self.exclude:
            return f"{self._excluded(call, value)}; {explain(call)}"
        lead = None if ok else client_lead(call, self.metric, self.ms)
        if lead:
            return f"{lead}; {explain(call)}"
        return (
            explain(call)
            if self.metric in ("e2e", "ttft", "wall")
            else f"{self.metric} {fmt_ms(value)} ms; {explain(call)}"
        )

    def _excluded(self, call: LLMCall, value: float) -> str:
        """``e2e 1,200 ms less queue 300 ms = 900 ms``, or why there was no client split."""
        less = []
        if "queue" in self.exclude:
            less.append(f"less queue {fmt_ms(call.queue_ms)} ms")
        split = ""
        if "client" in self.exclude:
            share = client_share(call, self.metric)
            if share is None:
                split = f" (no client split to leave out: {no_split(call)}; judged whole)"
            else:
                less.append(f"less the client's own {fmt_ms(share)} ms")
        text = f"{self.metric} {fmt_ms(metric_value(call, self.metric))} ms"
        if less:
            text += f" {' and '.join(less)} = {fmt_ms(value)} ms"
        return text + split

    def _judge_test(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        """The agent wall time of the whole test (each ``llm_repeat`` iteration)."""
        if not calls:
            return [Verdict(self.label(), False, f"{self.label()}: the test made no LLM call {NO_CALL_WHY}")]
        untimed = [i for i, span in enumerate(agent_spans(calls)) if span is None]
        if untimed:
            i = untimed[0]
            text = (
                f"{self.label()}: {who(i, len(calls), calls[i])} has no client timing, so the test's agent "
                f"wall time is unknown{why_missing(calls[i], 'e2e')}"
            )
            return [Verdict(self.label(), False, text)]
        return self.judge_runs(agent_wall_ms(calls), by_run(enumerate(calls)))

    def runs_text(self, value: float, runs: dict[int, float], members: Mapping[int, Run], ok: bool) -> str:
        text = f"agent wall time {fmt_ms(value)} ms over {len(runs)} run(s) (max {fmt_ms(max(runs.values()))})"
        if not ok:
            worst = max(runs, key=lambda it: runs[it])
            text += f"; slowest run: {self.run_text(runs[worst], members[worst], ok)}"
        return text

    def run_text(self, value: float, run: Run, ok: bool) -> str:
        return agent_detail(value, [c for _, c in run])


@dataclass(frozen=True)
class TtftBudget(LatencyBudget):
    """``max_ttft(ms=..., percentile=None, call=None, exclude=None)``: shorthand for
    ``max_latency(metric='ttft')``; the two override each other (same key)."""

    metric: str = "ttft"
    marker: str = "max_ttft"

    allowed: ClassVar[tuple[str, ...]] = ("ms", "percentile", "call", "exclude")


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
        if metric not in _EXCLUDE_METRICS[item]:
            raise MarkerError(
                f"@pytest.mark.{name}: exclude={item!r} applies to {', '.join(_EXCLUDE_METRICS[item])}; "
                f"metric={metric!r} {_nothing_to_exclude(item, metric)}"
            )
    if scope != "call":
        raise MarkerError(f"@pytest.mark.{name}: exclude={items[0]!r} judges each call; it takes no scope={scope!r}")
    return tuple(dict.fromkeys(str.__str__(v) for v in items))


def _nothing_to_exclude(item: str, metric: str) -> str:
    """Why ``metric`` has no part ``item`` to leave out."""
    if item == "queue":
        return "holds no queue time to leave out"
    if metric == "client":
        return "is the client's time alone: there is nothing left once it is left out"
    if metric == "ttfb":
        return "holds no client time to leave out (the headers arrive before the client reads the body)"
    return "holds no client time to leave out (it is Groq's own timing)"


@dataclass(frozen=True)
class ThroughputBudget(Budget):
    """``min_throughput(tokens_per_s=..., percentile=None, call=None)``: output tokens per second."""

    tokens_per_s: float
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "min_throughput"

    kind: ClassVar[str] = "throughput"
    allowed: ClassVar[tuple[str, ...]] = ("tokens_per_s", "percentile", "call")
    required: ClassVar[tuple[str, ...]] = ("tokens_per_s",)
    limit_field: ClassVar[str] = "tokens_per_s"
    floor: ClassVar[bool] = True
    rated_by: ClassVar[str] = "output_tokens_per_s"
    percentile_wording: ClassVar[str] = "(slowest side) {value:,.0f} tok/s"

    def unrated(self, call: LLMCall) -> str:
        return " has no throughput (fewer than two output tokens, or no token count)"

    def call_text(self, call: LLMCall, value: float, ok: bool) -> str:
        return f"{value:,.0f} tok/s; {explain(call)}"


@dataclass(frozen=True)
class RealtimeBudget(Budget):
    """``min_realtime_factor(x=..., percentile=None, call=None)``: audio calls handle at least
    ``x`` seconds of audio per second of latency."""

    x: float
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "min_realtime_factor"

    kind: ClassVar[str] = "realtime"
    allowed: ClassVar[tuple[str, ...]] = ("x", "percentile", "call")
    required: ClassVar[tuple[str, ...]] = ("x",)
    limit_field: ClassVar[str] = "x"
    floor: ClassVar[bool] = True
    rated_by: ClassVar[str] = "realtime_factor"
    percentile_wording: ClassVar[str] = "(slowest side) {value:,.1f}x real time"

    def select(self, calls: Sequence[LLMCall]) -> tuple[list[tuple[int, LLMCall]], str | None]:
        """Without ``call=``, the audio calls among the selected."""
        selected, problem = super().select(calls)
        if problem or self.call is not None:
            return selected, problem
        selected = [(i, c) for i, c in selected if c.endpoint in AUDIO_ENDPOINTS]
        if not selected:
            kinds = sorted({c.endpoint for c in calls})
            return [], (
                f"{self.label()}: the test made no audio call (transcription, translation or speech) "
                f"that succeeded; its calls went to: {', '.join(kinds)}"
            )
        return selected, None

    def unrated(self, call: LLMCall) -> str:
        why = (
            "it sent no audio whose length is known (a WAV file, or a response with duration)"
            if call.endpoint in AUDIO_ENDPOINTS
            else "it is not an audio call"
        )
        return " has no real-time factor: " + (
            why if call.e2e_ms is not None else f"it has no e2e timing{why_missing(call, 'e2e')}"
        )

    def call_text(self, call: LLMCall, value: float, ok: bool) -> str:
        audio = call.audio_seconds if call.audio_seconds is not None else call.output_audio_seconds
        return (
            f"{value:,.1f}x real time = {audio or 0:,.2f} s of audio / e2e {fmt_ms(call.e2e_ms)} ms; "
            f"{call.describe_params()}"
        )


@dataclass(frozen=True)
class CallCountBudget(Budget):
    """``max_calls(n=...)``: at most ``n`` LLM calls per test run: an agent that loops more often is slower."""

    n: int
    marker: str = "max_calls"

    kind: ClassVar[str] = "calls"
    allowed: ClassVar[tuple[str, ...]] = ("n",)
    required: ClassVar[tuple[str, ...]] = ("n",)
    limit_field: ClassVar[str] = "n"

    @classmethod
    def parse(cls, kw: dict[str, Any]) -> Budget:
        return cls(n=int(positive(cls.marker, "n", kw["n"], integer=True)))

    def key(self) -> tuple[Any, ...]:
        return (self.marker,)

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        members = by_run(enumerate(calls)) or {0: []}
        return self.judge_runs({it: float(len(run)) for it, run in members.items()}, members)

    def run_text(self, value: float, run: Run, ok: bool) -> str:
        made = [c for _, c in run]
        tools = [name for c in made for name in c.tool_names]
        return (
            f"the test made {len(made)} LLM call(s)"
            + (f" (the agent took {len(made) - self.n} more step(s) than allowed)" if not ok else "")
            + (f", {len(tools)} tool call(s): {', '.join(tools)}" if tools else "")
            + (f"; {roster(made)}" if made else "")
        )
