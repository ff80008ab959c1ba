"""The budget kinds on what a call's ``usage`` reports: ``max_tokens``, ``max_server_time``
(Groq's own timings), ``max_cost`` (tokens at Groq's prices) and ``min_cache_share``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.calls import LLMCall
from .budget import Budget, LimitsBudget, Rated, Run, Verdict, by_run
from .explanations import fmt_ms, usd
from .parsing import MarkerError, call_selector, check_kwargs, percentile_arg, positive, scope_arg

__all__ = ["CacheShareBudget", "CostBudget", "ServerTimeBudget", "TokenBudget"]


@dataclass(frozen=True)
class TokenBudget(LimitsBudget):
    """``max_tokens(prompt=None, completion=None, reasoning=None, total=None, call=None)``."""

    prompt: int | None = None
    completion: int | None = None
    reasoning: int | None = None
    total: int | None = None
    call: int | str | None = None
    marker: str = "max_tokens"

    kind: ClassVar[str] = "tokens"
    limit_names: ClassVar[tuple[str, ...]] = ("prompt", "completion", "reasoning", "total")
    allowed: ClassVar[tuple[str, ...]] = (*limit_names, "call")
    integer: ClassVar[bool] = True

    def predicted_limits(self) -> list[tuple[str, float]]:
        return [
            (k, float(v)) for k, v in (("completion", self.completion), ("reasoning", self.reasoning)) if v is not None
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


_SERVER_FIELDS = {
    "queue_ms": ("queue_ms", "queue_time"),
    "prompt_ms": ("prompt_ms", "prompt_time"),
    "completion_ms": ("completion_ms", "completion_time"),
    "total_ms": ("server_ms", "total_time"),
}
"""A ``max_server_time`` argument -> (the :class:`~.calls.LLMCall` attribute, Groq's usage field)."""


@dataclass(frozen=True)
class ServerTimeBudget(LimitsBudget):
    """``max_server_time(queue_ms=None, prompt_ms=None, completion_ms=None, total_ms=None, call=None)``."""

    queue_ms: float | None = None
    prompt_ms: float | None = None
    completion_ms: float | None = None
    total_ms: float | None = None
    call: int | str | None = None
    marker: str = "max_server_time"

    kind: ClassVar[str] = "server_time"
    limit_names: ClassVar[tuple[str, ...]] = tuple(_SERVER_FIELDS)
    allowed: ClassVar[tuple[str, ...]] = (*limit_names, "call")

    def value(self, call: LLMCall, name: str) -> float | None:
        value: float | None = getattr(call, _SERVER_FIELDS[name][0])
        return value

    def missing(self, call: LLMCall, name: str) -> str:
        return f"reported no usage.{_SERVER_FIELDS[name][1]}"

    def verdict_text(self, call: LLMCall, name: str, value: float, limit: float, ok: bool) -> str:
        text = f"Groq {_SERVER_FIELDS[name][1]} {fmt_ms(value)} ms {'<=' if ok else '>'} {limit:g} ms"
        if name in ("completion_ms", "total_ms"):
            text += f" for {call.completion_tokens} output tokens"
        return text


@dataclass(frozen=True)
class CostBudget(Budget):
    """``max_cost(usd=..., scope='call'|'test', percentile=None, call=None)``: each call's cost (or
    the percentile over calls), or the test's total per ``llm_repeat`` run, at Groq's prices."""

    usd: float
    scope: str = "call"
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "max_cost"

    kind: ClassVar[str] = "max_cost"
    allowed: ClassVar[tuple[str, ...]] = ("usd", "scope", "percentile", "call")
    required: ClassVar[tuple[str, ...]] = ("usd",)
    limit_field: ClassVar[str] = "usd"

    @classmethod
    def parse(cls, kw: dict[str, Any]) -> Budget:
        scope = scope_arg(cls.marker, kw.get("scope", "call"))
        if scope == "test" and kw.get("call") is not None:
            raise MarkerError("@pytest.mark.max_cost: scope='test' sums all the test's calls; it takes no call=")
        return cls(
            usd=positive(cls.marker, "usd", kw["usd"]),
            scope=scope,
            percentile=percentile_arg(cls.marker, kw.get("percentile")),
            call=call_selector(cls.marker, kw.get("call")),
        )

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

    def rate(self, call: LLMCall) -> float | None:
        return call.cost()[0]

    def unrated(self, call: LLMCall) -> str:
        return f": {call.cost()[1]}"

    def judge_rated(self, rated: list[Rated], calls: Sequence[LLMCall]) -> list[Verdict]:
        """``scope='test'``: the sum of the calls of each run."""
        if self.scope != "test":
            return super().judge_rated(rated, calls)
        runs: dict[int, float] = {}
        for _, c, v in rated:
            runs[c.iteration] = runs.get(c.iteration, 0.0) + v
        return self.judge_runs(runs, by_run((i, c) for i, c, _ in rated))

    def percentile_text(self, value: float, rated: Sequence[Rated], calls: Sequence[LLMCall], ok: bool) -> str:
        return f"cost {usd(value)} over {len(rated)} call(s) (max {usd(max(v for _, _, v in rated))})"

    def call_text(self, call: LLMCall, value: float, ok: bool) -> str:
        text = f"cost {usd(value)} ({call.cost()[1]}): {call.prompt_tokens} prompt tokens"
        if call.cached_tokens:
            text += f" ({call.cached_tokens} cached)"
        return text + f", {call.completion_tokens} completion tokens; {call.describe_params()}"

    def runs_text(self, value: float, runs: dict[int, float], members: Mapping[int, Run], ok: bool) -> str:
        return f"test cost {usd(value)} over {len(runs)} run(s)"

    def run_text(self, value: float, run: Run, ok: bool) -> str:
        parts = "; ".join(f"{i + 1}. {c.model} {usd(self.rate(c) or 0.0)}" for i, c in run)
        return f"test cost {usd(value)} = {parts}"


@dataclass(frozen=True)
class CacheShareBudget(Budget):
    """``min_cache_share(p, percentile=None, call=None)``: the share of each call's prompt that
    Groq's prompt cache served (cached_tokens / prompt_tokens) must be at least p."""

    share: float
    percentile: float | None = None
    call: int | str | None = None
    marker: str = "min_cache_share"

    kind: ClassVar[str] = "min_cache_share"
    allowed: ClassVar[tuple[str, ...]] = ("p", "percentile", "call")
    limit_field: ClassVar[str] = "share"
    floor: ClassVar[bool] = True
    rated_by: ClassVar[str] = "cached_share"
    percentile_wording: ClassVar[str] = "(coldest side) cached share {value:.0%}"

    @classmethod
    def from_arguments(cls, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Budget:
        """The share may come as the one positional argument (``min_cache_share(0.8)``) or as ``p=``."""
        if len(args) > 1 or (args and "p" in kwargs):
            raise MarkerError("@pytest.mark.min_cache_share takes one share, e.g. min_cache_share(0.8)")
        kw = dict(kwargs)
        if args:
            kw["p"] = args[0]
        return cls.parse(check_kwargs(cls.marker, (), kw, cls.allowed))

    @classmethod
    def parse(cls, kw: dict[str, Any]) -> Budget:
        p = kw.get("p")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
            raise MarkerError(
                f"@pytest.mark.min_cache_share: the share must be a number in (0, 1] (0.8 = 80 % of the prompt "
                f"tokens cached), got {p!r}"
            )
        return cls(
            share=float(p),
            percentile=percentile_arg(cls.marker, kw.get("percentile")),
            call=call_selector(cls.marker, kw.get("call")),
        )

    def key(self) -> tuple[Any, ...]:
        return ("cache_share", self.call)

    def label(self) -> str:
        args = [f"{self.share:g}"]
        if self.percentile is not None:
            args.append(f"percentile={self.percentile:g}")
        if self.call is not None:
            args.append(f"call={self.call!r}")
        return f"min_cache_share({', '.join(args)})"

    def unrated(self, call: LLMCall) -> str:
        return ": the response reported no usage.prompt_tokens, so its cached share is unknown"

    def call_text(self, call: LLMCall, value: float, ok: bool) -> str:
        text = (
            f"{call.cached_tokens or 0} of {call.prompt_tokens} prompt tokens cached ({value:.0%}); "
            f"Groq prompt time {fmt_ms(call.prompt_ms)} ms"
        )
        if not ok:
            text += (
                "; a cold cache: Groq caches a prompt prefix it saw in the last 2 hours, best effort, on "
                "the models that support prompt caching (warm it with llm_repeat(warmup=1) and keep the "
                "prompt's start identical)"
            )
        return text
