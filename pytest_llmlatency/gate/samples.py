"""The samples the gate compares, drawn from call records: per call (a time, a token count) or
per run of a test (``llm_repeat`` iteration: the agent wall time, the calls, the share of the
prompt Groq's cache served, the cost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.records import CallRecord
from .metrics import AGENT, CACHED_SHARE, CALLS, COST, METRICS, TOKEN_METRICS
from .stats import median

__all__ = [
    "CACHE_CHANGE_POINTS",
    "agent_samples",
    "cache_change",
    "cache_shares",
    "call_counts",
    "current_samples",
    "measured_values",
    "multi_call",
    "number",
    "run_costs",
    "runs_of",
]

CACHE_CHANGE_POINTS = 5.0
"""A run's cached share must move by at least this many percentage points to be named as a cause."""


def number(value: Any) -> float | None:
    """A number as a float; None for anything else (a bool is not a number here)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def measured_values(calls: Sequence[CallRecord], key: str) -> list[float]:
    """Measured values only: a call answered with a predicted cost is left out."""
    return [
        float(v) for c in calls if c.get("ok") and not c.get("prediction") and isinstance(v := c.get(key), (int, float))
    ]


def runs_of(calls: Sequence[CallRecord]) -> list[list[CallRecord]]:
    """The measured calls of each run of a test (``llm_repeat`` iteration), in run order."""
    runs: dict[int, list[CallRecord]] = {}
    for c in calls:
        if c.get("warmup") or c.get("prediction"):
            continue
        iteration = c.get("iteration")
        runs.setdefault(iteration if isinstance(iteration, int) else 0, []).append(c)
    return [runs[k] for k in sorted(runs)]


def multi_call(calls: Sequence[CallRecord]) -> bool:
    """Whether a run of the test made more than one call (an agent)."""
    return any(len(run) > 1 for run in runs_of(calls))


def agent_samples(calls: Sequence[CallRecord]) -> list[float]:
    """The agent wall time of each run whose calls all carry their agent clock (ms)."""
    out = []
    for run in runs_of(calls):
        ends = [e for e in (c.get("agent_end_ms") for c in run) if isinstance(e, (int, float))]
        if run and len(ends) == len(run):
            out.append(float(max(ends)))
    return out


def call_counts(calls: Sequence[CallRecord]) -> list[float]:
    """LLM calls per run."""
    return [float(len(run)) for run in runs_of(calls)]


def cache_shares(calls: Sequence[CallRecord]) -> list[float]:
    """The share of each run's prompt tokens served from Groq's prompt cache, in percentage
    points, weighted by prompt tokens. A run is left out when a call of it carries no share (a
    baseline saved before shares were kept, a call that reported no prompt tokens)."""
    out = []
    for run in runs_of(calls):
        ok = [c for c in run if c.get("ok")]
        pairs = [(number(c.get("cached_share")), number(c.get("prompt_tokens"))) for c in ok]
        if not ok or any(share is None or not prompt for share, prompt in pairs):
            continue
        total = sum(prompt or 0.0 for _, prompt in pairs)
        out.append(sum((share or 0.0) * (prompt or 0.0) for share, prompt in pairs) / total * 100)
    return out


def run_costs(calls: Sequence[CallRecord]) -> list[float]:
    """US dollars per run (the sum of its calls' costs); a run with a call of unknown cost is left out."""
    out = []
    for run in runs_of(calls):
        ok = [c for c in run if c.get("ok")]
        costs = [number(c.get("cost_usd")) for c in ok]
        if ok and all(cost is not None for cost in costs):
            out.append(sum(cost or 0.0 for cost in costs))
    return out


def current_samples(calls: Sequence[CallRecord]) -> dict[str, list[float]]:
    """Every gate metric's samples of a run's calls (milliseconds, counts, points, dollars)."""
    out = {m: measured_values(calls, f"{m}_ms") for m in METRICS}
    out.update({k: measured_values(calls, k) for k in TOKEN_METRICS})
    out[AGENT] = agent_samples(calls)
    out[CALLS] = call_counts(calls)
    out[CACHED_SHARE] = cache_shares(calls)
    out[COST] = run_costs(calls)
    return out


def cache_change(old_calls: Sequence[CallRecord], new_calls: Sequence[CallRecord]) -> tuple[float, float] | None:
    """The median cached share per run (points) on each side, when both are known and they differ
    by at least ``CACHE_CHANGE_POINTS``."""
    a, b = cache_shares(old_calls), cache_shares(new_calls)
    if not a or not b or abs(median(b) - median(a)) < CACHE_CHANGE_POINTS:
        return None
    return median(a), median(b)
