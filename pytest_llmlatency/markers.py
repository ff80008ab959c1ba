"""Markers -> validated budgets, and budgets judged on recorded calls.

Every marker takes keyword arguments only; a wrong one raises :class:`MarkerError`
naming the marker and the argument, and the plugin errors that test alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .calls import LLMCall, percentile
from .markerdefs import BUDGET_MARKERS, LATENCY_METRICS, MARKERS

__all__ = [
    "MARKERS",
    "Budget",
    "LatencyBudget",
    "MarkerError",
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
            return [], (
                f"{self.label()}: the test made no LLM call (no chat-completions request went "
                f"through httpx while it ran)"
            )
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
            return [], f"{self.label()}: no LLM call succeeded; call {i + 1} of {len(calls)} ({c.model}) " + (
                f"failed: {_failure(c)}"
            )
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
        if server:
            text += f" (server {', '.join(server)})"
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
    if call.abandoned:
        tokens.append("the stream was abandoned by the client")
    if call.retries:
        tokens.append(f"{call.retries} retr{'y' if call.retries == 1 else 'ies'}, backoff {_fmt(call.backoff_ms)} ms")
    text = parts[0]
    if tokens:
        text += "; " + "; ".join(tokens)
    return f"{text}; {call.describe_params()}"


def _label(marker: str, limits: Iterable[tuple[str, float | None]], call: int | str | None) -> str:
    """``marker(key=value, ..., call=...)`` with the arguments that were given."""
    args = [f"{k}={v}" if isinstance(v, int) else f"{k}={v:g}" for k, v in limits if v is not None]
    if call is not None:
        args.append(f"call={call!r}")
    return f"{marker}({', '.join(args)})"


def _who(index: int, total: int, call: LLMCall) -> str:
    return f"call {index + 1} of {total} ({call.model})"


@dataclass(frozen=True)
class LatencyBudget(Budget):
    ms: float
    metric: str = "e2e"
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "max_latency"

    def key(self) -> tuple[Any, ...]:
        return ("latency", self.metric, self.call)

    def label(self) -> str:
        args = [f"ms={self.ms:g}"]
        if self.marker == "max_latency" and self.metric != "e2e":
            args.append(f"metric={self.metric!r}")
        if self.percentile is not None:
            args.append(f"percentile={self.percentile:g}")
        if self.call is not None:
            args.append(f"call={self.call!r}")
        return f"{self.marker}({', '.join(args)})"

    def judge(self, calls: Sequence[LLMCall]) -> list[Verdict]:
        selected, problem = self.select(calls)
        if problem:
            return [Verdict(self.label(), False, problem)]
        missing = [(i, c) for i, c in selected if c.metric(self.metric) is None]
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
        if self.percentile is not None:
            samples = [c.metric(self.metric) or 0.0 for _, c in selected]
            value = percentile(samples, self.percentile)
            ok = value <= self.ms
            msg = (
                f"{self.label()} {'met' if ok else 'exceeded'}: p{self.percentile:g} {self.metric} "
                f"{_fmt(value)} ms over {len(samples)} call(s) (p50 {_fmt(percentile(samples, 50))}, "
                f"max {_fmt(max(samples))})"
            )
            if not ok:
                worst_i, worst = max(selected, key=lambda ic: ic[1].metric(self.metric) or 0.0)
                msg += f"; slowest, {_who(worst_i, len(calls), worst)}: {explain(worst)}"
            return [Verdict(self.label(), ok, msg, value, self.ms)]
        verdicts = []
        for i, c in selected:
            value = c.metric(self.metric) or 0.0
            ok = value <= self.ms
            head = f"{self.label()} {'met' if ok else 'exceeded'} by {_who(i, len(calls), c)}: "
            detail = (
                explain(c)
                if self.metric in ("e2e", "ttft", "wall")
                else (f"{self.metric} {_fmt(value)} ms; {explain(c)}")
            )
            verdicts.append(Verdict(self.label(), ok, head + detail, value, self.ms))
        return verdicts


def _why_missing(call: LLMCall, metric: str) -> str:
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
        return " (the stream carried no content or reasoning token)"
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
        from .baseline import BaselineError, parse_thresholds

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


def _parse(mark: Any) -> Budget | None:
    name = mark.name
    if name in ("max_latency", "max_ttft"):
        allowed = ["ms", "metric", "percentile", "call"] if name == "max_latency" else ["ms", "percentile", "call"]
        kw = _check_kwargs(name, mark, allowed, ["ms"])
        metric = kw.get("metric", "e2e") if name == "max_latency" else "ttft"
        if metric not in LATENCY_METRICS:
            raise MarkerError(
                f"@pytest.mark.{name}: metric= must be one of {', '.join(LATENCY_METRICS)}, got {metric!r}"
            )
        return LatencyBudget(
            ms=_positive(name, "ms", kw["ms"]),
            metric=metric,
            percentile=_percentile(name, kw.get("percentile")),
            call=_call_selector(name, kw.get("call")),
            marker=name,
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
    return None


def judge_predicted(budget: Budget, calls: Sequence[LLMCall], nodeid: str) -> list[Verdict]:
    """Judge a budget on the predictions of calls answered from a changed request's closest
    recording: a certain breach fails (``--llm-predict=fail``), a possible one is a risk."""
    selected, problem = _select_all(budget, calls)
    if problem:
        return []
    checks: list[tuple[str, float]] = []
    if isinstance(budget, LatencyBudget) and budget.metric in ("e2e", "ttft"):
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
            if not pair:
                verdicts.append(
                    Verdict(
                        budget.label(),
                        True,
                        (
                            f"{budget.label()} cannot be judged for {_who(i, len(calls), c)}: the change "
                            f"({p.get('diff')}) leaves its {kind} unpredicted ({p.get('text')}). "
                            f"Re-record to measure it: pytest --llm-record-mode=rewrite {nodeid}"
                        ),
                        risk=True,
                    )
                )
                continue
            lo, hi = pair[0], float("inf") if pair[1] is None else pair[1]
            verdict = "breaks" if lo > limit else "risks" if hi > limit else "holds"
            head = (
                f"{budget.label()} {verdict.replace('breaks', 'is broken').replace('risks', 'is at risk')} "
                f"by {_who(i, len(calls), c)}, predicted, not measured: request changed since recording: "
                f"{p.get('diff')}; {p.get('text')}. Re-record to measure it: pytest --llm-record-mode=rewrite "
                f"{nodeid}"
            )
            if verdict == "holds":
                verdicts.append(Verdict(budget.label(), True, head))
            elif verdict == "breaks" and p.get("mode") == "fail":
                verdicts.append(Verdict(budget.label(), False, head, lo, limit))
            else:
                verdicts.append(Verdict(budget.label(), True, head, lo, limit, risk=True))
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
