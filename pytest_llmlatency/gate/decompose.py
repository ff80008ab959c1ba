"""The decomposed gate: a time metric judged on Groq's decomposition of each call.

Groq reports every call's queue time, prompt time and completion time. Queue time is Groq's
load (noise) and is left out; the service (prompt and completion time, driven by the token
counts) and the network/client rest are compared, each against its own noise (``NoiseModel``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..core.records import CallRecord
from .samples import cache_change, number
from .sampling import LENGTH_ALPHA, LENGTH_REL_SD, Sampling, normalized, sampling_of
from .stats import (
    ALPHA,
    MIN_SAMPLES,
    NoiseModel,
    hodges_lehmann,
    mann_whitney_greater,
    median,
    median_factor,
    repeats_to_decide,
)
from .thresholds import Threshold
from .verdicts import Shift, num, signed

__all__ = ["DECOMPOSED", "Part", "judge_decomposed"]

DECOMPOSED = ("e2e", "ttft", "server")
"""Time metrics the gate judges on Groq's decomposition when every call reported it."""
SPEED_NOTE_MS = 2.0
SPEED_NOTE_SHARE = 0.02
"""The detail names the server's speed at the same tokens when it moved by at least
``SPEED_NOTE_MS`` and this share of the baseline's median without queue time."""


@dataclass
class Part:
    """One call's metric split into Groq's queue (noise), the service (prompt + completion time)
    and the network/client rest."""

    raw: float
    queue: float
    service: float
    path: float
    completion_tokens: float
    prompt_tokens: float
    completion_ms: float
    prompt_ms: float

    @property
    def denoised(self) -> float:
        return self.raw - self.queue


def _part(call: CallRecord, metric: str) -> Part | None:
    raw = number(call.get(f"{metric}_ms"))
    queue, prompt_ms, completion_ms = (
        number(call.get("queue_ms")),
        number(call.get("prompt_ms")),
        number(call.get("completion_ms")),
    )
    if raw is None or queue is None or prompt_ms is None or completion_ms is None:
        return None
    completion, prompt = number(call.get("completion_tokens")) or 0.0, number(call.get("prompt_tokens")) or 0.0
    if metric == "server":
        return Part(raw, 0.0, raw, 0.0, completion, prompt, completion_ms, prompt_ms)
    if metric == "ttft" and call.get("streamed"):
        # the first token follows the prompt's processing; the decode of the rest is not in it
        service = prompt_ms
        completion, completion_ms = 0.0, 0.0
    else:
        service = prompt_ms + completion_ms
    return Part(raw, queue, service, raw - queue - service, completion, prompt, completion_ms, prompt_ms)


def _measured(calls: Sequence[CallRecord]) -> list[CallRecord]:
    return [c for c in calls if c.get("ok") and not c.get("warmup") and not c.get("prediction")]


def _parts(calls: Sequence[CallRecord], metric: str) -> list[Part] | None:
    parts = [_part(c, metric) for c in _measured(calls)]
    if not parts or any(p is None for p in parts):
        return None
    return [p for p in parts if p is not None]


def _per_token(parts: Sequence[Part], ms: str, tokens: str) -> float:
    rates = [getattr(p, ms) / getattr(p, tokens) for p in parts if getattr(p, tokens) > 0]
    return median(rates) if rates else 0.0


def _med(parts: Sequence[Part], key: str) -> float:
    return median([float(getattr(p, key)) for p in parts])


@dataclass(frozen=True)
class _TokenShift:
    """The part of a shift the token counts explain, at the per-token times of both sides' calls,
    with a changed prompt cache's part when the cached share moved."""

    completion: float
    """The change of the median completion tokens."""
    prompt: float
    """The change of the median prompt tokens."""
    ms_completion: float
    ms_prompt: float
    """Groq's median completion and prompt time per token over both sides' calls."""
    cache: tuple[float, float] | None
    """The median cached share (points) on each side, when it moved."""
    cache_ms: float
    """Groq's prompt time moved beyond what the prompt tokens explain (a cold or warmer cache)."""
    ms: float
    """The whole explained part (tokens and cache) and its standard deviation."""
    sd: float

    @property
    def explained_by(self) -> str:
        return "the token counts and the prompt cache" if self.cache is not None else "the token counts alone"


