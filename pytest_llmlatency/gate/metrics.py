"""The metrics the gate saves and judges, by name, and their groups."""

from __future__ import annotations

__all__ = [
    "AGENT",
    "CACHED_SHARE",
    "CALLS",
    "COST",
    "COUNT_METRICS",
    "GATE_METRICS",
    "HIGHER_IS_BETTER",
    "LEVER_METRICS",
    "METRICS",
    "TIME_METRICS",
    "TOKEN_METRICS",
]

METRICS = ("e2e", "ttft", "ttfb", "server", "queue")
"""Time metrics saved as benchmark entries (milliseconds here, seconds in the file)."""
TOKEN_METRICS = ("completion_tokens", "prompt_tokens", "reasoning_tokens", "total_tokens")
AGENT = "agent"
"""The agent wall time of one run of a test: first call's start to last call's end (ms)."""
CALLS = "calls"
"""LLM calls per run of a test."""
CACHED_SHARE = "cached_share"
"""The share of a run's prompt tokens Groq's prompt cache served, in percentage points (0-100):
higher is better, so a drop is the regression."""
COST = "cost"
"""US dollars per run of a test (the sum of its calls' costs from the price table)."""
LEVER_METRICS = (CACHED_SHARE, COST)
TIME_METRICS = (*METRICS, AGENT)
COUNT_METRICS = (*TOKEN_METRICS, CALLS)
GATE_METRICS = (*METRICS, AGENT, *TOKEN_METRICS, CALLS, *LEVER_METRICS)
HIGHER_IS_BETTER = (CACHED_SHARE,)
