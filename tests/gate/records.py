"""Call records with known numbers for the gate's unit cases (what ``LLMCall.to_dict`` gives for
a non-streamed call Groq reported its timings for)."""

from __future__ import annotations

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
