"""Model profiles: the speeds and limits the emulator gives each Groq model.

Decode rates are Groq's published output speeds (groq.com/pricing and the model
cards). Prefill rates and queue times are not published; the values below are
chosen to agree with the real cassettes in ``shared/real-cassettes`` (prompt_time
of 3-15 ms for 17-38 prompt tokens, queue_time of 16-280 ms) and are documented
in ``docs/emulator.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelProfile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class ModelProfile:
    id: str
    owned_by: str
    decode_tps: float
    """Output tokens per second while decoding."""
    prefill_tps: float
    """Prompt tokens per second while prefilling."""
    queue_median_ms: float
    """Median of the log-normal queue-time distribution."""
    queue_sigma: float
    """Shape (sigma of the underlying normal) of the queue-time distribution."""
    context_window: int
    max_completion_tokens: int
    typical_answer: tuple[int, int]
    """Range of natural answer lengths (tokens) when the prompt asks for none."""
    reasoning: str | None = None
    """``"gpt-oss"`` (reasoning_effort low/medium/high) or ``"qwen3"`` (none/default)."""


PROFILES: dict[str, ModelProfile] = {
    p.id: p
    for p in (
        ModelProfile(
            "openai/gpt-oss-20b",
            "OpenAI",
            1000,
            12000,
            20,
            0.6,
            131072,
            65536,
            (60, 400),
            reasoning="gpt-oss",
        ),
        ModelProfile(
            "openai/gpt-oss-120b",
            "OpenAI",
            500,
            6000,
            25,
            0.6,
            131072,
            65536,
            (60, 400),
            reasoning="gpt-oss",
        ),
        ModelProfile(
            "llama-3.1-8b-instant",
            "Meta",
            560,
            6000,
            20,
            0.6,
            131072,
            131072,
            (40, 350),
        ),
        ModelProfile(
            "llama-3.3-70b-versatile",
            "Meta",
            280,
            2500,
            30,
            0.6,
            131072,
            32768,
            (60, 400),
        ),
        ModelProfile(
            "qwen/qwen3-32b",
            "Alibaba Cloud",
            400,
            4000,
            25,
            0.6,
            131072,
            40960,
            (60, 400),
            reasoning="qwen3",
        ),
        ModelProfile(
            "meta-llama/llama-4-scout-17b-16e-instruct",
            "Meta",
            750,
            8000,
            20,
            0.6,
            131072,
            8192,
            (40, 350),
        ),
    )
}


def get_profile(model: str) -> ModelProfile | None:
    return PROFILES.get(model)
