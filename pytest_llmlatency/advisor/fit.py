"""The per-model latency model fitted from observations: decode speed with its spread, TTFT
against prompt tokens (or its median when the data cannot carry a line), reasoning tokens per
``reasoning_effort``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.calls import percentile
from .params import EFFORT_RANK
from .scan import Observation, dedupe

__all__ = ["MIN_FIT_CALLS", "MIN_FIT_R2", "MIN_FIT_SPREAD", "ModelFit", "fit_models"]


MIN_FIT_CALLS = 5
"""Fewer streamed calls than this: TTFT is given as a median, not fitted."""
MIN_FIT_SPREAD = 2.0
"""The prompt sizes must span a factor of 2 (p90 / p10) for a slope to mean anything."""
MIN_FIT_R2 = 0.5
"""A fit explaining less of the TTFT variance than this is not shown as a model."""


def _linear(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float] | None:
    """Least squares y = a + b x with a >= 0 and b >= 0 (a time cannot be negative, nor can a
    longer prompt be faster to read), and R^2; None without two distinct x or without a
    non-negative slope."""
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    b = sxy / sxx
    a = my - b * mx
    if b < 0:
        return None
    if a < 0:  # the best line through the origin instead
        a, b = 0.0, sum(x * y for x, y in zip(xs, ys, strict=True)) / sum(x * x for x in xs)
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return a, b, (1 - ss_res / ss_tot) if ss_tot > 0 else 1.0


def _ttft_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[tuple[float, float, float] | None, str | None]:
    """The TTFT line when the data support one, else None and why (the median is used then)."""
    if len(xs) < MIN_FIT_CALLS:
        return None, f"fewer than {MIN_FIT_CALLS} streamed calls to fit TTFT against prompt tokens"
    lo, hi = percentile(list(xs), 10), percentile(list(xs), 90)
    if lo <= 0 or hi / lo < MIN_FIT_SPREAD:
        return None, (
            f"prompt sizes {lo:,.0f}-{hi:,.0f} tokens (p10-p90) span less than x{MIN_FIT_SPREAD:g}: too narrow "
            "to fit TTFT against prompt tokens"
        )
    fit = _linear(xs, ys)
    if fit is None:
        return None, "TTFT does not grow with prompt tokens in these calls"
    if fit[2] < MIN_FIT_R2:
        return None, f"a line explains too little (R^2 {fit[2]:.2f} < {MIN_FIT_R2:g})"
    return fit, None


@dataclass
class ModelFit:
    model: str
    n: int
    decode_tps: float | None = None
    decode_p10: float | None = None
    decode_p90: float | None = None
    decode_n: int = 0
    decode_source: str = "client"
    ttft_fit: tuple[float, float, float] | None = None
    """(intercept ms, ms per prompt token, R^2) of TTFT against prompt tokens."""
    ttft_median: float | None = None
    ttft_p10: float | None = None
    ttft_p90: float | None = None
    ttft_n: int = 0
    ttft_note: str | None = None
    """Why TTFT is given as its median and range rather than fitted (None when fitted)."""
    prompt_range: tuple[float, float] | None = None
    """Prompt tokens of the streamed calls (p10, p90): where the TTFT fit holds."""
    reasoning: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Median reasoning tokens and the number of calls, per reasoning_effort."""

    def ttft(self, prompt_tokens: int | None) -> float | None:
        if self.ttft_fit is not None and prompt_tokens is not None:
            a, b, _ = self.ttft_fit
            return max(0.0, a + b * prompt_tokens)
        return self.ttft_median

    def describe(self) -> str:
        parts = [f"{self.model}: {self.n} call(s)"]
        if self.decode_tps:
            parts.append(
                f"decode {self.decode_tps:,.0f} tok/s (p10 {self.decode_p10:,.0f}, p90 "
                f"{self.decode_p90:,.0f}; {self.decode_source}, {self.decode_n} calls)"
            )
        if self.ttft_fit is not None:
            a, b, r2 = self.ttft_fit
            where = (
                f", prompts {self.prompt_range[0]:,.0f}-{self.prompt_range[1]:,.0f} tokens" if self.prompt_range else ""
            )
            parts.append(
                f"TTFT = {a:,.1f} ms + {b * 1000:,.2f} ms per 1k prompt tokens (R^2 {r2:.2f}, {self.ttft_n} "
                f"calls{where})"
            )
        elif self.ttft_median is not None:
            spread = (
                f"p10 {self.ttft_p10:,.1f}, p90 {self.ttft_p90:,.1f} ms; "
                if self.ttft_p10 is not None and self.ttft_p90 is not None
                else ""
            )
            parts.append(
                f"TTFT median {self.ttft_median:,.1f} ms ({spread}{self.ttft_n} calls"
                + (f"; not fitted: {self.ttft_note}" if self.ttft_note else "")
                + ")"
            )
        if self.reasoning:
            parts.append(
                "reasoning tokens "
                + ", ".join(
                    f"{e} {m:,.0f} ({n} calls)"
                    for e, (m, n) in sorted(self.reasoning.items(), key=lambda kv: EFFORT_RANK.get(kv[0], 9))
                )
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n": self.n,
            "decode_tps": self.decode_tps,
            "decode_p10": self.decode_p10,
            "decode_p90": self.decode_p90,
            "decode_n": self.decode_n,
            "decode_source": self.decode_source,
            "ttft_fit": self.ttft_fit,
            "ttft_median": self.ttft_median,
            "ttft_p10": self.ttft_p10,
            "ttft_p90": self.ttft_p90,
            "ttft_n": self.ttft_n,
            "ttft_note": self.ttft_note,
            "prompt_range": None if self.prompt_range is None else list(self.prompt_range),
            "reasoning": {k: list(v) for k, v in self.reasoning.items()},
            "summary": self.describe(),
        }


