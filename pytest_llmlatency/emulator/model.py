"""The emulator's generation and latency model (pure: no I/O, no clock).

A request, once ``validation.check_chat`` accepts it, becomes a :class:`Plan`: which
tokens come out (reasoning, then content; the answer policy in ``policy.py`` picks tool
calls or JSON), why the output stops, and how long each phase takes. The endpoint modules
(``chat.py``, ``responses.py``, ``compound.py``) play the plan in real time. Everything
here is deterministic given the request and the seeds:

* *What* is generated depends on the model, the messages, ``temperature``,
  ``top_p`` and ``seed``.
* *How long* the natural answer is depends on the model and the messages
  (plus ``reasoning_effort`` for reasoning tokens); see :func:`natural_length`. A request
  that samples (``temperature`` > 0, or none given and ``sampling`` on: Groq's default is 1)
  draws its lengths around those, log-normally (:func:`sampled_length`): fixed by the
  request's ``seed`` when it has one, else by the emulator's seed and the occurrence.
* *Timing jitter* depends on the emulator's seed and the request's occurrence
  number, so a run of identical requests varies like a live server while a whole
  test session replays identically.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from .policy import Answer, ToolCall, decide, json_pieces
from .profiles import QUEUE_PROFILES, ModelProfile, QueueProfile
from .validation import ChatRequest, check_chat, check_service_tier

__all__ = [
    "PERFORMANCE_QUEUE_FACTOR",
    "Plan",
    "Timing",
    "count_tokens",
    "lognormal_queue_s",
    "natural_length",
    "plan_request",
    "prompt_tokens",
    "sampled_length",
    "sampling_temperature",
    "speed_factor",
    "tool_call_tokens",
    "with_cached_prefix",
]

PERFORMANCE_QUEUE_FACTOR = 0.5
"""Queue time on the ``performance`` tier relative to ``on_demand``: Groq promises "reliable low
latency" there and publishes no number; halving the queue time is the emulator's assumption."""
QUEUE_CAP_MEDIANS = 20
"""A queue time drawn from a model's own log-normal is capped at this many medians."""
SLOWEST_SPEED = 0.5
"""Speed jitter never slows a request below half of its profile's prefill and decode speed."""
LENGTH_SIGMA = 0.3
"""Spread (sigma of the log) of a sampled answer length at temperature 1, so a relative standard
deviation of 0.31: SmolLM2-135M-Instruct on llama.cpp answered one prompt at temperature 1 with
90, 81, 32, 88, 68, 100 (the cap), 89, 88, 87 and 61 tokens (log sd 0.33); Groq's answers moved
49 -> 78, 108 -> 190 and 24 -> 49 tokens between runs. The spread grows in proportion to the
temperature (the emulator's assumption): near 0 the length is the deterministic one."""


_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_MESSAGE_OVERHEAD = 4
_PROMPT_OVERHEAD = 6


def count_tokens(text: str) -> int:
    """Approximate BPE token count: one per word or symbol, long words two or more."""
    n = 0
    for m in _TOKEN_RE.finditer(text):
        n += 1 + (len(m.group()) - 1) // 8
    return n


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return str(message)
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return ""


def prompt_tokens(messages: list[Any]) -> int:
    """Prompt tokens as the emulator bills them: content tokens plus chat-template
    overhead (6 per request, 4 per message; a one-message prompt of 7 words costs
    17, as Groq billed "What is the capital of India?" in the real cassettes)."""
    return _PROMPT_OVERHEAD + sum(_MESSAGE_OVERHEAD + count_tokens(_message_text(m)) for m in messages)


def _digest(*parts: Any) -> int:
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.sha256(raw.encode()).digest()[:8], "big")


_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}
_NUM = r"(\d+|a single|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_APPROX = r"(?:about|around|roughly|approximately|~)?\s*"
_CAP = r"(?:at most|no more than|up to|under|fewer than|less than|max(?:imum)?(?: of)?)\s+"
_LENGTH_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(_CAP + _NUM + r"\s+tokens?\b"), "cap_tokens"),
    (re.compile(_APPROX + _NUM + r"\s+tokens?\b"), "tokens"),
    (re.compile(_CAP + _NUM + r"\s+words?\b"), "cap_words"),
    (re.compile(_APPROX + _NUM + r"\s+words?\b"), "words"),
    (re.compile(_APPROX + _NUM + r"\s+sentences?\b"), "sentences"),
    (re.compile(_APPROX + _NUM + r"\s+paragraphs?\b"), "paragraphs"),
]
# tokens per unit, as the rough English averages the emulator assumes
_PER_UNIT = {"words": 1.3, "cap_words": 1.3, "sentences": 20.0, "paragraphs": 90.0}