def _token_shift(
    old: Sequence[Part],
    new: Sequence[Part],
    old_calls: Sequence[CallRecord],
    new_calls: Sequence[CallRecord],
    noise: NoiseModel,
    *,
    with_cache: bool = True,
) -> _TokenShift:
    # the part of the shift the token counts explain, at the per-token times of both sides' calls
    both = [*old, *new]
    ms_completion = _per_token(both, "completion_ms", "completion_tokens")
    ms_prompt = _per_token(both, "prompt_ms", "prompt_tokens")
    dc = _med(new, "completion_tokens") - _med(old, "completion_tokens")
    dp = _med(new, "prompt_tokens") - _med(old, "prompt_tokens")
    token_ms = dc * ms_completion + dp * ms_prompt
    pooled = len(both)
    token_sd = abs(token_ms) * noise.service_rel_sd * median_factor(pooled) / pooled**0.5
    # a cold (or warmer) prompt cache: Groq's own prompt time moved beyond what the prompt tokens explain
    cache = cache_change(old_calls, new_calls) if with_cache else None
    cache_ms = 0.0
    if cache is not None:
        cache_ms = _med(new, "prompt_ms") - _med(old, "prompt_ms") - dp * ms_prompt
        fewest = min(len(old), len(new))
        cache_sd = (
            noise.service_rel_sd
            * (_med(new, "prompt_ms") ** 2 + _med(old, "prompt_ms") ** 2) ** 0.5
            * median_factor(fewest)
            / fewest**0.5
        )
        token_ms += cache_ms
        token_sd = (token_sd**2 + cache_sd**2) ** 0.5
    return _TokenShift(dc, dp, ms_completion, ms_prompt, cache, cache_ms, token_ms, token_sd)


def _rest_sd(old: Sequence[Part], new: Sequence[Part], noise: NoiseModel, path_only: bool) -> float:
    """The noise of the rest: the server's speed and the network/client path, per side."""

    def side_sd(parts: Sequence[Part]) -> float:
        service = _med(parts, "service")
        if path_only:
            return noise.median_sd(service, _med(parts, "path"), len(parts))
        return float(noise.service_rel_sd * service * median_factor(len(parts)) / len(parts) ** 0.5)

    return float((side_sd(old) ** 2 + side_sd(new) ** 2) ** 0.5)


@dataclass(frozen=True)
class _Case:
    """One time metric of one test on the decomposition: both sides' calls, their medians with
    and without queue time, the token part of the shift and the noise of the rest."""

    metric: str
    threshold: Threshold
    method: str
    floor: float
    noise: NoiseModel
    old: list[Part]
    new: list[Part]
    tokens: _TokenShift
    rest_sd: float
    sampling: Sampling
    lengths: tuple[list[float], list[float]]
    """Each side's output tokens as measured (before the comparison at the baseline's length)."""
    left_out_ms: float
    """Prompt time the prompt cache moved with the same prompt (Groq's state, left out)."""

    @property
    def path_only(self) -> bool:
        """Whether the metric holds the network/client path and the queue (all but ``server``)."""
        return self.metric != "server"

    @cached_property
    def raw(self) -> tuple[float, float]:
        return median([p.raw for p in self.old]), median([p.raw for p in self.new])

    @cached_property
    def denoised(self) -> tuple[list[float], list[float]]:
        return [p.denoised for p in self.old], [p.denoised for p in self.new]

    @cached_property
    def a(self) -> float:
        return median(self.denoised[0])

    @cached_property
    def b(self) -> float:
        return median(self.denoised[1])

    @property
    def delta(self) -> float:
        return self.b - self.a

    @property
    def limit(self) -> float:
        t = self.threshold
        return (t.percent / 100 * self.a) if t.percent is not None else (t.absolute or 0.0)

    @property
    def envelope(self) -> float:
        return float(self.noise.z * (self.rest_sd**2 + self.tokens.sd**2) ** 0.5)

    @property
    def sides(self) -> str:
        return f"{len(self.old)} vs {len(self.new)} call(s)"

    def shift(self, verdict: str, why: str, **extra: Any) -> Shift:
        raw_a, raw_b = self.raw
        detail = f"{_detail(self)}; {why}"
        return Shift(
            self.metric, raw_a, raw_b, self.threshold, verdict, denoised=(self.a, self.b), detail=detail, **extra
        )


