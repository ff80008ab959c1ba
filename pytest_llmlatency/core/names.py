"""Marker names and their documented signatures (imported at start-up: keep it tiny)."""

from __future__ import annotations

import pytest

__all__ = ["BUDGET_MARKERS", "LATENCY_METRICS", "LATENCY_SCOPES", "MARKERS", "RECORD_MODES", "LLMLatencyWarning"]


class LLMLatencyWarning(pytest.PytestWarning):
    """Something the plugin could not measure (for example a request it did not see)."""


LATENCY_METRICS = ("e2e", "ttfb", "ttft", "server", "queue", "wall", "client")
LATENCY_SCOPES = ("call", "test")
RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
BUDGET_MARKERS = (
    "max_latency",
    "max_ttft",
    "max_tokens",
    "min_throughput",
    "max_server_time",
    "max_calls",
    "min_realtime_factor",
    "max_cost",
    "min_cache_share",
)

# name -> the signature shown by ``pytest --markers``
MARKERS = {
    "max_latency": "max_latency(*, ms, metric='e2e', percentile=None, call=None, scope='call', exclude=None): "
    "fail the test when an LLM call's latency exceeds ms. metric: e2e, ttfb, ttft, server (Groq total_time), "
    "queue (Groq queue_time), wall (with retries) or client (the client's own share of e2e: the time it "
    "held the response unread beyond the server's pace). percentile: judge that percentile over all calls (e.g. 95 "
    "with llm_repeat) instead of every call. call: an index into the test's calls or a model name. "
    "scope='test': judge the agent wall time instead, from the first call's start to the last call's end "
    "(the application's time between calls included). exclude='queue': leave Groq's reported queue time "
    "(its load, not your latency) out of e2e, ttft, ttfb or wall; exclude='client' leaves the client's own "
    "share (not reading the stream) out of e2e, ttft or wall; both: exclude=['queue', 'client'].",
    "max_ttft": "max_ttft(*, ms, percentile=None, call=None, exclude=None): shorthand for "
    "max_latency(ms=..., metric='ttft'); exclude='client' judges TTFT less the client's own share.",
    "max_tokens": "max_tokens(*, prompt=None, completion=None, reasoning=None, total=None, call=None): fail "
    "the test when an LLM call used more tokens than given (Groq's usage).",
    "min_throughput": "min_throughput(*, tokens_per_s, percentile=None, call=None): fail the test when an "
    "LLM call's output tokens per second fall below tokens_per_s.",
    "max_calls": "max_calls(*, n): fail the test when it makes more than n LLM calls (per run with "
    "llm_repeat): an agent that loops more often is slower. Retries of one call count once.",
    "min_realtime_factor": "min_realtime_factor(*, x, percentile=None, call=None): fail the test when an "
    "audio call (transcription, translation, speech) handles fewer than x seconds of audio per second of "
    "latency (audio seconds / e2e seconds).",
    "max_server_time": "max_server_time(*, queue_ms=None, prompt_ms=None, completion_ms=None, "
    "total_ms=None, call=None): fail the test when Groq's reported server timings exceed these.",
    "llm_baseline": "llm_baseline(*, tolerance=None, compare=True): this test's regression tolerance "
    "against the baseline (e.g. tolerance='e2e:25%' or ['e2e:25%', 'completion_tokens:0']), overriding "
    "--llm-compare-fail; compare=False leaves the test out of the comparison.",
    "llm_repeat": "llm_repeat(*, n, warmup=0): run the test body warmup + n times; budgets judge the n "
    "measured runs, so percentiles mean something. warmup=1 also warms Groq's prompt cache: the measured "
    "runs are warm (see docs/levers.md for measuring warm against cold).",
    "max_cost": "max_cost(*, usd, scope='call', percentile=None, call=None): fail the test when an LLM "
    "call costs more than usd US dollars at Groq's published prices (or --llm-prices); scope='test' judges "
    "the sum of the test's calls per run; percentile judges that percentile over calls (or runs). A model "
    "without a price fails the budget as 'cost unknown', never a guess.",
    "min_cache_share": "min_cache_share(p, *, percentile=None, call=None): fail the test when less than the "
    "share p (0..1) of an LLM call's prompt tokens came from Groq's prompt cache "
    "(usage.prompt_tokens_details.cached_tokens / prompt_tokens): for tests that depend on a warm cache.",
}