def _parse_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    return _NUMBER_WORDS.get(text.split()[-1], 1)


def requested_length(prompt: str) -> tuple[str, int] | None:
    """The length a prompt asks for, as (rule, number), or None."""
    lowered = prompt.lower()
    for pattern, rule in _LENGTH_RULES:
        m = pattern.search(lowered)
        if m:
            return rule, _parse_number(m.group(1))
    return None


def natural_length(model: str, messages: list[Any], profile: ModelProfile) -> int:
    """Content tokens of the natural answer (before any cap or stop sequence).

    The last user message decides: an explicit request ("in about 300 words",
    "in one word", "at most 40 tokens", "in two sentences") is honoured within
    +-10% (caps land at 80-100% of the cap); otherwise the length is drawn,
    deterministically from the model and messages, from the profile's typical range.
    """
    rng = random.Random(_digest("length", model, messages))
    user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    prompt = _message_text(user[-1]) if user else ""
    asked = requested_length(prompt)
    lo, hi = profile.typical_answer
    if asked is None:
        return rng.randint(lo, hi)
    rule, number = asked
    if rule == "cap_tokens":
        return max(1, int(number * rng.uniform(0.8, 1.0)))
    if rule == "tokens":
        return max(1, round(number * rng.uniform(0.9, 1.1)))
    if rule == "cap_words":
        return max(1, int(number * _PER_UNIT[rule] * rng.uniform(0.8, 1.0)))
    if rule == "words" and number <= 2:
        return number + 1  # the word(s) and a full stop
    return max(1, round(number * _PER_UNIT[rule] * rng.uniform(0.9, 1.1)))


_REASONING_RANGES: dict[str, tuple[int, int]] = {
    "low": (16, 48),
    "medium": (120, 360),
    "high": (500, 1500),
    "default": (150, 450),
    "none": (0, 0),
}


def reasoning_length(model: str, messages: list[Any], effort: str) -> int:
    lo, hi = _REASONING_RANGES[effort]
    if hi == 0:
        return 0
    rng = random.Random(_digest("reasoning", model, messages, effort))
    return rng.randint(lo, hi)


def sampling_temperature(body: dict[str, Any], sampling: bool) -> float:
    """The temperature a request samples its lengths at: its own ``temperature``; when it
    gives none, Groq's default 1 if the emulator samples (``sampling``), else 0."""
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        return max(0.0, float(temperature))
    return 1.0 if sampling else 0.0


def sampled_length(n: int, z: float, temperature: float) -> int:
    """A length drawn log-normally around ``n`` (its median) from the standard normal draw
    ``z``: sigma :data:`LENGTH_SIGMA` x ``temperature``; ``n`` itself at temperature 0."""
    if n <= 0 or temperature <= 0:
        return n
    return max(1, round(n * math.exp(LENGTH_SIGMA * temperature * z)))


def _length_draws(body: dict[str, Any], req: ChatRequest, *, seed: int, occurrence: int) -> tuple[float, float]:
    """Standard normal draws (content, reasoning) of a sampled answer's lengths: fixed by the
    request's ``seed`` when it gives one, else by the emulator's seed and the occurrence."""
    key = ("lengths", req.model, req.messages, body.get("temperature"), body.get("top_p"))
    request_seed = body.get("seed")
    if isinstance(request_seed, int) and not isinstance(request_seed, bool):
        rng = random.Random(_digest(*key, "request seed", request_seed))
    else:
        rng = random.Random(_digest(*key, "emulator seed", seed, occurrence))
    return rng.gauss(0, 1), rng.gauss(0, 1)


_WORDS = tuple(
    "the model latency request token stream answer system user response time fast "
    "server queue prompt output input data value result service client network call "
    "budget test change fit speed rate limit cache batch score class label intent "
    "order refund account billing support question reply message context detail "
    "example case point reason step plan goal team build check run check is are can "
    "will should may often usually always never also then so and but or because while "
    "when if which that this these those it they we you its their our your more less "
    "most least very quite rather simply clearly important useful simple common "
    "different specific general small large long short low high new good better best "
    "quick slow steady real main key open measure compare improve reduce increase "
    "keep make take give use find show help need want know think consider explain "
    "describe return send read write".split()
)
_INTENTS = ("billing", "refund", "shipping", "account", "support", "cancel", "greeting")


