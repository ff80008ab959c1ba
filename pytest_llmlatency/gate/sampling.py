"""What the gate may take as evidence when the request did not change: the answer's length and
the prompt cache are then the model's and Groq's, not the change under review.

- **Answer length.** A model sampling at a temperature above 0 (Groq's default is 1) writes
  answers of different lengths to the same request. A shift in output tokens is evidence only
  when a request difference explains it (cap, stop, reasoning effort, model, prompt, tools,
  response format) or when the answer is deterministic (temperature 0 on every call, or a
  replay). Otherwise each call is compared at the baseline's median length (its decode time
  rescaled at the per-token time both sides measured), and the length itself is judged as a
  distribution: by the rank test from :data:`~.stats.MIN_SAMPLES` calls per side, inconclusive
  below that, with the calls per side that would decide.
- **Prompt cache.** With the same prompt, how much of it Groq's cache served depends on Groq's
  recent traffic: the prompt time moved by the cache is left out, as the queue time is, and
  said beside the verdict. ``min_cache_share`` judges the cache where a test depends on it.

The normalisation works on :class:`~.decompose.Part` values; no pytest, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..core.records import CallRecord
from .samples import CACHE_CHANGE_POINTS, cache_change, cache_shares, number
from .stats import median

if TYPE_CHECKING:
    from .decompose import Part

__all__ = [
    "GROQ_DEFAULT_TEMPERATURE",
    "LENGTH_ALPHA",
    "LENGTH_REL_SD",
    "SAMPLING_PARAMS",
    "Sampling",
    "normalized",
    "request_changed",
    "sampling_of",
]

LENGTH_ALPHA = 0.01
"""Significance for "answers of another length to the same request": a claim about the model's
sampling, made beside the latency's own rank test, so at 1 % (the two tests together stay near
the gate's 5 %; the A/A false alarms of tests/gate/test_sampling.py stay under 1 %)."""
GROQ_DEFAULT_TEMPERATURE = 1.0
"""What Groq samples at when a request sets no ``temperature``."""
LENGTH_REL_SD = 0.3
"""Relative spread of one answer's length at temperature > 0 when the calls do not show their
own (a prior: a llama.cpp server here gave 32-100 tokens, median 87, for one prompt at
temperature 1; the issue's real recordings 49 -> 78 and 108 -> 190 tokens between runs)."""


SAMPLING_PARAMS = ("temperature", "top_p", "seed", "user")
"""Request parameters that change which answer is drawn, not what is asked: a change of them
alone does not explain a change of length."""


def _request_key(call: CallRecord) -> tuple[object, ...]:
    params = call.get("params") or {}
    asked = sorted((k, repr(v)) for k, v in params.items() if k not in SAMPLING_PARAMS)
    return (call.get("model"), call.get("prompt_chars"), call.get("prompt_tokens"), *asked)


def request_changed(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord]) -> bool:
    """Whether the requests differ in what they ask (model, prompt, cap, stop, reasoning effort,
    tools, response format, ...: every parameter but the sampling ones), call by call in order;
    a different number of calls is a change."""
    if len(old_calls) != len(new_calls):
        return True
    return any(_request_key(o) != _request_key(n) for o, n in zip(old_calls, new_calls, strict=True))


def _temperature(call: CallRecord) -> float:
    value = number((call.get("params") or {}).get("temperature"))
    return GROQ_DEFAULT_TEMPERATURE if value is None else value


@dataclass(frozen=True)
class Sampling:
    """What of a comparison is sampling and Groq's state rather than the change under review."""

    length: bool
    """Answer lengths are a random variable: compared per token, judged as a distribution."""
    cache: tuple[float, float] | None
    """The median cached share (points) on each side, left out, when it moved with the same prompt."""
    temperature: float
    """The highest temperature the calls sampled at (Groq's default when unset)."""
    request_changed: bool
    model_changed: bool = False
    """Another model on either side: its speed per token is its own, not noise."""

    @property
    def at(self) -> str:
        return f"at temperature {self.temperature:g}"


def sampling_of(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord], method: str) -> Sampling:
    """Sampling and cache state for one comparison (a replay on both sides has none)."""
    changed = request_changed(old_calls, new_calls)
    calls = [*old_calls, *new_calls]
    temperature = max((_temperature(c) for c in calls), default=0.0)
    models = {c.get("model") for c in calls}
    if method == "deterministic" or changed:
        return Sampling(False, None, temperature, changed, model_changed=len(models) > 1)
    return Sampling(temperature > 0, _cache_state(old_calls, new_calls), temperature, changed)


def _cache_state(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord]) -> tuple[float, float] | None:
    """The median cached share (points) of each side when Groq's cache served the calls of the
    same prompt unevenly (a side's median moved, or single calls flipped warm and cold)."""
    moved = cache_change(old_calls, new_calls)
    if moved is not None:
        return moved
    a, b = cache_shares(old_calls), cache_shares(new_calls)
    if a and b and max(a + b) - min(a + b) >= CACHE_CHANGE_POINTS:
        return median(a), median(b)
    return None


def normalized(old: Sequence[Part], new: Sequence[Part], sampling: Sampling) -> tuple[list[Part], list[Part]]:
    """Both sides' calls as if each had written the baseline's median number of output tokens
    (when lengths are sampled) and met the baseline's median prompt time (when the cache moved
    with the same prompt): the rest of each call is kept as measured."""
    ref_tokens = median([p.completion_tokens for p in old])
    rates = [p.completion_ms / p.completion_tokens for p in [*old, *new] if p.completion_tokens > 0]
    ms_per_token = median(rates) if rates else 0.0
    ref_prompt = median([p.prompt_ms for p in old])

    def one(p: Part) -> Part:
        moved = 0.0
        if sampling.length and p.completion_tokens > 0:
            decode = (p.completion_tokens - ref_tokens) * ms_per_token
            p = replace(p, completion_tokens=ref_tokens, completion_ms=p.completion_ms - decode)
            moved += decode
        if sampling.cache is not None:
            moved += p.prompt_ms - ref_prompt
            p = replace(p, prompt_ms=ref_prompt)
        return replace(p, raw=p.raw - moved, service=p.service - moved)

    return [one(p) for p in old], [one(p) for p in new]
