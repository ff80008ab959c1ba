"""The gate's verdicts: :class:`Shift` (one metric of one test against its baseline) and
:class:`Comparison` (one test: its shifts, the notes on what changed, the message), and how
their numbers read."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .metrics import CACHED_SHARE, CALLS, COST, LEVER_METRICS, TIME_METRICS
from .stats import MIN_SAMPLES
from .thresholds import Threshold

__all__ = ["Comparison", "Shift", "num", "signed", "usd"]


def num(value: float) -> str:
    """``1,234`` from 100 on or for a whole number, else ``12.3``."""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def signed(ms: float) -> str:
    """A shift in milliseconds with its sign, ``+0`` for none."""
    text = f"{ms:+,.0f}"
    return "+0" if text in ("-0", "+0") else text


def usd(value: float, *, signed: bool = False) -> str:
    """``$0.000123``: enough decimals for three significant digits of a small cost."""
    sign = ("+" if value >= 0 else "-") if signed else "-" if value < 0 else ""
    amount = abs(value)
    if amount == 0:
        return f"{sign}$0"
    decimals = max(2, 2 - math.floor(math.log10(amount)))
    return f"{sign}${amount:,.{decimals}f}"


def _limit(threshold: Threshold) -> str:
    if threshold.metric == CACHED_SHARE:
        return f"{threshold.absolute or 0:g} pts"
    if threshold.metric == COST and threshold.absolute is not None:
        return usd(threshold.absolute)
    if threshold.percent is not None:
        return f"{threshold.percent:g}%"
    unit = " ms" if threshold.metric in TIME_METRICS else " calls" if threshold.metric == CALLS else " tokens"
    return f"{threshold.absolute:g}{unit}"


@dataclass
class Shift:
    metric: str
    old: float
    new: float
    threshold: Threshold | None
    verdict: str
    """``regressed``, ``improved``, ``unchanged`` or ``inconclusive``."""
    p: float | None = None
    denoised: tuple[float, float] | None = None
    """Medians of the metric without Groq's queue time (old, new), when every call reported it:
    the verdict is judged on these."""
    detail: str | None = None
    """The decomposition: tokens, Groq's prompt and completion time, queue, network/client, and why
    the verdict is what it is."""
    certain: bool = False
    """Decided by the service part beyond the noise envelope (no rank test needed)."""
    repeats: int | None = None
    """For an inconclusive shift: about how many calls per side would decide it."""
    cause: str | None = None
    """``tier``: not compared, the service tier that served the calls changed."""

    @property
    def percent(self) -> float | None:
        if self.metric == CACHED_SHARE:  # a share moves in points; a relative change of it misleads
            return None
        return None if not self.old else (self.new - self.old) / self.old * 100

    def describe(self) -> str:
        if self.metric in LEVER_METRICS:
            return self._describe_lever()
        unit = " ms" if self.metric in TIME_METRICS else ""
        pct = self.percent
        change = f" ({pct:+.0f}%" if pct is not None else f" ({self.new - self.old:+,.0f}{unit.strip() and ' ms'}"
        change += f", limit {_limit(self.threshold)}" if self.threshold else ""
        if self.p is not None:
            change += f", p={self.p:.3f}"
        if self.detail:
            change += f"; {self.detail}"
        change += ")"
        return f"{self.metric} {num(self.old)}{unit} -> {num(self.new)}{unit}{change}"

    def _describe_lever(self) -> str:
        if self.metric == CACHED_SHARE:
            change = f"{self.new - self.old:+.0f} pts"
            values = f"{self.old:.0f}% -> {self.new:.0f}%"
        else:
            pct = self.percent
            change = f"{pct:+.0f}%" if pct is not None else f"{usd(self.new - self.old, signed=True)}"
            values = f"{usd(self.old)} -> {usd(self.new)} per run"
        if self.threshold:
            change += f", limit {_limit(self.threshold)}"
        if self.detail:
            change += f"; {self.detail}"
        return f"{self.metric} {values} ({change})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "percent": self.percent,
            "threshold": None if self.threshold is None else str(self.threshold),
            "verdict": self.verdict,
            "p": self.p,
            "denoised": None if self.denoised is None else list(self.denoised),
            "certain": self.certain,
            "repeats": self.repeats,
            "detail": self.detail,
            "cause": self.cause,
        }


def _described(shifts: list[Shift]) -> str:
    return "; ".join(s.describe() for s in shifts)


@dataclass
class Comparison:
    nodeid: str
    method: str
    shifts: list[Shift]
    notes: list[str]
    baseline: str
    tiers: dict[str, list[str]] | None = None
    """When the served tiers changed: ``{"baseline": [...], "new": [...], "compared": [...]}``
    (``compared``: the tiers whose calls the time metrics were compared on; empty: none)."""

    @property
    def regressions(self) -> list[Shift]:
        return [s for s in self.shifts if s.verdict == "regressed"]

    @property
    def improvements(self) -> list[Shift]:
        return [s for s in self.shifts if s.verdict == "improved"]

    @property
    def inconclusive(self) -> list[Shift]:
        return [s for s in self.shifts if s.verdict == "inconclusive"]

    def message(self) -> str:
        name = self.nodeid.rsplit("::", 1)[-1]
        parts = []
        if self.regressions:
            parts.append(f"{name} regressed against {self.baseline}: " + _described(self.regressions) + ".")
        if self.improvements:
            parts.append(
                f"{name} improved: " + _described(self.improvements) + " (refresh the baseline with --llm-save)."
            )
        tiered = [s for s in self.inconclusive if s.cause == "tier"]
        noisy = [s for s in self.inconclusive if s.repeats is not None and s.cause is None]
        few = [s for s in self.inconclusive if s.repeats is None and s.cause is None]
        if tiered and self.tiers is not None:
            change = f"{', '.join(self.tiers['baseline'])} -> {', '.join(self.tiers['new'])}"
            parts.append(
                f"{name}: not compared, tier changed {change}: a run served by another tier is not judged "
                f"against this baseline (save one on {', '.join(self.tiers['new'])} with --llm-save): "
                + _described(tiered)
                + "."
            )
        if noisy:
            why = "inconclusive, more calls per side would decide (why, in each detail): "
            parts.append(f"{name}: {why}" + _described(noisy) + ".")
        if few:
            parts.append(
                f"{name}: inconclusive, too few samples for a live comparison "
                f"(at least {MIN_SAMPLES} per side; use @pytest.mark.llm_repeat): " + _described(few) + "."
            )
        if parts:
            parts.extend(self.notes)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "method": self.method,
            "shifts": [s.to_dict() for s in self.shifts],
            "notes": self.notes,
            "regressed": bool(self.regressions),
            "message": self.message(),
            **({"tiers": self.tiers} if self.tiers is not None else {}),
        }