def fit_models(obs: Iterable[Observation]) -> dict[str, ModelFit]:
    """Per model: decode speed with its spread, TTFT against prompt tokens (or its median when the
    data cannot carry a line), reasoning per effort. Each call counts once (:func:`dedupe`)."""
    by_model: dict[str, list[Observation]] = {}
    for o in dedupe(obs):
        by_model.setdefault(o.model, []).append(o)
    fits = {}
    for model, items in by_model.items():
        f = ModelFit(model, len(items))
        client = [o.decode_tps for o in items if o.decode_tps]
        server = [o.server_tps for o in items if o.server_tps]
        speeds, f.decode_source = (client, "client") if len(client) >= 2 or not server else (server, "server")
        if speeds:
            f.decode_tps = percentile(speeds, 50)
            f.decode_p10, f.decode_p90 = percentile(speeds, 10), percentile(speeds, 90)
            f.decode_n = len(speeds)
        timed = [o for o in items if o.streamed and o.ttft_ms is not None and o.prompt_tokens is not None]
        if timed:
            f.ttft_n = len(timed)
            ttfts = [o.ttft_ms or 0.0 for o in timed]
            f.ttft_median = percentile(ttfts, 50)
            f.ttft_p10, f.ttft_p90 = percentile(ttfts, 10), percentile(ttfts, 90)
            xs = [float(o.prompt_tokens or 0) for o in timed]
            f.prompt_range = (percentile(xs, 10), percentile(xs, 90))
            f.ttft_fit, f.ttft_note = _ttft_fit(xs, ttfts)
        efforts: dict[str, list[float]] = {}
        for o in items:
            if o.effort and o.reasoning_tokens is not None and o.finish_reason == "stop":
                efforts.setdefault(o.effort, []).append(float(o.reasoning_tokens))
        f.reasoning = {e: (percentile(v, 50), len(v)) for e, v in efforts.items()}
        fits[model] = f
    return fits