def _detail(case: _Case) -> str:
    """``without queue 1,000 -> 1,650 ms (+65%): completion 50 -> 415 tokens (+657 ms), ...``"""
    old, new, t, a = case.old, case.new, case.tokens, case.a
    items = []
    if t.completion:
        items.append(
            f"completion {num(_med(old, 'completion_tokens'))} -> {num(_med(new, 'completion_tokens'))} tokens "
            f"({signed(t.completion * t.ms_completion)} ms)"
        )
    if t.prompt:
        items.append(
            f"prompt {num(_med(old, 'prompt_tokens'))} -> {num(_med(new, 'prompt_tokens'))} tokens "
            f"({signed(t.prompt * t.ms_prompt)} ms)"
        )
    if t.cache is not None:
        items.append(
            f"prompt cache {t.cache[0]:.0f}% -> {t.cache[1]:.0f}% cached ({signed(t.cache_ms)} ms prompt time)"
        )
    sampled = case.sampling
    if sampled.length:
        a_len, b_len = (median(side) for side in case.lengths)
        items.append(f"answer length {num(a_len)} -> {num(b_len)} tokens {sampled.at} (sampled: compared per token)")
    if sampled.cache is not None:
        items.append(
            f"prompt cache {sampled.cache[0]:.0f}% -> {sampled.cache[1]:.0f}% cached with the same prompt "
            f"({signed(case.left_out_ms)} ms prompt time: Groq's cache state, left out)"
        )
    speed = case.delta - t.ms - (_med(new, "path") - _med(old, "path") if case.path_only else 0.0)
    if abs(speed) >= max(SPEED_NOTE_MS, SPEED_NOTE_SHARE * a):
        items.append(f"server speed at these tokens {signed(speed)} ms")
    if case.path_only:
        items.append(f"network/client {signed(_med(new, 'path') - _med(old, 'path'))} ms")
        items.append(f"queue {signed(_med(new, 'queue') - _med(old, 'queue'))} ms (Groq's load: left out)")
    pct = f"{case.delta / a * 100:+.0f}%" if a > 0 else f"{case.delta:+,.0f} ms"
    head = f"{num(a)} -> {num(case.b)} ms ({pct})"
    head = f"without queue {head}" if case.path_only else head
    return head + (": " + ", ".join(items) if items else "")


def judge_decomposed(
    metric: str,
    old_calls: Sequence[CallRecord],
    new_calls: Sequence[CallRecord],
    threshold: Threshold,
    method: str,
    floor: float,
    noise: NoiseModel,
) -> Shift | None:
    """Judge a time metric on Groq's decomposition: queue time is noise and is left out; the
    service (prompt and completion time, driven by the token counts) and the network/client rest
    are compared. A shift is *certain* when the tokens alone, or the whole de-noised shift, exceed
    the threshold beyond the noise envelope; otherwise the rank test decides from 5 samples per
    side, and below that the shift is inconclusive, with the number of repeats that would decide.
    With the same request, the answer's length (at temperature > 0) and the prompt cache are the
    model's and Groq's (:mod:`.sampling`): calls are compared at the baseline's length and prompt
    time, the length is judged as a distribution, and a shift of one or a few calls is
    inconclusive until repeats show it. None when a call lacks Groq's timings (the plain
    comparison applies)."""
    old, new = _parts(old_calls, metric), _parts(new_calls, metric)
    if not old or not new:
        return None
    sampling = sampling_of(_measured(old_calls), _measured(new_calls), method)
    lengths = [p.completion_tokens for p in old], [p.completion_tokens for p in new]
    left_out = 0.0
    if sampling.length or sampling.cache is not None:
        if sampling.cache is not None:
            left_out = _med(new, "prompt_ms") - _med(old, "prompt_ms")
        old, new = normalized(old, new, sampling)
    tokens = _token_shift(old, new, old_calls, new_calls, noise, with_cache=sampling.cache is None)
    rest_sd = _rest_sd(old, new, noise, path_only=metric != "server")
    case = _Case(metric, threshold, method, floor, noise, old, new, tokens, rest_sd, sampling, lengths, left_out)
    if method != "deterministic":
        certain = _certain_by_tokens(case)
        if certain is not None:
            return certain
    shift = _judge_effect(case)
    if sampling.length and shift.verdict not in ("regressed", "improved"):
        return _judge_length(case) or shift
    return shift