def _prose(rng: random.Random, n: int) -> list[str]:
    """n tokens of plausible prose: words, commas, full stops, paragraph breaks."""
    out: list[str] = []
    sentence = 0
    sentence_len = rng.randint(8, 20)
    sentences_in_para = 0
    para_len = rng.randint(3, 5)
    while len(out) < n:
        remaining = n - len(out)
        if sentence >= sentence_len or remaining == 1:
            out.append(".")
            sentence = 0
            sentence_len = rng.randint(8, 20)
            sentences_in_para += 1
            if sentences_in_para >= para_len and len(out) < n:
                out.append("\n\n")
                sentences_in_para = 0
                para_len = rng.randint(3, 5)
            continue
        word = rng.choice(_WORDS)
        if sentence == 0:
            word = word.capitalize()
            out.append(word if not out or out[-1] == "\n\n" else " " + word)
        else:
            if sentence > 3 and rng.random() < 0.08:
                out.append(",")
                if len(out) >= n:
                    break
            out.append(" " + word)
        sentence += 1
    return out[:n]


def _answer_tokens(rng: random.Random, n: int, prompt: str, single_word: bool) -> list[str]:
    lowered = prompt.lower()
    if single_word:
        word = rng.choice(_INTENTS if "intent" in lowered else _WORDS).capitalize()
        return ([word] + ["."] + [" " + rng.choice(_WORDS)] * n)[:n]
    return _prose(rng, n)


@dataclass
class Timing:
    """Model seconds (before time scaling) of each phase of one request."""

    queue_s: float
    prompt_s: float
    token_s: float
    """Decode time of one completion token."""


