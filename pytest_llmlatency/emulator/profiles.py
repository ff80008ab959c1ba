"""Model profiles: the speeds and limits the emulator gives each Groq model.

Decode rates are Groq's published output speeds (groq.com/pricing and the model
cards). Prefill rates and queue times are not published; the values below are
chosen to agree with the real cassettes in ``shared/real-cassettes`` (prompt_time
of 3-15 ms for 17-38 prompt tokens, queue_time of 16-280 ms) and are documented
in ``docs/emulator.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "AUDIO_PROFILES",
    "DECOMMISSIONED",
    "MODEL_STATUS",
    "PROFILES",
    "QUEUE_PROFILES",
    "RETIRED",
    "SPEECH_PROFILES",
    "AudioProfile",
    "ModelProfile",
    "QueueProfile",
    "SpeechProfile",
    "decommissioned_message",
    "get_profile",
    "model_cards",
]


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
    supports_json_schema: bool = False
    """Whether ``response_format`` ``json_schema`` is accepted (Groq's structured outputs)."""
    prompt_caching: bool = False
    """Whether Groq caches prompt prefixes for this model (console.groq.com/docs/prompt-caching
    lists kimi-k2-instruct-0905, gpt-oss-20b, gpt-oss-120b and gpt-oss-safeguard-20b)."""
    cached_prefill_speedup: float = 10.0
    """How many times faster a cached prompt token is prefilled than an uncached one. Groq
    publishes no figure ("dramatically reducing latency"); 10x is the emulator's assumption."""
    compound: tuple[str, str] | None = None
    """For a compound system: (main model, helper model) of its inner calls."""
    max_tool_calls: int = 0
    """For a compound system: most server-side tool calls per request (compound 10, mini 1)."""


def _with_variants(profile: ModelProfile) -> tuple[ModelProfile, ...]:
    """A profile, then the models that differ from it in one setting only: ``groq/compound-mini``
    is the ``groq/compound`` system allowed one tool call ("up to 1 tool call")."""
    if profile.id == "groq/compound":
        return profile, replace(profile, id="groq/compound-mini", max_tool_calls=1)
    return (profile,)


PROFILES: dict[str, ModelProfile] = {
    p.id: p
    for listed in (
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
            supports_json_schema=True,
            prompt_caching=True,
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
            supports_json_schema=True,
            prompt_caching=True,
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
            supports_json_schema=True,
        ),
        # wave 2: the rest of Groq's chat catalogue (speeds and sources in docs/emulator.md)
        ModelProfile(
            id="openai/gpt-oss-safeguard-20b",
            owned_by="OpenAI",
            decode_tps=1000,
            prefill_tps=12000,
            queue_median_ms=20,
            queue_sigma=0.6,
            context_window=131072,
            max_completion_tokens=65536,
            typical_answer=(60, 400),
            reasoning="gpt-oss",
            supports_json_schema=True,
            prompt_caching=True,
        ),
        ModelProfile(
            id="groq/compound",
            owned_by="Groq",
            decode_tps=450,
            prefill_tps=4000,
            queue_median_ms=30,
            queue_sigma=0.6,
            context_window=131072,
            max_completion_tokens=8192,
            typical_answer=(60, 400),
            compound=("llama-3.3-70b-versatile", "meta-llama/llama-4-scout-17b-16e-instruct"),
            max_tool_calls=10,
        ),
        ModelProfile(
            id="qwen/qwen3.6-27b",
            owned_by="Alibaba Cloud",
            decode_tps=400,
            prefill_tps=4000,
            queue_median_ms=25,
            queue_sigma=0.6,
            context_window=131072,
            max_completion_tokens=16384,
            typical_answer=(60, 400),
            reasoning="qwen3",
        ),
        ModelProfile(
            id="qwen/qwen3.8-27b",
            owned_by="Alibaba Cloud",
            decode_tps=400,
            prefill_tps=4000,
            queue_median_ms=25,
            queue_sigma=0.6,
            context_window=131042,
            max_completion_tokens=16384,
            typical_answer=(60, 400),
            reasoning="qwen3",
        ),
        ModelProfile(
            id="allam-2-7b",
            owned_by="SDAIA",
            decode_tps=560,
            prefill_tps=6000,
            queue_median_ms=20,
            queue_sigma=0.6,
            context_window=4096,
            max_completion_tokens=4096,
            typical_answer=(40, 350),
        ),
        # retired on Groq's free and developer tiers (see RETIRED); served unless the
        # emulator is started with serve_retired=False
        ModelProfile(
            id="meta-llama/llama-4-maverick-17b-128e-instruct",
            owned_by="Meta",
            decode_tps=600,
            prefill_tps=6000,
            queue_median_ms=25,
            queue_sigma=0.6,
            context_window=131072,
            max_completion_tokens=8192,
            typical_answer=(40, 350),
            supports_json_schema=True,
        ),
        ModelProfile(
            id="moonshotai/kimi-k2-instruct",
            owned_by="Moonshot AI",
            decode_tps=200,
            prefill_tps=2000,
            queue_median_ms=30,
            queue_sigma=0.6,
            context_window=131072,
            max_completion_tokens=16384,
            typical_answer=(60, 400),
            supports_json_schema=True,
        ),
        ModelProfile(
            id="moonshotai/kimi-k2-instruct-0905",
            owned_by="Moonshot AI",
            decode_tps=200,
            prefill_tps=2000,
            queue_median_ms=30,
            queue_sigma=0.6,
            context_window=262144,
            max_completion_tokens=16384,
            typical_answer=(60, 400),
            supports_json_schema=True,
            prompt_caching=True,
        ),
    )
    for p in _with_variants(listed)
}