def _judge_length(case: _Case) -> Shift | None:
    """The answer's length as a random variable: the part of the shift it would make at the
    measured per-token time, judged by the rank test on the output tokens from
    ``MIN_SAMPLES`` calls per side, inconclusive below that. None when it stays in the limit."""
    old_tokens, new_tokens = case.lengths
    a, b = median(old_tokens), median(new_tokens)
    length_ms = (b - a) * case.tokens.ms_completion
    if abs(length_ms) <= case.limit or abs(length_ms) < case.floor:
        return None
    word = "regressed" if length_ms > 0 else "improved"
    what = (
        f"the answer length varies ({num(a)} -> {num(b)} tokens {case.sampling.at}, {signed(length_ms)} ms "
        "at the measured per-token time)"
    )
    fewest = min(len(old_tokens), len(new_tokens))
    if fewest >= MIN_SAMPLES:
        longer, shorter = (new_tokens, old_tokens) if length_ms > 0 else (old_tokens, new_tokens)
        test = mann_whitney_greater(longer, shorter)
        if test.p >= LENGTH_ALPHA:
            return None
        why = f"{what}: answers of another length to the same request, rank test on the output tokens, {case.sides}"
        return case.shift(word, why, p=test.p)
    sd_one = LENGTH_REL_SD * max(a, b) * case.tokens.ms_completion
    need = repeats_to_decide(abs(length_ms) - case.limit, sd_one, case.noise.z, fewest)
    return case.shift(
        "inconclusive",
        f"inconclusive: {what}; about {need} calls per side would decide (@pytest.mark.llm_repeat(n={need}))",
        repeats=need,
    )


def _certain_by_tokens(case: _Case) -> Shift | None:
    """A verdict from the token part alone, when it exceeds the limit beyond its own noise."""
    # the token counts are the request's: the part of the shift they explain at Groq's per-token
    # times is known to within the per-token estimate, whatever the speed noise of single calls
    # ... unless the rest of the shift is a speed-up beyond the envelope plus one sd (a faster
    # model or server, not noise): then the tokens do not tell the whole story
    t, z, limit = case.tokens, case.noise.z, case.limit
    token_low = t.ms - z * t.sd
    rest = case.delta - t.ms
    # with the same model, a speed that moved is the server's noise, not part of the change
    same_model = case.sampling.request_changed and not case.sampling.model_changed
    guard = math.inf if same_model else (z + 1) * case.rest_sd
    if token_low > limit and rest > -guard:
        return case.shift(
            "regressed",
            f"certain at {case.sides}: {t.explained_by} add at least {token_low:,.0f} ms, beyond the "
            f"{limit:,.0f} ms limit",
            certain=True,
        )
    if -t.ms - z * t.sd > limit and rest < guard:
        return case.shift(
            "improved",
            f"certain at {case.sides}: {t.explained_by} save at least {-t.ms - z * t.sd:,.0f} "
            f"ms, beyond the {limit:,.0f} ms limit",
            certain=True,
        )
    return None


def _judge_effect(case: _Case) -> Shift:
    """A verdict from the whole shift without queue time: beyond the noise envelope, by the rank
    test, or inconclusive with the repeats that would decide."""
    old, new, noise, limit = case.old, case.new, case.noise, case.limit
    d_old, d_new = case.denoised
    ranked = len(old) >= MIN_SAMPLES and len(new) >= MIN_SAMPLES and case.method != "deterministic"
    # from 5 calls per side the shift is the Hodges-Lehmann estimate (the rank test's own)
    effect = hodges_lehmann(d_new, d_old) if ranked else case.delta
    regress = effect > limit and effect >= case.floor
    improve = -effect > limit and -effect >= case.floor
    if not (regress or improve):
        raw_a, raw_b = case.raw
        queue_hid = case.path_only and raw_b - raw_a > limit
        return case.shift("unchanged", "within the limit" + (" once queue time is left out" if queue_hid else ""))
    word = "regressed" if regress else "improved"
    if case.method == "deterministic":
        return case.shift(word, f"{case.sides}, deterministic")
    margin, envelope = abs(effect) - limit, case.envelope
    # a slower call with the same request is the server's variance until repeats show otherwise
    if margin > envelope and (ranked or case.sampling.request_changed):
        why = f"certain at {case.sides}: beyond the noise envelope of +-{envelope:,.0f} ms ({noise.name})"
        return case.shift(word, why, certain=True)
    if ranked:
        test = mann_whitney_greater(d_new, d_old) if regress else mann_whitney_greater(d_old, d_new)
        verdict = word if test.p < ALPHA else "unchanged"
        why = f"rank test on the latency without queue, shift {effect:+,.0f} ms, {case.sides}"
        return case.shift(verdict, why, p=test.p)
    sd_one = max(
        noise.call_sd(_med(old, "service"), _med(old, "path")), noise.call_sd(_med(new, "service"), _med(new, "path"))
    )
    need = repeats_to_decide(margin, sd_one, noise.z, min(len(old), len(new)))
    where = (
        f"inside the noise envelope of +-{envelope:,.0f} ms"
        if margin <= envelope
        else "the same request: one server's variance until repeats show otherwise"
    )
    return case.shift(
        "inconclusive",
        f"{where} at {case.sides}; about {need} calls per side would decide (@pytest.mark.llm_repeat(n={need}))",
        repeats=need,
    )