@dataclass
class Plan:
    model: str
    profile: ModelProfile
    stream: bool
    include_usage: bool
    prompt_tokens: int
    reasoning: list[str]
    """Reasoning deltas, one per token."""
    content: list[str]
    """Content deltas, one per token (the last may be cut short by a stop sequence)."""
    completion_tokens: int
    finish_reason: str
    show_reasoning: str
    """Where reasoning text goes: ``"field"``, ``"raw"`` (think tags in content) or ``"hidden"``."""
    service_tier: str
    seed: int
    timing: Timing
    params: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tool calls the answer makes (then ``content`` is empty)."""
    tool_tokens: int = 0
    """Completion tokens of the tool calls (billed and decoded like any output token)."""
    response_format: str | None = None
    """``"json_object"``, ``"json_schema"`` or ``"prompted"`` when the content is one JSON object."""
    cached_tokens: int = 0
    """Prompt tokens served from the prompt cache (set by :func:`with_cached_prefix`)."""
    requested_tier: str | None = None
    """``service_tier`` as the request gave it (None when absent)."""
    occurrence: int = 0
    """How many identical requests the emulator served before this one."""

    @property
    def reasoning_tokens(self) -> int:
        return len(self.reasoning)

    @property
    def duration_s(self) -> float:
        t = self.timing
        return t.queue_s + t.prompt_s + self.completion_tokens * t.token_s


def tool_call_tokens(call: ToolCall) -> int:
    """Completion tokens of one tool call: its arguments, its name and a few of framing."""
    return count_tokens(call.arguments) + count_tokens(call.name) + 3


def _extra_prompt_tokens(body: dict[str, Any], messages: list[Any]) -> int:
    """Prompt tokens of the tool definitions, a json_schema and earlier tool calls."""
    n = 0
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        n += 12 + sum(8 + count_tokens(json.dumps(t, separators=(",", ":"))) for t in tools)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and isinstance(fmt.get("json_schema"), dict):
        n += 10 + count_tokens(json.dumps(fmt["json_schema"].get("schema"), separators=(",", ":")))
    for m in messages:
        for call in m.get("tool_calls") or [] if isinstance(m, dict) else []:
            n += 4 + count_tokens(json.dumps(call, separators=(",", ":"), default=str))
    return n


def _apply_stop(content: list[str], stops: list[str]) -> tuple[list[str], int] | None:
    """Cut content at the first stop sequence: (emitted deltas, tokens generated)."""
    if not stops:
        return None
    text = ""
    starts = []
    for piece in content:
        starts.append(len(text))
        text += piece
    best = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if best < 0:
        return None
    # the token holding the start of the stop sequence is generated (and billed)
    # but only its part before the stop sequence is returned
    index = max(i for i, s in enumerate(starts) if s <= best)
    emitted = content[:index]
    head = content[index][: best - starts[index]]
    if head:
        emitted.append(head)
    return emitted, index + 1


def plan_request(
    body: Any,
    *,
    seed: int = 0,
    occurrence: int = 0,
    jitter: float = 0.05,
    queue_ms: float | None = None,
    queue_profile: str = "calm",
    sampling: bool = False,
) -> Plan:
    """Validate a chat-completions request body as Groq does and plan its answer.

    ``queue_profile``: ``"calm"`` (each model's own narrow queue time) or ``"groq"`` (the
    heavy tail measured on real Groq, with at least 7 % speed jitter); see
    :data:`profiles.QUEUE_PROFILES`. ``sampling``: a request without ``temperature``
    samples at Groq's default 1 (its answer length varies, see :func:`sampled_length`);
    off, only an explicit ``temperature`` > 0 does."""
    noise = QUEUE_PROFILES.get(queue_profile)
    if noise is None:
        raise ValueError(f"queue_profile must be one of {', '.join(QUEUE_PROFILES)}, got {queue_profile!r}")
    req = check_chat(body)
    assert isinstance(body, dict)
    prompt_n = prompt_tokens(req.messages) + _extra_prompt_tokens(body, req.messages)
    text_rng = random.Random(
        _digest("text", req.model, req.messages, body.get("temperature"), body.get("top_p"), body.get("seed"))
    )
    temperature = sampling_temperature(body, sampling)
    draws = _length_draws(body, req, seed=seed, occurrence=occurrence) if temperature > 0 else (0.0, 0.0)
    answer, out = _generate(body, req, text_rng, temperature, draws)
    queue_s, rate_factor = _draw_timing(req, noise, seed=seed, occurrence=occurrence, jitter=jitter, queue_ms=queue_ms)
    tier = check_service_tier(body)
    if tier == "performance" and queue_ms is None:
        queue_s *= PERFORMANCE_QUEUE_FACTOR
    return Plan(
        model=req.model,
        profile=req.profile,
        stream=req.stream,
        include_usage=req.include_usage,
        prompt_tokens=prompt_n,
        reasoning=out.reasoning,
        content=out.content,
        completion_tokens=len(out.reasoning) + out.content_billed + out.tool_tokens,
        finish_reason=out.finish,
        show_reasoning=req.show_reasoning,
        service_tier=tier if tier in ("flex", "performance") else "on_demand",
        requested_tier=tier,
        seed=body["seed"] if isinstance(body.get("seed"), int) else text_rng.randrange(2**31),
        timing=Timing(
            queue_s=queue_s,
            prompt_s=prompt_n / (req.profile.prefill_tps * rate_factor),
            token_s=1.0 / (req.profile.decode_tps * rate_factor),
        ),
        params={k: v for k, v in body.items() if k not in ("messages",)},
        tool_calls=out.tool_calls,
        tool_tokens=out.tool_tokens,
        response_format=answer.response_format if answer.json_text is not None else None,
        occurrence=occurrence,
    )


class _Output(NamedTuple):
    """What the answer sends and bills once stop sequences and the token limit are applied."""

    reasoning: list[str]
    content: list[str]
    content_billed: int
    tool_calls: list[ToolCall]
    tool_tokens: int
    finish: str


def _generate(
    body: dict[str, Any], req: ChatRequest, text_rng: random.Random, temperature: float, draws: tuple[float, float]
) -> tuple[Answer, _Output]:
    """The answer: natural content and reasoning (their lengths sampled at ``temperature`` from
    ``draws``), replaced by the policy's tool calls or JSON, then cut at a stop sequence and at
    the token limit."""
    messages = req.messages
    user = [m for m in messages if m.get("role") == "user"]
    prompt_text = _message_text(user[-1]) if user else ""
    content_n = natural_length(req.model, messages, req.profile)
    asked = requested_length(prompt_text)
    single_word = asked is not None and asked[0] == "words" and asked[1] <= 2
    if not single_word:  # an answer in a word or two stays one at any temperature
        content_n = sampled_length(content_n, draws[0], temperature)
    content = _answer_tokens(text_rng, content_n, prompt_text, single_word)
    reasoning_n = sampled_length(reasoning_length(req.model, messages, req.effort), draws[1], temperature)
    reasoning = _prose(text_rng, reasoning_n) if reasoning_n else []
    answer: Answer = decide(
        body,
        seed=_digest(
            "policy",
            req.model,
            messages,
            body.get("tools"),
            body.get("tool_choice"),
            body.get("response_format"),
            body.get("temperature"),
            body.get("top_p"),
            body.get("seed"),
        ),
    )
    if answer.tool_calls:
        content = []
    elif answer.json_text is not None:
        content = json_pieces(answer.json_text)
    return answer, _limit(req, reasoning, content, answer.tool_calls)


def _limit(req: ChatRequest, reasoning: list[str], content: list[str], tool_calls: list[ToolCall]) -> _Output:
    """Apply the stop sequences, then the completion-token limit (``finish_reason`` "length")."""
    limit = req.limit
    tool_tokens = sum(tool_call_tokens(c) for c in tool_calls)
    finish = "tool_calls" if tool_calls else "stop"
    content_billed = len(content)
    stopped = _apply_stop(content, req.stops)
    if stopped is not None:
        content, content_billed = stopped
    if len(reasoning) >= limit:
        reasoning = reasoning[:limit]
        content, content_billed = [], 0
        tool_calls, tool_tokens = [], 0
        finish = "length"
    elif tool_calls and len(reasoning) + tool_tokens > limit:
        # the call was cut before it was complete: nothing usable comes out
        tool_calls, tool_tokens = [], 0
        content_billed = limit - len(reasoning)
        finish = "length"
    elif len(reasoning) + content_billed > limit:
        content_billed = limit - len(reasoning)
        content = content[:content_billed]
        finish = "length"
    return _Output(reasoning, content, content_billed, tool_calls, tool_tokens, finish)


def _draw_timing(
    req: ChatRequest, noise: QueueProfile, *, seed: int, occurrence: int, jitter: float, queue_ms: float | None
) -> tuple[float, float]:
    """(queue seconds, speed factor) of this occurrence of the request."""
    timing_rng = random.Random(_digest("timing", seed, req.model, req.messages, occurrence))
    if queue_ms is not None:
        queue_s = queue_ms / 1000.0
    elif noise.median_ms is not None and noise.sigma is not None:
        drawn = noise.median_ms * math.exp(noise.sigma * timing_rng.gauss(0, 1))
        queue_s = min(drawn, noise.cap_ms or math.inf) / 1000.0
    else:
        queue_s = lognormal_queue_s(timing_rng, req.profile.queue_median_ms, req.profile.queue_sigma)
    if jitter > 0 and noise.speed_jitter:
        jitter = max(jitter, noise.speed_jitter)
    return queue_s, speed_factor(timing_rng, jitter)


def lognormal_queue_s(rng: random.Random, median_ms: float, sigma: float) -> float:
    """A queue time (seconds) drawn from a log-normal with this median and shape, capped at
    :data:`QUEUE_CAP_MEDIANS` medians (the calm queue profile, Whisper)."""
    median = median_ms / 1000.0
    return min(median * math.exp(sigma * rng.gauss(0, 1)), QUEUE_CAP_MEDIANS * median)


def speed_factor(rng: random.Random, jitter: float) -> float:
    """One request's speed relative to its profile's: normal around 1 with standard deviation
    ``jitter``, never below :data:`SLOWEST_SPEED` (exactly 1 without jitter)."""
    return max(SLOWEST_SPEED, 1.0 + jitter * rng.gauss(0, 1)) if jitter > 0 else 1.0


def with_cached_prefix(plan: Plan, cached_tokens: int) -> Plan:
    """The plan with ``cached_tokens`` of its prompt served from the prompt cache: those
    tokens prefill ``profile.cached_prefill_speedup`` times faster; nothing else changes."""
    cached = max(0, min(int(cached_tokens), plan.prompt_tokens))
    if cached == 0 or not plan.profile.prompt_caching or plan.prompt_tokens == 0:
        return plan
    speedup = plan.profile.cached_prefill_speedup
    share = (plan.prompt_tokens - cached + cached / speedup) / plan.prompt_tokens
    t = plan.timing
    return replace(plan, cached_tokens=cached, timing=Timing(t.queue_s, t.prompt_s * share, t.token_s))
