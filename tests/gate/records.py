"""Call records with known numbers for the gate's unit cases (what ``LLMCall.to_dict`` gives for
a non-streamed call Groq reported its timings for)."""

from __future__ import annotations

import random
from typing import Any


def groq_call(
    *,
    model: str,
    params: dict[str, Any],
    prompt_chars: int,
    i: int,
    queue: float,
    prompt_ms: float,
    completion_ms: float,
    path: float,
    prompt_tokens: int,
    tokens: int,
) -> dict[str, Any]:
    """One successful call of run ``i``: its latency is Groq's queue, prompt and completion
    time plus ``path`` (the network and client), the same for e2e and TTFT (not streamed)."""
    e2e = queue + prompt_ms + completion_ms + path
    return {
        "ok": True,
        "model": model,
        "params": params,
        "prompt_chars": prompt_chars,
        "iteration": i,
        "streamed": False,
        "e2e_ms": e2e,
        "ttft_ms": e2e,
        "queue_ms": queue,
        "prompt_ms": prompt_ms,
        "completion_ms": completion_ms,
        "server_ms": prompt_ms + completion_ms,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": tokens,
        "finish_reason": "stop",
    }


MS_PER_TOKEN = 2.0
"""About 500 tok/s: openai/gpt-oss-120b's order on Groq."""


def sampling_call(
    *,
    tokens: int,
    temperature: float | None = None,
    cap: int = 300,
    ms_per_token: float = MS_PER_TOKEN,
    queue: float = 30.0,
    prompt_ms: float = 15.0,
    path: float = 40.0,
    i: int = 0,
) -> dict[str, Any]:
    params: dict[str, Any] = {"max_completion_tokens": cap}
    if temperature is not None:
        params["temperature"] = temperature
    where = {"queue": queue, "prompt_ms": prompt_ms, "path": path, "i": i}
    decode = {"tokens": tokens, "completion_ms": tokens * ms_per_token}
    record = groq_call(
        model="openai/gpt-oss-120b", params=params, prompt_chars=400, prompt_tokens=100, **where, **decode
    )
    record["finish_reason"] = "length" if tokens >= cap else "stop"
    return record


def sampled_call(
    rng: random.Random, *, longer: float = 1.0, cap: int = 300, cache_flip: bool = False
) -> dict[str, Any]:
    """One call of a sampling model on Groq: length around 80 tokens (sd 30 %), speed with a
    heavy tail (5 % of calls 2x slower), queue lognormal, prompt cache warm or cold at random."""
    tokens = min(cap, max(5, round(rng.gauss(80 * longer, 24 * longer))))
    speed = MS_PER_TOKEN * rng.gauss(1.0, 0.07) * (2.0 if rng.random() < 0.05 else 1.0)
    cold = cache_flip and rng.random() < 0.5
    return sampling_call(
        tokens=tokens,
        cap=cap,
        ms_per_token=speed,
        queue=rng.lognormvariate(3.4, 1.0),
        prompt_ms=120.0 if cold else 15.0,
        path=40.0 + rng.gauss(0, 5),
    ) | {"cached_share": 0.0 if cold else 0.9, "cached_tokens": 0 if cold else 90}