def get_profile(model: str) -> ModelProfile | None:
    return PROFILES.get(model)


@dataclass(frozen=True)
class AudioProfile:
    """A speech-to-text model: Groq publishes its speed as a real-time factor."""

    id: str
    owned_by: str
    speed_factor: float
    """Seconds of audio transcribed per second of processing."""
    translations: bool
    """Whether ``/audio/translations`` accepts the model."""
    queue_median_ms: float = 30.0
    min_billed_s: float = 10.0
    """Groq bills at least 10 seconds of audio per request."""
    max_file_bytes: int = 25 * 1024 * 1024
    context_window: int = 448


AUDIO_PROFILES: dict[str, AudioProfile] = {
    p.id: p
    for p in (
        AudioProfile("whisper-large-v3-turbo", "OpenAI", speed_factor=216, translations=False),
        AudioProfile("whisper-large-v3", "OpenAI", speed_factor=189, translations=True),
    )
}


@dataclass(frozen=True)
class SpeechProfile:
    """A text-to-speech model. Groq publishes no speed for it: the numbers are
    assumptions, documented in ``docs/emulator.md``."""

    id: str
    owned_by: str
    voices: tuple[str, ...]
    first_byte_ms: float = 150.0
    """Time before the audio starts (third-party measurements: 130-200 ms)."""
    speed_factor: float = 20.0
    """Seconds of speech generated per second (assumed)."""
    chars_per_second: float = 15.0
    """Speaking rate used to size the audio (about 150 words a minute)."""
    max_input_chars: int = 10000


SPEECH_PROFILES: dict[str, SpeechProfile] = {
    p.id: p
    for p in (
        SpeechProfile(
            "canopylabs/orpheus-v1-english",
            "Canopy Labs",
            ("autumn", "diana", "hannah", "austin", "daniel", "troy"),
        ),
        SpeechProfile(
            "canopylabs/orpheus-arabic-saudi",
            "Canopy Labs",
            ("abdullah", "fahad", "sultan", "lulwa", "noura", "aisha"),
        ),
    )
}

MODEL_STATUS: dict[str, str] = {
    "openai/gpt-oss-20b": "production",
    "openai/gpt-oss-120b": "production",
    "whisper-large-v3": "production",
    "whisper-large-v3-turbo": "production",
    "groq/compound": "production system",
    "groq/compound-mini": "production system",
    "openai/gpt-oss-safeguard-20b": "preview",
    "qwen/qwen3.6-27b": "preview",
    "qwen/qwen3.8-27b": "preview",
    "allam-2-7b": "preview",
    "canopylabs/orpheus-v1-english": "preview",
    "canopylabs/orpheus-arabic-saudi": "preview",
}
"""Each current model's list on Groq's models page (console.groq.com/docs/models)."""

RETIRED: dict[str, tuple[str, str]] = {
    "llama-3.1-8b-instant": ("2026-08-16", "openai/gpt-oss-20b"),
    "llama-3.3-70b-versatile": ("2026-08-16", "openai/gpt-oss-120b"),
    "qwen/qwen3-32b": ("2026-07-17", "openai/gpt-oss-120b"),
    "meta-llama/llama-4-scout-17b-16e-instruct": ("2026-07-17", "openai/gpt-oss-120b"),
    "meta-llama/llama-4-maverick-17b-128e-instruct": ("2026-03-09", "openai/gpt-oss-120b"),
    "moonshotai/kimi-k2-instruct-0905": ("2026-04-15", "openai/gpt-oss-120b"),
    "moonshotai/kimi-k2-instruct": ("2025-10-10", "openai/gpt-oss-120b"),
}
"""Models the emulator still serves by default although Groq shut them down (shutdown
date, Groq's recommended replacement; console.groq.com/docs/deprecations). Groq keeps
the Llama models for enterprise contracts; the emulator keeps them all because
tests, recordings and examples in the wild use them. ``GroqEmulator(serve_retired=False)``
answers them as Groq's free and developer tiers do now."""

