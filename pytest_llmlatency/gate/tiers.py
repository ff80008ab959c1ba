"""The Groq service tier that served each call, and how the tiers of a baseline and of a run
compare (the gate compares time metrics only between calls of the same tier)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..core.records import CallRecord

__all__ = ["TierKey", "call_tier", "served_tiers", "tier_key"]


def call_tier(call: CallRecord) -> str | None:
    """The service tier that served a call: as its response said, else the tier it asked for; a
    call that asked for none and was not told is counted as ``on_demand``, Groq's default. None
    when unknown (``auto`` on a stream, a record saved before tiers were kept)."""
    tier = call.get("service_tier")
    if isinstance(tier, str) and tier:
        return tier
    if "requested_tier" in call and call.get("requested_tier") is None:
        return "on_demand"
    return None


def served_tiers(calls: Sequence[CallRecord]) -> list[str] | None:
    """The distinct tiers that served the measured calls, in order; None when any is unknown."""
    tiers = [call_tier(c) for c in calls if c.get("ok") and not c.get("warmup") and not c.get("prediction")]
    if not tiers or any(t is None for t in tiers):
        return None
    return list(dict.fromkeys(t for t in tiers if t))


@dataclass
class TierKey:
    """How the service tiers of the baseline and of this run compare."""

    old: list[str]
    new: list[str]
    common: list[str]

    @property
    def change(self) -> str:
        return f"{', '.join(self.old)} -> {', '.join(self.new)}"


def tier_key(base_calls: Sequence[CallRecord], calls: Sequence[CallRecord]) -> TierKey | None:
    """The tiers on both sides when every call's tier is known and they differ; None otherwise."""
    old, new = served_tiers(base_calls), served_tiers(calls)
    if not old or not new or set(old) == set(new):
        return None
    return TierKey(old, new, [t for t in old if t in new])