DECOMMISSIONED: dict[str, str] = {
    "llama3-8b-8192": "llama-3.1-8b-instant",
    "llama3-70b-8192": "llama-3.3-70b-versatile",
    "llama-3.1-70b-versatile": "llama-3.3-70b-versatile",
    "llama-3.3-70b-specdec": "llama-3.3-70b-versatile",
    "llama-3.2-1b-preview": "llama-3.1-8b-instant",
    "llama-3.2-3b-preview": "llama-3.1-8b-instant",
    "llama-3.2-11b-vision-preview": "meta-llama/llama-4-scout-17b-16e-instruct",
    "llama-3.2-90b-vision-preview": "meta-llama/llama-4-maverick-17b-128e-instruct",
    "llama3-groq-8b-8192-tool-use-preview": "llama-3.1-8b-instant",
    "llama3-groq-70b-8192-tool-use-preview": "llama-3.3-70b-versatile",
    "gemma-7b-it": "llama-3.1-8b-instant",
    "gemma2-9b-it": "llama-3.1-8b-instant",
    "mixtral-8x7b-32768": "mistral-saba-24b",
    "mistral-saba-24b": "qwen/qwen3-32b",
    "qwen-qwq-32b": "qwen/qwen3-32b",
    "deepseek-r1-distill-llama-70b": "llama-3.3-70b-versatile",
    "distil-whisper-large-v3-en": "whisper-large-v3-turbo",
    "playai-tts": "canopylabs/orpheus-v1-english",
    "playai-tts-arabic": "canopylabs/orpheus-arabic-saudi",
}
"""Decommissioned models, each with the replacement Groq recommended at the time.
Every request for one gets Groq's ``model_decommissioned`` error."""


def decommissioned_message(model: str) -> str:
    """Groq's error message for a decommissioned model (400, ``model_decommissioned``),
    word for word as Groq's API returns it."""
    return (
        f"The model `{model}` has been decommissioned and is no longer supported. Please refer to "
        "https://console.groq.com/docs/deprecations for a recommendation on which model to use instead."
    )


def model_cards(*, serve_retired: bool = True) -> list[dict[str, object]]:
    """``GET /openai/v1/models`` entries, in Groq's model object shape."""
    cards: list[dict[str, object]] = []
    for p in PROFILES.values():
        if p.id in RETIRED and not serve_retired:
            continue
        cards.append(_card(p.id, p.owned_by, p.context_window, p.max_completion_tokens))
    for a in AUDIO_PROFILES.values():
        cards.append(_card(a.id, a.owned_by, a.context_window, a.context_window))
    for s in SPEECH_PROFILES.values():
        cards.append(_card(s.id, s.owned_by, 4000, 50000))
    return cards


def _card(model: str, owned_by: str, context_window: int, max_completion_tokens: int) -> dict[str, object]:
    return {
        "id": model,
        "object": "model",
        "created": 1693721698,
        "owned_by": owned_by,
        "active": True,
        "context_window": context_window,
        "public_apps": None,
        "max_completion_tokens": max_completion_tokens,
    }


@dataclass(frozen=True)
class QueueProfile:
    """Where the emulator's queue times (and per-request speed jitter) come from.

    ``calm`` is each model's own narrow log-normal (``ModelProfile.queue_median_ms`` and
    ``queue_sigma``): the default, steady enough for example suites and single-call budgets.
    ``groq`` is calibrated on real Groq responses: a log-normal with median 101 ms and
    sigma 1.40, so p90 = 101 * exp(1.40 * 1.2816) = 608 ms and p99 = 2.6 s; capped at 10 s.
    Source: ``usage.queue_time`` of 135 real calls in the cassettes of pydantic-ai, weave,
    langtrace and openllmetry (median 101 ms, p90 604 ms, max 5.6 s; issue 12), checked against
    the 21 distinct values in ``shared/real-cassettes`` (median 17 ms, log-sd 1.46: the same
    tail, a lower centre; the wider set sets the centre). The largest of 135 draws of this
    distribution is 2.6-5.7 s half the time, as observed. Speed jitter: Groq's own completion speed of one model
    varies with a standard deviation of about 7 % between requests (gpt-oss-120b: 437, 463,
    503 tok/s; llama-4-scout: 424, 433 tok/s), so ``groq`` raises a non-zero jitter to 7 %."""

    name: str
    median_ms: float | None = None
    """None: the model profile's own queue distribution."""
    sigma: float | None = None
    cap_ms: float | None = None
    speed_jitter: float | None = None
    """The least per-request spread of decode and prefill speed (a jitter of 0 stays 0)."""

    def describe(self) -> str:
        if self.median_ms is None:
            return f"{self.name}: each model's own queue time (median 20-30 ms, sigma 0.6)"
        return (
            f"{self.name}: log-normal queue time, median {self.median_ms:g} ms, sigma {self.sigma:g}, "
            f"capped at {self.cap_ms:g} ms; speed jitter at least {self.speed_jitter:.0%}"
        )


QUEUE_PROFILES: dict[str, QueueProfile] = {
    "calm": QueueProfile("calm"),
    "groq": QueueProfile("groq", median_ms=101.0, sigma=1.40, cap_ms=10_000.0, speed_jitter=0.07),
}
